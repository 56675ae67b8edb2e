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
/// AVX-512 micro-kernel: 8 rows x 2 Vector512 (8x32 floats, 8x16 doubles), 16 accumulators of the 32 registers. Eight
/// rows rather than AVX2's six: the recurrent products' batch of 32 fills four tiles exactly (six rows computed 36, an
/// eleventh wasted), and A packs through 8x8 transposes.
/// </summary>
internal readonly unsafe struct GemmKernel512<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 8;

    public static int NR => 2 * Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add)
    {
        nint w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default, c70 = default, c71 = default;
        // C's tile is read (or written) after the loop: ask for its lines now, so a C larger than the cache
        // (the weight gradients, the projections of all steps) does not stall every tile at its end.
        CTilePrefetch.Rows(c, ldc, 8, 2 * w * sizeof(T));

        for (nint p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b);
            Vector512<T> b1 = Vector512.Load(b + w);
            Vector512<T> av = Vector512.Create(a[0]);
            c00 = Fma(av, b0, c00);
            c01 = Fma(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Fma(av, b0, c10);
            c11 = Fma(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Fma(av, b0, c20);
            c21 = Fma(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Fma(av, b0, c30);
            c31 = Fma(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Fma(av, b0, c40);
            c41 = Fma(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Fma(av, b0, c50);
            c51 = Fma(av, b1, c51);
            av = Vector512.Create(a[6]);
            c60 = Fma(av, b0, c60);
            c61 = Fma(av, b1, c61);
            av = Vector512.Create(a[7]);
            c70 = Fma(av, b0, c70);
            c71 = Fma(av, b1, c71);
            a += 8;
            b += bStride;
        }

        Store(c, w, c00, c01, add);
        Store(c + ldc, w, c10, c11, add);
        Store(c + 2 * ldc, w, c20, c21, add);
        Store(c + 3 * ldc, w, c30, c31, add);
        Store(c + 4 * ldc, w, c40, c41, add);
        Store(c + 5 * ldc, w, c50, c51, add);
        Store(c + 6 * ldc, w, c60, c61, add);
        Store(c + 7 * ldc, w, c70, c71, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowPanels4(nint kc, T* a, nint aStride, T* b, nint panelStride, T* c, bool add)
    {
        nint w = Vector512<T>.Count, nr = 2 * w;
        T* q1 = b + panelStride, q2 = q1 + panelStride, q3 = q2 + panelStride;
        Vector512<T> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector512<T> s20 = default, s21 = default, s30 = default, s31 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<T> av = Vector512.Create(*a);
            nint o = p * nr;
            s00 = Fma(av, Vector512.Load(b + o), s00);
            s01 = Fma(av, Vector512.Load(b + o + w), s01);
            s10 = Fma(av, Vector512.Load(q1 + o), s10);
            s11 = Fma(av, Vector512.Load(q1 + o + w), s11);
            s20 = Fma(av, Vector512.Load(q2 + o), s20);
            s21 = Fma(av, Vector512.Load(q2 + o + w), s21);
            s30 = Fma(av, Vector512.Load(q3 + o), s30);
            s31 = Fma(av, Vector512.Load(q3 + o + w), s31);
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
        nint w = Vector512<T>.Count, nr = 2 * w;
        Vector512<T> s0 = default, s1 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<T> av = Vector512.Create(*a);
            s0 = Fma(av, Vector512.Load(b + p * nr), s0);
            s1 = Fma(av, Vector512.Load(b + p * nr + w), s1);
            a += aStride;
        }

        Store(c, w, s0, s1, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, nint w, Vector512<T> x0, Vector512<T> x1, bool add)
    {
        if (add)
        {
            x0 = Vector512.Load(c) + x0;
            x1 = Vector512.Load(c + w) + x1;
        }

        x0.Store(c);
        x1.Store(c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> z)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }
}

/// <summary>AVX2 + FMA micro-kernel: 6 rows x 2 Vector256 (6x16 floats, 6x8 doubles), 12 of the 16 ymm registers.</summary>
internal readonly unsafe struct GemmKernel256<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add)
    {
        nint w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        // As the 512-bit kernel: ask for C's tile before the loop.
        CTilePrefetch.Rows(c, ldc, 6, 2 * w * sizeof(T));

        for (nint p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.Load(b);
            Vector256<T> b1 = Vector256.Load(b + w);
            Vector256<T> av = Vector256.Create(a[0]);
            c00 = Fma(av, b0, c00);
            c01 = Fma(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Fma(av, b0, c10);
            c11 = Fma(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Fma(av, b0, c20);
            c21 = Fma(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Fma(av, b0, c30);
            c31 = Fma(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Fma(av, b0, c40);
            c41 = Fma(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Fma(av, b0, c50);
            c51 = Fma(av, b1, c51);
            a += 6;
            b += bStride;
        }

        Store(c, w, c00, c01, add);
        Store(c + ldc, w, c10, c11, add);
        Store(c + 2 * ldc, w, c20, c21, add);
        Store(c + 3 * ldc, w, c30, c31, add);
        Store(c + 4 * ldc, w, c40, c41, add);
        Store(c + 5 * ldc, w, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowPanels4(nint kc, T* a, nint aStride, T* b, nint panelStride, T* c, bool add)
    {
        nint w = Vector256<T>.Count, nr = 2 * w;
        T* q1 = b + panelStride, q2 = q1 + panelStride, q3 = q2 + panelStride;
        Vector256<T> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector256<T> s20 = default, s21 = default, s30 = default, s31 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector256<T> av = Vector256.Create(*a);
            nint o = p * nr;
            s00 = Fma(av, Vector256.Load(b + o), s00);
            s01 = Fma(av, Vector256.Load(b + o + w), s01);
            s10 = Fma(av, Vector256.Load(q1 + o), s10);
            s11 = Fma(av, Vector256.Load(q1 + o + w), s11);
            s20 = Fma(av, Vector256.Load(q2 + o), s20);
            s21 = Fma(av, Vector256.Load(q2 + o + w), s21);
            s30 = Fma(av, Vector256.Load(q3 + o), s30);
            s31 = Fma(av, Vector256.Load(q3 + o + w), s31);
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
        nint w = Vector256<T>.Count, nr = 2 * w;
        Vector256<T> s0 = default, s1 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector256<T> av = Vector256.Create(*a);
            s0 = Fma(av, Vector256.Load(b + p * nr), s0);
            s1 = Fma(av, Vector256.Load(b + p * nr + w), s1);
            a += aStride;
        }

        Store(c, w, s0, s1, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, nint w, Vector256<T> x0, Vector256<T> x1, bool add)
    {
        if (add)
        {
            x0 = Vector256.Load(c) + x0;
            x1 = Vector256.Load(c + w) + x1;
        }

        x0.Store(c);
        x1.Store(c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> z)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }
}

/// <summary>
/// Portable micro-kernel on Vector128 (SSE2 or NEON): 6 rows x 2 Vector128 (6x8 floats, 6x4 doubles). Every
/// multiply-add rounds once, as on the wider paths (<see cref="ExactFma"/>: the instruction where the CPU has it, the
/// same bits from SSE2 arithmetic where it does not), so every path gives the same bits.
/// </summary>
internal readonly unsafe struct GemmKernel128<T> : IGemmMicroKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;

    public static int NR => 2 * Vector128<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, T* a, T* b, nint bStride, T* c, nint ldc, bool add)
    {
        nint w = Vector128<T>.Count;
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector128<T> b0 = Vector128.Load(b);
            Vector128<T> b1 = Vector128.Load(b + w);
            Vector128<T> av = Vector128.Create(a[0]);
            c00 = Fma(av, b0, c00);
            c01 = Fma(av, b1, c01);
            av = Vector128.Create(a[1]);
            c10 = Fma(av, b0, c10);
            c11 = Fma(av, b1, c11);
            av = Vector128.Create(a[2]);
            c20 = Fma(av, b0, c20);
            c21 = Fma(av, b1, c21);
            av = Vector128.Create(a[3]);
            c30 = Fma(av, b0, c30);
            c31 = Fma(av, b1, c31);
            av = Vector128.Create(a[4]);
            c40 = Fma(av, b0, c40);
            c41 = Fma(av, b1, c41);
            av = Vector128.Create(a[5]);
            c50 = Fma(av, b0, c50);
            c51 = Fma(av, b1, c51);
            a += 6;
            b += bStride;
        }

        Store(c, w, c00, c01, add);
        Store(c + ldc, w, c10, c11, add);
        Store(c + 2 * ldc, w, c20, c21, add);
        Store(c + 3 * ldc, w, c30, c31, add);
        Store(c + 4 * ldc, w, c40, c41, add);
        Store(c + 5 * ldc, w, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowPanels4(nint kc, T* a, nint aStride, T* b, nint panelStride, T* c, bool add)
    {
        nint w = Vector128<T>.Count, nr = 2 * w;
        T* q1 = b + panelStride, q2 = q1 + panelStride, q3 = q2 + panelStride;
        Vector128<T> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector128<T> s20 = default, s21 = default, s30 = default, s31 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector128<T> av = Vector128.Create(*a);
            nint o = p * nr;
            s00 = Fma(av, Vector128.Load(b + o), s00);
            s01 = Fma(av, Vector128.Load(b + o + w), s01);
            s10 = Fma(av, Vector128.Load(q1 + o), s10);
            s11 = Fma(av, Vector128.Load(q1 + o + w), s11);
            s20 = Fma(av, Vector128.Load(q2 + o), s20);
            s21 = Fma(av, Vector128.Load(q2 + o + w), s21);
            s30 = Fma(av, Vector128.Load(q3 + o), s30);
            s31 = Fma(av, Vector128.Load(q3 + o + w), s31);
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
        nint w = Vector128<T>.Count, nr = 2 * w;
        Vector128<T> s0 = default, s1 = default;
        for (nint p = 0; p < kc; p++)
        {
            Vector128<T> av = Vector128.Create(*a);
            s0 = Fma(av, Vector128.Load(b + p * nr), s0);
            s1 = Fma(av, Vector128.Load(b + p * nr + w), s1);
            a += aStride;
        }

        Store(c, w, s0, s1, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, nint w, Vector128<T> x0, Vector128<T> x1, bool add)
    {
        if (add)
        {
            x0 = Vector128.Load(c) + x0;
            x1 = Vector128.Load(c + w) + x1;
        }

        x0.Store(c);
        x1.Store(c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Fma(Vector128<T> x, Vector128<T> y, Vector128<T> z) => ExactFma.MultiplyAdd(x, y, z);
}
