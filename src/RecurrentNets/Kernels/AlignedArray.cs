using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RecurrentNets.Kernels;

/// <summary>
/// A zeroed buffer whose first element sits on a 64-byte cache-line boundary: a pinned array (it never moves) and the
/// offset of the first aligned element. Threads that write neighbouring ranges of one row (the unit split's gate
/// columns and hidden units, the batch split's rows) then share no cache line at the seams whenever the ranges start at
/// multiples of 16 floats, and whole-vector loads and stores do not straddle lines. A default value is empty.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal readonly struct AlignedArray<T>
    where T : unmanaged
{
    private readonly T[]? array;
    private readonly int offset;

    private AlignedArray(T[] array, int offset, int length)
    {
        this.array = array;
        this.offset = offset;
        Length = length;
    }

    /// <summary>The usable elements.</summary>
    public int Length { get; }

    /// <summary>The pinned array underneath (null when empty).</summary>
    public T[]? Array => array;

    /// <summary>The index in <see cref="Array"/> of element 0.</summary>
    public int Offset => offset;

    /// <summary>A zeroed buffer of <paramref name="length"/> elements starting on a 64-byte boundary.</summary>
    public static unsafe AlignedArray<T> Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        int pad = Math.Max(1, 64 / sizeof(T));
        var array = GC.AllocateArray<T>(length + pad, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        int offset = (int)(((64 - (address & 63)) & 63) / sizeof(T));
        return new AlignedArray<T>(array, offset, length);
    }

    /// <summary>All <see cref="Length"/> elements.</summary>
    public Span<T> AsSpan() => array is null ? default : array.AsSpan(offset, Length);

    /// <summary>Elements [start, start + length).</summary>
    public Span<T> AsSpan(int start, int length)
    {
        if ((uint)start > (uint)Length || (uint)length > (uint)(Length - start))
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + length}) is outside the buffer of {Length}.");
        }

        return array is null ? default : array.AsSpan(offset + start, length);
    }

    /// <summary>Implicit view of all elements.</summary>
    public static implicit operator Span<T>(AlignedArray<T> buffer) => buffer.AsSpan();

    /// <summary>Implicit read-only view of all elements.</summary>
    public static implicit operator ReadOnlySpan<T>(AlignedArray<T> buffer) => buffer.AsSpan();
}
