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
/// With projections (LSTMP; Sak, Senior and Beaufays 2014; PyTorch's <c>proj_size</c> P, 0 &lt; P &lt; H), h is P wide:
/// h = W_hr (o ⊙ tanh(C)) with <c>weight_hr_lK [P, H]</c>, and W_hh is [4H, P]; C stays H wide.
/// </para>
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
    /// <param name="projectionSize">P, the width of h when the cell projects o ⊙ tanh(C) through W_hr [P, H] (LSTMP), or 0
    /// for none. PyTorch: <c>proj_size</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or <paramref name="projectionSize"/> is negative or
    /// not below <paramref name="hiddenSize"/> (PyTorch's rule).</exception>
    public LstmCell(ParameterBlock<T> block, int inputSize, int hiddenSize, bool peephole = false, bool coupledInputForget = false,
        bool bias = true, string nameSuffix = "_l0", int projectionSize = 0)
        : base(block, inputSize, hiddenSize, coupledInputForget ? 3 : 4, bias, nameSuffix, RecurrentWeights.Full,
            CheckProjectionSize(projectionSize, hiddenSize))
    {
        Peephole = peephole;
        CoupledInputForget = coupledInputForget;
        if (projectionSize > 0)
        {
            // PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr (then the peepholes, which PyTorch lacks).
            WeightHR = AddParameter(block, "weight_hr" + nameSuffix, projectionSize, hiddenSize);
            packedProjection = new PackedMatrix<T>();
            packedProjectionBackward = new PackedMatrix<T>(packedProjection);
        }

        if (peephole)
        {
            PeepholeInput = coupledInputForget ? null : AddParameter(block, "weight_ci" + nameSuffix, hiddenSize);
            PeepholeForget = AddParameter(block, "weight_cf" + nameSuffix, hiddenSize);
            PeepholeOutput = AddParameter(block, "weight_co" + nameSuffix, hiddenSize);
        }
    }

    // W_hrᵀ packed for h = m·W_hrᵀ and W_hr for dm = dh·W_hr; they share memory (a loop needs one at a time).
    private readonly PackedMatrix<T>? packedProjection, packedProjectionBackward;
    private bool projectionFrozen;

    /// <summary>W_hr [P, H] (<c>weight_hr_lK</c>), or null without projections.</summary>
    public ParameterView<T>? WeightHR { get; }

    /// <summary>P, the width of h with projections, or 0. PyTorch: <c>proj_size</c>.</summary>
    public int ProjectionSize => WeightHR is null ? 0 : StateSize;

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
    /// <remarks>H: tanh(C). With projections 2H + P: tanh(C), m = o ⊙ tanh(C), and dL/dh (written going back, for dW_hr).</remarks>
    public override int StepCacheWidth => WeightHR is null ? HiddenSize : 2 * HiddenSize + StateSize;

    /// <inheritdoc/>
    public override bool RowsAreIndependent => true;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        step.Recurrent.Forward(step.RecurrentInput, step.Gates, accumulate: true);
        if (WeightHR is null)
        {
            ForwardPointwise(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.Hidden, step.BatchSize, step.FirstUnit, step.EndUnit);
            return;
        }

        // m = o ⊙ tanh(C) row by row into the step cache (tanh(C) beside it), then h = m·W_hrᵀ.
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth, e = StepCacheWidth;
        for (int r = 0; r < b; r++)
        {
            Span<T> cache = step.StepCache.Slice(r * e, e);
            ForwardPointwise(step.Gates.Slice(r * gw, gw), step.CellPrev.Slice(r * h, h), step.Cell.Slice(r * h, h), cache[..h],
                cache.Slice(h, h), 1, 0, h);
        }

        ReadOnlySpan<T> m = step.StepCache[h..];
        if (packedProjection!.IsPacked)
        {
            Gemm.Compute(false, b, StateSize, h, m, e, packedProjection, step.Hidden, StateSize, accumulate: false);
        }
        else
        {
            Gemm.Compute(false, true, b, StateSize, h, m, e, WeightHR.Values, h, step.Hidden, StateSize, accumulate: false);
        }
    }

    /// <inheritdoc/>
    internal override bool SplitsUnits => typeof(T) == typeof(float) && WeightHR is null;

    /// <inheritdoc/>
    internal override void BackwardUnitsPointwise(in CellStep<T> step, int first, int end)
        => BackwardPointwise(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.DHidden, step.DCell, step.DCellPrev, step.BatchSize, first, end);

    /// <inheritdoc/>
    internal override void BackwardUnitsProduct(in CellStep<T> step) => step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);

    // The gates' activations, C(t), tanh(C(t)) and o ⊙ tanh(C(t)) of units [first, end) of b rows (a window only in float;
    // double takes all units).
    private void ForwardPointwise(Span<T> gatesT, ReadOnlySpan<T> cellPrevT, Span<T> cellT, Span<T> tanhCellT, Span<T> hiddenT, int b, int first, int end)
    {
        int h = HiddenSize;
        ReadOnlySpan<T> pI = PeepholeInput is null ? default : PeepholeInput.Values;
        ReadOnlySpan<T> pF = PeepholeForget is null ? default : PeepholeForget.Values;
        ReadOnlySpan<T> pO = PeepholeOutput is null ? default : PeepholeOutput.Values;
        if (typeof(T) == typeof(float))
        {
            Span<float> gates = Cast(gatesT), cell = Cast(cellT), tanhCell = Cast(tanhCellT), hidden = Cast(hiddenT);
            ReadOnlySpan<float> cellPrev = Cast(cellPrevT), fI = Cast(pI), fF = Cast(pF), fO = Cast(pO);
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
                LstmKernels.Forward<T, Off, Off>(gatesT, cellPrevT, cellT, tanhCellT, hiddenT, pI, pF, pO, b, h);
                break;
            case (true, false):
                LstmKernels.Forward<T, On, Off>(gatesT, cellPrevT, cellT, tanhCellT, hiddenT, pI, pF, pO, b, h);
                break;
            case (false, true):
                LstmKernels.Forward<T, Off, On>(gatesT, cellPrevT, cellT, tanhCellT, hiddenT, pI, pF, pO, b, h);
                break;
            default:
                LstmKernels.Forward<T, On, On>(gatesT, cellPrevT, cellT, tanhCellT, hiddenT, pI, pF, pO, b, h);
                break;
        }
    }

    private static Span<float> Cast(Span<T> values) => MemoryMarshal.Cast<T, float>(values);

    private static ReadOnlySpan<float> Cast(ReadOnlySpan<T> values) => MemoryMarshal.Cast<T, float>(values);

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize;
        if (WeightHR is null)
        {
            BackwardPointwise(step.Gates, step.CellPrev, step.Cell, step.StepCache, step.DHidden, step.DCell, step.DCellPrev, b, 0, h);
        }
        else
        {
            BackwardProjected(step);
        }

        // dh(t-1) = (dGates·W_hh) ⊙ m.
        step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);
        ApplyRecurrentMask(step, step.DHiddenPrev);
    }

    // With projections: dh is kept in the step cache for dW_hr, dm = dh·W_hr, then the pointwise step row by row (the
    // cache holds tanh(C) of a row at the row's start).
    private void BackwardProjected(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, p = StateSize, gw = GateWidth, e = StepCacheWidth;
        for (int r = 0; r < b; r++)
        {
            step.DHidden.Slice(r * p, p).CopyTo(step.StepCache.Slice(r * e + 2 * h, p));
        }

        Span<T> dm = step.Scratch[..(b * h)];
        if (packedProjectionBackward!.IsPacked)
        {
            Gemm.Compute(false, b, h, p, step.DHidden, p, packedProjectionBackward, dm, h, accumulate: false);
        }
        else
        {
            Gemm.Compute(false, false, b, h, p, step.DHidden, p, WeightHR!.Values, h, dm, h, accumulate: false);
        }

        for (int r = 0; r < b; r++)
        {
            BackwardPointwise(step.Gates.Slice(r * gw, gw), step.CellPrev.Slice(r * h, h), step.Cell.Slice(r * h, h), step.StepCache.Slice(r * e, h),
                dm.Slice(r * h, h), step.DCell.Slice(r * h, h), step.DCellPrev.Slice(r * h, h), 1, 0, h);
        }
    }

    // The gate pre-activation gradients, dC(t-1) and the peephole gradients of units [first, end) of b rows, from dL/d(o ⊙ tanh C).
    private void BackwardPointwise(Span<T> gates, ReadOnlySpan<T> cellPrev, ReadOnlySpan<T> cell, ReadOnlySpan<T> tanhCell, Span<T> dHidden,
        Span<T> dCell, Span<T> dCellPrev, int b, int first, int end)
    {
        int h = HiddenSize, count = end - first;
        ReadOnlySpan<T> pI = PeepholeInput is null ? default : PeepholeInput.Values;
        ReadOnlySpan<T> pF = PeepholeForget is null ? default : PeepholeForget.Values;
        ReadOnlySpan<T> pO = PeepholeOutput is null ? default : PeepholeOutput.Values;
        Span<T> dpI = PeepholeInput is null ? default : PeepholeInput.Gradients;
        Span<T> dpF = PeepholeForget is null ? default : PeepholeForget.Gradients;
        Span<T> dpO = PeepholeOutput is null ? default : PeepholeOutput.Gradients;
        switch ((Peephole, CoupledInputForget))
        {
            case (false, false):
                LstmKernels.Backward<T, Off, Off>(gates, cellPrev, cell, tanhCell, dHidden, dCell, dCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
            case (true, false):
                LstmKernels.Backward<T, On, Off>(gates, cellPrev, cell, tanhCell, dHidden, dCell, dCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
            case (false, true):
                LstmKernels.Backward<T, Off, On>(gates, cellPrev, cell, tanhCell, dHidden, dCell, dCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
            default:
                LstmKernels.Backward<T, On, On>(gates, cellPrev, cell, tanhCell, dHidden, dCell, dCellPrev, pI, pF, pO, dpI, dpF, dpO, b, h, first, count);
                break;
        }
    }

    /// <inheritdoc/>
    /// <remarks>With projections, W_hr too: packed once per loop, as W_hh is.</remarks>
    public override void PrepareWeights(bool backward)
    {
        base.PrepareWeights(backward);
        if (WeightHR is null)
        {
            return;
        }

        int h = HiddenSize, p = StateSize;
        if (backward)
        {
            Gemm.Pack(false, p, h, WeightHR.Values, h, packedProjectionBackward!);
        }
        else if (!projectionFrozen || !packedProjection!.IsPacked)
        {
            Gemm.Pack(true, h, p, WeightHR.Values, h, packedProjection!);
        }
    }

    /// <inheritdoc/>
    public override void ReleaseWeights()
    {
        base.ReleaseWeights();
        if (WeightHR is not null)
        {
            if (!projectionFrozen)
            {
                packedProjection!.Invalidate();
            }

            packedProjectionBackward!.Invalidate();
        }
    }

    /// <inheritdoc/>
    internal override void FreezeWeights(bool frozen)
    {
        projectionFrozen = false;
        packedProjection?.Invalidate();
        base.FreezeWeights(frozen);
        projectionFrozen = frozen;
    }

    /// <inheritdoc/>
    /// <remarks>With projections, also dW_hr += Σ dL/dhᵀ·m over all T·B rows of the step caches (one GEMM).</remarks>
    public override void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> stepCache, int rows)
    {
        base.AccumulateRecurrentGradients(recurrentGradient, hiddenPrev, stepCache, rows);
        if (WeightHR is not null)
        {
            int h = HiddenSize, e = StepCacheWidth;
            Gemm.Compute(true, false, StateSize, h, rows, stepCache[(2 * h)..], e, stepCache[h..], e, WeightHR.Gradients, h, accumulate: true);
        }
    }

    // proj_size: 0 for none, else in [1, H) as PyTorch requires; the state size the base cell takes (0 = H).
    private static int CheckProjectionSize(int projectionSize, int hiddenSize)
    {
        if (projectionSize < 0 || (projectionSize > 0 && projectionSize >= hiddenSize))
        {
            throw new ArgumentOutOfRangeException(nameof(projectionSize), projectionSize,
                $"projectionSize (PyTorch proj_size) must be 0 (no projection) or between 1 and hiddenSize - 1 = {hiddenSize - 1}.");
        }

        return projectionSize;
    }
}
