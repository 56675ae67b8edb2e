using RecurrentNets.Samples;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace AddingSample;

/// <summary>
/// A recurrent layer over (value, marker) pairs and a linear head on the last step's output, y = w·h(T) + c, trained on
/// the MSE against X1 + X2 with Adam and gradient-norm clipping. The layer and the head share one parameter block.
/// </summary>
internal sealed class AddingModel
{
    private readonly RecurrentLayer<float> rnn;
    private readonly Linear<float> head;
    private readonly Adam<float> optimizer;
    private readonly double clipNorm;
    private Tensor<float> output = new(1, 1, 1), dOutput = new(1, 1, 1);
    private float[] prediction = [], dPrediction = [], dLast = [];

    public AddingModel(CellKind kind, int hiddenSize, SeededRandom random, double learningRate, double clipNorm, double forgetBias)
    {
        Parameters = new ParameterBlock<float>();
        rnn = kind.Create(2, hiddenSize, random, Parameters, forgetBias);
        head = new Linear<float>(hiddenSize, 1, random: random, parameters: Parameters, name: "head");
        optimizer = new Adam<float>(Parameters, learningRate);
        this.clipNorm = clipNorm;
    }

    public ParameterBlock<float> Parameters { get; }

    /// <summary>One Adam step on a batch; returns the batch MSE before the step.</summary>
    public double TrainStep(Tensor<float> input, ReadOnlySpan<float> targets)
    {
        int steps = input.Size(0), batch = input.Size(1), hidden = rnn.HiddenSize;
        optimizer.ZeroGradients();
        Forward(input);
        double loss = MseLoss.Compute<float>(prediction.AsSpan(0, batch), targets, dPrediction.AsSpan(0, batch));

        // The loss reads the last step only: dL/dh(t) is zero for t < T - 1.
        ReadOnlySpan<float> last = output.AsSpan().Slice((steps - 1) * batch * hidden, batch * hidden);
        head.Backward(last, dPrediction.AsSpan(0, batch), batch, dLast.AsSpan(0, batch * hidden));
        dOutput.Clear();
        dLast.AsSpan(0, batch * hidden).CopyTo(dOutput.AsSpan().Slice((steps - 1) * batch * hidden));
        rnn.Backward(dOutput);
        GradientClipping.ClipGradientNorm(Parameters, clipNorm);
        optimizer.Step();
        return loss;
    }

    /// <summary>The MSE over a held-out set given in batches.</summary>
    public double Evaluate(IReadOnlyList<(Tensor<float> Input, Tensor<float> Targets)> batches)
    {
        double sum = 0;
        int count = 0;
        foreach (var (input, targets) in batches)
        {
            int batch = input.Size(1);
            Forward(input);
            sum += MseLoss.Compute<float>(prediction.AsSpan(0, batch), targets.AsSpan(), default) * batch;
            count += batch;
        }

        return sum / count;
    }

    private void Forward(Tensor<float> input)
    {
        int steps = input.Size(0), batch = input.Size(1), hidden = rnn.HiddenSize;
        if (!output.HasShape(steps, batch, hidden))
        {
            output = new Tensor<float>(steps, batch, hidden);
            dOutput = new Tensor<float>(steps, batch, hidden);
        }

        if (prediction.Length < batch)
        {
            prediction = new float[batch];
            dPrediction = new float[batch];
            dLast = new float[batch * hidden];
        }

        rnn.Forward(input, output);
        head.Forward(output.AsSpan().Slice((steps - 1) * batch * hidden, batch * hidden), batch, prediction.AsSpan(0, batch));
    }

    /// <summary>A held-out set of <paramref name="sequences"/> sequences of length <paramref name="timeSteps"/>.</summary>
    public static List<(Tensor<float> Input, Tensor<float> Targets)> TestSet(int timeSteps, int sequences, SeededRandom random)
    {
        const int chunk = 250;
        var batches = new List<(Tensor<float>, Tensor<float>)>();
        for (int done = 0; done < sequences; done += chunk)
        {
            batches.Add(AddingProblem.Generate<float>(timeSteps, Math.Min(chunk, sequences - done), random));
        }

        return batches;
    }
}
