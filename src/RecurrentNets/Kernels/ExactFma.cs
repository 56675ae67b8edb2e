using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace RecurrentNets.Kernels;

/// <summary>
/// a·b + c with one rounding on every lane, on every CPU: the FMA instruction where the CPU has one, otherwise the same
/// bits from plain SSE2 arithmetic (unless <see cref="Determinism.SameBitsOnEveryCpu"/> is turned off). Every kernel that multiplies and adds in one step goes through here, so a result
/// never depends on whether the CPU (or <c>DOTNET_EnableAVX2=0</c>, which turns FMA off with AVX2) offers the FMA
/// instruction. <c>Vector128.MultiplyAddEstimate</c> would round twice there, and .NET's own fallback for
/// <see cref="Vector128.FusedMultiplyAdd(Vector128{float}, Vector128{float}, Vector128{float})"/> calls the C library
/// once per lane.
/// </summary>
/// <remarks>
/// <para>
/// Float without FMA: a·b is exact in double (24 + 24 significant bits fit in 53), so only the sum rounds. The double
/// sum then rounds to the right float unless it landed exactly halfway between two floats (or below float's normal
/// range); for those the sum is rounded to odd at double precision (round to nearest, recover the error with Knuth's
/// TwoSum, and step to the odd neighbour when the sum was inexact and landed on an even one), then to nearest float:
/// rounding to odd at 53 bits and then to nearest at 24 bits rounds once (Boldo and Melquiond, "Emulation of FMA and
/// correctly rounded sums: proved algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008). About 30 SSE2
/// instructions per four lanes where the FMA instruction takes one.
/// </para>
/// <para>
/// Double without FMA: Dekker's exact product uh + ul = a·b (Veltkamp's split), th + tl = c + uh by TwoSum, and the
/// result RN(th + RO(tl + ul)) (the same paper's emulated FMA). The split and the exact product need |a|, |b| in
/// [2^-400, 2^400] (or zero) and |c| ≤ 2^900; a vector with a lane outside that range (NaN, infinity, subnormal, huge)
/// goes lane by lane through <see cref="Math.FusedMultiplyAdd"/>, the C library's correctly rounded fma.
/// </para>
/// </remarks>
internal static class ExactFma
{
    /// <summary>a·b + c, one rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        if (Fma.IsSupported)
            return Fma.MultiplyAdd(a, b, c);
        if (AdvSimd.IsSupported)
            return AdvSimd.FusedMultiplyAdd(c, a, b);
        if (!Emulate)
            return a * b + c;
        return Emulated(a, b, c);
    }

    /// <summary>a·b + c, one rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> MultiplyAdd(Vector128<double> a, Vector128<double> b, Vector128<double> c)
    {
        if (Fma.IsSupported)
            return Fma.MultiplyAdd(a, b, c);
        if (AdvSimd.Arm64.IsSupported)
            return AdvSimd.Arm64.FusedMultiplyAdd(c, a, b);
        if (!Emulate)
            return a * b + c;
        return Emulated(a, b, c);
    }

    /// <summary>a·b + c, one rounding, for float or double lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd<T>(Vector128<T> a, Vector128<T> b, Vector128<T> c)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
    }

    /// <summary>a·b + c, one rounding, for float or double lanes at <see cref="Vector{T}"/>'s width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> MultiplyAdd<T>(Vector<T> a, Vector<T> b, Vector<T> c)
        where T : unmanaged
    {
        // Vector<T> is 128 bits exactly when the CPU (or the runtime's settings) stops short of AVX2, and with it of FMA.
        if (!Fma.IsSupported && Vector<byte>.Count == 16)
            return MultiplyAdd(a.AsVector128(), b.AsVector128(), c.AsVector128()).AsVector();
        if (!Fma.IsSupported && !AdvSimd.IsSupported && !Emulate)
            return a * b + c;
        if (typeof(T) == typeof(float))
            return Vector.AsVectorSingle(Vector.FusedMultiplyAdd(Vector.AsVectorSingle(a), Vector.AsVectorSingle(b), Vector.AsVectorSingle(c))).As<float, T>();
        return Vector.FusedMultiplyAdd(Vector.AsVectorDouble(a), Vector.AsVectorDouble(b), Vector.AsVectorDouble(c)).As<double, T>();
    }

    /// <summary>
    /// Whether CPUs without the FMA instruction emulate it (<see cref="Determinism.SameBitsOnEveryCpu"/>); without, they
    /// multiply and add with two roundings (the JIT folds this constant, so the check costs nothing).
    /// </summary>
    private static readonly bool Emulate = Determinism.SameBitsOnEveryCpu;

    /// <summary>The SSE2 arithmetic of <see cref="MultiplyAdd(Vector128{float}, Vector128{float}, Vector128{float})"/>
    /// without the FMA instruction (the tests hold it to the instruction).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Emulated(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        var pLo = Vector128.WidenLower(a) * Vector128.WidenLower(b);
        var pHi = Vector128.WidenUpper(a) * Vector128.WidenUpper(b);
        var cLo = Vector128.WidenLower(c);
        var cHi = Vector128.WidenUpper(c);
        var sLo = pLo + cLo;
        var sHi = pHi + cHi;

        // The double sum s rounds to the float nearest the exact sum unless s is itself halfway between two floats (its low
        // 29 bits 1000...0) or below float's normal range: only then (rarely) is the rounding to odd needed.
        var midpointBits = Vector128.Create(0x1FFFFFFFUL);
        var midpoint = Vector128.Create(0x10000000UL);
        var smallest = Vector128.Create(FloatMinNormal);
        var twice = Vector128.Equals(sLo.AsUInt64() & midpointBits, midpoint) | Vector128.Equals(sHi.AsUInt64() & midpointBits, midpoint)
            | (Vector128.LessThan(Vector128.Abs(sLo), smallest) & ~Vector128.Equals(sLo, Vector128<double>.Zero)).AsUInt64()
            | (Vector128.LessThan(Vector128.Abs(sHi), smallest) & ~Vector128.Equals(sHi, Vector128<double>.Zero)).AsUInt64();
        if (twice == Vector128<ulong>.Zero)
            return Vector128.Narrow(sLo, sHi);
        return Vector128.Narrow(SumRoundedToOdd(pLo, cLo), SumRoundedToOdd(pHi, cHi));
    }

    private const double FloatMinNormal = 1.1754943508222875e-38;   // 2^-126

    /// <summary>The plain arithmetic of <see cref="MultiplyAdd(Vector128{double}, Vector128{double}, Vector128{double})"/>
    /// without the FMA instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<double> Emulated(Vector128<double> a, Vector128<double> b, Vector128<double> c)
    {
        var absA = Vector128.Abs(a);
        var absB = Vector128.Abs(b);
        var inRange = Vector128.LessThanOrEqual(absA, Vector128.Create(Big)) & Vector128.LessThanOrEqual(absB, Vector128.Create(Big))
            & (Vector128.GreaterThanOrEqual(absA, Vector128.Create(Small)) | Vector128.Equals(a, Vector128<double>.Zero))
            & (Vector128.GreaterThanOrEqual(absB, Vector128.Create(Small)) | Vector128.Equals(b, Vector128<double>.Zero))
            & Vector128.LessThanOrEqual(Vector128.Abs(c), Vector128.Create(BigAddend));
        if (Vector128.ExtractMostSignificantBits(inRange) != 0b11)
            return OutOfRange(a, b, c);

        // uh + ul = a·b exactly (Dekker 1971, Veltkamp's split into 26-bit halves).
        var uh = a * b;
        var (ah, al) = Split(a);
        var (bh, bl) = Split(b);
        var ul = (((ah * bh) - uh) + (ah * bl) + (al * bh)) + (al * bl);

        // th + tl = c + uh exactly (Knuth's TwoSum); the result is RN(th + RO(tl + ul)).
        var th = c + uh;
        var t = th - c;
        var tl = (c - (th - t)) + (uh - t);
        var result = th + SumRoundedToOdd(tl, ul);

        // An exact zero takes IEEE's sign of the sum of the product's zero and c (-0 only when both are -0).
        return Vector128.ConditionalSelect(Vector128.Equals(result, Vector128<double>.Zero), uh + c, result);
    }

    private const double Big = 2.5822498780869086e120;        // 2^400
    private const double Small = 3.872591914849318e-121;      // 2^-400
    private const double BigAddend = 8.452712498170644e270;   // 2^900
    private const double Splitter = 134217729.0;              // 2^27 + 1

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<double> High, Vector128<double> Low) Split(Vector128<double> x)
    {
        var t = Vector128.Create(Splitter) * x;
        var high = t - (t - x);
        return (high, x - high);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector128<double> OutOfRange(Vector128<double> a, Vector128<double> b, Vector128<double> c) =>
        Vector128.Create(Math.FusedMultiplyAdd(a.GetElement(0), b.GetElement(0), c.GetElement(0)),
            Math.FusedMultiplyAdd(a.GetElement(1), b.GetElement(1), c.GetElement(1)));

    /// <summary>
    /// x + y rounded to odd: rounded to nearest, then, when inexact and even, moved one ulp towards the exact sum (to its
    /// odd neighbour). NaN and infinite sums are left as they are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> SumRoundedToOdd(Vector128<double> x, Vector128<double> y)
    {
        var s = x + y;
        var t = s - x;
        var error = (x - (s - t)) + (y - t);
        var bits = s.AsInt64();
        var one = Vector128<long>.One;

        // inexact: error ≠ 0 (false for the NaN error of an infinite sum); even: -1 when the last bit is 0, else 0.
        var inexact = Vector128.GreaterThan(Vector128.Abs(error), Vector128<double>.Zero).AsInt64();
        var even = (bits & one) - one;

        // +1 on the bits moves away from zero (the error has the sum's sign), -1 towards it.
        var opposite = Vector128.ShiftRightLogical(bits ^ error.AsInt64(), 63);
        var step = one - (opposite + opposite);
        return (bits + (step & even & inexact)).AsDouble();
    }
}
