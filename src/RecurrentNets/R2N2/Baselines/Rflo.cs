using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.R2N2.Baselines;

/// <summary>
/// Random feedback local online learning (RFLO; J. M. Murray, "Local online learning in recurrent networks with random
/// feedback", eLife 8:e43299, 2019), the baseline of Cheng and Brown 2025, trained under the same sequence protocol.
/// </summary>
/// <remarks>
/// <para>N units, τ, fixed h_0; per step with input x and target x*:</para>
/// <code>
/// u = W_rec·h + W_in·x;  h ← h + (tanh(u) − h)/τ;  y = W_out·h;  ε = x* − y
/// P_ij ← (1 − 1/τ)·P_ij + (1/τ)·tanh'(u_i)·h_prev,j       Q_ij ← (1 − 1/τ)·Q_ij + (1/τ)·tanh'(u_i)·x_j
/// ΔW_out += ε·hᵀ;  ΔW_rec,ij += (B·ε)_i·P_ij;  ΔW_in,ij += (B·ε)_i·Q_ij
/// </code>
/// <para>After the sequence: W += lr·ΔW / T (plain SGD, lr 0.01 as in the authors' <c>exp_anbn</c>). Init: W_rec ~ N(0, g²/N),
/// g = 1.5; W_in ~ U(−0.1, 0.1); W_out ~ U(−0.1, 0.1)/√N; B ~ N(0, 1/n_y); h_0 = 0.1. The released code's quirks
/// (W_in ~ U(−0.1, 0), the first input never fed) are not reproduced. With <c>learnRecurrent = false</c> this is the
/// authors' "ESN" (see <see cref="EchoStateNetwork"/>). Allocation-free per sequence.</para>
/// </remarks>
public sealed class Rflo : ISequenceLearner
{
    private readonly int n, inputs, outputs;
    private readonly double tau, initialHidden;
    private readonly double[] h, hPrev, u, derivative, y, err, feedbackErr, traceRec, traceIn, dRec, dIn, dOut, x, target;

    /// <summary>Creates the network.</summary>
    /// <param name="inputSize">n_x.</param>
    /// <param name="hiddenSize">N (64 in the authors' AnBn runs).</param>
    /// <param name="outputSize">n_y.</param>
    /// <param name="seed">The seed of the weights.</param>
    /// <param name="learningRate">lr (0.01).</param>
    /// <param name="learnRecurrent">Train W_rec (false gives the authors' ESN).</param>
    /// <param name="tau">τ (10).</param>
    /// <param name="gain">g of W_rec (1.5).</param>
    /// <param name="initialHidden">h_0 of every unit (0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, <paramref name="tau"/> is below 1 or infinite,
    /// <paramref name="learningRate"/> or <paramref name="gain"/> is NaN, infinite or negative, or
    /// <paramref name="initialHidden"/> is NaN or infinite.</exception>
    public Rflo(int inputSize, int hiddenSize, int outputSize, ulong seed, double learningRate = 0.01, bool learnRecurrent = true,
        double tau = 10, double gain = 1.5, double initialHidden = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        CheckArguments(learningRate, tau, gain, initialHidden);
        n = hiddenSize;
        inputs = inputSize;
        outputs = outputSize;
        this.tau = tau;
        this.initialHidden = initialHidden;
        LearningRate = learningRate;
        LearnRecurrent = learnRecurrent;
        var random = new SeededRandom(seed);
        WeightRec = new double[n * n];
        WeightIn = new double[n * inputs];
        WeightOut = new double[outputs * n];
        Feedback = new double[n * outputs];
        for (int i = 0; i < WeightRec.Length; i++)
        {
            WeightRec[i] = random.NextNormal(0, gain / Math.Sqrt(n));
        }

        for (int i = 0; i < WeightIn.Length; i++)
        {
            WeightIn[i] = random.NextUniform(-0.1, 0.1);
        }

        for (int i = 0; i < WeightOut.Length; i++)
        {
            WeightOut[i] = random.NextUniform(-0.1, 0.1) / Math.Sqrt(n);
        }

        for (int i = 0; i < Feedback.Length; i++)
        {
            Feedback[i] = random.NextNormal(0, 1 / Math.Sqrt(outputs));
        }

        h = new double[n];
        hPrev = new double[n];
        u = new double[n];
        derivative = new double[n];
        y = new double[outputs];
        err = new double[outputs];
        feedbackErr = new double[n];
        traceRec = new double[n * n];
        traceIn = new double[n * inputs];
        dRec = new double[n * n];
        dIn = new double[n * inputs];
        dOut = new double[outputs * n];
        x = new double[inputs];
        target = new double[outputs];
    }

    /// <inheritdoc/>
    public string Name => LearnRecurrent ? "RFLO" : "ESN";

    /// <summary>lr.</summary>
    public double LearningRate { get; set; }

    /// <summary>Whether W_rec learns.</summary>
    public bool LearnRecurrent { get; }

    /// <summary>W_rec [N, N].</summary>
    public double[] WeightRec { get; }

    /// <summary>W_in [N, n_x].</summary>
    public double[] WeightIn { get; }

    /// <summary>W_out [n_y, N].</summary>
    public double[] WeightOut { get; }

    /// <summary>B [N, n_y], fixed random feedback.</summary>
    public double[] Feedback { get; }

    /// <summary>The hidden rates h [N] after the last step.</summary>
    public ReadOnlySpan<double> Hidden => h;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The sequence is not [L ≥ 2, n_x] or n_x ≠ n_y.</exception>
    public EpisodeResult TrainSequence(Tensor<double> sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Rank != 2 || sequence.Size(0) < 2 || sequence.Size(1) != inputs || inputs != outputs)
        {
            throw new ArgumentException($"sequence has shape {Tensor<double>.FormatShape(sequence.Shape)} but [length ≥ 2, {inputs}] with inputSize = outputSize is expected.", nameof(sequence));
        }

        int length = sequence.Size(0);
        Array.Fill(h, initialHidden);
        Array.Clear(traceRec);
        Array.Clear(traceIn);
        Array.Clear(dRec);
        Array.Clear(dIn);
        Array.Clear(dOut);
        double loss = 0, decay = 1 - 1 / tau, rate = 1 / tau;
        int correct = 0;
        for (int t = 1; t < length; t++)
        {
            sequence.Data.AsSpan((t - 1) * inputs, inputs).CopyTo(x);
            sequence.Data.AsSpan(t * inputs, inputs).CopyTo(target);
            h.CopyTo(hPrev, 0);

            // u = W_rec·h + W_in·x;  h ← h + (tanh(u) − h)/τ
            R2N2Kernels.MatVec(WeightRec, hPrev, 1, u, accumulate: false);
            R2N2Kernels.MatVec(WeightIn, x, 1, u, accumulate: true);
            VectorMath.Tanh<double>(u, derivative);
            TP.Subtract(derivative, hPrev, h);
            TP.MultiplyAdd(h, rate, hPrev, h);
            for (int i = 0; i < n; i++)
            {
                derivative[i] = 1 - derivative[i] * derivative[i];
            }

            // y, ε = x* − y
            R2N2Kernels.MatVec(WeightOut, h, 1, y, accumulate: false);
            TP.Subtract(target, y, err);
            loss += 0.5 * Reductions.Dot(err, err);
            if (TP.IndexOfMax<double>(y) == TP.IndexOfMax<double>(target))
            {
                correct++;
            }

            // Eligibility traces (the local, causal part that RFLO keeps of RTRL).
            TP.Multiply(traceRec, decay, traceRec);
            TP.Multiply(traceIn, decay, traceIn);
            R2N2Kernels.OuterAdd(derivative, hPrev, rate, traceRec);
            R2N2Kernels.OuterAdd(derivative, x, rate, traceIn);

            // ΔW from the random projection of the error.
            R2N2Kernels.MatVec(Feedback, err, 1, feedbackErr, accumulate: false);
            R2N2Kernels.OuterAdd(err, h, 1, dOut);
            for (int i = 0; i < n; i++)
            {
                if (LearnRecurrent)
                {
                    TP.MultiplyAdd(traceRec.AsSpan(i * n, n), feedbackErr[i], dRec.AsSpan(i * n, n), dRec.AsSpan(i * n, n));
                }

                TP.MultiplyAdd(traceIn.AsSpan(i * inputs, inputs), feedbackErr[i], dIn.AsSpan(i * inputs, inputs), dIn.AsSpan(i * inputs, inputs));
            }
        }

        double step = LearningRate / length;
        TP.MultiplyAdd(dOut, step, WeightOut, WeightOut);
        TP.MultiplyAdd(dIn, step, WeightIn, WeightIn);
        if (LearnRecurrent)
        {
            TP.MultiplyAdd(dRec, step, WeightRec, WeightRec);
        }

        return new EpisodeResult(loss, length - 1, correct, 0);
    }

    /// <summary>Checks the real-valued arguments shared with the ESN baseline.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; ParamName names it.</exception>
    internal static void CheckArguments(double learningRate, double tau, double gain, double initialHidden)
    {
        if (!double.IsFinite(learningRate) || learningRate < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be finite and non-negative.");
        }

        if (!(tau >= 1) || !double.IsFinite(tau))
        {
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "tau must be finite and at least 1 (the step 1/τ is at most 1).");
        }

        if (!double.IsFinite(gain) || gain < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(gain), gain, "gain must be finite and non-negative.");
        }

        if (!double.IsFinite(initialHidden))
        {
            throw new ArgumentOutOfRangeException(nameof(initialHidden), initialHidden, "initialHidden must be finite.");
        }
    }
}
