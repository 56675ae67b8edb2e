using RecurrentNets;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace TimeDelaySample;

/// <summary>
/// A sequence layer (TDNN stack or LSTM) and a linear head on every frame, o(t) = c + V h(t), trained with a softmax
/// cross-entropy on the probe frames of <see cref="LaggedMatch"/> (the other frames have no target), Adam and
/// gradient-norm clipping. Both models share this loop, so they differ only in the layer.
/// </summary>
internal abstract class FrameModel
{
    private readonly Linear<float> head;
    private readonly Adam<float> optimizer;
    private readonly double clipNorm;
    private Tensor<float> hidden = new(1, 1, 1), dHidden = new(1, 1, 1);
    private float[] logits = [], dLogits = [];

    protected FrameModel(ParameterBlock<float> parameters, int hiddenSize, SeededRandom random, double learningRate, double clipNorm)
    {
        Parameters = parameters;
        HiddenSize = hiddenSize;
        head = new Linear<float>(hiddenSize, LaggedMatch.ClassCount, random: random, parameters: parameters, name: "head");
        optimizer = new Adam<float>(parameters, learningRate);
        this.clipNorm = clipNorm;
    }

    public ParameterBlock<float> Parameters { get; }

    public int HiddenSize { get; }

    public abstract string Name { get; }

    /// <summary>Runs every product of the model (layer and head) on at most <paramref name="threads"/> threads.</summary>
    public FrameModel WithThreads(int threads)
    {
        head.MaxDegreeOfParallelism = threads;
        SetLayerThreads(threads);
        return this;
    }

    protected abstract void SetLayerThreads(int threads);

    protected abstract void LayerForward(Tensor<float> input, Tensor<float> output);

    protected abstract void LayerBackward(Tensor<float> dOutput);

    /// <summary>One Adam step on a batch; returns the mean cross-entropy over its probe frames.</summary>
    public double TrainStep(Tensor<float> input, int[] targets)
    {
        optimizer.ZeroGradients();
        int rows = Forward(input);
        double loss = CrossEntropyLoss.Compute<float>(logits.AsSpan(0, rows * 2), targets, LaggedMatch.ClassCount, dLogits.AsSpan(0, rows * 2));
        head.Backward(hidden.Data, dLogits.AsSpan(0, rows * 2), rows, dHidden.Data);
        LayerBackward(dHidden);
        GradientClipping.ClipGradientNorm(Parameters, clipNorm);
        optimizer.Step();
        return loss;
    }

    /// <summary>The fraction of probe frames whose match / mismatch is predicted.</summary>
    public double Accuracy(IReadOnlyList<(Tensor<float> Input, int[] Targets)> batches)
    {
        int correct = 0, total = 0;
        foreach (var (input, targets) in batches)
        {
            Forward(input);
            for (int r = 0; r < targets.Length; r++)
            {
                if (targets[r] >= 0)
                {
                    int predicted = logits[2 * r + 1] > logits[2 * r] ? 1 : 0;
                    correct += predicted == targets[r] ? 1 : 0;
                    total++;
                }
            }
        }

        return (double)correct / total;
    }

    private int Forward(Tensor<float> input)
    {
        int steps = input.Size(0), batch = input.Size(1), rows = steps * batch;
        if (!hidden.HasShape(steps, batch, HiddenSize))
        {
            hidden = new Tensor<float>(steps, batch, HiddenSize);
            dHidden = new Tensor<float>(steps, batch, HiddenSize);
            logits = new float[rows * 2];
            dLogits = new float[rows * 2];
        }

        LayerForward(input, hidden);
        head.Forward(hidden.Data, rows, logits);
        return rows;
    }
}

/// <summary>A causal TDNN stack (tanh) and the head.</summary>
internal sealed class TdnnModel : FrameModel
{
    private readonly TimeDelayNetwork<float> network;

    public TdnnModel(TimeDelayNetwork<float> network, SeededRandom random, double learningRate, double clipNorm)
        : base(network.Parameters, network.OutputSize, random, learningRate, clipNorm)
    {
        this.network = network;
    }

    public static TdnnModel Create(int width, int[] kernels, int[] dilations, SeededRandom random, double learningRate, double clipNorm)
    {
        var parameters = new ParameterBlock<float>();
        var network = new TimeDelayNetwork<float>(LaggedMatch.InputSize, Enumerable.Repeat(width, kernels.Length).ToArray(), kernels, dilations,
            Activation.Tanh, random: random, parameters: parameters);
        return new TdnnModel(network, random, learningRate, clipNorm);
    }

    public override string Name => "TDNN";

    public int ReceptiveField => network.ReceptiveField;

    protected override void SetLayerThreads(int threads) => network.MaxDegreeOfParallelism = threads;

    protected override void LayerForward(Tensor<float> input, Tensor<float> output) => network.Forward(input, output);

    protected override void LayerBackward(Tensor<float> dOutput) => network.Backward(dOutput);
}

/// <summary>An LSTM (with a chosen forget-gate bias) and the head.</summary>
internal sealed class LstmModel : FrameModel
{
    private readonly Lstm<float> lstm;

    private LstmModel(Lstm<float> lstm, SeededRandom random, double learningRate, double clipNorm)
        : base(lstm.Parameters, lstm.HiddenSize, random, learningRate, clipNorm)
    {
        this.lstm = lstm;
    }

    public static LstmModel Create(int hiddenSize, double forgetBias, SeededRandom random, double learningRate, double clipNorm)
    {
        var parameters = new ParameterBlock<float>();
        var lstm = new Lstm<float>(LaggedMatch.InputSize, hiddenSize, random: random, parameters: parameters, forgetBias: forgetBias);
        return new LstmModel(lstm, random, learningRate, clipNorm);
    }

    /// <summary>The parameters of an LSTM of H units with the two-class head: 4H(I + H) + 8H + 2H + 2.</summary>
    public static int ParameterCount(int hiddenSize) => 4 * hiddenSize * (LaggedMatch.InputSize + hiddenSize) + 8 * hiddenSize + 2 * hiddenSize + 2;

    public override string Name => "LSTM";

    protected override void SetLayerThreads(int threads) => lstm.MaxDegreeOfParallelism = threads;

    protected override void LayerForward(Tensor<float> input, Tensor<float> output) => lstm.Forward(input, output);

    protected override void LayerBackward(Tensor<float> dOutput) => lstm.Backward(dOutput);
}
