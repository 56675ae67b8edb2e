using System.Numerics;
using System.Text;

namespace RecurrentNets.Tensors;

/// <summary>
/// A dense tensor of float or double: a shape and contiguous row-major storage, with span views of a time step or
/// a batch row. It has no operations and no autograd graph; the kernels work on its spans.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Sequences are time-major: a tensor of shape [timeSteps, batchSize, features] stores step t at
/// <c>Step(t)</c> = elements [t·B·F, (t+1)·B·F), and row b of step t at <c>Row(t, b)</c>.
/// </remarks>
public sealed class Tensor<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] shape;

    /// <summary>Creates a zero-filled tensor.</summary>
    /// <param name="shape">The sizes of the dimensions, outermost first. Every size must be positive.</param>
    /// <exception cref="ArgumentException">The shape is empty, a size is not positive, or the element count overflows.</exception>
    public Tensor(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        this.shape = (int[])shape.Clone();
        Data = new T[ElementCount(this.shape, nameof(shape))];
    }

    private Tensor(T[] data, int[] shape)
    {
        this.shape = shape;
        Data = data;
    }

    /// <summary>Wraps an existing array (no copy) as a tensor of the given shape.</summary>
    /// <param name="data">The storage, row-major; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The sizes of the dimensions.</param>
    /// <exception cref="ArgumentException">The length of <paramref name="data"/> differs from the product of the shape.</exception>
    public static Tensor<T> FromArray(T[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        int[] copy = (int[])shape.Clone();
        long count = ElementCount(copy, nameof(shape));
        if (data.Length != count)
        {
            throw new ArgumentException(
                $"data has {data.Length} elements but shape {FormatShape(copy)} needs {count}.", nameof(data));
        }

        return new Tensor<T>(data, copy);
    }

    /// <summary>The contiguous row-major storage.</summary>
    public T[] Data { get; }

    /// <summary>The sizes of the dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => shape.Length;

    /// <summary>The number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>The size of dimension <paramref name="dimension"/>.</summary>
    public int Size(int dimension) => shape[dimension];

    /// <summary>All elements as a span.</summary>
    public Span<T> AsSpan() => Data;

    /// <summary>The slice at index <paramref name="index"/> of the outermost dimension (a time step of a time-major sequence).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside [0, Shape[0]).</exception>
    public Span<T> Step(int index)
    {
        if ((uint)index >= (uint)shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The tensor has {shape[0]} entries in dimension 0 (shape {FormatShape(shape)}).");
        }

        int stride = Data.Length / shape[0];
        return Data.AsSpan(index * stride, stride);
    }

    /// <summary>Row <paramref name="row"/> of slice <paramref name="index"/>: for a [T, B, F] sequence, the features of batch row b at step t.</summary>
    /// <exception cref="InvalidOperationException">The tensor has fewer than 3 dimensions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public Span<T> Row(int index, int row)
    {
        if (shape.Length < 3)
        {
            throw new InvalidOperationException($"Row(index, row) needs a tensor of rank 3 or more; this one has shape {FormatShape(shape)}.");
        }

        Span<T> step = Step(index);
        if ((uint)row >= (uint)shape[1])
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"The tensor has {shape[1]} entries in dimension 1 (shape {FormatShape(shape)}).");
        }

        int stride = step.Length / shape[1];
        return step.Slice(row * stride, stride);
    }

    /// <summary>Element access by full index.</summary>
    public ref T this[params ReadOnlySpan<int> index] => ref Data[Offset(index)];

    /// <summary>Returns a tensor that shares this storage with another shape of the same element count.</summary>
    /// <exception cref="ArgumentException">The element counts differ.</exception>
    public Tensor<T> Reshape(params int[] newShape)
    {
        ArgumentNullException.ThrowIfNull(newShape);
        int[] copy = (int[])newShape.Clone();
        long count = ElementCount(copy, nameof(newShape));
        if (count != Data.Length)
        {
            throw new ArgumentException($"Cannot reshape {FormatShape(shape)} ({Data.Length} elements) to {FormatShape(copy)} ({count} elements).", nameof(newShape));
        }

        return new Tensor<T>(Data, copy);
    }

    /// <summary>A deep copy.</summary>
    public Tensor<T> Clone() => new((T[])Data.Clone(), (int[])shape.Clone());

    /// <summary>Sets every element to zero.</summary>
    public void Clear() => Array.Clear(Data);

    /// <summary>Whether the shape equals <paramref name="expected"/>.</summary>
    public bool HasShape(params ReadOnlySpan<int> expected) => expected.SequenceEqual(shape);

    /// <inheritdoc/>
    public override string ToString() => $"Tensor<{typeof(T).Name}>{FormatShape(shape)}";

    /// <summary>Formats a shape as "[2, 3, 4]".</summary>
    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(shape[i]);
        }

        return sb.Append(']').ToString();
    }

    private int Offset(ReadOnlySpan<int> index)
    {
        if (index.Length != shape.Length)
        {
            throw new ArgumentException($"An index of rank {index.Length} was given for a tensor of shape {FormatShape(shape)}.", nameof(index));
        }

        int offset = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            if ((uint)index[d] >= (uint)shape[d])
            {
                throw new ArgumentOutOfRangeException(nameof(index), $"Index {index[d]} in dimension {d} is outside the shape {FormatShape(shape)}.");
            }

            offset = offset * shape[d] + index[d];
        }

        return offset;
    }

    private static int ElementCount(int[] shape, string paramName)
    {
        if (shape.Length == 0)
        {
            throw new ArgumentException("A tensor needs at least one dimension.", paramName);
        }

        long count = 1;
        foreach (int size in shape)
        {
            if (size <= 0)
            {
                throw new ArgumentException($"Every size must be positive, but the shape is {FormatShape(shape)}.", paramName);
            }

            count *= size;
            if (count > Array.MaxLength)
            {
                throw new ArgumentException($"The shape {FormatShape(shape)} has more elements than an array can hold.", paramName);
            }
        }

        return (int)count;
    }
}
