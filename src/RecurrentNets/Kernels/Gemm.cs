using System.Numerics;

namespace RecurrentNets.Kernels;

/// <summary>
/// General matrix products C (+)= op(A)·op(B) for float and double, in the three forms the forward and
/// backward passes need: A·B, A·Bᵀ and Aᵀ·B.
/// </summary>
/// <remarks>
/// Legend: M, N, K are the sizes of C[M, N] = op(A)[M, K] · op(B)[K, N]; all matrices are row-major.
/// Results do not depend on the number of threads: threads split the output into tiles, and every element of C
/// is summed over K in the same order whatever the split.
/// Implementation (GotoBLAS / BLIS): op(A) and op(B) are packed into KC x MC and KC x NC blocks and multiplied by an
/// 8 x (2 vectors) FMA register tile on Vector512 (6 x 2 on Vector256 or Vector128); A·Bᵀ with few rows (the RNN step
/// h·W_hhᵀ) runs as dot products read in place instead, and calls above a few MFLOP split C over a persistent
/// worker pool. Nothing is allocated per call once the per-thread packing buffers have grown.
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
    public static unsafe void Compute<T>(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Validate everything before writing anything.
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        CheckLeadingDimension(lda, aCols, transposeA ? "m (A is stored [K, M])" : "k (A is stored [M, K])", nameof(lda));
        CheckLeadingDimension(ldb, bCols, transposeB ? "k (B is stored [N, K])" : "n (B is stored [K, N])", nameof(ldb));
        CheckLeadingDimension(ldc, n, "n (C is [M, N])", nameof(ldc));
        CheckLength(a.Length, aRows, aCols, lda, "A", nameof(a));
        CheckLength(b.Length, bRows, bCols, ldb, "B", nameof(b));
        CheckLength(c.Length, m, n, ldc, "C", nameof(c));

        if (m == 0 || n == 0)
            return;
        if (k == 0)
        {
            // An empty sum: C = 0, or C unchanged when accumulating.
            if (!accumulate)
            {
                for (int i = 0; i < m; i++)
                    c.Slice(i * ldc, n).Clear();
            }

            return;
        }

        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            var problem = new GemmProblem
            {
                A = pa, B = pb, C = pc, Lda = lda, Ldb = ldb, Ldc = ldc, M = m, N = n, K = k,
                TransposeA = transposeA, TransposeB = transposeB, Accumulate = accumulate,
            };
            GemmDriver.Run<T>(ref problem);
        }
    }

    /// <summary>
    /// Packs op(B)[K, N] once into <paramref name="packed"/> for many products with
    /// <see cref="Compute{T}(bool, int, int, int, ReadOnlySpan{T}, int, PackedMatrix{T}, Span{T}, int, bool, bool)"/>, on the
    /// current kernel path. Allocates only when the matrix grows.
    /// </summary>
    internal static unsafe void Pack<T>(bool transposeB, int k, int n, ReadOnlySpan<T> b, int ldb, PackedMatrix<T> packed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(packed);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        CheckLeadingDimension(ldb, bCols, transposeB ? "k (B is stored [N, K])" : "n (B is stored [K, N])", nameof(ldb));
        CheckLength(b.Length, bRows, bCols, ldb, "B", nameof(b));
        fixed (T* pb = b)
        {
            GemmDriver.Pack(transposeB, k, n, pb, ldb, packed);
        }
    }

    /// <summary>
    /// C = op(A)·B, or C += op(A)·B when <paramref name="accumulate"/> is set, with B packed by <see cref="Pack{T}"/>.
    /// Runs on the path B was packed for; the same bits as the unpacked blocked product on that path. With few rows of A,
    /// <paramref name="reverse"/> walks B's panels last to first (same bits): alternated from call to call, the panels
    /// read last are still in cache.
    /// </summary>
    internal static void Compute<T>(bool transposeA, int m, int n, int k, ReadOnlySpan<T> a, int lda,
        PackedMatrix<T> packed, Span<T> c, int ldc, bool accumulate, bool reverse = false)
        where T : unmanaged, IFloatingPointIeee754<T>
        => PackedProduct(transposeA, m, n, k, a, lda, packed, c, ldc, accumulate, reverse, 0, n, wholeProduct: true, 1, 0);

    /// <summary>
    /// Columns [<paramref name="columnStart"/>, <paramref name="columnEnd"/>) of C = A·B (or C += A·B), B packed by
    /// <see cref="Pack{T}"/>, on the calling thread only: the same bits as those columns of the whole product, so threads
    /// may each take a range of columns. columnStart must be a multiple of 32 (of every path's panel width).
    /// </summary>
    internal static void ComputeColumns<T>(int m, int n, int k, ReadOnlySpan<T> a, int lda, PackedMatrix<T> packed,
        Span<T> c, int ldc, bool accumulate, int columnStart, int columnEnd, bool reverse = false)
        where T : unmanaged, IFloatingPointIeee754<T>
        => ComputeColumnGroups(m, n, k, a, lda, packed, c, ldc, accumulate, columnStart, columnEnd, 1, 0, reverse);

    /// <summary>
    /// <see cref="ComputeColumns{T}"/> over <paramref name="groups"/> ranges of columns [columnStart + g·groupStride,
    /// columnEnd + g·groupStride), g = 0..groups-1, with A packed once for all of them (a range of units' columns in every
    /// gate block). The same bits as those columns of the whole product. columnStart and groupStride must be multiples of
    /// 32; the ranges must not overlap and must lie within [0, n). <paramref name="reverse"/> takes the groups last to
    /// first, and with few rows of A each group's panels last to first too (the same bits either way).
    /// </summary>
    internal static void ComputeColumnGroups<T>(int m, int n, int k, ReadOnlySpan<T> a, int lda, PackedMatrix<T> packed,
        Span<T> c, int ldc, bool accumulate, int columnStart, int columnEnd, int groups, int groupStride, bool reverse = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (columnStart < 0 || columnStart > columnEnd || columnEnd > n || columnStart % ColumnAlignment != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(columnStart),
                $"Columns [{columnStart}, {columnEnd}) must lie within [0, {n}) and start at a multiple of {ColumnAlignment}.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (groups > 1 && (groupStride < columnEnd - columnStart || groupStride % ColumnAlignment != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(groupStride), groupStride,
                $"Ranges [{columnStart}, {columnEnd}) {groupStride} columns apart must not overlap and must start at multiples of {ColumnAlignment}.");
        }

        if (columnEnd + (long)(groups - 1) * groupStride > n)
        {
            throw new ArgumentOutOfRangeException(nameof(groups), groups,
                $"{groups} ranges [{columnStart}, {columnEnd}) {groupStride} columns apart end past the product's {n} columns.");
        }

        PackedProduct(false, m, n, k, a, lda, packed, c, ldc, accumulate, reverse, columnStart, columnEnd, wholeProduct: false, groups, groupStride);
    }

    // Validates, then computes columns [j0, j1) of op(A)·B on a packed B: the whole product (threads allowed) or a
    // range on the calling thread.
    private static unsafe void PackedProduct<T>(bool transposeA, int m, int n, int k, ReadOnlySpan<T> a, int lda, PackedMatrix<T> packed,
        Span<T> c, int ldc, bool accumulate, bool reverse, int j0, int j1, bool wholeProduct, int groups, int groupStride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(packed);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (!packed.IsPacked || packed.K != k || packed.N != n)
            throw new ArgumentException($"The packed matrix is [{packed.K}, {packed.N}] but the product needs [{k}, {n}].", nameof(packed));
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        CheckLeadingDimension(lda, aCols, transposeA ? "m (A is stored [K, M])" : "k (A is stored [M, K])", nameof(lda));
        CheckLeadingDimension(ldc, n, "n (C is [M, N])", nameof(ldc));
        CheckLength(a.Length, aRows, aCols, lda, "A", nameof(a));
        CheckLength(c.Length, m, n, ldc, "C", nameof(c));
        if (m == 0 || j0 == j1)
            return;

        fixed (T* pa = a)
        fixed (T* pc = c)
        {
            var problem = new GemmProblem
            {
                A = pa, B = null, C = pc, Lda = lda, Ldb = 0, Ldc = ldc, M = m, N = n, K = k,
                TransposeA = transposeA, TransposeB = false, Accumulate = accumulate, Packed = packed.Data, Reverse = reverse,
                ColumnGroups = groups, GroupStride = groupStride,
            };
            if (wholeProduct)
                GemmDriver.Run<T>(ref problem, packed.Path);
            else
                GemmDriver.Run<T>(ref problem, packed.Path, j0, j1);
        }
    }

    /// <summary>Column ranges of <see cref="ComputeColumns{T}"/> and <see cref="ComputeColumnGroups{T}"/>, and the stride
    /// between groups, start at a multiple of this (every kernel's NR divides it).</summary>
    internal const int ColumnAlignment = 32;

    private static void CheckLeadingDimension(int leadingDimension, int rowLength, string rowLengthName, string paramName)
    {
        if (leadingDimension < rowLength)
        {
            throw new ArgumentOutOfRangeException(paramName, leadingDimension,
                $"{paramName} is {leadingDimension} but must be at least {rowLength}, the row length {rowLengthName}.");
        }
    }

    private static void CheckLength(int length, int rows, int cols, int leadingDimension, string matrix, string paramName)
    {
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * leadingDimension + cols;
        if (length < needed)
        {
            throw new ArgumentException(
                $"{paramName} has length {length} but {matrix} [{rows}, {cols}] with leading dimension {leadingDimension} needs {needed} elements.",
                paramName);
        }
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
