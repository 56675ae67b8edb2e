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
    /// <include file="RecurrentLayerDocs.xml" path="docs/stack/param"/>
    /// <param name="peephole">Gates see the cell state (Gers and Schmidhuber 2000; ONNX <c>P</c>, TensorFlow <c>use_peepholes</c>).</param>
    /// <param name="coupledInputForget">No input gate: C = f ⊙ C(t-1) + (1 - f) ⊙ g (CIFG).</param>
    /// <param name="forgetBias">When set, the forget gate's b_ih block is filled with this value and its b_hh block with 0, so
    /// the gate starts open (Keras <c>unit_forget_bias</c> uses 1; Gers et al. 2000).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, a dropout is outside [0, 1), or
    /// <paramref name="forgetBias"/> is NaN or infinite.</exception>
    /// <exception cref="ArgumentException"><paramref name="mergeMode"/> is not concat on a one-direction stack, or
    /// <paramref name="goBackwards"/> is set on a bidirectional one.</exception>
    public Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, SeededRandom? random = null,
        ParameterBlock<T>? parameters = null, bool bidirectional = false, double dropout = 0, bool peephole = false,
        bool coupledInputForget = false, double? forgetBias = null, bool learnInitialState = false, double recurrentDropout = 0,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false)
        : base(parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new LstmCell<T>(block, cellInput, hiddenSize, peephole, coupledInputForget, bias, suffix),
            bidirectional, dropout, learnInitialState, random, recurrentDropout, mergeMode, goBackwards)
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
