using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>
    /// addend + Σ x[i]·y[i] as if computed in twice the precision of double and rounded once at the end: Ogita, Rump and
    /// Oishi's Dot2 ("Accurate sum and dot product", SIAM J. Sci. Comput. 26(6), 2005), each product split exactly into
    /// p + e by an FMA (TwoProduct), each sum into s + e by Knuth's TwoSum, the errors added up beside the sums. The error
    /// is at most ε·|result| + γ(n)²·(|addend| + Σ |x[i]·y[i]|), γ(n) = nε/(1 - nε): the result is accurate to the last bits
    /// unless the sum cancels by more than about 10¹⁶, where the plain <see cref="Dot{T}"/> has lost all its digits.
    /// </summary>
    /// <param name="x">The values [n].</param>
    /// <param name="y">[n].</param>
    /// <param name="addend">The value the products are added to (pass -c and negate the result for c - Σ x·y).</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    /// <remarks>
    /// <para>
    /// The order is fixed, as for <see cref="Dot{T}"/>, so the bits are the same on every path (AVX2 and AVX-512 CPUs keep the lanes in four 256-bit registers, the others in eight 128-bit ones):
    /// 16 lanes (128 bytes), lane l taking x[b + l]·y[b + l] of each block b of 16 values in turn into its pair (s, e):
    /// p = x·y, q = fma(x, y, -p), (s, t) = TwoSum(s, p), e = e + (q + t); the lanes folded in halves (lane l with lane
    /// l + 8, then l + 4, l + 2, l + 1: (s, t) = TwoSum(s, s'), e = (e + e') + t); then the addend and the last n mod 16
    /// products taken in order into that one pair the same way; the result s + e. The naive twin is
    /// <c>Reference.ReferenceElementwise.FixedOrderCompensatedDot</c>.
    /// </para>
    /// <para>
    /// About 10 operations per product where <see cref="Dot{T}"/> takes 2. The products are exact only where the
    /// multiply-add rounds once: everywhere by default (<see cref="Determinism.SameBitsOnEveryCpu"/>); with that switch off,
    /// CPUs without the FMA instruction lose the products' compensation and keep the sums'.
    /// </para>
    /// </remarks>
    public static double CompensatedDot(ReadOnlySpan<double> x, ReadOnlySpan<double> y, double addend = 0)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"x has {x.Length} values but y has {y.Length}.", nameof(y));
        }

        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, lanes = Lanes<double>(), body = n - n % lanes;
        double s, e;
        // Two paths, not three: 512-bit registers gain nothing here (measured on the ridge readout's 1,000-unit Cholesky
        // factor and solve: 0.065 s with them, 0.069 s without), and each path is one more copy of the same arithmetic.
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            // Lanes in quarters (s0, e0) .. (s3, e3); the first fold takes quarter q with quarter q + 2.
            Vector256<double> s0 = default, e0 = default, s1 = default, e1 = default, s2 = default, e2 = default, s3 = default, e3 = default;
            for (nuint i = 0; i < (nuint)body; i += 16)
                Accumulate4(ref s0, ref e0, ref s1, ref e1, ref s2, ref e2, ref s3, ref e3, ref xr, ref yr, i);

            Merge4(ref s0, ref e0, s1, e1, s2, e2, s3, e3);
            var sLower = s0.GetLower();
            var eLower = e0.GetLower();
            Merge(ref sLower, ref eLower, s0.GetUpper(), e0.GetUpper());
            (s, e) = Fold(sLower, eLower);
        }
        else
        {
            // Lanes in eighths (s0, e0) .. (s7, e7): folds q with q + 4, then q with q + 2, then 0 with 1.
            Vector128<double> s0 = default, e0 = default, s1 = default, e1 = default, s2 = default, e2 = default, s3 = default, e3 = default;
            Vector128<double> s4 = default, e4 = default, s5 = default, e5 = default, s6 = default, e6 = default, s7 = default, e7 = default;
            for (nuint i = 0; i < (nuint)body; i += 16)
            {
                Accumulate4(ref s0, ref e0, ref s1, ref e1, ref s2, ref e2, ref s3, ref e3, ref xr, ref yr, i);
                Accumulate4(ref s4, ref e4, ref s5, ref e5, ref s6, ref e6, ref s7, ref e7, ref xr, ref yr, i + 8);
            }

            Merge(ref s0, ref e0, s4, e4);
            Merge(ref s1, ref e1, s5, e5);
            Merge(ref s2, ref e2, s6, e6);
            Merge(ref s3, ref e3, s7, e7);
            Merge4(ref s0, ref e0, s1, e1, s2, e2, s3, e3);
            (s, e) = Fold(s0, e0);
        }

        e += TwoSum(ref s, addend);
        for (int i = body; i < n; i++)
        {
            // Math.FusedMultiplyAdd rounds once on every CPU (the C library's fma where the instruction is missing).
            double a = Unsafe.Add(ref xr, i), b = Unsafe.Add(ref yr, i), p = a * b;
            double q = Math.FusedMultiplyAdd(a, b, -p);
            e += q + TwoSum(ref s, p);
        }

        return s + e;
    }

    // Four vectors of products in a row from x[i..] and y[i..], into (s0, e0) .. (s3, e3).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate4<TV>(ref TV s0, ref TV e0, ref TV s1, ref TV e1, ref TV s2, ref TV e2, ref TV s3, ref TV e3,
        ref double x, ref double y, nuint i)
        where TV : unmanaged
    {
        nuint w = (nuint)Lanes<TV, double>.Count;
        Accumulate(ref s0, ref e0, Load<TV>(ref x, i), Load<TV>(ref y, i));
        Accumulate(ref s1, ref e1, Load<TV>(ref x, i + w), Load<TV>(ref y, i + w));
        Accumulate(ref s2, ref e2, Load<TV>(ref x, i + 2 * w), Load<TV>(ref y, i + 2 * w));
        Accumulate(ref s3, ref e3, Load<TV>(ref x, i + 3 * w), Load<TV>(ref y, i + 3 * w));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<TV>(ref double source, nuint i)
        where TV : unmanaged
        => Unsafe.ReadUnaligned<TV>(ref Unsafe.As<double, byte>(ref Unsafe.Add(ref source, i)));

    // (s0, e0) takes (s2, e2) and (s1, e1) takes (s3, e3); then (s0, e0) takes (s1, e1).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge4<TV>(ref TV s0, ref TV e0, TV s1, TV e1, TV s2, TV e2, TV s3, TV e3)
        where TV : unmanaged
    {
        Merge(ref s0, ref e0, s2, e2);
        Merge(ref s1, ref e1, s3, e3);
        Merge(ref s0, ref e0, s1, e1);
    }

    // (s, e) += x·y per lane: p + q = x·y exactly, (s, t) = TwoSum(s, p), e = e + (q + t).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TV>(ref TV s, ref TV e, TV x, TV y)
        where TV : unmanaged
    {
        TV p = Lanes<TV, double>.Multiply(x, y);
        TV q = Lanes<TV, double>.MultiplyAdd(x, y, Lanes<TV, double>.Negate(p));
        TV sum = Lanes<TV, double>.Add(s, p);
        TV z = Lanes<TV, double>.Subtract(sum, s);
        TV t = Lanes<TV, double>.Add(Lanes<TV, double>.Subtract(s, Lanes<TV, double>.Subtract(sum, z)), Lanes<TV, double>.Subtract(p, z));
        e = Lanes<TV, double>.Add(e, Lanes<TV, double>.Add(q, t));
        s = sum;
    }

    // (s, e) += (s', e'): (s, t) = TwoSum(s, s'), e = (e + e') + t, lane by lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge<TV>(ref TV s, ref TV e, TV s2, TV e2)
        where TV : unmanaged
    {
        TV sum = Lanes<TV, double>.Add(s, s2);
        TV z = Lanes<TV, double>.Subtract(sum, s);
        TV t = Lanes<TV, double>.Add(Lanes<TV, double>.Subtract(s, Lanes<TV, double>.Subtract(sum, z)), Lanes<TV, double>.Subtract(s2, z));
        e = Lanes<TV, double>.Add(Lanes<TV, double>.Add(e, e2), t);
        s = sum;
    }

    // The last two lanes: lane 0 with lane 1, as Merge does.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double S, double E) Fold(Vector128<double> s, Vector128<double> e)
    {
        double sum = s.GetElement(0);
        double t = TwoSum(ref sum, s.GetElement(1));
        return (sum, (e.GetElement(0) + e.GetElement(1)) + t);
    }

    // s += v; returns the error t of that sum (Knuth's TwoSum: s_old + v = s_new + t exactly).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double TwoSum(ref double s, double v)
    {
        double sum = s + v, z = sum - s, t = (s - (sum - z)) + (v - z);
        s = sum;
        return t;
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
