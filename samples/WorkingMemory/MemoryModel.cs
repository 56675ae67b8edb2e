using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Samples;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace WorkingMemorySample;

/// <summary>
/// A recurrent layer over the task's input channels and a linear head o = c + V h(t) with k outputs at every step,
/// trained with a softmax cross-entropy that counts only the response steps (targets -1 elsewhere), Adam and
/// gradient-norm clipping. The layer and the head share one parameter block.
/// </summary>
internal sealed class MemoryModel
{
    private readonly RecurrentLayer<float> rnn;
    private readonly Linear<float> head;
    private readonly Adam<float> optimizer;
    private readonly double clipNorm;
    private readonly int classes;
    private Tensor<float> dOutput = new(1, 1, 1);
    private float[] logits = [], dLogits = [];

    public MemoryModel(CellKind kind, int inputSize, int hiddenSize, int classes, SeededRandom random, double learningRate,
        double clipNorm, double forgetBias)
    {
        Parameters = new ParameterBlock<float>();
        rnn = kind.Create(inputSize, hiddenSize, random, Parameters, forgetBias);
        head = new Linear<float>(hiddenSize, classes, random: random, parameters: Parameters, name: "head");
        optimizer = new Adam<float>(Parameters, learningRate);
        this.clipNorm = clipNorm;
        this.classes = classes;
    }

    public ParameterBlock<float> Parameters { get; }

    public int HiddenSize => rnn.HiddenSize;

    /// <summary>h(t) of the last forward pass, [T, B, H].</summary>
    public Tensor<float> Hidden { get; private set; } = new(1, 1, 1);

    /// <summary>One Adam step on a batch; returns the loss over the response steps before the step.</summary>
    public double TrainStep(Tensor<float> input, ReadOnlySpan<int> targets)
    {
        int rows = input.Size(0) * input.Size(1);
        optimizer.ZeroGradients();
        Forward(input);
        double loss = CrossEntropyLoss.Compute<float>(logits.AsSpan(0, rows * classes), targets, classes, dLogits.AsSpan(0, rows * classes));
        head.Backward(Hidden.AsSpan(), dLogits.AsSpan(0, rows * classes), rows, dOutput.AsSpan());
        rnn.Backward(dOutput);
        GradientClipping.ClipGradientNorm(Parameters, clipNorm);
        optimizer.Step();
        return loss;
    }

    /// <summary>The fraction of trials whose every response step has the cued location as its largest output.</summary>
    public double Accuracy(TrialSet trials)
    {
        Forward(trials.Input);
        int batch = trials.Count, correct = 0;
        for (int b = 0; b < batch; b++)
        {
            bool right = true;
            for (int t = DelayedResponseTask.FirstResponseStep(trials.Delays[b]); t < trials.Lengths[b]; t++)
            {
                ReadOnlySpan<float> row = logits.AsSpan((t * batch + b) * classes, classes);
                int best = 0;
                for (int c = 1; c < classes; c++)
                {
                    if (row[c] > row[best])
                    {
                        best = c;
                    }
                }

                right &= best == trials.Cues[b];
            }

            correct += right ? 1 : 0;
        }

        return (double)correct / batch;
    }

    /// <summary>Runs the model; <see cref="Hidden"/> then holds h(t) of every step and trial.</summary>
    public void Forward(Tensor<float> input)
    {
        int steps = input.Size(0), batch = input.Size(1), rows = steps * batch;
        if (!Hidden.HasShape(steps, batch, rnn.HiddenSize))
        {
            Hidden = new Tensor<float>(steps, batch, rnn.HiddenSize);
            dOutput = new Tensor<float>(steps, batch, rnn.HiddenSize);
        }

        if (logits.Length < rows * classes)
        {
            logits = new float[rows * classes];
            dLogits = new float[rows * classes];
        }

        rnn.Forward(input, Hidden);
        head.Forward(Hidden.AsSpan(), rows, logits.AsSpan(0, rows * classes));
    }
}

/// <summary>A batch of trials with its layout.</summary>
internal sealed class TrialSet
{
    private readonly DelayedResponseTask task;

    public TrialSet(DelayedResponseTask task, int count)
    {
        this.task = task;
        Input = new Tensor<float>(task.MaximumLength, count, task.InputSize);
        Targets = new int[task.MaximumLength * count];
        Cues = new int[count];
        Delays = new int[count];
        Lengths = new int[count];
    }

    public Tensor<float> Input { get; }

    public int[] Targets { get; }

    public int[] Cues { get; }

    public int[] Delays { get; }

    public int[] Lengths { get; }

    public int Count => Cues.Length;

    public TrialSet Draw(SeededRandom random)
    {
        task.Generate(random, Input, Targets, Cues, Delays, Lengths);
        return this;
    }
}
