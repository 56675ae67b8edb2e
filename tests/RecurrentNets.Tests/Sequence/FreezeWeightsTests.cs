using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

/// <summary><see cref="RecurrentLayer{T}.FreezeWeights"/>: weights packed once, the same outputs, stale by contract, no training.</summary>
public class FreezeWeightsTests
{
    [Theory]
    [InlineData("lstm", 6, 3, 64, 1)]
    [InlineData("cifg-peephole", 6, 3, 40, 1)]
    [InlineData("gru", 6, 3, 64, 1)]
    [InlineData("gru-cho", 6, 3, 48, 1)]
    [InlineData("rnn", 6, 3, 64, 1)]
    [InlineData("lstm", 40, 32, 64, 1)] // 1.3 MB of gates: projected in chunks of 8 steps
    [InlineData("lstm", 40, 32, 64, 2)] // the time loop split over batch rows
    [InlineData("gru", 40, 32, 64, 2)]
    [InlineData("gru-cho", 40, 32, 48, 1)]
    [InlineData("lstm", 9, 1, 128, 2)] // split over units
    [InlineData("cifg-peephole", 9, 2, 128, 2)]
    public void FrozenForwardGivesTheBitsOfTheUnfrozenOne(string cell, int steps, int batch, int hidden, int threads)
    {
        // Frozen passes keep no activations for Backward: gates, step caches and C reuse a few slots (see ringCaches).
        var scope = KernelScope.Enter(threads);
        try
        {
            var (layer, x) = Make(cell, steps, batch, hidden);
            var y = new Tensor<float>(steps, batch, layer.OutputSize);
            var frozen = new Tensor<float>(steps, batch, layer.OutputSize);
            var final = layer.CreateState(batch);
            var frozenFinal = layer.CreateState(batch);
            layer.Forward(x, y, null, final);
            layer.FreezeWeights();
            Assert.True(layer.WeightsFrozen);
            layer.Forward(x, frozen, null, frozenFinal);
            Assert.Equal(y.Data, frozen.Data);
            Assert.Equal(final.Hidden.Data, frozenFinal.Hidden.Data);
            Assert.Equal(final.Cell?.Data, frozenFinal.Cell?.Data);
            layer.Forward(x, frozen);
            Assert.Equal(y.Data, frozen.Data);

            // A pass on frozen weights is not one Backward can follow, even after thawing.
            layer.UnfreezeWeights();
            Assert.Throws<InvalidOperationException>(() => layer.Backward(y));
        }
        finally
        {
            scope.Dispose();
        }
    }

    [Fact]
    public void FrozenWeightsIgnoreLaterWritesUntilThawedOrFrozenAgain()
    {
        var (layer, x) = Make("lstm");
        var before = new Tensor<float>(6, 3, layer.OutputSize);
        var after = new Tensor<float>(6, 3, layer.OutputSize);
        layer.FreezeWeights();
        layer.Forward(x, before);

        // Change W_ih and W_hh: the frozen layer still runs the matrices of its FreezeWeights call.
        var changed = new Tensor<float>(6, 3, layer.OutputSize);
        foreach (var view in layer.Parameters.Views)
        {
            if (view.Name.StartsWith("weight_", StringComparison.Ordinal))
            {
                view.Values[0] += 0.5f;
            }
        }

        layer.Forward(x, after);
        Assert.Equal(before.Data, after.Data);

        // Biases are read at each call, frozen or not.
        layer.Parameters["bias_ih_l0"].Values[0] += 0.5f;
        layer.Forward(x, after);
        Assert.NotEqual(before.Data, after.Data);
        layer.Parameters["bias_ih_l0"].Values[0] -= 0.5f;

        layer.UnfreezeWeights();
        Assert.False(layer.WeightsFrozen);
        layer.Forward(x, changed);
        Assert.NotEqual(before.Data, changed.Data);

        layer.FreezeWeights();
        layer.Forward(x, after);
        Assert.Equal(changed.Data, after.Data);
    }

    [Fact]
    public void BackwardThrowsWhileTheWeightsAreFrozen()
    {
        var (layer, x) = Make("gru");
        var y = new Tensor<float>(6, 3, layer.OutputSize);
        layer.FreezeWeights();
        layer.Forward(x, y);
        var error = Assert.Throws<InvalidOperationException>(() => layer.Backward(y));
        Assert.Contains("UnfreezeWeights", error.Message);

        // Thawed, the layer trains again.
        layer.UnfreezeWeights();
        layer.Forward(x, y);
        layer.Backward(y);
    }

    [Fact]
    public void FrozenForwardAllocatesNothing()
    {
        var (layer, x) = Make("lstm");
        var y = new Tensor<float>(6, 3, layer.OutputSize);
        layer.FreezeWeights();
        layer.Forward(x, y);
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => layer.Forward(x, y), 5));
    }

    private static (RecurrentLayer<float> Layer, Tensor<float> X) Make(string cell, int steps = 6, int batch = 3, int hidden = 0)
    {
        var random = new SeededRandom(3);
        var block = new ParameterBlock<float>();
        RecurrentLayer<float> layer = cell switch
        {
            "lstm" => new Lstm<float>(5, hidden > 0 ? hidden : 64, 2, random: random, parameters: block, bidirectional: true),
            "cifg-peephole" => new Lstm<float>(5, hidden > 0 ? hidden : 40, random: random, parameters: block, peephole: true, coupledInputForget: true),
            "gru" => new Gru<float>(5, hidden > 0 ? hidden : 64, 2, random: random, parameters: block),
            "gru-cho" => new Gru<float>(5, hidden > 0 ? hidden : 48, random: random, parameters: block, resetAfterRecurrence: false),
            _ => new Rnn<float>(5, hidden > 0 ? hidden : 64, random: random, parameters: block, bidirectional: true),
        };
        layer.Training = false;
        var x = EngineTests.Random<float>(random, steps, batch, 5);

        return (layer, x);
    }
}
