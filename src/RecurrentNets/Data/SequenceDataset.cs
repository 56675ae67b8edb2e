using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RecurrentNets.Init;
using RecurrentNets.Models;

namespace RecurrentNets.Data;

/// <summary>
/// Variable-length sequences (real features or tokens) with their targets, cut into padded, time-major
/// <see cref="SequenceBatch{T}"/>s for training, evaluation and prediction. Legend: N = <see cref="Count"/>,
/// I = <see cref="InputSize"/>, O = <see cref="TargetSize"/>, L = an item's length.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Targets are one of four kinds: a class per sequence, a real vector [O] per sequence, a class per step (-1 =
/// ignore the step) or a real vector [O] per step. PyTorch has no single equivalent: this is a <c>Dataset</c> of
/// variable-length tensors plus a <c>DataLoader</c> whose <c>collate_fn</c> calls <c>pad_sequence</c>, and
/// <see cref="Batches"/> with <c>bucketByLength</c> is torchtext's <c>BucketIterator</c>.</para>
/// <para>The dataset is immutable once created; <see cref="Batches"/> and <see cref="Batch"/> reuse batch buffers
/// (see there), so one dataset serves one consumer thread at a time.</para>
/// </remarks>
public sealed class SequenceDataset<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Items per bucketing pool, in batches (torchtext's BucketIterator uses 100).</summary>
    public const int BucketPoolBatches = 50;

    private readonly T[]? features;      // [sum L, I], item i from starts[i]·I
    private readonly int[]? tokens;      // [sum L], item i from starts[i]
    private readonly int[] lengths;      // [N]
    private readonly int[] starts;       // [N + 1], the first step of each item in the concatenated steps
    private readonly int[]? classes;     // [N] per sequence, [sum L] per step
    private readonly T[]? values;        // [N, O] per sequence, [sum L, O] per step

    // Reused by Batches and Batch: the shuffled item order, sort keys of a bucketing pool, the batch order, batch buffers.
    private readonly int[] order;
    private readonly long[] sortKeys;
    private readonly Dictionary<long, SequenceBatch<T>> batchPool = [];
    private int[] batchOrder = [];
    private int enumerationVersion;

    private SequenceDataset(int inputSize, TargetKind targetKind, bool targetsPerStep, int targetSize,
        int[] lengths, T[]? features, int[]? tokens, int[]? classes, T[]? values)
    {
        InputSize = inputSize;
        TargetKind = targetKind;
        TargetsPerStep = targetsPerStep;
        TargetSize = targetSize;
        this.lengths = lengths;
        this.features = features;
        this.tokens = tokens;
        this.classes = classes;
        this.values = values;
        starts = new int[lengths.Length + 1];
        for (int i = 0; i < lengths.Length; i++)
        {
            starts[i + 1] = checked(starts[i] + lengths[i]);
            MaxLength = Math.Max(MaxLength, lengths[i]);
        }

        order = new int[lengths.Length];
        sortKeys = new long[lengths.Length];
    }

    /// <summary>N, the number of sequences.</summary>
    public int Count => lengths.Length;

    /// <summary>I, the features of a step; 0 when the items are tokens.</summary>
    public int InputSize { get; }

    /// <summary>Whether the targets are classes (<see cref="TargetKind.Classes"/>) or real vectors (<see cref="TargetKind.Values"/>).</summary>
    public TargetKind TargetKind { get; }

    /// <summary>True for a target per step (T' = T in a batch), false for one target per sequence (T' = 1).</summary>
    public bool TargetsPerStep { get; }

    /// <summary>O: the size of a real target vector, or for class targets the largest class seen + 1 (0 when every step is ignored).</summary>
    /// <remarks>A dataset made by <see cref="Split"/> keeps the size of the dataset it came from.</remarks>
    public int TargetSize { get; }

    /// <summary>The length of the longest sequence.</summary>
    public int MaxLength { get; }

    /// <summary>The length of each sequence, [N].</summary>
    public ReadOnlySpan<int> Lengths => lengths;

    /// <summary>The length (steps) of item <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, N).</exception>
    public int LengthOf(int index)
    {
        CheckIndex(index, nameof(index));
        return lengths[index];
    }

    /// <summary>Sequences of features [L, I], each with one class.</summary>
    /// <param name="items">At least one; every sequence has the same I and at least one step; classes are non-negative.</param>
    /// <exception cref="ArgumentException">An item is invalid; the message names the item's index.</exception>
    public static SequenceDataset<T> Create(IEnumerable<(T[,] Sequence, int Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var b = new Builder(TargetKind.Classes, perStep: false);
        foreach (var (sequence, target) in items)
        {
            b.AddFeatures(sequence);
            b.AddClass(target);
        }

        return b.Build();
    }

    /// <summary>Sequences of features [L, I], each with one real target vector [O] (regression, forecasting).</summary>
    /// <param name="items">At least one; every sequence has the same I, every target the same O; all values finite.</param>
    /// <exception cref="ArgumentException">An item is invalid; the message names the item's index.</exception>
    public static SequenceDataset<T> Create(IEnumerable<(T[,] Sequence, T[] Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var b = new Builder(TargetKind.Values, perStep: false);
        foreach (var (sequence, target) in items)
        {
            b.AddFeatures(sequence);
            b.AddValues(target, rows: 1, target?.Length ?? 0);
        }

        return b.Build();
    }

    /// <summary>Sequences of features [L, I], each with a real target vector per step, [L, O].</summary>
    /// <param name="items">At least one; a target has as many rows as its sequence and every target the same O; all values finite.</param>
    /// <exception cref="ArgumentException">An item is invalid; the message names the item's index.</exception>
    public static SequenceDataset<T> Create(IEnumerable<(T[,] Sequence, T[,] Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var b = new Builder(TargetKind.Values, perStep: true);
        foreach (var (sequence, target) in items)
        {
            b.AddFeatures(sequence);
            b.AddValues(target, target?.GetLength(0) ?? 0, target?.GetLength(1) ?? 0);
        }

        return b.Build();
    }

    /// <summary>Sequences of features [L, I], each with a class per step, [L] (tagging); -1 ignores a step.</summary>
    /// <param name="items">At least one; a target has as many classes as its sequence has steps; classes are -1 or more.</param>
    /// <exception cref="ArgumentException">An item is invalid; the message names the item's index.</exception>
    public static SequenceDataset<T> Create(IEnumerable<(T[,] Sequence, int[] Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var b = new Builder(TargetKind.Classes, perStep: true);
        foreach (var (sequence, target) in items)
        {
            b.AddFeatures(sequence);
            b.AddClasses(target);
        }

        return b.Build();
    }

    /// <summary>Token sequences [L], each with one class.</summary>
    /// <param name="items">At least one; sequences are non-empty, tokens and classes non-negative.</param>
    /// <exception cref="ArgumentException">An item is invalid; the message names the item's index.</exception>
    public static SequenceDataset<T> Create(IEnumerable<(int[] Tokens, int Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var b = new Builder(TargetKind.Classes, perStep: false);
        foreach (var (sequence, target) in items)
        {
            b.AddTokens(sequence);
            b.AddClass(target);
        }

        return b.Build();
    }

    /// <summary>Token sequences [L], each with a class per step, [L] (a language model, a tagger); -1 ignores a step.</summary>
    /// <param name="items">At least one; sequences are non-empty, tokens non-negative, targets as long as their sequence.</param>
    /// <exception cref="ArgumentException">An item is invalid; the message names the item's index.</exception>
    public static SequenceDataset<T> Create(IEnumerable<(int[] Tokens, int[] Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var b = new Builder(TargetKind.Classes, perStep: true);
        foreach (var (sequence, target) in items)
        {
            b.AddTokens(sequence);
            b.AddClasses(target);
        }

        return b.Build();
    }

    /// <summary>
    /// Language-model windows of a token stream: item k holds <c>tokens[k·stride .. k·stride + window)</c> and, as its
    /// per-step targets, the token after each one, <c>tokens[k·stride + 1 .. k·stride + window]</c>.
    /// </summary>
    /// <param name="tokens">The stream, at least window + 1 tokens, each non-negative.</param>
    /// <param name="window">L, the tokens per item, at least 1.</param>
    /// <param name="stride">The distance between the starts of consecutive windows, at least 1 (= window for disjoint windows).</param>
    /// <exception cref="ArgumentOutOfRangeException">window or stride is below 1.</exception>
    /// <exception cref="ArgumentException">The stream is shorter than window + 1 or holds a negative token.</exception>
    public static SequenceDataset<T> ForLanguageModel(int[] tokens, int window, int stride)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        if (tokens.Length < window + 1)
        {
            throw new ArgumentException($"tokens has {tokens.Length} tokens but a window of {window} needs at least {window + 1} (window + 1, for the next token).", nameof(tokens));
        }

        var b = new Builder(TargetKind.Classes, perStep: true);
        for (int start = 0; start + window < tokens.Length; start += stride)
        {
            b.AddTokens(tokens[start..(start + window)]);
            b.AddClasses(tokens[(start + 1)..(start + window + 1)]);
        }

        return b.Build();
    }

    /// <summary>
    /// A token stream cut into B contiguous streams read side by side in windows, for a stateful language model
    /// (<see cref="SequenceModel{T}.Stateful"/>): the unshuffled batches of size <paramref name="streams"/> are the
    /// consecutive windows, row b of each batch continuing row b of the one before (min-char-rnn, Keras
    /// <c>stateful=True</c>). With S = (N - 1) / B steps per stream, stream b reads <c>tokens[b·S .. b·S + S)</c> and
    /// predicts <c>tokens[b·S + 1 .. b·S + S]</c>; item w·B + b is window w of stream b, <c>window</c> steps long (the
    /// last window of each stream holds the remainder, S mod window steps, when there is one).
    /// </summary>
    /// <param name="tokens">The stream, at least streams + 1 tokens, each non-negative. The last (N - 1) mod B tokens are not read.</param>
    /// <param name="streams">B, the parallel streams (the batch size to read the data set with), at least 1.</param>
    /// <param name="window">k, the steps per window (truncated-BPTT length), at least 1.</param>
    /// <returns>ceil(S / window)·B items of class targets per step; train with
    /// <c>Fit(..., new FitOptions { BatchSize = streams, Shuffle = false })</c> or <c>Batches(streams)</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">streams or window is below 1.</exception>
    /// <exception cref="ArgumentException">The stream has fewer than streams + 1 tokens or holds a negative token.</exception>
    public static SequenceDataset<T> ForLanguageModelStreams(int[] tokens, int streams, int window)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(streams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        int streamLength = (tokens.Length - 1) / streams;
        if (streamLength < 1)
        {
            throw new ArgumentException($"tokens has {tokens.Length} tokens but {streams} streams need at least {streams + 1} (streams + 1, for the next token).", nameof(tokens));
        }

        var b = new Builder(TargetKind.Classes, perStep: true);
        for (int windowStart = 0; windowStart < streamLength; windowStart += window)
        {
            int steps = Math.Min(window, streamLength - windowStart);
            for (int stream = 0; stream < streams; stream++)
            {
                int start = stream * streamLength + windowStart;
                b.AddTokens(tokens[start..(start + steps)]);
                b.AddClasses(tokens[(start + 1)..(start + steps + 1)]);
            }
        }

        return b.Build();
    }

    /// <summary>
    /// Splits the items into two disjoint datasets: a seeded shuffle puts round(firstFraction·N) items in the first
    /// and the rest in the second; each part keeps the items in their original order.
    /// </summary>
    /// <param name="firstFraction">In (0, 1); both parts must get at least one item.</param>
    /// <param name="seed">The shuffle's seed: the same seed gives the same split.</param>
    /// <returns>The two parts, with this dataset's <see cref="InputSize"/>, target kind and <see cref="TargetSize"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A part would be empty.</exception>
    public (SequenceDataset<T> First, SequenceDataset<T> Second) Split(double firstFraction, ulong seed)
    {
        var (first, second) = Shuffling.Split(Count, firstFraction, seed, "items");
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
    /// One epoch of padded batches, <see cref="BatchCount"/> of them: every item exactly once, the last batch holding the
    /// remainder when batchSize does not divide N.
    /// </summary>
    /// <param name="batchSize">B, at least 1.</param>
    /// <param name="shuffle">Shuffle the items (seeded by <paramref name="seed"/> and <paramref name="epoch"/>); otherwise keep their order.</param>
    /// <param name="seed">The shuffle's seed.</param>
    /// <param name="epoch">The epoch, non-negative: epoch e's order depends only on (seed, e), never on earlier epochs,
    /// so training resumed at epoch e sees the batches it would have seen.</param>
    /// <param name="bucketByLength">Group items of similar length (torchtext's BucketIterator): pools of
    /// <see cref="BucketPoolBatches"/>·B items in (shuffled) order are sorted by length and cut into batches, and the
    /// batch order is shuffled when <paramref name="shuffle"/> is set. Each batch then pads little.</param>
    /// <param name="paddingToken">The token past each sequence's end in a batch of tokens.</param>
    /// <returns>The batches; enumerate them with foreach (a struct enumerator: nothing allocated once every batch shape has been seen).</returns>
    /// <remarks>
    /// A batch has Steps = its longest sequence; past each sequence's end features are 0, tokens are
    /// <paramref name="paddingToken"/>, per-step classes are -1 and per-step values 0. A yielded batch is a buffer
    /// reused for the next batch of the same (Steps, B) shape: it is valid until the next batch is requested.
    /// Starting a new enumeration ends the previous one (its next MoveNext throws); <see cref="Batch"/> does not.
    /// A shuffled epoch allocates one <see cref="SeededRandom"/> (a few dozen bytes); an unshuffled one nothing.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1 or <paramref name="epoch"/> is negative.</exception>
    public SequenceBatches<T> Batches(int batchSize, bool shuffle = false, ulong seed = 0, int epoch = 0,
        bool bucketByLength = false, int paddingToken = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return new SequenceBatches<T>(this, batchSize, shuffle, seed, epoch, bucketByLength, paddingToken);
    }

    /// <summary>One padded batch of the given items, in the given order (for prediction or evaluation of chosen items).</summary>
    /// <param name="itemIndices">B item indices, each in [0, N); repeats are allowed.</param>
    /// <param name="paddingToken">The token past each sequence's end in a batch of tokens.</param>
    /// <returns>A reused buffer, valid until this dataset builds its next batch of the same shape (see <see cref="Batches"/>).</returns>
    /// <exception cref="ArgumentException"><paramref name="itemIndices"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, N).</exception>
    public SequenceBatch<T> Batch(ReadOnlySpan<int> itemIndices, int paddingToken = 0)
    {
        if (itemIndices.IsEmpty)
        {
            throw new ArgumentException("itemIndices is empty; a batch needs at least one item.", nameof(itemIndices));
        }

        foreach (int index in itemIndices)
        {
            CheckIndex(index, nameof(itemIndices));
        }

        return Fill(itemIndices, paddingToken);
    }

    /// <summary>Plans an epoch into the reused order arrays and returns the version that owns them.</summary>
    internal int Plan(int batchSize, bool shuffle, ulong seed, int epoch, bool bucketByLength)
    {
        int n = Count, batchCount = BatchCount(batchSize);
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        if (batchOrder.Length != batchCount)
        {
            batchOrder = new int[batchCount];
        }

        for (int k = 0; k < batchCount; k++)
        {
            batchOrder[k] = k;
        }

        SeededRandom? random = shuffle ? new SeededRandom(Shuffling.EpochSeed(seed, epoch)) : null;
        if (random != null)
        {
            Shuffling.Shuffle(order, random);
        }

        if (bucketByLength)
        {
            // Sort each pool by (length, position in the pool): unique keys, so any sort algorithm gives the same order.
            int poolSize = (int)Math.Min((long)BucketPoolBatches * batchSize, n);
            for (int poolStart = 0; poolStart < n; poolStart += poolSize)
            {
                int size = Math.Min(poolSize, n - poolStart);
                for (int i = 0; i < size; i++)
                {
                    sortKeys[poolStart + i] = ((long)lengths[order[poolStart + i]] << 32) | (uint)i;
                }

                Array.Sort(sortKeys, order, poolStart, size);
            }

            if (random != null)
            {
                Shuffling.Shuffle(batchOrder, random);
            }
        }

        return ++enumerationVersion;
    }

    internal bool IsCurrent(int version) => version == enumerationVersion;

    /// <summary>Fills the pooled batch for batch <paramref name="k"/> of the planned epoch.</summary>
    internal SequenceBatch<T> FillPlanned(int k, int batchSize, int paddingToken)
    {
        int start = batchOrder[k] * batchSize;
        return Fill(order.AsSpan(start, Math.Min(batchSize, Count - start)), paddingToken);
    }

    private SequenceBatch<T> Fill(ReadOnlySpan<int> items, int paddingToken)
    {
        int batchSize = items.Length, steps = 0;
        foreach (int item in items)
        {
            steps = Math.Max(steps, lengths[item]);
        }

        long key = ((long)steps << 32) | (uint)batchSize;
        if (!batchPool.TryGetValue(key, out SequenceBatch<T>? batch))
        {
            batch = new SequenceBatch<T>(steps, batchSize, InputSize, TargetKind, TargetsPerStep ? steps : 1, Math.Max(TargetSize, 1));
            batchPool.Add(key, batch);
        }

        int o = TargetSize;
        for (int b = 0; b < batchSize; b++)
        {
            int item = items[b], length = lengths[item], first = starts[item];
            batch.Lengths[b] = length;
            for (int t = 0; t < steps; t++)
            {
                bool inside = t < length;
                if (features != null)
                {
                    Span<T> row = batch.Features!.Data.AsSpan((t * batchSize + b) * InputSize, InputSize);
                    if (inside)
                    {
                        features.AsSpan((first + t) * InputSize, InputSize).CopyTo(row);
                    }
                    else
                    {
                        row.Clear();
                    }
                }
                else
                {
                    batch.Tokens![t * batchSize + b] = inside ? tokens![first + t] : paddingToken;
                }

                if (!TargetsPerStep)
                {
                    continue;
                }

                if (classes != null)
                {
                    batch.Classes![t * batchSize + b] = inside ? classes[first + t] : -1;
                }
                else
                {
                    Span<T> row = batch.Values!.Data.AsSpan((t * batchSize + b) * o, o);
                    if (inside)
                    {
                        values!.AsSpan((first + t) * o, o).CopyTo(row);
                    }
                    else
                    {
                        row.Clear();
                    }
                }
            }

            if (!TargetsPerStep)
            {
                if (classes != null)
                {
                    batch.Classes![b] = classes[item];
                }
                else
                {
                    values!.AsSpan(item * o, o).CopyTo(batch.Values!.Data.AsSpan(b * o, o));
                }
            }
        }

        return batch;
    }

    private SequenceDataset<T> Subset(int[] items)
    {
        int totalSteps = 0;
        foreach (int item in items)
        {
            totalSteps += lengths[item];
        }

        int o = TargetSize;
        int[] newLengths = new int[items.Length];
        T[]? newFeatures = features != null ? new T[totalSteps * InputSize] : null;
        int[]? newTokens = tokens != null ? new int[totalSteps] : null;
        int[]? newClasses = classes != null ? new int[TargetsPerStep ? totalSteps : items.Length] : null;
        T[]? newValues = values != null ? new T[(TargetsPerStep ? totalSteps : items.Length) * o] : null;
        int step = 0;
        for (int j = 0; j < items.Length; j++)
        {
            int item = items[j], length = lengths[item], first = starts[item];
            newLengths[j] = length;
            features?.AsSpan(first * InputSize, length * InputSize).CopyTo(newFeatures.AsSpan(step * InputSize));
            tokens?.AsSpan(first, length).CopyTo(newTokens.AsSpan(step));
            (int from, int to, int count) = TargetsPerStep ? (first, step, length) : (item, j, 1);
            classes?.AsSpan(from, count).CopyTo(newClasses.AsSpan(to));
            values?.AsSpan(from * o, count * o).CopyTo(newValues.AsSpan(to * o));
            step += length;
        }

        return new SequenceDataset<T>(InputSize, TargetKind, TargetsPerStep, TargetSize, newLengths, newFeatures, newTokens, newClasses, newValues);
    }

    private void CheckIndex(int index, string paramName)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(paramName, index, $"item index {index} is outside [0, {Count}) (the dataset's items).");
        }
    }

    /// <summary>Collects and validates items; every message names the item's index.</summary>
    private sealed class Builder(TargetKind kind, bool perStep)
    {
        private readonly List<int> lengths = [];
        private readonly List<T> features = [];
        private readonly List<int> tokens = [];
        private readonly List<int> classes = [];
        private readonly List<T> values = [];
        private int inputSize = -1, valueSize = -1, maxClass = -1;

        private int Index => lengths.Count - 1;

        public void AddFeatures(T[,]? sequence)
        {
            int index = lengths.Count;
            if (sequence is null)
            {
                throw Fail($"item {index} has no sequence (null).");
            }

            int steps = sequence.GetLength(0), size = sequence.GetLength(1);
            if (steps == 0)
            {
                throw Fail($"item {index} is empty (0 steps); every sequence needs at least one step.");
            }

            if (size == 0)
            {
                throw Fail($"item {index} has 0 features per step; it needs at least one.");
            }

            if (inputSize < 0)
            {
                inputSize = size;
            }
            else if (size != inputSize)
            {
                throw Fail($"item {index} has {size} features but item 0 has {inputSize}.");
            }

            ReadOnlySpan<T> flat = Flat(sequence);
            for (int k = 0; k < flat.Length; k++)
            {
                if (!T.IsFinite(flat[k]))
                {
                    throw Fail($"item {index} has {flat[k]} at step {k / size}, feature {k % size}; features must be finite.");
                }
            }

            features.AddRange(flat);
            lengths.Add(steps);
        }

        public void AddTokens(int[]? sequence)
        {
            int index = lengths.Count;
            if (sequence is null)
            {
                throw Fail($"item {index} has no tokens (null).");
            }

            if (sequence.Length == 0)
            {
                throw Fail($"item {index} is empty (0 tokens); every sequence needs at least one step.");
            }

            for (int t = 0; t < sequence.Length; t++)
            {
                if (sequence[t] < 0)
                {
                    throw Fail($"item {index} has token {sequence[t]} at step {t}; tokens must be non-negative.");
                }
            }

            tokens.AddRange(sequence);
            inputSize = 0;
            lengths.Add(sequence.Length);
        }

        public void AddClass(int target)
        {
            if (target < 0)
            {
                throw Fail($"item {Index} has class {target}; a class per sequence must be non-negative.");
            }

            maxClass = Math.Max(maxClass, target);
            classes.Add(target);
        }

        public void AddClasses(int[]? target)
        {
            int steps = lengths[Index];
            if (target is null || target.Length != steps)
            {
                throw Fail($"item {Index} has {target?.Length ?? 0} targets but {steps} steps; a target per step needs one per step.");
            }

            for (int t = 0; t < target.Length; t++)
            {
                if (target[t] < -1)
                {
                    throw Fail($"item {Index} has class {target[t]} at step {t}; classes must be non-negative, or -1 to ignore the step.");
                }

                maxClass = Math.Max(maxClass, target[t]);
            }

            classes.AddRange(target);
        }

        /// <summary>Adds a real target of <paramref name="rows"/> × <paramref name="size"/> values (a T[] is one row).</summary>
        public void AddValues(Array? target, int rows, int size)
        {
            int steps = lengths[Index];
            if (target is null)
            {
                throw Fail($"item {Index} has no target (null).");
            }

            if (perStep && rows != steps)
            {
                throw Fail($"item {Index} has {rows} target steps but {steps} sequence steps; a target per step needs one per step.");
            }

            if (size == 0)
            {
                throw Fail($"item {Index} has an empty target (0 values).");
            }

            if (valueSize < 0)
            {
                valueSize = size;
            }
            else if (size != valueSize)
            {
                throw Fail($"item {Index} has a target of {size} values but item 0 has {valueSize}.");
            }

            ReadOnlySpan<T> flat = Flat(target);
            for (int k = 0; k < flat.Length; k++)
            {
                if (!T.IsFinite(flat[k]))
                {
                    string where = perStep ? $"step {k / size}, value {k % size}" : $"value {k}";
                    throw Fail($"item {Index} has {flat[k]} in its target at {where}; targets must be finite.");
                }
            }

            values.AddRange(flat);
        }

        public SequenceDataset<T> Build()
        {
            if (lengths.Count == 0)
            {
                throw Fail("items is empty; a dataset needs at least one item.");
            }

            bool isTokens = inputSize == 0;
            return new SequenceDataset<T>(inputSize, kind, perStep, kind == TargetKind.Classes ? maxClass + 1 : valueSize,
                [.. lengths], isTokens ? null : [.. features], isTokens ? [.. tokens] : null,
                kind == TargetKind.Classes ? [.. classes] : null, kind == TargetKind.Values ? [.. values] : null);
        }

        // A T[] or T[,] as its row-major elements.
        private static ReadOnlySpan<T> Flat(Array array) =>
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);

        private static ArgumentException Fail(string message) => new(message, "items");
    }
}
