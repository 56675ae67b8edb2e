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
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="bias">Whether to use b_ih and b_hh. PyTorch: <c>bias</c>.</param>
    /// <param name="random">The initialisation (and dropout) source; seed 0 when null.</param>
    /// <param name="parameters">A block to add the parameters to; a new one when null.</param>
    /// <param name="bidirectional">Add a reverse direction to every layer. PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last. PyTorch: <c>dropout</c>.</param>
    /// <param name="resetAfterRecurrence">PyTorch's form n = tanh(x_n + r ⊙ (W_hn h + b_hn)) (default; ONNX
    /// <c>linear_before_reset = 1</c>); false for Cho et al. 2014's n = tanh(x_n + W_hn (r ⊙ h) + b_hn).</param>
    /// <param name="recurrentDropout">Variational dropout on h(t-1) as seen by W_hh, one mask per sequence kept across
    /// time (Gal and Ghahramani 2016). Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="learnInitialState">Learn h(0) as parameters <c>initial_hidden</c>.</param>
    public Gru(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, SeededRandom? random = null,
        ParameterBlock<T>? parameters = null, bool bidirectional = false, double dropout = 0, bool resetAfterRecurrence = true,
        bool learnInitialState = false, double recurrentDropout = 0)
        : base(parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new GruCell<T>(block, cellInput, hiddenSize, resetAfterRecurrence, bias, suffix),
            bidirectional, dropout, learnInitialState, random, recurrentDropout)
    {
        ResetAfterRecurrence = resetAfterRecurrence;
        InitializeUniform(random ?? new SeededRandom(0));
    }

    /// <summary>Whether the reset gate applies after the recurrent product (PyTorch's form).</summary>
    public bool ResetAfterRecurrence { get; }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("GRU", ("reset_after_recurrence", ResetAfterRecurrence ? "true" : "false"));
}
