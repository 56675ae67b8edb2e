using System.Numerics;
using RecurrentNets.Reference;

namespace RecurrentNets.Kernels;

/// <summary>
/// General matrix products C (+)= op(A)·op(B) for float and double, in the three forms the forward and
/// backward passes need: A·B, A·Bᵀ and Aᵀ·B.
/// </summary>
/// <remarks>
/// Legend: M, N, K are the sizes of C[M, N] = op(A)[M, K] · op(B)[K, N]; all matrices are row-major.
/// Results do not depend on the number of threads: threads split the output into tiles, and every element of C
/// is summed over K in the same order whatever the split.
/// </remarks>
public static class Gemm
{
    /// <summary>C = op(A)·op(B), or C += op(A)·op(B) when <paramref name="accumulate"/> is set.</summary>
    /// <param name="transposeA">When set, A is stored as [K, M] and op(A) = Aᵀ; otherwise A is [M, K].</param>
    /// <param name="transposeB">When set, B is stored as [N, K] and op(B) = Bᵀ; otherwise B is [K, N].</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The inner dimension.</param>
    /// <param name="a">A, row-major with leading dimension <paramref name="lda"/>.</param>
    /// <param name="lda">Leading dimension of A (elements between the starts of two stored rows).</param>
    /// <param name="b">B, row-major with leading dimension <paramref name="ldb"/>.</param>
    /// <param name="ldb">Leading dimension of B.</param>
    /// <param name="c">C [M, N], row-major with leading dimension <paramref name="ldc"/>.</param>
    /// <param name="ldc">Leading dimension of C.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative or a leading dimension is too small.</exception>
    /// <exception cref="ArgumentException">A span is too short for the sizes given.</exception>
    public static void Compute<T>(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Placeholder until the packed kernel lands: the reference product.
        ReferenceGemm.Compute(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    /// <summary>C[M, N] (+)= A[M, K] · B[K, N], all contiguous.</summary>
    public static void Multiply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int k, int n, bool accumulate = false)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Compute(false, false, m, n, k, a, k, b, n, c, n, accumulate);

    /// <summary>C[M, N] (+)= A[M, K] · B[N, K]ᵀ, all contiguous (the forward product x·Wᵀ).</summary>
    public static void MultiplyTransposeB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int k, int n, bool accumulate = false)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Compute(false, true, m, n, k, a, k, b, k, c, n, accumulate);

    /// <summary>C[M, N] (+)= A[K, M]ᵀ · B[K, N], all contiguous (the weight gradient dYᵀ·X).</summary>
    public static void MultiplyTransposeA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int k, int n, bool accumulate = false)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Compute(true, false, m, n, k, a, m, b, n, c, n, accumulate);
}
