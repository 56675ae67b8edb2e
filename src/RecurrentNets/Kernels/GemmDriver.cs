using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RecurrentNets.Kernels;

// Legend: C[M, N] (+)= op(A)[M, K]·op(B)[K, N]; MR x NR register tile; KC, MC, NC the cache blocks (GotoBLAS / BLIS).

/// <summary>A validated GEMM call on pinned memory.</summary>
internal unsafe struct GemmProblem
{
    public void* A;
    public void* B;
    public void* C;
    public nint Lda;
    public nint Ldb;
    public nint Ldc;
    public int M;
    public int N;
    public int K;
    public bool TransposeA;
    public bool TransposeB;
    public bool Accumulate;

    /// <summary>Small M with plain B: the micro-kernel reads full B panels in place instead of packing them.</summary>
    public bool DirectB;

    /// <summary>Small M with Bᵀ: dot products of rows of A and rows of B, no packing (<see cref="GemmDriver.DotMaxM"/>).</summary>
    public bool Dot;

    /// <summary>B prepacked by <see cref="GemmDriver.Pack{T}"/> (laid out as <see cref="PackedMatrix{T}"/>), or null.</summary>
    public void* Packed;

    /// <summary>Prepacked B with few rows: one row of A at a time over whole micro-panels (<see cref="GemmDriver.RowMaxM"/>).</summary>
    public bool Rows;

    /// <summary>
    /// For a range of columns of a prepacked B (<see cref="GemmDriver.Run{T}(ref GemmProblem, GemmPath, int, int)"/>): the
    /// range [j0, j1) repeated this many times, <see cref="GroupStride"/> columns apart (0 or 1: once). The gate columns of
    /// a range of units (one range per gate block) then share one packing of A.
    /// </summary>
    public int ColumnGroups;

    /// <summary>The columns between the starts of two of <see cref="ColumnGroups"/>.</summary>
    public int GroupStride;

    /// <summary>
    /// With <see cref="Rows"/>: walk the column panels from last to first. Each column gets the same operations in the
    /// same order either way; a caller that alternates the direction from one product to the next (the steps of a
    /// recurrent loop) finds in cache the panels it read last, instead of streaming a matrix larger than the cache
    /// through it in the same order every time.
    /// </summary>
    public bool Reverse;
}

/// <summary>
/// One job split into parts over <see cref="WorkerPool"/>: a GEMM over disjoint tiles of C, the packing of a matrix, or
/// (with <see cref="State"/>) the recurrent layer's split time loop. One object, <see cref="Shared"/>, serves every call
/// of whoever holds the pool.
/// </summary>
internal sealed unsafe class GemmJob : IParallelJob
{
    /// <summary>The job of the pool's holder (only the thread that holds <see cref="WorkerPool.Shared"/> fills it).</summary>
    public static readonly GemmJob Shared = new();

    /// <summary>Runs part <c>index</c> of the job (a generic instantiation chosen by the caller, so no delegate).</summary>
    public delegate*<GemmJob, int, void> Body;

    /// <summary>The whole problem; the parts only read it.</summary>
    public GemmProblem Problem;

    /// <summary>Split C by rows (true) or by columns (false).</summary>
    public bool SplitRows;

    /// <summary>Rows or columns per part (a multiple of the register tile).</summary>
    public int Chunk;

    /// <summary>For a packing job: NR, the width of a micro-panel.</summary>
    public int PanelWidth;

    /// <summary>For jobs other than a GEMM (the recurrent layer's batch-split time loop): the object the parts work on.</summary>
    public object? State;

    /// <inheritdoc/>
    public void Run(int part, int parts) => Body(this, part);
}

/// <summary>The blocked, packed GEMM: a generic driver over a micro-kernel struct, plus threading over tiles of C.</summary>
internal static unsafe class GemmDriver
{
    /// <summary>
    /// Depth of a packed block: an 8x512 float A micro-panel (16 KB on Vector512) and a 512x32 B micro-panel (64 KB, read
    /// from L2) per kernel call; 512 rather than 256 halves the passes over C (docs/engine.md has the measurement).
    /// </summary>
    internal const int KC = 512;

    /// <summary>Rows of A packed at once (18 micro-panels, 288 KB of floats at KC = 512: stays in the 1 MB L2).</summary>
    internal const int MC = 144;

    /// <summary>Columns of B packed at once (4 MB of floats at KC = 512: L3-resident, reused by every MC block).</summary>
    internal const int NC = 2048;

    /// <summary>
    /// A·Bᵀ with few rows runs as dot products of rows read in place: packing B would cost as much as the product.
    /// Up to <see cref="DotMaxM"/> rows always; up to <see cref="DotMaxMLongK"/> when K is long enough to amortise the
    /// horizontal sums and A fits in <see cref="DotMaxABytes"/> of L2. Chosen by the shape only, so the summation order
    /// never depends on the thread count.
    /// </summary>
    internal const int DotMaxM = 16;

    /// <inheritdoc cref="DotMaxM"/>
    internal const int DotMaxMLongK = 64;

    /// <inheritdoc cref="DotMaxM"/>
    internal const int DotMinLongK = 256;

    /// <inheritdoc cref="DotMaxM"/>
    internal const int DotMaxABytes = 128 * 1024;

    /// <summary>
    /// Up to this many rows of A, a product with plain B that is split over threads by columns reads B in place
    /// (<see cref="GemmProblem.DirectB"/>) instead of packing it; on one thread the limit stays at two register tiles,
    /// where packing is faster (docs/engine.md has the measurements). Reading in place runs the same operations as
    /// packing first, so the bits do not change.
    /// </summary>
    internal const int DirectMaxMThreaded = 128;

    /// <summary>
    /// With prepacked B, up to this many rows run one row at a time over four micro-panels (one load per FMA) instead
    /// of through the MR-row tile, which would compute MR rows for each. Same per-element operations either way.
    /// </summary>
    internal const int RowMaxM = 4;

    /// <summary>
    /// Below this many flops (2·M·N·K) a call stays on the calling thread: waking a worker costs more. 1 MFLOP lets the
    /// per-step recurrent products of B = 1, H = 512 (2 MFLOP) split over two threads (docs/engine.md has the measurement).
    /// </summary>
    internal const double ThreadingThreshold = 1e6;

    /// <summary>The path a call takes: the calling thread's <see cref="KernelScope.Path"/> (tests force one), else the
    /// widest accelerated one.</summary>
    internal static GemmPath ResolvePath()
    {
        GemmPath forced = KernelScope.Path;
        if (forced != GemmPath.Auto)
            return forced;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            return GemmPath.Vector512;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
            return GemmPath.Vector256;
        return GemmPath.Portable;
    }

    /// <summary>Computes a validated problem with M, N, K all positive, on the current path.</summary>
    public static void Run<T>(ref GemmProblem problem)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Run<T>(ref problem, ResolvePath());

    /// <summary>
    /// Computes a validated problem with M, N, K positive on <paramref name="path"/> (a prepacked B's own), or, when
    /// <paramref name="j1"/> is not negative, only its columns [j0, j1) on the calling thread (j0 a multiple of the
    /// path's NR).
    /// </summary>
    public static void Run<T>(ref GemmProblem problem, GemmPath path, int j0 = 0, int j1 = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (path)
        {
            case GemmPath.Vector512:
                RunOn<T, GemmKernel<T, Vector512<T>>>(ref problem, j0, j1);
                break;
            case GemmPath.Vector256:
                RunOn<T, GemmKernel<T, Vector256<T>>>(ref problem, j0, j1);
                break;
            default:
                RunOn<T, GemmKernel<T, Vector128<T>>>(ref problem, j0, j1);
                break;
        }
    }

    private static void RunOn<T, TKernel>(ref GemmProblem problem, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        if (j1 < 0)
            Run<T, TKernel>(ref problem);
        else
            Columns<T, TKernel>(ref problem, j0, j1);
    }

    /// <summary>Packs op(B)[K, N] into <paramref name="packed"/> on the current path (K, N positive, arguments validated).</summary>
    public static void Pack<T>(bool transposeB, int k, int n, T* b, nint ldb, PackedMatrix<T> packed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmPath path = ResolvePath();
        int nr = path switch
        {
            GemmPath.Vector512 => GemmKernel<T, Vector512<T>>.NR,
            GemmPath.Vector256 => GemmKernel<T, Vector256<T>>.NR,
            _ => GemmKernel<T, Vector128<T>>.NR,
        };
        packed.Reset(k, n, path, nr);
        var problem = new GemmProblem { B = b, Ldb = ldb, K = k, N = n, TransposeB = transposeB, Packed = packed.Data };

        // Large matrices split their micro-panels over the pool: the packing reads the weights from memory once per
        // pass, and a thread alone leaves half the bandwidth unused (B = 1, H = 512: two 4 MB packs a pass).
        int panels = (n + nr - 1) / nr;
        int parts = 1;
        if ((long)k * n >= PackThreadingElements)
            parts = Math.Min(WorkerPool.Shared.MaxParts, panels);
        if (parts > 1 && TryRunParts(in problem, parts, splitRows: false, (panels + parts - 1) / parts * nr, nr, &PackPart<T>))
            return;

        PackColumns<T>(ref problem, 0, n, nr);
    }

    /// <summary>
    /// Matrices of at least this many elements are packed by all threads (64 K: an LSTM's W_hh at H = 128, where
    /// handing half to the other thread costs less than it saves; docs/engine.md has the measurement).
    /// </summary>
    internal const long PackThreadingElements = 1 << 16;

    private static void PackPart<T>(GemmJob job, int part)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref GemmProblem problem = ref job.Problem;
        int start = part * job.Chunk, end = Math.Min(problem.N, start + job.Chunk);
        if (start < end)
        {
            PackColumns<T>(ref problem, start, end, job.PanelWidth);
        }
    }

    // The micro-panels of columns [j0, j1) (j0 a multiple of NR) of every (jc, pc) block, into the layout of PackedMatrix.
    private static void PackColumns<T>(ref GemmProblem problem, int j0, int j1, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* data = (T*)problem.Packed;
        int k = problem.K, n = problem.N;
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc), ncPad = RoundUp(nc, nr);
            int from = Math.Max(j0, jc), to = Math.Min(j1, jc + nc);
            if (from >= to)
                continue;
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                T* block = data + (nint)jc * k + (nint)ncPad * pc;
                PackB(ref problem, block + (nint)(from - jc) * kc, pc, kc, from, to - from, nr);
            }
        }
    }

    private static void Columns<T, TKernel>(ref GemmProblem problem, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        if (j0 % TKernel.NR != 0)
            throw new ArgumentOutOfRangeException(nameof(j0), $"Column {j0} is not at a panel boundary (a multiple of {TKernel.NR}).");

        // The same choice of loop as Run makes for a prepacked B, so the columns get the bits of the whole product.
        problem.DirectB = false;
        problem.Dot = false;
        problem.Rows = problem.M <= RowMaxM;
        int groups = Math.Max(1, problem.ColumnGroups);
        if (problem.Rows)
        {
            // One row at a time needs no packing of A: the groups run one after another (last first when reversed).
            for (int i = 0; i < groups; i++)
            {
                int offset = (problem.Reverse ? groups - 1 - i : i) * problem.GroupStride;
                PackedRows<T, TKernel>(ref problem, 0, problem.M, j0 + offset, j1 + offset);
            }

            return;
        }

        Blocked<T, TKernel>(ref problem, 0, problem.M, j0, j1);
    }

    /// <summary>The NR-column micro-panel of prepacked B at column <paramref name="j"/> (a multiple of NR) in K block pc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* PackedPanel<T>(ref GemmProblem problem, int j, int pc, int kc, int nr)
        where T : unmanaged
    {
        int block = j / NC * NC;
        int ncPad = RoundUp(Math.Min(NC, problem.N - block), nr);
        return (T*)problem.Packed + (nint)block * problem.K + (nint)ncPad * pc + (nint)(j - block) * kc;
    }

    private static void Run<T, TKernel>(ref GemmProblem problem)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        bool packed = problem.Packed != null;
        problem.DirectB = !packed && !problem.TransposeB && problem.M <= 2 * mr;
        problem.Dot = !packed && problem.TransposeB && (problem.M <= DotMaxM
            || (problem.M <= DotMaxMLongK && problem.K >= DotMinLongK && (long)problem.M * problem.K * sizeof(T) <= DotMaxABytes));
        problem.Rows = packed && problem.M <= RowMaxM;

        // Threads split C into disjoint row or column bands aligned to the register tile; the sum over K of every
        // element runs in the same order whatever the split, so results are bit-identical for any thread count.
        // The workers' threads start only when a job first needs them.
        int parts = 1;
        if (2.0 * problem.M * problem.N * problem.K >= ThreadingThreshold)
            parts = WorkerPool.Shared.MaxParts;

        if (parts > 1)
        {
            int rowTiles = (problem.M + mr - 1) / mr, colTiles = (problem.N + nr - 1) / nr;

            // Split the longer side: the other operand's packing is then duplicated on the smaller one.
            bool splitRows = !problem.Dot && !problem.Rows && (problem.M > problem.N ? rowTiles >= parts : colTiles < parts);
            int tiles = splitRows ? rowTiles : colTiles;
            parts = Math.Min(parts, tiles);
            GemmProblem split = problem;
            if (!splitRows && !packed && !problem.TransposeB && problem.M <= DirectMaxMThreaded)
                split.DirectB = true;
            if (parts > 1 && TryRunParts(in split, parts, splitRows, (tiles + parts - 1) / parts * (splitRows ? mr : nr), 0, &RunPart<T, TKernel>))
                return;
        }

        Part<T, TKernel>(ref problem, 0, problem.M, 0, problem.N);
    }

    // Runs body over parts of the shared job on the pool, when it is free; false (nothing done) when another call holds it.
    private static bool TryRunParts(in GemmProblem problem, int parts, bool splitRows, int chunk, int panelWidth, delegate*<GemmJob, int, void> body)
    {
        var pool = WorkerPool.Shared;
        if (!pool.TryAcquire())
            return false;
        try
        {
            GemmJob job = GemmJob.Shared;
            job.Problem = problem;
            job.SplitRows = splitRows;
            job.Chunk = chunk;
            job.PanelWidth = panelWidth;
            job.Body = body;
            pool.RunAcquired(job, parts);
        }
        finally
        {
            pool.Release();
        }

        return true;
    }

    private static void RunPart<T, TKernel>(GemmJob job, int part)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        ref GemmProblem problem = ref job.Problem;
        int start = part * job.Chunk;
        if (job.SplitRows)
        {
            int end = Math.Min(problem.M, start + job.Chunk);
            if (start < end)
                Part<T, TKernel>(ref problem, start, end, 0, problem.N);
        }
        else
        {
            int end = Math.Min(problem.N, start + job.Chunk);
            if (start < end)
                Part<T, TKernel>(ref problem, 0, problem.M, start, end);
        }
    }

    private static void Part<T, TKernel>(ref GemmProblem problem, int i0, int i1, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        if (problem.Dot)
            DotProducts<T, TKernel>(ref problem, i0, i1, j0, j1);
        else if (problem.Rows)
            PackedRows<T, TKernel>(ref problem, i0, i1, j0, j1);
        else
            Blocked<T, TKernel>(ref problem, i0, i1, j0, j1);
    }

    /// <summary>
    /// C[i0..i1, j0..j1) (+)= A·Bᵀ for small M as tiles of four rows of A by four of B (<see cref="GemmDot"/>: the same
    /// sums on every path): B is read in place, once (its four rows stay in L1 while every row of A, L2-resident, passes
    /// over them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProducts<T, TKernel>(ref GemmProblem problem, int i0, int i1, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        int k = problem.K, rows = i1 - i0;
        T* a = (T*)problem.A;
        T* b = (T*)problem.B;
        T* c = (T*)problem.C;
        nint lda = problem.Lda, ldb = problem.Ldb, ldc = problem.Ldc;
        if (problem.TransposeA)
        {
            // A is stored [K, M]: gather its rows i0..i1 into a contiguous [rows, K] buffer (M·K, small here).
            T* rowsOfA = GemmBuffers<T>.A(rows * k);
            for (int p = 0; p < k; p++)
            {
                T* src = a + p * lda + i0;
                for (int i = 0; i < rows; i++)
                    rowsOfA[(nint)i * k + p] = src[i];
            }

            a = rowsOfA;
            lda = k;
        }
        else
        {
            a += i0 * lda;
        }

        const int tileRows = 4;
        T* r = stackalloc T[16];
        bool add = problem.Accumulate;
        for (int j = j0; j < j1; j += 4)
        {
            // Missing rows of an edge tile repeat a valid row: same arithmetic per element, results discarded.
            int cols = Math.Min(4, j1 - j);
            T* b0 = b + j * ldb;
            T* b1 = cols > 1 ? b0 + ldb : b0;
            T* b2 = cols > 2 ? b0 + 2 * ldb : b0;
            T* b3 = cols > 3 ? b0 + 3 * ldb : b0;
            for (int i = 0; i < rows; i += tileRows)
            {
                int rowCount = Math.Min(tileRows, rows - i);
                T* a0 = a + i * lda;
                T* a1 = rowCount > 1 ? a0 + lda : a0;
                T* a2 = rowCount > 2 ? a0 + 2 * lda : a0;
                T* a3 = rowCount > 3 ? a0 + 3 * lda : a0;
                GemmDot.Tile<T, TKernel>(k, rowCount, a0, a1, a2, a3, b0, b1, b2, b3, r);
                for (int ii = 0; ii < rowCount; ii++)
                {
                    T* dst = c + (i0 + i + ii) * ldc + j;
                    T* src = r + 4 * ii;
                    for (int jj = 0; jj < cols; jj++)
                        dst[jj] = add ? dst[jj] + src[jj] : src[jj];
                }
            }
        }
    }

    /// <summary>C[i0..i1, j0..j1) (+)= op(A)·op(B) on the calling thread: the five GotoBLAS loops around the micro-kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked<T, TKernel>(ref GemmProblem problem, int i0, int i1, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int k = problem.K;
        int mSpan = i1 - i0, nSpan = j1 - j0;
        int kcMax = Math.Min(KC, k);
        int mcMax = Math.Min(MC, RoundUp(mSpan, mr));
        int ncMax = Math.Min(NC, RoundUp(nSpan, nr));
        T* packedA = GemmBuffers<T>.A(mcMax * kcMax);
        bool prepacked = problem.Packed != null;
        T* packedB = prepacked ? null : GemmBuffers<T>.B(ncMax * kcMax);
        int groups = prepacked ? Math.Max(1, problem.ColumnGroups) : 1;

        // Edge tiles are computed in full into this scratch tile, then only their valid part is written to C.
        T* tile = stackalloc T[mr * nr];

        for (int jc = j0; jc < j1; jc += NC)
        {
            int nc = Math.Min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);

                // The first K block overwrites C unless the caller accumulates; later blocks add to it.
                bool add = problem.Accumulate || pc > 0;
                if (!prepacked)
                    PackB(ref problem, packedB, pc, kc, jc, nc, nr);
                for (int ic = i0; ic < i1; ic += MC)
                {
                    int mc = Math.Min(MC, i1 - ic);
                    PackA(ref problem, packedA, ic, mc, pc, kc, mr);
                    // Last group first when reversed, as a caller that alternates directions finds in cache what it read
                    // last; each column's K blocks still come in order.
                    for (int i = 0; i < groups; i++)
                    {
                        int group = problem.Reverse ? groups - 1 - i : i;
                        BlockColumns<T, TKernel>(ref problem, packedA, packedB, ic, mc, pc, kc, jc + group * problem.GroupStride, nc, add, tile);
                    }
                }
            }
        }
    }

    // The tiles of C[ic..ic + mc, j..j + nc) for K block pc, with A's rows packed and B's block packed (or prepacked).
    private static void BlockColumns<T, TKernel>(ref GemmProblem problem, T* packedA, T* packedB, int ic, int mc, int pc, int kc, int j, int nc,
        bool add, T* tile)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        T* c = (T*)problem.C;
        nint ldc = problem.Ldc;
        bool prepacked = problem.Packed != null;

        // A last row tile of few rows (M = 32 on AVX2's six-row tile leaves two) runs row by row over four panels at a
        // time, instead of computing all MR rows of the tile for each panel. Its panels are contiguous within one NC block
        // of a prepacked B.
        int edgeRows = mc % mr, tiledRows = mc;
        if (edgeRows > 0 && 2 * edgeRows < mr && !problem.DirectB)
        {
            tiledRows = mc - edgeRows;
            T* edgeA = packedA + (nint)tiledRows * kc;
            T* edgeC = c + (ic + tiledRows) * ldc;
            if (!prepacked)
            {
                EdgeRows<T, TKernel>(edgeA, kc, packedB, edgeC + j, ldc, edgeRows, nc, add, tile);
            }
            else
            {
                for (int from = j; from < j + nc;)
                {
                    int to = Math.Min(j + nc, (from / NC + 1) * NC);
                    EdgeRows<T, TKernel>(edgeA, kc, PackedPanel<T>(ref problem, from, pc, kc, nr), edgeC + from, ldc, edgeRows, to - from, add, tile);
                    from = to;
                }
            }
        }

        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            T* bPanel = prepacked ? PackedPanel<T>(ref problem, j + jr, pc, kc, nr) : packedB + (nint)jr * kc;
            nint bStride = nr;
            if (problem.DirectB && cols == nr)
            {
                bPanel = (T*)problem.B + pc * problem.Ldb + j + jr;
                bStride = problem.Ldb;
            }

            for (int ir = 0; ir < tiledRows; ir += mr)
            {
                int rows = Math.Min(mr, tiledRows - ir);
                T* aPanel = packedA + (nint)ir * kc;
                T* cTile = c + (ic + ir) * ldc + j + jr;
                if (rows == mr && cols == nr)
                {
                    TKernel.Run(kc, aPanel, bPanel, bStride, cTile, ldc, add);
                }
                else if (rows == 4 && cols == nr)
                {
                    // A last tile of four rows (M = 16 on AVX2's six-row tile) computes only those.
                    TKernel.Run4(kc, aPanel, bPanel, bStride, cTile, ldc, add);
                }
                else
                {
                    if (rows <= 4)
                        TKernel.Run4(kc, aPanel, bPanel, bStride, tile, nr, false);
                    else
                        TKernel.Run(kc, aPanel, bPanel, bStride, tile, nr, false);
                    WriteEdge(tile, nr, cTile, ldc, rows, cols, add);
                }
            }
        }
    }

    /// <summary>
    /// C[i0..i1, j0..j1) (+)= op(A)·B for few rows and prepacked B: each row of A against four micro-panels at a time,
    /// with the same per-element operations (and bits) as <see cref="Blocked{T, TKernel}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackedRows<T, TKernel>(ref GemmProblem problem, int i0, int i1, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        // Groups of four micro-panels (one kernel call), never across an NC block (panels are contiguous within one),
        // each taken through all its K blocks before the next group: the order of groups is then free (forward or
        // reversed) while every column still sums its K blocks in order.
        int group = 4 * TKernel.NR;
        if (!problem.Reverse)
        {
            for (int jc = j0; jc < j1;)
            {
                int end = GroupEnd(jc, j1, group);
                RowGroup<T, TKernel>(ref problem, i0, i1, jc, end);
                jc = end;
            }

            return;
        }

        // Reversed: the same groups, last first (a group ends at four panels, an NC block's end or the range's end).
        for (int end = j1; end > j0;)
        {
            int blockStart = Math.Max(j0, (end - 1) / NC * NC);
            int start = blockStart + (end - blockStart - 1) / group * group;
            RowGroup<T, TKernel>(ref problem, i0, i1, start, end);
            end = start;
        }
    }

    // The end of the group of panels that starts at column jc: four panels, or fewer at the end of an NC block or of the range.
    private static int GroupEnd(int jc, int j1, int group) => Math.Min(Math.Min(j1, jc + group), (jc / NC + 1) * NC);

    /// <summary>C[i0..i1, j0..j1) (+)= op(A)·B over columns within one NC block, at most four panels, all K blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowGroup<T, TKernel>(ref GemmProblem problem, int i0, int i1, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        int nr = TKernel.NR, k = problem.K;
        T* a = (T*)problem.A;
        T* c = (T*)problem.C;
        nint lda = problem.Lda, ldc = problem.Ldc;
        nint aStride = problem.TransposeA ? lda : 1;
        T* tile = stackalloc T[nr];
        for (int pc = 0; pc < k; pc += KC)
        {
            int kc = Math.Min(KC, k - pc);
            bool add = problem.Accumulate || pc > 0;
            T* first = PackedPanel<T>(ref problem, j0, pc, kc, nr);
            nint panelStride = (nint)nr * kc;
            for (int i = i0; i < i1; i++)
            {
                T* aRow = problem.TransposeA ? a + pc * lda + i : a + i * lda + pc;
                T* cRow = c + i * ldc;
                T* panel = first;
                int j = j0;
                if (j + 4 * nr <= j1)
                {
                    TKernel.RowPanels4(kc, aRow, aStride, panel, panelStride, cRow + j, add);
                    continue;
                }

                for (; j + nr <= j1; j += nr, panel += panelStride)
                    TKernel.RowPanel(kc, aRow, aStride, panel, cRow + j, add);
                if (j < j1)
                {
                    TKernel.RowPanel(kc, aRow, aStride, panel, tile, false);
                    WriteEdge(tile, nr, cRow + j, ldc, 1, j1 - j, add);
                }
            }
        }
    }

    /// <summary>
    /// C[rows, nc] (+)= the last <paramref name="rows"/> (fewer than MR / 2) rows of a packed A block times the nc columns of
    /// B's packed panels (kc·NR apart from <paramref name="panels"/>): each row over four panels per kernel call. The
    /// same per-element operations (and bits) as the MR-row tile.
    /// </summary>
    private static void EdgeRows<T, TKernel>(T* aPanel, int kc, T* panels, T* c, nint ldc, int rows, int nc, bool add, T* tile)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        nint panelStride = (nint)nr * kc;
        for (int r = 0; r < rows; r++)
        {
            T* aRow = aPanel + r;
            T* cRow = c + r * ldc;
            T* panel = panels;
            int j = 0;
            for (; j + 4 * nr <= nc; j += 4 * nr, panel += 4 * panelStride)
                TKernel.RowPanels4(kc, aRow, mr, panel, panelStride, cRow + j, add);
            for (; j + nr <= nc; j += nr, panel += panelStride)
                TKernel.RowPanel(kc, aRow, mr, panel, cRow + j, add);
            if (j < nc)
            {
                TKernel.RowPanel(kc, aRow, mr, panel, tile, false);
                WriteEdge(tile, nr, cRow + j, ldc, 1, nc - j, add);
            }
        }
    }

    private static void WriteEdge<T>(T* tile, int nr, T* c, nint ldc, int rows, int cols, bool add)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T* src = tile + r * nr;
            T* dst = c + r * ldc;
            if (add)
            {
                for (int j = 0; j < cols; j++)
                    dst[j] += src[j];
            }
            else
            {
                for (int j = 0; j < cols; j++)
                    dst[j] = src[j];
            }
        }
    }

    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc) as MR-row micro-panels (kc steps of MR values), zero-padding the last.</summary>
    private static void PackA<T>(ref GemmProblem problem, T* dst, int ic, int mc, int pc, int kc, int mr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* a = (T*)problem.A;
        nint lda = problem.Lda;
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            if (problem.TransposeA)
            {
                // A is stored [K, M]: each step p reads MR contiguous values (whole micro-panels in one or two vector
                // moves of a constant size; element by element, packing dGates for dW at (1, 128) took a quarter as
                // long as the product).
                T* src = a + (nint)pc * lda + ic + ir;
                if (rows == mr)
                {
                    for (int p = 0; p < kc; p++, src += lda)
                        CopyStep(dst + p * mr, src, mr * sizeof(T));
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += lda)
                    {
                        T* d = dst + p * mr;
                        int r = 0;
                        for (; r < rows; r++)
                            d[r] = src[r];
                        for (; r < mr; r++)
                            d[r] = T.Zero;
                    }
                }
            }
            else if (typeof(T) == typeof(float) && Avx.IsSupported && mr == 8 && rows == 8 && kc >= 8)
            {
                // A is stored [M, K], eight full rows: 8x8 AVX transposes write whole steps of MR values.
                Transpose8Rows((float*)(a + (ic + ir) * lda + pc), lda, (float*)dst, mr, kc);
            }
            else
            {
                // A is stored [M, K]: read each row contiguously, write with stride MR.
                for (int r = 0; r < rows; r++)
                {
                    T* src = a + (ic + ir + r) * lda + pc;
                    T* d = dst + r;
                    for (int p = 0; p < kc; p++)
                        d[p * mr] = src[p];
                }

                for (int r = rows; r < mr; r++)
                {
                    for (int p = 0; p < kc; p++)
                        dst[p * mr + r] = T.Zero;
                }
            }

            dst += mr * kc;
        }
    }

    // One step of a micro-panel (MR values of A, NR of B): the sizes the kernels use as constants, so the JIT emits vector
    // moves instead of calling a block copy per step.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyStep(void* destination, void* source, int bytes)
    {
        switch (bytes)
        {
            case 24:
                Unsafe.CopyBlockUnaligned(destination, source, 24);
                break;
            case 32:
                Unsafe.CopyBlockUnaligned(destination, source, 32);
                break;
            case 48:
                Unsafe.CopyBlockUnaligned(destination, source, 48);
                break;
            case 64:
                Unsafe.CopyBlockUnaligned(destination, source, 64);
                break;
            case 128:
                Unsafe.CopyBlockUnaligned(destination, source, 128);
                break;
            default:
                Unsafe.CopyBlockUnaligned(destination, source, (uint)bytes);
                break;
        }
    }

    /// <summary>
    /// Packs op(B)[pc..pc+kc, jc..jc+nc) as NR-column micro-panels (kc steps of NR values), zero-padding the last.
    /// With <see cref="GemmProblem.DirectB"/> only a partial last panel is packed (full ones are read in place).
    /// </summary>
    private static void PackB<T>(ref GemmProblem problem, T* dst, int pc, int kc, int jc, int nc, int nr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* b = (T*)problem.B;
        nint ldb = problem.Ldb;
        for (int jr = 0; jr < nc; jr += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - jr);
            if (problem.DirectB && cols == nr)
                continue;
            if (problem.TransposeB)
            {
                // B is stored [N, K]: float panels go through 8x8 AVX transposes; otherwise four stored rows at a
                // time, so each step writes four adjacent values while reading four sequential streams.
                int j = 0;
                if (typeof(T) == typeof(float) && Avx.IsSupported && kc >= 8)
                {
                    for (; j + 8 <= cols; j += 8)
                        Transpose8Rows((float*)(b + (jc + jr + j) * ldb + pc), ldb, (float*)(dst + j), nr, kc);
                }

                for (; j + 4 <= cols; j += 4)
                {
                    T* s0 = b + (jc + jr + j) * ldb + pc;
                    T* s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb;
                    T* d = dst + j;
                    for (int p = 0; p < kc; p++, d += nr)
                    {
                        d[0] = s0[p];
                        d[1] = s1[p];
                        d[2] = s2[p];
                        d[3] = s3[p];
                    }
                }

                for (; j < cols; j++)
                {
                    T* src = b + (jc + jr + j) * ldb + pc;
                    T* d = dst + j;
                    for (int p = 0; p < kc; p++)
                        d[p * nr] = src[p];
                }

                for (; j < nr; j++)
                {
                    for (int p = 0; p < kc; p++)
                        dst[p * nr + j] = T.Zero;
                }
            }
            else
            {
                // B is stored [K, N]: each step p copies NR contiguous values (in vector moves: a call to a block copy
                // per 128 bytes packed 4 MB in 155 µs warm, 128 µs now).
                T* src = b + (nint)pc * ldb + jc + jr;
                for (int p = 0; p < kc; p++, src += ldb)
                {
                    T* d = dst + p * nr;
                    if (cols == nr)
                    {
                        CopyStep(d, src, nr * sizeof(T));
                    }
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++)
                            d[j] = src[j];
                        for (; j < nr; j++)
                            d[j] = T.Zero;
                    }
                }
            }
        }
    }

    /// <summary>
    /// dst[p·nr + i] = src[i·ldb + p] for i &lt; 8, p &lt; kc: eight stored rows of B into eight adjacent columns of a
    /// panel, through 8x8 AVX transposes, the last kc mod 8 steps one by one.
    /// </summary>
    internal static void Transpose8Rows(float* src, nint ldb, float* dst, nint nr, int kc)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            float* s = src + p;
            Vector256<float> r0 = Avx.LoadVector256(s), r1 = Avx.LoadVector256(s + ldb);
            Vector256<float> r2 = Avx.LoadVector256(s + 2 * ldb), r3 = Avx.LoadVector256(s + 3 * ldb);
            Vector256<float> r4 = Avx.LoadVector256(s + 4 * ldb), r5 = Avx.LoadVector256(s + 5 * ldb);
            Vector256<float> r6 = Avx.LoadVector256(s + 6 * ldb), r7 = Avx.LoadVector256(s + 7 * ldb);
            Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
            Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
            Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
            Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
            Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
            Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
            Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
            Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
            float* d = dst + p * nr;
            Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
            Avx.Store(d + nr, Avx.Permute2x128(s1, s5, 0x20));
            Avx.Store(d + 2 * nr, Avx.Permute2x128(s2, s6, 0x20));
            Avx.Store(d + 3 * nr, Avx.Permute2x128(s3, s7, 0x20));
            Avx.Store(d + 4 * nr, Avx.Permute2x128(s0, s4, 0x31));
            Avx.Store(d + 5 * nr, Avx.Permute2x128(s1, s5, 0x31));
            Avx.Store(d + 6 * nr, Avx.Permute2x128(s2, s6, 0x31));
            Avx.Store(d + 7 * nr, Avx.Permute2x128(s3, s7, 0x31));
        }

        for (; p < kc; p++)
        {
            float* d = dst + p * nr;
            for (int i = 0; i < 8; i++)
                d[i] = src[i * ldb + p];
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
