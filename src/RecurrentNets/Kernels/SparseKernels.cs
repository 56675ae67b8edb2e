using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The echo-state update as one pass over a CSR reservoir matrix, or over its copy in sliced ELL chunks
/// (<see cref="SlicedEllMatrix{T}"/>, one vector lane per row, the same bits): sparse mat-vec (four independent
/// accumulator chains, software prefetch past L2), dense drive, SIMD activation and leak fused per block of rows (Jaeger
/// 2001; Jaeger et al. 2007); and the batched step over stream-interleaved states. The naive twin is
/// <c>Reference.ReferenceSparse</c>.
/// </summary>
/// <remarks>
/// Legend: N = units (rows of W), D = drive size (inputs plus fed-back outputs), B = batch of independent streams.
/// next[i] = decay·x[i] + gain·f(bias[i] + Σ_j Wd[i, j]·d[j] + Σ_k W[i, k]·x[k]).
/// </remarks>
public static class SparseKernels
{
    // Rows per fused block: the pre-activations of one block stay in L1 while tanh and the leak run over them.
    private const int BlockRows = 256;

    /// <summary>y[i] = Σ_k W[i, k]·x[k] (no fusion): the product used by power iteration and Arnoldi.</summary>
    /// <param name="rowPointers">CSR row pointers [N + 1].</param>
    /// <param name="columnIndices">CSR column indices [nnz].</param>
    /// <param name="values">CSR values [nnz].</param>
    /// <param name="x">The vector [columns].</param>
    /// <param name="y">The product [N]; must not overlap <paramref name="x"/>.</param>
    public static void Multiply<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = rowPointers.Length - 1;
        for (int i = 0; i < n; i++)
        {
            y[i] = RowDot(rowPointers[i], rowPointers[i + 1], columnIndices, values, x);
        }
    }

    /// <summary>One leaky echo-state step for one stream.</summary>
    /// <param name="rowPointers">CSR row pointers of W [N + 1].</param>
    /// <param name="columnIndices">CSR column indices of W [nnz], each in [0, N).</param>
    /// <param name="values">CSR values of W [nnz].</param>
    /// <param name="state">x(t) [N].</param>
    /// <param name="driveWeights">[Win | Wfb] row-major [N, D].</param>
    /// <param name="drive">[u(t+1); y(t)] [D].</param>
    /// <param name="bias">b [N], or empty for none.</param>
    /// <param name="decay">1 - a (the leak).</param>
    /// <param name="gain">The weight of f(·) (a for the leaky ESN; Jaeger 2001 uses C).</param>
    /// <param name="activation">f.</param>
    /// <param name="nextState">x(t+1) [N]; must not overlap <paramref name="state"/>.</param>
    public static void LeakyStep<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive, ReadOnlySpan<T> bias,
        T decay, T gain, Activation activation, Span<T> nextState)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LeakyStepRows(rowPointers, columnIndices, values, state, driveWeights, drive, bias, decay, gain, activation,
            nextState, 0, rowPointers.Length - 1);

    /// <summary>The rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of <see cref="LeakyStep{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LeakyStepRows<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive, ReadOnlySpan<T> bias,
        T decay, T gain, Activation activation, Span<T> nextState, int rowStart, int rowEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (int* ptr = rowPointers)
        fixed (int* idx = columnIndices)
        fixed (T* val = values)
        {
            LeakyBlocks(new CsrRows<T>(ptr, idx, val), state, driveWeights, drive, bias, decay, gain, activation, nextState, rowStart, rowEnd);
        }
    }

    /// <summary>
    /// The fused step over the blocks of 256 rows in [<paramref name="rowStart"/>, <paramref name="rowEnd"/>): the
    /// pre-activations of a block from <paramref name="rows"/> (they stay in L1), then f, then the leak
    /// next = decay·x + gain·f(pre).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void LeakyBlocks<TRows, T>(TRows rows, ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive,
        ReadOnlySpan<T> bias, T decay, T gain, Activation activation, Span<T> nextState, int rowStart, int rowEnd)
        where TRows : struct, IBlockRows<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Past L2, x[idx] are cache misses in random order: the rows prefetch their entries a few rows ahead, so
        // several misses are in flight instead of one load waiting at a time.
        bool prefetch = UsePrefetch && Sse.IsSupported && (long)state.Length * Unsafe.SizeOf<T>() > PrefetchAboveBytes;
        Span<T> pre = stackalloc T[BlockRows];
        fixed (T* x = state)
        fixed (T* wd = driveWeights)
        fixed (T* dr = drive)
        fixed (T* b = bias)
        fixed (T* pp = pre)
        {
            var input = new StepInput<T>(x, wd, dr, drive.Length, b, prefetch, rowEnd);
            for (int r0 = rowStart; r0 < rowEnd; r0 += BlockRows)
            {
                int len = Math.Min(BlockRows, rowEnd - r0);
                rows.PreActivations(r0, len, input, pp);
                Span<T> p = pre[..len];
                Activate(p, activation);
                TP.Multiply(p, gain, p);
                TP.MultiplyAdd(state.Slice(r0, len), decay, p, nextState.Slice(r0, len));
            }
        }
    }

    /// <summary>The pinned operands of one step that every row reads: x, [Win | Wfb] and the drive, b.</summary>
    private readonly unsafe struct StepInput<T>(T* state, T* driveWeights, T* drive, int driveSize, T* bias, bool prefetch, int rowEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>x(t) [N].</summary>
        public T* State => state;

        /// <summary>Whether to prefetch the entries of x that rows ahead will load.</summary>
        public bool Prefetch => prefetch;

        /// <summary>The end of the rows this step computes (no prefetch past it).</summary>
        public int RowEnd => rowEnd;

        /// <summary>b[row] + Σ_j Wd[row, j]·d[j] (b may be null).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Drive(int row)
        {
            T s = bias == null ? T.Zero : bias[row];
            T* w = driveWeights + (long)row * driveSize;
            for (int j = 0; j < driveSize; j++)
            {
                s += w[j] * drive[j];
            }

            return s;
        }
    }

    /// <summary>A layout of W that gives the pre-activations of a block of rows.</summary>
    private unsafe interface IBlockRows<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>pre[i] = b[r0 + i] + Σ_j Wd[r0 + i, j]·d[j] + Σ_k W[r0 + i, k]·x[k] for i in [0, len).</summary>
        void PreActivations(int r0, int len, in StepInput<T> input, T* pre);
    }

    /// <summary>W in CSR, row by row through <see cref="RowSum{T}"/>.</summary>
    private readonly unsafe struct CsrRows<T>(int* rowPointers, int* columnIndices, T* values) : IBlockRows<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void PreActivations(int r0, int len, in StepInput<T> input, T* pre)
        {
            int* ptr = rowPointers, idx = columnIndices;
            T* val = values, x = input.State;
            int rowEnd = input.RowEnd;
            bool prefetch = input.Prefetch;
            for (int i = 0; i < len; i++)
            {
                int row = r0 + i;
                if (prefetch && row + PrefetchRows < rowEnd)
                {
                    Prefetch(ptr[row + PrefetchRows], ptr[row + PrefetchRows + 1], idx, x);
                }

                pre[i] = RowSum(ptr[row], ptr[row + 1], idx, val, x, input.Drive(row));
            }
        }
    }

    /// <summary>
    /// The lanes C of <see cref="SlicedEllMatrix{T}"/> for the single step of a reservoir of <paramref name="units"/> units
    /// on this machine: as <see cref="SlicedLanes{T}()"/> while x fits in half an L2 (<see cref="PrefetchAboveBytes"/>),
    /// else 0. Past that the step waits on the loads of x and the chunks lost to the row-by-row kernel (10^6 units on
    /// Zen 4: 28 against 24 ms in float, 49 against 41 ms in double, one thread); doubles at 10^5 units (800 KB) gained
    /// nothing either.
    /// </summary>
    internal static int SlicedLanes<T>(int units)
        where T : unmanaged
        => (long)units * Unsafe.SizeOf<T>() <= PrefetchAboveBytes / 2 ? SlicedLanes<T>() : 0;

    /// <summary>
    /// The lanes C of <see cref="SlicedEllMatrix{T}"/> on this machine: 8 floats with 256-bit vectors, 4 with 128-bit
    /// ones, 4 doubles with 256-bit vectors; 0 where the row-by-row CSR kernel runs instead (doubles in 128-bit vectors
    /// gained nothing over it).
    /// </summary>
    internal static int SlicedLanes<T>()
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return Vector256.IsHardwareAccelerated ? 8 : Vector128.IsHardwareAccelerated ? 4 : 0;
        }

        return typeof(T) == typeof(double) && Vector256.IsHardwareAccelerated ? 4 : 0;
    }

    /// <summary>
    /// The rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of <see cref="LeakyStep{T}"/> on W in the sliced
    /// layout, with the bits of the CSR kernel: each lane runs its row's sum in <see cref="RowSum{T}"/>'s order (bias and
    /// drive, four accumulators over the groups of four entries, the tail into the first, multiply then add), and the
    /// masked-out padding adds +0, which changes no sum. <paramref name="rowStart"/> is a multiple of 256.
    /// </summary>
    /// <remarks>
    /// Why: one vector load brings C values and indices, the C loads of x go into one vector, and a row costs no loop
    /// exit of its own (rows of about 10 entries spend much of the row-by-row kernel in its loop control and the
    /// unpredictable end of each row).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LeakyStepRows<T>(SlicedEllMatrix<T> w, ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive,
        ReadOnlySpan<T> bias, T decay, T gain, Activation activation, Span<T> nextState, int rowStart, int rowEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Vector256.IsHardwareAccelerated && w.Lanes == Vector256<T>.Count)
        {
            LeakyStepSliced<VectorLanes<Vector256<T>, T>, Vector256<T>, T>(w, state, driveWeights, drive, bias, decay, gain, activation, nextState, rowStart, rowEnd);
        }
        else if (Vector128.IsHardwareAccelerated && w.Lanes == Vector128<T>.Count)
        {
            LeakyStepSliced<VectorLanes<Vector128<T>, T>, Vector128<T>, T>(w, state, driveWeights, drive, bias, decay, gain, activation, nextState, rowStart, rowEnd);
        }
        else
        {
            throw new ArgumentException($"the sliced layout has {w.Lanes} lanes but this machine's vectors hold {Vector256<T>.Count} or {Vector128<T>.Count}", nameof(w));
        }
    }

    private static unsafe void LeakyStepSliced<TL, TV, T>(SlicedEllMatrix<T> w, ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive,
        ReadOnlySpan<T> bias, T decay, T gain, Activation activation, Span<T> nextState, int rowStart, int rowEnd)
        where TL : struct, ISlicedLanes<TV, T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* sums = stackalloc T[TL.Count];
        fixed (int* off = w.ChunkOffsets)
        fixed (int* groups = w.ChunkGroups)
        fixed (int* first = w.ChunkFirstRow)
        fixed (bool* uniform = w.ChunkUniform)
        fixed (int* rowsIn = w.ChunkRows)
        fixed (int* laneRows = w.LaneRows)
        fixed (T* groupEnd = w.LaneGroupEnd)
        fixed (T* length = w.LaneLength)
        fixed (int* idx = w.ColumnIndices)
        fixed (T* val = w.Values)
        {
            var rows = new SlicedRows<TL, TV, T>(w.BlockChunks, off, groups, first, uniform, rowsIn, laneRows, groupEnd, length, idx, val, sums);
            LeakyBlocks(rows, state, driveWeights, drive, bias, decay, gain, activation, nextState, rowStart, rowEnd);
        }
    }

    /// <summary>W in the sliced layout: bias and drive row by row, then the sparse rows chunk by chunk.</summary>
    private readonly unsafe struct SlicedRows<TL, TV, T>(int[] blockChunks, int* off, int* groups, int* first, bool* uniform, int* rowsIn,
        int* laneRows, T* groupEnd, T* length, int* idx, T* val, T* sums) : IBlockRows<T>
        where TL : struct, ISlicedLanes<TV, T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void PreActivations(int r0, int len, in StepInput<T> input, T* pre)
        {
            for (int i = 0; i < len; i++)
            {
                pre[i] = input.Drive(r0 + i);
            }

            T* preRow = pre - r0, x = input.State;
            int block = r0 / BlockRows, chunks = blockChunks[^1], ahead = Math.Max(1, PrefetchRows / TL.Count);
            for (int c = blockChunks[block]; c < blockChunks[block + 1]; c++)
            {
                if (input.Prefetch && c + ahead < chunks)
                {
                    for (int e = off[c + ahead]; e < off[c + ahead + 1]; e++)
                    {
                        Sse.Prefetch0(x + idx[e]);
                    }
                }

                SlicedChunk<TL, TV, T>(c, off, groups, first, uniform, rowsIn, laneRows, groupEnd, length, idx, val, x, preRow, sums);
            }
        }
    }

    /// <summary>preRow[row] = preRow[row] + Σ W[row, k]·x[k] for the C rows of chunk c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SlicedChunk<TL, TV, T>(int c, int* off, int* groups, int* first, bool* uniform, int* rowsIn, int* laneRows,
        T* groupEnd, T* length, int* idx, T* val, T* x, T* preRow, T* sums)
        where TL : struct, ISlicedLanes<TV, T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = TL.Count, o = off[c], slots = (off[c + 1] - o) / lanes, f = first[c];
        T* v = val + o;
        int* ix = idx + o;
        int* rows = laneRows + (c * lanes);
        TV s0 = f >= 0 ? TL.Load(preRow + f) : TL.Gather(preRow, rows);
        TV s1 = TL.Broadcast(T.Zero), s2 = s1, s3 = s1;
        int k = 0;
        // The groups of four every lane fills: slot k into accumulator k mod 4, as RowSum.
        for (int g4 = 4 * groups[c]; k < g4; k += 4, v += 4 * lanes, ix += 4 * lanes)
        {
            s0 = TL.Add(s0, TL.Multiply(TL.Load(v), TL.Gather(x, ix)));
            s1 = TL.Add(s1, TL.Multiply(TL.Load(v + lanes), TL.Gather(x, ix + lanes)));
            s2 = TL.Add(s2, TL.Multiply(TL.Load(v + (2 * lanes)), TL.Gather(x, ix + (2 * lanes))));
            s3 = TL.Add(s3, TL.Multiply(TL.Load(v + (3 * lanes)), TL.Gather(x, ix + (3 * lanes))));
        }

        if (uniform[c])
        {
            // Rows of one length: the rest is every lane's tail, into the first accumulator.
            for (; k < slots; k++, v += lanes, ix += lanes)
            {
                s0 = TL.Add(s0, TL.Multiply(TL.Load(v), TL.Gather(x, ix)));
            }
        }
        else if (k < slots)
        {
            // Rows of several lengths: slot k goes to accumulator k mod 4 in the lanes whose groups of four it is in, to
            // the first in the lanes whose tail it is in, nowhere past a lane's row (the masks give +0 there, also
            // where 0·x would be NaN).
            TV ends = TL.Load(groupEnd + (c * lanes)), lengths = TL.Load(length + (c * lanes));
            T slot = T.CreateTruncating(k);
            for (; ; v += 4 * lanes, ix += 4 * lanes)
            {
                Slot(ref s0, ref s0, TL.Multiply(TL.Load(v), TL.Gather(x, ix)), slot, ends, lengths);
                if (++k >= slots)
                {
                    break;
                }

                slot += T.One;
                Slot(ref s1, ref s0, TL.Multiply(TL.Load(v + lanes), TL.Gather(x, ix + lanes)), slot, ends, lengths);
                if (++k >= slots)
                {
                    break;
                }

                slot += T.One;
                Slot(ref s2, ref s0, TL.Multiply(TL.Load(v + (2 * lanes)), TL.Gather(x, ix + (2 * lanes))), slot, ends, lengths);
                if (++k >= slots)
                {
                    break;
                }

                slot += T.One;
                Slot(ref s3, ref s0, TL.Multiply(TL.Load(v + (3 * lanes)), TL.Gather(x, ix + (3 * lanes))), slot, ends, lengths);
                if (++k >= slots)
                {
                    break;
                }

                slot += T.One;
            }
        }

        TV sum = TL.Add(TL.Add(s0, s1), TL.Add(s2, s3));
        if (f >= 0)
        {
            TL.Store(sum, preRow + f);
            return;
        }

        TL.Store(sum, sums);
        for (int r = 0, m = rowsIn[c]; r < m; r++)
        {
            preRow[rows[r]] = sums[r];
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Slot(ref TV group, ref TV tail, TV product, T slot, TV ends, TV lengths)
        {
            var at = TL.Broadcast(slot);
            var inGroups = TL.LessThan(at, ends);
            group = TL.Add(group, TL.And(product, inGroups));
            tail = TL.Add(tail, TL.And(product, TL.AndNot(TL.LessThan(at, lengths), inGroups)));
        }
    }

    /// <summary>
    /// init + Σ_{p in [start, end)} values[p]·x[idx[p]] with four independent accumulators (the loads of x are in
    /// random order; four chains keep four of them in flight). The single and batched steps both use it, so they give
    /// the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe T RowSum<T>(int start, int end, int* idx, T* values, T* x, T init)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s0 = init, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;
        // Walking pointers: no index arithmetic or sign extension per entry.
        int* ix = idx + start, groupsEnd = ix + ((end - start) & ~3), rowEnd = idx + end;
        T* v = values + start;
        for (; ix < groupsEnd; ix += 4, v += 4)
        {
            s0 += v[0] * x[ix[0]];
            s1 += v[1] * x[ix[1]];
            s2 += v[2] * x[ix[2]];
            s3 += v[3] * x[ix[3]];
        }

        for (; ix < rowEnd; ix++, v++)
        {
            s0 += v[0] * x[ix[0]];
        }

        return (s0 + s1) + (s2 + s3);
    }

    /// <summary>One leaky echo-state step for a batch of independent streams sharing the reservoir.</summary>
    /// <param name="rowPointers">CSR row pointers of W [N + 1].</param>
    /// <param name="columnIndices">CSR column indices of W [nnz].</param>
    /// <param name="values">CSR values of W [nnz].</param>
    /// <param name="states">x(t) [B, N].</param>
    /// <param name="driveWeights">[Win | Wfb] [N, D].</param>
    /// <param name="drives">[B, D].</param>
    /// <param name="bias">[N] or empty.</param>
    /// <param name="decay">1 - a.</param>
    /// <param name="gain">The weight of f(·).</param>
    /// <param name="activation">f.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="nextStates">x(t+1) [B, N]; must not overlap <paramref name="states"/>.</param>
    /// <remarks>
    /// Each stream's result has the bits of <see cref="LeakyStep{T}"/> on that stream. The states are copied into a
    /// stream-interleaved [N, S] buffer (S = B rounded up to a vector) rented from <see cref="ArrayPool{T}.Shared"/>
    /// (no allocation once the pool holds it), so one pass over the rows of W does S multiply-adds per nonzero with
    /// vector loads over the streams: W is read once for all streams.
    /// </remarks>
    public static unsafe void LeakyStepBatch<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> states, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drives, ReadOnlySpan<T> bias,
        T decay, T gain, Activation activation, int batchSize, Span<T> nextStates)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = rowPointers.Length - 1;
        if (batchSize <= 0)
        {
            return;
        }

        int d = drives.Length / batchSize;
        if (batchSize == 1)
        {
            LeakyStep(rowPointers, columnIndices, values, states, driveWeights, drives, bias, decay, gain, activation, nextStates);
            return;
        }

        int stride = BatchStride<T>(batchSize);
        T[] workspace = ArrayPool<T>.Shared.Rent(BatchWorkspaceLength<T>(n, d, batchSize, 1));
        try
        {
            fixed (int* ptr = rowPointers)
            fixed (int* idx = columnIndices)
            fixed (T* val = values)
            fixed (T* xs = states)
            fixed (T* wd = driveWeights)
            fixed (T* dr = drives)
            fixed (T* bp = bias)
            fixed (T* ws = workspace)
            fixed (T* next = nextStates)
            {
                T* xT = AlignWorkspace(ws), dT = xT + ((long)n * stride), tile = dT + ((long)d * stride);
                InterleaveDrives(dr, d, batchSize, stride, dT);
                InterleaveStates(xs, n, batchSize, stride, xT, 0, n);
                LeakyStepBatchRows(ptr, idx, val, xs, xT, wd, dT, d, bp, decay, gain, activation, n, batchSize, stride, tile, next, 0, n);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(workspace);
        }
    }

    /// <summary>The row stride S of the interleaved states: B rounded up to a 128-bit vector of T (the pad lanes are 0).</summary>
    internal static int BatchStride<T>(int batchSize)
        where T : unmanaged
    {
        if (!Vector128.IsHardwareAccelerated)
        {
            return batchSize;
        }

        int w = Vector128<T>.Count;
        return (batchSize + w - 1) / w * w;
    }

    /// <summary>Elements of the batched step's workspace: the interleaved states [N, S] and drives [D, S], one tile of
    /// pre-activations [256, S] per part of a split (see <see cref="BatchTileLength{T}"/>), plus the slack
    /// <see cref="AlignWorkspace{T}"/> needs.</summary>
    internal static unsafe int BatchWorkspaceLength<T>(int units, int driveSize, int batchSize, int parts)
        where T : unmanaged
        => checked(((units + driveSize + (parts * BlockRows)) * BatchStride<T>(batchSize)) + (CacheLine / sizeof(T)));

    /// <summary>Elements of one part's tile of interleaved pre-activations [256, S].</summary>
    internal static int BatchTileLength<T>(int batchSize)
        where T : unmanaged
        => BlockRows * BatchStride<T>(batchSize);

    /// <summary>The first cache-line boundary in a pinned workspace: an xT row of 64 bytes (8 doubles) is then one line, not two.</summary>
    internal static unsafe T* AlignWorkspace<T>(T* workspace)
        where T : unmanaged
        => (T*)(((nuint)workspace + CacheLine - 1) & ~(nuint)(CacheLine - 1));

    private const int CacheLine = 64;

    /// <summary>Row ranges of a split step start at multiples of this (the fused block of rows), so any split runs the
    /// activation over the spans of the one-thread step and gives its bits.</summary>
    internal const int RowBlockAlignment = BlockRows;

    /// <summary>dT[j, b] = drives[b, j] (pad lanes 0): [B, D] to [D, S].</summary>
    internal static unsafe void InterleaveDrives<T>(T* drives, int d, int batchSize, int stride, T* dT)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int j = 0; j < d; j++)
        {
            for (int b = 0; b < batchSize; b++)
            {
                dT[(long)j * stride + b] = drives[(long)b * d + j];
            }

            for (int b = batchSize; b < stride; b++)
            {
                dT[(long)j * stride + b] = T.Zero;
            }
        }
    }

    /// <summary>xT[i, b] = states[b, i] for the rows [rowStart, rowEnd) (pad lanes 0): [B, N] to [N, S].</summary>
    internal static unsafe void InterleaveStates<T>(T* states, int n, int batchSize, int stride, T* xT, int rowStart, int rowEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Groups of 8 float or 4 double streams by 8 × 8 / 4 × 4 register transposes; the rest element by element.
        int w = TransposeWidth<T>();
        int b0 = 0, fullEnd = rowStart + ((rowEnd - rowStart) / Math.Max(w, 1) * w);
        if (w > 0)
        {
            for (; b0 + w <= batchSize; b0 += w)
            {
                for (int i = rowStart; i < fullEnd; i += w)
                {
                    TransposeBlock(states + ((long)b0 * n) + i, n, xT + ((long)i * stride) + b0, stride);
                }
            }
        }

        // Tiles of 64 rows: the B source rows are read sequentially and the tile of xT stays in L1 while it fills.
        const int tile = 64;
        for (int i0 = rowStart; i0 < rowEnd; i0 += tile)
        {
            int i1 = Math.Min(i0 + tile, rowEnd);
            for (int b = 0; b < batchSize; b++)
            {
                T* src = states + (long)b * n;
                // Streams of a transposed group have their rows up to fullEnd done.
                for (int i = b < b0 ? Math.Max(i0, fullEnd) : i0; i < i1; i++)
                {
                    xT[(long)i * stride + b] = src[i];
                }
            }

            for (int b = batchSize; b < stride; b++)
            {
                for (int i = i0; i < i1; i++)
                {
                    xT[(long)i * stride + b] = T.Zero;
                }
            }
        }
    }

    /// <summary>The side of the register transpose for T on this machine (8 floats or 4 doubles with AVX), 0 without one.</summary>
    private static int TransposeWidth<T>()
        where T : unmanaged
        => !Avx.IsSupported ? 0 : typeof(T) == typeof(float) ? 8 : typeof(T) == typeof(double) ? 4 : 0;

    /// <summary>dst[j, i] = src[i, j] for a w × w block (w = <see cref="TransposeWidth{T}"/>), row strides in elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void TransposeBlock<T>(T* src, long srcStride, T* dst, long dstStride)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            float* s = (float*)src, d = (float*)dst;
            var r0 = Avx.LoadVector256(s);
            var r1 = Avx.LoadVector256(s + srcStride);
            var r2 = Avx.LoadVector256(s + (2 * srcStride));
            var r3 = Avx.LoadVector256(s + (3 * srcStride));
            var r4 = Avx.LoadVector256(s + (4 * srcStride));
            var r5 = Avx.LoadVector256(s + (5 * srcStride));
            var r6 = Avx.LoadVector256(s + (6 * srcStride));
            var r7 = Avx.LoadVector256(s + (7 * srcStride));
            Transpose8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            Avx.Store(d, r0);
            Avx.Store(d + dstStride, r1);
            Avx.Store(d + (2 * dstStride), r2);
            Avx.Store(d + (3 * dstStride), r3);
            Avx.Store(d + (4 * dstStride), r4);
            Avx.Store(d + (5 * dstStride), r5);
            Avx.Store(d + (6 * dstStride), r6);
            Avx.Store(d + (7 * dstStride), r7);
        }
        else
        {
            double* s = (double*)src, d = (double*)dst;
            var r0 = Avx.LoadVector256(s);
            var r1 = Avx.LoadVector256(s + srcStride);
            var r2 = Avx.LoadVector256(s + (2 * srcStride));
            var r3 = Avx.LoadVector256(s + (3 * srcStride));
            Transpose4(ref r0, ref r1, ref r2, ref r3);
            Avx.Store(d, r0);
            Avx.Store(d + dstStride, r1);
            Avx.Store(d + (2 * dstStride), r2);
            Avx.Store(d + (3 * dstStride), r3);
        }
    }

    /// <summary>Transposes the 8 × 8 floats held in r0..r7 (row k in rk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20);
        r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20);
        r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31);
        r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31);
        r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>Transposes the 4 × 4 doubles held in r0..r3 (row k in rk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(ref Vector256<double> r0, ref Vector256<double> r1, ref Vector256<double> r2, ref Vector256<double> r3)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        r0 = Avx.Permute2x128(t0, t2, 0x20);
        r1 = Avx.Permute2x128(t1, t3, 0x20);
        r2 = Avx.Permute2x128(t0, t2, 0x31);
        r3 = Avx.Permute2x128(t1, t3, 0x31);
    }

    /// <summary>
    /// The rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of the batched step from the interleaved states
    /// and drives; <paramref name="rowStart"/> is a multiple of <see cref="RowBlockAlignment"/> (or 0) so the blocks of
    /// rows, and with them the activation spans, are those of <see cref="LeakyStep{T}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LeakyStepBatchRows<T>(int* ptr, int* idx, T* val, T* states, T* xT, T* driveWeights, T* dT, int d,
        T* bias, T decay, T gain, Activation activation, int n, int batchSize, int stride, T* tile, T* next, int rowStart, int rowEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Past L2, the xT rows of a row's columns are cache misses in random order: prefetch them a few rows ahead.
        bool prefetch = UsePrefetch && Sse.IsSupported && (long)n * stride * Unsafe.SizeOf<T>() > PrefetchAboveBytes;
        int rowBytes = stride * Unsafe.SizeOf<T>();
        for (int r0 = rowStart; r0 < rowEnd; r0 += BlockRows)
        {
            int len = Math.Min(BlockRows, rowEnd - r0);
            // Pre-activations of all streams into the tile [len, S]; the same sums in the same order as RowSum.
            for (int row = r0; row < r0 + len; row++)
            {
                if (prefetch && row + PrefetchRows < rowEnd)
                {
                    PrefetchRowsOf(ptr[row + PrefetchRows], ptr[row + PrefetchRows + 1], idx, (byte*)xT, rowBytes);
                }

                int start = ptr[row], end = ptr[row + 1];
                T* wdRow = driveWeights + (long)row * d;
                T* pre = tile + ((long)(row - r0) * stride);
                T b0 = bias == null ? T.Zero : bias[row];
                int b = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; b + Vector512<T>.Count <= stride; b += Vector512<T>.Count)
                    {
                        RowChunk<VectorLanes<Vector512<T>, T>, Vector512<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }
                }

                if (Vector256.IsHardwareAccelerated)
                {
                    // Two vectors per pass where they fit (8 doubles, 16 floats on AVX2): the row's indices and values are read once.
                    for (; b + (2 * Vector256<T>.Count) <= stride; b += 2 * Vector256<T>.Count)
                    {
                        RowChunkPair<VectorLanes<Vector256<T>, T>, Vector256<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }

                    for (; b + Vector256<T>.Count <= stride; b += Vector256<T>.Count)
                    {
                        RowChunk<VectorLanes<Vector256<T>, T>, Vector256<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }
                }

                if (Vector128.IsHardwareAccelerated)
                {
                    for (; b + Vector128<T>.Count <= stride; b += Vector128<T>.Count)
                    {
                        RowChunk<VectorLanes<Vector128<T>, T>, Vector128<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }
                }

                for (; b < stride; b++)
                {
                    RowChunk<ScalarLane<T>, T, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                }
            }

            if (len >= ActivationSpanMin)
            {
                // f over the whole tile: for spans this long every element gets the bits it gets in a stream's own span.
                Activate(new Span<T>(tile, len * stride), activation);
                Unleave(tile, states, n, batchSize, stride, decay, gain, next, r0, len);
                continue;
            }

            // A short last block: back to one span per stream, then activation and leak over the same span as the
            // single step: the same calls, the same bits.
            for (int b = 0; b < batchSize; b++)
            {
                T* dst = next + ((long)b * n) + r0;
                for (int i = 0; i < len; i++)
                {
                    dst[i] = tile[((long)i * stride) + b];
                }

                var p = new Span<T>(dst, len);
                Activate(p, activation);
                TP.Multiply(p, gain, p);
                TP.MultiplyAdd(new ReadOnlySpan<T>(states + (long)b * n + r0, len), decay, p, p);
            }
        }
    }

    /// <summary>
    /// Spans at least this long give each element the bits of any other such span under TensorPrimitives' and our
    /// activations (shorter ones may run narrower vectors or the scalar tail); tested on the AVX-512, AVX2 and Vector128 paths.
    /// </summary>
    private const int ActivationSpanMin = 16;

    /// <summary>
    /// next[b, r0 + i] = decay·x[b, r0 + i] + gain·tile[i, b] for i in [0, len): the leak of the single step
    /// (<c>TP.Multiply</c>, then <c>TP.MultiplyAdd</c>: multiply, multiply, add, each rounded) on the tile's columns,
    /// through register transposes where the machine has them.
    /// </summary>
    private static unsafe void Unleave<T>(T* tile, T* states, int n, int batchSize, int stride, T decay, T gain, T* next, int r0, int len)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TransposeWidth<T>(), b0 = 0, full = w == 0 ? 0 : len / w * w;
        T* block = stackalloc T[w * w];
        if (w > 0)
        {
            for (; b0 + w <= batchSize; b0 += w)
            {
                for (int i = 0; i < full; i += w)
                {
                    UnleaveBlock(tile + ((long)i * stride) + b0, stride, states + ((long)b0 * n) + r0 + i, next + ((long)b0 * n) + r0 + i, n, decay, gain, block);
                }
            }
        }

        for (int b = 0; b < batchSize; b++)
        {
            T* x = states + ((long)b * n) + r0;
            T* dst = next + ((long)b * n) + r0;
            for (int i = b < b0 ? full : 0; i < len; i++)
            {
                dst[i] = (x[i] * decay) + (tile[((long)i * stride) + b] * gain);
            }
        }
    }

    /// <summary>One w × w block of <see cref="Unleave{T}"/>: tile rows i..i+w of streams b0..b0+w, transposed through
    /// <paramref name="block"/> (w × w elements, in L1) by <see cref="TransposeBlock{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void UnleaveBlock<T>(T* tile, long stride, T* x, T* next, long n, T decay, T gain, T* block)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TransposeWidth<T>();
        TransposeBlock(tile, stride, block, w);
        var a = Vector256.Create(decay);
        var g = Vector256.Create(gain);
        for (int k = 0; k < w; k++)
        {
            ((Vector256.Load(x + (k * n)) * a) + (Vector256.Load(block + (k * w)) * g)).Store(next + (k * n));
        }
    }

    /// <summary>
    /// The pre-activations of streams [b, b + TL.Count) of one row: bias and drive, then the sparse row in four
    /// accumulator chains exactly as <see cref="RowSum{T}"/> (multiply, then add: no FMA), one lane per stream;
    /// stored to pre[b..].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowChunk<TL, TV, T>(int start, int end, int* idx, T* val, T* xT, int stride, T* wdRow, T* dT, int d,
        T bias, int b, T* pre)
        where TL : struct, IBatchLanes<TV, T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* x = xT + b;
        TV s0 = TL.Broadcast(bias);
        for (int j = 0; j < d; j++)
        {
            s0 = TL.Add(s0, TL.Multiply(TL.Broadcast(wdRow[j]), TL.Load(dT + (long)j * stride + b)));
        }

        TV s1 = TL.Broadcast(T.Zero), s2 = s1, s3 = s1;
        int p = start;
        for (; p + 3 < end; p += 4)
        {
            s0 = TL.Add(s0, TL.Multiply(TL.Broadcast(val[p]), TL.Load(x + (long)idx[p] * stride)));
            s1 = TL.Add(s1, TL.Multiply(TL.Broadcast(val[p + 1]), TL.Load(x + (long)idx[p + 1] * stride)));
            s2 = TL.Add(s2, TL.Multiply(TL.Broadcast(val[p + 2]), TL.Load(x + (long)idx[p + 2] * stride)));
            s3 = TL.Add(s3, TL.Multiply(TL.Broadcast(val[p + 3]), TL.Load(x + (long)idx[p + 3] * stride)));
        }

        for (; p < end; p++)
        {
            s0 = TL.Add(s0, TL.Multiply(TL.Broadcast(val[p]), TL.Load(x + (long)idx[p] * stride)));
        }

        TL.Store(TL.Add(TL.Add(s0, s1), TL.Add(s2, s3)), pre + b);
    }

    /// <summary><see cref="RowChunk{TL, TV, T}"/> for streams [b, b + 2·TL.Count): two vectors per entry, the same
    /// operations per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowChunkPair<TL, TV, T>(int start, int end, int* idx, T* val, T* xT, int stride, T* wdRow, T* dT, int d,
        T bias, int b, T* pre)
        where TL : struct, IBatchLanes<TV, T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TL.Count;
        T* x = xT + b;
        TV s0 = TL.Broadcast(bias), t0 = s0;
        for (int j = 0; j < d; j++)
        {
            TV wj = TL.Broadcast(wdRow[j]);
            T* dj = dT + ((long)j * stride) + b;
            s0 = TL.Add(s0, TL.Multiply(wj, TL.Load(dj)));
            t0 = TL.Add(t0, TL.Multiply(wj, TL.Load(dj + w)));
        }

        TV s1 = TL.Broadcast(T.Zero), s2 = s1, s3 = s1, t1 = s1, t2 = s1, t3 = s1;
        int p = start;
        for (; p + 3 < end; p += 4)
        {
            T* x0 = x + ((long)idx[p] * stride), x1 = x + ((long)idx[p + 1] * stride);
            T* x2 = x + ((long)idx[p + 2] * stride), x3 = x + ((long)idx[p + 3] * stride);
            TV v0 = TL.Broadcast(val[p]), v1 = TL.Broadcast(val[p + 1]), v2 = TL.Broadcast(val[p + 2]), v3 = TL.Broadcast(val[p + 3]);
            s0 = TL.Add(s0, TL.Multiply(v0, TL.Load(x0)));
            t0 = TL.Add(t0, TL.Multiply(v0, TL.Load(x0 + w)));
            s1 = TL.Add(s1, TL.Multiply(v1, TL.Load(x1)));
            t1 = TL.Add(t1, TL.Multiply(v1, TL.Load(x1 + w)));
            s2 = TL.Add(s2, TL.Multiply(v2, TL.Load(x2)));
            t2 = TL.Add(t2, TL.Multiply(v2, TL.Load(x2 + w)));
            s3 = TL.Add(s3, TL.Multiply(v3, TL.Load(x3)));
            t3 = TL.Add(t3, TL.Multiply(v3, TL.Load(x3 + w)));
        }

        for (; p < end; p++)
        {
            T* xp = x + ((long)idx[p] * stride);
            TV v = TL.Broadcast(val[p]);
            s0 = TL.Add(s0, TL.Multiply(v, TL.Load(xp)));
            t0 = TL.Add(t0, TL.Multiply(v, TL.Load(xp + w)));
        }

        TL.Store(TL.Add(TL.Add(s0, s1), TL.Add(s2, s3)), pre + b);
        TL.Store(TL.Add(TL.Add(t0, t1), TL.Add(t2, t3)), pre + b + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRowsOf(int start, int end, int* idx, byte* xT, int rowBytes)
    {
        for (int p = start; p < end; p++)
        {
            byte* r = xT + (long)idx[p] * rowBytes;
            for (int o = 0; o < rowBytes; o += 64)
            {
                Sse.Prefetch0(r + o);
            }

            // The row may straddle one more line than rowBytes / 64.
            Sse.Prefetch0(r + rowBytes - 1);
        }
    }

    /// <summary>A vector of T (or one T) as the batched kernel uses it: one lane per stream.</summary>
    private unsafe interface IBatchLanes<TV, T>
        where T : unmanaged
    {
        static abstract int Count { get; }

        static abstract TV Load(T* source);

        static abstract void Store(TV value, T* destination);

        static abstract TV Broadcast(T value);

        static abstract TV Add(TV left, TV right);

        static abstract TV Multiply(TV left, TV right);
    }

    /// <summary>The lanes of the sliced single step: one lane per row.</summary>
    private unsafe interface ISlicedLanes<TV, T> : IBatchLanes<TV, T>
        where T : unmanaged
    {
        /// <summary>(x[indices[0]], …, x[indices[Count − 1]]) by scalar loads (AVX2 gathers were slower on Zen 3 and 4).</summary>
        static abstract TV Gather(T* x, int* indices);

        /// <summary>All bits set in the lanes where left &lt; right, clear elsewhere.</summary>
        static abstract TV LessThan(TV left, TV right);

        static abstract TV And(TV left, TV right);

        /// <summary>left &amp; ~right.</summary>
        static abstract TV AndNot(TV left, TV right);
    }

    /// <summary>The lanes of a vector width (<see cref="Lanes{TV, T}"/>), with the sliced step's scalar-load gather.</summary>
    private readonly unsafe struct VectorLanes<TV, T> : ISlicedLanes<TV, T>
        where TV : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int Count => Lanes<TV, T>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Load(T* source) => Lanes<TV, T>.Load(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(TV value, T* destination) => Lanes<TV, T>.Store(value, destination);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Broadcast(T value) => Lanes<TV, T>.Broadcast(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Add(TV left, TV right) => Lanes<TV, T>.Add(left, right);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Multiply(TV left, TV right) => Lanes<TV, T>.Multiply(left, right);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV LessThan(TV left, TV right) => Lanes<TV, T>.LessThan(left, right);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV And(TV left, TV right) => Lanes<TV, T>.And(left, right);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV AndNot(TV left, TV right) => Lanes<TV, T>.AndNot(left, right);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Gather(T* x, int* indices)
        {
            if (typeof(TV) == typeof(Vector512<T>))
            {
                throw new NotSupportedException("The sliced step runs on Vector256 and Vector128 only.");
            }

            if (typeof(T) == typeof(float))
            {
                float* f = (float*)x;
                if (typeof(TV) == typeof(Vector256<T>))
                {
                    return Unsafe.BitCast<Vector256<float>, TV>(
                        Vector256.Create(f[indices[0]], f[indices[1]], f[indices[2]], f[indices[3]], f[indices[4]], f[indices[5]], f[indices[6]], f[indices[7]]));
                }

                return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Create(f[indices[0]], f[indices[1]], f[indices[2]], f[indices[3]]));
            }

            double* d = (double*)x;
            if (typeof(TV) == typeof(Vector256<T>))
            {
                return Unsafe.BitCast<Vector256<double>, TV>(Vector256.Create(d[indices[0]], d[indices[1]], d[indices[2]], d[indices[3]]));
            }

            return Unsafe.BitCast<Vector128<double>, TV>(Vector128.Create(d[indices[0]], d[indices[1]]));
        }
    }

    private readonly unsafe struct ScalarLane<T> : IBatchLanes<T, T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int Count => 1;

        public static T Load(T* source) => *source;

        public static void Store(T value, T* destination) => *destination = value;

        public static T Broadcast(T value) => value;

        public static T Add(T left, T right) => left + right;

        public static T Multiply(T left, T right) => left * right;
    }

    /// <summary>Prefetch x[idx] for rows this far ahead.</summary>
    internal const int PrefetchRows = 8;

    /// <summary>
    /// Prefetch when x (the interleaved states in a batch) is larger than this: the L2 cache of one core as Linux reports
    /// it, 512 KB where it does not say. Below an L2 the prefetches only cost: at 100,000 units on Zen 4 (1 MB L2) they
    /// made the float step 1.5 times slower (x is 400 KB); the former fixed 256 KB was half of Zen 3's L2.
    /// </summary>
    internal static long PrefetchAboveBytes { get; } = LevelTwoCacheBytes() ?? 512 * 1024;

    private static long? LevelTwoCacheBytes()
    {
        try
        {
            foreach (string dir in Directory.EnumerateDirectories("/sys/devices/system/cpu/cpu0/cache", "index*"))
            {
                if (File.ReadAllText(Path.Combine(dir, "level")).Trim() != "2" || File.ReadAllText(Path.Combine(dir, "type")).Trim() == "Instruction")
                {
                    continue;
                }

                string size = File.ReadAllText(Path.Combine(dir, "size")).Trim();
                long scale = size.EndsWith('K') ? 1024 : size.EndsWith('M') ? 1024 * 1024 : 1;
                return long.Parse(size.TrimEnd('K', 'M'), System.Globalization.CultureInfo.InvariantCulture) * scale;
            }
        }
#pragma warning disable CA1031 // any failure to read the cache size falls back to the default
        catch (Exception)
        {
        }
#pragma warning restore CA1031

        return null;
    }

    /// <summary>Software prefetch of x[idx] for large reservoirs (false to measure without).</summary>
    internal static bool UsePrefetch { get; set; } = true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch<T>(int start, int end, int* idx, T* x)
        where T : unmanaged
    {
        for (int p = start; p < end; p++)
        {
            Sse.Prefetch0(x + idx[p]);
        }
    }

    /// <summary>values = f(values) in place.</summary>
    /// <remarks>
    /// tanh and σ are ours with every multiply-add rounded twice (a multiply, then an add): the same bits on every
    /// CPU, with or without FMA, and no FMA emulation on CPUs without it, where the reservoir step would otherwise be
    /// 10 times slower in double (TensorPrimitives' double tanh is also about 6 times slower, and its bits depend on the
    /// vector width).
    /// </remarks>
    public static void Activate<T>(Span<T> values, Activation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (activation)
        {
            case Activation.Tanh:
                VectorMath.TanhTwoRoundings<T>(values, values);
                break;
            case Activation.Identity:
                break;
            case Activation.Sigmoid:
                VectorMath.SigmoidTwoRoundings<T>(values);
                break;
            case Activation.Relu:
                TP.Max(values, T.Zero, values);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        }
    }

    /// <summary>Σ_{p in [start, end)} values[p]·x[columnIndices[p]].</summary>
    /// <remarks>
    /// Scalar loads on purpose: AVX2 gathers (8 floats or 4 doubles per instruction) were slower at every size on both
    /// AMD machines measured (Zen 3, and Zen 4 with AVX-512: 1,000 units 12.7 against 9.1 µs in double, 10.0 against
    /// 7.3 µs in float; 10,000 units 137 against 96 µs in double), with about 10 nonzeros a row.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T RowDot<T>(int start, int end, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values, ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.Zero;
        for (int p = start; p < end; p++)
        {
            s += values[p] * x[columnIndices[p]];
        }

        return s;
    }
}
