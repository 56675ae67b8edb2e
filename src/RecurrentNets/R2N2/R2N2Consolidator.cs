using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.R2N2;

/// <summary>
/// The consolidator of R2N2 (H. Cheng and J. W. Brown, "Replay as a Basis for Backpropagation Through Time in the
/// Brain", Neural Computation 37(3):403, 2025): two groups of leaky tanh units A and B updated leap-frog, so that a step
/// can be undone in closed form and the network regenerates its own past by running backwards, with an
/// <see cref="ErrorNetwork"/> running backward in lock-step and local delta-rule updates.
/// </summary>
/// <remarks>
/// <para>n = <see cref="R2N2Options.GroupSize"/>, n_x inputs, n_y outputs, c = 1 − 1/τ, d = 1/τ; no biases.</para>
/// <code>
/// forward:  a_t = c·a_{t−1} + d·(W_BA·tanh(b_{t−1}) + W_in·x)      W_BA [n, n], W_in [n, n_x]
///           b_t = c·b_{t−1} + d·W_AB·tanh(a_t)                     W_AB [n, n]
///           y_t = W_out·tanh(b_t)                                  W_out [n_y, n]
/// reverse:  b_{t−1} = (b_t + d·V_AB·tanh(a_t)) / c
///           a_{t−1} = (a_t + d·V_BA·tanh(b_{t−1}) − d·W_in·x) / c    exact when V = −W
/// </code>
/// <para>An episode (sequence prediction, items x_0 … x_{L−1}): from s_0 (each unit ±0.2), L − 1 forward steps fed x_0 …
/// x_{L−2}; then L − 1 reverse steps k = L−1 … 1 that recompute y_k from s_k, take the error against x_k, reconstruct
/// s_{k−1} with x_{k−1}, and accumulate ΔW. The optimiser then applies ΔW / L. Only s_0 is kept (to measure the
/// reconstruction error); no activity is stored.</para>
/// <para>Parameter names in <see cref="Parameters"/>: <c>weight_ba</c>, <c>weight_ab</c>, <c>weight_in</c>, <c>weight_out</c>.
/// Not thread-safe. After the first episode an episode allocates nothing.</para>
/// </remarks>
public sealed class R2N2Consolidator
{
    private readonly double c, d;
    private readonly double[] a, b, tanhA, tanhB, drive, initialA, initialB, input, target, output, error;
    private readonly SeededRandom random;
    private readonly Optimizer<double> optimizer;
    private ReverseWeightEstimator? estimatorA, estimatorB;

    /// <summary>Builds the network and draws its weights and feedback matrices from <see cref="R2N2Options.Seed"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (<see cref="R2N2Options.Validate"/>): a size below 1,
    /// τ ≤ 1 or infinite, a NaN, infinite or negative gain or rate, ScoredOutputs above OutputSize; ParamName names the option.</exception>
    public R2N2Consolidator(R2N2Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        Options = options;
        int n = GroupSize = options.GroupSize;
        InputSize = options.InputSize;
        OutputSize = options.OutputSize;
        c = 1 - 1 / options.Tau;
        d = 1 / options.Tau;
        random = new SeededRandom(options.Seed);

        Parameters = new ParameterBlock<double>();
        WeightBA = Parameters.Add("weight_ba", n, n);
        WeightAB = Parameters.Add("weight_ab", n, n);
        WeightIn = Parameters.Add("weight_in", n, InputSize);
        WeightOut = Parameters.Add("weight_out", OutputSize, n);
        Fill(WeightAB.Values, options.ForwardGain / Math.Sqrt(n));
        Fill(WeightBA.Values, options.ForwardGain / Math.Sqrt(n));
        Fill(WeightIn.Values, options.InputOutputScale / Math.Sqrt(n));
        Fill(WeightOut.Values, options.InputOutputScale / Math.Sqrt(OutputSize));
        ErrorNetwork = new ErrorNetwork(n, OutputSize, options.Tau, options.Feedback, options.Carry, options.BackwardGain, random);

        ReverseWeightAB = new double[n * n];
        ReverseWeightBA = new double[n * n];
        ResetReverseWeights();
        a = new double[n];
        b = new double[n];
        tanhA = new double[n];
        tanhB = new double[n];
        drive = new double[Math.Max(n, OutputSize)];
        initialA = new double[n];
        initialB = new double[n];
        input = new double[InputSize];
        target = new double[OutputSize];
        output = new double[OutputSize];
        error = new double[OutputSize];
        optimizer = options.Optimizer == R2N2Optimizer.Adam
            ? new Adam<double>(Parameters, options.LearningRate, epsilon: 1e-7)
            : new Sgd<double>(Parameters, options.LearningRate);
    }

    /// <summary>The configuration.</summary>
    public R2N2Options Options { get; }

    /// <summary>n, the units of each group.</summary>
    public int GroupSize { get; }

    /// <summary>n_x.</summary>
    public int InputSize { get; }

    /// <summary>n_y.</summary>
    public int OutputSize { get; }

    /// <summary>All forward weights and their accumulated changes (ΔW, the gradient of the loss in transposed/exact mode).</summary>
    public ParameterBlock<double> Parameters { get; }

    /// <summary>W_BA [n_A, n_B]: B → A.</summary>
    public ParameterView<double> WeightBA { get; }

    /// <summary>W_AB [n_B, n_A]: A → B.</summary>
    public ParameterView<double> WeightAB { get; }

    /// <summary>W_in [n_A, n_x]: the input drives group A only.</summary>
    public ParameterView<double> WeightIn { get; }

    /// <summary>W_out [n_y, n_B]: the output is read from group B only.</summary>
    public ParameterView<double> WeightOut { get; }

    /// <summary>V_AB [n_B, n_A], the reverse weights of group B.</summary>
    public double[] ReverseWeightAB { get; }

    /// <summary>V_BA [n_A, n_B], the reverse weights of group A.</summary>
    public double[] ReverseWeightBA { get; }

    /// <summary>The error network (its feedback matrices and last deltas).</summary>
    public ErrorNetwork ErrorNetwork { get; }

    /// <summary>The optimiser that applies ΔW / L.</summary>
    public Optimizer<double> Optimizer => optimizer;

    /// <summary>The potentials a [n] of group A.</summary>
    public Span<double> StateA => a;

    /// <summary>The potentials b [n] of group B.</summary>
    public Span<double> StateB => b;

    /// <summary>tanh(a) [n], current after every step.</summary>
    public ReadOnlySpan<double> RateA => tanhA;

    /// <summary>tanh(b) [n], current after every step.</summary>
    public ReadOnlySpan<double> RateB => tanhB;

    /// <summary>Episodes whose reconstruction error exceeded the tolerance under <see cref="ReversalPolicy.Warn"/>.</summary>
    public int ReversalWarnings { get; private set; }

    /// <summary>Raised (policy <see cref="ReversalPolicy.Warn"/>) with the measured reconstruction error and the steps.</summary>
    public event Action<double, int>? ReversalWarning;

    /// <summary>Sets the state: a = <paramref name="stateA"/>, b = <paramref name="stateB"/> (each [n]).</summary>
    /// <exception cref="ArgumentException">A length differs from n.</exception>
    public void SetState(ReadOnlySpan<double> stateA, ReadOnlySpan<double> stateB)
    {
        if (stateA.Length != GroupSize || stateB.Length != GroupSize)
        {
            throw new ArgumentException($"The state has {stateA.Length} + {stateB.Length} units but the groups have {GroupSize} each (groupSize).");
        }

        stateA.CopyTo(a);
        stateB.CopyTo(b);
        VectorMath.Tanh<double>(a, tanhA);
        VectorMath.Tanh<double>(b, tanhB);
    }

    /// <summary>Draws a fresh initial state: each unit clip(N(0, 3²), ±m) with m = <see cref="R2N2Options.InitialStateMagnitude"/>.</summary>
    public void RandomizeState()
    {
        double m = Options.InitialStateMagnitude;
        for (int i = 0; i < GroupSize; i++)
        {
            a[i] = Math.Clamp(random.NextNormal(0, 3), -m, m);
        }

        for (int i = 0; i < GroupSize; i++)
        {
            b[i] = Math.Clamp(random.NextNormal(0, 3), -m, m);
        }

        VectorMath.Tanh<double>(a, tanhA);
        VectorMath.Tanh<double>(b, tanhB);
    }

    /// <summary>One forward step with input <paramref name="x"/> [n_x] (A from B and x, then B from the new A).</summary>
    /// <exception cref="ArgumentException">x has the wrong length.</exception>
    public void Forward(ReadOnlySpan<double> x)
    {
        CheckInput(x);
        int n = GroupSize;
        Span<double> current = drive.AsSpan(0, n);

        // a ← c·a + d·(W_BA·tanh(b) + W_in·x)
        R2N2Kernels.MatVec(WeightBA.Values, tanhB, 1, current, accumulate: false);
        if (Options.ReverseWeights == ReverseWeightMode.Lms)
        {
            Lms(ReverseWeightBA, current, tanhB);
        }

        estimatorA?.Add(tanhB, current);
        R2N2Kernels.MatVec(WeightIn.Values, x, 1, current, accumulate: true);
        R2N2Kernels.Leak(a, c, current, d);
        VectorMath.Tanh<double>(a, tanhA);

        // b ← c·b + d·W_AB·tanh(a)
        R2N2Kernels.MatVec(WeightAB.Values, tanhA, 1, current, accumulate: false);
        if (Options.ReverseWeights == ReverseWeightMode.Lms)
        {
            Lms(ReverseWeightAB, current, tanhA);
        }

        estimatorB?.Add(tanhA, current);
        R2N2Kernels.Leak(b, c, current, d);
        VectorMath.Tanh<double>(b, tanhB);
    }

    /// <summary>
    /// One reverse step: from s_t and the input x [n_x] that drove the forward step into s_t, reconstruct s_{t−1}
    /// with the reverse weights (b first, then a from the reconstructed b).
    /// </summary>
    /// <exception cref="ArgumentException">x has the wrong length.</exception>
    public void Reverse(ReadOnlySpan<double> x)
    {
        CheckInput(x);
        int n = GroupSize;
        Span<double> current = drive.AsSpan(0, n);
        double inverseC = 1 / c;

        // b_{t−1} = (b_t + d·V_AB·tanh(a_t)) / c
        R2N2Kernels.MatVec(ReverseWeightAB, tanhA, d, current, accumulate: false);
        TP.Add(b, current, b);
        TP.Multiply(b, inverseC, b);
        VectorMath.Tanh<double>(b, tanhB);

        // a_{t−1} = (a_t + d·V_BA·tanh(b_{t−1}) − d·W_in·x) / c
        R2N2Kernels.MatVec(ReverseWeightBA, tanhB, d, current, accumulate: false);
        R2N2Kernels.MatVec(WeightIn.Values, x, -d, current, accumulate: true);
        TP.Add(a, current, a);
        TP.Multiply(a, inverseC, a);
        VectorMath.Tanh<double>(a, tanhA);
    }

    /// <summary>y = W_out·tanh(b) [n_y] of the current state.</summary>
    /// <exception cref="ArgumentException">y has the wrong length.</exception>
    public void ComputeOutput(Span<double> y)
    {
        if (y.Length != OutputSize)
        {
            throw new ArgumentException($"y has {y.Length} elements but the network has {OutputSize} outputs (outputSize).", nameof(y));
        }

        R2N2Kernels.MatVec(WeightOut.Values, tanhB, 1, y, accumulate: false);
    }

    /// <summary>V ← −W (exact reversal). Called before every reverse sweep in <see cref="ReverseWeightMode.NegatedForward"/>.</summary>
    public void ResetReverseWeights()
    {
        TP.Negate(WeightAB.Values, ReverseWeightAB);
        TP.Negate(WeightBA.Values, ReverseWeightBA);
    }

    /// <summary>
    /// Starts recording (presynaptic rate, recurrent current) pairs of every forward step for a least-squares fit of V.
    /// </summary>
    public void BeginReverseWeightRecording()
    {
        estimatorA ??= new ReverseWeightEstimator(GroupSize);
        estimatorB ??= new ReverseWeightEstimator(GroupSize);
        estimatorA.Clear();
        estimatorB.Clear();
    }

    /// <summary>Fits V_BA and V_AB by least squares to the recorded forward steps and stops recording.</summary>
    /// <exception cref="InvalidOperationException">Recording was not started, or fewer than n + 1 steps were recorded.</exception>
    public void FitReverseWeights()
    {
        if (estimatorA is null || estimatorB is null)
        {
            throw new InvalidOperationException("Call BeginReverseWeightRecording and run forward steps before fitting the reverse weights.");
        }

        estimatorA.Fit(ReverseWeightBA);
        estimatorB.Fit(ReverseWeightAB);
        estimatorA = estimatorB = null;
    }

    /// <summary>
    /// One training episode on a stored sequence: forward replay from a fresh random state, reverse sweep with the error
    /// network and the delta rules, then one optimiser step with ΔW / L.
    /// </summary>
    /// <param name="replay">Supplies x_0 … x_{L−1} forward and then in reverse (L ≥ 2); n_x must equal n_y here.</param>
    /// <returns>The loss, the argmax-correct predictions and the reconstruction error of s_0.</returns>
    /// <exception cref="ReversalPrecisionException">The reverse sweep missed s_0 by more than
    /// <see cref="R2N2Options.ReconstructionLimit"/>, or by more than the tolerance under <see cref="ReversalPolicy.Throw"/>;
    /// no weight was changed.</exception>
    public EpisodeResult TrainEpisode(IReplaySource replay)
    {
        RandomizeState();
        Parameters.ZeroGradients();
        var result = AccumulateEpisode(replay);
        if (!(result.ReconstructionError <= Options.ReconstructionTolerance))
        {
            ReportReversal(result.ReconstructionError, replay.Length - 1);
        }

        TP.Multiply(Parameters.Gradients, 1.0 / replay.Length, Parameters.Gradients);
        optimizer.Step();
        return result;
    }

    /// <summary>
    /// Runs the forward replay from the current state and the reverse sweep, and adds the unscaled weight changes ΔW
    /// (the gradient of Σ_k ½‖y_k − x_k‖² in transposed/exact mode) to <see cref="Parameters"/>' gradients. No weight changes.
    /// </summary>
    /// <exception cref="ArgumentException">The replay's item size differs from n_x or n_y.</exception>
    public EpisodeResult AccumulateEpisode(IReplaySource replay)
    {
        ArgumentNullException.ThrowIfNull(replay);
        if (replay.ItemSize != InputSize || replay.ItemSize != OutputSize)
        {
            throw new ArgumentException($"The replay's items have {replay.ItemSize} features but sequence prediction needs inputSize = outputSize = it (here {InputSize} and {OutputSize}).", nameof(replay));
        }

        int length = replay.Length;
        if (length < 2)
        {
            throw new ArgumentException($"An episode needs at least 2 items, the replay has {length}.", nameof(replay));
        }

        a.CopyTo(initialA, 0);
        b.CopyTo(initialB, 0);

        // Forward replay: x_0 … x_{L−2} drive s_1 … s_{L−1}.
        bool fit = Options.ReverseWeights == ReverseWeightMode.LeastSquares;
        if (fit)
        {
            if (length - 1 < GroupSize + 1)
            {
                throw new InvalidOperationException($"Least-squares reverse weights need at least n + 1 = {GroupSize + 1} forward steps per episode, the episode has {length - 1}. Use NegatedForward or Lms for short episodes.");
            }

            BeginReverseWeightRecording();
        }

        replay.StartForward();
        for (int k = 1; k < length; k++)
        {
            replay.NextForward(input);
            Forward(input);
        }

        if (fit)
        {
            FitReverseWeights();
        }
        else if (Options.ReverseWeights == ReverseWeightMode.NegatedForward)
        {
            ResetReverseWeights();
        }

        // Reverse sweep, three networks in lock-step: the replay gives x_k (target) then x_{k−1} (input).
        ErrorNetwork.Reset();
        double loss = 0;
        int correct = 0;
        replay.StartReverse();
        replay.NextReverse(target);
        for (int k = length - 1; k >= 1; k--)
        {
            ComputeOutput(output);
            TP.Subtract(output, target, error);
            loss += 0.5 * Reductions.Dot(error, error);
            int scored = Options.ScoredOutputs > 0 ? Math.Min(Options.ScoredOutputs, OutputSize) : OutputSize;
            if (TP.IndexOfMax<double>(output.AsSpan(0, scored)) == TP.IndexOfMax<double>(target.AsSpan(0, scored)))
            {
                correct++;
            }

            ErrorNetwork.Begin(error, tanhA, tanhB, WeightOut.Values, WeightAB.Values, WeightOut.Gradients, WeightAB.Gradients);
            replay.NextReverse(input);
            Reverse(input);
            ErrorNetwork.End(tanhB, input, WeightBA.Values, WeightBA.Gradients, WeightIn.Gradients);
            input.CopyTo(target, 0);
        }

        double reconstruction = Math.Max(MaxAbsDifference(a, initialA), MaxAbsDifference(b, initialB));
        return new EpisodeResult(loss, length - 1, correct, reconstruction);
    }

    /// <summary>
    /// One decision-making episode (spec §3.3–3.4, the sequential-MNIST form): from the state with every unit at +m, all
    /// L items are fed forward (s_1 … s_L); softmax cross-entropy on y_L only; L reverse steps back to s_0 with the error
    /// injected at the last step; then one optimiser step with ΔW / L.
    /// </summary>
    /// <param name="replay">Supplies x_0 … x_{L−1} (n_x features each).</param>
    /// <param name="label">The class, in [0, n_y).</param>
    /// <returns>Loss −log softmax(y_L)[label], one prediction, whether argmax y_L = label, the reconstruction error.</returns>
    /// <exception cref="ReversalPrecisionException">As for <see cref="TrainEpisode"/>.</exception>
    public EpisodeResult TrainClassificationEpisode(IReplaySource replay, int label)
    {
        Array.Fill(a, Options.InitialStateMagnitude);
        Array.Fill(b, Options.InitialStateMagnitude);
        VectorMath.Tanh<double>(a, tanhA);
        VectorMath.Tanh<double>(b, tanhB);
        Parameters.ZeroGradients();
        var result = AccumulateClassificationEpisode(replay, label);
        if (!(result.ReconstructionError <= Options.ReconstructionTolerance))
        {
            ReportReversal(result.ReconstructionError, replay.Length);
        }

        TP.Multiply(Parameters.Gradients, 1.0 / replay.Length, Parameters.Gradients);
        optimizer.Step();
        return result;
    }

    /// <summary>
    /// The decision-making episode from the current state without the update: adds ΔW (the gradient of the cross-entropy
    /// in transposed/exact mode) to <see cref="Parameters"/>' gradients.
    /// </summary>
    /// <exception cref="ArgumentException">The item size differs from n_x, or the label is out of range.</exception>
    public EpisodeResult AccumulateClassificationEpisode(IReplaySource replay, int label)
    {
        ArgumentNullException.ThrowIfNull(replay);
        if (replay.ItemSize != InputSize)
        {
            throw new ArgumentException($"The replay's items have {replay.ItemSize} features but the network expects {InputSize} (inputSize).", nameof(replay));
        }

        if ((uint)label >= (uint)OutputSize)
        {
            throw new ArgumentException($"label {label} is outside [0, {OutputSize}) (outputSize).", nameof(label));
        }

        int length = replay.Length;
        a.CopyTo(initialA, 0);
        b.CopyTo(initialB, 0);
        replay.StartForward();
        for (int k = 1; k <= length; k++)
        {
            replay.NextForward(input);
            Forward(input);
        }

        if (Options.ReverseWeights == ReverseWeightMode.NegatedForward)
        {
            ResetReverseWeights();
        }

        // e = softmax(y_L) − onehot(label), at the last step only.
        ComputeOutput(output);
        double max = TP.Max<double>(output);
        TP.Subtract(output, max, error);
        VectorMath.Exp<double>(error, error);
        double sum = Reductions.Sum<double>(error);
        TP.Divide(error, sum, error);
        double loss = -ScalarMath.Log(Math.Max(error[label], double.Epsilon));
        bool correct = TP.IndexOfMax<double>(output) == label;
        error[label] -= 1;

        ErrorNetwork.Reset();
        replay.StartReverse();
        for (int k = length; k >= 1; k--)
        {
            ErrorNetwork.Begin(error, tanhA, tanhB, WeightOut.Values, WeightAB.Values, WeightOut.Gradients, WeightAB.Gradients);
            replay.NextReverse(input);
            Reverse(input);
            ErrorNetwork.End(tanhB, input, WeightBA.Values, WeightBA.Gradients, WeightIn.Gradients);
            Array.Clear(error);
        }

        double reconstruction = Math.Max(MaxAbsDifference(a, initialA), MaxAbsDifference(b, initialB));
        return new EpisodeResult(loss, 1, correct ? 1 : 0, reconstruction);
    }

    /// <summary>Runs the network forward over <paramref name="inputs"/> [T, n_x] from the current state, writing y [T, n_y].</summary>
    /// <exception cref="ArgumentException">The spans do not hold whole steps of the same count.</exception>
    public void Run(ReadOnlySpan<double> inputs, Span<double> outputs)
    {
        int steps = inputs.Length / InputSize;
        if (inputs.Length != steps * InputSize || outputs.Length != steps * OutputSize)
        {
            throw new ArgumentException($"inputs has {inputs.Length} values and outputs {outputs.Length}: they must be [T, {InputSize}] and [T, {OutputSize}].");
        }

        for (int t = 0; t < steps; t++)
        {
            Forward(inputs.Slice(t * InputSize, InputSize));
            ComputeOutput(outputs.Slice(t * OutputSize, OutputSize));
        }
    }

    private void ReportReversal(double measured, int steps)
    {
        if (Options.ReversalPolicy == ReversalPolicy.Throw || !(measured <= Options.ReconstructionLimit))
        {
            // The message is built only when thrown: the warning path stays allocation-free.
            throw new ReversalPrecisionException(
                $"The reverse sweep of {steps} steps reconstructed s_0 with max error {measured:G3}, above the tolerance {Options.ReconstructionTolerance:G3}"
                + (measured <= Options.ReconstructionLimit ? string.Empty : $" and the limit {Options.ReconstructionLimit:G3}")
                + $": reversal amplifies rounding error ≈ 1.2–1.3× per step at τ = 10, so keep episodes within ≈ 10·τ = {10 * Options.Tau:G4} steps, use exact reverse weights (V = −W) and double precision.",
                measured, steps);
        }

        ReversalWarnings++;
        ReversalWarning?.Invoke(measured, steps);
    }

    private void Lms(double[] reverse, ReadOnlySpan<double> current, ReadOnlySpan<double> rate)
    {
        // Normalised LMS, ΔV = (η/‖r‖²)·(−I − V·r)·rᵀ: V learns to cancel the unit's own forward recurrent drive.
        int n = GroupSize;
        double eta = Options.LmsRate / Math.Max(Reductions.Dot(rate, rate), 1e-12);
        for (int i = 0; i < n; i++)
        {
            double prediction = Reductions.Dot(reverse.AsSpan(i * n, n), rate);
            double r = -current[i] - prediction;
            TP.MultiplyAdd(rate, eta * r, reverse.AsSpan(i * n, n), reverse.AsSpan(i * n, n));
        }
    }

    private void CheckInput(ReadOnlySpan<double> x)
    {
        if (x.Length != InputSize)
        {
            throw new ArgumentException($"x has {x.Length} features but the network expects {InputSize} (inputSize).", nameof(x));
        }
    }

    private void Fill(Span<double> values, double std)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = random.NextNormal(0, std);
        }
    }

    private static double MaxAbsDifference(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double max = 0;
        for (int i = 0; i < x.Length; i++)
        {
            max = Math.Max(max, Math.Abs(x[i] - y[i]));
        }

        return max;
    }
}
