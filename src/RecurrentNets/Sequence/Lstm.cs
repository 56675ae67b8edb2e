using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>
/// A stack of LSTM cells (<see cref="LstmCell{T}"/>: standard, peephole, coupled input-forget gate, or both), with or
/// without projections (LSTMP). PyTorch: <c>torch.nn.LSTM</c> (time-major, <c>batch_first=False</c>).
/// </summary>
/// <remarks>
/// With <c>projectionSize</c> P (PyTorch's <c>proj_size</c>) every cell's h is P wide, h = W_hr (o ⊙ tanh(C)): the output
/// is [T, B, D·P], h_0/h_n are [L·D, B, P] and c_0/c_n [L·D, B, H] (<see cref="RecurrentLayer{T}.CreateState"/>), W_hh
/// is [4H, P], layer l &gt; 0 reads D·P features, and each cell adds <c>weight_hr_lK [P, H]</c>, in PyTorch's names, order
/// and layouts.
/// </remarks>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Lstm<T> : RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the stack with PyTorch's default initialisation U(-1/√H, 1/√H) (peepholes included).</summary>
    /// <include file="RecurrentLayerDocs.xml" path="docs/stack/*"/>
    /// <param name="peephole">Gates see the cell state (Gers and Schmidhuber 2000; ONNX <c>P</c>, TensorFlow <c>use_peepholes</c>).</param>
    /// <param name="coupledInputForget">No input gate: C = f ⊙ C(t-1) + (1 - f) ⊙ g (CIFG).</param>
    /// <param name="forgetBias">When set, the forget gate's b_ih block is filled with this value and its b_hh block with 0, so
    /// the gate starts open (Keras <c>unit_forget_bias</c> uses 1; Gers et al. 2000).</param>
    /// <param name="projectionSize">P: project each cell's output o ⊙ tanh(C) to P features through <c>weight_hr_lK [P, H]</c>
    /// (LSTMP; Sak, Senior and Beaufays 2014), or 0 for none. PyTorch: <c>proj_size</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, a dropout is outside [0, 1),
    /// <paramref name="forgetBias"/> is NaN or infinite, or <paramref name="projectionSize"/> is negative or not below
    /// <paramref name="hiddenSize"/>.</exception>
    public Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, SeededRandom? random = null,
        ParameterBlock<T>? parameters = null, bool bidirectional = false, double dropout = 0, bool peephole = false,
        bool coupledInputForget = false, double? forgetBias = null, bool learnInitialState = false, double recurrentDropout = 0,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false, int projectionSize = 0)
        : base(Initialization.Uniform, parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new LstmCell<T>(block, cellInput, hiddenSize, peephole, coupledInputForget, bias, suffix, projectionSize),
            bidirectional, dropout, learnInitialState, random, recurrentDropout, mergeMode, goBackwards)
    {
        if (forgetBias is double b && !double.IsFinite(b))
        {
            throw new ArgumentOutOfRangeException(nameof(forgetBias), b, "forgetBias must be finite (Keras' unit_forget_bias uses 1).");
        }

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
    public bool Peephole => ((LstmCell<T>)Cells[0]).Peephole;

    /// <summary>Whether the cells couple the input and forget gates.</summary>
    public bool CoupledInputForget => ((LstmCell<T>)Cells[0]).CoupledInputForget;

    /// <summary>P, the width of h with projections, or 0 without. PyTorch: <c>proj_size</c>.</summary>
    public int ProjectionSize => ((LstmCell<T>)Cells[0]).ProjectionSize;

    /// <inheritdoc/>
    /// <remarks>With projections, also <c>proj_size</c> (left out without, as before the option).</remarks>
    public override IReadOnlyDictionary<string, string> Configuration
    {
        get
        {
            var configuration = BaseConfiguration("LSTM",
                ("peephole", Peephole ? "true" : "false"), ("coupled_input_forget", CoupledInputForget ? "true" : "false"));
            if (ProjectionSize > 0)
            {
                configuration["proj_size"] = ProjectionSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return configuration;
        }
    }
}
