using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RecurrentNets.Reservoirs;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The echo-state update as one pass over a CSR reservoir matrix: sparse mat-vec (four independent accumulator
/// chains, software prefetch past L2), dense drive, SIMD activation and leak fused per block of rows (Jaeger 2001; Jaeger et al. 2007). The naive twin is
/// <see cref="Reference.ReferenceSparse"/>.
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
        T decay, T gain, ReservoirActivation activation, Span<T> nextState)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LeakyStepRows(rowPointers, columnIndices, values, state, driveWeights, drive, bias, decay, gain, activation,
            nextState, 0, rowPointers.Length - 1);

    /// <summary>The rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of <see cref="LeakyStep{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LeakyStepRows<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive, ReadOnlySpan<T> bias,
        T decay, T gain, ReservoirActivation activation, Span<T> nextState, int rowStart, int rowEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int d = drive.Length;
        // Past L2, x[idx] are cache misses in random order: prefetch the entries of a row a few rows ahead, so
        // several misses are in flight instead of one load waiting at a time.
        bool prefetch = UsePrefetch && Sse.IsSupported && (long)state.Length * Unsafe.SizeOf<T>() > PrefetchAboveBytes;
        Span<T> pre = stackalloc T[BlockRows];
        fixed (int* ptr = rowPointers)
        fixed (int* idx = columnIndices)
        fixed (T* val = values)
        fixed (T* x = state)
        fixed (T* wd = driveWeights)
        fixed (T* dr = drive)
        fixed (T* b = bias)
        fixed (T* pp = pre)
        {
            for (int r0 = rowStart; r0 < rowEnd; r0 += BlockRows)
            {
                int len = Math.Min(BlockRows, rowEnd - r0);
                // Pre-activation: bias, dense drive, then the sparse row.
                for (int i = 0; i < len; i++)
                {
                    int row = r0 + i;
                    if (prefetch && row + PrefetchRows < rowEnd)
                    {
                        Prefetch(ptr[row + PrefetchRows], ptr[row + PrefetchRows + 1], idx, x);
                    }

                    pp[i] = RowSum(ptr[row], ptr[row + 1], idx, val, x, Drive(row, b, wd, dr, d));
                }

                Span<T> p = pre[..len];
                Activate(p, activation);
                // next = decay·x + gain·f(pre)
                TP.Multiply(p, gain, p);
                TP.MultiplyAdd(state.Slice(r0, len), decay, p, nextState.Slice(r0, len));
            }
        }
    }

    /// <summary>b[row] + Σ_j Wd[row, j]·d[j] (b may be null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe T Drive<T>(int row, T* bias, T* driveWeights, T* drive, int d)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = bias == null ? T.Zero : bias[row];
        T* w = driveWeights + (long)row * d;
        for (int j = 0; j < d; j++)
        {
            s += w[j] * drive[j];
        }

        return s;
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
        int p = start;
        for (; p + 3 < end; p += 4)
        {
            s0 += values[p] * x[idx[p]];
            s1 += values[p + 1] * x[idx[p + 1]];
            s2 += values[p + 2] * x[idx[p + 2]];
            s3 += values[p + 3] * x[idx[p + 3]];
        }

        for (; p < end; p++)
        {
            s0 += values[p] * x[idx[p]];
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
        T decay, T gain, ReservoirActivation activation, int batchSize, Span<T> nextStates)
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
        // Tiles of 64 rows: the B source rows are read sequentially and the tile of xT stays in L1 while it fills.
        const int tile = 64;
        for (int i0 = rowStart; i0 < rowEnd; i0 += tile)
        {
            int i1 = Math.Min(i0 + tile, rowEnd);
            for (int b = 0; b < batchSize; b++)
            {
                T* src = states + (long)b * n;
                for (int i = i0; i < i1; i++)
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

    /// <summary>
    /// The rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of the batched step from the interleaved states
    /// and drives; <paramref name="rowStart"/> is a multiple of <see cref="RowBlockAlignment"/> (or 0) so the blocks of
    /// rows, and with them the activation spans, are those of <see cref="LeakyStep{T}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LeakyStepBatchRows<T>(int* ptr, int* idx, T* val, T* states, T* xT, T* driveWeights, T* dT, int d,
        T* bias, T decay, T gain, ReservoirActivation activation, int n, int batchSize, int stride, T* tile, T* next, int rowStart, int rowEnd)
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
                        RowChunk<Lanes512<T>, Vector512<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }
                }

                if (Vector256.IsHardwareAccelerated)
                {
                    for (; b + Vector256<T>.Count <= stride; b += Vector256<T>.Count)
                    {
                        RowChunk<Lanes256<T>, Vector256<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }
                }

                if (Vector128.IsHardwareAccelerated)
                {
                    for (; b + Vector128<T>.Count <= stride; b += Vector128<T>.Count)
                    {
                        RowChunk<Lanes128<T>, Vector128<T>, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                    }
                }

                for (; b < stride; b++)
                {
                    RowChunk<ScalarLane<T>, T, T>(start, end, idx, val, xT, stride, wdRow, dT, d, b0, b, pre);
                }
            }

            // Back to one span per stream (reading the tile long after its vector stores, so no store-forwarding stall),
            // then activation and leak over the same block of rows as the single step: the same calls, the same bits.
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

    private readonly unsafe struct Lanes512<T> : IBatchLanes<Vector512<T>, T>
        where T : unmanaged
    {
        public static int Count => Vector512<T>.Count;

        public static Vector512<T> Load(T* source) => Vector512.Load(source);

        public static void Store(Vector512<T> value, T* destination) => value.Store(destination);

        public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

        public static Vector512<T> Add(Vector512<T> left, Vector512<T> right) => left + right;

        public static Vector512<T> Multiply(Vector512<T> left, Vector512<T> right) => left * right;
    }

    private readonly unsafe struct Lanes256<T> : IBatchLanes<Vector256<T>, T>
        where T : unmanaged
    {
        public static int Count => Vector256<T>.Count;

        public static Vector256<T> Load(T* source) => Vector256.Load(source);

        public static void Store(Vector256<T> value, T* destination) => value.Store(destination);

        public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

        public static Vector256<T> Add(Vector256<T> left, Vector256<T> right) => left + right;

        public static Vector256<T> Multiply(Vector256<T> left, Vector256<T> right) => left * right;
    }

    private readonly unsafe struct Lanes128<T> : IBatchLanes<Vector128<T>, T>
        where T : unmanaged
    {
        public static int Count => Vector128<T>.Count;

        public static Vector128<T> Load(T* source) => Vector128.Load(source);

        public static void Store(Vector128<T> value, T* destination) => value.Store(destination);

        public static Vector128<T> Broadcast(T value) => Vector128.Create(value);

        public static Vector128<T> Add(Vector128<T> left, Vector128<T> right) => left + right;

        public static Vector128<T> Multiply(Vector128<T> left, Vector128<T> right) => left * right;
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

    /// <summary>Prefetch when x is larger than this (about an L2).</summary>
    internal const long PrefetchAboveBytes = 256 * 1024;

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
    public static void Activate<T>(Span<T> values, ReservoirActivation activation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (activation)
        {
            case ReservoirActivation.Tanh:
                // Ours: the same bits on every vector path (TensorPrimitives' double tanh is also about 6x slower).
                VectorMath.Tanh<T>(values, values);

                break;
            case ReservoirActivation.Identity:
                break;
            case ReservoirActivation.Sigmoid:
                VectorMath.Sigmoid<T>(values);
                break;
            case ReservoirActivation.Relu:
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
