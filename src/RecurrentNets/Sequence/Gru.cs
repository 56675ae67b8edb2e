using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>
/// A stack of GRU cells (<see cref="GruCell{T}"/>). PyTorch: <c>torch.nn.GRU</c> (time-major, <c>batch_first=False</c>).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Gru<T> : RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the stack with PyTorch's default initialisation U(-1/√H, 1/√H).</summary>
    /// <include file="RecurrentLayerDocs.xml" path="docs/stack/*"/>
    /// <param name="resetAfterRecurrence">PyTorch's form n = tanh(x_n + r ⊙ (W_hn h + b_hn)) (default; ONNX
    /// <c>linear_before_reset = 1</c>); false for Cho et al. 2014's n = tanh(x_n + W_hn (r ⊙ h) + b_hn).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1 or a dropout is outside [0, 1).</exception>
    public Gru(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, SeededRandom? random = null,
        ParameterBlock<T>? parameters = null, bool bidirectional = false, double dropout = 0, bool resetAfterRecurrence = true,
        bool learnInitialState = false, double recurrentDropout = 0, MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false)
        : base(Initialization.Uniform, parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new GruCell<T>(block, cellInput, hiddenSize, resetAfterRecurrence, bias, suffix),
            bidirectional, dropout, learnInitialState, random, recurrentDropout, mergeMode, goBackwards)
    {
    }

    /// <summary>Whether the reset gate applies after the recurrent product (PyTorch's form).</summary>
    public bool ResetAfterRecurrence => ((GruCell<T>)Cells[0]).ResetAfterRecurrence;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("GRU", ("reset_after_recurrence", ResetAfterRecurrence ? "true" : "false"));
}
