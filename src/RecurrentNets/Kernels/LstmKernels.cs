using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The fused pointwise part of one LSTM step, forward and backward, for the standard cell (gate blocks i, f, g, o)
/// and the coupled input-forget cell (f, g, o with i = 1 - f), with or without peepholes. The variant is chosen by
/// struct type arguments, so each combination compiles to its own branch-free loop.
/// Naive twin: <c>Reference.ReferenceLstm</c>.
/// </summary>
/// <remarks>
/// Legend: B = batchSize, H = hiddenSize, G = 4 (standard) or 3 (coupled); gates are [B, G·H] row-major.
/// Peepholes (Gers and Schmidhuber 2000) are per-unit weights: i and f see C(t-1), o sees C(t).
/// </remarks>
internal static class LstmKernels
{
    /// <summary>
    /// From pre-activations in <paramref name="gates"/>: activations (kept in <paramref name="gates"/>),
    /// C(t), tanh(C(t)) and h(t).
    /// </summary>
    public static void Forward<T, TPeephole, TCoupled>(Span<T> gates, ReadOnlySpan<T> cellPrev, Span<T> cell, Span<T> tanhCell,
        Span<T> hidden, ReadOnlySpan<T> peepholeI, ReadOnlySpan<T> peepholeF, ReadOnlySpan<T> peepholeO, int batchSize, int hiddenSize)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TPeephole : struct, IFlag
        where TCoupled : struct, IFlag
    {
        if (typeof(T) == typeof(float))
        {
            ForwardFloat<TPeephole, TCoupled>(MemoryMarshal.Cast<T, float>(gates), MemoryMarshal.Cast<T, float>(cellPrev),
                MemoryMarshal.Cast<T, float>(cell), MemoryMarshal.Cast<T, float>(tanhCell), MemoryMarshal.Cast<T, float>(hidden),
                MemoryMarshal.Cast<T, float>(peepholeI), MemoryMarshal.Cast<T, float>(peepholeF), MemoryMarshal.Cast<T, float>(peepholeO),
                batchSize, hiddenSize, 0, hiddenSize);
            return;
        }

        int h = hiddenSize, gw = (TCoupled.Enabled ? 3 : 4) * h;
        int fOff = TCoupled.Enabled ? 0 : h, gOff = fOff + h, oOff = gOff + h;
        for (int b = 0; b < batchSize; b++)
        {
            Span<T> row = gates.Slice(b * gw, gw);
            ReadOnlySpan<T> cPrev = cellPrev.Slice(b * h, h);
            Span<T> c = cell.Slice(b * h, h), tc = tanhCell.Slice(b * h, h), hv = hidden.Slice(b * h, h);
            Span<T> f = row.Slice(fOff, h), g = row.Slice(gOff, h), o = row.Slice(oOff, h);
            if (TPeephole.Enabled)
            {
                if (!TCoupled.Enabled)
                {
                    TP.MultiplyAdd(peepholeI, cPrev, row[..h], row[..h]);
                }

                TP.MultiplyAdd(peepholeF, cPrev, f, f);
            }

            // σ over i and f together (adjacent blocks), tanh over g.
            VectorMath.Sigmoid<T>(row[..(TCoupled.Enabled ? h : 2 * h)]);
            VectorMath.Tanh<T>(g, g);

            if (TCoupled.Enabled)
            {
                // C = f·C(t-1) + (1 - f)·g = g + f·(C(t-1) - g)
                TP.Subtract(cPrev, g, c);
                TP.MultiplyAdd(f, c, g, c);
            }
            else
            {
                // C = f·C(t-1) + i·g
                TP.Multiply(f, cPrev, c);
                TP.MultiplyAdd(row[..h], g, c, c);
            }

            if (TPeephole.Enabled)
            {
                TP.MultiplyAdd(peepholeO, c, o, o);
            }

            VectorMath.Sigmoid<T>(o);
            VectorMath.Tanh<T>(c, tc);
            TP.Multiply(o, tc, hv);
        }
    }

    /// <summary>
    /// <see cref="Forward{T, TPeephole, TCoupled}"/> in float on units [<paramref name="first"/>, first + count) of every
    /// row only (buffers keep their full [B, G·H] and [B, H] layout): the same bits as the whole step on those units,
    /// so threads may each take a range of units.
    /// </summary>
    public static void ForwardFloat<TPeephole, TCoupled>(Span<float> gates, ReadOnlySpan<float> cellPrev, Span<float> cell,
        Span<float> tanhCell, Span<float> hidden, ReadOnlySpan<float> peepholeI, ReadOnlySpan<float> peepholeF,
        ReadOnlySpan<float> peepholeO, int batchSize, int hiddenSize, int first, int count)
        where TPeephole : struct, IFlag
        where TCoupled : struct, IFlag
    {
        // Float: the whole pointwise step in one pass over each row (VectorMath's σ and tanh), instead of eight passes
        // through TensorPrimitives: at (B, H) = (32, 128) the step's pointwise part went from 17-31 µs to a few.
        int h = hiddenSize, gw = (TCoupled.Enabled ? 3 : 4) * h;
        UnitWindow.Check(first, count, h);
        if (gates.Length < batchSize * gw || cellPrev.Length < batchSize * h || cell.Length < batchSize * h
            || tanhCell.Length < batchSize * h || hidden.Length < batchSize * h)
        {
            throw new ArgumentException("A buffer is shorter than [batchSize, gates·hiddenSize] or [batchSize, hiddenSize].");
        }

        if (TPeephole.Enabled && (peepholeF.Length < h || peepholeO.Length < h || (!TCoupled.Enabled && peepholeI.Length < h)))
        {
            throw new ArgumentException($"A peephole vector is shorter than hiddenSize ({h}).");
        }

        var refs = new Row
        {
            PeepholeI = ref Unsafe.AsRef(in MemoryMarshal.GetReference(peepholeI)),
            PeepholeF = ref Unsafe.AsRef(in MemoryMarshal.GetReference(peepholeF)),
            PeepholeO = ref Unsafe.AsRef(in MemoryMarshal.GetReference(peepholeO)),
        };
        int fOff = TCoupled.Enabled ? 0 : h;
        for (int b = 0; b < batchSize; b++)
        {
            refs.I = ref MemoryMarshal.GetReference(gates.Slice(b * gw, gw));
            refs.F = ref Unsafe.Add(ref refs.I, fOff);
            refs.G = ref Unsafe.Add(ref refs.F, h);
            refs.O = ref Unsafe.Add(ref refs.G, h);
            refs.CellPrev = ref Unsafe.AsRef(in MemoryMarshal.GetReference(cellPrev.Slice(b * h, h)));
            refs.Cell = ref MemoryMarshal.GetReference(cell.Slice(b * h, h));
            refs.TanhCell = ref MemoryMarshal.GetReference(tanhCell.Slice(b * h, h));
            refs.Hidden = ref MemoryMarshal.GetReference(hidden.Slice(b * h, h));
            // Four passes over the row's units (in L1) instead of one: each has at most one activation on a unit's
            // critical path, so the CPU overlaps many units (docs/engine.md, "Pointwise passes"). Every element sees the
            // same operations, so the bits do not change.
            UnitPasses.Run<InputForgetPass<TPeephole, TCoupled>, Row>(ref refs, first, first + count);
            UnitPasses.Run<CellPass<TCoupled>, Row>(ref refs, first, first + count);
            UnitPasses.Run<OutputGatePass<TPeephole>, Row>(ref refs, first, first + count);
            UnitPasses.Run<HiddenPass, Row>(ref refs, first, first + count);
        }
    }

    // g = tanh and C = f·C(t-1) + i·g (coupled: g + f·(C(t-1) - g)).
    private readonly struct CellPass<TCoupled> : IUnitPass<Row>
        where TCoupled : struct, IFlag
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TV, TL>(ref Row row, nuint j) where TV : struct where TL : struct, IFloatLanes<TV>
        {
            var cPrev = TL.Load(ref row.CellPrev, j);
            var f = TL.Load(ref row.F, j);
            var g = VectorMath.Tanh<TV, TL>(TL.Load(ref row.G, j));
            TV c;
            if (TCoupled.Enabled)
            {
                c = TL.FusedMultiplyAdd(f, TL.Subtract(cPrev, g), g);
            }
            else
            {
                var i = TL.Load(ref row.I, j);
                c = TL.FusedMultiplyAdd(i, g, TL.Multiply(f, cPrev));
            }

            TL.Store(g, ref row.G, j);
            TL.Store(c, ref row.Cell, j);
        }
    }

    // i = σ and f = σ, peepholes on C(t-1).
    private readonly struct InputForgetPass<TPeephole, TCoupled> : IUnitPass<Row>
        where TPeephole : struct, IFlag
        where TCoupled : struct, IFlag
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TV, TL>(ref Row row, nuint j) where TV : struct where TL : struct, IFloatLanes<TV>
        {
            var cPrev = TL.Load(ref row.CellPrev, j);
            var f = TL.Load(ref row.F, j);
            if (TPeephole.Enabled)
                f = TL.FusedMultiplyAdd(TL.Load(ref row.PeepholeF, j), cPrev, f);
            TL.Store(VectorMath.Sigmoid<TV, TL>(f), ref row.F, j);
            if (!TCoupled.Enabled)
            {
                var i = TL.Load(ref row.I, j);
                if (TPeephole.Enabled)
                    i = TL.FusedMultiplyAdd(TL.Load(ref row.PeepholeI, j), cPrev, i);
                TL.Store(VectorMath.Sigmoid<TV, TL>(i), ref row.I, j);
            }
        }
    }

    // o = σ, its peephole on C(t).
    private readonly struct OutputGatePass<TPeephole> : IUnitPass<Row>
        where TPeephole : struct, IFlag
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TV, TL>(ref Row row, nuint j) where TV : struct where TL : struct, IFloatLanes<TV>
        {
            var o = TL.Load(ref row.O, j);
            if (TPeephole.Enabled)
                o = TL.FusedMultiplyAdd(TL.Load(ref row.PeepholeO, j), TL.Load(ref row.Cell, j), o);
            TL.Store(VectorMath.Sigmoid<TV, TL>(o), ref row.O, j);
        }
    }

    // tanh C and h = o·tanh C.
    private readonly struct HiddenPass : IUnitPass<Row>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TV, TL>(ref Row row, nuint j) where TV : struct where TL : struct, IFloatLanes<TV>
        {
            var c = TL.Load(ref row.Cell, j);
            var o = TL.Load(ref row.O, j);
            var tc = VectorMath.Tanh<TV, TL>(c);
            TL.Store(tc, ref row.TanhCell, j);
            TL.Store(TL.Multiply(o, tc), ref row.Hidden, j);
        }
    }

    // The buffers of one batch row (gate blocks, states) and the peephole weights.
    private ref struct Row
    {
        public ref float I;
        public ref float F;
        public ref float G;
        public ref float O;
        public ref float CellPrev;
        public ref float Cell;
        public ref float TanhCell;
        public ref float Hidden;
        public ref float PeepholeI;
        public ref float PeepholeF;
        public ref float PeepholeO;
    }

    /// <summary>
    /// From the activations in <paramref name="gates"/>, dL/dh(t) and dL/dC(t): the pre-activation gradients (written
    /// over the activations), dL/dC(t-1), and the peephole gradients (accumulated).
    /// </summary>
    public static void Backward<T, TPeephole, TCoupled>(Span<T> gates, ReadOnlySpan<T> cellPrev, ReadOnlySpan<T> cell,
        ReadOnlySpan<T> tanhCell, ReadOnlySpan<T> dHidden, ReadOnlySpan<T> dCell, Span<T> dCellPrev,
        ReadOnlySpan<T> peepholeI, ReadOnlySpan<T> peepholeF, ReadOnlySpan<T> peepholeO,
        Span<T> dPeepholeI, Span<T> dPeepholeF, Span<T> dPeepholeO, int batchSize, int hiddenSize, int first = 0, int count = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TPeephole : struct, IFlag
        where TCoupled : struct, IFlag
    {
        // Units [first, first + count) of every row (all of them by default); plain arithmetic, so a window gives the
        // same bits as the whole row on its units.
        int h = hiddenSize, gw = (TCoupled.Enabled ? 3 : 4) * h;
        count = count < 0 ? h : count;
        UnitWindow.Check(first, count, h);
        int fOff = TCoupled.Enabled ? 0 : h;
        ref T pI = ref Unsafe.AsRef(in MemoryMarshal.GetReference(peepholeI));
        ref T pF = ref Unsafe.AsRef(in MemoryMarshal.GetReference(peepholeF));
        ref T pO = ref Unsafe.AsRef(in MemoryMarshal.GetReference(peepholeO));
        ref T dpI = ref MemoryMarshal.GetReference(dPeepholeI);
        ref T dpF = ref MemoryMarshal.GetReference(dPeepholeF);
        ref T dpO = ref MemoryMarshal.GetReference(dPeepholeO);
        for (int b = 0; b < batchSize; b++)
        {
            ref T iRef = ref MemoryMarshal.GetReference(gates.Slice(b * gw, gw));
            ref T fRef = ref Unsafe.Add(ref iRef, fOff);
            ref T gRef = ref Unsafe.Add(ref fRef, h);
            ref T oRef = ref Unsafe.Add(ref gRef, h);
            ref T cp = ref Unsafe.AsRef(in MemoryMarshal.GetReference(cellPrev.Slice(b * h, h)));
            ref T cc = ref Unsafe.AsRef(in MemoryMarshal.GetReference(cell.Slice(b * h, h)));
            ref T tc = ref Unsafe.AsRef(in MemoryMarshal.GetReference(tanhCell.Slice(b * h, h)));
            ref T dh = ref Unsafe.AsRef(in MemoryMarshal.GetReference(dHidden.Slice(b * h, h)));
            ref T dc = ref Unsafe.AsRef(in MemoryMarshal.GetReference(dCell.Slice(b * h, h)));
            ref T dcp = ref MemoryMarshal.GetReference(dCellPrev.Slice(b * h, h));
            int j = first, end = first + count;
            if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            {
                var ones = Units<Vector<T>, T>.One;
                for (; j <= end - Vector<T>.Count; j += Vector<T>.Count)
                {
                    BackwardUnits<T, Units<Vector<T>, T>, TPeephole, TCoupled>(ref iRef, ref fRef, ref gRef, ref oRef, ref cp, ref cc, ref tc,
                        ref dh, ref dc, ref dcp, ref pI, ref pF, ref pO, ref dpI, ref dpF, ref dpO, (nuint)j, ones);
                }
            }

            for (; j < end; j++)
            {
                BackwardUnits<T, Units<T, T>, TPeephole, TCoupled>(ref iRef, ref fRef, ref gRef, ref oRef, ref cp, ref cc, ref tc,
                    ref dh, ref dc, ref dcp, ref pI, ref pF, ref pO, ref dpI, ref dpF, ref dpO, (nuint)j, Units<T, T>.One);
            }
        }
    }

    // Backward's arithmetic for the units at j (a vector of them, or one): dL/da of i, f, g, o from dL/dh(t) and dL/dC(t)
    // (written over the activations), dL/dC(t-1), and the peephole gradients (accumulated).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardUnits<T, TU, TPeephole, TCoupled>(ref T iRef, ref T fRef, ref T gRef, ref T oRef, ref T cp,
        ref T cc, ref T tc, ref T dh, ref T dc, ref T dcp, ref T pI, ref T pF, ref T pO, ref T dpI, ref T dpF, ref T dpO, nuint j,
        TU one)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TU : struct, IUnits<TU, T>
        where TPeephole : struct, IFlag
        where TCoupled : struct, IFlag
    {
        TU f = TU.Load(ref fRef, j), g = TU.Load(ref gRef, j), o = TU.Load(ref oRef, j);
        TU t = TU.Load(ref tc, j), dhv = TU.Load(ref dh, j), cPrev = TU.Load(ref cp, j);
        var dao = dhv * t * o * (one - o);
        var dct = TU.Load(ref dc, j) + dhv * o * (one - t * t);
        if (TPeephole.Enabled)
        {
            dct += dao * TU.Load(ref pO, j);
        }

        TU i, daf, dai = default;
        if (TCoupled.Enabled)
        {
            i = one - f;
            daf = dct * (cPrev - g) * f * (one - f);
        }
        else
        {
            i = TU.Load(ref iRef, j);
            dai = dct * g * i * (one - i);
            daf = dct * cPrev * f * (one - f);
        }

        var dag = dct * i * (one - g * g);
        var dcPrev = dct * f;
        if (TPeephole.Enabled)
        {
            dcPrev += daf * TU.Load(ref pF, j);
            (TU.Load(ref dpF, j) + daf * cPrev).Store(ref dpF, j);
            (TU.Load(ref dpO, j) + dao * TU.Load(ref cc, j)).Store(ref dpO, j);
            if (!TCoupled.Enabled)
            {
                dcPrev += dai * TU.Load(ref pI, j);
                (TU.Load(ref dpI, j) + dai * cPrev).Store(ref dpI, j);
            }
        }

        dcPrev.Store(ref dcp, j);
        if (!TCoupled.Enabled)
        {
            dai.Store(ref iRef, j);
        }

        daf.Store(ref fRef, j);
        dag.Store(ref gRef, j);
        dao.Store(ref oRef, j);
    }
}
