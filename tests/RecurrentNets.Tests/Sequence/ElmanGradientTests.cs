using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

/// <summary>Finite-difference gradient checks of the Elman RNN with a linear head, in double.</summary>
public class ElmanGradientTests
{
    public enum LossKind
    {
        EveryStepCrossEntropy,
        LastStepCrossEntropy,
        EveryStepMse,
        FinalState,
    }

    public static TheoryData<int, RnnNonlinearity, LossKind> Cases()
    {
        var data = new TheoryData<int, RnnNonlinearity, LossKind>();
        foreach (int layers in new[] { 1, 2 })
        {
            foreach (var loss in Enum.GetValues<LossKind>())
            {
                data.Add(layers, RnnNonlinearity.Tanh, loss);
            }

            data.Add(layers, RnnNonlinearity.Relu, LossKind.EveryStepCrossEntropy);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ParametersInputAndInitialStateMatchFiniteDifferences(int numLayers, RnnNonlinearity nonlinearity, LossKind lossKind)
    {
        var harness = new Harness(numLayers, nonlinearity, lossKind, seed: 11);
        var results = GradientCheck.CheckParameters(harness.Parameters, harness.LossAndBackward);
        foreach (var result in results)
        {
            Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
        }

        harness.LossAndBackward();
        double[] dx = (double[])harness.DInput.Data.Clone();
        var input = GradientCheck.Compare("x", harness.Input.Data, dx, harness.LossAndBackward);
        Assert.True(input.MaxRelativeError < 1e-6, input.ToString());
        harness.LossAndBackward(); // gradients from the unperturbed point: the last finite-difference call ran at x - h
        double[] dh0 = (double[])harness.DInitial.Hidden.Data.Clone();
        var h0 = GradientCheck.Compare("h0", harness.Initial.Hidden.Data, dh0, harness.LossAndBackward);
        Assert.True(h0.MaxRelativeError < 1e-6, h0.ToString());
    }

    [Fact]
    public void GradientCheckDetectsAWrongGradient()
    {
        var harness = new Harness(1, RnnNonlinearity.Tanh, LossKind.EveryStepCrossEntropy, seed: 3);
        harness.LossAndBackward();
        double[] wrong = (double[])harness.DInput.Data.Clone();
        wrong[4] *= 1.01;
        var result = GradientCheck.Compare("x", harness.Input.Data, wrong, harness.LossAndBackward);
        Assert.True(result.MaxRelativeError > 1e-3, result.ToString());
        Assert.Equal(4, result.WorstIndex);
    }

    /// <summary>An Elman stack, a linear head and a loss over a small random batch.</summary>
    internal sealed class Harness
    {
        private const int Steps = 5, Batch = 2, InputSize = 3, Hidden = 4, Classes = 3;
        private readonly Rnn<double> rnn;
        private readonly Linear<double> head;
        private readonly LossKind lossKind;
        private readonly Tensor<double> output, dOutput, logits, dLogits, target;
        private readonly RecurrentState<double> final, dFinal, stateWeights;
        private readonly int[] targets;

        public Harness(int numLayers, RnnNonlinearity nonlinearity, LossKind lossKind, int seed)
        {
            var random = new SeededRandom((ulong)seed);
            Parameters = new ParameterBlock<double>();
            rnn = new Rnn<double>(InputSize, Hidden, numLayers, nonlinearity, random: random, parameters: Parameters);
            head = new Linear<double>(Hidden, Classes, random: random, parameters: Parameters, name: "head");
            foreach (ref double w in Parameters.Values.AsSpan())
            {
                w *= 2; // larger weights make the recurrence matter
            }

            this.lossKind = lossKind;
            Input = RandomTensor(random, Steps, Batch, InputSize);
            Initial = rnn.CreateState(Batch);
            Fill(Initial.Hidden.Data, random, 0.5);
            if (nonlinearity == RnnNonlinearity.Relu)
            {
                // Keep pre-activations away from the kink so finite differences are valid.
                foreach (ref double v in Initial.Hidden.Data.AsSpan())
                {
                    v = Math.Abs(v);
                }
            }

            output = new Tensor<double>(Steps, Batch, Hidden);
            dOutput = new Tensor<double>(Steps, Batch, Hidden);
            logits = new Tensor<double>(Steps, Batch, Classes);
            dLogits = new Tensor<double>(Steps, Batch, Classes);
            target = RandomTensor(random, Steps, Batch, Classes);
            DInput = new Tensor<double>(Steps, Batch, InputSize);
            final = rnn.CreateState(Batch);
            dFinal = rnn.CreateState(Batch);
            DInitial = rnn.CreateState(Batch);
            stateWeights = rnn.CreateState(Batch);
            Fill(stateWeights.Hidden.Data, random, 1);
            targets = new int[Steps * Batch];
            for (int i = 0; i < targets.Length; i++)
            {
                bool counted = lossKind != LossKind.LastStepCrossEntropy || i >= (Steps - 1) * Batch;
                targets[i] = counted ? random.NextInt(Classes) : -1;
            }
        }

        public ParameterBlock<double> Parameters { get; }

        public Tensor<double> Input { get; }

        public RecurrentState<double> Initial { get; }

        public Tensor<double> DInput { get; }

        public RecurrentState<double> DInitial { get; }

        public double LossAndBackward()
        {
            rnn.Forward(Input, output, Initial, final);
            double loss;
            if (lossKind == LossKind.FinalState)
            {
                // L = Σ w ⊙ h_n, read from the final state only.
                loss = 0;
                for (int i = 0; i < final.Hidden.Length; i++)
                {
                    loss += final.Hidden.Data[i] * stateWeights.Hidden.Data[i];
                }

                dOutput.Clear();
                rnn.Backward(dOutput, stateWeights, DInput, DInitial);
                return loss;
            }

            head.Forward(output, logits);
            int rows = Steps * Batch;
            loss = lossKind == LossKind.EveryStepMse
                ? MseLoss.Compute<double>(logits.Data, target.Data, dLogits.Data)
                : CrossEntropyLoss.Compute<double>(logits.Data, targets, Classes, dLogits.Data);
            head.Backward(output.Data, dLogits.Data, rows, dOutput.Data);
            dFinal.Clear();
            rnn.Backward(dOutput, dFinal, DInput, DInitial);
            return loss;
        }

        private static Tensor<double> RandomTensor(SeededRandom random, params int[] shape)
        {
            var t = new Tensor<double>(shape);
            Fill(t.Data, random, 1);
            return t;
        }

        private static void Fill(double[] data, SeededRandom random, double scale)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = scale * random.NextNormal();
            }
        }
    }
}
