using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// The dot products of <see cref="GemmDriver"/>'s small-M A·Bᵀ path, in one order on every path: each dot product keeps
/// 32 bytes of lanes (8 floats or 4 doubles: one Vector256, or two Vector128; AVX-512 holds two dot products in one
/// Vector512), lane l summing fma(a[p], b[p]) over p ≡ l (mod lanes) for p &lt; K − K mod lanes; the lanes folded in halves
/// (lane l + lane l + 4, then l + 2, then l + 1 for floats); then the last K mod lanes products added in order (each
/// rounded, then added). The naive twin is <see cref="Reference.ReferenceGemm.DotProduct{T}"/>.
/// </summary>
/// <remarks>
/// Legend: K the length of every row; r[4·i + j] receives row i of A against row j of B. The tiles differ by path (4x4
/// with columns paired in 16 of the 32 zmm registers on AVX-512, 2x4 on AVX2, 1x4 on Vector128, to keep the
/// accumulators in registers and the loads per FMA low), the sums do not.
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
        if (typeof(TKernel) == typeof(GemmKernel512<T>))
        {
            if (rows == 1)
                Row512(k, a0, b0, b1, b2, b3, r);
            else
                Tile512(k, a0, a1, a2, a3, b0, b1, b2, b3, r);
        }
        else if (typeof(TKernel) == typeof(GemmKernel256<T>))
        {
            if (rows == 1)
                Row256(k, a0, b0, b1, b2, b3, r);
            else
                Tile256(k, a0, a1, b0, b1, b2, b3, r);
            if (rows == 3)
                Row256(k, a2, b0, b1, b2, b3, r + 8);
            else if (rows == 4)
                Tile256(k, a2, a3, b0, b1, b2, b3, r + 8);
        }
        else
        {
            T* a = a0;
            for (int i = 0; i < rows; i++, a = i == 1 ? a1 : i == 2 ? a2 : a3)
                Row128(k, a, b0, b1, b2, b3, r + 4 * i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<T>(nint k, T* a0, T* a1, T* a2, T* a3, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // 4x4 tile, columns in pairs: lanes 0..w of s_01 belong to column 0, w..2w to column 1 (w = 32 bytes of T).
        // 8 accumulators; per step of w: 4 row loads (each into both halves) and 4 column loads for 8 FMAs of 2w lanes.
        nint w = Vector256<T>.Count;
        Vector512<T> s001 = default, s023 = default, s101 = default, s123 = default;
        Vector512<T> s201 = default, s223 = default, s301 = default, s323 = default;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            Vector512<T> y01 = Vector512.Create(Vector256.Load(b0 + p), Vector256.Load(b1 + p));
            Vector512<T> y23 = Vector512.Create(Vector256.Load(b2 + p), Vector256.Load(b3 + p));
            Vector512<T> x = Both(Vector256.Load(a0 + p));
            s001 = Fma(x, y01, s001);
            s023 = Fma(x, y23, s023);
            x = Both(Vector256.Load(a1 + p));
            s101 = Fma(x, y01, s101);
            s123 = Fma(x, y23, s123);
            x = Both(Vector256.Load(a2 + p));
            s201 = Fma(x, y01, s201);
            s223 = Fma(x, y23, s223);
            x = Both(Vector256.Load(a3 + p));
            s301 = Fma(x, y01, s301);
            s323 = Fma(x, y23, s323);
        }

        Finish(k, p, a0, b0, b1, b2, b3, Fold(s001.GetLower()), Fold(s001.GetUpper()), Fold(s023.GetLower()), Fold(s023.GetUpper()), r);
        Finish(k, p, a1, b0, b1, b2, b3, Fold(s101.GetLower()), Fold(s101.GetUpper()), Fold(s123.GetLower()), Fold(s123.GetUpper()), r + 4);
        Finish(k, p, a2, b0, b1, b2, b3, Fold(s201.GetLower()), Fold(s201.GetUpper()), Fold(s223.GetLower()), Fold(s223.GetUpper()), r + 8);
        Finish(k, p, a3, b0, b1, b2, b3, Fold(s301.GetLower()), Fold(s301.GetUpper()), Fold(s323.GetLower()), Fold(s323.GetUpper()), r + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row512<T>(nint k, T* a, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint w = Vector256<T>.Count;
        Vector512<T> s01 = default, s23 = default;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            Vector512<T> x = Both(Vector256.Load(a + p));
            s01 = Fma(x, Vector512.Create(Vector256.Load(b0 + p), Vector256.Load(b1 + p)), s01);
            s23 = Fma(x, Vector512.Create(Vector256.Load(b2 + p), Vector256.Load(b3 + p)), s23);
        }

        Finish(k, p, a, b0, b1, b2, b3, Fold(s01.GetLower()), Fold(s01.GetUpper()), Fold(s23.GetLower()), Fold(s23.GetUpper()), r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<T>(nint k, T* a0, T* a1, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // 2x4 tile: 8 accumulators + 2 rows of A + 1 of B of the 16 ymm registers; 6 loads per 8 FMAs.
        nint w = Vector256<T>.Count;
        Vector256<T> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector256<T> s10 = default, s11 = default, s12 = default, s13 = default;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            Vector256<T> x0 = Vector256.Load(a0 + p), x1 = Vector256.Load(a1 + p);
            Vector256<T> y = Vector256.Load(b0 + p);
            s00 = Fma(x0, y, s00);
            s10 = Fma(x1, y, s10);
            y = Vector256.Load(b1 + p);
            s01 = Fma(x0, y, s01);
            s11 = Fma(x1, y, s11);
            y = Vector256.Load(b2 + p);
            s02 = Fma(x0, y, s02);
            s12 = Fma(x1, y, s12);
            y = Vector256.Load(b3 + p);
            s03 = Fma(x0, y, s03);
            s13 = Fma(x1, y, s13);
        }

        Finish(k, p, a0, b0, b1, b2, b3, Fold(s00), Fold(s01), Fold(s02), Fold(s03), r);
        Finish(k, p, a1, b0, b1, b2, b3, Fold(s10), Fold(s11), Fold(s12), Fold(s13), r + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row256<T>(nint k, T* a, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint w = Vector256<T>.Count;
        Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default;
        nint p = 0;
        for (; p + w <= k; p += w)
        {
            Vector256<T> x = Vector256.Load(a + p);
            s0 = Fma(x, Vector256.Load(b0 + p), s0);
            s1 = Fma(x, Vector256.Load(b1 + p), s1);
            s2 = Fma(x, Vector256.Load(b2 + p), s2);
            s3 = Fma(x, Vector256.Load(b3 + p), s3);
        }

        Finish(k, p, a, b0, b1, b2, b3, Fold(s0), Fold(s1), Fold(s2), Fold(s3), r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row128<T>(nint k, T* a, T* b0, T* b1, T* b2, T* b3, T* r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The 32 bytes of lanes in halves (lo, hi) per dot product: 8 accumulators + 2 of A + 1 of B of 16 xmm.
        nint w = Vector128<T>.Count;
        Vector128<T> s0l = default, s0h = default, s1l = default, s1h = default;
        Vector128<T> s2l = default, s2h = default, s3l = default, s3h = default;
        nint p = 0;
        for (; p + 2 * w <= k; p += 2 * w)
        {
            Vector128<T> xl = Vector128.Load(a + p), xh = Vector128.Load(a + p + w);
            s0l = ExactFma.MultiplyAdd(xl, Vector128.Load(b0 + p), s0l);
            s0h = ExactFma.MultiplyAdd(xh, Vector128.Load(b0 + p + w), s0h);
            s1l = ExactFma.MultiplyAdd(xl, Vector128.Load(b1 + p), s1l);
            s1h = ExactFma.MultiplyAdd(xh, Vector128.Load(b1 + p + w), s1h);
            s2l = ExactFma.MultiplyAdd(xl, Vector128.Load(b2 + p), s2l);
            s2h = ExactFma.MultiplyAdd(xh, Vector128.Load(b2 + p + w), s2h);
            s3l = ExactFma.MultiplyAdd(xl, Vector128.Load(b3 + p), s3l);
            s3h = ExactFma.MultiplyAdd(xh, Vector128.Load(b3 + p + w), s3h);
        }

        // Halves first (lanes l and l + w), as the wider paths fold their 32 bytes.
        Finish(k, p, a, b0, b1, b2, b3, Fold(s0l + s0h), Fold(s1l + s1h), Fold(s2l + s2h), Fold(s3l + s3h), r);
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

    // 32 bytes folded in halves: lanes l + l + 4 (floats; l + 2 for doubles), ..., down to one.
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

    // A row's 32 bytes in both halves of a Vector512.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Both<T>(Vector256<T> x)
        where T : unmanaged => Vector512.Create(x, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }
}
