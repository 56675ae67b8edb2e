using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>
/// A stack of LSTM cells (<see cref="LstmCell{T}"/>: standard, peephole, coupled input-forget gate, or both).
/// PyTorch: <c>torch.nn.LSTM</c> (time-major, <c>batch_first=False</c>, no <c>proj_size</c>).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Lstm<T> : RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the stack with PyTorch's default initialisation U(-1/√H, 1/√H) (peepholes included).</summary>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="bias">Whether to use b_ih and b_hh. PyTorch: <c>bias</c>.</param>
    /// <param name="random">The initialisation (and dropout) source; seed 0 when null.</param>
    /// <param name="parameters">A block to add the parameters to; a new one when null.</param>
    /// <param name="bidirectional">Add a reverse direction to every layer. PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last. PyTorch: <c>dropout</c>.</param>
    /// <param name="peephole">Gates see the cell state (Gers and Schmidhuber 2000; ONNX <c>P</c>, TensorFlow <c>use_peepholes</c>).</param>
    /// <param name="coupledInputForget">No input gate: C = f ⊙ C(t-1) + (1 - f) ⊙ g (CIFG).</param>
    /// <param name="forgetBias">When set, the forget gate's b_ih block is filled with this value and its b_hh block with 0, so
    /// the gate starts open (Keras <c>unit_forget_bias</c> uses 1; Gers et al. 2000).</param>
    /// <param name="recurrentDropout">Variational dropout on h(t-1) as seen by W_hh, one mask per sequence kept across
    /// time (Gal and Ghahramani 2016). Keras: <c>recurrent_dropout</c>.</param>
    /// <param name="learnInitialState">Learn h(0) and C(0) as parameters <c>initial_hidden</c>, <c>initial_cell</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, a dropout is outside [0, 1), or
    /// <paramref name="forgetBias"/> is NaN or infinite.</exception>
    public Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, SeededRandom? random = null,
        ParameterBlock<T>? parameters = null, bool bidirectional = false, double dropout = 0, bool peephole = false,
        bool coupledInputForget = false, double? forgetBias = null, bool learnInitialState = false, double recurrentDropout = 0)
        : base(parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new LstmCell<T>(block, cellInput, hiddenSize, peephole, coupledInputForget, bias, suffix),
            bidirectional, dropout, learnInitialState, random, recurrentDropout)
    {
        if (forgetBias is double b && !double.IsFinite(b))
        {
            throw new ArgumentOutOfRangeException(nameof(forgetBias), b, "forgetBias must be finite (Keras' unit_forget_bias uses 1).");
        }

        Peephole = peephole;
        CoupledInputForget = coupledInputForget;
        InitializeUniform(random ?? new SeededRandom(0));
        if (forgetBias is double value && bias)
        {
            foreach (var cell in Cells)
            {
                int offset = ((LstmCell<T>)cell).ForgetGateOffset;
                Initializers.Constant(cell.BiasIH!.Values.Slice(offset, hiddenSize), value);
                Initializers.Constant(cell.BiasHH!.Values.Slice(offset, hiddenSize), 0);
            }
        }
    }

    /// <summary>Whether the cells have peepholes.</summary>
    public bool Peephole { get; }

    /// <summary>Whether the cells couple the input and forget gates.</summary>
    public bool CoupledInputForget { get; }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("LSTM",
            ("peephole", Peephole ? "true" : "false"), ("coupled_input_forget", CoupledInputForget ? "true" : "false"));
}
