using System.Text.Json;
using RecurrentNets.Data;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Serialization;
using RecurrentNets.Training;

namespace RecurrentNets.Models;

public sealed partial class EncoderDecoder<T>
{
    /// <summary>The name of the validation metric of <see cref="Fit"/> and <see cref="Evaluate"/>: the fraction of pairs
    /// whose greedy decoding equals the target exactly.</summary>
    public const string ExactMatch = "exact_match";

    private readonly Dictionary<(int Capacity, int Batch), TokenBatch> decodePool = [];

    /// <summary>The optimiser set by <see cref="Compile(Optimizer{T})"/>, or null.</summary>
    public Optimizer<T>? Optimizer { get; private set; }

    /// <summary>Global gradient-norm clipping in <see cref="Fit"/> when <see cref="FitOptions.ClipNorm"/> is null, or null
    /// for none (PyTorch <c>clip_grad_norm_</c>).</summary>
    public double? ClipNorm { get; set; }

    /// <summary>The seed of <see cref="Fit"/>'s per-epoch shuffle: epoch e's order depends only on (seed, e).</summary>
    public ulong ShuffleSeed { get; set; }

    /// <summary>
    /// Sets the optimiser of <see cref="Fit"/> (Keras <c>model.compile</c>; the loss is always the mean token
    /// cross-entropy of <see cref="Forward"/>, and the metric is <see cref="ExactMatch"/>).
    /// </summary>
    /// <param name="optimizer">An optimiser on this model's <see cref="Parameters"/>, e.g. <c>new Adam&lt;float&gt;(model.Parameters, 1e-2)</c>.</param>
    /// <exception cref="ArgumentException">The optimiser works on another parameter block.</exception>
    public void Compile(Optimizer<T> optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!ReferenceEquals(optimizer.Parameters, Parameters))
        {
            throw new ArgumentException("The optimiser works on another parameter block: build it on model.Parameters.", nameof(optimizer));
        }

        Optimizer = optimizer;
    }

    /// <summary>Sets the optimiser of <see cref="Fit"/>, built on <see cref="Parameters"/> by <paramref name="optimizer"/>
    /// (e.g. <c>p =&gt; new Adam&lt;float&gt;(p, 1e-2)</c>).</summary>
    /// <param name="optimizer">Builds the optimiser from the model's parameter block.</param>
    /// <exception cref="ArgumentException">The optimiser built works on another parameter block.</exception>
    public void Compile(Func<ParameterBlock<T>, Optimizer<T>> optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Compile(optimizer(Parameters));
    }

    /// <summary>
    /// Trains the model on (source, target) pairs with teacher forcing, on <see cref="Trainer{T}"/>: shuffled batches
    /// (<see cref="ShuffleSeed"/>), gradient clipping, a learning-rate schedule, early stopping on the validation loss
    /// (or <see cref="ExactMatch"/>, <see cref="FitOptions.Monitor"/>) that puts back the best weights, periodic
    /// training checkpoints and resume. The same seeds give the same run, bit for bit, and a resumed run equals an
    /// uninterrupted one.
    /// </summary>
    /// <param name="train">The training pairs.</param>
    /// <param name="validation">Pairs scored after every epoch (loss and exact match of greedy decoding), or null.</param>
    /// <param name="options">Epochs, batch size and the rest; defaults when null. <see cref="FitOptions.PaddingToken"/>
    /// is not used (padding is never read) and <see cref="FitOptions.BucketByLength"/> is not supported.</param>
    /// <param name="progress">Receives a summary after every epoch, or null.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <returns>Every epoch's losses, and why training ended.</returns>
    /// <exception cref="InvalidOperationException">The model is not compiled.</exception>
    /// <exception cref="ArgumentException">A pair does not fit the model (a token outside a vocabulary, &lt;bos&gt; or
    /// &lt;eos&gt; inside a target; the message names the pair and the sizes), an option is not supported, or a checkpoint
    /// to resume from is of another model; nothing is trained.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the weights are those after the last completed step.</exception>
    public FitHistory Fit(SequencePairDataset train, SequencePairDataset? validation = null, FitOptions? options = null,
        IProgress<EpochSummary>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        options ??= new FitOptions();
        var optimizer = Optimizer ?? throw new InvalidOperationException("Compile the model (an optimiser) before Fit.");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, "options.BatchSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CheckpointEveryEpochs, 1, "options.CheckpointEveryEpochs");
        if (options.BucketByLength)
        {
            throw new ArgumentException("options.BucketByLength is not supported by EncoderDecoder.Fit.", nameof(options));
        }

        if (options.Monitor is not ("loss" or ExactMatch))
        {
            throw new ArgumentException($"options.Monitor is '{options.Monitor}' but an EncoderDecoder reports: loss, {ExactMatch}.", nameof(options));
        }

        CheckData(train, nameof(train));
        if (validation is not null)
        {
            CheckData(validation, nameof(validation));
        }

        TrainerState? resume = options.Resume && options.CheckpointPath is string resumePath && File.Exists(resumePath)
            ? LoadTrainingCheckpoint(resumePath) : null;

        var task = new FitTask(this, train, validation, options);
        var history = FitLoop.Run(optimizer, options, task, validation is not null, ClipNorm, resume, task.Summarise, SaveTrainingCheckpoint,
            progress, cancellationToken);
        return history;
    }

    /// <summary>
    /// The mean token cross-entropy (teacher forcing, as <see cref="Forward"/>, over every target token and each pair's
    /// &lt;eos&gt;) and the <see cref="ExactMatch"/> of greedy decoding over a data set (Keras <c>model.evaluate</c>).
    /// </summary>
    /// <param name="data">The pairs.</param>
    /// <param name="batchSize">Pairs per batch (only speed depends on it).</param>
    /// <returns>The loss and <c>exact_match</c>.</returns>
    /// <exception cref="ArgumentException">A pair does not fit the model; the message names it. Nothing is computed.</exception>
    public EvaluationResult Evaluate(SequencePairDataset data, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        CheckData(data, nameof(data));
        double sum = 0;
        long tokens = 0;
        int matches = 0;
        foreach (var (source, target) in data.Batches(batchSize))
        {
            int counted = source.BatchSize;
            foreach (int length in target.Lengths)
            {
                counted += length;
            }

            sum += Forward(source, target) * counted;
            tokens += counted;

            // One step more than the longest target: a decoding shorter than its capacity ended with <eos>.
            var decoded = DecodeBuffer(data.MaxTargetLength + 1, source.BatchSize);
            Decode(source, decoded);
            for (int b = 0; b < source.BatchSize; b++)
            {
                matches += SameSequence(decoded, target, b) ? 1 : 0;
            }
        }

        return new EvaluationResult(sum / tokens, new Dictionary<string, double>(StringComparer.Ordinal) { [ExactMatch] = (double)matches / data.Count });
    }

    /// <summary>Greedy decoding (<see cref="Decode(TokenBatch, TokenBatch)"/>) of many sources (Keras <c>model.predict</c>).</summary>
    /// <param name="sources">Each of at least one token in [0, Vsrc).</param>
    /// <param name="maxLength">The most tokens an output may have (an output that has not produced &lt;eos&gt; by then is
    /// cut).</param>
    /// <param name="batchSize">Sources per batch (only speed depends on it).</param>
    /// <returns>One output per source, in order, without &lt;eos&gt;.</returns>
    /// <exception cref="ArgumentException">A source is null, empty or has a token outside [0, Vsrc); the message names
    /// its index. Nothing is computed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> or <paramref name="batchSize"/> is below 1.</exception>
    public int[][] Predict(IEnumerable<int[]> sources, int maxLength, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var items = sources.ToArray();
        int capacity = 1;
        for (int i = 0; i < items.Length; i++)
        {
            CheckSource(items[i], i, nameof(sources));
            capacity = Math.Max(capacity, items[i].Length);
        }

        var result = new int[items.Length][];
        for (int start = 0; start < items.Length; start += batchSize)
        {
            int count = Math.Min(batchSize, items.Length - start);
            var source = new TokenBatch(capacity, count);
            for (int b = 0; b < count; b++)
            {
                source.Set(b, items[start + b]);
            }

            var decoded = DecodeBuffer(maxLength, count);
            Decode(source, decoded);
            for (int b = 0; b < count; b++)
            {
                result[start + b] = decoded.GetSequence(b);
            }
        }

        return result;
    }

    /// <summary>Greedy decoding of the sources of a data set (its targets are ignored).</summary>
    /// <param name="data">The pairs.</param>
    /// <param name="maxLength">The most tokens an output may have.</param>
    /// <param name="batchSize">Pairs per batch.</param>
    /// <returns>One output per pair, in order, without &lt;eos&gt;.</returns>
    /// <exception cref="ArgumentException">A source has a token outside [0, Vsrc); the message names the pair.</exception>
    public int[][] Predict(SequencePairDataset data, int maxLength, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Predict(Enumerable.Range(0, data.Count).Select(i => data.Source(i).ToArray()), maxLength, batchSize);
    }

    private void CheckSource(int[]? source, int index, string name)
    {
        if (source is null || source.Length == 0)
        {
            throw new ArgumentException($"{name} item {index} is {(source is null ? "null" : "empty")}; the encoder needs at least one token.", name);
        }

        for (int t = 0; t < source.Length; t++)
        {
            if ((uint)source[t] >= (uint)SourceVocabularySize)
            {
                throw new ArgumentException($"{name} item {index} has token {source[t]} at position {t}, outside [0, {SourceVocabularySize}) (sourceVocabularySize).", name);
            }
        }
    }

    // Every pair fits the vocabularies; the data set already guarantees non-empty sequences.
    private void CheckData(SequencePairDataset data, string name)
    {
        for (int i = 0; i < data.Count; i++)
        {
            ReadOnlySpan<int> source = data.Source(i);
            for (int t = 0; t < source.Length; t++)
            {
                if (source[t] >= SourceVocabularySize)
                {
                    throw new ArgumentException($"{name} pair {i} has source token {source[t]} at position {t}, outside [0, {SourceVocabularySize}) (sourceVocabularySize).", name);
                }
            }

            ReadOnlySpan<int> target = data.Target(i);
            for (int t = 0; t < target.Length; t++)
            {
                int token = target[t];
                if (token >= TargetVocabularySize)
                {
                    throw new ArgumentException($"{name} pair {i} has target token {token} at position {t}, outside [0, {TargetVocabularySize}) (targetVocabularySize).", name);
                }

                if (token == BeginToken || token == EndToken)
                {
                    throw new ArgumentException(
                        $"{name} pair {i} has the {(token == BeginToken ? "begin" : "end")} token {token} at position {t} of its target; targets must not contain <bos> or <eos> (the model adds them).", name);
                }
            }
        }
    }

    private TokenBatch DecodeBuffer(int capacity, int batch)
    {
        if (!decodePool.TryGetValue((capacity, batch), out var buffer))
        {
            buffer = new TokenBatch(capacity, batch);
            decodePool.Add((capacity, batch), buffer);
        }

        return buffer;
    }

    private static bool SameSequence(TokenBatch a, TokenBatch b, int index)
    {
        int length = a.Lengths[index];
        if (length != b.Lengths[index])
        {
            return false;
        }

        for (int t = 0; t < length; t++)
        {
            if (a[t, index] != b[t, index])
            {
                return false;
            }
        }

        return true;
    }

    private void SaveTrainingCheckpoint(string path, TrainerState state) =>
        TrainingCheckpoint.Save(path, Parameters, Optimizer!, state, ModelMetadata());

    private TrainerState LoadTrainingCheckpoint(string path)
    {
        CheckAttentionKind(SafeTensorsFile.Read(path), path);
        return TrainingCheckpoint.Load(path, Parameters, Optimizer!,
            metadata => metadata.GetValueOrDefault("format") == FormatName && metadata.GetValueOrDefault("architecture") == ArchitectureJson());
    }

    /// <summary>The model's side of a <see cref="Trainer{T}"/> run: pair batches in, losses out.</summary>
    private sealed class FitTask(EncoderDecoder<T> model, SequencePairDataset train, SequencePairDataset? validation, FitOptions options)
        : ITrainingTask
    {
        private IEnumerator<(TokenBatch Source, TokenBatch Target)>? batches;
        private EvaluationResult? lastValidation;

        public int StepsPerEpoch { get; } = train.BatchCount(options.BatchSize);

        public double TrainStep(int epoch, int step)
        {
            if (step == 0)
            {
                batches?.Dispose();
                batches = train.Batches(options.BatchSize, options.Shuffle, model.ShuffleSeed, epoch).GetEnumerator();
            }

            if (!batches!.MoveNext())
            {
                throw new InvalidOperationException($"The training set gave fewer than {StepsPerEpoch} batches in epoch {epoch + 1}.");
            }

            var (source, target) = batches.Current;
            double loss = model.Forward(source, target);
            model.Backward();
            return loss;
        }

        public double? Validate(int epoch)
        {
            if (validation is null)
            {
                return null;
            }

            lastValidation = model.Evaluate(validation, options.BatchSize);
            return options.Monitor == ExactMatch ? -lastValidation.Metrics[ExactMatch] : lastValidation.Loss;
        }

        public EpochSummary Summarise(int epoch, double loss, double learningRate, TimeSpan elapsed) =>
            new(epoch, loss, new Dictionary<string, double>(), lastValidation?.Loss, lastValidation?.Metrics ?? new Dictionary<string, double>(),
                learningRate, elapsed);
    }
}
