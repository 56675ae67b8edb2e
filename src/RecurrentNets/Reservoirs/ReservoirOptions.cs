namespace RecurrentNets.Reservoirs;

/// <summary>
/// Hyperparameters of a leaky echo-state reservoir (Jaeger 2001; Jaeger, Lukoševičius, Popovici &amp; Siewert 2007):
/// x(t+1) = (1 - a)·x(t) + g·f(W·x(t) + Win·u(t+1) + Wfb·y(t) + b), with g = a unless <see cref="ActivationGain"/> is set.
/// </summary>
/// <remarks>Checked by <see cref="Validate"/>, which every factory calls; each failure names the property.</remarks>
public sealed class ReservoirOptions
{
    /// <summary>Number of reservoir units N.</summary>
    public int Units { get; init; } = 100;

    /// <summary>Number of inputs (the dimension of u).</summary>
    public int Inputs { get; init; } = 1;

    /// <summary>Number of outputs fed back through Wfb (0: no output feedback).</summary>
    public int FeedbackSize { get; init; }

    /// <summary>Target spectral radius ρ(W) &gt; 0; null keeps W as drawn (or as given by <see cref="Recurrent"/>).</summary>
    public double? SpectralRadius { get; init; } = 1.0;

    /// <summary>How ρ(W) is computed for the rescaling.</summary>
    public SpectralRadiusMethod SpectralRadiusMethod { get; init; } = SpectralRadiusMethod.Auto;

    /// <summary>Leak rate a in (0, 1] (1: no leak).</summary>
    public double LeakRate { get; init; } = 1.0;

    /// <summary>
    /// The weight g of f(·) in the update; null means g = a (the leaky ESN). Jaeger's 2001 Mackey-Glass network uses
    /// x(n+1) = (1 - C·a)·x(n) + C·f(·): leak rate C·a and gain C.
    /// </summary>
    public double? ActivationGain { get; init; }

    /// <summary>Scaling of Win, one value for all inputs; finite and ≥ 0.</summary>
    public double InputScaling { get; init; } = 1.0;

    /// <summary>Per-input scaling of Win's columns [Inputs], each finite and ≥ 0; overrides <see cref="InputScaling"/> when set.</summary>
    public IReadOnlyList<double>? InputScalings { get; init; }

    /// <summary>Fraction of present input weights, in (0, 1].</summary>
    public double InputConnectivity { get; init; } = 1.0;

    /// <summary>Distribution of the input weights (±1 by default, as ReservoirPy).</summary>
    public WeightDistribution InputDistribution { get; init; } = WeightDistribution.Bernoulli;

    /// <summary>Bias b drawn uniformly from [-BiasScaling, BiasScaling] (0: no bias).</summary>
    public double BiasScaling { get; init; }

    /// <summary>Fraction of present recurrent weights, in (0, 1]; ignored when <see cref="Degree"/> is set.</summary>
    public double Connectivity { get; init; } = 0.1;

    /// <summary>Exact number of recurrent weights per unit (fixed in-degree), or null for <see cref="Connectivity"/>.</summary>
    public int? Degree { get; init; }

    /// <summary>Distribution of the recurrent weights (normal by default, as ReservoirPy).</summary>
    public WeightDistribution RecurrentDistribution { get; init; } = WeightDistribution.Normal;

    /// <summary>Scaling of the feedback weights Wfb; finite and ≥ 0.</summary>
    public double FeedbackScaling { get; init; } = 1.0;

    /// <summary>Fraction of present feedback weights, in (0, 1].</summary>
    public double FeedbackConnectivity { get; init; } = 1.0;

    /// <summary>Distribution of the feedback weights (uniform on [-1, 1) by default).</summary>
    public WeightDistribution FeedbackDistribution { get; init; } = WeightDistribution.Uniform;

    /// <summary>The activation f (tanh by default).</summary>
    public Activation Activation { get; init; } = Activation.Tanh;

    /// <summary>Seed of every random draw: the same seed gives bit-identical weights.</summary>
    public ulong Seed { get; init; }

    /// <summary>A custom initializer for W (your own topology); it is still rescaled to <see cref="SpectralRadius"/>.</summary>
    public IMatrixInitializer? Recurrent { get; init; }

    /// <summary>A custom initializer for Win [Units, Inputs] (then not rescaled by the input scaling).</summary>
    public IMatrixInitializer? Input { get; init; }

    /// <summary>A custom initializer for Wfb [Units, FeedbackSize] (then not rescaled by the feedback scaling).</summary>
    public IMatrixInitializer? Feedback { get; init; }

    /// <summary>
    /// The most threads <see cref="Reservoir{T}.Create"/> (the spectral radius) and then the reservoir's steps
    /// (<see cref="Reservoir{T}.MaxDegreeOfParallelism"/>) may use, the calling thread included; null (the default) takes
    /// the limit of the caller, else the number of processors. The weights and states are bit-identical for every value.
    /// PyTorch's <c>torch.set_num_threads</c> sets one limit for the process; this one is the object's, as ONNX Runtime's
    /// <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Units < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Units), Units, "a reservoir needs at least one unit");
        }

        if (Inputs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Inputs), Inputs, "the number of inputs cannot be negative");
        }

        if (FeedbackSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(FeedbackSize), FeedbackSize, "the feedback size cannot be negative");
        }

        if (SpectralRadius is double rho && !(rho > 0 && double.IsFinite(rho)))
        {
            throw new ArgumentOutOfRangeException(nameof(SpectralRadius), rho, "the spectral radius must be positive and finite");
        }

        if (!(LeakRate > 0 && LeakRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(LeakRate), LeakRate, "the leak rate must be in (0, 1]");
        }

        if (ActivationGain is double g && !double.IsFinite(g))
        {
            throw new ArgumentOutOfRangeException(nameof(ActivationGain), g, "the activation gain must be finite");
        }

        CheckConnectivity(Connectivity, nameof(Connectivity));
        CheckConnectivity(InputConnectivity, nameof(InputConnectivity));
        CheckConnectivity(FeedbackConnectivity, nameof(FeedbackConnectivity));
        if (Degree is int k && (k < 1 || k > Units))
        {
            throw new ArgumentOutOfRangeException(nameof(Degree), k, $"the degree must be in [1, {Units}] (Units)");
        }

        if (InputScalings is not null && InputScalings.Count != Inputs)
        {
            throw new ArgumentOutOfRangeException(nameof(InputScalings), InputScalings.Count,
                $"InputScalings has {InputScalings.Count} values but there are {Inputs} inputs (Inputs)");
        }

        if (!double.IsFinite(BiasScaling) || BiasScaling < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BiasScaling), BiasScaling, "the bias scaling must be finite and non-negative");
        }

        CheckScaling(InputScaling, nameof(InputScaling));
        CheckScaling(FeedbackScaling, nameof(FeedbackScaling));
        if (InputScalings is not null)
        {
            for (int i = 0; i < InputScalings.Count; i++)
            {
                if (!double.IsFinite(InputScalings[i]) || InputScalings[i] < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(InputScalings), InputScalings[i],
                        $"InputScalings[{i}] is {InputScalings[i]}; every input scaling must be finite and non-negative");
                }
            }
        }

        CheckDefined(SpectralRadiusMethod, nameof(SpectralRadiusMethod));
        CheckDefined(InputDistribution, nameof(InputDistribution));
        CheckDefined(RecurrentDistribution, nameof(RecurrentDistribution));
        CheckDefined(FeedbackDistribution, nameof(FeedbackDistribution));
        CheckDefined(Activation, nameof(Activation));
        Kernels.KernelScope.Validate(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism));
    }

    private static void CheckScaling(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite and non-negative (the sign of a weight is the distribution's)");
        }
    }

    private static void CheckDefined<TEnum>(TEnum value, string name)
        where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be one of {string.Join(", ", Enum.GetNames<TEnum>())}");
        }
    }

    private static void CheckConnectivity(double value, string name)
    {
        if (!(value > 0 && value <= 1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in (0, 1]");
        }
    }
}
