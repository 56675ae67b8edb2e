using System.Numerics;
using System.Runtime.InteropServices;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// The gated recurrent unit (Cho et al. 2014), in PyTorch's form by default or in the original form where the reset
/// gate applies before the recurrent product.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Gate blocks in PyTorch's order r, z, n (<c>weight_ih_lK [3H, I]</c>, <c>weight_hh_lK [3H, H]</c>):
/// <code>
/// r = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))      PyTorch; ONNX linear_before_reset = 1
/// n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)      Cho et al. 2014; ONNX linear_before_reset = 0
/// h = (1 - z) ⊙ n + z ⊙ h(t-1)
/// </code>
/// </remarks>
public sealed class GruCell<T> : RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="resetAfterRecurrence">PyTorch's form (default); false for Cho et al.'s original.</param>
    /// <param name="bias">Whether to use b_ih and b_hh. PyTorch: <c>bias</c>.</param>
    /// <param name="nameSuffix">Parameter-name suffix such as <c>_l0</c>.</param>
    public GruCell(ParameterBlock<T> block, int inputSize, int hiddenSize, bool resetAfterRecurrence = true, bool bias = true,
        string nameSuffix = "_l0")
        : base(block, inputSize, hiddenSize, 3, bias, nameSuffix)
    {
        ResetAfterRecurrence = resetAfterRecurrence;
    }

    /// <summary>Whether n = tanh(x_n + r ⊙ (W_hn h + b_hn)) (PyTorch) rather than tanh(x_n + W_hn (r ⊙ h) + b_hn) (Cho).</summary>
    public bool ResetAfterRecurrence { get; }

    /// <inheritdoc/>
    public override bool FoldsRecurrentBias => false;

    /// <inheritdoc/>
    public override bool HasSeparateRecurrentGradient => ResetAfterRecurrence;

    /// <inheritdoc/>
    /// <remarks>PyTorch's form keeps W_hn h + b_hn; Cho's form keeps r ⊙ h.</remarks>
    public override int StepCacheWidth => HiddenSize;

    /// <inheritdoc/>
    /// <remarks>PyTorch's form packs W_hh as LSTM does; Cho's form reads it in place (its two products use row blocks).</remarks>
    public override void PrepareWeights(bool backward)
    {
        if (ResetAfterRecurrence)
        {
            PackRecurrentWeights(backward);
        }
    }

    /// <inheritdoc/>
    internal override bool ForwardRowsConcurrently => true;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth;
        ReadOnlySpan<T> w = WeightHH.Values;
        if (ResetAfterRecurrence)
        {
            // hp = h(t-1)·W_hhᵀ + b_hh for all three blocks, in scratch [B, 3H].
            Span<T> hp = step.Scratch[..(b * gw)];
            if (BiasHH is not null)
            {
                for (int r = 0; r < b; r++)
                {
                    BiasHH.Values.CopyTo(hp.Slice(r * gw, gw));
                }
            }

            MultiplyByRecurrentWeightsTransposed(step.RecurrentInput, hp, b, accumulate: BiasHH is not null, step.ReverseSweep, step.Guest);
            if (typeof(T) == typeof(float))
            {
                // One pass: σ, tanh, the new state, and W_hn h + b_hn kept for backward.
                GruKernels.ForwardResetAfter(Cast(step.Gates), Cast(hp), Cast(step.HiddenPrev), Cast(step.StepCache), Cast(step.Hidden), b, h);
                return;
            }

            GruKernels.ResetUpdate<T>(step.Gates, hp, gw, b, h);

            // Keep W_hn h + b_hn for backward.
            for (int r = 0; r < b; r++)
            {
                hp.Slice(r * gw + 2 * h, h).CopyTo(step.StepCache.Slice(r * h, h));
            }

            GruKernels.Candidate<T>(step.Gates, step.StepCache, h, multiplyByReset: true, step.HiddenPrev, step.Hidden, b, h);
        }
        else
        {
            // r, z from h(t-1); then n from r ⊙ h(t-1).
            Span<T> hp = step.Scratch[..(b * 2 * h)];
            RecurrentProduct(step.RecurrentInput, w, 0, 2 * h, hp, 2 * h, b);
            GruKernels.ResetUpdate<T>(step.Gates, hp, 2 * h, b, h);
            Span<T> rh = step.StepCache;
            for (int r = 0; r < b; r++)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(step.Gates.Slice(r * gw, h), step.RecurrentInput.Slice(r * h, h), rh.Slice(r * h, h));
            }

            Span<T> recN = step.Scratch[..(b * h)];
            RecurrentProduct(rh, w, 2 * h, h, recN, h, b);
            GruKernels.Candidate<T>(step.Gates, recN, h, multiplyByReset: false, step.HiddenPrev, step.Hidden, b, h);
        }
    }

    /// <inheritdoc/>
    internal override bool SplitsUnits => typeof(T) == typeof(float) && ResetAfterRecurrence;

    /// <inheritdoc/>
    internal override void ForwardUnits(in CellStep<T> step, int first, int end)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth, count = end - first;

        // The columns of units [first, end) of hp = h(t-1)·W_hhᵀ + b_hh, in the whole step's scratch [B, 3H].
        Span<T> hp = step.Scratch[..(b * gw)];
        if (BiasHH is not null)
        {
            for (int r = 0; r < b; r++)
            {
                for (int g = 0; g < 3; g++)
                {
                    BiasHH.Values.Slice(g * h + first, count).CopyTo(hp.Slice(r * gw + g * h + first, count));
                }
            }
        }

        MultiplyUnitsByRecurrentWeightsTransposed(step.RecurrentInput, hp, b, first, end, accumulate: BiasHH is not null, step.ReverseSweep, step.Guest);
        GruKernels.ForwardResetAfter(Cast(step.Gates), Cast(hp), Cast(step.HiddenPrev), Cast(step.StepCache), Cast(step.Hidden), b, h, first, count);
    }

    /// <inheritdoc/>
    internal override void BackwardUnitsPointwise(in CellStep<T> step, int first, int end)
        => GruKernels.Backward<T>(step.Gates, step.RecurrentGradient, step.StepCache, step.HiddenPrev, default, default, step.DHidden, step.DHiddenPrev,
            step.BatchSize, HiddenSize, resetAfter: true, first, end - first);

    /// <inheritdoc/>
    internal override void BackwardUnitsProduct(in CellStep<T> step, int first, int end)
        => MultiplyUnitsByRecurrentWeights(step.RecurrentGradient, step.DHiddenPrev, step.BatchSize, first, end, accumulate: true, step.ReverseSweep);

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth;
        ReadOnlySpan<T> w = WeightHH.Values;
        if (ResetAfterRecurrence)
        {
            GruKernels.Backward<T>(step.Gates, step.RecurrentGradient, step.StepCache, step.HiddenPrev, default, default, step.DHidden, step.DHiddenPrev, b, h, resetAfter: true);

            // dh(t-1) += (dRecurrent·W_hh) ⊙ m, on the packed W_hh.
            if (step.RecurrentMask.IsEmpty)
            {
                MultiplyByRecurrentWeights(step.RecurrentGradient, step.DHiddenPrev, b, accumulate: true, step.ReverseSweep, step.Guest);
            }
            else
            {
                Span<T> product = step.Scratch[..(b * h)];
                MultiplyByRecurrentWeights(step.RecurrentGradient, product, b, accumulate: false, step.ReverseSweep, step.Guest);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd<T>(product, step.RecurrentMask, step.DHiddenPrev, step.DHiddenPrev);
            }
        }
        else
        {
            // d(r ⊙ h) = da_n · W_hn, where da_n = dh ⊙ (1 - z) ⊙ (1 - n²) is needed first.
            Span<T> dRh = step.Scratch[..(b * h)];
            Span<T> dan = step.Scratch.Slice(b * h, b * h);
            for (int r = 0; r < b; r++)
            {
                ReadOnlySpan<T> z = step.Gates.Slice(r * gw + h, h), n = step.Gates.Slice(r * gw + 2 * h, h);
                Span<T> d = dan.Slice(r * h, h);
                System.Numerics.Tensors.TensorPrimitives.Multiply(n, n, d);
                System.Numerics.Tensors.TensorPrimitives.Negate<T>(d, d);
                System.Numerics.Tensors.TensorPrimitives.Add<T>(d, T.One, d);                  // 1 - n²
                System.Numerics.Tensors.TensorPrimitives.Multiply(z, step.DHidden.Slice(r * h, h), dRh.Slice(r * h, h)); // z·dh (temporary)
                System.Numerics.Tensors.TensorPrimitives.Subtract(step.DHidden.Slice(r * h, h), dRh.Slice(r * h, h), dRh.Slice(r * h, h)); // (1 - z)·dh
                System.Numerics.Tensors.TensorPrimitives.Multiply<T>(d, dRh.Slice(r * h, h), d);
            }

            Gemm.Compute(false, false, b, h, h, dan, h, w[(2 * h * h)..], h, dRh, h, accumulate: false);
            GruKernels.Backward<T>(step.Gates, default, dRh, step.HiddenPrev, step.RecurrentInput, step.RecurrentMask, step.DHidden, step.DHiddenPrev, b, h, resetAfter: false);

            // dh(t-1) += ([da_r, da_z]·W_hh[r, z]) ⊙ m.
            AddThroughRecurrentMask(step, false, false, 2 * h, step.Gates, gw, w, h, step.Scratch);
        }
    }

    /// <inheritdoc/>
    public override void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> stepCache, int rows)
    {
        if (ResetAfterRecurrence)
        {
            base.AccumulateRecurrentGradients(recurrentGradient, hiddenPrev, stepCache, rows);
            return;
        }

        int h = HiddenSize, gw = GateWidth;
        Span<T> dW = WeightHH.Gradients;

        // r and z blocks see h(t-1); the n block sees r ⊙ h(t-1).
        Gemm.Compute(true, false, 2 * h, h, rows, recurrentGradient, gw, hiddenPrev, h, dW, h, accumulate: true);
        Gemm.Compute(true, false, h, h, rows, recurrentGradient[(2 * h)..], gw, stepCache, h, dW[(2 * h * h)..], h, accumulate: true);
        if (BiasHH is not null)
        {
            Elementwise.AddColumnSums(recurrentGradient, rows, gw, BiasHH.Gradients);
        }
    }

    private static Span<float> Cast(Span<T> values) => MemoryMarshal.Cast<T, float>(values);

    private static ReadOnlySpan<float> Cast(ReadOnlySpan<T> values) => MemoryMarshal.Cast<T, float>(values);

    // c[B, n] = b_hh[offset .. offset + n] + a[B, H]·W_hh[offset .. offset + n, :]ᵀ
    private void RecurrentProduct(ReadOnlySpan<T> a, ReadOnlySpan<T> w, int rowOffset, int n, Span<T> c, int ldc, int batch)
    {
        int h = HiddenSize;
        if (BiasHH is not null)
        {
            ReadOnlySpan<T> bias = BiasHH.Values.Slice(rowOffset, n);
            for (int r = 0; r < batch; r++)
            {
                bias.CopyTo(c.Slice(r * ldc, n));
            }
        }

        Gemm.Compute(false, true, batch, n, h, a, h, w[(rowOffset * h)..], h, c, ldc, accumulate: BiasHH is not null);
    }
}
