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
    /// <include file="RecurrentLayerDocs.xml" path="docs/stack/*"/>
    /// <param name="nonlinearity"><see cref="Activation.Tanh"/> or <see cref="Activation.Relu"/>. PyTorch: <c>nonlinearity</c>
    /// (<c>'tanh'</c> or <c>'relu'</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nonlinearity"/> is not Tanh or Relu, a size is below 1,
    /// or a dropout is outside [0, 1).</exception>
    public Rnn(int inputSize, int hiddenSize, int numLayers = 1, Activation nonlinearity = Activation.Tanh,
        bool bias = true, SeededRandom? random = null, ParameterBlock<T>? parameters = null, bool bidirectional = false,
        double dropout = 0, bool learnInitialState = false, double recurrentDropout = 0, MergeMode mergeMode = MergeMode.Concat,
        bool goBackwards = false)
        : base(Initialization.Uniform, parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new ElmanCell<T>(block, cellInput, hiddenSize, nonlinearity, bias, suffix),
            bidirectional, dropout, learnInitialState, random, recurrentDropout, mergeMode, goBackwards)
    {
    }

    /// <summary>tanh or relu.</summary>
    public Activation Nonlinearity => ((ElmanCell<T>)Cells[0]).Nonlinearity;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("RNN", ("nonlinearity", Nonlinearity == Activation.Tanh ? "tanh" : "relu"));
}
