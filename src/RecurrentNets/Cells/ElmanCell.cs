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
    public override bool RowsAreIndependent => true;

    /// <inheritdoc/>
    internal override bool SplitsUnits => typeof(T) == typeof(float);

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        // a = (x·Uᵀ + b) + h(t-1)·Wᵀ, accumulated onto the precomputed input projection; h = f(a) on the step's units.
        step.Recurrent.Forward(step.RecurrentInput, step.Gates, accumulate: true);
        int b = step.BatchSize, h = HiddenSize, first = step.FirstUnit, count = step.EndUnit - first;
        if (count == h)
        {
            Activate(step.Gates, step.Hidden);
            return;
        }

        for (int r = 0; r < b; r++)
        {
            Activate(step.Gates.Slice(r * h + first, count), step.Hidden.Slice(r * h + first, count));
        }
    }

    /// <inheritdoc/>
    internal override void BackwardUnitsPointwise(in CellStep<T> step, int first, int end)
    {
        int b = step.BatchSize, h = HiddenSize, count = end - first;
        for (int r = 0; r < b; r++)
        {
            ActivationBackward(step.Hidden.Slice(r * h + first, count), step.DHidden.Slice(r * h + first, count), step.Gates.Slice(r * h + first, count));
        }
    }

    /// <inheritdoc/>
    internal override void BackwardUnitsProduct(in CellStep<T> step) => step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        // da = dh ⊙ f'(a), from the stored h; it overwrites the pre-activation cache of this step.
        ActivationBackward(step.Hidden, step.DHidden, step.Gates);

        // dh(t-1) = (da·W) ⊙ m.
        step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);
        ApplyRecurrentMask(step, step.DHiddenPrev);
    }

    private void Activate(ReadOnlySpan<T> a, Span<T> hidden)
    {
        if (Nonlinearity == Activation.Tanh)
        {
            VectorMath.Tanh<T>(a, hidden);
        }
        else
        {
            Elementwise.Relu<T>(a, hidden);
        }
    }

    private void ActivationBackward(ReadOnlySpan<T> hidden, ReadOnlySpan<T> dh, Span<T> da)
    {
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
