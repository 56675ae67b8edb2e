using RecurrentNets.Init;

namespace RecurrentNets.Data;

/// <summary>
/// Pairs of token sequences (a source and a target, e.g. a sentence and its translation), cut into padded, time-major
/// <see cref="TokenBatch"/> pairs for an <see cref="Models.EncoderDecoder{T}"/>. Legend: N = <see cref="Count"/>,
/// B = batch size.
/// </summary>
/// <remarks>
/// <para>Tokens are only checked to be non-negative here; the model checks them against its vocabularies. The targets
/// hold neither &lt;bos&gt; nor &lt;eos&gt;: the model adds them.</para>
/// <para>The data set is immutable once created. <see cref="Batches"/> reuses one pair of batch buffers per batch size,
/// so one data set serves one consumer thread at a time. PyTorch: a <c>Dataset</c> of (source, target) index tensors
/// with a <c>DataLoader</c> whose <c>collate_fn</c> pads both.</para>
/// </remarks>
public sealed class SequencePairDataset
{
    private readonly int[][] sources;
    private readonly int[][] targets;
    private readonly Dictionary<int, (TokenBatch Source, TokenBatch Target)> batchPool = [];

    private SequencePairDataset(int[][] sources, int[][] targets)
    {
        this.sources = sources;
        this.targets = targets;
        foreach (var source in sources)
        {
            MaxSourceLength = Math.Max(MaxSourceLength, source.Length);
        }

        foreach (var target in targets)
        {
            MaxTargetLength = Math.Max(MaxTargetLength, target.Length);
        }
    }

    /// <summary>N, the number of pairs.</summary>
    public int Count => sources.Length;

    /// <summary>The length of the longest source.</summary>
    public int MaxSourceLength { get; }

    /// <summary>The length of the longest target.</summary>
    public int MaxTargetLength { get; }

    /// <summary>The source of pair <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside [0, N).</exception>
    public ReadOnlySpan<int> Source(int index)
    {
        CheckIndex(index);
        return sources[index];
    }

    /// <summary>The target of pair <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside [0, N).</exception>
    public ReadOnlySpan<int> Target(int index)
    {
        CheckIndex(index);
        return targets[index];
    }

    /// <summary>A data set of (source, target) pairs; the arrays are copied.</summary>
    /// <param name="pairs">Each source and target of at least one token, every token non-negative.</param>
    /// <exception cref="ArgumentException">There is no pair, or a pair has a null or empty sequence or a negative token; the
    /// message names the pair's index.</exception>
    public static SequencePairDataset Create(IEnumerable<(int[] Source, int[] Target)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var sources = new List<int[]>();
        var targets = new List<int[]>();
        foreach (var (source, target) in pairs)
        {
            int index = sources.Count;
            sources.Add(Checked(source, index, "source"));
            targets.Add(Checked(target, index, "target"));
        }

        if (sources.Count == 0)
        {
            throw new ArgumentException("pairs is empty; a data set needs at least one pair.", nameof(pairs));
        }

        return new SequencePairDataset([.. sources], [.. targets]);

        static int[] Checked(int[]? sequence, int index, string role)
        {
            if (sequence is null)
            {
                throw new ArgumentException($"pair {index} has no {role} (null).", nameof(pairs));
            }

            if (sequence.Length == 0)
            {
                throw new ArgumentException($"pair {index} has an empty {role} (0 tokens); every {role} needs at least one token.", nameof(pairs));
            }

            for (int t = 0; t < sequence.Length; t++)
            {
                if (sequence[t] < 0)
                {
                    throw new ArgumentException($"pair {index} has {role} token {sequence[t]} at position {t}; tokens must be non-negative.", nameof(pairs));
                }
            }

            return (int[])sequence.Clone();
        }
    }

    /// <summary>
    /// Splits the pairs into two disjoint data sets: a seeded shuffle puts round(firstFraction·N) pairs in the first and
    /// the rest in the second; each part keeps the pairs in their original order.
    /// </summary>
    /// <param name="firstFraction">In (0, 1); both parts must get at least one pair.</param>
    /// <param name="seed">The shuffle's seed: the same seed gives the same split.</param>
    /// <exception cref="ArgumentOutOfRangeException">A part would be empty.</exception>
    public (SequencePairDataset First, SequencePairDataset Second) Split(double firstFraction, ulong seed)
    {
        var (first, second) = Shuffling.Split(Count, firstFraction, seed, "pairs");
        return (Subset(first), Subset(second));
    }

    /// <summary>The number of batches of an epoch: ceil(N / batchSize).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    public int BatchCount(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return (Count + batchSize - 1) / batchSize;
    }

    /// <summary>
    /// One epoch of padded (source, target) batches, <see cref="BatchCount"/> of them: every pair exactly once, the last
    /// batch holding the remainder when batchSize does not divide N.
    /// </summary>
    /// <param name="batchSize">B, at least 1.</param>
    /// <param name="shuffle">Shuffle the pairs (seeded by <paramref name="seed"/> and <paramref name="epoch"/>); otherwise
    /// keep their order.</param>
    /// <param name="seed">The shuffle's seed.</param>
    /// <param name="epoch">The epoch, non-negative: epoch e's order depends only on (seed, e), so a resumed run sees the
    /// batches it would have seen.</param>
    /// <returns>The batches. The source batch has capacity <see cref="MaxSourceLength"/>, the target batch
    /// <see cref="MaxTargetLength"/>; the pair yielded is reused for the next batch of the same size, so it is valid until the
    /// next batch is requested. An epoch allocates its order (N ints) and its enumerator.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1 or <paramref name="epoch"/> is negative.</exception>
    public IEnumerable<(TokenBatch Source, TokenBatch Target)> Batches(int batchSize, bool shuffle = false, ulong seed = 0, int epoch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        int[] order = Identity(Count);
        if (shuffle)
        {
            Shuffling.Shuffle(order, new SeededRandom(Shuffling.EpochSeed(seed, epoch)));
        }

        return Enumerate(order, batchSize);
    }

    /// <summary>One padded batch of the given pairs, in the given order (a reused buffer, as in <see cref="Batches"/>).</summary>
    /// <param name="itemIndices">B pair indices, each in [0, N); repeats are allowed.</param>
    /// <exception cref="ArgumentException"><paramref name="itemIndices"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, N).</exception>
    public (TokenBatch Source, TokenBatch Target) Batch(ReadOnlySpan<int> itemIndices)
    {
        if (itemIndices.IsEmpty)
        {
            throw new ArgumentException("itemIndices is empty; a batch needs at least one pair.", nameof(itemIndices));
        }

        foreach (int index in itemIndices)
        {
            CheckIndex(index);
        }

        return Fill(itemIndices);
    }

    private IEnumerable<(TokenBatch Source, TokenBatch Target)> Enumerate(int[] order, int batchSize)
    {
        for (int start = 0; start < order.Length; start += batchSize)
        {
            yield return Fill(order.AsSpan(start, Math.Min(batchSize, order.Length - start)));
        }
    }

    private (TokenBatch Source, TokenBatch Target) Fill(ReadOnlySpan<int> items)
    {
        if (!batchPool.TryGetValue(items.Length, out var batch))
        {
            batch = (new TokenBatch(MaxSourceLength, items.Length), new TokenBatch(MaxTargetLength, items.Length));
            batchPool.Add(items.Length, batch);
        }

        for (int b = 0; b < items.Length; b++)
        {
            batch.Source.Set(b, sources[items[b]]);
            batch.Target.Set(b, targets[items[b]]);
        }

        return batch;
    }

    private SequencePairDataset Subset(int[] items) =>
        new([.. items.Select(i => sources[i])], [.. items.Select(i => targets[i])]);

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"pair index {index} is outside [0, {Count}) (the data set's pairs).");
        }
    }

    private static int[] Identity(int count)
    {
        int[] values = new int[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = i;
        }

        return values;
    }
}
