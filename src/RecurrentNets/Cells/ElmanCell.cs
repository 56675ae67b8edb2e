using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// The Elman (vanilla) recurrent cell (Elman 1990): a(t) = b + W h(t-1) + U x(t), h(t) = tanh(a(t)) or relu(a(t)).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// In PyTorch's names U = <c>weight_ih_lK [H, I]</c>, W = <c>weight_hh_lK [H, H]</c>, b = <c>bias_ih_lK + bias_hh_lK</c>.
/// The equivalent loop for one batch row: <c>for t: h = tanh(W_ih·x[t] + b_ih + W_hh·h + b_hh)</c>.
/// </remarks>
public sealed class ElmanCell<T> : RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="nonlinearity"><see cref="Activation.Tanh"/> or <see cref="Activation.Relu"/>. PyTorch: <c>nonlinearity</c>.</param>
    /// <param name="bias">Whether to use b_ih and b_hh. PyTorch: <c>bias</c>.</param>
    /// <param name="nameSuffix">Parameter-name suffix such as <c>_l0</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nonlinearity"/> is not Tanh or Relu.</exception>
    public ElmanCell(ParameterBlock<T> block, int inputSize, int hiddenSize, Activation nonlinearity = Activation.Tanh,
        bool bias = true, string nameSuffix = "_l0")
        : base(block, inputSize, hiddenSize, 1, bias, nameSuffix)
    {
        if (nonlinearity is not (Activation.Tanh or Activation.Relu))
        {
            throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "The nonlinearity must be Tanh or Relu.");
        }

        Nonlinearity = nonlinearity;
    }

    /// <summary>tanh or relu.</summary>
    public Activation Nonlinearity { get; }

    /// <inheritdoc/>
    public override void PrepareWeights(bool backward) => PackRecurrentWeights(backward);

    /// <inheritdoc/>
    internal override bool ForwardRowsConcurrently => true;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize;

        // a = (x·Uᵀ + b) + h(t-1)·Wᵀ, accumulated onto the precomputed input projection.
        MultiplyByRecurrentWeightsTransposed(step.RecurrentInput, step.Gates, b, accumulate: true, step.ReverseSweep, step.Guest);
        if (Nonlinearity == Activation.Tanh)
        {
            VectorMath.Tanh<T>(step.Gates, step.Hidden);
        }
        else
        {
            Elementwise.Relu<T>(step.Gates, step.Hidden);
        }
    }

    /// <inheritdoc/>
    internal override bool SplitsUnits => typeof(T) == typeof(float);

    /// <inheritdoc/>
    internal override void ForwardUnits(in CellStep<T> step, int first, int end)
    {
        int b = step.BatchSize, h = HiddenSize, count = end - first;
        MultiplyUnitsByRecurrentWeightsTransposed(step.RecurrentInput, step.Gates, b, first, end, accumulate: true, step.ReverseSweep, step.Guest);
        for (int r = 0; r < b; r++)
        {
            ReadOnlySpan<T> a = step.Gates.Slice(r * h + first, count);
            Span<T> hidden = step.Hidden.Slice(r * h + first, count);
            if (Nonlinearity == Activation.Tanh)
            {
                VectorMath.Tanh<T>(a, hidden);
            }
            else
            {
                Elementwise.Relu<T>(a, hidden);
            }
        }
    }

    /// <inheritdoc/>
    internal override void BackwardUnitsPointwise(in CellStep<T> step, int first, int end)
    {
        int b = step.BatchSize, h = HiddenSize, count = end - first;
        for (int r = 0; r < b; r++)
        {
            ReadOnlySpan<T> hidden = step.Hidden.Slice(r * h + first, count), dh = step.DHidden.Slice(r * h + first, count);
            Span<T> da = step.Gates.Slice(r * h + first, count);
            if (Nonlinearity == Activation.Tanh)
            {
                Elementwise.TanhBackward<T>(hidden, dh, da);
            }
            else
            {
                Elementwise.ReluBackward<T>(hidden, dh, da);
            }
        }
    }

    /// <inheritdoc/>
    internal override void BackwardUnitsProduct(in CellStep<T> step, int first, int end)
        => MultiplyUnitsByRecurrentWeights(step.Gates, step.DHiddenPrev, step.BatchSize, first, end, accumulate: false, step.ReverseSweep);

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize;

        // da = dh ⊙ f'(a), from the stored h; it overwrites the pre-activation cache of this step.
        if (Nonlinearity == Activation.Tanh)
        {
            Elementwise.TanhBackward<T>(step.Hidden, step.DHidden, step.Gates);
        }
        else
        {
            Elementwise.ReluBackward<T>(step.Hidden, step.DHidden, step.Gates);
        }

        // dh(t-1) = (da·W) ⊙ m.
        MultiplyByRecurrentWeights(step.Gates, step.DHiddenPrev, b, accumulate: false, step.ReverseSweep, step.Guest);
        ApplyRecurrentMask(step, step.DHiddenPrev);
    }
}
