using System.Numerics;
using System.Text.Json.Serialization;
using RecurrentNets.Cells;
using RecurrentNets.Layers;
using RecurrentNets.Sequence;

namespace RecurrentNets.Models;

/// <summary>The recurrent cell of a <see cref="RecurrentSpec"/>.</summary>
public enum RecurrentKind
{
    /// <summary>The Elman RNN, h = f(W_ih x + b_ih + W_hh h(t-1) + b_hh) (<see cref="Rnn{T}"/>; PyTorch <c>nn.RNN</c>).</summary>
    Rnn,

    /// <summary>LSTM (<see cref="Lstm{T}"/>; PyTorch <c>nn.LSTM</c>).</summary>
    Lstm,

    /// <summary>GRU (<see cref="Gru{T}"/>; PyTorch <c>nn.GRU</c>).</summary>
    Gru,

    /// <summary>Layer-normalised LSTM (<see cref="LayerNormLstm{T}"/>; Ba, Kiros and Hinton 2016).</summary>
    LayerNormLstm,

    /// <summary>Layer-normalised GRU (<see cref="LayerNormGru{T}"/>).</summary>
    LayerNormGru,
}

/// <summary>How a reduction layer turns a sequence of steps into one step.</summary>
public enum Reduction
{
    /// <summary>The last valid step of each sequence (its length respected). After a bidirectional layer, the forward
    /// half is taken at the last step and the reverse half at step 0, where each direction has read the whole sequence
    /// (PyTorch's <c>h_n</c>; Keras <c>return_sequences=False</c>).</summary>
    LastStep,

    /// <summary>The mean over the valid steps of each sequence.</summary>
    Mean,
}

/// <summary>
/// The description of one layer of a <see cref="SequenceModel{T}"/>: what <see cref="SequenceModel{T}.Save"/> writes as the
/// architecture (JSON) and <see cref="SequenceModel{T}.Load"/> builds again. Make one with <see cref="Layer"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(EmbeddingSpec), "embedding")]
[JsonDerivedType(typeof(OneHotSpec), "one_hot")]
[JsonDerivedType(typeof(RecurrentSpec), "recurrent")]
[JsonDerivedType(typeof(DropoutSpec), "dropout")]
[JsonDerivedType(typeof(LinearSpec), "linear")]
[JsonDerivedType(typeof(TimeDelaySpec), "time_delay")]
[JsonDerivedType(typeof(ReduceSpec), "reduce")]
[JsonDerivedType(typeof(CustomSpec), "custom")]
public abstract record LayerSpec
{
    /// <summary>The module name: the prefix of the layer's parameter names (<c>rnn</c> gives <c>rnn.weight_ih_l0</c>, as a
    /// PyTorch module attribute of that name). Null for the default name of the layer's kind.</summary>
    public string? Name { get; init; }

    /// <summary>The name used when <see cref="Name"/> is null: <c>embedding</c>, <c>rnn</c>, <c>head</c>, <c>tdnn</c>; a
    /// second layer of a kind gets <c>rnn2</c>, and so on.</summary>
    [JsonIgnore]
    public abstract string DefaultName { get; }

    /// <summary>Whether the layer names its parameters itself from <see cref="LayerContext{T}.Name"/> (<c>name.weight</c>)
    /// instead of inside a naming scope <c>name.</c>.</summary>
    [JsonIgnore]
    internal virtual bool NamesItself => false;

    /// <summary>Whether the layer has parameters (and so needs a name).</summary>
    [JsonIgnore]
    public virtual bool HasParameters => true;

    internal abstract ISequenceLayer<T> Build<T>(LayerContext<T> context)
        where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A token embedding, the first layer of a model on token input. PyTorch: <c>nn.Embedding(num_embeddings,
/// embedding_dim, padding_idx)</c>; num_embeddings is the model's input size.</summary>
/// <param name="EmbeddingDim">E, the features of each embedded token.</param>
/// <param name="PaddingIndex">A token whose row gets no gradient, or null.</param>
public sealed record EmbeddingSpec(int EmbeddingDim, int? PaddingIndex = null) : LayerSpec
{
    /// <inheritdoc/>
    public override string DefaultName => "embedding";

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        throw new InvalidOperationException("An embedding is built by the model as its input stage.");
}

/// <summary>Tokens as one-hot vectors over the vocabulary (the model's input size), the first layer of a model on token
/// input: x(t) = onehot(token(t)), so the next layer's input weights are the course's U. No parameters. PyTorch:
/// <c>F.one_hot(tokens, num_classes)</c>.</summary>
public sealed record OneHotSpec : LayerSpec
{
    /// <inheritdoc/>
    public override string DefaultName => "one_hot";

    /// <inheritdoc/>
    public override bool HasParameters => false;

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        throw new InvalidOperationException("A one-hot encoding is built by the model as its input stage.");
}

/// <summary>A stack of recurrent layers on the BPTT engine (<see cref="Rnn{T}"/>, <see cref="Lstm{T}"/>, <see cref="Gru{T}"/>,
/// <see cref="LayerNormLstm{T}"/>, <see cref="LayerNormGru{T}"/>).</summary>
/// <param name="Kind">The cell.</param>
/// <param name="HiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
public sealed record RecurrentSpec(RecurrentKind Kind, int HiddenSize) : LayerSpec
{
    /// <summary>L. PyTorch: <c>num_layers</c>.</summary>
    public int NumLayers { get; init; } = 1;

    /// <summary>PyTorch: <c>bidirectional</c>. The output is [forward, reverse], 2H features, or H when
    /// <see cref="MergeMode"/> is not concat.</summary>
    public bool Bidirectional { get; init; }

    /// <summary>How a bidirectional stack combines its directions (<see cref="Sequence.MergeMode"/>; concat by default).
    /// Keras: <c>Bidirectional(merge_mode=...)</c>; saved under <c>merge_mode</c> as Keras names it (<c>concat</c>,
    /// <c>sum</c>, <c>mul</c>, <c>ave</c>), and left out when concat, so an architecture saved before the option reads
    /// and saves the same. A layer after a merged one reads its H features (a <see cref="Reduction.LastStep"/> takes the
    /// merged output's last valid step).</summary>
    [JsonConverter(typeof(MergeModeJsonConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public MergeMode MergeMode { get; init; }

    /// <summary>A one-direction stack reads each sequence backwards and returns its outputs in that order (see
    /// <see cref="RecurrentLayer{T}.GoBackwards"/>). Keras: <c>go_backwards</c>; saved only when true.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool GoBackwards { get; init; }

    /// <summary>Dropout between stacked layers. PyTorch: <c>dropout</c>.</summary>
    public double Dropout { get; init; }

    /// <summary>Variational dropout on h(t-1) as W_hh sees it. Keras: <c>recurrent_dropout</c>.</summary>
    public double RecurrentDropout { get; init; }

    /// <summary>PyTorch: <c>bias</c>.</summary>
    public bool Bias { get; init; } = true;

    /// <summary>Learn h(0) (and C(0)).</summary>
    public bool LearnInitialState { get; init; }

    /// <summary>LSTM only: gates see the cell state (Gers and Schmidhuber 2000).</summary>
    public bool Peephole { get; init; }

    /// <summary>LSTM only: no input gate, C = f C(t-1) + (1 - f) g.</summary>
    public bool CoupledInputForget { get; init; }

    /// <summary>LSTM only: P, the width of h with projections h = W_hr (o ⊙ tanh C) (LSTMP), or 0 for none; the stack then
    /// gives D·P features. PyTorch: <c>proj_size</c>; saved only when positive.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ProjectionSize { get; init; }

    /// <summary>LSTM and layer-normalised LSTM only: the forget gate's starting bias (Keras <c>unit_forget_bias</c> uses 1),
    /// or null.</summary>
    public double? ForgetBias { get; init; }

    /// <summary>GRU only: PyTorch's form (true) or Cho et al.'s original (false). ONNX: <c>linear_before_reset</c>.</summary>
    public bool ResetAfterRecurrence { get; init; } = true;

    /// <summary>Layer-normalised cells only: ε of the normalisations, or null for 1e-5 (PyTorch <c>nn.LayerNorm</c>'s
    /// default <c>eps</c>).</summary>
    public double? LayerNormEpsilon { get; init; }

    /// <summary>RNN only: tanh or relu. PyTorch: <c>nonlinearity</c>.</summary>
    public Activation Nonlinearity { get; init; } = Activation.Tanh;

    /// <inheritdoc/>
    public override string DefaultName => "rnn";

    /// <summary>Builds the engine layer this spec describes (its parameters go to <paramref name="context"/>'s block).</summary>
    internal RecurrentLayer<T> BuildLayer<T>(LayerContext<T> context)
        where T : unmanaged, IFloatingPointIeee754<T> => Kind switch
        {
            RecurrentKind.Rnn => new Rnn<T>(context.InputSize, HiddenSize, NumLayers, Nonlinearity, Bias, context.Random, context.Parameters,
                Bidirectional, Dropout, LearnInitialState, RecurrentDropout, MergeMode, GoBackwards),
            RecurrentKind.Lstm => new Lstm<T>(context.InputSize, HiddenSize, NumLayers, Bias, context.Random, context.Parameters, Bidirectional,
                Dropout, Peephole, CoupledInputForget, ForgetBias, LearnInitialState, RecurrentDropout, MergeMode, GoBackwards, ProjectionSize),
            RecurrentKind.Gru => new Gru<T>(context.InputSize, HiddenSize, NumLayers, Bias, context.Random, context.Parameters, Bidirectional,
                Dropout, ResetAfterRecurrence, LearnInitialState, RecurrentDropout, MergeMode, GoBackwards),
            RecurrentKind.LayerNormLstm => new LayerNormLstm<T>(context.InputSize, HiddenSize, NumLayers, context.Random, context.Parameters,
                Bidirectional, Dropout, ForgetBias, LearnInitialState, RecurrentDropout, LayerNormEpsilon ?? 1e-5, MergeMode, GoBackwards),
            RecurrentKind.LayerNormGru => new LayerNormGru<T>(context.InputSize, HiddenSize, NumLayers, context.Random, context.Parameters,
                Bidirectional, Dropout, LearnInitialState, RecurrentDropout, LayerNormEpsilon ?? 1e-5, MergeMode, GoBackwards),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown recurrent kind."),
        };

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) => new RecurrentAdapter<T>(BuildLayer(context));
}

/// <summary>Dropout on every feature of every step while training. PyTorch: <c>nn.Dropout(p)</c>.</summary>
/// <param name="Probability">p, in [0, 1).</param>
public sealed record DropoutSpec(double Probability) : LayerSpec
{
    /// <inheritdoc/>
    public override string DefaultName => "dropout";

    /// <inheritdoc/>
    public override bool HasParameters => false;

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        new DropoutAdapter<T>(context.InputSize, new Dropout<T>(Probability, context.Random.Fork()));
}

/// <summary>y = x Wᵀ + b on every step (the course's o = c + V h). PyTorch: <c>nn.Linear(in_features, out_features, bias)</c>.</summary>
/// <param name="OutFeatures">O. PyTorch: <c>out_features</c>.</param>
public sealed record LinearSpec(int OutFeatures) : LayerSpec
{
    /// <summary>PyTorch: <c>bias</c>.</summary>
    public bool Bias { get; init; } = true;

    /// <inheritdoc/>
    public override string DefaultName => "head";

    internal override bool NamesItself => true;

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        new LinearAdapter<T>(new Linear<T>(context.InputSize, OutFeatures, Bias, context.Random, context.Parameters, context.Name));
}

/// <summary>A causal, dilated time-delay layer (<see cref="TimeDelayLayer{T}"/>; PyTorch <c>nn.Conv1d</c> on a left-padded input,
/// then the activation).</summary>
/// <param name="OutputSize">O. PyTorch: <c>out_channels</c>.</param>
/// <param name="KernelSize">K. PyTorch: <c>kernel_size</c>.</param>
public sealed record TimeDelaySpec(int OutputSize, int KernelSize) : LayerSpec
{
    /// <summary>PyTorch: <c>dilation</c>.</summary>
    public int Dilation { get; init; } = 1;

    /// <summary>The nonlinearity after the convolution.</summary>
    public Activation Activation { get; init; } = Activation.Tanh;

    /// <summary>PyTorch: <c>bias</c>.</summary>
    public bool Bias { get; init; } = true;

    /// <inheritdoc/>
    public override string DefaultName => "tdnn";

    internal override bool NamesItself => true;

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        new TimeDelayAdapter<T>(new TimeDelayLayer<T>(context.InputSize, OutputSize, KernelSize, Dilation, Activation, Bias, context.Random,
            context.Parameters, context.Name));
}

/// <summary>Turns a sequence into one step per sequence (for classification and regression of whole sequences).</summary>
/// <param name="Reduction">Last valid step or mean over valid steps.</param>
public sealed record ReduceSpec(Reduction Reduction) : LayerSpec
{
    /// <inheritdoc/>
    public override string DefaultName => "reduce";

    /// <inheritdoc/>
    public override bool HasParameters => false;

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        new ReduceAdapter<T>(context.InputSize, Reduction, context.InputDirections);
}

/// <summary>A layer written by the user (<see cref="ISequenceLayer{T}"/>), recorded by its <see cref="TypeName"/> and
/// rebuilt on load by the factory the caller passes to <see cref="SequenceModel{T}.Load"/>.</summary>
/// <param name="TypeName">The name the factory recognises.</param>
/// <param name="Settings">The layer's own settings as strings, or null.</param>
public sealed record CustomSpec(string TypeName, IReadOnlyDictionary<string, string>? Settings = null) : LayerSpec
{
    /// <inheritdoc/>
    public override string DefaultName => "custom";

    internal override ISequenceLayer<T> Build<T>(LayerContext<T> context) =>
        throw new InvalidOperationException($"Custom layer '{TypeName}' needs a factory.");
}

/// <summary>
/// Short factories for the layers of a <see cref="SequenceModel{T}"/>, named as Keras and PyTorch name them.
/// </summary>
public static class Layer
{
    /// <summary>An LSTM stack (PyTorch <c>nn.LSTM</c>, Keras <c>LSTM</c>).</summary>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="bidirectional">PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout between stacked layers. PyTorch: <c>dropout</c>.</param>
    /// <param name="recurrentDropout">Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="peephole">Gates see the cell state.</param>
    /// <param name="coupledInputForget">No input gate (CIFG).</param>
    /// <param name="forgetBias">The forget gate's starting bias, or null (PyTorch's default initialisation).</param>
    /// <param name="name">The module name (parameter prefix); null for <c>rnn</c>.</param>
    /// <param name="mergeMode">How the two directions combine. Keras: <c>merge_mode</c>.</param>
    /// <param name="goBackwards">Read each sequence backwards (one direction). Keras: <c>go_backwards</c>.</param>
    /// <param name="projectionSize">P, project h to P features (LSTMP), or 0 for none. PyTorch: <c>proj_size</c>.</param>
    public static RecurrentSpec Lstm(int hiddenSize, int numLayers = 1, bool bidirectional = false, double dropout = 0,
        double recurrentDropout = 0, bool peephole = false, bool coupledInputForget = false, double? forgetBias = null, string? name = null,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false, int projectionSize = 0) =>
        new(RecurrentKind.Lstm, hiddenSize)
        {
            NumLayers = numLayers, Bidirectional = bidirectional, Dropout = dropout, RecurrentDropout = recurrentDropout,
            Peephole = peephole, CoupledInputForget = coupledInputForget, ForgetBias = forgetBias, Name = name,
            MergeMode = mergeMode, GoBackwards = goBackwards, ProjectionSize = projectionSize,
        };

    /// <summary>A GRU stack (PyTorch <c>nn.GRU</c>, Keras <c>GRU</c>).</summary>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="bidirectional">PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout between stacked layers. PyTorch: <c>dropout</c>.</param>
    /// <param name="recurrentDropout">Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="resetAfterRecurrence">PyTorch's form (true) or Cho et al.'s original (false).</param>
    /// <param name="name">The module name (parameter prefix); null for <c>rnn</c>.</param>
    /// <param name="mergeMode">How the two directions combine. Keras: <c>merge_mode</c>.</param>
    /// <param name="goBackwards">Read each sequence backwards (one direction). Keras: <c>go_backwards</c>.</param>
    public static RecurrentSpec Gru(int hiddenSize, int numLayers = 1, bool bidirectional = false, double dropout = 0,
        double recurrentDropout = 0, bool resetAfterRecurrence = true, string? name = null, MergeMode mergeMode = MergeMode.Concat,
        bool goBackwards = false) =>
        new(RecurrentKind.Gru, hiddenSize)
        {
            NumLayers = numLayers, Bidirectional = bidirectional, Dropout = dropout, RecurrentDropout = recurrentDropout,
            ResetAfterRecurrence = resetAfterRecurrence, Name = name, MergeMode = mergeMode, GoBackwards = goBackwards,
        };

    /// <summary>A layer-normalised LSTM stack (<see cref="LayerNormLstm{T}"/>; Ba, Kiros and Hinton 2016).</summary>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="bidirectional">PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout between stacked layers. PyTorch: <c>dropout</c>.</param>
    /// <param name="recurrentDropout">Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="forgetBias">The forget gate's starting β_ih, or null (0).</param>
    /// <param name="epsilon">ε of the normalisations; null for 1e-5. PyTorch: <c>nn.LayerNorm</c>'s <c>eps</c>.</param>
    /// <param name="name">The module name (parameter prefix); null for <c>rnn</c>.</param>
    /// <param name="mergeMode">How a bidirectional stack combines its directions. Keras: <c>Bidirectional(merge_mode=...)</c>.</param>
    /// <param name="goBackwards">Read each sequence from its last step. Keras: <c>go_backwards</c>.</param>
    public static RecurrentSpec LayerNormLstm(int hiddenSize, int numLayers = 1, bool bidirectional = false, double dropout = 0,
        double recurrentDropout = 0, double? forgetBias = null, double? epsilon = null, string? name = null,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false) =>
        new(RecurrentKind.LayerNormLstm, hiddenSize)
        {
            NumLayers = numLayers, Bidirectional = bidirectional, Dropout = dropout, RecurrentDropout = recurrentDropout,
            ForgetBias = forgetBias, LayerNormEpsilon = epsilon, Name = name, MergeMode = mergeMode, GoBackwards = goBackwards,
        };

    /// <summary>A layer-normalised GRU stack (<see cref="LayerNormGru{T}"/>).</summary>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="bidirectional">PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout between stacked layers. PyTorch: <c>dropout</c>.</param>
    /// <param name="recurrentDropout">Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="epsilon">ε of the normalisations; null for 1e-5. PyTorch: <c>nn.LayerNorm</c>'s <c>eps</c>.</param>
    /// <param name="name">The module name (parameter prefix); null for <c>rnn</c>.</param>
    /// <param name="mergeMode">How a bidirectional stack combines its directions. Keras: <c>Bidirectional(merge_mode=...)</c>.</param>
    /// <param name="goBackwards">Read each sequence from its last step. Keras: <c>go_backwards</c>.</param>
    public static RecurrentSpec LayerNormGru(int hiddenSize, int numLayers = 1, bool bidirectional = false, double dropout = 0,
        double recurrentDropout = 0, double? epsilon = null, string? name = null, MergeMode mergeMode = MergeMode.Concat,
        bool goBackwards = false) =>
        new(RecurrentKind.LayerNormGru, hiddenSize)
        {
            NumLayers = numLayers, Bidirectional = bidirectional, Dropout = dropout, RecurrentDropout = recurrentDropout,
            LayerNormEpsilon = epsilon, Name = name, MergeMode = mergeMode, GoBackwards = goBackwards,
        };

    /// <summary>An Elman RNN stack (PyTorch <c>nn.RNN</c>, Keras <c>SimpleRNN</c>).</summary>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="nonlinearity">PyTorch: <c>nonlinearity</c>.</param>
    /// <param name="bidirectional">PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout between stacked layers. PyTorch: <c>dropout</c>.</param>
    /// <param name="recurrentDropout">Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="name">The module name (parameter prefix); null for <c>rnn</c>.</param>
    /// <param name="mergeMode">How the two directions combine. Keras: <c>merge_mode</c>.</param>
    /// <param name="goBackwards">Read each sequence backwards (one direction). Keras: <c>go_backwards</c>.</param>
    public static RecurrentSpec Rnn(int hiddenSize, int numLayers = 1, Activation nonlinearity = Activation.Tanh,
        bool bidirectional = false, double dropout = 0, double recurrentDropout = 0, string? name = null,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false) =>
        new(RecurrentKind.Rnn, hiddenSize)
        {
            NumLayers = numLayers, Nonlinearity = nonlinearity, Bidirectional = bidirectional, Dropout = dropout,
            RecurrentDropout = recurrentDropout, Name = name, MergeMode = mergeMode, GoBackwards = goBackwards,
        };

    /// <summary>A token embedding; it must be the first layer (PyTorch <c>nn.Embedding</c>, Keras <c>Embedding</c>).</summary>
    /// <param name="embeddingDim">E. PyTorch: <c>embedding_dim</c>.</param>
    /// <param name="paddingIndex">PyTorch: <c>padding_idx</c>.</param>
    /// <param name="name">The module name; null for <c>embedding</c>.</param>
    public static EmbeddingSpec Embedding(int embeddingDim, int? paddingIndex = null, string? name = null) =>
        new(embeddingDim, paddingIndex) { Name = name };

    /// <summary>Tokens as one-hot vectors over the vocabulary; it must be the first layer (the course's x(t)).</summary>
    public static OneHotSpec OneHot() => new();

    /// <summary>A linear layer on every step (PyTorch <c>nn.Linear</c>, Keras <c>Dense</c> without activation).</summary>
    /// <param name="outFeatures">O. PyTorch: <c>out_features</c>.</param>
    /// <param name="bias">PyTorch: <c>bias</c>.</param>
    /// <param name="name">The module name; null for <c>head</c>.</param>
    public static LinearSpec Linear(int outFeatures, bool bias = true, string? name = null) => new(outFeatures) { Bias = bias, Name = name };

    /// <summary>Dropout (PyTorch <c>nn.Dropout</c>, Keras <c>Dropout</c>).</summary>
    /// <param name="probability">p. PyTorch: <c>p</c>.</param>
    public static DropoutSpec Dropout(double probability) => new(probability);

    /// <summary>A causal, dilated time-delay layer (<see cref="TimeDelayLayer{T}"/>).</summary>
    /// <param name="outputSize">O.</param>
    /// <param name="kernelSize">K.</param>
    /// <param name="dilation">The frames between two taps.</param>
    /// <param name="activation">The nonlinearity.</param>
    /// <param name="name">The module name; null for <c>tdnn</c>.</param>
    public static TimeDelaySpec TimeDelay(int outputSize, int kernelSize, int dilation = 1, Activation activation = Activation.Tanh, string? name = null) =>
        new(outputSize, kernelSize) { Dilation = dilation, Activation = activation, Name = name };

    /// <summary>The last valid step of each sequence (Keras <c>return_sequences=False</c>).</summary>
    public static ReduceSpec LastStep() => new(Reduction.LastStep);

    /// <summary>The mean over the valid steps of each sequence (Keras <c>GlobalAveragePooling1D</c> with a mask).</summary>
    public static ReduceSpec MeanOverTime() => new(Reduction.Mean);
}

/// <summary><see cref="MergeMode"/> as Keras names it in a saved architecture (<c>concat</c>, <c>sum</c>, <c>mul</c>,
/// <c>ave</c>); any other name is refused with a message naming it and the four.</summary>
internal sealed class MergeModeJsonConverter : JsonConverter<MergeMode>
{
    public override MergeMode Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        string? name = reader.TokenType == System.Text.Json.JsonTokenType.String ? reader.GetString() : null;
        try
        {
            return MergeModes.Parse(name);
        }
        catch (FormatException e)
        {
            throw new System.Text.Json.JsonException(e.Message, e);
        }
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, MergeMode value, System.Text.Json.JsonSerializerOptions options)
        => writer.WriteStringValue(MergeModes.ToKerasName(value));
}
