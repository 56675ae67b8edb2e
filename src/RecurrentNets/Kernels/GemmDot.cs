using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// The dot products of <see cref="GemmDriver"/>'s small-M A·Bᵀ path, in one order on every path: each dot product keeps
/// 64 bytes of lanes (16 floats or 8 doubles: one Vector512, two Vector256 or four Vector128), lane l summing
/// fma(a[p], b[p]) over p ≡ l (mod lanes) for p &lt; K − K mod lanes; the lanes folded in halves (lane l + lane l + 8, then
/// l + 4, ..., down to one); then the last K mod lanes products added in order (each rounded, then added). The naive
/// twin is <c>Reference.ReferenceGemm.DotProduct{T}</c>.
/// </summary>
/// <remarks>
/// Legend: K the length of every row; r[4·i + j] receives row i of A against row j of B. The tiles differ by path (4x4
/// in the 32 registers of AVX-512; 3x2, 2x2 and 1x4 on AVX2; 1x2 on Vector128, to keep the accumulators in registers and
/// the loads per FMA low), the sums do not. 64 bytes rather than 32: AVX-512's tile then needs no shuffles (32-byte
/// lanes, two columns to a register, made it 1.2 to 1.8 times slower), and AVX2's 3x2 tile loads little more per FMA than
/// main's 2x4 one did.
/// </remarks>
internal static unsafe class GemmDot
{
    /// <summary>
    /// r[4·i + j] = a_i·b_j for i &lt; <paramref name="rows"/> (1 to 4; a1 to a3 unused beyond) and j &lt; 4, on the path
    /// of <typeparamref name="TKernel"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile<T, TKernel>(nint k, int rows, T* a0, T* a1, T* a2, T* a3, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IGemmMicroKernel<T>
    {
        if (typeof(TKernel) == typeof(GemmKernel<T, Vector512<T>>))
        {
            if (rows == 1)
                Row512(k, a0, b0, b1, b2, b3, r);
            else
                Tile512(k, a0, a1, a2, a3, b0, b1, b2, b3, r);
            return;
        }

        if (typeof(TKernel) == typeof(GemmKernel<T, Vector256<T>>))
        {
            if (rows == 1)
            {
                Row256(k, a0, b0, b1, b2, b3, r);
                return;
            }

            // Column pairs: three rows at once, or two and two.
            for (int j = 0; j < 4; j += 2)
            {
                T* c0 = j == 0 ? b0 : b2, c1 = j == 0 ? b1 : b3;
                if (rows == 3)
                {
                    Block<T, On>(k, a0, a1, a2, c0, c1, r + j);
                    continue;
                }

                Block<T, Off>(k, a0, a1, a0, c0, c1, r + j);
                if (rows == 4)
                    Block<T, Off>(k, a2, a3, a2, c0, c1, r + 8 + j);
            }

            return;
        }

        T* a = a0;
        for (int i = 0; i < rows; i++, a = i == 1 ? a1 : i == 2 ? a2 : a3)
        {
            Row128(k, a, b0, b1, r + 4 * i);
            Row128(k, a, b2, b3, r + 4 * i + 2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<T>(nint k, T* a0, T* a1, T* a2, T* a3, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // 4x4 tile: 16 accumulators + 4 rows of A + 1 of B in the 32 zmm registers; 8 loads per 16 FMAs.
        nint w = Vector512<T>.Count;
        Vector512<T> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<T> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<T> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<T> s30 = default, s31 = default, s32 = default, s33 = default;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            Vector512<T> x0 = Vector512.Load(a0 + p), x1 = Vector512.Load(a1 + p);
            Vector512<T> x2 = Vector512.Load(a2 + p), x3 = Vector512.Load(a3 + p);
            ColumnStep(x0, x1, x2, x3, b0 + p, ref s00, ref s10, ref s20, ref s30);
            ColumnStep(x0, x1, x2, x3, b1 + p, ref s01, ref s11, ref s21, ref s31);
            ColumnStep(x0, x1, x2, x3, b2 + p, ref s02, ref s12, ref s22, ref s32);
            ColumnStep(x0, x1, x2, x3, b3 + p, ref s03, ref s13, ref s23, ref s33);
        }

        Finish(k, p, a0, b0, b1, b2, b3, Fold(s00), Fold(s01), Fold(s02), Fold(s03), r);
        Finish(k, p, a1, b0, b1, b2, b3, Fold(s10), Fold(s11), Fold(s12), Fold(s13), r + 4);
        Finish(k, p, a2, b0, b1, b2, b3, Fold(s20), Fold(s21), Fold(s22), Fold(s23), r + 8);
        Finish(k, p, a3, b0, b1, b2, b3, Fold(s30), Fold(s31), Fold(s32), Fold(s33), r + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row512<T>(nint k, T* a, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint w = Vector512<T>.Count;
        Vector512<T> s0 = default, s1 = default, s2 = default, s3 = default;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            Vector512<T> x = Vector512.Load(a + p);
            s0 = Fma(x, Vector512.Load(b0 + p), s0);
            s1 = Fma(x, Vector512.Load(b1 + p), s1);
            s2 = Fma(x, Vector512.Load(b2 + p), s2);
            s3 = Fma(x, Vector512.Load(b3 + p), s3);
        }

        Finish(k, p, a, b0, b1, b2, b3, Fold(s0), Fold(s1), Fold(s2), Fold(s3), r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row256<T>(nint k, T* a, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The 64 bytes of lanes in two halves (lo, hi) per dot product: 8 accumulators + 2 of A + 1 of B of 16 ymm.
        nint w = Vector256<T>.Count;
        Vector256<T> s0l = default, s0h = default, s1l = default, s1h = default;
        Vector256<T> s2l = default, s2h = default, s3l = default, s3h = default;
        nint p = 0;
        for (; p + 2 * w <= k; p += 2 * w)
        {
            Vector256<T> xl = Vector256.Load(a + p), xh = Vector256.Load(a + p + w);
            PairStep(xl, xh, b0 + p, w, ref s0l, ref s0h);
            PairStep(xl, xh, b1 + p, w, ref s1l, ref s1h);
            PairStep(xl, xh, b2 + p, w, ref s2l, ref s2h);
            PairStep(xl, xh, b3 + p, w, ref s3l, ref s3h);
        }

        Finish(k, p, a, b0, b1, b2, b3, Fold(s0l + s0h), Fold(s1l + s1h), Fold(s2l + s2h), Fold(s3l + s3h), r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T, TThree>(nint k, T* a0, T* a1, T* a2, T* b0, T* b1, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TThree : struct, IFlag
    {
        // Two or three rows (a2 unused with two) by two columns, each dot product's 64 bytes in two halves. Three rows: 12
        // accumulators + 2 of B + 1 of A of the 16 ymm registers, 10 loads per 12 FMAs (main's 2x4 tile of 32-byte lanes
        // took 6 per 8); two rows: 8 accumulators, 8 loads per 8 FMAs.
        nint w = Vector256<T>.Count;
        Vector256<T> s00l = default, s00h = default, s01l = default, s01h = default;
        Vector256<T> s10l = default, s10h = default, s11l = default, s11h = default;
        Vector256<T> s20l = default, s20h = default, s21l = default, s21h = default;
        nint p = 0;
        for (; p + 2 * w <= k; p += 2 * w)
        {
            BlockStep<T, TThree>(a0 + p, a1 + p, a2 + p, b0 + p, b1 + p, ref s00l, ref s01l, ref s10l, ref s11l, ref s20l, ref s21l);
            BlockStep<T, TThree>(a0 + p + w, a1 + p + w, a2 + p + w, b0 + p + w, b1 + p + w, ref s00h, ref s01h, ref s10h, ref s11h, ref s20h, ref s21h);
        }

        Finish2(k, p, a0, b0, b1, Fold(s00l + s00h), Fold(s01l + s01h), r);
        Finish2(k, p, a1, b0, b1, Fold(s10l + s10h), Fold(s11l + s11h), r + 4);
        if (TThree.Enabled)
            Finish2(k, p, a2, b0, b1, Fold(s20l + s20h), Fold(s21l + s21h), r + 8);
    }

    // One Vector256 of each of Block's dot products (the low or the high half of its 64 bytes of lanes).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BlockStep<T, TThree>(T* a0, T* a1, T* a2, T* b0, T* b1, ref Vector256<T> s00, ref Vector256<T> s01,
        ref Vector256<T> s10, ref Vector256<T> s11, ref Vector256<T> s20, ref Vector256<T> s21)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TThree : struct, IFlag
    {
        Vector256<T> y0 = Vector256.Load(b0), y1 = Vector256.Load(b1);
        Vector256<T> x = Vector256.Load(a0);
        s00 = Fma(x, y0, s00);
        s01 = Fma(x, y1, s01);
        x = Vector256.Load(a1);
        s10 = Fma(x, y0, s10);
        s11 = Fma(x, y1, s11);
        if (TThree.Enabled)
        {
            x = Vector256.Load(a2);
            s20 = Fma(x, y0, s20);
            s21 = Fma(x, y1, s21);
        }
    }

    // The 64 bytes of lanes in quarters q0..q3 per dot product: 8 accumulators + 4 of A + 1 of B of 16 xmm.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row128<T>(nint k, T* a, T* b0, T* b1, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector128<T> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector128<T> s10 = default, s11 = default, s12 = default, s13 = default;
        nint w = Vector128<T>.Count, p = 0;
        for (; p + 4 * w <= k; p += 4 * w)
        {
            Vector128<T> x0 = Vector128.Load(a + p), x1 = Vector128.Load(a + p + w);
            Vector128<T> x2 = Vector128.Load(a + p + 2 * w), x3 = Vector128.Load(a + p + 3 * w);
            PairStep(x0, x1, b0 + p, w, ref s00, ref s01);
            PairStep(x2, x3, b0 + p + 2 * w, w, ref s02, ref s03);
            PairStep(x0, x1, b1 + p, w, ref s10, ref s11);
            PairStep(x2, x3, b1 + p + 2 * w, w, ref s12, ref s13);
        }

        // Halves: q0 + q2 (lanes l and l + 8), q1 + q3; then those two (l and l + 4).
        Finish2(k, p, a, b0, b1, Fold((s00 + s02) + (s01 + s03)), Fold((s10 + s12) + (s11 + s13)), r);
    }

    // One vector of four rows against one column: s_i += x_i·y for y = q[0..w), each rounded once.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnStep<T>(Vector512<T> x0, Vector512<T> x1, Vector512<T> x2, Vector512<T> x3, T* q,
        ref Vector512<T> s0, ref Vector512<T> s1, ref Vector512<T> s2, ref Vector512<T> s3)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> y = Vector512.Load(q);
        s0 = Fma(x0, y, s0);
        s1 = Fma(x1, y, s1);
        s2 = Fma(x2, y, s2);
        s3 = Fma(x3, y, s3);
    }

    // Two consecutive vectors of one dot product: s0 += x0·q[0..w), s1 += x1·q[w..2w), each rounded once.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairStep<TV, T>(TV x0, TV x1, T* q, nint w, ref TV s0, ref TV s1)
        where TV : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        s0 = Lanes<TV, T>.MultiplyAdd(x0, Lanes<TV, T>.Load(q), s0);
        s1 = Lanes<TV, T>.MultiplyAdd(x1, Lanes<TV, T>.Load(q + w), s1);
    }

    // The last K mod lanes products of two columns, in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish2<T>(nint k, nint p, T* a, T* b0, T* b1, T r0, T r1, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (; p < k; p++)
        {
            T x = a[p];
            r0 += x * b0[p];
            r1 += x * b1[p];
        }

        r[0] = r0;
        r[1] = r1;
    }

    // The last K mod lanes products, in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<T>(nint k, nint p, T* a, T* b0, T* b1, T* b2, T* b3, T r0, T r1, T r2, T r3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (; p < k; p++)
        {
            T x = a[p];
            r0 += x * b0[p];
            r1 += x * b1[p];
            r2 += x * b2[p];
            r3 += x * b3[p];
        }

        r[0] = r0;
        r[1] = r1;
        r[2] = r2;
        r[3] = r3;
    }

    // 64 bytes folded in halves: lanes l + l + 8 (floats; l + 4 for doubles), ..., down to one.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Fold<T>(Vector512<T> v)
        where T : unmanaged, IFloatingPointIeee754<T> => Fold(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Fold<T>(Vector256<T> v)
        where T : unmanaged, IFloatingPointIeee754<T> => Fold(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Fold<T>(Vector128<T> v)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Vector128<T>.Count == 4)
            return (v.GetElement(0) + v.GetElement(2)) + (v.GetElement(1) + v.GetElement(3));
        return v.GetElement(0) + v.GetElement(1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z)
        where T : unmanaged, IFloatingPointIeee754<T> => Lanes<Vector512<T>, T>.MultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z)
        where T : unmanaged, IFloatingPointIeee754<T> => Lanes<Vector256<T>, T>.MultiplyAdd(x, y, z);
}
