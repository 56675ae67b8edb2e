using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// Sums, sums of squares and dot products whose order of additions is fixed, not chosen by the CPU's vector width:
/// the same bits on the AVX-512, AVX2 and Vector128 paths (TensorPrimitives' reductions add in the order of the widest
/// vector the CPU has, so their last bits differ from one CPU to the next). The naive twin is
/// <c>Reference.ReferenceElementwise.FixedOrderSum{T}</c>.
/// </summary>
/// <remarks>
/// The order, for n values v[i] (v = x, x² or x·y, each product rounded before it is added): 128 bytes of lanes
/// (L = 32 floats or 16 doubles) over blocks of 2L values, lane l adding v[b + l] + v[b + l + L] of each block b in
/// turn (the pair first: two independent additions per lane and block keep the adders busy); the lanes folded in halves
/// (lane l + lane l + L/2, then l + L/4, ..., down to one); then the last n mod 2L values added in order. AVX-512 keeps
/// the lanes in two registers, AVX2 in four, Vector128 in eight; each runs the same additions.
/// </remarks>
public static class Reductions
{
    /// <summary>Σ x[i].</summary>
    /// <param name="x">The values [n].</param>
    public static T Sum<T>(ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Reduce<T, Identity>(x, x);

    /// <summary>Σ x[i]².</summary>
    /// <param name="x">The values [n].</param>
    public static T SumOfSquares<T>(ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Reduce<T, Product>(x, x);

    /// <summary>Σ x[i]·y[i].</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="y">[n].</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"x has {x.Length} values but y has {y.Length}.", nameof(y));
        }

        return Reduce<T, Product>(x, y);
    }

    /// <summary>The lanes of the order: 128 bytes of T.</summary>
    internal static int Lanes<T>()
        where T : unmanaged => 128 / Unsafe.SizeOf<T>();

    private interface IMap
    {
        static abstract T Invoke<T>(T x, T y)
            where T : unmanaged, IFloatingPointIeee754<T>;

        static abstract Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y)
            where T : unmanaged;

        static abstract Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y)
            where T : unmanaged;

        static abstract Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y)
            where T : unmanaged;
    }

    private readonly struct Identity : IMap
    {
        public static T Invoke<T>(T x, T y)
            where T : unmanaged, IFloatingPointIeee754<T> => x;

        public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y)
            where T : unmanaged => x;

        public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y)
            where T : unmanaged => x;

        public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y)
            where T : unmanaged => x;
    }

    private readonly struct Product : IMap
    {
        public static T Invoke<T>(T x, T y)
            where T : unmanaged, IFloatingPointIeee754<T> => x * y;

        public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y)
            where T : unmanaged => x * y;

        public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y)
            where T : unmanaged => x * y;

        public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y)
            where T : unmanaged => x * y;
    }

    private static T Reduce<T, TMap>(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMap : struct, IMap
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"{typeof(T).Name}: float and double only.");

        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, lanes = Lanes<T>(), body = n - n % (2 * lanes);
        T sum;
        if (Vector512.IsHardwareAccelerated)
        {
            // Lanes 0..L/2 in a0, L/2..L in a1; a block's second half (u2, u3) pairs with its first (u0, u1).
            nuint w = (nuint)Vector512<T>.Count;
            Vector512<T> a0 = default, a1 = default;
            for (nuint i = 0; i < (nuint)body; i += 4 * w)
            {
                a0 += Map512<T, TMap>(ref xr, ref yr, i) + Map512<T, TMap>(ref xr, ref yr, i + 2 * w);
                a1 += Map512<T, TMap>(ref xr, ref yr, i + w) + Map512<T, TMap>(ref xr, ref yr, i + 3 * w);
            }

            var half = a0 + a1;
            var quarter = half.GetLower() + half.GetUpper();
            sum = Fold(quarter.GetLower() + quarter.GetUpper());
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            // Lanes in quarters a0..a3 (pairs u_q + u_(q+4)); the first fold adds a0 + a2 and a1 + a3.
            nuint w = (nuint)Vector256<T>.Count;
            Vector256<T> a0 = default, a1 = default, a2 = default, a3 = default;
            for (nuint i = 0; i < (nuint)body; i += 8 * w)
            {
                a0 += Map256<T, TMap>(ref xr, ref yr, i) + Map256<T, TMap>(ref xr, ref yr, i + 4 * w);
                a1 += Map256<T, TMap>(ref xr, ref yr, i + w) + Map256<T, TMap>(ref xr, ref yr, i + 5 * w);
                a2 += Map256<T, TMap>(ref xr, ref yr, i + 2 * w) + Map256<T, TMap>(ref xr, ref yr, i + 6 * w);
                a3 += Map256<T, TMap>(ref xr, ref yr, i + 3 * w) + Map256<T, TMap>(ref xr, ref yr, i + 7 * w);
            }

            var quarter = (a0 + a2) + (a1 + a3);
            sum = Fold(quarter.GetLower() + quarter.GetUpper());
        }
        else
        {
            // Lanes in eighths a0..a7 (pairs u_q + u_(q+8)): folds a_q + a_(q+4), then b_q + b_(q+2), then c0 + c1.
            nuint w = (nuint)Vector128<T>.Count;
            Vector128<T> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (nuint i = 0; i < (nuint)body; i += 16 * w)
            {
                a0 += Map128<T, TMap>(ref xr, ref yr, i) + Map128<T, TMap>(ref xr, ref yr, i + 8 * w);
                a1 += Map128<T, TMap>(ref xr, ref yr, i + w) + Map128<T, TMap>(ref xr, ref yr, i + 9 * w);
                a2 += Map128<T, TMap>(ref xr, ref yr, i + 2 * w) + Map128<T, TMap>(ref xr, ref yr, i + 10 * w);
                a3 += Map128<T, TMap>(ref xr, ref yr, i + 3 * w) + Map128<T, TMap>(ref xr, ref yr, i + 11 * w);
                a4 += Map128<T, TMap>(ref xr, ref yr, i + 4 * w) + Map128<T, TMap>(ref xr, ref yr, i + 12 * w);
                a5 += Map128<T, TMap>(ref xr, ref yr, i + 5 * w) + Map128<T, TMap>(ref xr, ref yr, i + 13 * w);
                a6 += Map128<T, TMap>(ref xr, ref yr, i + 6 * w) + Map128<T, TMap>(ref xr, ref yr, i + 14 * w);
                a7 += Map128<T, TMap>(ref xr, ref yr, i + 7 * w) + Map128<T, TMap>(ref xr, ref yr, i + 15 * w);
            }

            var b0 = a0 + a4;
            var b1 = a1 + a5;
            var b2 = a2 + a6;
            var b3 = a3 + a7;
            sum = Fold((b0 + b2) + (b1 + b3));
        }

        for (int i = body; i < n; i++)
            sum += TMap.Invoke(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Map512<T, TMap>(ref T x, ref T y, nuint i)
        where T : unmanaged
        where TMap : struct, IMap => TMap.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.LoadUnsafe(ref y, i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Map256<T, TMap>(ref T x, ref T y, nuint i)
        where T : unmanaged
        where TMap : struct, IMap => TMap.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Map128<T, TMap>(ref T x, ref T y, nuint i)
        where T : unmanaged
        where TMap : struct, IMap => TMap.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.LoadUnsafe(ref y, i));

    // The last 16 bytes: floats (v0 + v2) + (v1 + v3), doubles v0 + v1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Fold<T>(Vector128<T> v)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            return (v.GetElement(0) + v.GetElement(2)) + (v.GetElement(1) + v.GetElement(3));
        return v.GetElement(0) + v.GetElement(1);
    }
}
