using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

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
    private readonly Rflo withInputLearning;
    private readonly int n, inputs;
    private readonly double tau, initialHidden;
    private readonly double[] h, u, y, err, dOut, x, target;

    /// <summary>Creates the network (arguments as for <see cref="Rflo"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">As for <see cref="Rflo"/>.</exception>
    public EchoStateNetwork(int inputSize, int hiddenSize, int outputSize, ulong seed, double learningRate = 0.01, bool trainInput = true,
        double tau = 10, double gain = 1.5, double initialHidden = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        Rflo.CheckArguments(learningRate, tau, gain, initialHidden);
        withInputLearning = new Rflo(inputSize, hiddenSize, outputSize, seed, learningRate, learnRecurrent: false, tau, gain, initialHidden);
        TrainInput = trainInput;
        n = hiddenSize;
        inputs = inputSize;
        this.tau = tau;
        this.initialHidden = initialHidden;
        h = new double[n];
        u = new double[n];
        y = new double[outputSize];
        err = new double[outputSize];
        dOut = new double[outputSize * n];
        x = new double[inputSize];
        target = new double[outputSize];
    }

    /// <inheritdoc/>
    public string Name => "ESN";

    /// <summary>Whether W_in learns too (the authors' protocol).</summary>
    public bool TrainInput { get; }

    /// <summary>The fixed reservoir W_rec [N, N].</summary>
    public double[] WeightRec => withInputLearning.WeightRec;

    /// <summary>The read-out W_out [n_y, N].</summary>
    public double[] WeightOut => withInputLearning.WeightOut;

    /// <inheritdoc/>
    public EpisodeResult TrainSequence(Tensor<double> sequence)
    {
        if (TrainInput)
        {
            return withInputLearning.TrainSequence(sequence);
        }

        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Rank != 2 || sequence.Size(0) < 2 || sequence.Size(1) != inputs || y.Length != inputs)
        {
            throw new ArgumentException($"sequence has shape {Tensor<double>.FormatShape(sequence.Shape)} but [length ≥ 2, {inputs}] with inputSize = outputSize is expected.", nameof(sequence));
        }

        int length = sequence.Size(0);
        Array.Fill(h, initialHidden);
        Array.Clear(dOut);
        double loss = 0;
        int correct = 0;
        for (int t = 1; t < length; t++)
        {
            sequence.Data.AsSpan((t - 1) * inputs, inputs).CopyTo(x);
            sequence.Data.AsSpan(t * inputs, inputs).CopyTo(target);
            R2N2Kernels.MatVec(withInputLearning.WeightRec, h, 1, u, accumulate: false);
            R2N2Kernels.MatVec(withInputLearning.WeightIn, x, 1, u, accumulate: true);
            VectorMath.Tanh<double>(u, u);
            TP.Subtract(u, h, u);
            TP.MultiplyAdd(u, 1 / tau, h, h);
            R2N2Kernels.MatVec(WeightOut, h, 1, y, accumulate: false);
            TP.Subtract(target, y, err);
            loss += 0.5 * Reductions.Dot(err, err);
            if (TP.IndexOfMax<double>(y) == TP.IndexOfMax<double>(target))
            {
                correct++;
            }

            R2N2Kernels.OuterAdd(err, h, 1, dOut);
        }

        TP.MultiplyAdd(dOut, withInputLearning.LearningRate / length, WeightOut, WeightOut);
        return new EpisodeResult(loss, length - 1, correct, 0);
    }
}
