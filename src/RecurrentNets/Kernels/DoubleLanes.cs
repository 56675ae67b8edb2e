using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RecurrentNets.Kernels;

/// <summary>
/// The double operations of the reservoir's tanh (<see cref="VectorMath"/>'s two-roundings tanh) over one vector type, so
/// that the function is written once: <see cref="Vector{T}"/>, or 256-bit vectors through AVX on a CPU that has AVX but
/// not AVX2 (there <see cref="Vector256"/> is not accelerated and <see cref="Vector{T}"/> holds two doubles). Each
/// operation rounds as the other type's does, so an element's bits do not depend on the type.
/// </summary>
/// <typeparam name="TV">The vector type.</typeparam>
internal interface IDoubleLanes<TV> : IArithmeticLanes<TV, double>
    where TV : struct
{
    /// <summary>The bits (b + <paramref name="bias"/>) &lt;&lt; 52 as doubles, b the bits of each lane of
    /// <paramref name="shifted"/> as a 64-bit integer: 2^k where the low bits of <paramref name="shifted"/> hold k.</summary>
    static abstract TV PowerOfTwo(TV shifted, long bias);
}

/// <summary>
/// The doubles of <typeparamref name="TV"/>: <see cref="Vector{T}"/>, or a <see cref="Vector256{T}"/> through AVX
/// instructions for a CPU with AVX but without AVX2 (Sandy Bridge, Ivy Bridge, AMD's Bulldozer family), where
/// <see cref="Vector256"/> is not accelerated: there the floating-point operations run 256 bits wide and the 64-bit
/// integer ones, which AVX has only at 128 bits, on the two halves. Each member picks its form by a <c>typeof(TV)</c>
/// test the JIT folds; the 256-bit form only where <see cref="Avx.IsSupported"/>.
/// </summary>
/// <typeparam name="TV"><see cref="Vector{T}"/> or <see cref="Vector256{T}"/> of <see cref="double"/>.</typeparam>
internal readonly struct DoubleLanes<TV> : IDoubleLanes<TV>
    where TV : struct
{
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Wide ? Vector256<double>.Count : Vector<double>.Count;
    }

    private static bool Wide
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TV) == typeof(Vector256<double>);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(ref double source, nuint offset) => Unsafe.ReadUnaligned<TV>(ref Unsafe.As<double, byte>(ref Unsafe.Add(ref source, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, ref double destination, nuint offset) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<double, byte>(ref Unsafe.Add(ref destination, offset)), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Broadcast(double value) => Wide ? As(Vector256.Create(value)) : As(new Vector<double>(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Add(TV left, TV right) => Wide ? As(Avx.Add(W(left), W(right))) : As(V(left) + V(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Subtract(TV left, TV right) => Wide ? As(Avx.Subtract(W(left), W(right))) : As(V(left) - V(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Multiply(TV left, TV right) => Wide ? As(Avx.Multiply(W(left), W(right))) : As(V(left) * V(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Divide(TV left, TV right) => Wide ? As(Avx.Divide(W(left), W(right))) : As(V(left) / V(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MinLimit(TV limit, TV x) => Wide
        ? As(Avx.BlendVariable(W(x), W(limit), Avx.CompareLessThan(W(limit), W(x))))
        : As(Vector.ConditionalSelect(Vector.LessThan(V(limit), V(x)), V(limit), V(x)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Abs(TV x) => Wide ? As(Avx.And(W(x), Vector256.Create(long.MaxValue).AsDouble())) : As(Vector.Abs(V(x)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV OrSign(TV magnitude, TV sign) => Wide
        ? As(Avx.Or(W(magnitude), Avx.And(W(sign), Vector256.Create(long.MinValue).AsDouble())))
        : As(Vector.AsVectorDouble(Vector.AsVectorInt64(V(magnitude)) | (Vector.AsVectorInt64(V(sign)) & new Vector<long>(long.MinValue))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV PowerOfTwo(TV shifted, long bias)
    {
        if (!Wide)
        {
            return As(Vector.AsVectorDouble(Vector.ShiftLeft(Vector.AsVectorInt64(V(shifted)) + new Vector<long>(bias), 52)));
        }

        var b = Vector128.Create(bias);
        var low = Sse2.ShiftLeftLogical(Sse2.Add(Avx.ExtractVector128(W(shifted), 0).AsInt64(), b), 52);
        var high = Sse2.ShiftLeftLogical(Sse2.Add(Avx.ExtractVector128(W(shifted), 1).AsInt64(), b), 52);
        return As(Avx.InsertVector128(low.AsDouble().ToVector256Unsafe(), high.AsDouble(), 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> W(TV value) => Unsafe.BitCast<TV, Vector256<double>>(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> V(TV value) => Unsafe.BitCast<TV, Vector<double>>(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV As<TFrom>(TFrom value)
        where TFrom : struct
        => Unsafe.BitCast<TFrom, TV>(value);
}
