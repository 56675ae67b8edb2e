using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// A layer-normalised GRU in the manner of Ba, Kiros and Hinton's layer-normalised LSTM (2016): the input and the
/// recurrent pre-activations are normalised separately over all three gate blocks together, in PyTorch's GRU form.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Gate blocks in PyTorch's order r, z, n; LN(v; α, β) = α ⊙ (v - μ)/√(σ² + ε) + β over the 3H features of each
/// batch row:</para>
/// <code>
/// a = LN(W_ih x(t); α_ih, β_ih),  u = LN(W_hh h(t-1); α_hh, β_hh)      each over all 3H features
/// r = σ(a_r + u_r)
/// z = σ(a_z + u_z)
/// n = tanh(a_n + r ⊙ u_n)
/// h(t) = (1 - z) ⊙ n + z ⊙ h(t-1)
/// </code>
/// <para>
/// Why over all 3H and not per gate block: it is what the paper does for the LSTM (one normalisation of the whole 4H
/// input and recurrent pre-activation each), it keeps one mean and variance per source and row, and the gains and biases
/// still act per feature, so each block gets its own scale and offset. β_ih and β_hh take the place of PyTorch's b_ih and
/// b_hh, β_hh's n block inside the reset product as b_hn is (no separate biases). Parameters, in this order:
/// <c>weight_ih_lK [3H, I]</c>, <c>weight_hh_lK [3H, H]</c>, <c>ln_ih_weight_lK</c>, <c>ln_ih_bias_lK</c>,
/// <c>ln_hh_weight_lK</c>, <c>ln_hh_bias_lK</c> [3H]. The gains start at 1 and the biases at 0.
/// </para>
/// </remarks>
public sealed class LayerNormGruCell<T> : RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RowLayerNorm<T> input, recurrent;

    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="nameSuffix">Parameter-name suffix such as <c>_l0</c> or <c>_l0_reverse</c>.</param>
    /// <param name="epsilon">ε of the two normalisations. PyTorch: <c>nn.LayerNorm</c>'s <c>eps</c> (1e-5).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or <paramref name="epsilon"/> is not positive and finite.</exception>
    public LayerNormGruCell(ParameterBlock<T> block, int inputSize, int hiddenSize, string nameSuffix = "_l0", double epsilon = 1e-5)
        : base(block, inputSize, hiddenSize, 3, bias: false, nameSuffix)
    {
        Epsilon = LayerNormLstmCell<T>.CheckEpsilon(epsilon);
        int gw = 3 * hiddenSize;
        input = new RowLayerNorm<T>(AddParameter(block, "ln_ih_weight" + nameSuffix, gw), AddParameter(block, "ln_ih_bias" + nameSuffix, gw), 0, epsilon);
        recurrent = new RowLayerNorm<T>(AddParameter(block, "ln_hh_weight" + nameSuffix, gw), AddParameter(block, "ln_hh_bias" + nameSuffix, gw),
            input.CacheWidth, epsilon);
    }

    /// <summary>ε of the normalisations.</summary>
    public double Epsilon { get; }

    /// <summary>α_ih [3H]. Name: <c>ln_ih_weight_lK</c>.</summary>
    public ParameterView<T> InputNormWeight => input.Gain;

    /// <summary>β_ih [3H]. Name: <c>ln_ih_bias_lK</c>.</summary>
    public ParameterView<T> InputNormBias => input.Bias;

    /// <summary>α_hh [3H]. Name: <c>ln_hh_weight_lK</c>.</summary>
    public ParameterView<T> RecurrentNormWeight => recurrent.Gain;

    /// <summary>β_hh [3H]. Name: <c>ln_hh_bias_lK</c>.</summary>
    public ParameterView<T> RecurrentNormBias => recurrent.Bias;

    /// <inheritdoc/>
    public override bool HasSeparateRecurrentGradient => true;

    /// <inheritdoc/>
    /// <remarks>12H + 2: x̂, 1/σ and dL/dy of the input and recurrent normalisations (3H each).</remarks>
    public override int StepCacheWidth => 2 * input.CacheWidth;

    /// <inheritdoc/>
    public override bool RowsAreIndependent => true;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        int h = HiddenSize, gw = GateWidth, e = StepCacheWidth;

        // W_hh h(t-1) for every row; u = its normalisation, in place.
        Span<T> product = RowLayerNorm<T>.RecurrentProduct(step, gw);
        for (int r = 0; r < step.BatchSize; r++)
        {
            Span<T> a = step.Gates.Slice(r * gw, gw), u = product.Slice(r * gw, gw), cache = step.StepCache.Slice(r * e, e);
            input.Forward(a, cache, a, accumulate: false);
            recurrent.Forward(u, cache, u, accumulate: false);

            // r, z = σ(a + u); n = tanh(a_n + r ⊙ u_n); h = n + z ⊙ (h(t-1) - n).
            for (int j = 0; j < 2 * h; j++)
            {
                a[j] += u[j];
            }

            VectorMath.Sigmoid<T>(a[..(2 * h)]);
            for (int j = 0; j < h; j++)
            {
                a[2 * h + j] += a[j] * u[2 * h + j];
            }

            VectorMath.Tanh<T>(a.Slice(2 * h, h), a.Slice(2 * h, h));
            ReadOnlySpan<T> prev = step.HiddenPrev.Slice(r * h, h);
            Span<T> hidden = step.Hidden.Slice(r * h, h);
            for (int j = 0; j < h; j++)
            {
                T n = a[2 * h + j];
                hidden[j] = n + a[h + j] * (prev[j] - n);
            }
        }
    }

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth, e = StepCacheWidth;
        Span<T> u = step.Scratch[..gw];
        for (int r = 0; r < b; r++)
        {
            Span<T> gates = step.Gates.Slice(r * gw, gw), cache = step.StepCache.Slice(r * e, e), dRecurrent = step.RecurrentGradient.Slice(r * gw, gw);
            ReadOnlySpan<T> dh = step.DHidden.Slice(r * h, h), prev = step.HiddenPrev.Slice(r * h, h);
            Span<T> dPrev = step.DHiddenPrev.Slice(r * h, h);

            // u_n again; then the pre-activation gradients: dn = dh ⊙ (1 - z), da_n = dn ⊙ (1 - n²), du_n = da_n ⊙ r,
            // da_r = du_r = da_n ⊙ u_n ⊙ r(1 - r), da_z = du_z = dh ⊙ (h(t-1) - n) ⊙ z(1 - z); dh(t-1) = dh ⊙ z + ...
            recurrent.Output(cache, u, accumulate: false);
            for (int j = 0; j < h; j++)
            {
                T reset = gates[j], z = gates[h + j], n = gates[2 * h + j];
                T dan = dh[j] * (T.One - z) * (T.One - n * n);
                T dar = dan * u[2 * h + j] * reset * (T.One - reset);
                T daz = dh[j] * (prev[j] - n) * z * (T.One - z);
                dPrev[j] = dh[j] * z;
                dRecurrent[j] = dar;
                dRecurrent[h + j] = daz;
                dRecurrent[2 * h + j] = dan * reset;
                gates[j] = dar;
                gates[h + j] = daz;
                gates[2 * h + j] = dan;
            }

            // Through each normalisation to its pre-activation, in place.
            recurrent.Backward(dRecurrent, cache, dRecurrent);
            input.Backward(gates, cache, gates);
        }

        // dh(t-1) += (dRecurrent·W_hh) ⊙ m.
        AddRecurrentGradient(step, 0, step.RecurrentGradient, gw, step.Scratch);
    }

    /// <inheritdoc/>
    /// <remarks>Besides dW_hh: dα += Σ dy ⊙ x̂ and dβ += Σ dy of the two normalisations, from the step caches.</remarks>
    public override void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> stepCache, int rows)
    {
        base.AccumulateRecurrentGradients(recurrentGradient, hiddenPrev, stepCache, rows);
        input.AccumulateGradients(stepCache, rows, StepCacheWidth);
        recurrent.AccumulateGradients(stepCache, rows, StepCacheWidth);
    }
}
