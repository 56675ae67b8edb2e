using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// Cells written here against the public API only, as a user would: an IndRNN (diagonal W_hh) and a minimal gated unit
/// (two recurrent products over W_hh's row blocks). They get the engine's packed products, stacking, bidirectional
/// layers and the batch split over threads; each passes a gradient check in double and gives the same bits on one and
/// two threads.
/// </summary>
public class UserCellTests
{
    /// <summary>
    /// IndRNN (Li, Li, Cook, Zhu and Gao 2018): h(t) = relu(W_ih x(t) + b_ih + u ⊙ h(t-1) + b_hh), u = <c>weight_hh</c> [H].
    /// </summary>
    private sealed class IndRnnCell<T> : RecurrentCell<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public IndRnnCell(ParameterBlock<T> block, int inputSize, int hiddenSize, string suffix)
            : base(block, inputSize, hiddenSize, gateCount: 1, bias: true, suffix, RecurrentWeights.Diagonal)
        {
        }

        public override bool RowsAreIndependent => true;

        public override void Forward(in CellStep<T> step)
        {
            step.Recurrent.Forward(step.RecurrentInput, step.Gates, accumulate: true);
            TP.Max(step.Gates, T.Zero, step.Hidden);
        }

        public override void Backward(in CellStep<T> step)
        {
            // da = dh where h > 0; dh(t-1) = u ⊙ da.
            for (int i = 0; i < step.Gates.Length; i++)
            {
                step.Gates[i] = step.Hidden[i] > T.Zero ? step.DHidden[i] : T.Zero;
            }

            step.Recurrent.Backward(step.Gates, step.DHiddenPrev, accumulate: false);
        }
    }

    /// <summary>
    /// The minimal gated unit (Zhou, Wu, Zhang and Zhou 2016): f = σ(W_f x + U_f h(t-1) + b_f),
    /// n = tanh(W_n x + U_n (f ⊙ h(t-1)) + b_n), h(t) = (1 - f) ⊙ h(t-1) + f ⊙ n. Gate blocks f, n; two products.
    /// </summary>
    private sealed class MguCell<T> : RecurrentCell<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public MguCell(ParameterBlock<T> block, int inputSize, int hiddenSize, string suffix)
            : base(block, inputSize, hiddenSize, gateCount: 2, bias: true, suffix)
        {
            // U_f multiplies h(t-1), U_n multiplies f ⊙ h(t-1).
            SplitRecurrentProduct(1, 1);
        }

        public override bool RowsAreIndependent => true;

        // f ⊙ h(t-1), for backward and for dU_n.
        public override int StepCacheWidth => HiddenSize;

        public override void Forward(in CellStep<T> step)
        {
            int b = step.BatchSize, h = HiddenSize;
            Span<T> product = step.Scratch[..(b * h)];
            step.Recurrent.Forward(0, step.RecurrentInput, product, accumulate: false);
            for (int r = 0; r < b; r++)
            {
                Span<T> f = step.Gates.Slice(r * 2 * h, h);
                TP.Add(f, product.Slice(r * h, h), f);
                TP.Sigmoid(f, f);
                TP.Multiply(f, step.RecurrentInput.Slice(r * h, h), step.StepCache.Slice(r * h, h));
            }

            step.Recurrent.Forward(1, step.StepCache, product, accumulate: false);
            for (int r = 0; r < b; r++)
            {
                Span<T> f = step.Gates.Slice(r * 2 * h, h), n = step.Gates.Slice(r * 2 * h + h, h);
                TP.Add(n, product.Slice(r * h, h), n);
                TP.Tanh(n, n);

                // h = h(t-1) + f ⊙ (n - h(t-1)).
                Span<T> hidden = step.Hidden.Slice(r * h, h);
                ReadOnlySpan<T> prev = step.HiddenPrev.Slice(r * h, h);
                TP.Subtract(n, prev, hidden);
                TP.MultiplyAdd(f, hidden, prev, hidden);
            }
        }

        public override void Backward(in CellStep<T> step)
        {
            int b = step.BatchSize, h = HiddenSize;
            Span<T> dfh = step.Scratch[..(b * h)], nKept = step.Scratch.Slice(b * h, b * h);

            // da_n = dh ⊙ f ⊙ (1 - n²) in the n block (n kept aside); then d(f ⊙ h(t-1)) = da_n·U_n.
            for (int i = 0; i < b * h; i++)
            {
                int r = i / h, j = i % h;
                T f = step.Gates[r * 2 * h + j], n = step.Gates[r * 2 * h + h + j];
                nKept[i] = n;
                step.Gates[r * 2 * h + h + j] = step.DHidden[i] * f * (T.One - n * n);
            }

            step.Recurrent.Backward(1, step.Gates[h..], 2 * h, dfh, accumulate: false);

            // df = dh ⊙ (n - h(t-1)) + d(f ⊙ h(t-1)) ⊙ h(t-1); da_f = df ⊙ f(1 - f); dh(t-1) = dh ⊙ (1 - f) + d(f ⊙ h(t-1)) ⊙ f.
            for (int i = 0; i < b * h; i++)
            {
                int r = i / h, j = i % h;
                T f = step.Gates[r * 2 * h + j], prev = step.HiddenPrev[i];
                T df = step.DHidden[i] * (nKept[i] - prev) + dfh[i] * prev;
                step.DHiddenPrev[i] = step.DHidden[i] * (T.One - f) + dfh[i] * f;
                step.Gates[r * 2 * h + j] = df * f * (T.One - f);
            }

            // dh(t-1) += da_f·U_f.
            step.Recurrent.Backward(0, step.Gates, 2 * h, step.DHiddenPrev, accumulate: true);
        }

        public override void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
            ReadOnlySpan<T> stepCache, int rows)
        {
            int h = HiddenSize;
            Span<T> dW = WeightHH!.Gradients;
            Gemm.Compute(true, false, h, h, rows, recurrentGradient, 2 * h, hiddenPrev, h, dW, h, accumulate: true);
            Gemm.Compute(true, false, h, h, rows, recurrentGradient[h..], 2 * h, stepCache, h, dW[(h * h)..], h, accumulate: true);
            for (int r = 0; r < rows; r++)
            {
                TP.Add(BiasHH!.Gradients, recurrentGradient.Slice(r * 2 * h, 2 * h), BiasHH.Gradients);
            }
        }
    }

    /// <summary>A cell without recurrent weights: h(t) = tanh(W_ih x(t) + b) + h(t-1)/2.</summary>
    private sealed class NoRecurrenceCell<T> : RecurrentCell<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public NoRecurrenceCell(ParameterBlock<T> block, int inputSize, int hiddenSize, string suffix)
            : base(block, inputSize, hiddenSize, gateCount: 1, bias: true, suffix, RecurrentWeights.None)
        {
        }

        public override void Forward(in CellStep<T> step)
        {
            TP.Tanh(step.Gates, step.Gates);
            TP.MultiplyAdd(step.HiddenPrev, T.CreateTruncating(0.5), step.Gates, step.Hidden);
        }

        public override void Backward(in CellStep<T> step)
        {
            TP.Multiply(step.DHidden, T.CreateTruncating(0.5), step.DHiddenPrev);
            for (int i = 0; i < step.Gates.Length; i++)
            {
                step.Gates[i] = step.DHidden[i] * (T.One - step.Gates[i] * step.Gates[i]);
            }
        }
    }

    private static RecurrentLayer<T> Layer<T>(string kind, ParameterBlock<T> block, int inputSize, int hidden, int layers, bool bidirectional)
        where T : unmanaged, IFloatingPointIeee754<T>
        => new(block, inputSize, hidden, layers, (blk, _, input, suffix) => kind switch
        {
            "indrnn" => new IndRnnCell<T>(blk, input, hidden, suffix),
            "mgu" => new MguCell<T>(blk, input, hidden, suffix),
            _ => new NoRecurrenceCell<T>(blk, input, hidden, suffix),
        }, bidirectional);

    [Theory]
    [InlineData("indrnn")]
    [InlineData("mgu")]
    [InlineData("none")]
    public void UserCellsPassAGradientCheckThroughTwoBidirectionalLayers(string kind)
    {
        var random = new SeededRandom(21);
        var block = new ParameterBlock<double>();
        var layer = Layer(kind, block, 3, 5, 2, bidirectional: true);
        Initializers.Uniform(block.Values, -0.8, 0.8, random);
        var x = EngineTests.Random(random, 7, 3, 3);
        var y = new Tensor<double>(7, 3, layer.OutputSize);
        var w = EngineTests.Random(random, 7, 3, layer.OutputSize);
        var h0 = layer.CreateState(3);
        EngineTests.Fill(h0, random, 0.5);
        var dx = new Tensor<double>(7, 3, 3);

        // L = Σ w ⊙ y², so dL/dy = 2·w ⊙ y.
        double LossAndBackward()
        {
            layer.Forward(x, y, h0);
            double loss = 0;
            var dy = new Tensor<double>(7, 3, layer.OutputSize);
            for (int i = 0; i < y.Length; i++)
            {
                loss += y.Data[i] * y.Data[i] * w.Data[i];
                dy.Data[i] = 2 * y.Data[i] * w.Data[i];
            }

            layer.Backward(dy, dInput: dx);
            return loss;
        }

        var results = GradientCheck.CheckParameters(block, LossAndBackward);
        Assert.NotEmpty(results);
        foreach (var result in results)
        {
            // 1e-5: the IndRNN's relu makes central differences of its smallest gradients (4e-4) agree to 1e-6 only.
            Assert.True(result.MaxRelativeError < 1e-5, result.ToString());
        }
    }

    [Fact]
    public void WeightShapesFollowTheDeclaredRecurrentWeights()
    {
        var block = new ParameterBlock<float>();
        var ind = new IndRnnCell<float>(block, 3, 6, "_a");
        Assert.Equal([6], ind.WeightHH!.Shape);
        var mgu = new MguCell<float>(block, 3, 6, "_b");
        Assert.Equal([12, 6], mgu.WeightHH!.Shape);
        Assert.Equal(2, mgu.RecurrentProductCount);
        var none = new NoRecurrenceCell<float>(block, 3, 6, "_c");
        Assert.Null(none.WeightHH);
        Assert.DoesNotContain("weight_hh_c", block.Views.Select(v => v.Name));
    }

    [Theory]
    [InlineData("indrnn")]
    [InlineData("mgu")]
    public void UserCellsSplitTheBatchOverThreadsWithTheSameBits(string kind)
    {
        var one = Run(kind, threads: 1, out var planOne);
        var two = Run(kind, threads: 2, out var planTwo);
        Assert.All(planOne.Directions, d => Assert.Equal(LoopStrategy.Serial, d.Forward));
        if (Environment.ProcessorCount >= 2)
        {
            Assert.All(planTwo.Directions, d => Assert.Equal(LoopStrategy.BatchSplit, d.Forward));
        }

        Assert.Equal(one.Length, two.Length);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.Equal(one[i], two[i]);
        }
    }

    [Fact]
    public void ARecurrentProductOfACellWithoutRecurrentWeightsThrows()
    {
        var block = new ParameterBlock<float>();
        var cell = new NoRecurrenceCell<float>(block, 2, 4, "_l0");
        var error = Assert.Throws<InvalidOperationException>(() => new RecurrentProduct<float>(cell, 1).Forward(new float[4], new float[4], accumulate: false));
        Assert.Contains("no recurrent weights", error.Message);
    }

    [Fact]
    public void ARecurrentProductChecksItsSpansAndProductIndex()
    {
        var block = new ParameterBlock<float>();
        var cell = new MguCell<float>(block, 2, 4, "_l0");
        cell.PrepareWeights(backward: false);
        var shortOutput = Assert.Throws<ArgumentException>(() => new RecurrentProduct<float>(cell, 2).Forward(0, new float[8], new float[7], accumulate: false));
        Assert.Equal("output", shortOutput.ParamName);
        Assert.Contains("has 7 elements but the product needs 8", shortOutput.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecurrentProduct<float>(cell, 2).Forward(2, new float[8], new float[8], accumulate: false));
        cell.ReleaseWeights();
    }

    // Forward and backward of two float layers at (T, B, H) = (12, 32, 64): outputs, final state, dL/dx, every gradient.
    private static float[][] Run(string kind, int threads, out ExecutionPlan plan)
    {
        var random = new SeededRandom(3);
        var block = new ParameterBlock<float>();
        var layer = Layer(kind, block, 16, 64, 2, bidirectional: true);
        layer.MaxDegreeOfParallelism = threads;
        Initializers.Uniform(block.Values, -0.3, 0.3, random);
        return EngineTests.ForwardBackward(layer, random, 12, 32, out plan);
    }
}
