using System.Numerics;

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
}
