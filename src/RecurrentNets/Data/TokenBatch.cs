namespace RecurrentNets.Data;

/// <summary>
/// A padded batch of token sequences of different lengths, time-major: token t of sequence b is at
/// <c>Tokens[t·batchSize + b]</c>, the layout of <see cref="Sequence.RecurrentLayer{T}"/>'s inputs.
/// </summary>
/// <remarks>
/// Legend: C = capacity (the longest sequence the batch can hold), B = batchSize. Positions at or past a sequence's
/// length are padding: they are never read. PyTorch: a padded [C, B] index tensor with its <c>lengths</c> (the input of
/// <c>pack_padded_sequence</c>).
/// </remarks>
public sealed class TokenBatch
{
    private readonly int[] tokens;
    private readonly int[] lengths;

    /// <summary>Creates a batch of <paramref name="batchSize"/> empty sequences of up to <paramref name="capacity"/> tokens.</summary>
    /// <param name="capacity">C, the most tokens a sequence can have.</param>
    /// <param name="batchSize">B.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public TokenBatch(int capacity, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Capacity = capacity;
        BatchSize = batchSize;
        tokens = new int[checked(capacity * batchSize)];
        lengths = new int[batchSize];
    }

    /// <summary>C.</summary>
    public int Capacity { get; }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>The tokens, [capacity, batchSize], time-major; padding positions hold anything.</summary>
    public Span<int> Tokens => tokens;

    /// <summary>The length of each sequence, [batchSize], each in [0, capacity].</summary>
    public Span<int> Lengths => lengths;

    /// <summary>The length of the longest sequence of the batch (0 when all are empty).</summary>
    public int MaxLength
    {
        get
        {
            int max = 0;
            foreach (int length in lengths)
            {
                max = Math.Max(max, length);
            }

            return max;
        }
    }

    /// <summary>Token <paramref name="step"/> of sequence <paramref name="sequence"/>.</summary>
    /// <param name="step">t, in [0, capacity).</param>
    /// <param name="sequence">b, in [0, batchSize).</param>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside its range.</exception>
    public ref int this[int step, int sequence]
    {
        get
        {
            if ((uint)step >= (uint)Capacity)
            {
                throw new ArgumentOutOfRangeException(nameof(step), step, $"step must be in [0, {Capacity}) (capacity).");
            }

            if ((uint)sequence >= (uint)BatchSize)
            {
                throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"sequence must be in [0, {BatchSize}) (batchSize).");
            }

            return ref tokens[step * BatchSize + sequence];
        }
    }

    /// <summary>Stores <paramref name="sequence"/> as sequence <paramref name="index"/> and sets its length.</summary>
    /// <param name="index">b, in [0, batchSize).</param>
    /// <param name="sequence">The tokens, at most <see cref="Capacity"/> of them.</param>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the batch.</exception>
    /// <exception cref="ArgumentException">The sequence is longer than the capacity.</exception>
    public void Set(int index, ReadOnlySpan<int> sequence)
    {
        if ((uint)index >= (uint)BatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {BatchSize}) (batchSize).");
        }

        if (sequence.Length > Capacity)
        {
            throw new ArgumentException($"sequence has {sequence.Length} tokens but the batch holds at most {Capacity} (capacity).", nameof(sequence));
        }

        for (int t = 0; t < sequence.Length; t++)
        {
            tokens[t * BatchSize + index] = sequence[t];
        }

        lengths[index] = sequence.Length;
    }

    /// <summary>Copies sequence <paramref name="index"/> into <paramref name="destination"/> and returns its length.</summary>
    /// <param name="index">b, in [0, batchSize).</param>
    /// <param name="destination">At least as long as the sequence.</param>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the batch.</exception>
    /// <exception cref="ArgumentException">The destination is shorter than the sequence.</exception>
    public int CopySequence(int index, Span<int> destination)
    {
        if ((uint)index >= (uint)BatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {BatchSize}) (batchSize).");
        }

        int length = lengths[index];
        if (destination.Length < length)
        {
            throw new ArgumentException($"destination has room for {destination.Length} tokens but sequence {index} has {length}.", nameof(destination));
        }

        for (int t = 0; t < length; t++)
        {
            destination[t] = tokens[t * BatchSize + index];
        }

        return length;
    }

    /// <summary>Sequence <paramref name="index"/> as a new array.</summary>
    /// <param name="index">b, in [0, batchSize).</param>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the batch.</exception>
    public int[] GetSequence(int index)
    {
        if ((uint)index >= (uint)BatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {BatchSize}) (batchSize).");
        }

        var sequence = new int[lengths[index]];
        CopySequence(index, sequence);
        return sequence;
    }
}
