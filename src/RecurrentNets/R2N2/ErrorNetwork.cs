using RecurrentNets.Init;
using RecurrentNets.Kernels;

namespace RecurrentNets.R2N2;

/// <summary>
/// The third network of R2N2 (Cheng and Brown 2025): it runs backward in lock-step with the reverse sweep and carries
/// the output error back in time, through fixed random matrices (feedback alignment, Lillicrap et al. 2016) or the
/// transposed forward weights, and forms the local delta-rule weight changes.
/// </summary>
/// <remarks>
/// <para>n = group size, n_x = inputs, n_y = outputs; c = 1 − 1/τ, d = 1/τ. At reverse step k, with
/// e_k = y_k − x_k [n_y]:</para>
/// <code>
/// δb = g_B + (B_out·e) ⊙ tanh'(b_k)                 ΔW_out += e·tanh(b_k)ᵀ
/// δa = g_A + d·(B_AB·δb) ⊙ tanh'(a_k)              ΔW_AB  += d·δb·tanh(a_k)ᵀ
///                                                   ΔW_BA  += d·δa·tanh(b_{k−1})ᵀ,  ΔW_in += d·δa·x_{k−1}ᵀ
/// Exact:         g_A ← c·δa,  g_B ← c·δb + d·(B_BA·δa) ⊙ tanh'(b_{k−1})
/// ReferenceCode: g_A ← δa,    g_B ← δb
/// </code>
/// <para>B_out [n, n_y], B_AB [n, n], B_BA [n, n] (FA: N(0, g_b²/fan-in)); transposed mode uses W_outᵀ, W_ABᵀ, W_BAᵀ.
/// tanh' = 1 − tanh² exactly (the released code's soft clip 1/cosh²(10·tanh(x/10)) is not the derivative, and would
/// break the exactness of transposed mode).</para>
/// </remarks>
public sealed class ErrorNetwork
{
    private readonly int n, outputs;
    private readonly double c, d;
    private readonly double[] carryA, carryB, deltaA, deltaB;

    /// <summary>Creates the error network; FA matrices are drawn from <paramref name="random"/> and fixed for life.</summary>
    public ErrorNetwork(int groupSize, int outputSize, double tau, FeedbackMode mode, ErrorCarry carry, double backwardGain, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        n = groupSize;
        outputs = outputSize;
        c = 1 - 1 / tau;
        d = 1 / tau;
        Mode = mode;
        Carry = carry;
        carryA = new double[n];
        carryB = new double[n];
        deltaA = new double[n];
        deltaB = new double[n];
        FeedbackOut = new double[n * outputs];
        FeedbackAB = new double[n * n];
        FeedbackBA = new double[n * n];
        if (mode == FeedbackMode.FeedbackAlignment)
        {
            Fill(FeedbackOut, backwardGain / Math.Sqrt(outputs), random);
            Fill(FeedbackAB, backwardGain / Math.Sqrt(n), random);
            Fill(FeedbackBA, backwardGain / Math.Sqrt(n), random);
        }
    }

    /// <summary>Feedback alignment or transposed weights.</summary>
    public FeedbackMode Mode { get; }

    /// <summary>The carry rule.</summary>
    public ErrorCarry Carry { get; }

    /// <summary>B_out [n, n_y] (unused in transposed mode).</summary>
    public double[] FeedbackOut { get; }

    /// <summary>B_AB [n_A, n_B]: takes δb to group A (unused in transposed mode).</summary>
    public double[] FeedbackAB { get; }

    /// <summary>B_BA [n_B, n_A]: takes δa to group B (unused in transposed mode).</summary>
    public double[] FeedbackBA { get; }

    /// <summary>δa of the last step [n].</summary>
    public ReadOnlySpan<double> DeltaA => deltaA;

    /// <summary>δb of the last step [n].</summary>
    public ReadOnlySpan<double> DeltaB => deltaB;

    /// <summary>Clears the carried errors g_A, g_B (before a reverse sweep).</summary>
    public void Reset()
    {
        Array.Clear(carryA);
        Array.Clear(carryB);
    }

    /// <summary>
    /// First half of reverse step k, before the consolidator reverses: δb, δa, ΔW_out and ΔW_AB.
    /// </summary>
    internal void Begin(ReadOnlySpan<double> error, ReadOnlySpan<double> tanhA, ReadOnlySpan<double> tanhB,
        ReadOnlySpan<double> weightOut, ReadOnlySpan<double> weightAB,
        Span<double> dWeightOut, Span<double> dWeightAB)
    {
        // δb = g_B + (B_out·e) ⊙ tanh'(b_k)
        if (Mode == FeedbackMode.Transposed)
        {
            Array.Clear(deltaB);
            R2N2Kernels.MatTransposeVecAdd(weightOut, error, 1, deltaB);
        }
        else
        {
            R2N2Kernels.MatVec(FeedbackOut, error, 1, deltaB, accumulate: false);
        }

        R2N2Kernels.MultiplyTanhDerivative(tanhB, deltaB);
        System.Numerics.Tensors.TensorPrimitives.Add(deltaB, carryB, deltaB);

        // δa = g_A + d·(B_AB·δb) ⊙ tanh'(a_k)
        if (Mode == FeedbackMode.Transposed)
        {
            Array.Clear(deltaA);
            R2N2Kernels.MatTransposeVecAdd(weightAB, deltaB, d, deltaA);
        }
        else
        {
            R2N2Kernels.MatVec(FeedbackAB, deltaB, d, deltaA, accumulate: false);
        }

        R2N2Kernels.MultiplyTanhDerivative(tanhA, deltaA);
        System.Numerics.Tensors.TensorPrimitives.Add(deltaA, carryA, deltaA);

        R2N2Kernels.OuterAdd(error, tanhB, 1, dWeightOut);
        R2N2Kernels.OuterAdd(deltaB, tanhA, d, dWeightAB);
    }

    /// <summary>Second half of reverse step k, once s_{k−1} is reconstructed: ΔW_BA, ΔW_in and the carry.</summary>
    internal void End(ReadOnlySpan<double> tanhBPrevious, ReadOnlySpan<double> inputPrevious, ReadOnlySpan<double> weightBA,
        Span<double> dWeightBA, Span<double> dWeightIn)
    {
        R2N2Kernels.OuterAdd(deltaA, tanhBPrevious, d, dWeightBA);
        R2N2Kernels.OuterAdd(deltaA, inputPrevious, d, dWeightIn);
        if (Carry == ErrorCarry.ReferenceCode)
        {
            deltaA.CopyTo(carryA, 0);
            deltaB.CopyTo(carryB, 0);
            return;
        }

        // g_A ← c·δa;  g_B ← c·δb + d·(B_BA·δa) ⊙ tanh'(b_{k−1})
        System.Numerics.Tensors.TensorPrimitives.Multiply(deltaA, c, carryA);
        if (Mode == FeedbackMode.Transposed)
        {
            Array.Clear(carryB);
            R2N2Kernels.MatTransposeVecAdd(weightBA, deltaA, d, carryB);
        }
        else
        {
            R2N2Kernels.MatVec(FeedbackBA, deltaA, d, carryB, accumulate: false);
        }

        R2N2Kernels.MultiplyTanhDerivative(tanhBPrevious, carryB);
        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(deltaB, c, carryB, carryB);
    }

    private static void Fill(double[] values, double std, SeededRandom random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = random.NextNormal(0, std);
        }
    }
}
