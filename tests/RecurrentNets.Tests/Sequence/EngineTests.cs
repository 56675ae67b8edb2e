using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

public class EngineTests
{
    [Fact]
    public void TruncatedWindowsReproduceTheFullForwardPass()
    {
        var rnn = new Rnn<double>(3, 6, numLayers: 2, random: new SeededRandom(5));
        var x = Random(new SeededRandom(6), 23, 2, 3);
        var full = new Tensor<double>(23, 2, 6);
        var fullFinal = rnn.CreateState(2);
        rnn.Forward(x, full, null, fullFinal);

        var recorder = new Recorder(23, 2, 6);
        var tbptt = new TruncatedBptt<double>(rnn, windowLength: 5, batchSize: 2);
        tbptt.Run(x, recorder);
        // Equal up to rounding: the GEMM may pick another summation order for a 5-step window than for 23 steps.
        Assert.Equal(full.Data, recorder.Outputs.Data, (a, b) => Math.Abs(a - b) <= 1e-13);
        Assert.Equal(fullFinal.Hidden.Data, tbptt.State.Hidden.Data, (a, b) => Math.Abs(a - b) <= 1e-13);
        Assert.Equal([0, 5, 10, 15, 20], recorder.Starts);
    }

    [Fact]
    public void OffAvx512AChunkHoldsAsManyBytesOfGatesAsALargeInputWeight()
    {
        // LSTM (32, 512): W_ih has 4 MB, a step's gates 256 KB. AVX-512 keeps 256 KB chunks (1 step); the other paths
        // project 16 steps a chunk. A W_ih below 2 MB keeps 256 KB chunks on every path.
        var large = new Lstm<float>(512, 512, random: new SeededRandom(1));
        var small = new Lstm<float>(128, 128, random: new SeededRandom(1));
        foreach (var (path, expected) in new[] { (GemmPath.Vector512, 1), (GemmPath.Vector256, 16), (GemmPath.Portable, 16) })
        {
            using var scope = KernelScope.Enter(1, path);
            Assert.Equal(expected, large.Plan(100, 32).Directions[0].ProjectionChunkSteps);
            Assert.Equal(4, small.Plan(100, 32).Directions[0].ProjectionChunkSteps);
        }
    }

    [Fact]
    public void ChunksOfTheInputProjectionGiveTheBitsOfOneStepACall()
    {
        // W_ih of 2 MB (I = 1024, H = 128) and 128 KB of gates a step: chunks of 16 steps off AVX-512, of 2 on it; then
        // 20 calls of one step, the state carried.
        using var scope = KernelScope.Enter(1);
        const int steps = 20, batch = 64, inputSize = 1024, hidden = 128;
        var layer = new Lstm<float>(inputSize, hidden, random: new SeededRandom(3));
        int chunk = layer.Plan(steps, batch).Directions[0].ProjectionChunkSteps;
        Assert.InRange(chunk, 2, steps - 1);
        var x = Random<float>(new SeededRandom(4), steps, batch, inputSize);
        var whole = new Tensor<float>(steps, batch, hidden);
        var final = layer.CreateState(batch);
        layer.Forward(x, whole, finalState: final);

        var state = layer.CreateState(batch);
        var step = new Tensor<float>(1, batch, inputSize);
        var output = new Tensor<float>(1, batch, hidden);
        for (int t = 0; t < steps; t++)
        {
            x.AsSpan().Slice(t * batch * inputSize, batch * inputSize).CopyTo(step.AsSpan());
            layer.Forward(step, output, t == 0 ? null : state, state);
            Assert.Equal(whole.AsSpan().Slice(t * batch * hidden, batch * hidden).ToArray(), output.Data);
        }

        Assert.Equal(final.Hidden.Data, state.Hidden.Data);
        Assert.Equal(final.Cell!.Data, state.Cell!.Data);
    }

    [TwoThreadTheory]
    [InlineData(8, false)]
    [InlineData(10, false)]
    [InlineData(32, false)]
    [InlineData(32, true)]
    public void AUnitSplitWhoseGateColumnsCrossAnNcBlockGivesTheBitsOfOneThread(int batch, bool lengths)
    {
        // H = 768 with I = H: W_ih and W_hh together are 18 MB, so two threads split the forward steps over units (384
        // each). The second part's third gate block, columns [1920, 2304), crosses the GEMM's 2048-column block with
        // K = 768, deeper than one 512-deep K block; 8 and 32 rows leave two edge rows on AVX2's six-row tile, 10 on
        // AVX-512's eight-row tile. Before the fix, those edge rows read the wrong packed panels past column 2048. With
        // sequence lengths the loop is serial and the GEMM splits each step's product by columns: the second thread's
        // [1536, 3072) crosses the same block.
        const int steps = 3, hidden = 768;
        var layer = new Lstm<float>(hidden, hidden, random: new SeededRandom(5));
        var x = Random<float>(new SeededRandom(6), steps, batch, hidden);
        int[] sequenceLengths = lengths ? Enumerable.Repeat(steps, batch).ToArray() : [];
        var one = new Tensor<float>(steps, batch, hidden);
        var two = new Tensor<float>(steps, batch, hidden);
        layer.MaxDegreeOfParallelism = 1;
        layer.Forward(x, one, sequenceLengths: sequenceLengths);
        layer.MaxDegreeOfParallelism = 2;
        var plan = layer.Plan(steps, batch, lengths).Directions[0];
        Assert.Equal(lengths ? (LoopStrategy.Serial, 1) : (LoopStrategy.UnitSplit, 2), (plan.Forward, plan.ForwardThreads));
        layer.Forward(x, two, sequenceLengths: sequenceLengths);
        Assert.Equal(one.Data, two.Data);
    }

    [Fact]
    public void TruncatedGradientsStopAtTheWindowBoundary()
    {
        // With one window as long as the stream, truncated BPTT is full BPTT.
        var x = Random(new SeededRandom(1), 12, 2, 3);
        var a = new Rnn<double>(3, 4, random: new SeededRandom(2));
        var b = new Rnn<double>(3, 4, random: new SeededRandom(2));
        new TruncatedBptt<double>(a, 12, 2).Run(x, new Recorder(12, 2, 4, gradientOne: true));
        var y = new Tensor<double>(12, 2, 4);
        b.Forward(x, y);
        var ones = new Tensor<double>(12, 2, 4);
        ones.AsSpan().Fill(1);
        b.Backward(ones);
        Assert.Equal(b.Parameters.Gradients, a.Parameters.Gradients);

        // With windows of 4, the gradient of W_hh differs from full BPTT but equals the sum of three separate
        // windows that start from the carried state.
        var c = new Rnn<double>(3, 4, random: new SeededRandom(2));
        new TruncatedBptt<double>(c, 4, 2).Run(x, new Recorder(12, 2, 4, gradientOne: true));
        Assert.NotEqual(b.Parameters.Gradients, c.Parameters.Gradients);
        var d = new Rnn<double>(3, 4, random: new SeededRandom(2));
        var state = d.CreateState(2);
        for (int w = 0; w < 3; w++)
        {
            var xw = Tensor<double>.FromArray(x.Data.AsSpan(w * 4 * 6, 4 * 6).ToArray(), 4, 2, 3);
            var yw = new Tensor<double>(4, 2, 4);
            d.Forward(xw, yw, state, state);
            var dy = new Tensor<double>(4, 2, 4);
            dy.AsSpan().Fill(1);
            d.Backward(dy);
        }

        Assert.Equal(d.Parameters.Gradients, c.Parameters.Gradients);
    }

    [Theory]
    [InlineData("rnn", 1, 4, 16)]
    [InlineData("lstm", 1, 4, 16)]
    [InlineData("gru", 1, 4, 16)]
    [InlineData("rnn", 2, 32, 128)]
    [InlineData("lstm", 2, 32, 128)]
    [InlineData("gru", 2, 32, 128)]
    [InlineData("rnn", 1, 1, 128)]
    [InlineData("lstm", 1, 1, 128)]
    [InlineData("gru", 1, 1, 128)]
    [InlineData("lstmp", 1, 1, 128)]
    [InlineData("lstmp", 2, 32, 128)]
    public void TrainingAndInferenceStepsAllocateNothingAfterWarmUp(string cell, int threads, int batch, int hidden)
    {
        // The (32, 128) cases run the threaded GEMMs, the chunked input projection and the batch-split time loop; the
        // (1, 128) ones the products that carry the input projection and dL/dx.
        var scope = KernelScope.Enter(threads);
        try
        {
            const int steps = 20, inputSize = 5, classes = 5;
            var random = new SeededRandom(9);
            var block = new ParameterBlock<float>();
            RecurrentLayer<float> rnn = cell switch
            {
                "lstm" => new Lstm<float>(inputSize, hidden, numLayers: 2, random: random, parameters: block),
                "gru" => new Gru<float>(inputSize, hidden, numLayers: 2, random: random, parameters: block),
                "lstmp" => new Lstm<float>(inputSize, hidden, numLayers: 2, random: random, parameters: block, projectionSize: hidden / 4),
                _ => new Rnn<float>(inputSize, hidden, numLayers: 2, random: random, parameters: block),
            };
            int width = rnn.OutputSize;
            var head = new Linear<float>(width, classes, random: random, parameters: block);
            var optimizer = new Adam<float>(block, 1e-3);
            var x = new Tensor<float>(steps, batch, inputSize);
            var y = new Tensor<float>(steps, batch, width);
            var dy = new Tensor<float>(steps, batch, width);
            var logits = new float[steps * batch * classes];
            var dLogits = new float[logits.Length];
            var targets = new int[steps * batch];
            var state = rnn.CreateState(batch);
            var dx = new Tensor<float>(steps, batch, inputSize);

            void TrainStep()
            {
                rnn.Training = true;
                optimizer.ZeroGradients();
                rnn.Forward(x, y, state, state);
                head.Forward(y.Data, steps * batch, logits);
                CrossEntropyLoss.Compute<float>(logits, targets, classes, dLogits);
                head.Backward(y.Data, dLogits, steps * batch, dy.Data);
                rnn.Backward(dy, null, dx);
                GradientClipping.ClipGradientNorm(block, 1.0);
                optimizer.Step();
            }

            void InferenceStep()
            {
                rnn.Training = false;
                rnn.Forward(x, y, state, state);
                head.Forward(y.Data, steps * batch, logits);
            }

            AssertStepsAllocateNothing(TrainStep, InferenceStep);
        }
        finally
        {
            scope.Dispose();
        }
    }

    [Theory]
    [InlineData("rnn")]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void SameSeedGivesBitIdenticalTrainingWithOneOrTwoThreads(string cell)
    {
        // Two threads split the GEMMs and, at batch 32, the forward time loop over batch rows.
        float[] one = TrainAndReturnWeights(1, cell);
        float[] two = TrainAndReturnWeights(2, cell);
        float[] again = TrainAndReturnWeights(2, cell);
        Assert.Equal(one, two);
        Assert.Equal(two, again);
    }

    private static float[] TrainAndReturnWeights(int threads, string cell)
    {
        var scope = KernelScope.Enter(threads);
        try
        {
            // Sizes large enough that the input projection and weight-gradient GEMMs use threads.
            const int steps = 40, batch = 32, inputSize = 64, hidden = 128, classes = 8;
            var random = new SeededRandom(77);
            var block = new ParameterBlock<float>();
            RecurrentLayer<float> rnn = cell switch
            {
                "lstm" => new Lstm<float>(inputSize, hidden, random: random, parameters: block),
                "gru" => new Gru<float>(inputSize, hidden, random: random, parameters: block),
                _ => new Rnn<float>(inputSize, hidden, random: random, parameters: block),
            };
            var head = new Linear<float>(hidden, classes, random: random, parameters: block);
            var sgd = new Sgd<float>(block, 0.05, momentum: 0.9);
            var x = new Tensor<float>(steps, batch, inputSize);
            for (int i = 0; i < x.Length; i++)
            {
                x.Data[i] = (float)random.NextNormal();
            }

            var targets = new int[steps * batch];
            for (int i = 0; i < targets.Length; i++)
            {
                targets[i] = random.NextInt(classes);
            }

            var y = new Tensor<float>(steps, batch, hidden);
            var dy = new Tensor<float>(steps, batch, hidden);
            var logits = new float[steps * batch * classes];
            var dLogits = new float[logits.Length];
            for (int iteration = 0; iteration < 3; iteration++)
            {
                sgd.ZeroGradients();
                rnn.Forward(x, y);
                head.Forward(y.Data, steps * batch, logits);
                CrossEntropyLoss.Compute<float>(logits, targets, classes, dLogits);
                head.Backward(y.Data, dLogits, steps * batch, dy.Data);
                rnn.Backward(dy);
                sgd.Step();
            }

            return (float[])block.Values.Clone();
        }
        finally
        {
            scope.Dispose();
        }
    }

    /// <summary>
    /// One forward and backward pass of <paramref name="layer"/> on random x and dL/dy of <paramref name="steps"/> steps and
    /// <paramref name="batch"/> sequences (drawn from <paramref name="random"/> after the plan is taken): the outputs, the
    /// final h (and C), dL/dx and every gradient, for the thread bit-identity tests. <paramref name="plan"/> is what ran.
    /// </summary>
    internal static float[][] ForwardBackward(RecurrentLayer<float> layer, SeededRandom random, int steps, int batch, out ExecutionPlan plan)
    {
        plan = layer.Plan(steps, batch);
        var x = Random<float>(random, steps, batch, layer.InputSize);
        var y = new Tensor<float>(steps, batch, layer.OutputSize);
        var final = layer.CreateState(batch);
        var dy = Random<float>(random, steps, batch, layer.OutputSize);
        var dx = new Tensor<float>(steps, batch, layer.InputSize);
        layer.Forward(x, y, finalState: final);
        layer.Backward(dy, dInput: dx);
        return [y.Data.ToArray(), final.Hidden.Data.ToArray(), final.Cell?.Data.ToArray() ?? [], dx.Data.ToArray(), layer.Parameters.Gradients.ToArray()];
    }

    /// <summary>After three warm-up rounds, some window of 5 training steps and some window of 5 inference calls allocate
    /// nothing on this thread.</summary>
    internal static void AssertStepsAllocateNothing(Action trainStep, Action inferenceStep)
    {
        for (int i = 0; i < 3; i++)
        {
            trainStep();
            inferenceStep();
        }

        long training = SteadyState.AllocatedBytes(_ => trainStep(), 5);
        long inference = SteadyState.AllocatedBytes(_ => inferenceStep(), 5);
        Assert.True(training == 0, $"{training} bytes allocated over 5 steady-state training steps");
        Assert.True(inference == 0, $"{inference} bytes allocated over 5 steady-state inference calls");
    }

    internal static Tensor<double> Random(SeededRandom random, params int[] shape) => Random<double>(random, shape);

    /// <summary>A tensor of standard normal draws, in element order.</summary>
    internal static Tensor<T> Random<T>(SeededRandom random, params int[] shape)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var t = new Tensor<T>(shape);
        for (int i = 0; i < t.Length; i++)
        {
            t.Data[i] = T.CreateTruncating(random.NextNormal());
        }

        return t;
    }

    /// <summary>Fills h (then C, when the state has one) with normal draws times <paramref name="scale"/>.</summary>
    internal static void Fill<T>(RecurrentState<T> state, SeededRandom random, double scale = 1)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        foreach (var t in state.Cell is null ? [state.Hidden] : new[] { state.Hidden, state.Cell })
        {
            for (int i = 0; i < t.Length; i++)
            {
                t.Data[i] = T.CreateTruncating(scale * random.NextNormal());
            }
        }
    }

    private sealed class Recorder(int steps, int batch, int hidden, bool gradientOne = false) : IWindowObjective<double>
    {
        public Tensor<double> Outputs { get; } = new(steps, batch, hidden);

        public List<int> Starts { get; } = [];

        public double LossAndGradient(int windowStart, Tensor<double> output, Tensor<double> dOutput)
        {
            Starts.Add(windowStart);
            output.AsSpan().CopyTo(Outputs.AsSpan()[(windowStart * batch * hidden)..]);
            dOutput.AsSpan().Fill(gradientOne ? 1 : 0);
            return 0;
        }

        public void AfterBackward(int windowStart)
        {
        }
    }
}
