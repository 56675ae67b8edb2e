using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The small dense kernels of R2N2 (Cheng and Brown 2025): matrix-vector products, transposed products and rank-1
/// accumulations on row-major double matrices, vectorised through <c>TensorPrimitives</c>. Naive twins:
/// <c>Reference.ReferenceR2N2Kernels</c>.
/// </summary>
/// <remarks>Legend: M = rows, N = columns of W [M, N]; x [N], y [M]. None of them allocates.</remarks>
public static class R2N2Kernels
{
    /// <summary>y = α·W·x, or y += α·W·x when <paramref name="accumulate"/> is set.</summary>
    /// <param name="w">W [M, N], row-major.</param>
    /// <param name="x">x [N].</param>
    /// <param name="alpha">α.</param>
    /// <param name="y">y [M].</param>
    /// <param name="accumulate">Add to y instead of overwriting it.</param>
    public static void MatVec(ReadOnlySpan<double> w, ReadOnlySpan<double> x, double alpha, Span<double> y, bool accumulate)
    {
        int n = x.Length;
        for (int i = 0; i < y.Length; i++)
        {
            // One SIMD dot product per row: W is row-major, so the row is contiguous.
            double s = alpha * Reductions.Dot(w.Slice(i * n, n), x);
            y[i] = accumulate ? y[i] + s : s;
        }
    }

    /// <summary>y += α·Wᵀ·x: the transposed product as one SIMD axpy per row of W.</summary>
    /// <param name="w">W [M, N], row-major.</param>
    /// <param name="x">x [M].</param>
    /// <param name="alpha">α.</param>
    /// <param name="y">y [N], accumulated.</param>
    public static void MatTransposeVecAdd(ReadOnlySpan<double> w, ReadOnlySpan<double> x, double alpha, Span<double> y)
    {
        int n = y.Length;
        for (int i = 0; i < x.Length; i++)
        {
            double s = alpha * x[i];
            if (s != 0)
            {
                TP.MultiplyAdd(w.Slice(i * n, n), s, y, y);
            }
        }
    }

    /// <summary>W += α·u·vᵀ (the delta rule: post-synaptic error times pre-synaptic activity).</summary>
    /// <param name="u">u [M].</param>
    /// <param name="v">v [N].</param>
    /// <param name="alpha">α.</param>
    /// <param name="w">W [M, N], row-major, accumulated.</param>
    public static void OuterAdd(ReadOnlySpan<double> u, ReadOnlySpan<double> v, double alpha, Span<double> w)
    {
        int n = v.Length;
        for (int i = 0; i < u.Length; i++)
        {
            double s = alpha * u[i];
            if (s != 0)
            {
                Span<double> row = w.Slice(i * n, n);
                TP.MultiplyAdd(v, s, row, row);
            }
        }
    }

    /// <summary>z = c·z + d·drive, elementwise (the leaky update of a group of potentials).</summary>
    public static void Leak(Span<double> z, double c, ReadOnlySpan<double> drive, double d)
    {
        TP.Multiply(z, c, z);
        TP.MultiplyAdd(drive, d, z, z);
    }

    /// <summary>g = (1 - t²) ⊙ g: multiplies by tanh' given t = tanh(z).</summary>
    public static void MultiplyTanhDerivative(ReadOnlySpan<double> t, Span<double> g)
    {
        for (int i = 0; i < g.Length; i++)
        {
            g[i] *= 1 - t[i] * t[i];
        }
    }
}
