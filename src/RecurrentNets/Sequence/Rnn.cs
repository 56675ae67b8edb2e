using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>
/// A stack of Elman cells: h(t) = tanh(W_ih x(t) + b_ih + W_hh h(t-1) + b_hh) (or relu), the course's
/// a = b + W h(t-1) + U x(t), h = tanh(a). PyTorch: <c>torch.nn.RNN</c> (time-major, <c>batch_first=False</c>).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <example>
/// <code>
/// var rnn = new Rnn&lt;float&gt;(inputSize: 3, hiddenSize: 5, random: new SeededRandom(42));
/// var x = new Tensor&lt;float&gt;(7, 2, 3);      // [T, B, I]
/// var y = new Tensor&lt;float&gt;(7, 2, 5);      // [T, B, H]
/// rnn.Forward(x, y);
/// </code>
/// </example>
public sealed class Rnn<T> : RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the stack with PyTorch's default initialisation U(-1/√H, 1/√H).</summary>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="nonlinearity"><see cref="Activation.Tanh"/> or <see cref="Activation.Relu"/>. PyTorch: <c>nonlinearity</c>
    /// (<c>'tanh'</c> or <c>'relu'</c>).</param>
    /// <param name="bias">Whether to use b_ih and b_hh. PyTorch: <c>bias</c>.</param>
    /// <param name="random">The initialisation (and dropout) source; seed 0 when null.</param>
    /// <param name="parameters">A block to add the parameters to (to share one block with other layers); a new one when null.</param>
    /// <param name="bidirectional">Add a reverse direction to every layer. PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last. PyTorch: <c>dropout</c>.</param>
    /// <param name="recurrentDropout">Variational dropout on h(t-1) as seen by W_hh, one mask per sequence kept across
    /// time (Gal and Ghahramani 2016). Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="learnInitialState">Learn h(0) as parameters <c>initial_hidden</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nonlinearity"/> is not Tanh or Relu.</exception>
    public Rnn(int inputSize, int hiddenSize, int numLayers = 1, Activation nonlinearity = Activation.Tanh,
        bool bias = true, SeededRandom? random = null, ParameterBlock<T>? parameters = null, bool bidirectional = false,
        double dropout = 0, bool learnInitialState = false, double recurrentDropout = 0)
        : base(parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new ElmanCell<T>(block, cellInput, hiddenSize, nonlinearity, bias, suffix),
            bidirectional, dropout, learnInitialState, random, recurrentDropout)
    {
        Nonlinearity = nonlinearity;
        InitializeUniform(random ?? new SeededRandom(0));
    }

    /// <summary>tanh or relu.</summary>
    public Activation Nonlinearity { get; }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("RNN", ("nonlinearity", Nonlinearity == Activation.Tanh ? "tanh" : "relu"));
}
