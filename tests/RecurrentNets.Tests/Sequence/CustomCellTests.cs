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
/// A user-written cell runs in the same engine: a leaky-integrator tanh cell h = (1 - α)·h(t-1) + α·tanh(a), written
/// here from scratch, gets stacking, bidirectional layers, truncation and caches, and passes a gradient check.
/// </summary>
public class CustomCellTests
{
    /// <summary>h(t) = (1 - α) h(t-1) + α tanh(W_ih x + b_ih + W_hh h(t-1) + b_hh), α fixed.</summary>
    private sealed class LeakyTanhCell<T> : RecurrentCell<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T alpha;

        public LeakyTanhCell(ParameterBlock<T> block, int inputSize, int hiddenSize, double alpha, string suffix)
            : base(block, inputSize, hiddenSize, gateCount: 1, bias: true, suffix)
            => this.alpha = T.CreateTruncating(alpha);

        // Keeps tanh(a) for backward.
        public override int StepCacheWidth => HiddenSize;

        public override void Forward(in CellStep<T> step)
        {
            int b = step.BatchSize, h = HiddenSize;
            Gemm.MultiplyTransposeB(step.HiddenPrev, WeightHH!.Values, step.Gates, b, h, h, accumulate: true);
            TP.Tanh<T>(step.Gates, step.StepCache);
            TP.Multiply(step.HiddenPrev, T.One - alpha, step.Hidden);
            TP.MultiplyAdd(step.StepCache, alpha, step.Hidden, step.Hidden);
        }

        public override void Backward(in CellStep<T> step)
        {
            int b = step.BatchSize, h = HiddenSize;

            // da = α·dh ⊙ (1 - tanh²); dh(t-1) = (1 - α)·dh + da·W_hh.
            TP.Multiply(step.DHidden, alpha, step.Scratch[..(b * h)]);
            Elementwise.TanhBackward<T>(step.StepCache, step.Scratch[..(b * h)], step.Gates);
            TP.Multiply(step.DHidden, T.One - alpha, step.DHiddenPrev);
            Gemm.Multiply<T>(step.Gates, WeightHH!.Values, step.DHiddenPrev, b, h, h, accumulate: true);
        }
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void CustomCellGetsStackingBidirectionalityAndExactGradients(int numLayers, bool bidirectional)
    {
        var random = new SeededRandom(8);
        var block = new ParameterBlock<double>();
        var layer = new RecurrentLayer<double>(block, 3, 4, numLayers,
            (blk, _, inputSize, suffix) => new LeakyTanhCell<double>(blk, inputSize, 4, 0.3, suffix), bidirectional);
        Initializers.Uniform(block.Values, -1, 1, random);
        Assert.Contains("weight_hh_l0", block.Views.Select(v => v.Name));
        Assert.Equal(bidirectional, block.Contains("weight_hh_l0_reverse"));

        var x = EngineTests.Random(random, 6, 2, 3);
        var y = new Tensor<double>(6, 2, layer.OutputSize);
        var w = EngineTests.Random(random, 6, 2, layer.OutputSize);
        // L = Σ w ⊙ y², so dL/dy = 2·w ⊙ y.
        double LossAndBackward()
        {
            layer.Forward(x, y);
            double loss = 0;
            for (int i = 0; i < y.Length; i++)
            {
                loss += y.Data[i] * y.Data[i] * w.Data[i];
            }

            var dy = new Tensor<double>(6, 2, layer.OutputSize);
            for (int i = 0; i < y.Length; i++)
            {
                dy.Data[i] = 2 * y.Data[i] * w.Data[i];
            }

            layer.Backward(dy);
            return loss;
        }

        foreach (var result in GradientCheck.CheckParameters(block, LossAndBackward))
        {
            Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
        }
    }
}
