using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
    private const float TwoTo64 = 18446744073709551616f;
    private const float ExpUpperLimit = 88.8f;

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

    /// <summary>destination[i] = e^x[i].</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="destination">[n]; may be <paramref name="x"/> itself.</param>
    /// <exception cref="ArgumentException">The destination is shorter than the source.</exception>
    public static void Exp(ReadOnlySpan<float> x, Span<float> destination) => Apply<ExpOperator>(x, destination);

    /// <summary>e^x for one value, with the same operations as the vector paths.</summary>
    public static float Exp(float x) => Exp<float, Lanes1>(x);

    /// <summary>σ in place, ours in float and double (TensorPrimitives' σ gives other bits on each vector width).</summary>
    internal static void Sigmoid<T>(Span<T> values)
        where T : unmanaged, IFloatingPointIeee754<T> => Sigmoid<T>(values, values);

    /// <summary>destination = σ(x), ours in float and double.</summary>
    internal static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => ApplyEither<SigmoidOperator, T>(x, destination);

    /// <summary>destination = tanh(x), ours in float and double (the same bits as <see cref="Tanh(ReadOnlySpan{double}, Span{double})"/>:
    /// a padded last vector gives each value the operations of the scalar tail).</summary>
    internal static void Tanh<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => ApplyEither<TanhOperator, T>(x, destination);

    /// <summary>destination = e^x, ours in float and double.</summary>
    internal static void Exp<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => ApplyEither<ExpOperator, T>(x, destination);

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

    /// <summary>e^x of every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Exp<TV, TL>(TV x)
        where TV : struct
        where TL : struct, IFloatLanes<TV>
    {
        // z in [−104, 88.8] (beyond, e^z rounds to 0 or overflows; NaN passes); e^z = 2^k·(1 + q) as
        // 2^(k ± 64)·(1 + q)·2^(∓64), so that 2^(k ± 64) stays a normal float for k in [−150, 128].
        var z = TL.MinLimit(TL.Broadcast(ExpUpperLimit), TL.MaxLimit(TL.Broadcast(-SigmoidLimit), x));
        var q = ExpMinusOneReduced<TV, TL>(z, out var shifted);
        var s = TL.SelectNegative(z, TL.PowerOfTwo(shifted, 64), TL.PowerOfTwo(shifted, -64));
        return TL.Multiply(TL.FusedMultiplyAdd(s, q, s), TL.SelectNegative(z, TL.Broadcast(TwoToMinus64), TL.Broadcast(TwoTo64)));
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

    private readonly partial struct SigmoidOperator : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Sigmoid<TV, TL>(x);
    }

    private readonly partial struct TanhOperator : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Tanh<TV, TL>(x);
    }

    private readonly partial struct ExpOperator : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Exp<TV, TL>(x);
    }

    // The one driver: the widest accelerated vector, then the tail in a padded vector (same operations, same bits).
    private static void Apply<TOp>(ReadOnlySpan<float> x, Span<float> destination)
        where TOp : struct, IUnaryOperator
    {
        CheckDestination(x.Length, destination.Length);
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

        if (i < n && Vector.IsHardwareAccelerated)
        {
            // The last few values in one zero-padded vector: the same operations as the scalar lanes (and the same bits),
            // a dozen times faster than one value at a time when a short row (softmax's classes) is all tail.
            Span<float> lanes = stackalloc float[Vector512<float>.Count];
            lanes.Clear();
            x[i..n].CopyTo(lanes);
            ref float lane = ref MemoryMarshal.GetReference(lanes);
            if (Vector512.IsHardwareAccelerated)
                Lanes512.Store(TOp.Invoke<Vector512<float>, Lanes512>(Lanes512.Load(ref lane, 0)), ref lane, 0);
            else
            {
                for (int j = 0; j < n - i; j += Vector<float>.Count)
                    LanesVector.Store(TOp.Invoke<Vector<float>, LanesVector>(LanesVector.Load(ref lane, (nuint)j)), ref lane, (nuint)j);
            }

            lanes[..(n - i)].CopyTo(destination[i..]);
            return;
        }

        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = TOp.Invoke<float, Lanes1>(Unsafe.Add(ref src, i));
    }

    /// <summary>values[i] = tanh(values[i]) in place.</summary>
    /// <param name="values">The values [n].</param>
    public static void Tanh(Span<double> values) => Tanh(values, values);

    /// <summary>destination[i] = tanh(x[i]).</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="destination">[n]; may be <paramref name="x"/> itself.</param>
    /// <exception cref="ArgumentException">The destination is shorter than the source.</exception>
    public static void Tanh(ReadOnlySpan<double> x, Span<double> destination)
    {
        CheckDestination(x.Length, destination.Length);
        ref double src = ref MemoryMarshal.GetReference(x);
        ref double dst = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<double>.Count; i += Vector<double>.Count)
            {
                Tanh(Vector.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = Tanh(Unsafe.Add(ref src, i));
        }
    }

    /// <summary>destination[i] = σ(x[i]) = 1/(1 + e^(−x[i])).</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="destination">[n]; may be <paramref name="x"/> itself.</param>
    /// <exception cref="ArgumentException">The destination is shorter than the source.</exception>
    public static void Sigmoid(ReadOnlySpan<double> x, Span<double> destination) => ApplyDouble<SigmoidOperator>(x, destination);

    /// <summary>destination[i] = e^x[i].</summary>
    /// <param name="x">The values [n].</param>
    /// <param name="destination">[n]; may be <paramref name="x"/> itself.</param>
    /// <exception cref="ArgumentException">The destination is shorter than the source.</exception>
    public static void Exp(ReadOnlySpan<double> x, Span<double> destination) => ApplyDouble<ExpOperator>(x, destination);

    /// <summary>σ(x) for one value: the vector path on one lane.</summary>
    public static double Sigmoid(double x) => Sigmoid(new Vector<double>(x))[0];

    /// <summary>e^x for one value: the vector path on one lane.</summary>
    public static double Exp(double x) => Exp(new Vector<double>(x))[0];

    /// <summary>σ of every lane: 1/(1 + E) for x ≥ 0, E/(1 + E) for x &lt; 0, E = e^(−|x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Sigmoid(Vector<double> x) => Sigmoid<OneRounding>(x);

    /// <summary>σ of every lane, with <typeparamref name="TRound"/>'s multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Sigmoid<TRound>(Vector<double> x)
        where TRound : struct, IMultiplyAddRounding
    {
        var e = Exp<TRound>(Vector.AsVectorDouble(Vector.AsVectorInt64(x) | new Vector<long>(long.MinValue)));
        var one = Vector<double>.One;
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<double>.Zero), e, one) / (one + e);
    }

    /// <summary>e^x of every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Exp(Vector<double> x) => Exp<OneRounding>(x);

    /// <summary>e^x of every lane, with <typeparamref name="TRound"/>'s multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Exp<TRound>(Vector<double> x)
        where TRound : struct, IMultiplyAddRounding
    {
        // y in [−746, 710] (beyond, e^y rounds to 0 or overflows; NaN passes); e^y = 2^k·p(r) as
        // 2^(k ± 512)·p(r)·2^(∓512), so that 2^(k ± 512) stays a normal double for k in [−1076, 1025].
        var y = Vector.ConditionalSelect(Vector.LessThan(new Vector<double>(ExpLowerLimit), x), x, new Vector<double>(ExpLowerLimit));
        y = Vector.ConditionalSelect(Vector.GreaterThan(new Vector<double>(ExpUpperLimitDouble), y), y, new Vector<double>(ExpUpperLimitDouble));
        y = Vector.ConditionalSelect(Vector.Equals(x, x), y, x);
        var t = TRound.MultiplyAdd(y, new Vector<double>(Log2E), new Vector<double>(Shifter));
        var k = t - new Vector<double>(Shifter);
        var rr = TRound.MultiplyAdd(k, new Vector<double>(-Ln2Hi), y);
        rr = TRound.MultiplyAdd(k, new Vector<double>(-Ln2Lo), rr);
        var p = ExpPolynomial<TRound>(rr);
        var negative = Vector.LessThan(y, Vector<double>.Zero);
        var bias = Vector.ConditionalSelect(negative, new Vector<long>(1023 + 512), new Vector<long>(1023 - 512));
        var scale = Vector.AsVectorDouble(Vector.ShiftLeft(Vector.AsVectorInt64(t) - Vector.AsVectorInt64(new Vector<double>(Shifter)) + bias, 52));
        return p * scale * Vector.ConditionalSelect(negative, new Vector<double>(TwoToMinus512), new Vector<double>(TwoTo512));
    }

    private const double ExpLowerLimit = -746.0;
    private const double ExpUpperLimitDouble = 710.0;
    private const double TwoTo512 = 1.3407807929942597e154;
    private const double TwoToMinus512 = 7.458340731200207e-155;

    private interface IDoubleOperator
    {
        static abstract Vector<double> Invoke(Vector<double> x);
    }

    private readonly partial struct SigmoidOperator : IDoubleOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Invoke(Vector<double> x) => Sigmoid(x);
    }

    private readonly partial struct ExpOperator : IDoubleOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Invoke(Vector<double> x) => Exp(x);
    }

    private readonly partial struct TanhOperator : IDoubleOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Invoke(Vector<double> x) => Tanh(x);
    }

    // The double driver: whole vectors, then the last few values in one zero-padded vector (so every value goes through
    // the same operations, wherever it lies in the span).
    private static void ApplyDouble<TOp>(ReadOnlySpan<double> x, Span<double> destination)
        where TOp : struct, IDoubleOperator
    {
        CheckDestination(x.Length, destination.Length);
        ref double src = ref MemoryMarshal.GetReference(x);
        ref double dst = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0, w = Vector<double>.Count;
        for (; i <= n - w; i += w)
            TOp.Invoke(Vector.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
        if (i < n)
        {
            Span<double> lanes = stackalloc double[w];
            lanes.Clear();
            x[i..].CopyTo(lanes);
            TOp.Invoke(new Vector<double>(lanes)).CopyTo(lanes);
            lanes[..(n - i)].CopyTo(destination[i..]);
        }
    }

    private static void CheckDestination(int source, int destination)
    {
        if (destination < source)
        {
            throw new ArgumentException($"destination has length {destination} but the source has {source} values.", nameof(destination));
        }
    }

    /// <summary>tanh(x) for one value, with the same operations as the vector path.</summary>
    public static double Tanh(double x)
    {
        double a = Math.Min(Math.Abs(x), LargeLimit);
        double q;
        if (a < SmallLimit)
        {
            double x2 = a * a;
            double p = Math.FusedMultiplyAdd(T17, x2, T15);
            p = Math.FusedMultiplyAdd(p, x2, T13);
            p = Math.FusedMultiplyAdd(p, x2, T11);
            p = Math.FusedMultiplyAdd(p, x2, T9);
            p = Math.FusedMultiplyAdd(p, x2, T7);
            p = Math.FusedMultiplyAdd(p, x2, T5);
            p = Math.FusedMultiplyAdd(p, x2, T3);
            q = Math.FusedMultiplyAdd(a * x2, p, a);
        }
        else
        {
            q = Large(a);
        }

        // tanh is odd: the sign of x (also for -0).
        return double.IsNaN(x) ? x : BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(q) | (BitConverter.DoubleToInt64Bits(x) & long.MinValue));
    }

    // (1 − E)/(1 + E), E = e^(−2a), for a in [1/8, 22].
    private static double Large(double a)
    {
        double y = -2 * a;
        double t = Math.FusedMultiplyAdd(y, Log2E, Shifter);
        double k = t - Shifter;
        double rr = Math.FusedMultiplyAdd(k, -Ln2Hi, y);
        rr = Math.FusedMultiplyAdd(k, -Ln2Lo, rr);
        double e = ExpPolynomial(rr);
        long bits = (BitConverter.DoubleToInt64Bits(t) - BitConverter.DoubleToInt64Bits(Shifter) + 1023) << 52;
        e *= BitConverter.Int64BitsToDouble(bits);
        return (1 - e) / (1 + e);
    }

    /// <summary>tanh of every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Tanh(Vector<double> x)
    {
        var a = Vector.Min(Vector.Abs(x), new Vector<double>(LargeLimit));

        // Small |x|: the odd polynomial.
        var x2 = a * a;
        var p = ExactFma.MultiplyAdd(new Vector<double>(T17), x2, new Vector<double>(T15));
        p = ExactFma.MultiplyAdd(p, x2, new Vector<double>(T13));
        p = ExactFma.MultiplyAdd(p, x2, new Vector<double>(T11));
        p = ExactFma.MultiplyAdd(p, x2, new Vector<double>(T9));
        p = ExactFma.MultiplyAdd(p, x2, new Vector<double>(T7));
        p = ExactFma.MultiplyAdd(p, x2, new Vector<double>(T5));
        p = ExactFma.MultiplyAdd(p, x2, new Vector<double>(T3));
        var small = ExactFma.MultiplyAdd(a * x2, p, a);

        // Large |x|: (1 − E)/(1 + E), E = e^(−2|x|).
        var y = a * new Vector<double>(-2.0);
        var t = ExactFma.MultiplyAdd(y, new Vector<double>(Log2E), new Vector<double>(Shifter));
        var k = t - new Vector<double>(Shifter);
        var rr = ExactFma.MultiplyAdd(k, new Vector<double>(-Ln2Hi), y);
        rr = ExactFma.MultiplyAdd(k, new Vector<double>(-Ln2Lo), rr);
        var e = ExpPolynomial(rr);
        var bits = Vector.ShiftLeft(Vector.AsVectorInt64(t) - Vector.AsVectorInt64(new Vector<double>(Shifter)) + new Vector<long>(1023), 52);
        e *= Vector.AsVectorDouble(bits);
        var one = Vector<double>.One;
        var large = (one - e) / (one + e);

        var q = Vector.ConditionalSelect(Vector.LessThan(a, new Vector<double>(SmallLimit)), small, large);
        // tanh is odd: the sign of x (also for -0).
        var result = Vector.AsVectorDouble(Vector.AsVectorInt64(q) | (Vector.AsVectorInt64(x) & new Vector<long>(long.MinValue)));
        // NaN lanes: x itself (every comparison above is false for them).
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    private static double ExpPolynomial(double r)
    {
        double p = Math.FusedMultiplyAdd(E12, r, E11);
        p = Math.FusedMultiplyAdd(p, r, E10);
        p = Math.FusedMultiplyAdd(p, r, E9);
        p = Math.FusedMultiplyAdd(p, r, E8);
        p = Math.FusedMultiplyAdd(p, r, E7);
        p = Math.FusedMultiplyAdd(p, r, E6);
        p = Math.FusedMultiplyAdd(p, r, E5);
        p = Math.FusedMultiplyAdd(p, r, E4);
        p = Math.FusedMultiplyAdd(p, r, E3);
        p = Math.FusedMultiplyAdd(p, r, E2);
        p = Math.FusedMultiplyAdd(p, r, 1.0);
        return Math.FusedMultiplyAdd(p, r, 1.0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpPolynomial(Vector<double> r) => ExpPolynomial<OneRounding>(r);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpPolynomial<TRound>(Vector<double> r)
        where TRound : struct, IMultiplyAddRounding
    {
        var p = TRound.MultiplyAdd(new Vector<double>(E12), r, new Vector<double>(E11));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E10));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E9));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E8));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E7));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E6));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E5));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E4));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E3));
        p = TRound.MultiplyAdd(p, r, new Vector<double>(E2));
        p = TRound.MultiplyAdd(p, r, Vector<double>.One);
        return TRound.MultiplyAdd(p, r, Vector<double>.One);
    }

    /// <summary>
    /// destination = tanh(x) with every multiply-add rounded twice, in float and double: the reservoir step's
    /// activation. The same bits on every CPU, FMA or not, with no emulation (so a CPU without FMA runs it at full
    /// speed); the engine's cells keep <see cref="Tanh{T}"/>, whose multiply-adds round once.
    /// </summary>
    /// <remarks>
    /// Float: the float tanh and σ of this class, their multiply-adds split (measured error 2.5 float ulp at most, as with
    /// one rounding; TwoRoundingsMathTests holds them to 3). Double: tanh|x| = −m/(2 + m) with m = e^(−2|x|) − 1 =
    /// 2^k·q + (2^k − 1) (2^k·q is exact, so one rounding), q = e^r − 1 = r + r²·P(r), P a polynomial of degree 10 fitted
    /// to (e^r − 1 − r)/r² (below 3e-18 relative to q for |r| ≤ 0.35) by Estrin's scheme, |x| clamped at 22: one
    /// polynomial and one division per element where <see cref="Tanh(Vector{double})"/> runs two polynomials. Error:
    /// 4.8e-16 relative at most over the points of TwoRoundingsMathTests (<see cref="Tanh(Vector{double})"/>: 1.2e-15);
    /// NaN stays NaN; the sign of x is kept (also for −0). Every element goes
    /// through the vector operations (the tail in a zero-padded vector), so its result does not depend on its position.
    /// </remarks>
    internal static void TanhTwoRoundings<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double) && UseAvxDoubleTanh)
        {
            TanhTwoRoundingsAvx(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(destination));
            return;
        }

        ApplyEither<TwoRoundingsTanhOperator, T>(x, destination);
    }

    /// <summary>Whether the double two-roundings tanh runs four lanes through AVX: on a CPU with AVX but not AVX2.</summary>
    internal static bool UseAvxDoubleTanh => System.Runtime.Intrinsics.X86.Avx.IsSupported && !Vector256.IsHardwareAccelerated;

    /// <summary>values = σ(values) in place with every multiply-add rounded twice (see <see cref="TanhTwoRoundings{T}"/>).</summary>
    internal static void SigmoidTwoRoundings<T>(Span<T> values)
        where T : unmanaged, IFloatingPointIeee754<T> => ApplyEither<TwoRoundingsSigmoidOperator, T>(values, values);

    // The float or the double driver, by T.
    private static void ApplyEither<TOp, T>(ReadOnlySpan<T> x, Span<T> destination)
        where TOp : struct, IUnaryOperator, IDoubleOperator
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            Apply<TOp>(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(destination));
        else if (typeof(T) == typeof(double))
            ApplyDouble<TOp>(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(destination));
        else
            throw new NotSupportedException($"{typeof(T).Name}: float and double only.");
    }

    /// <summary>tanh of every lane, every multiply-add rounded twice (see <see cref="TanhTwoRoundings{T}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV TanhTwoRoundings<TV, TL>(TV x)
        where TV : struct
        where TL : struct, IDoubleLanes<TV>
    {
        // a = min(|x|, 22), a NaN passing through; y = −2a = k·ln 2 + r.
        var a = TL.MinLimit(TL.Broadcast(LargeLimit), TL.Abs(x));
        var y = TL.Multiply(a, TL.Broadcast(-2.0));
        var t = MultiplyAdd(y, TL.Broadcast(Log2E), TL.Broadcast(Shifter));
        var k = TL.Subtract(t, TL.Broadcast(Shifter));
        var r = MultiplyAdd(k, TL.Broadcast(-Ln2Hi), y);
        r = MultiplyAdd(k, TL.Broadcast(-Ln2Lo), r);

        // q = e^r − 1 = r + r²·P(r), P of degree 10 by Estrin's scheme (depth 4 instead of Horner's 10).
        var r2 = TL.Multiply(r, r);
        var r4 = TL.Multiply(r2, r2);
        var p01 = MultiplyAdd(TL.Broadcast(P1), r, TL.Broadcast(P0));
        var p23 = MultiplyAdd(TL.Broadcast(P3), r, TL.Broadcast(P2));
        var p45 = MultiplyAdd(TL.Broadcast(P5), r, TL.Broadcast(P4));
        var p67 = MultiplyAdd(TL.Broadcast(P7), r, TL.Broadcast(P6));
        var p89 = MultiplyAdd(TL.Broadcast(P9), r, TL.Broadcast(P8));
        var p810 = MultiplyAdd(TL.Broadcast(P10), r2, p89);
        var p03 = MultiplyAdd(p23, r2, p01);
        var p47 = MultiplyAdd(p67, r2, p45);
        var p = MultiplyAdd(MultiplyAdd(p810, r4, p47), r4, p03);
        var q = MultiplyAdd(r2, p, r);

        // m = 2^k·q + (2^k − 1): 2^k·q is exact; tanh a = −m/(2 + m), 0 − m keeping tanh(0) = +0.
        var s = TL.PowerOfTwo(t, 1023 - ShifterBits);
        var m = TL.Add(TL.Multiply(s, q), TL.Subtract(s, TL.Broadcast(1.0)));
        var v = TL.Divide(TL.Subtract(TL.Broadcast(0.0), m), TL.Add(TL.Broadcast(2.0), m));

        // tanh is odd: the sign of x (also for −0); a NaN lane is NaN all the way through.
        return TL.OrSign(v, x);

        // a·b, rounded, + c, rounded.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV MultiplyAdd(TV a, TV b, TV c) => TL.Add(TL.Multiply(a, b), c);
    }

    /// <summary>
    /// The two-roundings tanh in doubles on a CPU with AVX but not AVX2, four lanes at a time (there
    /// <see cref="Vector{T}"/> holds two): whole vectors, then the last few values in one zero-padded vector, as
    /// <see cref="ApplyDouble{TOp}"/>. The same bits as the <see cref="Vector{T}"/> form, in half the vector operations.
    /// </summary>
    internal static void TanhTwoRoundingsAvx(ReadOnlySpan<double> x, Span<double> destination)
    {
        CheckDestination(x.Length, destination.Length);
        int n = x.Length, w = DoubleLanes<Vector256<double>>.Count, whole = n / w * w;
        TanhTwoRoundingsAvxVectors(x[..whole], destination);
        if (whole < n)
        {
            Span<double> lanes = stackalloc double[w];
            lanes.Clear();
            x[whole..].CopyTo(lanes);
            TanhTwoRoundingsAvxVectors(lanes, lanes);
            lanes[..(n - whole)].CopyTo(destination[whole..]);
        }
    }

    // Whole vectors of four (x.Length a multiple of four): one compiled copy of the function for the body and the padded tail.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TanhTwoRoundingsAvxVectors(ReadOnlySpan<double> x, Span<double> destination)
    {
        ref double src = ref MemoryMarshal.GetReference(x);
        ref double dst = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i += DoubleLanes<Vector256<double>>.Count)
        {
            var value = DoubleLanes<Vector256<double>>.Load(ref src, (nuint)i);
            DoubleLanes<Vector256<double>>.Store(TanhTwoRoundings<Vector256<double>, DoubleLanes<Vector256<double>>>(value), ref dst, (nuint)i);
        }
    }

    // (e^r − 1 − r)/r² ≈ Σ P_n·r^n on |r| ≤ 0.35: Chebyshev fit of degree 10 (mpmath.chebyfit), rounded to double; it
    // adds below 3e-18 relative to e^r − 1 (the Taylor series would need degree 11 for that).
    private const double P0 = 0.5, P1 = 0.1666666666666667, P2 = 0.04166666666666667, P3 = 0.008333333333325539,
        P4 = 0.0013888888888883323, P5 = 0.0001984126987688064, P6 = 2.4801587327018815e-05, P7 = 2.75572528132645e-06,
        P8 = 2.7557271795757454e-07, P9 = 2.510628299752617e-08, P10 = 2.0915448199097186e-09;

    private const long ShifterBits = 0x4338000000000000;   // the bits of Shifter

    private readonly struct TwoRoundingsTanhOperator : IUnaryOperator, IDoubleOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Tanh<TV, TwoRoundings<TV, TL>>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Invoke(Vector<double> x) => TanhTwoRoundings<Vector<double>, DoubleLanes<Vector<double>>>(x);
    }

    private readonly struct TwoRoundingsSigmoidOperator : IUnaryOperator, IDoubleOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TL>(TV x)
            where TV : struct
            where TL : struct, IFloatLanes<TV> => Sigmoid<TV, TwoRoundings<TV, TL>>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> Invoke(Vector<double> x) => Sigmoid<TwoRoundings>(x);
    }

    /// <summary>How a double multiply-add rounds: a·b + c.</summary>
    private interface IMultiplyAddRounding
    {
        static abstract Vector<double> MultiplyAdd(Vector<double> a, Vector<double> b, Vector<double> c);
    }

    /// <summary>Once, on every CPU (<see cref="ExactFma"/>).</summary>
    private readonly struct OneRounding : IMultiplyAddRounding
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> MultiplyAdd(Vector<double> a, Vector<double> b, Vector<double> c) => ExactFma.MultiplyAdd(a, b, c);
    }

    /// <summary>Twice: a·b rounded, then the sum rounded (the JIT never fuses them).</summary>
    private readonly struct TwoRoundings : IMultiplyAddRounding
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<double> MultiplyAdd(Vector<double> a, Vector<double> b, Vector<double> c) => (a * b) + c;
    }
}
