using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Parameters;

/// <summary>
/// A named slice of a <see cref="ParameterBlock{T}"/>: an offset and a shape into the block's flat value and
/// gradient storage. Views stay valid while the block grows.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class ParameterView<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] shape;

    internal ParameterView(ParameterBlock<T> block, string name, int offset, int[] shape, int length)
    {
        Block = block;
        Name = name;
        Offset = offset;
        this.shape = shape;
        Length = length;
    }

    /// <summary>The block the view points into.</summary>
    public ParameterBlock<T> Block { get; }

    /// <summary>The parameter's name in PyTorch's convention, e.g. <c>weight_hh_l0</c>.</summary>
    public string Name { get; }

    /// <summary>The first element's index in the block.</summary>
    public int Offset { get; }

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>The shape (PyTorch's layout: weights are [outFeatures, inFeatures]).</summary>
    public ReadOnlySpan<int> Shape => shape;

    /// <summary>The parameter values.</summary>
    public Span<T> Values => Block.Values.AsSpan(Offset, Length);

    /// <summary>The accumulated gradient of the loss with respect to the values.</summary>
    public Span<T> Gradients => Block.Gradients.AsSpan(Offset, Length);

    /// <summary>Copies <paramref name="source"/> into the values after checking its length.</summary>
    /// <exception cref="ArgumentException">The length differs from <see cref="Length"/>.</exception>
    public void CopyFrom(ReadOnlySpan<T> source)
    {
        if (source.Length != Length)
        {
            throw new ArgumentException(
                $"{Name} has shape {Tensor<T>.FormatShape(shape)} ({Length} elements) but {source.Length} values were given.",
                nameof(source));
        }

        source.CopyTo(Values);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Tensor<T>.FormatShape(shape)} @ {Offset}";
}
