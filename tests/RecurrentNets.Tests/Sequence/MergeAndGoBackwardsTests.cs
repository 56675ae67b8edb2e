using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using static RecurrentNets.Tests.Sequence.CellGradientTests;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// Keras' <c>Bidirectional(merge_mode=...)</c> and <c>go_backwards</c> on the engine: gradients against finite differences
/// in double (one and two layers, with and without variable lengths), parity with an independent composition (a concat
/// layer's halves combined by hand; a forward layer on the input reversed by hand), bits on one and two threads, no
/// allocation, and the errors.
/// </summary>
public class MergeAndGoBackwardsTests
{
    private const int Steps = 5, Batch = 3, InputSize = 3, Hidden = 4;
    private static readonly int[] Lengths = [3, 5, 1];

    private static readonly MergeMode[] Merged = [MergeMode.Sum, MergeMode.Multiply, MergeMode.Average];

    public static TheoryData<CellKind, MergeMode, int, bool> MergeCases()
    {
        var data = new TheoryData<CellKind, MergeMode, int, bool>();
        foreach (var kind in new[] { CellKind.RnnTanh, CellKind.Lstm, CellKind.Gru })
        {
            foreach (var mode in Merged)
            {
                foreach (int layers in new[] { 1, 2 })
                {
                    foreach (bool lengths in new[] { false, true })
                    {
                        data.Add(kind, mode, layers, lengths);
                    }
                }
            }
        }

        return data;
    }

    public static TheoryData<CellKind, int, bool> GoBackwardsCases()
    {
        var data = new TheoryData<CellKind, int, bool>();
        foreach (var kind in new[] { CellKind.RnnTanh, CellKind.Lstm, CellKind.LstmPeephole, CellKind.Gru })
        {
            foreach (int layers in new[] { 1, 2 })
            {
                foreach (bool lengths in new[] { false, true })
                {
                    data.Add(kind, layers, lengths);
                }
            }
        }

        return data;
    }

    internal static RecurrentLayer<T> Build<T>(CellKind kind, int numLayers, SeededRandom random, ParameterBlock<T>? block = null,
        bool bidirectional = false, MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false, int inputSize = InputSize,
        int hidden = Hidden, double dropout = 0)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => kind switch
        {
            CellKind.RnnTanh => new Rnn<T>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional,
                dropout: dropout, mergeMode: mergeMode, goBackwards: goBackwards),
            CellKind.Lstm => new Lstm<T>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional,
                dropout: dropout, mergeMode: mergeMode, goBackwards: goBackwards),
            CellKind.LstmPeephole => new Lstm<T>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional,
                dropout: dropout, peephole: true, mergeMode: mergeMode, goBackwards: goBackwards),
            CellKind.Gru => new Gru<T>(inputSize, hidden, numLayers, random: random, parameters: block, bidirectional: bidirectional,
                dropout: dropout, mergeMode: mergeMode, goBackwards: goBackwards),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

    [Theory]
    [MemberData(nameof(MergeCases))]
    public void MergedGradientsMatchFiniteDifferences(CellKind kind, MergeMode mode, int numLayers, bool withLengths)
    {
        var check = new Check(Build<double>(kind, numLayers, new SeededRandom(21), new ParameterBlock<double>(), bidirectional: true,
            mergeMode: mode), withLengths ? Lengths : [], seed: 22);
        Assert.Equal(Hidden, check.Layer.OutputSize);
        check.AssertAllGradients();
    }

    [Theory]
    [MemberData(nameof(GoBackwardsCases))]
    public void GoBackwardsGradientsMatchFiniteDifferences(CellKind kind, int numLayers, bool withLengths)
    {
        var check = new Check(Build<double>(kind, numLayers, new SeededRandom(31), new ParameterBlock<double>(), goBackwards: true),
            withLengths ? Lengths : [], seed: 32);
        check.AssertAllGradients();
    }

    [Theory]
    [InlineData(MergeMode.Sum, false)]
    [InlineData(MergeMode.Multiply, false)]
    [InlineData(MergeMode.Average, false)]
    [InlineData(MergeMode.Sum, true)]
    [InlineData(MergeMode.Multiply, true)]
    [InlineData(MergeMode.Average, true)]
    public void OneMergedLayerEqualsTheHalvesOfAConcatLayerCombinedByHand(MergeMode mode, bool withLengths)
    {
        // Same seed, same parameter shapes: the same weights. Forward: y = op(y_f, y_r) of the concat layer's halves;
        // backward: the concat layer given [∂y/∂y_f ⊙ dy, ∂y/∂y_r ⊙ dy] must give the same dL/dx, dL/dh0 and weight gradients.
        foreach (var kind in new[] { CellKind.RnnTanh, CellKind.Lstm, CellKind.Gru })
        {
            var merged = Build<double>(kind, 1, new SeededRandom(41), bidirectional: true, mergeMode: mode);
            var concat = Build<double>(kind, 1, new SeededRandom(41), bidirectional: true);
            Assert.Equal(concat.Parameters.Values, merged.Parameters.Values);
            int[] lengths = withLengths ? Lengths : [];
            var random = new SeededRandom(42);
            var x = EngineTests.Random(random, Steps, Batch, InputSize);
            var initial = merged.CreateState(Batch);
            EngineTests.Fill(initial, random, 0.5);
            var dy = EngineTests.Random(random, Steps, Batch, Hidden);
            var dFinal = merged.CreateState(Batch);
            EngineTests.Fill(dFinal, random);

            var y = new Tensor<double>(Steps, Batch, Hidden);
            var yc = new Tensor<double>(Steps, Batch, 2 * Hidden);
            var final = merged.CreateState(Batch);
            var finalConcat = concat.CreateState(Batch);
            merged.Forward(x, y, initial, final, lengths);
            concat.Forward(x, yc, initial, finalConcat, lengths);
            var dyc = new Tensor<double>(Steps, Batch, 2 * Hidden);
            for (int t = 0; t < Steps; t++)
            {
                for (int b = 0; b < Batch; b++)
                {
                    Span<double> row = yc.Row(t, b), dRow = dyc.Row(t, b);
                    for (int j = 0; j < Hidden; j++)
                    {
                        double f = row[j], r = row[Hidden + j], g = dy.Row(t, b)[j];
                        double expected = mode switch { MergeMode.Sum => f + r, MergeMode.Multiply => f * r, _ => (f + r) * 0.5 };
                        Assert.Equal(expected, y.Row(t, b)[j]);
                        (dRow[j], dRow[Hidden + j]) = mode switch
                        {
                            MergeMode.Sum => (g, g),
                            MergeMode.Multiply => (g * r, g * f),
                            _ => (g * 0.5, g * 0.5),
                        };
                    }
                }
            }

            Assert.Equal(finalConcat.Hidden.Data, final.Hidden.Data);
            var dx = new Tensor<double>(Steps, Batch, InputSize);
            var dxc = new Tensor<double>(Steps, Batch, InputSize);
            var dh0 = merged.CreateState(Batch);
            var dh0c = merged.CreateState(Batch);
            merged.Backward(dy, dFinal, dx, dh0);
            concat.Backward(dyc, dFinal, dxc, dh0c);
            Assert.Equal(dxc.Data, dx.Data);
            Assert.Equal(dh0c.Hidden.Data, dh0.Hidden.Data);
            Assert.Equal(concat.Parameters.Gradients, merged.Parameters.Gradients);
        }
    }

    [Theory]
    [InlineData(MergeMode.Sum)]
    [InlineData(MergeMode.Multiply)]
    [InlineData(MergeMode.Average)]
    public void TwoMergedLayersEqualTwoOneLayerStacksWithTheMergeBetween(MergeMode mode)
    {
        // The layer above a merged layer reads its H merged features (Keras' stacked Bidirectional layers).
        var stack = Build<double>(CellKind.Lstm, 2, new SeededRandom(51), bidirectional: true, mergeMode: mode);
        Assert.Equal([4 * Hidden, Hidden], stack.Parameters["weight_ih_l1"].Shape.ToArray());
        var bottom = Build<double>(CellKind.Lstm, 1, new SeededRandom(1), bidirectional: true, mergeMode: mode);
        var top = Build<double>(CellKind.Lstm, 1, new SeededRandom(1), bidirectional: true, mergeMode: mode, inputSize: Hidden);
        foreach (var view in stack.Parameters.Views)
        {
            var target = view.Name.Contains("_l0", StringComparison.Ordinal) ? bottom : top;
            view.Values.CopyTo(target.Parameters[view.Name.Replace("_l1", "_l0", StringComparison.Ordinal)].Values);
        }

        var random = new SeededRandom(52);
        var x = EngineTests.Random(random, Steps, Batch, InputSize);
        var dy = EngineTests.Random(random, Steps, Batch, Hidden);
        var y = new Tensor<double>(Steps, Batch, Hidden);
        var middle = new Tensor<double>(Steps, Batch, Hidden);
        var yComposed = new Tensor<double>(Steps, Batch, Hidden);
        stack.Forward(x, y, sequenceLengths: Lengths);
        bottom.Forward(x, middle, sequenceLengths: Lengths);
        top.Forward(middle, yComposed, sequenceLengths: Lengths);
        Assert.Equal(yComposed.Data, y.Data);

        var dx = new Tensor<double>(Steps, Batch, InputSize);
        var dMiddle = new Tensor<double>(Steps, Batch, Hidden);
        var dxComposed = new Tensor<double>(Steps, Batch, InputSize);
        stack.Backward(dy, null, dx);
        top.Backward(dy, null, dMiddle);
        bottom.Backward(dMiddle, null, dxComposed);
        Assert.Equal(dxComposed.Data, dx.Data);
        Assert.Equal(top.Parameters["weight_hh_l0_reverse"].Gradients.ToArray(), stack.Parameters["weight_hh_l1_reverse"].Gradients.ToArray());
        Assert.Equal(bottom.Parameters["weight_ih_l0"].Gradients.ToArray(), stack.Parameters["weight_ih_l0"].Gradients.ToArray());
    }

    [Theory]
    [InlineData(CellKind.RnnTanh, 1)]
    [InlineData(CellKind.Lstm, 1)]
    [InlineData(CellKind.Gru, 1)]
    [InlineData(CellKind.Lstm, 2)]
    [InlineData(CellKind.Gru, 2)]
    public void GoBackwardsEqualsAForwardLayerOnTheInputReversedWithinEachLength(CellKind kind, int numLayers)
    {
        var backwards = Build<double>(kind, numLayers, new SeededRandom(61), goBackwards: true);
        var forward = Build<double>(kind, numLayers, new SeededRandom(61));
        var random = new SeededRandom(62);
        var x = EngineTests.Random(random, Steps, Batch, InputSize);
        var dy = EngineTests.Random(random, Steps, Batch, Hidden);
        var reversed = new Tensor<double>(Steps, Batch, InputSize);
        for (int b = 0; b < Batch; b++)
        {
            for (int t = 0; t < Lengths[b]; t++)
            {
                x.Row(Lengths[b] - 1 - t, b).CopyTo(reversed.Row(t, b));
            }
        }

        var y = new Tensor<double>(Steps, Batch, Hidden);
        var yForward = new Tensor<double>(Steps, Batch, Hidden);
        var final = backwards.CreateState(Batch);
        var finalForward = forward.CreateState(Batch);
        backwards.Forward(x, y, finalState: final, sequenceLengths: Lengths);
        forward.Forward(reversed, yForward, finalState: finalForward, sequenceLengths: Lengths);
        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < Batch; b++)
            {
                Assert.True(yForward.Row(t, b).SequenceEqual(y.Row(t, b)), $"step {t}, sequence {b}");
            }
        }

        Assert.Equal(finalForward.Hidden.Data, final.Hidden.Data);
        var dx = new Tensor<double>(Steps, Batch, InputSize);
        var dxForward = new Tensor<double>(Steps, Batch, InputSize);
        backwards.Backward(dy, null, dx);
        forward.Backward(dy, null, dxForward);
        for (int b = 0; b < Batch; b++)
        {
            for (int t = 0; t < Steps; t++)
            {
                var expected = t < Lengths[b] ? dxForward.Row(Lengths[b] - 1 - t, b) : dxForward.Row(t, b);
                Assert.True(expected.SequenceEqual(dx.Row(t, b)), $"dL/dx step {t}, sequence {b}");
            }
        }

        Assert.Equal(forward.Parameters.Gradients, backwards.Parameters.Gradients);
    }

    [Fact]
    public void GoBackwardsOutputStartsWithTheLastValidStep()
    {
        // One step of an RNN from h0 = 0: h = tanh(W_ih x + b). Output step 0 of a sequence of length L reads x(L-1).
        var rnn = new Rnn<double>(2, 3, random: new SeededRandom(71), goBackwards: true);
        var single = new Rnn<double>(2, 3, random: new SeededRandom(71));
        var x = EngineTests.Random(new SeededRandom(72), 4, 2, 2);
        var y = new Tensor<double>(4, 2, 3);
        rnn.Forward(x, y, sequenceLengths: [3, 4]);
        foreach (var (b, length) in new[] { (0, 3), (1, 4) })
        {
            var one = new Tensor<double>(1, 1, 2);
            x.Row(length - 1, b).CopyTo(one.Row(0, 0));
            var h = new Tensor<double>(1, 1, 3);
            single.Forward(one, h);
            Assert.True(h.Row(0, 0).SequenceEqual(y.Row(0, b)));
        }

        Assert.All(y.Row(3, 0).ToArray(), v => Assert.Equal(0.0, v));
    }

    [Theory]
    [InlineData("lstm", MergeMode.Sum, false)]
    [InlineData("gru", MergeMode.Multiply, false)]
    [InlineData("rnn", MergeMode.Average, false)]
    [InlineData("lstm", MergeMode.Concat, true)]
    [InlineData("gru", MergeMode.Concat, true)]
    public void SameSeedGivesBitIdenticalTrainingWithOneOrTwoThreads(string cell, MergeMode mode, bool goBackwards)
    {
        float[] one = TrainAndReturnWeights(1, cell, mode, goBackwards);
        float[] two = TrainAndReturnWeights(2, cell, mode, goBackwards);
        Assert.Equal(one, two);
    }

    private static float[] TrainAndReturnWeights(int threads, string cell, MergeMode mode, bool goBackwards)
    {
        var scope = KernelScope.Enter(threads);
        try
        {
            // Large enough that the GEMMs use threads and batch 32 splits the forward loop over rows.
            const int steps = 16, batch = 32, inputSize = 64, hidden = 128, classes = 8;
            var random = new SeededRandom(77);
            var block = new ParameterBlock<float>();
            var kind = cell switch { "lstm" => CellKind.Lstm, "gru" => CellKind.Gru, _ => CellKind.RnnTanh };
            var rnn = Build(kind, 2, random, block, bidirectional: !goBackwards, mergeMode: mode, goBackwards: goBackwards,
                inputSize: inputSize, hidden: hidden);
            var head = new Linear<float>(rnn.OutputSize, classes, random: random, parameters: block);
            var sgd = new Sgd<float>(block, 0.05, momentum: 0.9);
            var x = EngineTests.Random<float>(random, steps, batch, inputSize);
            var targets = new int[steps * batch];
            for (int i = 0; i < targets.Length; i++)
            {
                targets[i] = random.NextInt(classes);
            }

            int[] lengths = [.. Enumerable.Range(0, batch).Select(b => 1 + b % steps)];
            var y = new Tensor<float>(steps, batch, rnn.OutputSize);
            var dy = new Tensor<float>(steps, batch, rnn.OutputSize);
            var dx = new Tensor<float>(steps, batch, inputSize);
            var logits = new float[steps * batch * classes];
            var dLogits = new float[logits.Length];
            for (int iteration = 0; iteration < 3; iteration++)
            {
                sgd.ZeroGradients();
                rnn.Forward(x, y, sequenceLengths: iteration == 1 ? lengths : default);
                head.Forward(y.Data, steps * batch, logits);
                CrossEntropyLoss.Compute<float>(logits, targets, classes, dLogits);
                head.Backward(y.Data, dLogits, steps * batch, dy.Data);
                rnn.Backward(dy, null, dx);
                sgd.Step();
            }

            return [.. block.Values, .. dx.Data];
        }
        finally
        {
            scope.Dispose();
        }
    }

    [Theory]
    [InlineData("lstm", MergeMode.Multiply, false, 2, 32, 128)]
    [InlineData("gru", MergeMode.Average, false, 1, 4, 16)]
    [InlineData("rnn", MergeMode.Sum, false, 1, 1, 128)]
    [InlineData("lstm", MergeMode.Concat, true, 2, 32, 128)]
    [InlineData("gru", MergeMode.Concat, true, 1, 4, 16)]
    public void MergedAndBackwardsLayersTrainAndInferWithoutAllocating(string cell, MergeMode mode, bool goBackwards, int threads, int batch, int hidden)
    {
        var scope = KernelScope.Enter(threads);
        try
        {
            const int steps = 20, inputSize = 5, classes = 5;
            var random = new SeededRandom(9);
            var block = new ParameterBlock<float>();
            var kind = cell switch { "lstm" => CellKind.Lstm, "gru" => CellKind.Gru, _ => CellKind.RnnTanh };
            var rnn = Build(kind, 2, random, block, bidirectional: !goBackwards, mergeMode: mode, goBackwards: goBackwards,
                inputSize: inputSize, hidden: hidden, dropout: 0.2);
            int width = rnn.OutputSize;
            var head = new Linear<float>(width, classes, random: random, parameters: block);
            var optimizer = new Adam<float>(block, 1e-3);
            var x = new Tensor<float>(steps, batch, inputSize);
            var y = new Tensor<float>(steps, batch, width);
            var dy = new Tensor<float>(steps, batch, width);
            var dx = new Tensor<float>(steps, batch, inputSize);
            var logits = new float[steps * batch * classes];
            var dLogits = new float[logits.Length];
            var targets = new int[steps * batch];
            int[] lengths = [.. Enumerable.Range(0, batch).Select(b => steps - b % 3)];

            void TrainStep()
            {
                rnn.Training = true;
                optimizer.ZeroGradients();
                rnn.Forward(x, y, sequenceLengths: lengths);
                head.Forward(y.Data, steps * batch, logits);
                CrossEntropyLoss.Compute<float>(logits, targets, classes, dLogits);
                head.Backward(y.Data, dLogits, steps * batch, dy.Data);
                rnn.Backward(dy, null, dx);
                optimizer.Step();
            }

            void InferenceStep()
            {
                rnn.Training = false;
                rnn.Forward(x, y);
            }

            EngineTests.AssertStepsAllocateNothing(TrainStep, InferenceStep);
        }
        finally
        {
            scope.Dispose();
        }
    }

    [Fact]
    public void MergeModeOnOneDirectionAndGoBackwardsOnTwoAreRefused()
    {
        var merge = Assert.Throws<ArgumentException>(() => new Lstm<float>(3, 4, mergeMode: MergeMode.Sum));
        Assert.Equal("mergeMode", merge.ParamName);
        Assert.Contains("merge_mode 'sum'", merge.Message, StringComparison.Ordinal);
        Assert.Contains("bidirectional is false", merge.Message, StringComparison.Ordinal);
        var backwards = Assert.Throws<ArgumentException>(() => new Gru<float>(3, 4, bidirectional: true, goBackwards: true));
        Assert.Equal("goBackwards", backwards.ParamName);
        Assert.Contains("bidirectional is true", backwards.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn<float>(3, 4, bidirectional: true, mergeMode: (MergeMode)7));
        var truncated = Assert.Throws<ArgumentException>(() => new TruncatedBptt<float>(new Rnn<float>(3, 4, goBackwards: true), 4, 2));
        Assert.Contains("goBackwards", truncated.Message, StringComparison.Ordinal);
        Assert.Equal("ave", MergeModes.ToKerasName(MergeMode.Average));
        Assert.Equal(MergeMode.Multiply, MergeModes.Parse("mul"));
        Assert.Contains("'max' is not one of concat, sum, mul, ave", Assert.Throws<FormatException>(() => MergeModes.Parse("max")).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void OutputOfTheWrongWidthNamesTheLayersOutputSize()
    {
        var lstm = new Lstm<float>(3, 4, bidirectional: true, mergeMode: MergeMode.Average);
        var e = Assert.Throws<ArgumentException>(() => lstm.Forward(new Tensor<float>(2, 1, 3), new Tensor<float>(2, 1, 8)));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("[2, 1, 4]", e.Message, StringComparison.Ordinal);
    }

    /// <summary>L = Σ w ⊙ y + ½ Σ y² + Σ v ⊙ h_n over a small random batch: every parameter, dL/dx and dL/dh0.</summary>
    private sealed class Check
    {
        private readonly int[] lengths;
        private readonly Tensor<double> output, dOutput, weights, dInput;
        private readonly RecurrentState<double> initial, final, stateWeights, dInitial;

        public Check(RecurrentLayer<double> layer, int[] lengths, int seed)
        {
            Layer = layer;
            this.lengths = lengths;
            var random = new SeededRandom((ulong)seed);
            foreach (ref double w in layer.Parameters.Values.AsSpan())
            {
                w *= 2; // larger weights make the recurrence matter
            }

            Input = EngineTests.Random(random, Steps, Batch, layer.InputSize);
            output = new Tensor<double>(Steps, Batch, layer.OutputSize);
            dOutput = new Tensor<double>(Steps, Batch, layer.OutputSize);
            weights = EngineTests.Random(random, Steps, Batch, layer.OutputSize);
            dInput = new Tensor<double>(Steps, Batch, layer.InputSize);
            initial = layer.CreateState(Batch);
            EngineTests.Fill(initial, random, 0.5);
            final = layer.CreateState(Batch);
            stateWeights = layer.CreateState(Batch);
            EngineTests.Fill(stateWeights, random);
            dInitial = layer.CreateState(Batch);
        }

        public RecurrentLayer<double> Layer { get; }

        public Tensor<double> Input { get; }

        public void AssertAllGradients()
        {
            foreach (var result in GradientCheck.CheckParameters(Layer.Parameters, LossAndBackward))
            {
                Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
            }

            LossAndBackward();
            var x = GradientCheck.Compare("x", Input.Data, (double[])dInput.Data.Clone(), LossAndBackward);
            Assert.True(x.MaxRelativeError < 1e-6, x.ToString());
            LossAndBackward();
            var h0 = GradientCheck.Compare("h0", initial.Hidden.Data, (double[])dInitial.Hidden.Data.Clone(), LossAndBackward);
            Assert.True(h0.MaxRelativeError < 1e-6, h0.ToString());
        }

        private double LossAndBackward()
        {
            Layer.Forward(Input, output, initial, final, lengths);
            double loss = 0;
            for (int i = 0; i < output.Length; i++)
            {
                loss += weights.Data[i] * output.Data[i] + 0.5 * output.Data[i] * output.Data[i];
                dOutput.Data[i] = weights.Data[i] + output.Data[i];
            }

            for (int i = 0; i < final.Hidden.Length; i++)
            {
                loss += stateWeights.Hidden.Data[i] * final.Hidden.Data[i];
                loss += final.Cell is null ? 0 : stateWeights.Cell!.Data[i] * final.Cell.Data[i];
            }

            Layer.Backward(dOutput, stateWeights, dInput, dInitial);
            return loss;
        }
    }
}
