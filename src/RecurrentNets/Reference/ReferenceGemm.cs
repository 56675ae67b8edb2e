using System.Numerics;
using System.Runtime.CompilerServices;

namespace RecurrentNets.Reference;

/// <summary>
/// Naive triple-loop matrix products: the numerical specification that <see cref="Kernels.Gemm"/> is tested against.
/// </summary>
/// <remarks>
/// Legend: M, N, K are the sizes of C[M, N] = op(A)[M, K] · op(B)[K, N]. Every matrix is row-major with a leading
/// dimension (the distance between two rows). The sum over K runs in ascending order in double precision.
/// </remarks>
public static class ReferenceGemm
{
    /// <summary>C = op(A)·op(B), or C += op(A)·op(B) when <paramref name="accumulate"/> is set.</summary>
    /// <param name="transposeA">When set, A is stored as [K, M] and op(A) = Aᵀ; otherwise A is [M, K].</param>
    /// <param name="transposeB">When set, B is stored as [N, K] and op(B) = Bᵀ; otherwise B is [K, N].</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The inner dimension.</param>
    /// <param name="a">A, row-major with leading dimension <paramref name="lda"/>.</param>
    /// <param name="lda">Leading dimension of A.</param>
    /// <param name="b">B, row-major with leading dimension <paramref name="ldb"/>.</param>
    /// <param name="ldb">Leading dimension of B.</param>
    /// <param name="c">C [M, N], row-major with leading dimension <paramref name="ldc"/>.</param>
    /// <param name="ldc">Leading dimension of C.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    public static void Compute<T>(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    T av = transposeA ? a[p * lda + i] : a[i * lda + p];
                    T bv = transposeB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += double.CreateTruncating(av) * double.CreateTruncating(bv);
                }

                T result = T.CreateTruncating(sum);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + result : result;
            }
        }
    }

    /// <summary>
    /// Σ_p a[p]·b[p] in the order of the fast GEMM's small-M A·Bᵀ path (<see cref="Kernels.GemmDot"/>), on every vector
    /// path: 64 bytes of lanes (L = 16 floats or 8 doubles), lane l = fma(a[p], b[p], lane l) for p ≡ l (mod L) and
    /// p &lt; K − K mod L in order, the lanes folded in halves (l + L/2, then l + L/4, ...), then the last K mod L products
    /// added in order, each rounded before the addition.
    /// </summary>
    public static T DotProduct<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = 64 / Unsafe.SizeOf<T>(), k = a.Length, body = k - k % lanes;
        var sums = new T[lanes];
        for (int p = 0; p < body; p++)
        {
            sums[p % lanes] = T.FusedMultiplyAdd(a[p], b[p], sums[p % lanes]);
        }

        for (int width = lanes / 2; width >= 1; width /= 2)
        {
            for (int l = 0; l < width; l++)
            {
                sums[l] += sums[l + width];
            }
        }

        T sum = sums[0];
        for (int p = body; p < k; p++)
        {
            sum += a[p] * b[p];
        }

        return sum;
    }
}
