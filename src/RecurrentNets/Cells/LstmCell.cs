using System.Numerics;
using System.Runtime.InteropServices;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// Long short-term memory (Hochreiter and Schmidhuber 1997, with the forget gate of Gers, Schmidhuber and Cummins
/// 2000), optionally with peepholes (Gers and Schmidhuber 2000) and with coupled input and forget gates (CIFG; Greff
/// et al. 2017). The variant is an option of this one cell, compiled to its own kernel.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Standard cell, gate blocks in PyTorch's order i, f, g, o (<c>weight_ih_lK [4H, I]</c>):</para>
/// <code>
/// i = σ(W_ii x + b_ii + W_hi h + b_hi [+ p_i ⊙ C(t-1)])
/// f = σ(W_if x + b_if + W_hf h + b_hf [+ p_f ⊙ C(t-1)])
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg)          (the course's C~)
/// C = f ⊙ C(t-1) + i ⊙ g
/// o = σ(W_io x + b_io + W_ho h + b_ho [+ p_o ⊙ C])
/// h = o ⊙ tanh(C)
/// </code>
/// <para>
/// Coupled cell: three blocks f, g, o (<c>weight_ih_lK [3H, I]</c>) and C = f ⊙ C(t-1) + (1 - f) ⊙ g, as the course
/// writes it. Peephole weights are per unit: <c>weight_ci_lK</c>, <c>weight_cf_lK</c>, <c>weight_co_lK</c> [H]
/// (the input one only without coupling); ONNX's <c>P</c> input.
/// </para>
/// </remarks>
public sealed class LstmCell<T> : RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="peephole">Gates see the cell state through per-unit weights.</param>
    /// <param name="coupledInputForget">No input gate: i = 1 - f.</param>
    /// <param name="bias">Whether to use b_ih and b_hh. PyTorch: <c>bias</c>.</param>
    /// <param name="nameSuffix">Parameter-name suffix such as <c>_l0</c> or <c>_l0_reverse</c>.</param>
    public LstmCell(ParameterBlock<T> block, int inputSize, int hiddenSize, bool peephole = false, bool coupledInputForget = false,
        bool bias = true, string nameSuffix = "_l0")
        : base(block, inputSize, hiddenSize, coupledInputForget ? 3 : 4, bias, nameSuffix)
    {
        Peephole = peephole;
        CoupledInputForget = coupledInputForget;
        if (peephole)
        {
            PeepholeInput = coupledInputForget ? null : AddParameter(block, "weight_ci" + nameSuffix, hiddenSize);
            PeepholeForget = AddParameter(block, "weight_cf" + nameSuffix, hiddenSize);
            PeepholeOutput = AddParameter(block, "weight_co" + nameSuffix, hiddenSize);
        }
    }

    /// <summary>Whether the gates see the cell state.</summary>
    public bool Peephole { get; }

    /// <summary>Whether the input gate is 1 - f.</summary>
    public bool CoupledInputForget { get; }

    /// <summary>p_i [H] (<c>weight_ci_lK</c>), or null.</summary>
    public ParameterView<T>? PeepholeInput { get; }

    /// <summary>p_f [H] (<c>weight_cf_lK</c>), or null.</summary>
    public ParameterView<T>? PeepholeForget { get; }

    /// <summary>p_o [H] (<c>weight_co_lK</c>), or null.</summary>
    public ParameterView<T>? PeepholeOutput { get; }

    /// <summary>The offset of the forget gate's block within the stacked gates (H for the standard cell, 0 when coupled).</summary>
    public int ForgetGateOffset => CoupledInputForget ? 0 : HiddenSize;

    /// <inheritdoc/>
    public override bool HasCellState => true;

    /// <inheritdoc/>
    public override int StepCacheWidth => HiddenSize;

    /// <inheritdoc/>
    public override bool RowsAreIndependent => true;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        step.Recurrent.Forward(step.RecurrentInput, step.Gates, accumulate: true);
        ForwardPointwise(step, step.FirstUnit, step.EndUnit);
    }

    /// <inheritdoc/>
    internal override bool SplitsUnits => typeof(T) == typeof(float);

    /// <inheritdoc/>
    internal override void BackwardUnitsPointwise(in CellStep<T> step, int first, int end) => BackwardPointwise(step, first, end);

    /// <inheritdoc/>
    internal override void BackwardUnitsProduct(in CellStep<T> step) => step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);

    // The gates' activations, C(t) and h(t) of units [first, end) (a window only in float; double takes all units).
    private void ForwardPointwise(in CellStep<T> step, int first, int end)
    {
        int b = step.BatchSize, h = HiddenSize;
        ReadOnlySpan<T> pI = PeepholeInput is null ? default : PeepholeInput.Values;
        ReadOnlySpan<T> pF = PeepholeForget is null ? default : PeepholeForget.Values;
        ReadOnlySpan<T> pO = PeepholeOutput is null ? default : PeepholeOutput.Values;
        if (typeof(T) == typeof(float))
        {
            Span<float> gates = Cast(step.Gates), cell = Cast(step.Cell), tanhCell = Cast(step.StepCache), hidden = Cast(step.Hidden);
            ReadOnlySpan<float> cellPrev = Cast(step.CellPrev), fI = Cast(pI), fF = Cast(pF), fO = Cast(pO);
            switch ((Peephole, CoupledInputForget))
            {
                case (false, false):
                    LstmKernels.ForwardFloat<Off, Off>(gates, cellPrev, cell, tanhCell, hidden, fI, fF, fO, b, h, first, end - first);
                    break;
                case (true, false):
                    LstmKernels.ForwardFloat<On, Off>(gates, cellPrev, cell, tanhCell, hidden, fI, fF, fO, b, h, first, end - first);
                    break;
                case (false, true):
                    LstmKernels.ForwardFloat<Off, On>(gates, cellPrev, cell, tanhCell, hidden, fI, fF, fO, b, h, first, end - first);
                    break;
                default:
                    LstmKernels.ForwardFloat<On, On>(gates, cellPrev, cell, tanhCell, hidden, fI, fF, fO, b, h, first, end - first);
                    break;
            }

            return;
        }

        if (first != 0 || end != h)
        {
            throw new NotSupportedException("Only float steps are split over units.");
        }

        switch ((Peephole, CoupledInputForget))
        {
            case (false, false):
                LstmKernels.Forward<T, Off, Off>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.Hidden, pI, pF, pO, b, h);
                break;
            case (true, false):
                LstmKernels.Forward<T, On, Off>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.Hidden, pI, pF, pO, b, h);
                break;
            case (false, true):
                LstmKernels.Forward<T, Off, On>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.Hidden, pI, pF, pO, b, h);
                break;
            default:
                LstmKernels.Forward<T, On, On>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.Hidden, pI, pF, pO, b, h);
                break;
        }
    }

    private static Span<float> Cast(Span<T> values) => MemoryMarshal.Cast<T, float>(values);

    private static ReadOnlySpan<float> Cast(ReadOnlySpan<T> values) => MemoryMarshal.Cast<T, float>(values);

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        BackwardPointwise(step, 0, HiddenSize);

        // dh(t-1) = (dGates·W_hh) ⊙ m.
        step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);
        ApplyRecurrentMask(step, step.DHiddenPrev);
    }

    // The gate pre-activation gradients, dC(t-1) and the peephole gradients of units [first, end).
    private void BackwardPointwise(in CellStep<T> step, int first, int end)
    {
        int b = step.BatchSize, h = HiddenSize, count = end - first;
        ReadOnlySpan<T> pI = PeepholeInput is null ? default : PeepholeInput.Values;
        ReadOnlySpan<T> pF = PeepholeForget is null ? default : PeepholeForget.Values;
        ReadOnlySpan<T> pO = PeepholeOutput is null ? default : PeepholeOutput.Values;
        Span<T> dpI = PeepholeInput is null ? default : PeepholeInput.Gradients;
        Span<T> dpF = PeepholeForget is null ? default : PeepholeForget.Gradients;
        Span<T> dpO = PeepholeOutput is null ? default : PeepholeOutput.Gradients;
        switch ((Peephole, CoupledInputForget))
        {
            case (false, false):
                LstmKernels.Backward<T, Off, Off>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.DHidden, step.DCell, step.DCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
            case (true, false):
                LstmKernels.Backward<T, On, Off>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.DHidden, step.DCell, step.DCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
            case (false, true):
                LstmKernels.Backward<T, Off, On>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.DHidden, step.DCell, step.DCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
            default:
                LstmKernels.Backward<T, On, On>(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.DHidden, step.DCell, step.DCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
        }
    }
}
