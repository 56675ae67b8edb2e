using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Learning;

/// <summary>The recurrent cells the learning tests compare.</summary>
public enum CellKind
{
    /// <summary>Elman tanh RNN.</summary>
    Rnn,

    /// <summary>LSTM with a forget gate (PyTorch's).</summary>
    Lstm,

    /// <summary>LSTM with peepholes (Gers and Schmidhuber 2000).</summary>
    PeepholeLstm,

    /// <summary>LSTM with coupled input and forget gates (CIFG, Greff et al. 2017).</summary>
    CifgLstm,

    /// <summary>GRU (Cho et al. 2014, PyTorch form).</summary>
    Gru,

    /// <summary>Layer-normalised LSTM (Ba, Kiros and Hinton 2016).</summary>
    LayerNormLstm,

    /// <summary>Layer-normalised GRU.</summary>
    LayerNormGru,
}

/// <summary>
/// One recurrent layer and a linear head sharing one parameter block, trained with Adam and gradient-norm clipping.
/// The head reads either one chosen step of each sequence (a sequence-end target) or every step.
/// </summary>
internal sealed class SequenceModel
{
    private readonly RecurrentLayer<float> rnn;
    private readonly Linear<float> head;
    private readonly double clipNorm;
    private Tensor<float> output = new(1, 1, 1), dOutput = new(1, 1, 1);
    private float[] picked = [], dPicked = [], logits = [], dLogits = [];
    private int[] lastBuffer = [];

    public SequenceModel(CellKind kind, int inputSize, int hiddenSize, int outputSize, SeededRandom random,
        double learningRate, double clipNorm = 1.0, double? forgetBias = 1.0)
    {
        Parameters = new ParameterBlock<float>();
        rnn = kind switch
        {
            CellKind.Rnn => new Rnn<float>(inputSize, hiddenSize, random: random, parameters: Parameters),
            CellKind.Gru => new Gru<float>(inputSize, hiddenSize, random: random, parameters: Parameters),
            CellKind.LayerNormLstm => new LayerNormLstm<float>(inputSize, hiddenSize, random: random, parameters: Parameters, forgetBias: forgetBias),
            CellKind.LayerNormGru => new LayerNormGru<float>(inputSize, hiddenSize, random: random, parameters: Parameters),
            _ => new Lstm<float>(inputSize, hiddenSize, random: random, parameters: Parameters,
                peephole: kind == CellKind.PeepholeLstm, coupledInputForget: kind == CellKind.CifgLstm, forgetBias: forgetBias),
        };
        head = new Linear<float>(hiddenSize, outputSize, random: random, parameters: Parameters, name: "head");
        Optimizer = new Adam<float>(Parameters, learningRate);
        this.clipNorm = clipNorm;
        OutputSize = outputSize;
    }

    public ParameterBlock<float> Parameters { get; }

    public Adam<float> Optimizer { get; }

    public int OutputSize { get; }

    /// <summary>One Adam step on an MSE loss of the head's output at step lastSteps[b] of each sequence b.</summary>
    /// <returns>The batch loss before the step.</returns>
    public double TrainRegression(Tensor<float> input, ReadOnlySpan<int> lastSteps, ReadOnlySpan<float> targets)
    {
        int batch = input.Size(1);
        Optimizer.ZeroGradients();
        ForwardPicked(input, lastSteps);
        double loss = MseLoss.Compute<float>(logits.AsSpan(0, batch * OutputSize), targets, dLogits.AsSpan(0, batch * OutputSize));
        BackwardPicked(input, lastSteps);
        return loss;
    }

    /// <summary>One Adam step on a softmax cross-entropy of the head's output at step lastSteps[b] of each sequence b.</summary>
    public double TrainClassification(Tensor<float> input, ReadOnlySpan<int> lastSteps, ReadOnlySpan<int> classes)
    {
        int batch = input.Size(1);
        Optimizer.ZeroGradients();
        ForwardPicked(input, lastSteps);
        double loss = CrossEntropyLoss.Compute<float>(logits.AsSpan(0, batch * OutputSize), classes, OutputSize, dLogits.AsSpan(0, batch * OutputSize));
        BackwardPicked(input, lastSteps);
        return loss;
    }

    /// <summary>One Adam step on a softmax cross-entropy at every step (targets [T·B], negative to ignore).</summary>
    public double TrainEveryStep(Tensor<float> input, ReadOnlySpan<int> targets)
    {
        int steps = input.Size(0), batch = input.Size(1), rows = steps * batch;
        Optimizer.ZeroGradients();
        Ensure(steps, batch);
        rnn.Forward(input, output);
        head.Forward(output.AsSpan(), rows, logits.AsSpan(0, rows * OutputSize));
        double loss = CrossEntropyLoss.Compute<float>(logits.AsSpan(0, rows * OutputSize), targets, OutputSize, dLogits.AsSpan(0, rows * OutputSize));
        head.Backward(output.AsSpan(), dLogits.AsSpan(0, rows * OutputSize), rows, dOutput.AsSpan());
        rnn.Backward(dOutput);
        Step();
        return loss;
    }

    /// <summary>The head's output at step lastSteps[b] of each sequence, [B, outputSize] (overwritten).</summary>
    public void PredictPicked(Tensor<float> input, ReadOnlySpan<int> lastSteps, Span<float> prediction)
    {
        ForwardPicked(input, lastSteps);
        logits.AsSpan(0, input.Size(1) * OutputSize).CopyTo(prediction);
    }

    /// <summary>The head's softmax output at every step, [T·B, outputSize] (overwritten).</summary>
    public void PredictEveryStep(Tensor<float> input, Span<float> probabilities)
    {
        int steps = input.Size(0), batch = input.Size(1), rows = steps * batch;
        Ensure(steps, batch);
        rnn.Forward(input, output);
        head.Forward(output.AsSpan(), rows, logits.AsSpan(0, rows * OutputSize));
        Softmax.Rows<float>(logits.AsSpan(0, rows * OutputSize), rows, OutputSize, probabilities);
    }

    /// <summary>Mean MSE of the head's output at the last step over a data set given in batches.</summary>
    public double EvaluateMse(IReadOnlyList<(Tensor<float> Input, float[] Targets)> batches)
    {
        double sum = 0;
        int count = 0;
        foreach (var (input, targets) in batches)
        {
            int steps = input.Size(0), batch = input.Size(1);
            if (lastBuffer.Length < batch)
            {
                lastBuffer = new int[batch];
            }

            Span<int> last = lastBuffer.AsSpan(0, batch);
            last.Fill(steps - 1);
            ForwardPicked(input, last);
            sum += MseLoss.Compute<float>(logits.AsSpan(0, batch), targets, default) * batch;
            count += batch;
        }

        return sum / count;
    }

    private void ForwardPicked(Tensor<float> input, ReadOnlySpan<int> lastSteps)
    {
        int steps = input.Size(0), batch = input.Size(1), hidden = rnn.OutputSize;
        Ensure(steps, batch);
        rnn.Forward(input, output);
        for (int b = 0; b < batch; b++)
        {
            output.AsSpan().Slice((lastSteps[b] * batch + b) * hidden, hidden).CopyTo(picked.AsSpan(b * hidden, hidden));
        }

        head.Forward(picked.AsSpan(0, batch * hidden), batch, logits.AsSpan(0, batch * OutputSize));
    }

    private void BackwardPicked(Tensor<float> input, ReadOnlySpan<int> lastSteps)
    {
        int batch = input.Size(1), hidden = rnn.OutputSize;
        head.Backward(picked.AsSpan(0, batch * hidden), dLogits.AsSpan(0, batch * OutputSize), batch, dPicked.AsSpan(0, batch * hidden));
        dOutput.Clear();
        for (int b = 0; b < batch; b++)
        {
            dPicked.AsSpan(b * hidden, hidden).CopyTo(dOutput.AsSpan().Slice((lastSteps[b] * batch + b) * hidden, hidden));
        }

        rnn.Backward(dOutput);
        Step();
    }

    private void Step()
    {
        GradientClipping.ClipGradientNorm(Parameters, clipNorm);
        Optimizer.Step();
    }

    private void Ensure(int steps, int batch)
    {
        int hidden = rnn.OutputSize;
        if (!output.HasShape(steps, batch, hidden))
        {
            output = new Tensor<float>(steps, batch, hidden);
            dOutput = new Tensor<float>(steps, batch, hidden);
        }

        int rows = steps * batch;
        if (logits.Length < rows * OutputSize)
        {
            logits = new float[rows * OutputSize];
            dLogits = new float[rows * OutputSize];
        }

        if (picked.Length < batch * hidden)
        {
            picked = new float[batch * hidden];
            dPicked = new float[batch * hidden];
        }
    }
}
