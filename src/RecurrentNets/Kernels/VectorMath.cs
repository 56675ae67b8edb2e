using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// Transcendental functions written for our hot loops where TensorPrimitives is slow. On .NET 10,
/// <c>TensorPrimitives.Tanh&lt;double&gt;</c> costs about 4.2 ns an element on the reference machine: a third of a
/// 1,000-unit echo-state step in double; its float Sigmoid and Tanh cost 0.55 to 2.7 ns an element, a third of an LSTM
/// step at (B, H) = (32, 128). The naive twins are <see cref="Math.Tanh"/> and 1/(1 + <see cref="Math.Exp"/>(-x)).
/// </summary>
/// <remarks>
/// <para>
/// Float (σ and tanh): e^z = 2^k·(1 + q), k = round(z/ln 2), r = z − k·ln 2 in two parts (|r| ≤ ln 2 / 2), q = e^r − 1
/// by its Taylor polynomial to r⁷ (remainder below 1.6e-8 relative to r). σ(x) = 1/(1 + E) for x ≥ 0 and E/(1 + E)
/// for x &lt; 0, E = e^(−|x|) (|x| clamped at 104, where E rounds to 0); tanh(|x|) = −m/(2 + m), m = e^(−2|x|) − 1 =
/// 2^k·q + (2^k − 1) with one rounding (no cancellation near 0), |x| clamped at 10 (tanh(10) rounds to 1). Error: at
/// most 3 float ulp of the exact value (VectorMathTests); NaN stays NaN. The functions are written once over
/// <see cref="IFloatLanes{TV}"/>, so the <see cref="Vector512{T}"/> body, the <see cref="Vector{T}"/> body and the
/// scalar tail give the same bits for an element.
/// </para>
/// <para>
/// tanh(x) for double: |x| &lt; 1/8 by its odd Taylor polynomial to x¹⁷ (remainder below 1e-17 relative);
/// otherwise sign(x)·(1 − E)/(1 + E) with E = e^(−2|x|), |x| clamped at 22 (tanh(22) rounds to 1), and
/// e^y = 2^k·p(r), k = round(y/ln 2), r = y − k·ln 2 in two parts, p the Taylor polynomial of degree 12 (|r| ≤ ln 2 / 2).
/// Error: a few ulp (below 2e-15 relative). The vector and scalar paths run the same operations in the same order, so
/// an element's result does not depend on its position in the span.
/// </para>
/// </remarks>
public static class VectorMath
{
    private const double SmallLimit = 0.125;
    private const double LargeLimit = 22.0;
    private const double Log2E = 1.4426950408889634;
    private const double Ln2Hi = 0.693147180369123816490;   // the high 32 bits of ln 2
    private const double Ln2Lo = 1.90821492927058770002e-10; // ln 2 − Ln2Hi
    private const double Shifter = 6755399441055744.0;        // 1.5·2^52: adding it rounds to an integer in the low bits

    // tanh(x) = x + x³·Σ c_k x^(2k): Taylor coefficients of tanh.
    private const double T3 = -1.0 / 3, T5 = 2.0 / 15, T7 = -17.0 / 315, T9 = 62.0 / 2835, T11 = -1382.0 / 155925,
        T13 = 21844.0 / 6081075, T15 = -929569.0 / 638512875, T17 = 6404582.0 / 10854718875;

    // e^r = Σ r^n / n!, n = 0..12.
    private const double E2 = 1.0 / 2, E3 = 1.0 / 6, E4 = 1.0 / 24, E5 = 1.0 / 120, E6 = 1.0 / 720, E7 = 1.0 / 5040,
        E8 = 1.0 / 40320, E9 = 1.0 / 362880, E10 = 1.0 / 3628800, E11 = 1.0 / 39916800, E12 = 1.0 / 479001600;

    // Float: e^r − 1 = r + r²·Σ r^(n−2)/n!, n = 2..7; ln 2 = Ln2HiF + Ln2LoF with k·Ln2HiF exact for |k| < 2^15.
    private const float Log2EF = 1.44269504f;
    private const float Ln2HiF = 0.693359375f;
    private const float Ln2LoF = -2.12194440e-4f;
    private const float F2 = 1f / 2, F3 = 1f / 6, F4 = 1f / 24, F5 = 1f / 120, F6 = 1f / 720, F7 = 1f / 5040;
    private const float SigmoidLimit = 104f;
    private const float TanhLimit = 10f;
    private const float TwoToMinus64 = 1f / 18446744073709551616f;

    /// <summary>destination[i] = σ(x[i]) = 1/(1 + e^(−x[i])).</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="destination">[n]; may be <paramref name="x"/> itself.</param>
    /// <exception cref="ArgumentException">The destination is shorter than the source.</exception>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> destination) => Apply<SigmoidOperator>(x, destination);

    /// <summary>destination[i] = tanh(x[i]).</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="destination">[n]; may be <paramref name="x"/> itself.</param>
    /// <exception cref="ArgumentException">The destination is shorter than the source.</exception>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> destination) => Apply<TanhOperator>(x, destination);

    /// <summary>σ(x) for one value, with the same operations as the vector paths.</summary>
    public static float Sigmoid(float x) => Sigmoid<float, Lanes1>(x);

    /// <summary>tanh(x) for one value, with the same operations as the vector paths.</summary>
    public static float Tanh(float x) => Tanh<float, Lanes1>(x);

    /// <summary>σ in place: ours for float, TensorPrimitives' for double (whose σ is accurate and fast enough there).</summary>
    internal static void Sigmoid<T>(Span<T> values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            Sigmoid(MemoryMarshal.Cast<T, float>(values), MemoryMarshal.Cast<T, float>(values));
        else
            TP.Sigmoid<T>(values, values);
    }

    /// <summary>destination = tanh(x): ours for float, TensorPrimitives' for double.</summary>
    internal static void Tanh<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            Tanh(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(destination));
        else
            TP.Tanh<T>(x, destination);
    }

    /// <summary>σ of every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Sigmoid<TV, TL>(TV x)
        where TV : struct
        where TL : struct, IFloatLanes<TV>
    {
        // E = e^z, z = −|x|, as 2^(k+64)·(1 + q)·2^−64 so that 2^(k+64) stays a normal float down to k = −150.
        var z = TL.MaxLimit(TL.Broadcast(-SigmoidLimit), TL.NegativeAbs(x));
        var q = ExpMinusOneReduced<TV, TL>(z, out var shifted);
        var s = TL.PowerOfTwo(shifted, 64);
        var e = TL.Multiply(TL.FusedMultiplyAdd(s, q, s), TL.Broadcast(TwoToMinus64));
        var one = TL.Broadcast(1f);
        return TL.Divide(TL.SelectNegative(x, e, one), TL.Add(one, e));
    }

    /// <summary>tanh of every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Tanh<TV, TL>(TV x)
        where TV : struct
        where TL : struct, IFloatLanes<TV>
    {
        // m = e^(−2|x|) − 1 = 2^k·q + (2^k − 1), one rounding; tanh|x| = −m/(2 + m); 0 − m keeps tanh(0) = +0.
        var y = TL.Multiply(TL.MinLimit(TL.Broadcast(TanhLimit), TL.Abs(x)), TL.Broadcast(-2f));
        var q = ExpMinusOneReduced<TV, TL>(y, out var shifted);
        var s = TL.PowerOfTwo(shifted, 0);
        var m = TL.FusedMultiplyAdd(s, q, TL.Subtract(s, TL.Broadcast(1f)));
        var v = TL.Divide(TL.Subtract(TL.Broadcast(0f), m), TL.Add(TL.Broadcast(2f), m));
        return TL.OrSign(v, x);
    }

    // q = e^r − 1 for e^z = 2^k·(1 + q); shifted = k + 1.5·2^23 (k in its low mantissa bits).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpMinusOneReduced<TV, TL>(TV z, out TV shifted)
        where TV : struct
        where TL : struct, IFloatLanes<TV>
    {
        shifted = TL.FusedMultiplyAdd(z, TL.Broadcast(Log2EF), TL.Broadcast(FloatLanes.Shifter));
        var k = TL.Subtract(shifted, TL.Broadcast(FloatLanes.Shifter));
        var r = TL.FusedMultiplyAdd(k, TL.Broadcast(-Ln2HiF), z);
        r = TL.FusedMultiplyAdd(k, TL.Broadcast(-Ln2LoF), r);
        var p = TL.FusedMultiplyAdd(TL.Broadcast(F7), r, TL.Broadcast(F6));
        p = TL.FusedMultiplyAdd(p, r, TL.Broadcast(F5));
        p = TL.FusedMultiplyAdd(p, r, TL.Broadcast(F4));
        p = TL.FusedMultiplyAdd(p, r, TL.Broadcast(F3));
        p = TL.FusedMultiplyAdd(p, r, TL.Broadcast(F2));
        return TL.FusedMultiplyAdd(TL.Multiply(r, r), p, r);
    }

    private interface IUnaryOperator
    {
        static abstract TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV>;
    }

    private readonly struct SigmoidOperator : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Sigmoid<TV, TL>(x);
    }

    private readonly struct TanhOperator : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Tanh<TV, TL>(x);
    }

    // The one driver: the widest accelerated vector, then the scalar tail (same operations, same bits).
    private static void Apply<TOp>(ReadOnlySpan<float> x, Span<float> destination)
        where TOp : struct, IUnaryOperator
    {
        if (destination.Length < x.Length)
        {
            throw new ArgumentException($"destination has length {destination.Length} but the source has {x.Length} values.", nameof(destination));
        }

        ref float src = ref MemoryMarshal.GetReference(x);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                Lanes512.Store(TOp.Invoke<Vector512<float>, Lanes512>(Lanes512.Load(ref src, (nuint)i)), ref dst, (nuint)i);
        }
        else if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                LanesVector.Store(TOp.Invoke<Vector<float>, LanesVector>(LanesVector.Load(ref src, (nuint)i)), ref dst, (nuint)i);
        }

        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = TOp.Invoke<float, Lanes1>(Unsafe.Add(ref src, i));
    }

    /// <summary>values[i] = tanh(values[i]) in place.</summary>
    /// <param name="values">The values [n].</param>
    /// <remarks>
    /// On x86 without FMA (the Vector128 path) every fused multiply-add would be a call to the C library's software fma
    /// (121 µs for 1,000 values on Zen 4 with AVX2 disabled); there each one is a multiply then an add, and the polynomials
    /// run in Estrin's scheme, since without FMA the Horner chains' latency bounds the loop (7.4 µs; 2.4 µs with AVX2 and FMA). Both branches do
    /// the same in the vector body and in the scalar tail, so on one machine every position gives the same bits; the
    /// results differ by a few ulp between machines with and without FMA.
    /// </remarks>
    public static void Tanh(Span<double> values)
    {
        if (HasFusedMultiplyAdd)
        {
            TanhSpan<Fused>(values);
        }
        else
        {
            TanhSpan<Unfused>(values);
        }
    }

    /// <summary>tanh(x) for one value, with the same operations as the vector path.</summary>
    public static double Tanh(double x) => HasFusedMultiplyAdd ? Tanh<Fused>(x) : Tanh<Unfused>(x);

    /// <summary>tanh of every lane.</summary>
    public static Vector<double> Tanh(Vector<double> x) =>
        HasFusedMultiplyAdd ? Tanh<Vector<double>, DoubleLanesVector, Fused>(x) : Tanh<Vector<double>, DoubleLanesVector, Unfused>(x);

    /// <summary>The variant without FMA that <see cref="Tanh(Span{double})"/> runs on x86 without FMA (for tests on any machine).</summary>
    internal static void TanhWithoutFusedMultiplyAdd(Span<double> values) => TanhSpan<Unfused>(values);

    /// <summary>Its scalar form.</summary>
    internal static double TanhWithoutFusedMultiplyAdd(double x) => Tanh<Unfused>(x);

    /// <summary>Whether a fused multiply-add is one instruction here (a JIT-time constant).</summary>
    private static bool HasFusedMultiplyAdd => Fma.IsSupported || AdvSimd.Arm64.IsSupported;

    // Vector<double>, then the scalar tail (same operations, same bits). A Vector512 body was 2.4x slower on Zen 4.
    private static void TanhSpan<TM>(Span<double> values)
        where TM : struct, IFusion
    {
        ref double r = ref MemoryMarshal.GetReference(values);
        int n = values.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<double>.Count; i += Vector<double>.Count)
            {
                Tanh<Vector<double>, DoubleLanesVector, TM>(Vector.LoadUnsafe(ref r, (nuint)i)).StoreUnsafe(ref r, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref r, i) = Tanh<TM>(Unsafe.Add(ref r, i));
        }
    }

    private static double Tanh<TM>(double x)
        where TM : struct, IFusion
    {
        double a = Math.Min(Math.Abs(x), LargeLimit);
        double q;
        if (a < SmallLimit)
        {
            double x2 = a * a;
            double p;
            if (TM.IsFused)
            {
                p = TM.MultiplyAdd(T17, x2, T15);
                p = TM.MultiplyAdd(p, x2, T13);
                p = TM.MultiplyAdd(p, x2, T11);
                p = TM.MultiplyAdd(p, x2, T9);
                p = TM.MultiplyAdd(p, x2, T7);
                p = TM.MultiplyAdd(p, x2, T5);
                p = TM.MultiplyAdd(p, x2, T3);
            }
            else
            {
                // Estrin's scheme in x2: without FMA the step is bound by the latency of Horner's chain.
                double x4 = x2 * x2;
                double x8 = x4 * x4;
                double lo = TM.MultiplyAdd(TM.MultiplyAdd(T9, x2, T7), x4, TM.MultiplyAdd(T5, x2, T3));
                double hi = TM.MultiplyAdd(TM.MultiplyAdd(T17, x2, T15), x4, TM.MultiplyAdd(T13, x2, T11));
                p = TM.MultiplyAdd(hi, x8, lo);
            }

            q = TM.MultiplyAdd(a * x2, p, a);
        }
        else
        {
            q = Large<TM>(a);
        }

        // tanh is odd: the sign of x (also for -0).
        return double.IsNaN(x) ? x : BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(q) | (BitConverter.DoubleToInt64Bits(x) & long.MinValue));
    }

    // (1 − E)/(1 + E), E = e^(−2a), for a in [1/8, 22].
    private static double Large<TM>(double a)
        where TM : struct, IFusion
    {
        double y = -2 * a;
        double t = TM.MultiplyAdd(y, Log2E, Shifter);
        double k = t - Shifter;
        double rr = TM.MultiplyAdd(k, -Ln2Hi, y);
        rr = TM.MultiplyAdd(k, -Ln2Lo, rr);
        double e = ExpPolynomial<TM>(rr);
        long bits = (BitConverter.DoubleToInt64Bits(t) - BitConverter.DoubleToInt64Bits(Shifter) + 1023) << 52;
        e *= BitConverter.Int64BitsToDouble(bits);
        return (1 - e) / (1 + e);
    }

    private static double ExpPolynomial<TM>(double r)
        where TM : struct, IFusion
    {
        if (!TM.IsFused)
        {
            // Estrin's scheme (see the small polynomial).
            double r2 = r * r;
            double r4 = r2 * r2;
            double r8 = r4 * r4;
            double b0 = TM.MultiplyAdd(TM.MultiplyAdd(E3, r, E2), r2, TM.MultiplyAdd(1.0, r, 1.0));
            double b1 = TM.MultiplyAdd(TM.MultiplyAdd(E7, r, E6), r2, TM.MultiplyAdd(E5, r, E4));
            double b2 = TM.MultiplyAdd(TM.MultiplyAdd(E11, r, E10), r2, TM.MultiplyAdd(E9, r, E8));
            return TM.MultiplyAdd(TM.MultiplyAdd(E12, r4, b2), r8, TM.MultiplyAdd(b1, r4, b0));
        }

        double p = TM.MultiplyAdd(E12, r, E11);
        p = TM.MultiplyAdd(p, r, E10);
        p = TM.MultiplyAdd(p, r, E9);
        p = TM.MultiplyAdd(p, r, E8);
        p = TM.MultiplyAdd(p, r, E7);
        p = TM.MultiplyAdd(p, r, E6);
        p = TM.MultiplyAdd(p, r, E5);
        p = TM.MultiplyAdd(p, r, E4);
        p = TM.MultiplyAdd(p, r, E3);
        p = TM.MultiplyAdd(p, r, E2);
        p = TM.MultiplyAdd(p, r, 1.0);
        return TM.MultiplyAdd(p, r, 1.0);
    }

    /// <summary>tanh of every lane: the scalar function's operations on both branches, then a select.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Tanh<TV, TL, TM>(TV x)
        where TV : struct
        where TL : struct, IDoubleLanes<TV>
        where TM : struct, IFusion
    {
        var a = TL.Min(TL.Abs(x), TL.Broadcast(LargeLimit));

        // Small |x|: the odd polynomial.
        var x2 = TL.Multiply(a, a);
        TV p;
        if (TM.IsFused)
        {
            p = MultiplyAdd<TV, TL, TM>(TL.Broadcast(T17), x2, TL.Broadcast(T15));
            p = MultiplyAdd<TV, TL, TM>(p, x2, TL.Broadcast(T13));
            p = MultiplyAdd<TV, TL, TM>(p, x2, TL.Broadcast(T11));
            p = MultiplyAdd<TV, TL, TM>(p, x2, TL.Broadcast(T9));
            p = MultiplyAdd<TV, TL, TM>(p, x2, TL.Broadcast(T7));
            p = MultiplyAdd<TV, TL, TM>(p, x2, TL.Broadcast(T5));
            p = MultiplyAdd<TV, TL, TM>(p, x2, TL.Broadcast(T3));
        }
        else
        {
            var x4 = TL.Multiply(x2, x2);
            var x8 = TL.Multiply(x4, x4);
            var lo = MultiplyAdd<TV, TL, TM>(MultiplyAdd<TV, TL, TM>(TL.Broadcast(T9), x2, TL.Broadcast(T7)), x4, MultiplyAdd<TV, TL, TM>(TL.Broadcast(T5), x2, TL.Broadcast(T3)));
            var hi = MultiplyAdd<TV, TL, TM>(MultiplyAdd<TV, TL, TM>(TL.Broadcast(T17), x2, TL.Broadcast(T15)), x4, MultiplyAdd<TV, TL, TM>(TL.Broadcast(T13), x2, TL.Broadcast(T11)));
            p = MultiplyAdd<TV, TL, TM>(hi, x8, lo);
        }

        var small = MultiplyAdd<TV, TL, TM>(TL.Multiply(a, x2), p, a);

        // Large |x|: (1 − E)/(1 + E), E = e^(−2|x|).
        var y = TL.Multiply(a, TL.Broadcast(-2.0));
        var t = MultiplyAdd<TV, TL, TM>(y, TL.Broadcast(Log2E), TL.Broadcast(Shifter));
        var k = TL.Subtract(t, TL.Broadcast(Shifter));
        var rr = MultiplyAdd<TV, TL, TM>(k, TL.Broadcast(-Ln2Hi), y);
        rr = MultiplyAdd<TV, TL, TM>(k, TL.Broadcast(-Ln2Lo), rr);
        var e = ExpPolynomial<TV, TL, TM>(rr);
        e = TL.Multiply(e, TL.PowerOfTwo(t, Shifter));
        var one = TL.Broadcast(1.0);
        var large = TL.Divide(TL.Subtract(one, e), TL.Add(one, e));

        var q = TL.SelectLess(a, TL.Broadcast(SmallLimit), small, large);
        // tanh is odd: the sign of x (also for -0); NaN lanes: x itself (every comparison above is false for them).
        return TL.SelectNaN(x, TL.OrSign(q, x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpPolynomial<TV, TL, TM>(TV r)
        where TV : struct
        where TL : struct, IDoubleLanes<TV>
        where TM : struct, IFusion
    {
        if (!TM.IsFused)
        {
            var r2 = TL.Multiply(r, r);
            var r4 = TL.Multiply(r2, r2);
            var r8 = TL.Multiply(r4, r4);
            var b0 = MultiplyAdd<TV, TL, TM>(MultiplyAdd<TV, TL, TM>(TL.Broadcast(E3), r, TL.Broadcast(E2)), r2, MultiplyAdd<TV, TL, TM>(TL.Broadcast(1.0), r, TL.Broadcast(1.0)));
            var b1 = MultiplyAdd<TV, TL, TM>(MultiplyAdd<TV, TL, TM>(TL.Broadcast(E7), r, TL.Broadcast(E6)), r2, MultiplyAdd<TV, TL, TM>(TL.Broadcast(E5), r, TL.Broadcast(E4)));
            var b2 = MultiplyAdd<TV, TL, TM>(MultiplyAdd<TV, TL, TM>(TL.Broadcast(E11), r, TL.Broadcast(E10)), r2, MultiplyAdd<TV, TL, TM>(TL.Broadcast(E9), r, TL.Broadcast(E8)));
            return MultiplyAdd<TV, TL, TM>(MultiplyAdd<TV, TL, TM>(TL.Broadcast(E12), r4, b2), r8, MultiplyAdd<TV, TL, TM>(b1, r4, b0));
        }

        var e = MultiplyAdd<TV, TL, TM>(TL.Broadcast(E12), r, TL.Broadcast(E11));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E10));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E9));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E8));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E7));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E6));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E5));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E4));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E3));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(E2));
        e = MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(1.0));
        return MultiplyAdd<TV, TL, TM>(e, r, TL.Broadcast(1.0));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV MultiplyAdd<TV, TL, TM>(TV left, TV right, TV addend)
        where TV : struct
        where TL : struct, IDoubleLanes<TV>
        where TM : struct, IFusion
        => TM.IsFused ? TL.FusedMultiplyAdd(left, right, addend) : TL.Add(TL.Multiply(left, right), addend);

    /// <summary>How a multiply-add rounds: once (fused) or twice (multiply, then add).</summary>
    private interface IFusion
    {
        static abstract bool IsFused { get; }

        static abstract double MultiplyAdd(double left, double right, double addend);
    }

    private readonly struct Fused : IFusion
    {
        public static bool IsFused => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static double MultiplyAdd(double left, double right, double addend) => Math.FusedMultiplyAdd(left, right, addend);
    }

    private readonly struct Unfused : IFusion
    {
        public static bool IsFused => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static double MultiplyAdd(double left, double right, double addend) => (left * right) + addend;
    }

    /// <summary>The double operations of the vector tanh over one vector type.</summary>
    private interface IDoubleLanes<TV>
        where TV : struct
    {
        static abstract TV Broadcast(double value);

        static abstract TV Add(TV left, TV right);

        static abstract TV Subtract(TV left, TV right);

        static abstract TV Multiply(TV left, TV right);

        static abstract TV Divide(TV left, TV right);

        static abstract TV FusedMultiplyAdd(TV left, TV right, TV addend);

        static abstract TV Min(TV left, TV right);

        static abstract TV Abs(TV x);

        /// <summary>2^k for t = k + shifter (k in the low mantissa bits of t).</summary>
        static abstract TV PowerOfTwo(TV t, double shifter);

        /// <summary>left &lt; right ? ifLess : otherwise per lane.</summary>
        static abstract TV SelectLess(TV left, TV right, TV ifLess, TV otherwise);

        /// <summary>magnitude with the sign bit of <paramref name="sign"/> ORed in.</summary>
        static abstract TV OrSign(TV magnitude, TV sign);

        /// <summary>x where x is NaN, value elsewhere.</summary>
        static abstract TV SelectNaN(TV x, TV value);
    }

    private readonly struct DoubleLanesVector : IDoubleLanes<Vector<double>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Broadcast(double value) => new(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Add(Vector<double> left, Vector<double> right) => left + right;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Subtract(Vector<double> left, Vector<double> right) => left - right;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Multiply(Vector<double> left, Vector<double> right) => left * right;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Divide(Vector<double> left, Vector<double> right) => left / right;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> FusedMultiplyAdd(Vector<double> left, Vector<double> right, Vector<double> addend) => Vector.FusedMultiplyAdd(left, right, addend);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Min(Vector<double> left, Vector<double> right) => Vector.Min(left, right);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Abs(Vector<double> x) => Vector.Abs(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> PowerOfTwo(Vector<double> t, double shifter) =>
            Vector.AsVectorDouble(Vector.ShiftLeft(Vector.AsVectorInt64(t) - Vector.AsVectorInt64(new Vector<double>(shifter)) + new Vector<long>(1023), 52));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> SelectLess(Vector<double> left, Vector<double> right, Vector<double> ifLess, Vector<double> otherwise) =>
            Vector.ConditionalSelect(Vector.LessThan(left, right), ifLess, otherwise);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> OrSign(Vector<double> magnitude, Vector<double> sign) =>
            Vector.AsVectorDouble(Vector.AsVectorInt64(magnitude) | (Vector.AsVectorInt64(sign) & new Vector<long>(long.MinValue)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> SelectNaN(Vector<double> x, Vector<double> value) => Vector.ConditionalSelect(Vector.Equals(x, x), value, x);
    }
}
