namespace RecurrentNets.Onnx;

/// <summary>Which optional inputs and outputs an ONNX export has.</summary>
/// <remarks>The defaults give a graph with the single input <c>input</c> and the outputs <c>output</c>, <c>final_h</c>
/// (and <c>final_c</c> for an LSTM). A whole-model export reads <see cref="SequenceLengths"/> and <see cref="GraphName"/>
/// only (its graph has no state inputs or outputs, and <see cref="InitialState"/> is refused).</remarks>
public sealed class OnnxExportOptions
{
    /// <summary>Add the input <c>sequence_lens</c> [batchSize] (int32): the length of each sequence of a padded batch, in
    /// any order, as <see cref="Sequence.RecurrentLayer{T}.Forward"/>'s <c>sequenceLengths</c>. Default false.</summary>
    public bool SequenceLengths { get; init; }

    /// <summary>Add the inputs <c>initial_h</c> (and <c>initial_c</c> for an LSTM) [numLayers·directions, batchSize,
    /// hiddenSize], as <see cref="Sequence.RecurrentLayer{T}.Forward"/>'s <c>initialState</c>. When false, the initial
    /// state is the layer's learned one (broadcast over the batch) if it has one, else zeros. Default false.</summary>
    public bool InitialState { get; init; }

    /// <summary>Add the outputs <c>final_h</c> (and <c>final_c</c>) [numLayers·directions, batchSize, hiddenSize], as
    /// <see cref="Sequence.RecurrentLayer{T}.Forward"/>'s <c>finalState</c>. Default true.</summary>
    public bool FinalState { get; init; } = true;

    /// <summary>The graph's name. Default <c>recurrentnets</c>.</summary>
    public string GraphName { get; init; } = "recurrentnets";
}
