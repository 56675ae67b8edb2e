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

    // Streams per pass in the batched kernel: one row's indices and values are reused from L1 by all of them.
    private const int BatchGroup = 4;

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void LeakyStepBatch<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> states, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drives, ReadOnlySpan<T> bias,
        T decay, T gain, ReservoirActivation activation, int batchSize, Span<T> nextStates)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = rowPointers.Length - 1;
        int d = batchSize == 0 ? 0 : drives.Length / batchSize;
        const int block = BlockRows / BatchGroup;
        Span<T> pre = stackalloc T[BatchGroup * block];
        fixed (int* ptr = rowPointers)
        fixed (int* idx = columnIndices)
        fixed (T* val = values)
        fixed (T* xs = states)
        fixed (T* wd = driveWeights)
        fixed (T* dr = drives)
        fixed (T* bp = bias)
        fixed (T* pp = pre)
        {
            for (int b0 = 0; b0 < batchSize; b0 += BatchGroup)
            {
                int group = Math.Min(BatchGroup, batchSize - b0);
                for (int r0 = 0; r0 < n; r0 += block)
                {
                    int len = Math.Min(block, n - r0);
                    for (int i = 0; i < len; i++)
                    {
                        int row = r0 + i;
                        // The row's indices and values are read once from memory and reused from L1 by the group.
                        for (int g = 0; g < group; g++)
                        {
                            int b = b0 + g;
                            pp[g * block + i] = RowSum(ptr[row], ptr[row + 1], idx, val, xs + (long)b * n, Drive(row, bp, wd, dr + (long)b * d, d));
                        }
                    }

                    for (int g = 0; g < group; g++)
                    {
                        int b = b0 + g;
                        Span<T> p = pre.Slice(g * block, len);
                        Activate(p, activation);
                        TP.Multiply(p, gain, p);
                        TP.MultiplyAdd(states.Slice(b * n + r0, len), decay, p, nextStates.Slice(b * n + r0, len));
                    }
                }
            }
        }
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
                if (typeof(T) == typeof(double))
                {
                    // TensorPrimitives' double tanh is about 6x slower than ours here (see VectorMath).
                    VectorMath.Tanh(MemoryMarshal.Cast<T, double>(values));
                }
                else
                {
                    TP.Tanh(values, values);
                }

                break;
            case ReservoirActivation.Identity:
                break;
            case ReservoirActivation.Sigmoid:
                TP.Sigmoid(values, values);
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
