using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2.Baselines;

/// <summary>
/// A small echo state network (H. Jaeger, "The echo state approach to analysing and training recurrent neural
/// networks", GMD Report 148, 2001) as the reservoir baseline of Cheng and Brown 2025: a fixed random leaky tanh reservoir
/// and a linear read-out trained online by the delta rule. In the authors' protocol the "ESN" is their RFLO code with
/// W_rec frozen, so W_in also learns through RFLO's input traces; <see cref="TrainInput"/> (default true) reproduces that,
/// false trains the read-out only (the textbook ESN).
/// </summary>
/// <remarks>
/// <para>Same dynamics and initialisation as <see cref="Rflo"/> (N units, τ, g = 1.5, h_0 = 0.1); per sequence
/// W_out += lr·Σ_t ε_t·h_tᵀ / T. This is deliberately small; the full reservoir library lives elsewhere.</para>
/// </remarks>
public sealed class EchoStateNetwork : ISequenceLearner
{
    private readonly Rflo network;

    /// <summary>Creates the network (arguments as for <see cref="Rflo"/>).</summary>
    /// <param name="inputSize">n_x.</param>
    /// <param name="hiddenSize">N (64 in the authors' AnBn runs).</param>
    /// <param name="outputSize">n_y.</param>
    /// <param name="seed">The seed of the weights.</param>
    /// <param name="learningRate">lr (0.01).</param>
    /// <param name="trainInput">Train W_in through RFLO's input traces (the authors' protocol) or only W_out.</param>
    /// <param name="tau">τ (10).</param>
    /// <param name="gain">g of W_rec (1.5).</param>
    /// <param name="initialHidden">h_0 of every unit (0.1).</param>
    /// <param name="quirks">Which of the released code's departures to reproduce (none; see <see cref="RfloQuirks"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">As for <see cref="Rflo"/>.</exception>
    public EchoStateNetwork(int inputSize, int hiddenSize, int outputSize, ulong seed, double learningRate = 0.01, bool trainInput = true,
        double tau = 10, double gain = 1.5, double initialHidden = 0.1, RfloQuirks quirks = RfloQuirks.None)
    {
        network = new Rflo(inputSize, hiddenSize, outputSize, seed, learningRate, learnRecurrent: false, learnInput: trainInput, tau, gain, initialHidden, quirks);
        TrainInput = trainInput;
    }

    /// <inheritdoc/>
    public string Name => "ESN";

    /// <summary>Whether W_in learns too (the authors' protocol).</summary>
    public bool TrainInput { get; }

    /// <summary>The released code's departures reproduced (<see cref="RfloQuirks.None"/> by default).</summary>
    public RfloQuirks Quirks => network.Quirks;

    /// <summary>The fixed reservoir W_rec [N, N].</summary>
    public double[] WeightRec => network.WeightRec;

    /// <summary>The read-out W_out [n_y, N].</summary>
    public double[] WeightOut => network.WeightOut;

    /// <summary>The input weights W_in [N, n_x] (trained when <see cref="TrainInput"/> is true).</summary>
    public double[] WeightIn => network.WeightIn;

    /// <summary>B [N, n_y], the fixed random feedback of W_in's updates.</summary>
    public double[] Feedback => network.Feedback;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The sequence is not [L ≥ 2, n_x] or n_x ≠ n_y.</exception>
    public EpisodeResult TrainSequence(Tensor<double> sequence) => network.TrainSequence(sequence);
}
