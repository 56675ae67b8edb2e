using System.Numerics;
using System.Runtime.CompilerServices;

namespace RecurrentNets.Kernels;

/// <summary>
/// The units a pointwise step computes at once, with the arithmetic of <typeparamref name="T"/>: a
/// <see cref="Vector{T}"/> of units or one unit (<see cref="Units{TV, T}"/>). A step written once over
/// <typeparamref name="TSelf"/> reads as its scalar formula and runs as the vector body and the scalar tail, with the
/// same operations (so the same bits) in both.
/// </summary>
/// <typeparam name="TSelf">The implementing struct.</typeparam>
/// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
internal interface IUnits<TSelf, T>
    where TSelf : struct, IUnits<TSelf, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>1 in every unit.</summary>
    static abstract TSelf One { get; }

    /// <summary>The units at <paramref name="source"/> + <paramref name="j"/>.</summary>
    static abstract TSelf Load(ref T source, nuint j);

    /// <summary>Writes the units to <paramref name="destination"/> + <paramref name="j"/>.</summary>
    void Store(ref T destination, nuint j);

    static abstract TSelf operator +(TSelf left, TSelf right);

    static abstract TSelf operator -(TSelf left, TSelf right);

    static abstract TSelf operator *(TSelf left, TSelf right);
}

/// <summary>
/// The units of <see cref="IUnits{TSelf, T}"/>: <typeparamref name="TV"/> = <see cref="Vector{T}"/> for a vector of units,
/// <typeparamref name="TV"/> = <typeparamref name="T"/> for one. Each member picks its operation with a
/// <c>typeof(TV)</c> test that the JIT folds for every instantiation, so each compiles to the plain vector or scalar code.
/// </summary>
/// <typeparam name="TV"><see cref="Vector{T}"/> or <typeparamref name="T"/>.</typeparam>
/// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
internal readonly struct Units<TV, T> : IUnits<Units<TV, T>, T>
    where TV : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly TV value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Units(TV value) => this.value = value;

    public static Units<TV, T> One
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TV) == typeof(T) ? From(T.One) : From(Vector<T>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Units<TV, T> Load(ref T source, nuint j)
        => typeof(TV) == typeof(T) ? From(Unsafe.Add(ref source, j)) : From(Vector.LoadUnsafe(ref source, j));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ref T destination, nuint j)
    {
        if (typeof(TV) == typeof(T))
            Unsafe.Add(ref destination, j) = As<T>();
        else
            As<Vector<T>>().StoreUnsafe(ref destination, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Units<TV, T> operator +(Units<TV, T> left, Units<TV, T> right)
        => typeof(TV) == typeof(T) ? From(left.As<T>() + right.As<T>()) : From(left.As<Vector<T>>() + right.As<Vector<T>>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Units<TV, T> operator -(Units<TV, T> left, Units<TV, T> right)
        => typeof(TV) == typeof(T) ? From(left.As<T>() - right.As<T>()) : From(left.As<Vector<T>>() - right.As<Vector<T>>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Units<TV, T> operator *(Units<TV, T> left, Units<TV, T> right)
        => typeof(TV) == typeof(T) ? From(left.As<T>() * right.As<T>()) : From(left.As<Vector<T>>() * right.As<Vector<T>>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Units<TV, T> From<TFrom>(TFrom value)
        where TFrom : unmanaged
        => new(Unsafe.BitCast<TFrom, TV>(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TTo As<TTo>()
        where TTo : unmanaged
        => Unsafe.BitCast<TV, TTo>(value);
}
