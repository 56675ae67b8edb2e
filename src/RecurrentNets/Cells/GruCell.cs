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
        if (!resetAfterRecurrence)
        {
            // r and z multiply W_hh by h(t-1), n by r ⊙ h(t-1): two products.
            SplitRecurrentProduct(2, 1);
        }
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
    public override bool RowsAreIndependent => true;

    /// <inheritdoc/>
    internal override bool SplitsUnits => typeof(T) == typeof(float) && ResetAfterRecurrence;

    /// <inheritdoc/>
    public override void Forward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth;
        if (ResetAfterRecurrence)
        {
            // hp = h(t-1)·W_hhᵀ + b_hh for all three blocks (the step's units of them), in scratch [B, 3H].
            Span<T> hp = step.Scratch[..(b * gw)];
            int first = step.FirstUnit, count = step.EndUnit - first;
            BroadcastRecurrentBias(hp, b, 0, 3, first, count);
            step.Recurrent.Forward(step.RecurrentInput, hp, accumulate: BiasHH is not null);
            if (typeof(T) == typeof(float))
            {
                // One pass: σ, tanh, the new state, and W_hn h + b_hn kept for backward.
                GruKernels.ForwardResetAfter(Cast(step.Gates), Cast(hp), Cast(step.HiddenPrev), Cast(step.StepCache), Cast(step.Hidden), b, h, first, count);
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
            BroadcastRecurrentBias(hp, b, 0, 2, 0, h);
            step.Recurrent.Forward(0, step.RecurrentInput, hp, accumulate: BiasHH is not null);
            GruKernels.ResetUpdate<T>(step.Gates, hp, 2 * h, b, h);
            Span<T> rh = step.StepCache;
            for (int r = 0; r < b; r++)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(step.Gates.Slice(r * gw, h), step.RecurrentInput.Slice(r * h, h), rh.Slice(r * h, h));
            }

            Span<T> recN = step.Scratch[..(b * h)];
            BroadcastRecurrentBias(recN, b, 2, 1, 0, h);
            step.Recurrent.Forward(1, rh, recN, accumulate: BiasHH is not null);
            GruKernels.Candidate<T>(step.Gates, recN, h, multiplyByReset: false, step.HiddenPrev, step.Hidden, b, h);
        }
    }

    // Rows of c[B, gates·H] = b_hh of gate blocks [firstGate, firstGate + gates), units [first, first + count) of each.
    private void BroadcastRecurrentBias(Span<T> c, int batch, int firstGate, int gates, int first, int count)
    {
        if (BiasHH is null)
        {
            return;
        }

        int h = HiddenSize, width = gates * h;
        for (int r = 0; r < batch; r++)
        {
            for (int g = 0; g < gates; g++)
            {
                BiasHH.Values.Slice((firstGate + g) * h + first, count).CopyTo(c.Slice(r * width + g * h + first, count));
            }
        }
    }

    /// <inheritdoc/>
    internal override void BackwardUnitsPointwise(in CellStep<T> step, int first, int end)
        => GruKernels.Backward<T>(step.Gates, step.RecurrentGradient, step.StepCache, step.HiddenPrev, default, default, step.DHidden, step.DHiddenPrev,
            step.BatchSize, HiddenSize, resetAfter: true, first, end - first);

    /// <inheritdoc/>
    internal override void BackwardUnitsProduct(in CellStep<T> step) => step.Recurrent.Backward(step.RecurrentGradient, step.DHiddenPrev, accumulate: true);

    /// <inheritdoc/>
    public override void Backward(in CellStep<T> step)
    {
        int b = step.BatchSize, h = HiddenSize, gw = GateWidth;
        if (ResetAfterRecurrence)
        {
            GruKernels.Backward<T>(step.Gates, step.RecurrentGradient, step.StepCache, step.HiddenPrev, default, default, step.DHidden, step.DHiddenPrev, b, h, resetAfter: true);

            // dh(t-1) += (dRecurrent·W_hh) ⊙ m.
            AddRecurrentGradient(step, 0, step.RecurrentGradient, gw, step.Scratch);
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

            step.Recurrent.Backward(1, dan, h, dRh, accumulate: false);
            GruKernels.Backward<T>(step.Gates, default, dRh, step.HiddenPrev, step.RecurrentInput, step.RecurrentMask, step.DHidden, step.DHiddenPrev, b, h, resetAfter: false);

            // dh(t-1) += ([da_r, da_z]·W_hh[r, z]) ⊙ m.
            AddRecurrentGradient(step, 0, step.Gates, gw, step.Scratch);
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
        Span<T> dW = WeightHH!.Gradients;

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
}
