namespace RecurrentNets.R2N2;

/// <summary>How the error network sends errors back (Cheng and Brown 2025, §3.5 of the spec).</summary>
public enum FeedbackMode
{
    /// <summary>Fixed random matrices B_out, B_AB, B_BA (feedback alignment, Lillicrap et al. 2016): FA-BPTT.</summary>
    FeedbackAlignment,

    /// <summary>The transposed forward weights W_outᵀ, W_ABᵀ, W_BAᵀ: with <see cref="ErrorCarry.Exact"/>, exact BPTT.</summary>
    Transposed,
}

/// <summary>What the error network carries from one reverse step to the earlier one.</summary>
public enum ErrorCarry
{
    /// <summary>
    /// The BPTT recursion: g_A ← c·δa, g_B ← c·δb + d·(B_BA·δa) ⊙ tanh'(b_{k-1}). With <see cref="FeedbackMode.Transposed"/>
    /// the weight changes are exactly the gradient of the loss.
    /// </summary>
    Exact,

    /// <summary>
    /// The authors' released code (CogControlLab/R2N2, commit e25b9e6): g_A ← δa, g_B ← δb, i.e. the error is carried
    /// undecayed and without the B→A→B cross term. Even with transposed feedback this is not the gradient
    /// (relative error ≈ 0.7–1.2 on W_AB, W_BA, W_in; cosine ≈ 0.98).
    /// </summary>
    ReferenceCode,
}

/// <summary>Where the reverse weights V_AB, V_BA of the backward run come from.</summary>
public enum ReverseWeightMode
{
    /// <summary>V = −W, set right before every reverse sweep (the authors' training scripts): exact reversal.</summary>
    NegatedForward,

    /// <summary>
    /// Fitted by least squares (MathNet QR, with a discarded intercept) so that V·rate ≈ −(recurrent current), from the
    /// forward activity of the episode's own forward replay (the authors' reverse-replay demo). Needs at least n + 1
    /// forward steps per episode.
    /// </summary>
    LeastSquares,

    /// <summary>Learned online during forward steps by the local LMS rule ΔV = η·(−I_rec − V·r)·rᵀ (the spec's suggested default).</summary>
    Lms,
}

/// <summary>What a reverse sweep does when the reconstructed initial state misses the true one by more than the tolerance.</summary>
public enum ReversalPolicy
{
    /// <summary>Throw <see cref="ReversalPrecisionException"/> before any weight is changed.</summary>
    Throw,

    /// <summary>Apply the update (an error above R2N2Options.ReconstructionLimit still throws), count the episode in <see cref="R2N2Consolidator.ReversalWarnings"/> and raise
    /// <see cref="R2N2Consolidator.ReversalWarning"/>.</summary>
    Warn,
}

/// <summary>The optimiser that applies the accumulated delta-rule changes.</summary>
public enum R2N2Optimizer
{
    /// <summary>Adam with the numpy-ml defaults of the authors' code (β1 0.9, β2 0.999, ε 1e-7).</summary>
    Adam,

    /// <summary>Plain SGD: W ← W − lr·ΔW (the course's delta rule).</summary>
    Sgd,
}

/// <summary>The configuration of an <see cref="R2N2Consolidator"/>; defaults are the authors' (spec §3.7).</summary>
public sealed record R2N2Options
{
    /// <summary>n, the units of each group A and B (the code's <c>n_hidden</c>; the network has 2n units).</summary>
    public int GroupSize { get; init; } = 32;

    /// <summary>n_x, the features of an input item.</summary>
    public required int InputSize { get; init; }

    /// <summary>n_y, the outputs (read from group B).</summary>
    public required int OutputSize { get; init; }

    /// <summary>τ, the time constant of both groups (c = 1 − 1/τ, d = 1/τ).</summary>
    public double Tau { get; init; } = 10;

    /// <summary>g_f: W_AB, W_BA ~ N(0, (g_f/√n)²).</summary>
    public double ForwardGain { get; init; } = 1.5;

    /// <summary>g_b: the feedback-alignment matrices ~ N(0, (g_b/√fan-in)²).</summary>
    public double BackwardGain { get; init; } = 1.0;

    /// <summary>The standard deviation scale of W_in ~ N(0, (s/√n)²) and W_out ~ N(0, (s/√n_y)²).</summary>
    public double InputOutputScale { get; init; } = 0.1;

    /// <summary>Feedback alignment (default) or transposed weights.</summary>
    public FeedbackMode Feedback { get; init; } = FeedbackMode.FeedbackAlignment;

    /// <summary>The error-carry rule (default <see cref="ErrorCarry.Exact"/>).</summary>
    public ErrorCarry Carry { get; init; } = ErrorCarry.Exact;

    /// <summary>Where V comes from (default −W).</summary>
    public ReverseWeightMode ReverseWeights { get; init; } = ReverseWeightMode.NegatedForward;

    /// <summary>η of the LMS rule for <see cref="ReverseWeightMode.Lms"/>.</summary>
    public double LmsRate { get; init; } = 0.05;

    /// <summary>Adam (default) or SGD.</summary>
    public R2N2Optimizer Optimizer { get; init; } = R2N2Optimizer.Adam;

    /// <summary>The learning rate (1e-3 for AnBn and the T-maze, 5e-3 for memorising one sequence).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Each initial-state unit is clip(N(0, 3²), ±m): almost always ±m with a random sign. Default 0.2.</summary>
    public double InitialStateMagnitude { get; init; } = 0.2;

    /// <summary>The |ŝ₀ − s₀| after a reverse sweep beyond which <see cref="ReversalPolicy"/> applies (default 1e-6, reached
    /// after ≈ 10·τ steps in double).</summary>
    public double ReconstructionTolerance { get; init; } = 1e-6;

    /// <summary>What happens beyond the tolerance (default: warn).</summary>
    public ReversalPolicy ReversalPolicy { get; init; } = ReversalPolicy.Warn;

    /// <summary>The |ŝ₀ − s₀| beyond which an episode is always refused, whatever the policy (default 1e-3: the reconstructed
    /// activity, and with it the weight changes, are then wrong).</summary>
    public double ReconstructionLimit { get; init; } = 1e-3;

    /// <summary>A prediction counts as correct when argmax over the first K outputs matches the target's (0 = all outputs;
    /// 4 for the T-maze, whose first four outputs are the predicted action).</summary>
    public int ScoredOutputs { get; init; }

    /// <summary>The seed of the weights, the feedback matrices and the initial states.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Checks every option; <see cref="R2N2Consolidator"/> calls it, so a bad value fails here and not later as a
    /// <see cref="ReversalPrecisionException"/> or a NaN.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; ParamName is the option's name and the
    /// message gives its range.</exception>
    public void Validate()
    {
        AtLeastOne(GroupSize, nameof(GroupSize));
        AtLeastOne(InputSize, nameof(InputSize));
        AtLeastOne(OutputSize, nameof(OutputSize));
        if (!(Tau > 1) || !double.IsFinite(Tau))
        {
            throw new ArgumentOutOfRangeException(nameof(Tau), Tau, "Tau must be finite and above 1 (c = 1 − 1/τ must be positive for the reverse step, d = 1/τ positive for any dynamics).");
        }

        FiniteNonNegative(ForwardGain, nameof(ForwardGain));
        FiniteNonNegative(BackwardGain, nameof(BackwardGain));
        FiniteNonNegative(InputOutputScale, nameof(InputOutputScale));
        FiniteNonNegative(LmsRate, nameof(LmsRate));
        FiniteNonNegative(LearningRate, nameof(LearningRate));
        FiniteNonNegative(InitialStateMagnitude, nameof(InitialStateMagnitude));

        // +Inf is a meaningful tolerance or limit (never warn, never refuse); NaN and negative values are not.
        if (!(ReconstructionTolerance >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(ReconstructionTolerance), ReconstructionTolerance, "ReconstructionTolerance must be non-negative (+Inf never warns).");
        }

        if (!(ReconstructionLimit >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(ReconstructionLimit), ReconstructionLimit, "ReconstructionLimit must be non-negative (+Inf never refuses).");
        }

        if (ScoredOutputs < 0 || ScoredOutputs > OutputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(ScoredOutputs), ScoredOutputs, $"ScoredOutputs must be in [0, {OutputSize}] (OutputSize; 0 scores all outputs).");
        }

        Defined(Feedback, nameof(Feedback));
        Defined(Carry, nameof(Carry));
        Defined(ReverseWeights, nameof(ReverseWeights));
        Defined(Optimizer, nameof(Optimizer));
        Defined(ReversalPolicy, nameof(ReversalPolicy));
    }

    private static void AtLeastOne(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
        }
    }

    private static void FiniteNonNegative(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite and non-negative.");
        }
    }

    private static void Defined<TEnum>(TEnum value, string name)
        where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be one of {string.Join(", ", Enum.GetNames<TEnum>())}.");
        }
    }
}
