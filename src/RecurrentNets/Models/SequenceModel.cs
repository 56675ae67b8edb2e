using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// Layers in order, trained, evaluated, run and saved as one model: PyTorch's <c>nn.Sequential</c> and Keras's
/// <c>Sequential</c> on the BPTT engine, with explicit forward and backward passes over buffers the model owns (no
/// autograd graph). Legend: T = steps, B = batch, I = <see cref="InputSize"/>, O = <see cref="OutputSize"/>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Input is a <see cref="SequenceBatch{T}"/>: features [T, B, I], or tokens when the first layer is an
/// <see cref="Layer.Embedding"/> (then <see cref="InputSize"/> is the vocabulary size). Each layer sees the previous
/// layer's output; a reduction (<see cref="Layer.LastStep"/>, <see cref="Layer.MeanOverTime"/>) turns [T, B, F] into
/// [1, B, F], so the layers after it run once per sequence. The output is [T, B, O] (a language model, a tagger) or
/// [1, B, O] (a classifier, a regressor).</para>
/// <para>Every parameter lives in one <see cref="ParameterBlock{T}"/> under the names a PyTorch module with the same
/// attributes would give it (<c>embedding.weight</c>, <c>rnn.weight_ih_l0</c>, <c>head.weight</c>), so a PyTorch
/// <c>state_dict</c> saved as safetensors loads with <see cref="LoadWeights"/> and the other way round.</para>
/// <para>The model keeps one set of activation and gradient buffers per batch shape (T, B) and reuses it: after the
/// first step of a shape, a training step allocates nothing. One model runs one call at a time: a call from a second
/// thread while one runs throws <see cref="InvalidOperationException"/>. For many threads, serve a
/// <see cref="Freeze"/>d copy.</para>
/// </remarks>
public sealed partial class SequenceModel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The <c>format</c> entry of a saved model's metadata.</summary>
    public const string FormatName = "recurrentnets.sequence_model";

    private const string VocabularyKey = "vocabulary", NormalizerKey = "normalizer";

    private readonly List<LayerSpec> specs = [];
    private readonly List<ISequenceLayer<T>> layers = [];
    private readonly List<bool> hasParameters = [];
    private readonly Dictionary<string, int> nameCounts = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Workspace> workspaces = [];
    private readonly SeededRandom random;
    private Embedding<T>? embedding;
    private LayerSpec? inputSpec;
    private Workspace? last;
    private SequenceBatch<T>? lastBatch;
    private bool training = true;
    private bool stateful;
    private ConcurrentUseGuard guard;

    /// <summary>Starts an empty model.</summary>
    /// <param name="inputSize">I, the features of each input step; when the first layer is an embedding, the vocabulary
    /// size (tokens in [0, inputSize)). PyTorch: <c>input_size</c> of the first layer, or <c>num_embeddings</c>.</param>
    /// <param name="seed">The seed of every initialisation and dropout mask: the same seed builds and trains the same model,
    /// bit for bit.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputSize"/> is below 1.</exception>
    public SequenceModel(int inputSize, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        InputSize = inputSize;
        Seed = seed;
        random = new SeededRandom(seed);
    }

    /// <summary>I (or the vocabulary size of a token model).</summary>
    public int InputSize { get; }

    /// <summary>The seed the model was built with.</summary>
    public ulong Seed { get; }

    /// <summary>O, the features of each output step (the last layer's output size).</summary>
    public int OutputSize => layers.Count > 0 ? layers[^1].OutputSize : embedding?.EmbeddingDim ?? InputSize;

    /// <summary>Whether the input is tokens (the first layer is an embedding or a one-hot encoding).</summary>
    public bool TokenInput => inputSpec is not null;

    /// <summary>Every parameter and gradient of the model, in one block.</summary>
    public ParameterBlock<T> Parameters { get; } = new();

    /// <summary>The layers' descriptions in order (the embedding first, if any), with their resolved names: what
    /// <see cref="Save"/> writes.</summary>
    public IReadOnlyList<LayerSpec> Architecture => inputSpec is null ? specs : [inputSpec, .. specs];

    /// <summary>The layers after the embedding, in order.</summary>
    public IReadOnlyList<ISequenceLayer<T>> Layers => layers;

    /// <summary>The token embedding, or null.</summary>
    public Embedding<T>? Embedding => embedding;

    /// <summary>The engine layer behind <see cref="Layers"/>[<paramref name="index"/>] when it is a built-in recurrent layer
    /// (<see cref="RecurrentSpec"/>), else null: its cells, learned initial state and sizes, for exporters and inspection.
    /// Its parameters are views of <see cref="Parameters"/>.</summary>
    /// <param name="index">The layer's position in <see cref="Layers"/> (the embedding not counted).</param>
    /// <returns>The <see cref="RecurrentLayer{T}"/>, or null for any other layer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, Layers.Count).</exception>
    public RecurrentLayer<T>? GetRecurrentLayer(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, layers.Count);
        return (layers[index] as RecurrentAdapter<T>)?.Layer;
    }

    /// <summary>Extra strings saved with the model (e.g. a vocabulary or a normalisation as JSON) and restored by
    /// <see cref="Load"/>. Keys <c>format</c>, <c>dtype</c> and <c>architecture</c> are the model's own.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The vocabulary of a model on text, kept in <see cref="Metadata"/> (<c>vocabulary</c>, as JSON), so a saved model
    /// carries it and <see cref="Load"/> restores it. Null when none is set.
    /// </summary>
    /// <exception cref="InvalidDataException">The stored JSON is not a vocabulary.</exception>
    public Data.Vocabulary? Vocabulary
    {
        get => Metadata.TryGetValue(VocabularyKey, out string? json) ? Data.Vocabulary.FromJson(json) : null;
        set => SetOrRemove(VocabularyKey, value?.ToJson());
    }

    /// <summary>
    /// The normalisation of a model on series (fitted on the training part), kept in <see cref="Metadata"/>
    /// (<c>normalizer</c>, as JSON), so a saved model carries it. Null when none is set.
    /// </summary>
    /// <exception cref="InvalidDataException">The stored JSON is not a normaliser.</exception>
    public Data.Normalizer<T>? Normalizer
    {
        get => Metadata.TryGetValue(NormalizerKey, out string? json) ? Data.Normalizer<T>.FromJson(json) : null;
        set => SetOrRemove(NormalizerKey, value?.ToJson());
    }

    /// <summary>
    /// The most threads one call of the model (<see cref="Fit"/>, <see cref="TrainStep"/>, <see cref="Predict(SequenceBatch{T})"/>,
    /// <see cref="Forward"/>, a stepper's step, ...) may use for its GEMMs and split time loops, the calling thread
    /// included; null (the default) takes the limit of the caller (a <see cref="Training.Trainer{T}"/>), else the number of
    /// processors. <see cref="Freeze"/> hands it to the frozen model; it is not saved with the model.
    /// Results are bit-identical for every value. PyTorch's <c>torch.set_num_threads</c> sets one limit for the process;
    /// this one is the object's, as ONNX Runtime's <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    /// <summary>Whether dropout is on (PyTorch <c>train()</c> / <c>eval()</c>). <see cref="Fit"/>, <see cref="Evaluate"/> and
    /// <see cref="Predict(SequenceBatch{T})"/> set it themselves.</summary>
    public bool Training
    {
        get => training;
        set
        {
            training = value;
            foreach (var layer in layers)
            {
                layer.Training = value;
            }
        }
    }

    /// <summary>
    /// Whether every recurrent layer starts a forward pass from the state its last pass ended in, one state per batch
    /// row (Keras <c>stateful=True</c>; min-char-rnn's <c>hprev</c>): a long stream is then trained window by window
    /// (truncated BPTT), row b of each batch continuing row b of the one before, with no gradient across windows.
    /// <see cref="ResetStates"/> starts the streams again; <see cref="Fit"/> and <see cref="Evaluate"/> reset them at the
    /// start of every pass over a data set. Default false: every batch starts from the initial state.
    /// </summary>
    public bool Stateful
    {
        get => stateful;
        set
        {
            stateful = value;
            foreach (var layer in layers)
            {
                if (layer is RecurrentAdapter<T> recurrent)
                {
                    recurrent.Stateful = value;
                    recurrent.ResetState();
                }
            }
        }
    }

    /// <summary>Zeroes the carried state of every recurrent layer (Keras <c>reset_states()</c>).</summary>
    public void ResetStates()
    {
        foreach (var layer in layers)
        {
            (layer as RecurrentAdapter<T>)?.ResetState();
        }
    }

    /// <summary>Whether the output has one step per sequence (a reduction is among the layers).</summary>
    public bool ReducesTime { get; private set; }

    /// <summary>Appends a built-in layer (see <see cref="Layer"/>); its input size is the current <see cref="OutputSize"/>.</summary>
    /// <param name="layer">The layer's description.</param>
    /// <returns>This model, to chain calls.</returns>
    /// <exception cref="ArgumentException">An embedding that is not first, a duplicate name, a <see cref="CustomSpec"/>
    /// (use the factory overload), or an invalid size (the message names the option).</exception>
    /// <exception cref="InvalidOperationException">Training has started (the parameter block is frozen).</exception>
    public SequenceModel<T> Add(LayerSpec layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer is CustomSpec custom)
        {
            throw new ArgumentException($"Custom layer '{custom.TypeName}' needs a factory: use Add(spec, factory).", nameof(layer));
        }

        return AddCore(layer, null);
    }

    /// <summary>Appends a layer written by the user.</summary>
    /// <param name="spec">Its description: the type name (and settings) that a factory passed to <see cref="Load"/> rebuilds
    /// it from, and its module name.</param>
    /// <param name="factory">Builds the layer; parameters it adds to <see cref="LayerContext{T}.Parameters"/> are named
    /// <c>{name}.{parameter}</c>.</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentException">The layer's input size differs from the current <see cref="OutputSize"/>.</exception>
    public SequenceModel<T> Add(CustomSpec spec, Func<LayerContext<T>, ISequenceLayer<T>> factory)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(factory);
        return AddCore(spec, factory);
    }

    private SequenceModel<T> AddCore(LayerSpec spec, Func<LayerContext<T>, ISequenceLayer<T>>? factory)
    {
        if (Parameters.IsFrozen)
        {
            throw new InvalidOperationException("Cannot add a layer: training has started (the parameter block is frozen).");
        }

        string name = ResolveName(spec);
        spec = spec with { Name = name };
        int inputSize = OutputSize;
        if (spec is EmbeddingSpec or OneHotSpec)
        {
            if (layers.Count > 0 || inputSpec is not null)
            {
                throw new ArgumentException($"An {(spec is OneHotSpec ? "one-hot encoding" : "embedding")} must be the first layer of a model.", nameof(spec));
            }

            if (spec is EmbeddingSpec embed)
            {
                embedding = new Embedding<T>(InputSize, embed.EmbeddingDim, embed.PaddingIndex, random.Fork(), Parameters, name);
            }

            inputSpec = spec;
            return this;
        }

        int directions = InputDirections();
        var context = new LayerContext<T>(Parameters, inputSize, random.Fork(), name, directions);
        int before = Parameters.Length;
        ISequenceLayer<T> built;
        using (spec.HasParameters && !spec.NamesItself ? Parameters.BeginScope(name + ".") : null)
        {
            built = factory is null ? spec.Build(context) : factory(context);
        }

        if (built.InputSize != inputSize)
        {
            throw new ArgumentException($"Layer '{name}' has inputSize {built.InputSize} but the previous layer gives {inputSize} features.", nameof(spec));
        }

        built.Training = training;
        if (built is RecurrentAdapter<T> carrying)
        {
            carrying.Stateful = stateful;
        }
        specs.Add(spec);
        layers.Add(built);
        ReducesTime |= built.OutputSteps(2) == 1;
        hasParameters.Add(Parameters.Length > before || factory is not null);
        workspaces.Clear();
        last = null;
        return this;
    }

    /// <summary>2 when the current output is a bidirectional layer's [forward, reverse] halves (possibly through
    /// dropout, which keeps the layout), else 1 (a merged bidirectional output has no halves).</summary>
    internal int InputDirections()
    {
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            switch (layers[i])
            {
                case RecurrentAdapter<T> recurrent:
                    return recurrent.Layer.MergeMode == MergeMode.Concat ? recurrent.Layer.Directions : 1;
                case DropoutAdapter<T>:
                    continue;
                default:
                    return 1;
            }
        }

        return 1;
    }

    private string ResolveName(LayerSpec spec)
    {
        if (spec.Name is string explicitName)
        {
            if (explicitName.Length == 0 || explicitName.Contains('.', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Layer name '{explicitName}' must be non-empty and have no '.'.", nameof(spec));
            }

            if (Architecture.Any(s => s.Name == explicitName))
            {
                throw new ArgumentException($"Two layers are named '{explicitName}'.", nameof(spec));
            }

            return explicitName;
        }

        string baseName = spec.DefaultName;
        int count = nameCounts.GetValueOrDefault(baseName) + 1;
        string candidate = count == 1 ? baseName : baseName + count;
        while (Architecture.Any(s => s.Name == candidate))
        {
            candidate = baseName + ++count;
        }

        nameCounts[baseName] = count;
        return candidate;
    }

    /// <summary>
    /// Runs the model on a batch (in the current <see cref="Training"/> mode) and keeps what <see cref="Backward"/> needs.
    /// </summary>
    /// <param name="batch">The input: features [T, B, I] or tokens, and the lengths.</param>
    /// <returns>The output [T', B, O], a buffer the model owns: valid until the next call with a batch of the same shape.</returns>
    /// <exception cref="ArgumentException">The batch's input does not fit the model (feature count, tokens versus
    /// features, a token outside the vocabulary, a length outside [1, T]); the message names both sizes. Nothing changes.</exception>
    /// <exception cref="InvalidOperationException">The model has no layer.</exception>
    public Tensor<T> Forward(SequenceBatch<T> batch)
    {
        using var use = Use();
        var work = Prepare(batch);
        Tensor<T> x;
        if (embedding is not null)
        {
            embedding.Forward(batch.Tokens, work.Embedded!.AsSpan());
            x = work.Embedded;
        }
        else if (inputSpec is OneHotSpec)
        {
            OneHot(batch.Tokens, work.Embedded!);
            x = work.Embedded!;
        }
        else
        {
            x = batch.Features!;
        }

        ReadOnlySpan<int> lengths = batch.Lengths;
        for (int i = 0; i < layers.Count; i++)
        {
            layers[i].Forward(x, work.Outputs[i], lengths);
            x = work.Outputs[i];
            if (work.Reduces[i])
            {
                lengths = work.Ones;
            }
        }

        last = work;
        lastBatch = batch;
        return x;
    }

    /// <summary>
    /// Backpropagates the last <see cref="Forward"/>: adds every parameter's gradient to <see cref="ParameterBlock{T}.Gradients"/>
    /// (PyTorch's <c>loss.backward()</c>; zero them first with <see cref="ParameterBlock{T}.ZeroGradients"/>).
    /// </summary>
    /// <param name="dOutput">dL/d(output), the shape of the last output; it may be <see cref="OutputGradient"/> itself.</param>
    /// <exception cref="InvalidOperationException">No forward pass to backpropagate.</exception>
    /// <exception cref="ArgumentException">dOutput has another shape.</exception>
    public void Backward(Tensor<T> dOutput)
    {
        using var use = Use();
        var work = last ?? throw new InvalidOperationException("Backward needs a Forward first.");
        ArgumentNullException.ThrowIfNull(dOutput);
        ShapeCheck.Require(dOutput, work.Outputs[^1].Shape, nameof(dOutput), "(the shape of the last output)");
        Tensor<T> dy = dOutput;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            Tensor<T>? dx = i > 0 ? (work.NeedsInputGradient[i] ? work.DOutputs[i - 1] : null) : work.DEmbedded;
            layers[i].Backward(dy, dx);
            if (dx is null)
            {
                return;
            }

            dy = dx;
        }

        embedding?.Backward(lastBatch!.Tokens, work.DEmbedded!.AsSpan());
    }

    /// <summary>The model's own buffer for dL/d(output) of the last <see cref="Forward"/> (for a loss to write into).</summary>
    /// <exception cref="InvalidOperationException">No forward pass yet.</exception>
    public Tensor<T> OutputGradient => (last ?? throw new InvalidOperationException("No forward pass yet.")).DOutputs[^1];

    private Workspace Prepare(SequenceBatch<T> batch)
    {
        CheckBatch(batch);
        long key = ((long)batch.Steps << 32) | (uint)batch.BatchSize;
        if (!workspaces.TryGetValue(key, out var work))
        {
            work = new Workspace(this, batch.Steps, batch.BatchSize);
            workspaces[key] = work;
        }

        return work;
    }

    /// <summary>Throws unless the batch fits the model; changes nothing.</summary>
    internal void CheckBatch(SequenceBatch<T> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (layers.Count == 0)
        {
            throw new InvalidOperationException("The model has no layer: Add one first.");
        }

        if (TokenInput && batch.Tokens is null)
        {
            throw new ArgumentException($"The batch holds features ({batch.InputSize} per step) but the model reads tokens (its first layer is an embedding or a one-hot encoding).", nameof(batch));
        }

        if (!TokenInput && batch.Features is null)
        {
            throw new ArgumentException($"The batch holds tokens but the model reads {InputSize} features per step.", nameof(batch));
        }

        if (!TokenInput && batch.InputSize != InputSize)
        {
            throw new ArgumentException($"The batch has {batch.InputSize} features per step but the model expects {InputSize} (inputSize).", nameof(batch));
        }

        for (int b = 0; b < batch.BatchSize; b++)
        {
            if ((uint)(batch.Lengths[b] - 1) >= (uint)batch.Steps)
            {
                throw new ArgumentException($"Sequence {b} of the batch has length {batch.Lengths[b]}, outside [1, {batch.Steps}].", nameof(batch));
            }
        }

        if (batch.Tokens is int[] tokens)
        {
            for (int n = 0; n < tokens.Length; n++)
            {
                if ((uint)tokens[n] >= (uint)InputSize)
                {
                    throw new ArgumentException($"Token {tokens[n]} at step {n / batch.BatchSize} of sequence {n % batch.BatchSize} is outside the vocabulary [0, {InputSize}).", nameof(batch));
                }
            }
        }
    }

    /// <summary>x[n, :] = one-hot(tokens[n]) over the vocabulary.</summary>
    internal static void OneHot(ReadOnlySpan<int> tokens, Tensor<T> destination)
    {
        destination.Clear();
        int width = destination.Size(2);
        for (int n = 0; n < tokens.Length; n++)
        {
            destination.Data[n * width + tokens[n]] = T.One;
        }
    }

    private void SetOrRemove(string key, string? value)
    {
        if (value is null)
        {
            Metadata.Remove(key);
        }
        else
        {
            Metadata[key] = value;
        }
    }

    /// <summary>Marks this thread as running a call of the model until the scope ends (see <see cref="ConcurrentUseGuard"/>),
    /// under the model's <see cref="MaxDegreeOfParallelism"/>.</summary>
    internal CallScope Use() => new(ref guard, this, MaxDegreeOfParallelism);

    /// <summary>The buffers of one batch shape: each layer's output and its gradient.</summary>
    private sealed class Workspace
    {
        public Workspace(SequenceModel<T> model, int steps, int batch)
        {
            int count = model.layers.Count;
            Outputs = new Tensor<T>[count];
            DOutputs = new Tensor<T>[count];
            NeedsInputGradient = new bool[count];
            Reduces = new bool[count];
            Ones = Enumerable.Repeat(1, batch).ToArray();
            if (model.embedding is not null)
            {
                Embedded = new Tensor<T>(steps, batch, model.embedding.EmbeddingDim);
                DEmbedded = new Tensor<T>(steps, batch, model.embedding.EmbeddingDim);
            }
            else if (model.TokenInput)
            {
                Embedded = new Tensor<T>(steps, batch, model.InputSize);
            }

            bool parametersBelow = model.embedding is not null;
            int t = steps;
            for (int i = 0; i < count; i++)
            {
                NeedsInputGradient[i] = parametersBelow;
                Reduces[i] = model.layers[i].OutputSteps(2) == 1;
                parametersBelow |= model.hasParameters[i];
                t = model.layers[i].OutputSteps(t);
                Outputs[i] = new Tensor<T>(t, batch, model.layers[i].OutputSize);
                DOutputs[i] = new Tensor<T>(t, batch, model.layers[i].OutputSize);
            }
        }

        public Tensor<T>[] Outputs { get; }

        public Tensor<T>[] DOutputs { get; }

        public bool[] NeedsInputGradient { get; }

        public bool[] Reduces { get; }

        public Tensor<T>? Embedded { get; }

        public Tensor<T>? DEmbedded { get; }

        public int[] Ones { get; }
    }
}
