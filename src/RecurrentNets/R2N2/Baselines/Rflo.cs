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
/// (W_in ~ U[−0.1, 0], the first input never fed, a lagged input trace, …) are off by default;
/// <see cref="RfloQuirks.ReleasedCode"/> reproduces them (see <see cref="RfloQuirks"/>). With
/// <c>learnRecurrent = false</c> this is the authors' "ESN" (see <see cref="EchoStateNetwork"/>). Allocation-free per
/// sequence.</para>
/// </remarks>
public sealed class Rflo : ISequenceLearner
{
    private readonly int n, inputs, outputs;
    private readonly double tau, initialHidden;
    private readonly bool learnInput;
    private readonly double[] h, hPrev, u, derivative, y, err, feedbackErr, traceRec, traceIn, dRec, dIn, dOut, x, xPrev, target;

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
    /// <param name="quirks">Which of the released code's departures from the textbook RFLO to reproduce (none).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, <paramref name="tau"/> is below 1 or infinite,
    /// <paramref name="learningRate"/> or <paramref name="gain"/> is NaN, infinite or negative,
    /// <paramref name="initialHidden"/> is NaN or infinite, or <paramref name="quirks"/> has an undefined flag.</exception>
    public Rflo(int inputSize, int hiddenSize, int outputSize, ulong seed, double learningRate = 0.01, bool learnRecurrent = true,
        double tau = 10, double gain = 1.5, double initialHidden = 0.1, RfloQuirks quirks = RfloQuirks.None)
        : this(inputSize, hiddenSize, outputSize, seed, learningRate, learnRecurrent, learnInput: true, tau, gain, initialHidden, quirks)
    {
    }

    /// <summary>The full constructor; <paramref name="learnInput"/> = false leaves W_in fixed (the read-out-only ESN).</summary>
    internal Rflo(int inputSize, int hiddenSize, int outputSize, ulong seed, double learningRate, bool learnRecurrent, bool learnInput,
        double tau, double gain, double initialHidden, RfloQuirks quirks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        CheckArguments(learningRate, tau, gain, initialHidden, quirks);
        n = hiddenSize;
        inputs = inputSize;
        outputs = outputSize;
        this.tau = tau;
        this.initialHidden = initialHidden;
        LearningRate = learningRate;
        LearnRecurrent = learnRecurrent;
        this.learnInput = learnInput;
        Quirks = quirks;
        var random = new SeededRandom(seed);
        WeightRec = new double[n * n];
        WeightIn = new double[n * inputs];
        WeightOut = new double[outputs * n];
        Feedback = new double[n * outputs];
        for (int i = 0; i < WeightRec.Length; i++)
        {
            WeightRec[i] = random.NextNormal(0, gain / Math.Sqrt(n));
        }

        // The same draws either way, so the flag changes only the range.
        double inputHigh = (quirks & RfloQuirks.NonPositiveInputWeights) != 0 ? 0 : 0.1;
        for (int i = 0; i < WeightIn.Length; i++)
        {
            WeightIn[i] = random.NextUniform(-0.1, inputHigh);
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
        xPrev = new double[inputs];
        target = new double[outputs];
    }

    /// <inheritdoc/>
    public string Name => LearnRecurrent ? "RFLO" : "ESN";

    /// <summary>lr.</summary>
    public double LearningRate { get; set; }

    /// <summary>Whether W_rec learns.</summary>
    public bool LearnRecurrent { get; }

    /// <summary>The released code's departures reproduced (<see cref="RfloQuirks.None"/> by default).</summary>
    public RfloQuirks Quirks { get; }

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
        bool skipFirst = (Quirks & RfloQuirks.FirstInputSkipped) != 0, laggedTrace = (Quirks & RfloQuirks.LaggedInputTrace) != 0;
        bool softClip = (Quirks & RfloQuirks.SoftClippedDerivative) != 0;
        Array.Fill(h, initialHidden);
        Array.Clear(traceRec);
        Array.Clear(traceIn);
        Array.Clear(dRec);
        Array.Clear(dIn);
        Array.Clear(dOut);
        Array.Clear(xPrev);
        double loss = 0, decay = 1 - 1 / tau, rate = 1 / tau;
        int correct = 0, first = 1;
        if (skipFirst)
        {
            // The released code's y_0: never driven (0), no error fed back, but scored against s_1 and in the loss.
            first = 2;
            sequence.Data.AsSpan(inputs, inputs).CopyTo(target);
            loss += 0.5 * Reductions.Dot(target, target);
            correct += TP.IndexOfMax<double>(target) == 0 ? 1 : 0;
            sequence.Data.AsSpan(0, inputs).CopyTo(xPrev);
        }

        if (laggedTrace && learnInput)
        {
            // Q starts at (1/τ)·tanh'(0)·x_prevᵀ for every unit, x_prev the item before the first one fed.
            for (int i = 0; i < n; i++)
            {
                TP.Multiply(xPrev, rate, traceIn.AsSpan(i * inputs, inputs));
            }
        }

        for (int t = first; t < length; t++)
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
                derivative[i] = softClip ? SoftClippedDerivative(u[i]) : 1 - derivative[i] * derivative[i];
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
            if (LearnRecurrent)
            {
                TP.Multiply(traceRec, decay, traceRec);
                R2N2Kernels.OuterAdd(derivative, hPrev, rate, traceRec);
            }

            if (learnInput)
            {
                TP.Multiply(traceIn, decay, traceIn);
                R2N2Kernels.OuterAdd(derivative, laggedTrace ? xPrev : x, rate, traceIn);
            }

            x.CopyTo(xPrev, 0);

            // ΔW from the random projection of the error.
            R2N2Kernels.OuterAdd(err, h, 1, dOut);
            if (LearnRecurrent || learnInput)
            {
                R2N2Kernels.MatVec(Feedback, err, 1, feedbackErr, accumulate: false);
                for (int i = 0; i < n; i++)
                {
                    if (LearnRecurrent)
                    {
                        TP.MultiplyAdd(traceRec.AsSpan(i * n, n), feedbackErr[i], dRec.AsSpan(i * n, n), dRec.AsSpan(i * n, n));
                    }

                    if (learnInput)
                    {
                        TP.MultiplyAdd(traceIn.AsSpan(i * inputs, inputs), feedbackErr[i], dIn.AsSpan(i * inputs, inputs), dIn.AsSpan(i * inputs, inputs));
                    }
                }
            }
        }

        double step = LearningRate / ((Quirks & RfloQuirks.StepOverOutputs) != 0 ? length - 1 : length);
        TP.MultiplyAdd(dOut, step, WeightOut, WeightOut);
        if (learnInput)
        {
            TP.MultiplyAdd(dIn, step, WeightIn, WeightIn);
        }

        if (LearnRecurrent)
        {
            TP.MultiplyAdd(dRec, step, WeightRec, WeightRec);
        }

        return new EpisodeResult(loss, length - 1, correct, 0);
    }

    /// <summary>Checks the real-valued arguments shared with the ESN baseline.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; ParamName names it.</exception>
    internal static void CheckArguments(double learningRate, double tau, double gain, double initialHidden, RfloQuirks quirks)
    {
        if ((quirks & ~RfloQuirks.ReleasedCode) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(quirks), quirks, $"quirks has undefined flags; the defined ones are {RfloQuirks.ReleasedCode}.");
        }

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

    /// <summary>The released code's tanh': 1/cosh²(10·tanh(u/10)).</summary>
    private static double SoftClippedDerivative(double u)
    {
        double c = Math.Cosh(10 * Math.Tanh(u / 10));
        return 1 / (c * c);
    }
}
