using System.Runtime.CompilerServices;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// Cholesky factorisation A = L·Lᵀ and the two triangular solves, in double, for the ridge readout's normal
/// equations. Row-oriented (Cholesky-Crout): every inner product runs over two contiguous rows of L, so
/// TensorPrimitives' SIMD dot does the work. The naive twin is <c>Reference.ReferenceCholesky</c>.
/// </summary>
/// <remarks>Legend: N = order of A; matrices are row-major [N, N]; only the lower triangle of A is read.</remarks>
public static class CholeskyKernels
{
    /// <summary>Overwrites the lower triangle of <paramref name="a"/> with L; returns false if A is not numerically positive definite.</summary>
    /// <param name="a">A [N, N] row-major; on return its lower triangle holds L (the upper triangle is untouched).</param>
    /// <param name="n">N.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Factor(Span<double> a, int n)
    {
        if (a.Length < (long)n * n)
        {
            throw new ArgumentException($"a has {a.Length} elements but {n}² are needed", nameof(a));
        }

        for (int i = 0; i < n; i++)
        {
            var li = a.Slice(i * n, n);
            for (int j = 0; j < i; j++)
            {
                var lj = a.Slice(j * n, j);
                li[j] = (li[j] - Reductions.Dot<double>(li[..j], lj)) / a[j * n + j];
            }

            double d = li[i] - Reductions.Dot<double>(li[..i], li[..i]);
            if (!(d > 0) || !double.IsFinite(d))
            {
                return false;
            }

            li[i] = Math.Sqrt(d);
        }

        return true;
    }

    /// <summary>Solves L·Lᵀ·x = b in place for each of the <paramref name="columns"/> right-hand sides stored as rows of <paramref name="b"/>.</summary>
    /// <param name="l">L from <see cref="Factor"/> [N, N].</param>
    /// <param name="n">N.</param>
    /// <param name="b">[columns, N]: right-hand sides in, solutions out.</param>
    /// <param name="columns">Number of right-hand sides.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Solve(ReadOnlySpan<double> l, int n, Span<double> b, int columns)
    {
        for (int c = 0; c < columns; c++)
        {
            var x = b.Slice(c * n, n);
            // Forward: L·y = b, rows of L are contiguous.
            for (int i = 0; i < n; i++)
            {
                x[i] = (x[i] - Reductions.Dot(l.Slice(i * n, i), x[..i])) / l[i * n + i];
            }

            // Backward: Lᵀ·x = y, column i of Lᵀ is row i of L: subtract x[i]·L[i, 0:i] from the rest (axpy).
            for (int i = n - 1; i >= 0; i--)
            {
                x[i] /= l[i * n + i];
                TP.MultiplyAdd(l.Slice(i * n, i), -x[i], x[..i], x[..i]);
            }
        }
    }
}
