using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The pointwise part of one GRU step (Cho et al. 2014), forward and backward. Gate blocks r, z, n (PyTorch's order).
/// Naive twin: <c>Reference.ReferenceGru</c>.
/// </summary>
/// <remarks>
/// Legend: B = batchSize, H = hiddenSize; gates [B, 3H]. With <c>rn</c> the reset-gated recurrent term of n:
/// PyTorch's form has rn = r ⊙ (W_hn h + b_hn); Cho's original has rn = W_hn (r ⊙ h) + b_hn, computed by the caller.
/// </remarks>
internal static class GruKernels
{
    /// <summary>
    /// r, z = σ(gates[r, z] + recurrent[r, z]) in place (recurrent holds h·W_hhᵀ + b_hh for those blocks).
    /// </summary>
    public static void ResetUpdate<T>(Span<T> gates, ReadOnlySpan<T> recurrent, int recurrentStride, int batchSize, int hiddenSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = hiddenSize;
        for (int b = 0; b < batchSize; b++)
        {
            Span<T> rz = gates.Slice(b * 3 * h, 2 * h);
            TP.Add(rz, recurrent.Slice(b * recurrentStride, 2 * h), rz);
            VectorMath.Sigmoid<T>(rz);
        }
    }

    /// <summary>
    /// n = tanh(gates[n] + resetTerm) with resetTerm = r ⊙ recurrentN when <paramref name="multiplyByReset"/> (PyTorch's
    /// form) or resetTerm = recurrentN (Cho's form); then h(t) = n + z ⊙ (h(t-1) - n).
    /// </summary>
    public static void Candidate<T>(Span<T> gates, ReadOnlySpan<T> recurrentN, int recurrentStride, bool multiplyByReset,
        ReadOnlySpan<T> hiddenPrev, Span<T> hidden, int batchSize, int hiddenSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = hiddenSize;
        for (int b = 0; b < batchSize; b++)
        {
            Span<T> row = gates.Slice(b * 3 * h, 3 * h);
            Span<T> r = row[..h], z = row.Slice(h, h), n = row.Slice(2 * h, h);
            ReadOnlySpan<T> rec = recurrentN.Slice(b * recurrentStride, h);
            if (multiplyByReset)
            {
                TP.MultiplyAdd(r, rec, n, n);
            }
            else
            {
                TP.Add(n, rec, n);
            }

            VectorMath.Tanh<T>(n, n);
            Span<T> hv = hidden.Slice(b * h, h);
            TP.Subtract(hiddenPrev.Slice(b * h, h), n, hv);
            TP.MultiplyAdd(z, hv, n, hv);
        }
    }

    /// <summary>
    /// PyTorch's form in one pass over each row, float only: r, z = σ(gates[r, z] + recurrent[r, z]),
    /// n = tanh(gates[n] + r ⊙ recurrent[n]), h(t) = n + z ⊙ (h(t-1) - n); the activations are kept in
    /// <paramref name="gates"/> and recurrent[n] (W_hn h + b_hn, needed by backward) in <paramref name="recurrentN"/>.
    /// </summary>
    /// <param name="gates">[B, 3H]: the input projections in, the activations r, z, n out.</param>
    /// <param name="recurrent">[B, 3H]: h(t-1)·W_hhᵀ + b_hh.</param>
    /// <param name="hiddenPrev">h(t-1), [B, H].</param>
    /// <param name="recurrentN">[B, H] out: W_hn h(t-1) + b_hn.</param>
    /// <param name="hidden">[B, H] out: h(t).</param>
    /// <param name="batchSize">B.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="first">The first unit of every row to compute (0 for all).</param>
    /// <param name="count">How many units from <paramref name="first"/> (-1 for all): a window gives the same bits as the
    /// whole row on its units, so threads may each take a range of units.</param>
    public static void ForwardResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> hiddenPrev,
        Span<float> recurrentN, Span<float> hidden, int batchSize, int hiddenSize, int first = 0, int count = -1)
    {
        int h = hiddenSize, gw = 3 * h;
        count = count < 0 ? h : count;
        UnitWindow.Check(first, count, h);
        if (gates.Length < batchSize * gw || recurrent.Length < batchSize * gw || hiddenPrev.Length < batchSize * h
            || recurrentN.Length < batchSize * h || hidden.Length < batchSize * h)
        {
            throw new ArgumentException("A buffer is shorter than [batchSize, 3·hiddenSize] or [batchSize, hiddenSize].");
        }

        var row = new Row();
        for (int b = 0; b < batchSize; b++)
        {
            row.Gates = ref MemoryMarshal.GetReference(gates.Slice(b * gw, gw));
            row.Recurrent = ref Unsafe.AsRef(in MemoryMarshal.GetReference(recurrent.Slice(b * gw, gw)));
            row.HiddenPrev = ref Unsafe.AsRef(in MemoryMarshal.GetReference(hiddenPrev.Slice(b * h, h)));
            row.RecurrentN = ref MemoryMarshal.GetReference(recurrentN.Slice(b * h, h));
            row.Hidden = ref MemoryMarshal.GetReference(hidden.Slice(b * h, h));
            row.H = (nuint)h;
            // Two passes (see UnitPasses): r and z, then n and h; one pass chained σ(r), tanh n and h per unit.
            UnitPasses.Run<ResetUpdatePass, Row>(ref row, first, first + count);
            UnitPasses.Run<CandidatePass, Row>(ref row, first, first + count);
        }
    }

    // r = σ, z = σ (over the input and recurrent terms).
    private readonly struct ResetUpdatePass : IUnitPass<Row>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TV, TL>(ref Row row, nuint j) where TV : struct where TL : struct, IFloatLanes<TV>
        {
            nuint h = row.H;
            TL.Store(VectorMath.Sigmoid<TV, TL>(TL.Add(TL.Load(ref row.Gates, j), TL.Load(ref row.Recurrent, j))), ref row.Gates, j);
            TL.Store(VectorMath.Sigmoid<TV, TL>(TL.Add(TL.Load(ref row.Gates, h + j), TL.Load(ref row.Recurrent, h + j))), ref row.Gates, h + j);
        }
    }

    // n = tanh(x_n + r ⊙ (W_hn h + b_hn)) and h = (1 - z)·n + z·h(t-1) = n + z·(h(t-1) - n).
    private readonly struct CandidatePass : IUnitPass<Row>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TV, TL>(ref Row row, nuint j) where TV : struct where TL : struct, IFloatLanes<TV>
        {
            nuint h = row.H;
            var r = TL.Load(ref row.Gates, j);
            var z = TL.Load(ref row.Gates, h + j);
            var recN = TL.Load(ref row.Recurrent, 2 * h + j);
            var n = VectorMath.Tanh<TV, TL>(TL.FusedMultiplyAdd(r, recN, TL.Load(ref row.Gates, 2 * h + j)));
            TL.Store(TL.FusedMultiplyAdd(z, TL.Subtract(TL.Load(ref row.HiddenPrev, j), n), n), ref row.Hidden, j);
            TL.Store(n, ref row.Gates, 2 * h + j);
            TL.Store(recN, ref row.RecurrentN, j);
        }
    }

    // The buffers of one batch row.
    private ref struct Row
    {
        public ref float Gates;
        public ref float Recurrent;
        public ref float HiddenPrev;
        public ref float RecurrentN;
        public ref float Hidden;
        public nuint H;
    }

    /// <summary>
    /// Backward of the pointwise step. From the activations r, z, n in <paramref name="gates"/> and dL/dh(t): writes the
    /// input-side pre-activation gradients [da_r, da_z, da_n] over the activations, the recurrent-side ones into
    /// <paramref name="recurrentGradient"/> ([da_r, da_z, da_n ⊙ r] in PyTorch's form; Cho's form writes only da_r and
    /// da_z there, after its own GEMM), and dL/dh(t-1) through z into <paramref name="dHiddenPrev"/>.
    /// </summary>
    /// <param name="gates">[B, 3H] activations in, gradients out.</param>
    /// <param name="recurrentGradient">[B, 3H] out (PyTorch's form), or empty for Cho's form.</param>
    /// <param name="recurrentN">PyTorch's form: W_hn h + b_hn, [B, H]. Cho's form: dL/d(r ⊙ h), [B, H].</param>
    /// <param name="hiddenPrev">h(t-1), [B, H].</param>
    /// <param name="recurrentInput">Cho's form: what W_hn's reset term multiplies, h(t-1) ⊙ m ([B, H]); unused otherwise.</param>
    /// <param name="mask">Cho's form: the recurrent-dropout mask m [B, H], or empty; unused otherwise.</param>
    /// <param name="dHidden">dL/dh(t), [B, H].</param>
    /// <param name="dHiddenPrev">Receives dh ⊙ z (plus, in Cho's form, dL/d(r ⊙ h) ⊙ r), [B, H].</param>
    /// <param name="batchSize">B.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="resetAfter">PyTorch's form (ONNX <c>linear_before_reset = 1</c>).</param>
    /// <param name="first">The first unit of every row to compute (0 for all).</param>
    /// <param name="count">How many units from <paramref name="first"/> (-1 for all); plain arithmetic, so a window
    /// gives the same bits as the whole row on its units.</param>
    public static void Backward<T>(Span<T> gates, Span<T> recurrentGradient, ReadOnlySpan<T> recurrentN, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> recurrentInput, ReadOnlySpan<T> mask, ReadOnlySpan<T> dHidden, Span<T> dHiddenPrev, int batchSize, int hiddenSize, bool resetAfter,
        int first = 0, int count = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = hiddenSize;
        count = count < 0 ? h : count;
        UnitWindow.Check(first, count, h);
        bool masked = !resetAfter && !mask.IsEmpty;
        for (int b = 0; b < batchSize; b++)
        {
            ref T rRef = ref MemoryMarshal.GetReference(gates.Slice(b * 3 * h, 3 * h));
            ref T zRef = ref Unsafe.Add(ref rRef, h);
            ref T nRef = ref Unsafe.Add(ref rRef, 2 * h);
            ref T rec = ref Unsafe.AsRef(in MemoryMarshal.GetReference(recurrentN.Slice(b * h, h)));
            ref T hp = ref Unsafe.AsRef(in MemoryMarshal.GetReference(hiddenPrev.Slice(b * h, h)));
            ref T dh = ref Unsafe.AsRef(in MemoryMarshal.GetReference(dHidden.Slice(b * h, h)));
            ref T dhp = ref MemoryMarshal.GetReference(dHiddenPrev.Slice(b * h, h));
            ref T rg = ref resetAfter ? ref MemoryMarshal.GetReference(recurrentGradient.Slice(b * 3 * h, 3 * h)) : ref Unsafe.NullRef<T>();
            ref T ri = ref resetAfter ? ref Unsafe.NullRef<T>() : ref Unsafe.AsRef(in MemoryMarshal.GetReference(recurrentInput.Slice(b * h, h)));
            ref T m = ref masked ? ref Unsafe.AsRef(in MemoryMarshal.GetReference(mask.Slice(b * h, h))) : ref Unsafe.NullRef<T>();
            int j = first, end = first + count;
            if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            {
                var ones = Units<Vector<T>, T>.One;
                for (; j <= end - Vector<T>.Count; j += Vector<T>.Count)
                {
                    BackwardUnits(ref rRef, ref zRef, ref nRef, ref rec, ref hp, ref dh, ref dhp, ref rg, ref ri, ref m, (nuint)h,
                        resetAfter, masked, (nuint)j, ones);
                }
            }

            for (; j < end; j++)
            {
                BackwardUnits(ref rRef, ref zRef, ref nRef, ref rec, ref hp, ref dh, ref dhp, ref rg, ref ri, ref m, (nuint)h,
                    resetAfter, masked, (nuint)j, Units<T, T>.One);
            }
        }
    }

    // Backward's arithmetic for the units at j (a vector of them, or one): dL/da of r, z, n from dL/dh(t), and dL/dh(t-1)
    // through z (and, in Cho's form, through r ⊙ h). rg is [3H] (PyTorch's form); ri and m are Cho's form's.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardUnits<T, TU>(ref T rRef, ref T zRef, ref T nRef, ref T rec, ref T hp, ref T dh, ref T dhp,
        ref T rg, ref T ri, ref T m, nuint h, bool resetAfter, bool masked, nuint j, TU one)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TU : struct, IUnits<TU, T>
    {
        TU r = TU.Load(ref rRef, j), z = TU.Load(ref zRef, j), n = TU.Load(ref nRef, j);
        TU d = TU.Load(ref dh, j), hPrev = TU.Load(ref hp, j), recN = TU.Load(ref rec, j);
        var dan = d * (one - z) * (one - n * n);
        var daz = d * (hPrev - n) * z * (one - z);
        TU dar, dhPrev = d * z;
        if (resetAfter)
        {
            dar = dan * recN * r * (one - r);
            dar.Store(ref rg, j);
            daz.Store(ref rg, h + j);
            (dan * r).Store(ref rg, 2 * h + j);
        }
        else
        {
            // Cho's form: rh = r ⊙ (h ⊙ m), so dr = d(rh) ⊙ (h ⊙ m) and dh gets d(rh) ⊙ r ⊙ m.
            dar = recN * TU.Load(ref ri, j) * r * (one - r);
            dhPrev += masked ? recN * r * TU.Load(ref m, j) : recN * r;
        }

        dar.Store(ref rRef, j);
        daz.Store(ref zRef, j);
        dan.Store(ref nRef, j);
        dhPrev.Store(ref dhp, j);
    }
}
