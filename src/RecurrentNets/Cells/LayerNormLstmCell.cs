using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// The layer-normalised LSTM (Ba, Kiros and Hinton 2016, "Layer Normalization", section 3.1 and the LSTM of their
/// appendix): the input and recurrent pre-activations are normalised separately over all four gate blocks together,
/// and the cell state is normalised before its tanh.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Gate blocks in PyTorch's order i, f, g, o; LN(z; α, β) = α ⊙ (z - μ)/√(σ² + ε) + β with μ and the biased σ²
/// over the n features of each batch row (PyTorch <c>nn.LayerNorm(n, eps)</c>):</para>
/// <code>
/// a = LN(W_ih x(t); α_ih, β_ih) + LN(W_hh h(t-1); α_hh, β_hh)          over all 4H gate features at once
/// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
/// C(t) = f ⊙ C(t-1) + i ⊙ g
/// h(t) = o ⊙ tanh(LN(C(t); α_c, β_c))                                   over the H units
/// </code>
/// <para>
/// The paper writes a separate bias b beside β_ih and β_hh; it only adds to them, so the cell has none (as PyTorch's
/// <c>LayerNormLSTMCell</c> in <c>benchmarks/fastrnns/custom_lstms.py</c>, whose layer norms "provide learnable biases"):
/// no <c>bias_ih</c>, <c>bias_hh</c>, and the engine's input projection is W_ih x(t) alone. Parameters, in this order:
/// <c>weight_ih_lK [4H, I]</c>, <c>weight_hh_lK [4H, H]</c>, <c>ln_ih_weight_lK</c>, <c>ln_ih_bias_lK</c>,
/// <c>ln_hh_weight_lK</c>, <c>ln_hh_bias_lK</c> [4H] (α_ih, β_ih, α_hh, β_hh), <c>ln_c_weight_lK</c>,
/// <c>ln_c_bias_lK</c> [H] (α_c, β_c). The gains start at 1 and the biases at 0.
/// </para>
/// <para>
/// On the engine: the cell keeps x̂ and 1/σ of the three normalisations in its step cache, writes dL/dy of each there in
/// backward, and turns those into the gains' and biases' gradients after the backward loop
/// (<see cref="AccumulateRecurrentGradients"/>), as W_hh's. The gradient of the recurrent product differs from that of
/// the input projection (each goes through its own normalisation): <see cref="HasSeparateRecurrentGradient"/>.
/// </para>
/// </remarks>
public sealed class LayerNormLstmCell<T> : RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RowLayerNorm<T> input, recurrent, cellNorm;

    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="nameSuffix">Parameter-name suffix such as <c>_l0</c> or <c>_l0_reverse</c>.</param>
    /// <param name="epsilon">ε of the three normalisations. PyTorch: <c>nn.LayerNorm</c>'s <c>eps</c> (1e-5).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or <paramref name="epsilon"/> is not positive and finite.</exception>
    public LayerNormLstmCell(ParameterBlock<T> block, int inputSize, int hiddenSize, string nameSuffix = "_l0", double epsilon = 1e-5)
        : base(block, inputSize, hiddenSize, 4, bias: false, nameSuffix)
    {
        Epsilon = CheckEpsilon(epsilon);
        int gw = 4 * hiddenSize;
        input = new RowLayerNorm<T>(AddParameter(block, "ln_ih_weight" + nameSuffix, gw), AddParameter(block, "ln_ih_bias" + nameSuffix, gw), 0, epsilon);
        recurrent = new RowLayerNorm<T>(AddParameter(block, "ln_hh_weight" + nameSuffix, gw), AddParameter(block, "ln_hh_bias" + nameSuffix, gw),
            input.CacheWidth, epsilon);
        cellNorm = new RowLayerNorm<T>(AddParameter(block, "ln_c_weight" + nameSuffix, hiddenSize), AddParameter(block, "ln_c_bias" + nameSuffix, hiddenSize),
            2 * input.CacheWidth, epsilon);
    }

    /// <summary>ε of the normalisations.</summary>
    public double Epsilon { get; }

    /// <summary>α_ih [4H]. Name: <c>ln_ih_weight_lK</c>.</summary>
    public ParameterView<T> InputNormWeight => input.Gain;

    /// <summary>β_ih [4H]. Name: <c>ln_ih_bias_lK</c>.</summary>
    public ParameterView<T> InputNormBias => input.Bias;

    /// <summary>α_hh [4H]. Name: <c>ln_hh_weight_lK</c>.</summary>
    public ParameterView<T> RecurrentNormWeight => recurrent.Gain;

    /// <summary>β_hh [4H]. Name: <c>ln_hh_bias_lK</c>.</summary>
    public ParameterView<T> RecurrentNormBias => recurrent.Bias;

    /// <summary>α_c [H]. Name: <c>ln_c_weight_lK</c>.</summary>
    public ParameterView<T> CellNormWeight => cellNorm.Gain;

    /// <summary>β_c [H]. Name: <c>ln_c_bias_lK</c>.</summary>
    public ParameterView<T> CellNormBias => cellNorm.Bias;

    /// <summary>The offset of the forget gate's block within the stacked gates (H).</summary>
    public int ForgetGateOffset => HiddenSize;

    /// <inheritdoc/>
    public override bool HasCellState => true;

    /// <inheritdoc/>
    public override bool HasSeparateRecurrentGradient => true;

    /// <inheritdoc/>
    /// <remarks>18H + 3: x̂, 1/σ and dL/dy of the input (4H), recurrent (4H) and cell (H) normalisations.</remarks>
    public override int StepCacheWidth => 2 * input.CacheWidth + cellNorm.CacheWidth;

    /// <inheritdoc/>
    public override bool RowsAreIndependent => true;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        int h = HiddenSize, gw = GateWidth, e = StepCacheWidth;
        Span<T> product = RowLayerNorm<T>.RecurrentProduct(step, gw);
        for (int r = 0; r < step.BatchSize; r++)
        {
            Span<T> a = step.Gates.Slice(r * gw, gw), cache = step.StepCache.Slice(r * e, e);

            // a = LN(W_ih x) + LN(W_hh h(t-1)), in place of W_ih x; then the gates' activations.
            input.Forward(a, cache, a, accumulate: false);
            recurrent.Forward(product.Slice(r * gw, gw), cache, a, accumulate: true);
            VectorMath.Sigmoid<T>(a[..(2 * h)]);
            VectorMath.Tanh<T>(a.Slice(2 * h, h), a.Slice(2 * h, h));
            VectorMath.Sigmoid<T>(a.Slice(3 * h, h));

            // C = f ⊙ C(t-1) + i ⊙ g; h = o ⊙ tanh(LN(C)).
            ReadOnlySpan<T> cellPrev = step.CellPrev.Slice(r * h, h);
            Span<T> cell = step.Cell.Slice(r * h, h), hidden = step.Hidden.Slice(r * h, h);
            for (int j = 0; j < h; j++)
            {
                cell[j] = a[h + j] * cellPrev[j] + a[j] * a[2 * h + j];
            }

            cellNorm.Forward(cell, cache, hidden, accumulate: false);
            VectorMath.Tanh<T>(hidden, hidden);
            for (int j = 0; j < h; j++)
            {
                hidden[j] *= a[3 * h + j];
            }
        }
    }

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth, e = StepCacheWidth;
        Span<T> tanhCell = step.Scratch[..h], da = step.Scratch.Slice(h, gw);
        for (int r = 0; r < b; r++)
        {
            Span<T> gates = step.Gates.Slice(r * gw, gw), cache = step.StepCache.Slice(r * e, e);
            ReadOnlySpan<T> dh = step.DHidden.Slice(r * h, h), cellPrev = step.CellPrev.Slice(r * h, h);
            Span<T> dc = step.DCell.Slice(r * h, h), dcPrev = step.DCellPrev.Slice(r * h, h);

            // tanh(LN(C)) again; dy_c = dh ⊙ o ⊙ (1 - tanh²), da_o = dh ⊙ tanh ⊙ o(1 - o).
            cellNorm.Output(cache, tanhCell, accumulate: false);
            VectorMath.Tanh<T>(tanhCell, tanhCell);
            Span<T> dyCell = dcPrev;
            for (int j = 0; j < h; j++)
            {
                T o = gates[3 * h + j], t = tanhCell[j];
                dyCell[j] = dh[j] * o * (T.One - t * t);
                da[3 * h + j] = dh[j] * t * o * (T.One - o);
            }

            // dC = dC(t) + LN_c backward; then the gates through C = f ⊙ C(t-1) + i ⊙ g, and dC(t-1) = dC ⊙ f.
            cellNorm.Backward(dyCell, cache, tanhCell);
            for (int j = 0; j < h; j++)
            {
                T i = gates[j], f = gates[h + j], g = gates[2 * h + j], dC = dc[j] + tanhCell[j];
                da[j] = dC * g * i * (T.One - i);
                da[h + j] = dC * cellPrev[j] * f * (T.One - f);
                da[2 * h + j] = dC * i * (T.One - g * g);
                dcPrev[j] = dC * f;
            }

            // Through each normalisation to its pre-activation: the input projection's gradient (in place of the
            // gates) and the recurrent product's.
            recurrent.Backward(da, cache, step.RecurrentGradient.Slice(r * gw, gw));
            input.Backward(da, cache, gates);
        }

        // dh(t-1) = (dRecurrent·W_hh) ⊙ m.
        step.DHiddenPrev.Clear();
        AddRecurrentGradient(step, 0, step.RecurrentGradient, gw, step.Scratch);
    }

    /// <inheritdoc/>
    /// <remarks>Besides dW_hh: dα += Σ dy ⊙ x̂ and dβ += Σ dy of the three normalisations, from the step caches.</remarks>
    public override void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> stepCache, int rows)
    {
        base.AccumulateRecurrentGradients(recurrentGradient, hiddenPrev, stepCache, rows);
        int e = StepCacheWidth;
        input.AccumulateGradients(stepCache, rows, e);
        recurrent.AccumulateGradients(stepCache, rows, e);
        cellNorm.AccumulateGradients(stepCache, rows, e);
    }

    /// <summary>ε checked: positive and finite.</summary>
    internal static double CheckEpsilon(double epsilon)
    {
        if (!(epsilon > 0) || !double.IsFinite(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive and finite (nn.LayerNorm uses 1e-5).");
        }

        return epsilon;
    }
}
