using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// Finite-difference gradient checks in double of every cell and variant, 1 and 2 layers, uni- and bidirectional,
/// with losses on every step, on the last step only, MSE, and on the final state (h and C): every parameter, the input
/// and the initial state.
/// </summary>
public class CellGradientTests
{
    public enum CellKind
    {
        RnnTanh,
        RnnRelu,
        Lstm,
        LstmPeephole,
        LstmCoupled,
        LstmCoupledPeephole,
        Gru,
        GruCho,
        LayerNormLstm,
        LayerNormGru,
        LstmProjected,
        LstmProjectedCoupledPeephole,
    }

    public enum LossKind
    {
        EveryStepCrossEntropy,
        LastStepCrossEntropy,
        EveryStepMse,
        FinalState,
    }

    public static TheoryData<CellKind, int, bool, LossKind> Cases()
    {
        var data = new TheoryData<CellKind, int, bool, LossKind>();
        foreach (var cell in Enum.GetValues<CellKind>())
        {
            foreach (int layers in new[] { 1, 2 })
            {
                foreach (bool bidirectional in new[] { false, true })
                {
                    foreach (var loss in Enum.GetValues<LossKind>())
                    {
                        data.Add(cell, layers, bidirectional, loss);
                    }
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(CellKind cell, int numLayers, bool bidirectional, LossKind loss)
    {
        var harness = new Harness(cell, numLayers, bidirectional, loss, seed: 11);
        harness.AssertAllGradients();
    }

    [Theory]
    [InlineData(CellKind.Lstm, false)]
    [InlineData(CellKind.LstmProjected, true)]
    [InlineData(CellKind.Gru, true)]
    [InlineData(CellKind.RnnTanh, true)]
    public void DropoutBetweenLayersAndLearnedInitialStateHaveExactGradients(CellKind cell, bool bidirectional)
    {
        var harness = new Harness(cell, 3, bidirectional, LossKind.EveryStepCrossEntropy, seed: 5, dropout: 0.4, learnInitialState: true);
        harness.AssertAllGradients();
        Assert.True(harness.Parameters.Contains("initial_hidden"));
        Assert.NotEqual(0, harness.Parameters["initial_hidden"].Gradients[0]);
    }

    public static TheoryData<CellKind, bool> RecurrentDropoutCases()
    {
        var data = new TheoryData<CellKind, bool>();
        foreach (var kind in Enum.GetValues<CellKind>())
        {
            data.Add(kind, false);
            data.Add(kind, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RecurrentDropoutCases))]
    public void RecurrentVariationalDropoutHasExactGradients(CellKind cell, bool bidirectional)
    {
        var harness = new Harness(cell, 2, bidirectional, LossKind.EveryStepCrossEntropy, seed: 6, recurrentDropout: 0.4);
        harness.AssertAllGradients();
    }

    [Fact]
    public void RecurrentDropoutKeepsOneMaskAcrossTime()
    {
        // With W_ih = 0 and no biases, h(t) = tanh(W_hh (h(t-1) ⊙ m)): a unit dropped at t = 0 stays dropped, so
        // the columns of W_hh it feeds never act. Compare against the same network with those columns zeroed.
        var rnn = new Rnn<double>(2, 6, bias: false, random: new SeededRandom(4), recurrentDropout: 0.5);
        rnn.Cells[0].WeightIH.Values.Clear();
        var x = new Tensor<double>(8, 1, 2);
        var initial = rnn.CreateState(1);
        initial.Hidden.AsSpan().Fill(0.5);
        var y = new Tensor<double>(8, 1, 6);
        rnn.ReseedDropout(3);
        rnn.Forward(x, y, initial);

        // Recover the mask of the first step from h(1) = tanh(W_hh (h0 ⊙ m)), then check every later step uses it.
        var w = rnn.Cells[0].WeightHH!.Values.ToArray();
        double Predict(double[] hPrev, double[] mask, int i)
        {
            double a = 0;
            for (int j = 0; j < 6; j++)
            {
                a += w[i * 6 + j] * hPrev[j] * mask[j];
            }

            return Math.Tanh(a);
        }

        double[] best = [];
        double bestError = double.MaxValue;
        for (int bits = 0; bits < 64; bits++)
        {
            double[] mask = Enumerable.Range(0, 6).Select(j => (bits >> j & 1) == 1 ? 2.0 : 0.0).ToArray();
            double error = 0;
            for (int t = 0; t < 8; t++)
            {
                double[] hPrev = t == 0 ? Enumerable.Repeat(0.5, 6).ToArray() : y.Row(t - 1, 0).ToArray();
                for (int i = 0; i < 6; i++)
                {
                    error = Math.Max(error, Math.Abs(Predict(hPrev, mask, i) - y.Row(t, 0)[i]));
                }
            }

            if (error < bestError)
            {
                bestError = error;
                best = mask;
            }
        }

        Assert.True(bestError < 1e-12, $"no single mask explains all 8 steps (best error {bestError})");
        Assert.Contains(0.0, best);
        Assert.Contains(2.0, best);
    }

    [Fact]
    public void DropoutZeroesAboutPOfTheLowerLayersOutputsAndNothingInEvaluation()
    {
        var lstm = new Lstm<double>(4, 50, numLayers: 2, dropout: 0.3, random: new SeededRandom(1));
        var x = EngineTests.Random(new SeededRandom(2), 20, 8, 4);
        var train = new Tensor<double>(20, 8, 50);
        var eval = new Tensor<double>(20, 8, 50);
        var evalAgain = new Tensor<double>(20, 8, 50);
        lstm.Forward(x, train);
        lstm.Training = false;
        lstm.Forward(x, eval);
        lstm.Forward(x, evalAgain);
        Assert.NotEqual(eval.Data, train.Data);
        Assert.Equal(eval.Data, evalAgain.Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm<double>(4, 5, dropout: 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Gru<double>(4, 5, dropout: -0.1));
    }

    [Fact]
    public void GradientCheckDetectsAWrongGradient()
    {
        var harness = new Harness(CellKind.Lstm, 1, false, LossKind.EveryStepCrossEntropy, seed: 3);
        harness.LossAndBackward();
        double[] wrong = (double[])harness.DInput.Data.Clone();
        wrong[4] *= 1.01;
        var result = GradientCheck.Compare("x", harness.Input.Data, wrong, harness.LossAndBackward);
        Assert.True(result.MaxRelativeError > 1e-3, result.ToString());
        Assert.Equal(4, result.WorstIndex);
    }

    internal static RecurrentLayer<double> Build(CellKind kind, int numLayers, bool bidirectional, SeededRandom random,
        ParameterBlock<double> block, double dropout = 0, bool learnInitialState = false, int inputSize = 3, int hidden = 4,
        double recurrentDropout = 0)
        => kind switch
        {
            CellKind.RnnTanh => new Rnn<double>(inputSize, hidden, numLayers, Activation.Tanh, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.RnnRelu => new Rnn<double>(inputSize, hidden, numLayers, Activation.Relu, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.Lstm => new Lstm<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.LstmPeephole => new Lstm<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, peephole: true, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.LstmCoupled => new Lstm<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, coupledInputForget: true, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.LstmCoupledPeephole => new Lstm<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, peephole: true, coupledInputForget: true, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.Gru => new Gru<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.GruCho => new Gru<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, resetAfterRecurrence: false, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout),
            CellKind.LstmProjected => new Lstm<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout, projectionSize: hidden - 1),
            CellKind.LstmProjectedCoupledPeephole => new Lstm<double>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional, dropout: dropout, peephole: true, coupledInputForget: true, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout, projectionSize: 2),
            CellKind.LayerNormLstm => LayerNormCellTests.Perturb(new LayerNormLstm<double>(inputSize, hidden, numLayers, random, block, bidirectional, dropout, learnInitialState: learnInitialState, recurrentDropout: recurrentDropout), random),
            _ => LayerNormCellTests.Perturb(new LayerNormGru<double>(inputSize, hidden, numLayers, random, block, bidirectional, dropout, learnInitialState, recurrentDropout), random),
        };

    /// <summary>A recurrent stack, a linear head and a loss over a small random batch.</summary>
    internal sealed class Harness
    {
        private const int Steps = 5, Batch = 2, InputSize = 3, Hidden = 4, Classes = 3;
        private readonly RecurrentLayer<double> layer;
        private readonly Linear<double> head;
        private readonly LossKind lossKind;
        private readonly bool learnInitialState;

        // The layer norms of the layer-normalised cells, over as few as H = 4 features, curve the loss strongly where those
        // features nearly agree (σ small): in the worst case (2 bidirectional LN-LSTM layers, final-state loss, dL/dh0) the
        // central difference's error is 0.84 at h = 1e-3, 4.8e-2 at 1e-4, 5.1e-4 at 1e-5 and 5.1e-6 at 1e-6, falling
        // 100-fold per decade of h: truncation, not a wrong gradient. Those cells are checked at h = 1e-6 to 1e-5.
        private readonly double tolerance, step;
        private readonly Tensor<double> output, dOutput, logits, dLogits, target;
        private readonly RecurrentState<double> final, dFinal, stateWeights;
        private readonly int[] targets;

        public Harness(CellKind kind, int numLayers, bool bidirectional, LossKind lossKind, int seed, double dropout = 0, bool learnInitialState = false,
            double recurrentDropout = 0)
        {
            var random = new SeededRandom((ulong)seed);
            Parameters = new ParameterBlock<double>();
            layer = Build(kind, numLayers, bidirectional, random, Parameters, dropout, learnInitialState, InputSize, Hidden, recurrentDropout);
            int width = layer.OutputSize;
            head = new Linear<double>(width, Classes, random: random, parameters: Parameters, name: "head");
            foreach (ref double w in Parameters.Values.AsSpan())
            {
                w *= 2; // larger weights make the recurrence matter
            }

            if (learnInitialState)
            {
                Initializers.Uniform(layer.InitialHidden!.Values, -0.5, 0.5, random);
                if (layer.InitialCell is not null)
                {
                    Initializers.Uniform(layer.InitialCell.Values, -0.5, 0.5, random);
                }
            }

            this.lossKind = lossKind;
            this.learnInitialState = learnInitialState;
            bool layerNorm = kind is CellKind.LayerNormLstm or CellKind.LayerNormGru;
            (tolerance, step) = layerNorm ? (1e-5, 1e-6) : (1e-6, 1e-5);
            Input = EngineTests.Random(random, Steps, Batch, InputSize);
            Initial = layer.CreateState(Batch);
            Fill(Initial.Hidden.Data, random, 0.5);
            if (Initial.Cell is not null)
            {
                Fill(Initial.Cell.Data, random, 0.5);
            }

            if (kind == CellKind.RnnRelu)
            {
                foreach (ref double v in Initial.Hidden.Data.AsSpan())
                {
                    v = Math.Abs(v); // away from the kink, so finite differences are valid
                }
            }

            output = new Tensor<double>(Steps, Batch, width);
            dOutput = new Tensor<double>(Steps, Batch, width);
            logits = new Tensor<double>(Steps, Batch, Classes);
            dLogits = new Tensor<double>(Steps, Batch, Classes);
            target = EngineTests.Random(random, Steps, Batch, Classes);
            DInput = new Tensor<double>(Steps, Batch, InputSize);
            final = layer.CreateState(Batch);
            dFinal = layer.CreateState(Batch);
            DInitial = layer.CreateState(Batch);
            stateWeights = layer.CreateState(Batch);
            Fill(stateWeights.Hidden.Data, random, 1);
            if (stateWeights.Cell is not null)
            {
                Fill(stateWeights.Cell.Data, random, 1);
            }

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

        public void AssertAllGradients()
        {
            foreach (var result in GradientCheck.CheckParameters(Parameters, LossAndBackward, step))
            {
                Assert.True(result.MaxRelativeError < tolerance, result.ToString());
            }

            LossAndBackward();
            double[] dx = (double[])DInput.Data.Clone();
            var input = GradientCheck.Compare("x", Input.Data, dx, LossAndBackward, step);
            Assert.True(input.MaxRelativeError < tolerance, input.ToString());
            if (learnInitialState)
            {
                return; // the initial state is a parameter, checked above
            }

            LossAndBackward(); // gradients at the unperturbed point: the last finite-difference call ran at x - h
            double[] dh0 = (double[])DInitial.Hidden.Data.Clone();
            double[]? dc0 = (double[]?)DInitial.Cell?.Data.Clone();
            var h0 = GradientCheck.Compare("h0", Initial.Hidden.Data, dh0, LossAndBackward, step);
            Assert.True(h0.MaxRelativeError < tolerance, h0.ToString());
            if (dc0 is not null)
            {
                var c0 = GradientCheck.Compare("c0", Initial.Cell!.Data, dc0, LossAndBackward, step);
                Assert.True(c0.MaxRelativeError < tolerance, c0.ToString());
            }
        }

        public double LossAndBackward()
        {
            layer.ReseedDropout(99); // the same masks on every evaluation
            var initial = learnInitialState ? null : Initial;
            layer.Forward(Input, output, initial, final);
            double loss;
            if (lossKind == LossKind.FinalState)
            {
                // L = Σ w ⊙ h_n + Σ v ⊙ C_n, read from the final state only.
                loss = Dot(final.Hidden.Data, stateWeights.Hidden.Data);
                if (final.Cell is not null)
                {
                    loss += Dot(final.Cell.Data, stateWeights.Cell!.Data);
                }

                dOutput.Clear();
                layer.Backward(dOutput, stateWeights, DInput, DInitial);
                return loss;
            }

            head.Forward(output, logits);
            int rows = Steps * Batch;
            loss = lossKind == LossKind.EveryStepMse
                ? MseLoss.Compute<double>(logits.Data, target.Data, dLogits.Data)
                : CrossEntropyLoss.Compute<double>(logits.Data, targets, Classes, dLogits.Data);
            head.Backward(output.Data, dLogits.Data, rows, dOutput.Data);
            dFinal.Clear();
            layer.Backward(dOutput, dFinal, DInput, DInitial);
            return loss;
        }

        private static double Dot(double[] a, double[] b)
        {
            double sum = 0;
            for (int i = 0; i < a.Length; i++)
            {
                sum += a[i] * b[i];
            }

            return sum;
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
