using System.Numerics;
using System.Runtime.InteropServices;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// Elementwise and row-wise kernels shared by cells, layers and losses, on TensorPrimitives' SIMD operations.
/// Each has a naive twin in <c>Reference.ReferenceElementwise</c>.
/// </summary>
/// <remarks>Legend: R = rows, C = columns; matrices are row-major [R, C].</remarks>
public static class Elementwise
{
    /// <summary>sums[c] += Σ_r source[r, c]: bias gradients over all rows (rows summed in ascending order).</summary>
    public static void AddColumnSums<T>(ReadOnlySpan<T> source, int rows, int columns, Span<T> sums)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckMatrix(source, rows, columns, nameof(source));
        CheckLength(sums, columns, nameof(sums));
        for (int r = 0; r < rows; r++)
        {
            TP.Add(source.Slice(r * columns, columns), sums, sums);
        }
    }

    /// <summary>destination[r, :] = vector for every row r: the bias broadcast before an accumulating GEMM.</summary>
    public static void BroadcastRows<T>(ReadOnlySpan<T> vector, int rows, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int columns = vector.Length;
        CheckMatrix(destination, rows, columns, nameof(destination));
        for (int r = 0; r < rows; r++)
        {
            vector.CopyTo(destination.Slice(r * columns, columns));
        }
    }

    /// <summary>da = dh ⊙ (1 - h²): the gradient through h = tanh(a), from h. dh may alias da.</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Backward<T, TanhGradient<T>>(h, dh, da);

    /// <summary>h = max(a, 0).</summary>
    public static void Relu<T>(ReadOnlySpan<T> a, Span<T> h)
        where T : unmanaged, IFloatingPointIeee754<T>
        => TP.Max(a, T.Zero, h);

    /// <summary>da = dh where h &gt; 0, else 0: the gradient through h = relu(a), from h.</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Backward<T, ReluGradient<T>>(h, dh, da);

    /// <summary>da = <typeparamref name="TGradient"/>(h, dh) per element: vectors, then a tail with the same operations
    /// (which elements fall in it depends on the vector width, so it must give the body's bits).</summary>
    internal static void Backward<T, TGradient>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TGradient : struct, IActivationGradient<T>
    {
        CheckSame(h, dh, da);
        ref T hr = ref MemoryMarshal.GetReference(h);
        ref T dhr = ref MemoryMarshal.GetReference(dh);
        ref T dar = ref MemoryMarshal.GetReference(da);
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            for (; i <= h.Length - Vector<T>.Count; i += Vector<T>.Count)
                TGradient.Of(Vector.LoadUnsafe(ref hr, (nuint)i), Vector.LoadUnsafe(ref dhr, (nuint)i)).StoreUnsafe(ref dar, (nuint)i);
        }

        for (; i < h.Length; i++)
            da[i] = TGradient.Of(h[i], dh[i]);
    }

    private static void CheckSame<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
    {
        if (dh.Length != h.Length || da.Length != h.Length)
        {
            throw new ArgumentException($"h, dh and da must have one length; they have {h.Length}, {dh.Length} and {da.Length}.", nameof(da));
        }
    }

    private static void CheckMatrix<T>(ReadOnlySpan<T> span, int rows, int columns, string name)
    {
        if ((long)rows * columns > span.Length)
        {
            throw new ArgumentException($"{name} has {span.Length} elements but [{rows}, {columns}] needs {(long)rows * columns}.", name);
        }
    }

    private static void CheckLength<T>(ReadOnlySpan<T> span, int length, string name)
    {
        if (span.Length != length)
        {
            throw new ArgumentException($"{name} has {span.Length} elements but {length} are expected.", name);
        }
    }
}

/// <summary>The gradient through an activation from its output: da = f(h, dh), with the same operations per element
/// in a vector and alone.</summary>
internal interface IActivationGradient<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>da for a vector of elements.</summary>
    static abstract Vector<T> Of(Vector<T> h, Vector<T> dh);

    /// <summary>da for one element.</summary>
    static abstract T Of(T h, T dh);
}

/// <summary>tanh: da = dh - (dh ⊙ h) ⊙ h.</summary>
internal readonly struct TanhGradient<T> : IActivationGradient<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static Vector<T> Of(Vector<T> h, Vector<T> dh) => dh - dh * h * h;

    public static T Of(T h, T dh) => dh - dh * h * h;
}

/// <summary>relu: da = dh where h &gt; 0, else 0.</summary>
internal readonly struct ReluGradient<T> : IActivationGradient<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static Vector<T> Of(Vector<T> h, Vector<T> dh) => Vector.ConditionalSelect(Vector.GreaterThan(h, Vector<T>.Zero), dh, Vector<T>.Zero);

    public static T Of(T h, T dh) => h > T.Zero ? dh : T.Zero;
}

/// <summary>σ: da = dh ⊙ h ⊙ (1 - h).</summary>
internal readonly struct SigmoidGradient<T> : IActivationGradient<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static Vector<T> Of(Vector<T> h, Vector<T> dh) => dh * h * (Vector<T>.One - h);

    public static T Of(T h, T dh) => dh * h * (T.One - h);
}
