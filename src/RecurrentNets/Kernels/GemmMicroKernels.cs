using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RecurrentNets.Kernels;

// Legend: MR x NR is the register tile of C; kc is the depth of one packed block; a is an MR-row micro-panel of A
// (kc steps of MR values), b an NR-column micro-panel of B (kc steps of NR values, bStride apart).

/// <summary>The instruction sets a GEMM call can run on. Auto picks the widest one the CPU accelerates.</summary>
internal enum GemmPath
{
    /// <summary>The widest path the CPU accelerates.</summary>
    Auto,

    /// <summary>AVX-512: 8 x (2·Vector512) tile.</summary>
    Vector512,

    /// <summary>AVX2 + FMA: 6 x (2·Vector256) tile.</summary>
    Vector256,

    /// <summary>Vector128 (SSE or NEON), FMA only where the CPU has it: 6 x (2·Vector128) tile.</summary>
    Portable,
}

/// <summary>A register-blocked micro-kernel: C[MR, NR] (+)= Σ_p a[p, 0..MR) ⊗ b[p, 0..NR).</summary>
internal unsafe interface IGemmMicroKernel<T>
    where T : unmanaged
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile.</summary>
    static abstract int NR { get; }

    /// <summary>
    /// For p = 0..kc-1 in order: acc[r, j] = fma(a[p·MR + r], b[p·bStride + j], acc[r, j]) from acc = 0; then
    /// c[r·ldc + j] = add ? c[r·ldc + j] + acc[r, j] : acc[r, j]. Every element sees the same operation sequence.
    /// </summary>
    static abstract void Run(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add);

    /// <summary>
    /// The first four rows of <see cref="Run"/>: a is still an MR-row micro-panel (MR values a step), only rows 0..3 are
    /// computed and written. For a block whose last tile has three or four rows (M = 16 on AVX2's six-row tile).
    /// </summary>
    static abstract void Run4(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add);

    /// <summary>
    /// One row of <see cref="Run"/> over four micro-panels panelStride apart: for q = 0..3, acc_q[j] =
    /// fma(a[p·aStride], b[q·panelStride + p·NR + j], acc_q[j]) over p = 0..kc-1 from acc = 0; then
    /// c[q·NR + j] = add ? c[q·NR + j] + acc_q[j] : acc_q[j]. The same operations per element as <see cref="Run"/>.
    /// </summary>
    static abstract void RowPanels4(nint kc, T* a, nint aStride, T* b, nint panelStride, T* c, bool add);

    /// <summary><see cref="RowPanels4"/> for a single micro-panel.</summary>
    static abstract void RowPanel(nint kc, T* a, nint aStride, T* b, T* c, bool add);
}

/// <summary>Software prefetch of a C tile's rows into L1 (x86 only; a no-op elsewhere).</summary>
internal static unsafe class CTilePrefetch
{
    /// <summary>
    /// Prefetches the lines holding the first and the last byte of each of <paramref name="rows"/> rows of
    /// <paramref name="rowBytes"/> bytes, ldc elements apart: the whole row when it spans two lines (a 128-byte row of
    /// the AVX-512 tile that starts on a line; asking for every line of rows that do not was measured no faster).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rows<T>(T* c, nint ldc, nint rows, nint rowBytes)
        where T : unmanaged
    {
        if (!Sse.IsSupported)
            return;
        for (nint r = 0; r < rows; r++)
        {
            byte* row = (byte*)(c + r * ldc);
            Sse.Prefetch0(row);
            Sse.Prefetch0(row + rowBytes - 1);
        }
    }
}

/// <summary>
/// The micro-kernel, written once over the vector width <typeparamref name="TV"/>: MR rows x 2 vectors. On
/// <see cref="Vector512{T}"/> (AVX-512) 8 rows (8x32 floats, 8x16 doubles), 16 accumulators of the 32 registers: the
/// recurrent products' batch of 32 fills four tiles exactly (six rows computed 36, an eleventh wasted), and A packs
/// through 8x8 transposes. On <see cref="Vector256{T}"/> (AVX2 + FMA) and <see cref="Vector128{T}"/> (SSE or NEON) 6
/// rows, 12 of the 16 registers. Every multiply-add rounds once on every path (<see cref="Lanes{TV, T}.MultiplyAdd"/>),
/// so every path gives the same bits.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <typeparam name="TV">The vector type: Vector512&lt;T&gt;, Vector256&lt;T&gt; or Vector128&lt;T&gt;.</typeparam>
internal readonly unsafe struct GemmKernel<T, TV> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : unmanaged
{
    public static int MR
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => sizeof(TV) == 64 ? 8 : 6;
    }

    public static int NR
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 2 * Lanes<TV, T>.Count;
    }

    // Out of line, as the whole tile was before it was written once for both row counts: inlined into the driver's
    // loops, the tile loop spilled a register every step.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add) => Tile(MR, kc, a, b, bStride, c, ldc, add);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run4(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add) => Tile(4, kc, a, b, bStride, c, ldc, add);

    // The tile's first `rows` rows (4, 6 or 8: a constant at each caller, so the JIT keeps only those accumulators); A
    // advances MR values a step either way.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(int rows, nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add)
    {
        nint w = Lanes<TV, T>.Count;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        TV c60 = default, c61 = default, c70 = default, c71 = default;
        // C's tile is read (or written) after the loop: ask for its lines now, so a C larger than the cache
        // (the weight gradients, the projections of all steps) does not stall every tile at its end.
        CTilePrefetch.Rows(c, ldc, rows, 2 * w * sizeof(T));

        for (nint p = 0; p < kc; p++)
        {
            TV b0 = Lanes<TV, T>.Load(b), b1 = Lanes<TV, T>.Load(b + w);
            RowStep(a[0], b0, b1, ref c00, ref c01);
            RowStep(a[1], b0, b1, ref c10, ref c11);
            RowStep(a[2], b0, b1, ref c20, ref c21);
            RowStep(a[3], b0, b1, ref c30, ref c31);
            if (rows > 4)
            {
                RowStep(a[4], b0, b1, ref c40, ref c41);
                RowStep(a[5], b0, b1, ref c50, ref c51);
            }

            if (rows == 8)
            {
                RowStep(a[6], b0, b1, ref c60, ref c61);
                RowStep(a[7], b0, b1, ref c70, ref c71);
            }

            a += MR;
            b += bStride;
        }

        Store(c, w, c00, c01, add);
        Store(c + ldc, w, c10, c11, add);
        Store(c + 2 * ldc, w, c20, c21, add);
        Store(c + 3 * ldc, w, c30, c31, add);
        if (rows > 4)
        {
            Store(c + 4 * ldc, w, c40, c41, add);
            Store(c + 5 * ldc, w, c50, c51, add);
        }

        if (rows == 8)
        {
            Store(c + 6 * ldc, w, c60, c61, add);
            Store(c + 7 * ldc, w, c70, c71, add);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowPanels4(nint kc, T* a, nint aStride, T* b, nint panelStride, T* c, bool add)
    {
        nint w = Lanes<TV, T>.Count, nr = 2 * w;
        T* q1 = b + panelStride, q2 = q1 + panelStride, q3 = q2 + panelStride;
        TV s00 = default, s01 = default, s10 = default, s11 = default;
        TV s20 = default, s21 = default, s30 = default, s31 = default;
        for (nint p = 0; p < kc; p++)
        {
            TV av = Lanes<TV, T>.Broadcast(*a);
            nint o = p * nr;
            PanelStep(av, b + o, w, ref s00, ref s01);
            PanelStep(av, q1 + o, w, ref s10, ref s11);
            PanelStep(av, q2 + o, w, ref s20, ref s21);
            PanelStep(av, q3 + o, w, ref s30, ref s31);
            a += aStride;
        }

        Store(c, w, s00, s01, add);
        Store(c + nr, w, s10, s11, add);
        Store(c + 2 * nr, w, s20, s21, add);
        Store(c + 3 * nr, w, s30, s31, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowPanel(nint kc, T* a, nint aStride, T* b, T* c, bool add)
    {
        nint w = Lanes<TV, T>.Count, nr = 2 * w;
        TV s0 = default, s1 = default;
        for (nint p = 0; p < kc; p++)
        {
            PanelStep(Lanes<TV, T>.Broadcast(*a), b + p * nr, w, ref s0, ref s1);
            a += aStride;
        }

        Store(c, w, s0, s1, add);
    }

    /// <summary>One k step of one tile row: c0 = fma(a, b0, c0), c1 = fma(a, b1, c1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RowStep(T a, TV b0, TV b1, ref TV c0, ref TV c1)
    {
        TV av = Lanes<TV, T>.Broadcast(a);
        c0 = Lanes<TV, T>.MultiplyAdd(av, b0, c0);
        c1 = Lanes<TV, T>.MultiplyAdd(av, b1, c1);
    }

    /// <summary>One k step of one row against one micro-panel: s0 += a·q[0..w), s1 += a·q[w..2w), each rounded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PanelStep(TV av, T* q, nint w, ref TV s0, ref TV s1)
    {
        s0 = Lanes<TV, T>.MultiplyAdd(av, Lanes<TV, T>.Load(q), s0);
        s1 = Lanes<TV, T>.MultiplyAdd(av, Lanes<TV, T>.Load(q + w), s1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, nint w, TV x0, TV x1, bool add)
    {
        if (add)
        {
            x0 = Lanes<TV, T>.Add(Lanes<TV, T>.Load(c), x0);
            x1 = Lanes<TV, T>.Add(Lanes<TV, T>.Load(c + w), x1);
        }

        Lanes<TV, T>.Store(x0, c);
        Lanes<TV, T>.Store(x1, c + w);
    }
}
