using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// The operations that the float lanes (<see cref="IFloatLanes{TV}"/>) and the double lanes
/// (<see cref="IDoubleLanes{TV}"/>) share: <typeparamref name="T"/> values in a <typeparamref name="TV"/>.
/// </summary>
/// <typeparam name="TV">The lane type.</typeparam>
/// <typeparam name="T">The element type.</typeparam>
internal interface IArithmeticLanes<TV, T>
    where TV : struct
{
    /// <summary>Elements per <typeparamref name="TV"/>.</summary>
    static abstract int Count { get; }

    static abstract TV Load(ref T source, nuint offset);

    static abstract void Store(TV value, ref T destination, nuint offset);

    static abstract TV Broadcast(T value);

    static abstract TV Add(TV left, TV right);

    static abstract TV Subtract(TV left, TV right);

    static abstract TV Multiply(TV left, TV right);

    static abstract TV Divide(TV left, TV right);

    /// <summary>limit &lt; x ? limit : x per lane (x86 <c>minps limit, x</c>): a NaN x passes through.</summary>
    static abstract TV MinLimit(TV limit, TV x);

    /// <summary>|x|: the sign bit cleared.</summary>
    static abstract TV Abs(TV x);

    /// <summary>magnitude with the sign bit of <paramref name="sign"/> ORed in (magnitude must have a clear sign bit).</summary>
    static abstract TV OrSign(TV magnitude, TV sign);
}

/// <summary>
/// The float operations of <see cref="VectorMath"/>'s float functions and of the fused gate kernels, over one lane type:
/// <see cref="Vector512{T}"/>, <see cref="Vector{T}"/> or a single float. A kernel written once over
/// <c>TLanes</c> runs the same operations in the same order at every width, so an element's result never depends on
/// whether it fell in the vector body or the scalar tail (TensorPrimitives' operator-struct pattern, turned around:
/// one operation, several widths).
/// </summary>
/// <typeparam name="TV">The lane type.</typeparam>
internal interface IFloatLanes<TV> : IArithmeticLanes<TV, float>
    where TV : struct
{
    /// <summary>left·right + addend with one rounding.</summary>
    static abstract TV FusedMultiplyAdd(TV left, TV right, TV addend);

    /// <summary>limit &gt; x ? limit : x per lane (x86 <c>maxps limit, x</c>): a NaN x passes through.</summary>
    static abstract TV MaxLimit(TV limit, TV x);

    /// <summary>-|x|: the sign bit set.</summary>
    static abstract TV NegativeAbs(TV x);

    /// <summary>x &lt; 0 ? ifNegative : otherwise per lane (false for -0 and NaN).</summary>
    static abstract TV SelectNegative(TV x, TV ifNegative, TV otherwise);

    /// <summary>
    /// 2^(k + <paramref name="bias"/>) as a float, where <paramref name="shifted"/> = k + 1.5·2^23 holds the integer k
    /// in its low mantissa bits (k + bias + 127 must lie in [1, 254]).
    /// </summary>
    static abstract TV PowerOfTwo(TV shifted, int bias);
}

/// <summary>Sixteen floats in a <see cref="Vector512{T}"/>.</summary>
internal readonly struct Lanes512 : IFloatLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Divide(Vector512<float> left, Vector512<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FusedMultiplyAdd(Vector512<float> left, Vector512<float> right, Vector512<float> addend) =>
        Vector512.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MinLimit(Vector512<float> limit, Vector512<float> x) =>
        Vector512.ConditionalSelect(Vector512.LessThan(limit, x), limit, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaxLimit(Vector512<float> limit, Vector512<float> x) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(limit, x), limit, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Abs(Vector512<float> x) => Vector512.AsSingle(Vector512.AsInt32(x) & Vector512.Create(int.MaxValue));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> NegativeAbs(Vector512<float> x) => Vector512.AsSingle(Vector512.AsInt32(x) | Vector512.Create(int.MinValue));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> OrSign(Vector512<float> magnitude, Vector512<float> sign) =>
        Vector512.AsSingle(Vector512.AsInt32(magnitude) | (Vector512.AsInt32(sign) & Vector512.Create(int.MinValue)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SelectNegative(Vector512<float> x, Vector512<float> ifNegative, Vector512<float> otherwise) =>
        Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), ifNegative, otherwise);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> PowerOfTwo(Vector512<float> shifted, int bias) =>
        Vector512.AsSingle(Vector512.ShiftLeft(Vector512.AsInt32(shifted) + Vector512.Create(bias + 127 - FloatLanes.ShifterBits), 23));
}

/// <summary>A <see cref="Vector{T}"/> of floats (the widest accelerated width short of 512 bits).</summary>
internal readonly struct LanesVector : IFloatLanes<Vector<float>>
{
    public static int Count => Vector<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Load(ref float source, nuint offset) => Vector.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Broadcast(float value) => new(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Add(Vector<float> left, Vector<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Subtract(Vector<float> left, Vector<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Multiply(Vector<float> left, Vector<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Divide(Vector<float> left, Vector<float> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> FusedMultiplyAdd(Vector<float> left, Vector<float> right, Vector<float> addend) =>
        ExactFma.MultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> MinLimit(Vector<float> limit, Vector<float> x) =>
        Vector.ConditionalSelect(Vector.LessThan(limit, x), limit, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> MaxLimit(Vector<float> limit, Vector<float> x) =>
        Vector.ConditionalSelect(Vector.GreaterThan(limit, x), limit, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Abs(Vector<float> x) => Vector.AsVectorSingle(Vector.AsVectorInt32(x) & new Vector<int>(int.MaxValue));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> NegativeAbs(Vector<float> x) => Vector.AsVectorSingle(Vector.AsVectorInt32(x) | new Vector<int>(int.MinValue));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> OrSign(Vector<float> magnitude, Vector<float> sign) =>
        Vector.AsVectorSingle(Vector.AsVectorInt32(magnitude) | (Vector.AsVectorInt32(sign) & new Vector<int>(int.MinValue)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> SelectNegative(Vector<float> x, Vector<float> ifNegative, Vector<float> otherwise) =>
        Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), ifNegative, otherwise);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> PowerOfTwo(Vector<float> shifted, int bias) =>
        Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorInt32(shifted) + new Vector<int>(bias + 127 - FloatLanes.ShifterBits), 23));
}

/// <summary>One float: the scalar tail, with exactly the operations of the vector lanes.</summary>
internal readonly struct Lanes1 : IFloatLanes<float>
{
    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref float source, nuint offset) => Unsafe.Add(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref float destination, nuint offset) => Unsafe.Add(ref destination, offset) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float left, float right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Subtract(float left, float right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multiply(float left, float right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Divide(float left, float right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FusedMultiplyAdd(float left, float right, float addend) => MathF.FusedMultiplyAdd(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MinLimit(float limit, float x) => limit < x ? limit : x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxLimit(float limit, float x) => limit > x ? limit : x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Abs(float x) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) & int.MaxValue);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float NegativeAbs(float x) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) | int.MinValue);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float OrSign(float magnitude, float sign) =>
        BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(magnitude) | (BitConverter.SingleToInt32Bits(sign) & int.MinValue));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SelectNegative(float x, float ifNegative, float otherwise) => x < 0 ? ifNegative : otherwise;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float PowerOfTwo(float shifted, int bias) =>
        BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(shifted) + (bias + 127 - FloatLanes.ShifterBits)) << 23);
}

/// <summary>Constants shared by the lane types.</summary>
internal static class FloatLanes
{
    /// <summary>1.5·2^23: adding it to a float of magnitude below 2^22 rounds to an integer held in the low mantissa bits.</summary>
    public const float Shifter = 12582912f;

    /// <summary>The bits of <see cref="Shifter"/>.</summary>
    public const int ShifterBits = 0x4B400000;
}

/// <summary>
/// The lanes of <typeparamref name="TL"/> with every multiply-add rounded twice (a multiply, then an add): the same bits
/// on every CPU with or without the FMA instruction, and no emulation where it is missing (the reservoir step's
/// activations, see <see cref="VectorMath"/>). The JIT never fuses a multiply and an add by itself.
/// </summary>
internal readonly struct TwoRoundings<TV, TL> : IFloatLanes<TV>
    where TV : struct
    where TL : struct, IFloatLanes<TV>
{
    public static int Count => TL.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(ref float source, nuint offset) => TL.Load(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, ref float destination, nuint offset) => TL.Store(value, ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Broadcast(float value) => TL.Broadcast(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Add(TV left, TV right) => TL.Add(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Subtract(TV left, TV right) => TL.Subtract(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Multiply(TV left, TV right) => TL.Multiply(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Divide(TV left, TV right) => TL.Divide(left, right);

    /// <summary>left·right, rounded, + addend, rounded (the name is the interface's; the rounding is not fused).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV FusedMultiplyAdd(TV left, TV right, TV addend) => TL.Add(TL.Multiply(left, right), addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MinLimit(TV limit, TV x) => TL.MinLimit(limit, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MaxLimit(TV limit, TV x) => TL.MaxLimit(limit, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Abs(TV x) => TL.Abs(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV NegativeAbs(TV x) => TL.NegativeAbs(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV OrSign(TV magnitude, TV sign) => TL.OrSign(magnitude, sign);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SelectNegative(TV x, TV ifNegative, TV otherwise) => TL.SelectNegative(x, ifNegative, otherwise);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV PowerOfTwo(TV shifted, int bias) => TL.PowerOfTwo(shifted, bias);
}
