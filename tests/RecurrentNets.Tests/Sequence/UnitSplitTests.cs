using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// The time loop split over hidden units (two threads, one range of units each, meeting once per step) gives the bits
/// of one thread: outputs, final states, every parameter gradient, dL/dx and dL/d initial state.
/// </summary>
public class UnitSplitTests
{
    [Theory]
    [InlineData("lstm", 1, 128, 1, false)]
    [InlineData("lstm", 3, 96, 2, false)]
    [InlineData("lstm", 1, 64, 1, true)]
    [InlineData("lstm", 32, 64, 1, false)]
    [InlineData("peephole", 1, 128, 1, false)]
    [InlineData("cifg", 2, 64, 1, false)]
    [InlineData("cifg-peephole", 1, 96, 2, true)]
    [InlineData("gru", 1, 128, 1, false)]
    [InlineData("gru", 5, 64, 2, true)]
    [InlineData("gru", 32, 64, 1, false)]
    [InlineData("rnn", 1, 128, 1, false)]
    [InlineData("rnn-relu", 2, 96, 2, true)]
    [InlineData("rnn", 32, 64, 1, false)]
    [InlineData("lstm", 16, 1024, 1, false, 1024)] // 17 MB of weights: the forward loop splits by units at batch 16 too
    [InlineData("gru", 16, 1024, 1, false, 512)]
    public void TwoThreadsGiveTheBitsOfOne(string cell, int batch, int hidden, int layers, bool bidirectional, int inputSize = 7)
    {
        var one = Run(1, cell, batch, hidden, layers, bidirectional, inputSize);
        var two = Run(2, cell, batch, hidden, layers, bidirectional, inputSize);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.Equal(one[i], two[i]);
        }
    }

    [Fact]
    public async Task AFailingPartReleasesTheOtherAtTheBarrier()
    {
        // A barrier whose partner aborted returns false at once instead of waiting for it.
        var barrier = new SpinBarrier();
        barrier.Reset(2);
        var waiter = Task.Run(barrier.SignalAndWait);
        barrier.Abort();
        bool released = await waiter.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(released);
    }

    [Fact]
    public async Task AWaiterThatBlockedIsWokenByTheLastArrival()
    {
        // The first part waits well past the 20 µs spin (it blocks); the second arrives 50 ms later and releases it,
        // three rounds of the same barrier.
        var barrier = new SpinBarrier();
        barrier.Reset(2);
        int rounds = 0;
        var waiter = Task.Run(() =>
        {
            for (int i = 0; i < 3; i++)
            {
                if (!barrier.SignalAndWait())
                {
                    return false;
                }

                Interlocked.Increment(ref rounds);
            }

            return true;
        });
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(50);
            Assert.True(barrier.SignalAndWait());
        }

        Assert.True(await waiter.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(3, Volatile.Read(ref rounds));
    }

    /// <summary>
    /// Forward and backward of a float layer on <paramref name="threads"/> threads with normal draws of seed 5: outputs,
    /// final states, parameter gradients, dL/dx and dL/d initial state (and, when <paramref name="frozen"/>, the outputs
    /// and final states of a frozen forward pass after them).
    /// </summary>
    internal static float[][] Run(int threads, string cell, int batch, int hidden, int layers, bool bidirectional, int inputSize,
        int steps = 9, bool bias = true, bool frozen = false, bool fuse = true, List<ExecutionPlan>? plans = null)
    {
        var scope = KernelScope.Enter(threads);
        try
        {
            var random = new SeededRandom(5);
            var block = new ParameterBlock<float>();
            RecurrentLayer<float> rnn = cell switch
            {
                "lstm" => new Lstm<float>(inputSize, hidden, layers, bias, random, block, bidirectional),
                "peephole" => new Lstm<float>(inputSize, hidden, layers, bias, random, block, bidirectional, peephole: true),
                "cifg" => new Lstm<float>(inputSize, hidden, layers, bias, random, block, bidirectional, coupledInputForget: true),
                "cifg-peephole" => new Lstm<float>(inputSize, hidden, layers, bias, random, block, bidirectional, peephole: true, coupledInputForget: true),
                "gru" => new Gru<float>(inputSize, hidden, layers, bias, random, block, bidirectional),
                "gru-cho" => new Gru<float>(inputSize, hidden, layers, bias, random, block, bidirectional, resetAfterRecurrence: false),
                "rnn-relu" => new Rnn<float>(inputSize, hidden, layers, Activation.Relu, bias, random, block, bidirectional),
                _ => new Rnn<float>(inputSize, hidden, layers, bias: bias, random: random, parameters: block, bidirectional: bidirectional),
            };

            // Peephole weights start at zero in some initialisations: give them values so their paths are exercised.
            foreach (var view in block.Views)
            {
                if (view.Name.StartsWith("weight_c", StringComparison.Ordinal))
                {
                    for (int i = 0; i < view.Values.Length; i++)
                    {
                        view.Values[i] = (float)(0.3 * random.NextNormal());
                    }
                }
            }

            rnn.FuseProducts = fuse;
            plans?.Add(rnn.Plan(steps, batch));
            int width = rnn.OutputSize;
            var x = EngineTests.Random<float>(random, steps, batch, inputSize);
            var dy = EngineTests.Random<float>(random, steps, batch, width);
            var h0 = rnn.CreateState(batch);
            var dFinal = rnn.CreateState(batch);
            EngineTests.Fill(h0, random, 0.5);
            EngineTests.Fill(dFinal, random, 0.5);
            var y = new Tensor<float>(steps, batch, width);
            var final = rnn.CreateState(batch);
            var dx = new Tensor<float>(steps, batch, inputSize);
            var dInitial = rnn.CreateState(batch);
            block.ZeroGradients();
            rnn.Forward(x, y, h0, final);
            rnn.Backward(dy, dFinal, dx, dInitial);
            float[][] results =
            [
                y.Data, final.Hidden.Data, final.Cell?.Data ?? [], (float[])block.Gradients.Clone(), dx.Data,
                dInitial.Hidden.Data, dInitial.Cell?.Data ?? [],
            ];
            if (!frozen)
            {
                return results;
            }

            rnn.FreezeWeights();
            var yFrozen = new Tensor<float>(steps, batch, width);
            var finalFrozen = rnn.CreateState(batch);
            rnn.Forward(x, yFrozen, h0, finalFrozen);
            return [.. results, yFrozen.Data, finalFrozen.Hidden.Data, finalFrozen.Cell?.Data ?? []];
        }
        finally
        {
            scope.Dispose();
        }
    }
}
