using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// The vector operations of a kernel written once over the vector width: <typeparamref name="TV"/> is
/// <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/> or <see cref="Vector128{T}"/>.
/// </summary>
/// <remarks>
/// Each member picks its instruction with <c>typeof(TV) == typeof(...)</c> tests, which the JIT folds for every
/// instantiation (TV is a struct), so a kernel compiles to the code a copy written for one width would have. A
/// multiply-add rounds once at every width (on Vector128 through <see cref="ExactFma"/>, which gives the instruction's
/// bits on a CPU without it).
/// </remarks>
/// <typeparam name="TV">The vector type.</typeparam>
/// <typeparam name="T">The lane type, <see cref="float"/> or <see cref="double"/>.</typeparam>
internal static unsafe class Lanes<TV, T>
    where TV : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Lanes per <typeparamref name="TV"/>.</summary>
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => sizeof(TV) / sizeof(T);
    }

    /// <summary>The <see cref="Count"/> values at <paramref name="source"/> (no alignment needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(T* source) => Unsafe.ReadUnaligned<TV>(source);

    /// <summary>Writes the lanes of <paramref name="value"/> to <paramref name="destination"/> (no alignment needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, T* destination) => Unsafe.WriteUnaligned(destination, value);

    /// <summary><paramref name="value"/> in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Broadcast(T value)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(Vector512.Create(value));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(Vector256.Create(value));
        return As(Vector128.Create(value));
    }

    /// <summary>left + right in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Add(TV left, TV right)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(To<Vector512<T>>(left) + To<Vector512<T>>(right));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(To<Vector256<T>>(left) + To<Vector256<T>>(right));
        return As(To<Vector128<T>>(left) + To<Vector128<T>>(right));
    }

    /// <summary>left − right in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Subtract(TV left, TV right)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(To<Vector512<T>>(left) - To<Vector512<T>>(right));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(To<Vector256<T>>(left) - To<Vector256<T>>(right));
        return As(To<Vector128<T>>(left) - To<Vector128<T>>(right));
    }

    /// <summary>left·right in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Multiply(TV left, TV right)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(To<Vector512<T>>(left) * To<Vector512<T>>(right));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(To<Vector256<T>>(left) * To<Vector256<T>>(right));
        return As(To<Vector128<T>>(left) * To<Vector128<T>>(right));
    }

    /// <summary>−value in every lane (the sign flipped, zeros included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Negate(TV value)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(-To<Vector512<T>>(value));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(-To<Vector256<T>>(value));
        return As(-To<Vector128<T>>(value));
    }

    /// <summary>left·right + addend in every lane, rounded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MultiplyAdd(TV left, TV right, TV addend)
    {
        if (typeof(TV) == typeof(Vector512<T>))
        {
            return typeof(T) == typeof(float)
                ? As(Vector512.FusedMultiplyAdd(To<Vector512<float>>(left), To<Vector512<float>>(right), To<Vector512<float>>(addend)))
                : As(Vector512.FusedMultiplyAdd(To<Vector512<double>>(left), To<Vector512<double>>(right), To<Vector512<double>>(addend)));
        }

        if (typeof(TV) == typeof(Vector256<T>))
        {
            return typeof(T) == typeof(float)
                ? As(Vector256.FusedMultiplyAdd(To<Vector256<float>>(left), To<Vector256<float>>(right), To<Vector256<float>>(addend)))
                : As(Vector256.FusedMultiplyAdd(To<Vector256<double>>(left), To<Vector256<double>>(right), To<Vector256<double>>(addend)));
        }

        return As(ExactFma.MultiplyAdd(To<Vector128<T>>(left), To<Vector128<T>>(right), To<Vector128<T>>(addend)));
    }

    /// <summary>All bits set in the lanes where left &lt; right, clear elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV LessThan(TV left, TV right)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(Vector512.LessThan(To<Vector512<T>>(left), To<Vector512<T>>(right)));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(Vector256.LessThan(To<Vector256<T>>(left), To<Vector256<T>>(right)));
        return As(Vector128.LessThan(To<Vector128<T>>(left), To<Vector128<T>>(right)));
    }

    /// <summary>left &amp; right, bit by bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV And(TV left, TV right)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(To<Vector512<T>>(left) & To<Vector512<T>>(right));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(To<Vector256<T>>(left) & To<Vector256<T>>(right));
        return As(To<Vector128<T>>(left) & To<Vector128<T>>(right));
    }

    /// <summary>left &amp; ~right, bit by bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV AndNot(TV left, TV right)
    {
        if (typeof(TV) == typeof(Vector512<T>))
            return As(Vector512.AndNot(To<Vector512<T>>(left), To<Vector512<T>>(right)));
        if (typeof(TV) == typeof(Vector256<T>))
            return As(Vector256.AndNot(To<Vector256<T>>(left), To<Vector256<T>>(right)));
        return As(Vector128.AndNot(To<Vector128<T>>(left), To<Vector128<T>>(right)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV As<TFrom>(TFrom value)
        where TFrom : unmanaged
        => Unsafe.BitCast<TFrom, TV>(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TTo To<TTo>(TV value)
        where TTo : unmanaged
        => Unsafe.BitCast<TV, TTo>(value);
}
