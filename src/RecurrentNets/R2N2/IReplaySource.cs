using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2;

/// <summary>
/// Plays one stored episode x_0 … x_{L−1} forward and in reverse, one item per call: the role of the cache in R2N2
/// (Cheng and Brown 2025). <see cref="SequenceReplay"/> indexes a stored sequence directly (what the authors'
/// experiments do); <see cref="CacheReplay"/> plays it from a <see cref="HopfieldSequenceCache"/>.
/// </summary>
public interface IReplaySource
{
    /// <summary>L, the items of the episode.</summary>
    int Length { get; }

    /// <summary>n_x, the features of an item.</summary>
    int ItemSize { get; }

    /// <summary>Positions the replay before x_0.</summary>
    void StartForward();

    /// <summary>Writes the next item of the forward replay (x_0 on the first call) into <paramref name="item"/> [n_x].</summary>
    void NextForward(Span<double> item);

    /// <summary>Positions the replay after x_{L−1}.</summary>
    void StartReverse();

    /// <summary>Writes the next item of the reverse replay (x_{L−1} on the first call) into <paramref name="item"/> [n_x].</summary>
    void NextReverse(Span<double> item);
}

/// <summary>Replays a stored sequence [L, n_x] by indexing it (the authors' experiments; no cache).</summary>
public sealed class SequenceReplay : IReplaySource
{
    private Tensor<double> sequence;
    private int position;

    /// <summary>Wraps <paramref name="sequence"/> [L, n_x] (not copied).</summary>
    /// <exception cref="ArgumentException">The tensor is not [L, n_x] with L ≥ 2.</exception>
    public SequenceReplay(Tensor<double> sequence)
    {
        this.sequence = Check(sequence);
    }

    /// <inheritdoc/>
    public int Length => sequence.Size(0);

    /// <inheritdoc/>
    public int ItemSize => sequence.Size(1);

    /// <summary>Replaces the sequence without allocating (the item size may differ).</summary>
    /// <exception cref="ArgumentException">The tensor is not [L, n_x] with L ≥ 2.</exception>
    public void Reset(Tensor<double> newSequence) => sequence = Check(newSequence);

    /// <inheritdoc/>
    public void StartForward() => position = 0;

    /// <inheritdoc/>
    public void NextForward(Span<double> item) => Item(position++).CopyTo(item);

    /// <inheritdoc/>
    public void StartReverse() => position = Length - 1;

    /// <inheritdoc/>
    public void NextReverse(Span<double> item) => Item(position--).CopyTo(item);

    private ReadOnlySpan<double> Item(int index)
    {
        if ((uint)index >= (uint)Length)
        {
            throw new InvalidOperationException($"The replay asked for item {index} of a sequence of {Length} items.");
        }

        return sequence.Data.AsSpan(index * ItemSize, ItemSize);
    }

    private static Tensor<double> Check(Tensor<double> sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Rank != 2 || sequence.Size(0) < 2)
        {
            throw new ArgumentException($"sequence has shape {Tensor<double>.FormatShape(sequence.Shape)} but [length ≥ 2, itemSize] is expected.", nameof(sequence));
        }

        return sequence;
    }
}
