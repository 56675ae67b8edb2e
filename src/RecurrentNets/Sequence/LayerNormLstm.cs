using System.Globalization;
using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>
/// A stack of layer-normalised LSTM cells (<see cref="LayerNormLstmCell{T}"/>; Ba, Kiros and Hinton 2016). PyTorch has no
/// such module; the parameters follow <c>nn.LSTM</c>'s names (<c>weight_ih_lK</c>, <c>weight_hh_lK</c>) plus
/// <c>ln_ih_weight_lK</c>, <c>ln_ih_bias_lK</c>, <c>ln_hh_weight_lK</c>, <c>ln_hh_bias_lK</c>, <c>ln_c_weight_lK</c>,
/// <c>ln_c_bias_lK</c> for the normalisations' gains and biases (no <c>bias_ih</c>, <c>bias_hh</c>: the β's take their place).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class LayerNormLstm<T> : RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the stack: W_ih and W_hh from PyTorch's U(-1/√H, 1/√H), the gains 1 and the biases 0
    /// (<c>nn.LayerNorm</c>'s start).</summary>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="random">The initialisation (and dropout) source; seed 0 when null.</param>
    /// <param name="parameters">A block to add the parameters to; a new one when null.</param>
    /// <param name="bidirectional">Add a reverse direction to every layer. PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last. PyTorch: <c>dropout</c>.</param>
    /// <param name="forgetBias">When set, the forget gate's block of β_ih (<c>ln_ih_bias_lK</c>) starts at this value, so the
    /// gate starts open (Keras <c>unit_forget_bias</c> uses 1).</param>
    /// <param name="learnInitialState">Learn h(0) and C(0) as parameters <c>initial_hidden</c>, <c>initial_cell</c>.</param>
    /// <param name="recurrentDropout">Variational dropout on h(t-1) as seen by W_hh (Gal and Ghahramani 2016).</param>
    /// <param name="epsilon">ε of the normalisations. PyTorch: <c>nn.LayerNorm</c>'s <c>eps</c>.</param>
    /// <param name="mergeMode">How a bidirectional layer combines its directions (Keras <c>merge_mode</c>); see <see cref="RecurrentLayer{T}"/>.</param>
    /// <param name="goBackwards">Read each sequence from its last step (Keras <c>go_backwards</c>); see <see cref="RecurrentLayer{T}"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, a dropout is outside [0, 1), <paramref name="forgetBias"/>
    /// is NaN or infinite, or <paramref name="epsilon"/> is not positive and finite.</exception>
    /// <exception cref="ArgumentException"><paramref name="mergeMode"/> is not concat on a one-direction stack, or
    /// <paramref name="goBackwards"/> is set on a bidirectional one.</exception>
    public LayerNormLstm(int inputSize, int hiddenSize, int numLayers = 1, SeededRandom? random = null, ParameterBlock<T>? parameters = null,
        bool bidirectional = false, double dropout = 0, double? forgetBias = null, bool learnInitialState = false, double recurrentDropout = 0,
        double epsilon = 1e-5, MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false)
        : base(Initialization.Weights, parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new LayerNormLstmCell<T>(block, cellInput, hiddenSize, suffix, epsilon),
            bidirectional, dropout, learnInitialState, random, recurrentDropout, mergeMode, goBackwards)
    {
        if (forgetBias is double b && !double.IsFinite(b))
        {
            throw new ArgumentOutOfRangeException(nameof(forgetBias), b, "forgetBias must be finite (Keras' unit_forget_bias uses 1).");
        }

        if (forgetBias is double value)
        {
            foreach (var cell in Cells)
            {
                Initializers.Constant(((LayerNormLstmCell<T>)cell).InputNormBias.Values.Slice(hiddenSize, hiddenSize), value);
            }
        }
    }

    /// <summary>ε of the normalisations.</summary>
    public double Epsilon => ((LayerNormLstmCell<T>)Cells[0]).Epsilon;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("LayerNormLSTM", ("layer_norm_eps", Epsilon.ToString("R", CultureInfo.InvariantCulture)));
}

/// <summary>
/// A stack of layer-normalised GRU cells (<see cref="LayerNormGruCell{T}"/>). The parameters follow <c>nn.GRU</c>'s names
/// (<c>weight_ih_lK</c>, <c>weight_hh_lK</c>) plus <c>ln_ih_weight_lK</c>, <c>ln_ih_bias_lK</c>, <c>ln_hh_weight_lK</c>,
/// <c>ln_hh_bias_lK</c> (no <c>bias_ih</c>, <c>bias_hh</c>: the β's take their place).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class LayerNormGru<T> : RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds the stack: W_ih and W_hh from PyTorch's U(-1/√H, 1/√H), the gains 1 and the biases 0.</summary>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L. PyTorch: <c>num_layers</c>.</param>
    /// <param name="random">The initialisation (and dropout) source; seed 0 when null.</param>
    /// <param name="parameters">A block to add the parameters to; a new one when null.</param>
    /// <param name="bidirectional">Add a reverse direction to every layer. PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last. PyTorch: <c>dropout</c>.</param>
    /// <param name="learnInitialState">Learn h(0) as parameters <c>initial_hidden</c>.</param>
    /// <param name="recurrentDropout">Variational dropout on h(t-1) as seen by W_hh (Gal and Ghahramani 2016).</param>
    /// <param name="epsilon">ε of the normalisations. PyTorch: <c>nn.LayerNorm</c>'s <c>eps</c>.</param>
    /// <param name="mergeMode">How a bidirectional layer combines its directions (Keras <c>merge_mode</c>); see <see cref="RecurrentLayer{T}"/>.</param>
    /// <param name="goBackwards">Read each sequence from its last step (Keras <c>go_backwards</c>); see <see cref="RecurrentLayer{T}"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, a dropout is outside [0, 1), or <paramref name="epsilon"/>
    /// is not positive and finite.</exception>
    /// <exception cref="ArgumentException"><paramref name="mergeMode"/> is not concat on a one-direction stack, or
    /// <paramref name="goBackwards"/> is set on a bidirectional one.</exception>
    public LayerNormGru(int inputSize, int hiddenSize, int numLayers = 1, SeededRandom? random = null, ParameterBlock<T>? parameters = null,
        bool bidirectional = false, double dropout = 0, bool learnInitialState = false, double recurrentDropout = 0, double epsilon = 1e-5,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false)
        : base(Initialization.Weights, parameters, inputSize, hiddenSize, numLayers,
            (block, _, cellInput, suffix) => new LayerNormGruCell<T>(block, cellInput, hiddenSize, suffix, epsilon),
            bidirectional, dropout, learnInitialState, random, recurrentDropout, mergeMode, goBackwards)
    {
    }

    /// <summary>ε of the normalisations.</summary>
    public double Epsilon => ((LayerNormGruCell<T>)Cells[0]).Epsilon;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Configuration
        => BaseConfiguration("LayerNormGRU", ("layer_norm_eps", Epsilon.ToString("R", CultureInfo.InvariantCulture)));
}
