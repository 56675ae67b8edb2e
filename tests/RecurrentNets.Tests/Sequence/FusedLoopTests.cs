using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RecurrentNets.Sequence;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// Batch-1 loops whose recurrent products carry the input projection of the next block of steps (forward) and dL/dx of
/// finished blocks (backward) give the bits of the plain loops: outputs, final states, every gradient, dL/dx, dL/d initial
/// state, and a frozen pass after them; forward and reverse directions, full and partial last blocks, with and without
/// biases.
/// </summary>
public class FusedLoopTests
{
    // Without AVX-512 nothing is fused and both runs would be the plain loops: skipped there, with the reason.
    [Avx512Theory]
    [InlineData("lstm", 128, 1, false, 100, 128, true, 1)]
    [InlineData("lstm", 64, 2, true, 23, 7, true, 0)]
    [InlineData("lstm", 256, 1, false, 40, 512, true, 1)] // long products: blocks leave units for after their steps; K blocks
    [InlineData("peephole", 32, 1, true, 17, 40, true, 0)]
    [InlineData("cifg-peephole", 128, 1, false, 16, 96, false, 1)]
    [InlineData("cifg", 128, 2, false, 31, 5, true, 1)] // dL/dx of layer 2 only (the input has 5 columns)
    [InlineData("gru", 128, 1, true, 40, 128, true, 2)]
    [InlineData("gru", 256, 1, false, 24, 9, false, 0)] // dL/dx of 9 columns is not whole panels: computed after the loop
    [InlineData("gru-cho", 128, 1, true, 19, 128, true, 2)] // Cho's form: two products on W_hh's row blocks, each packed
    [InlineData("rnn", 128, 2, true, 33, 128, true, 4)]
    [InlineData("rnn-relu", 256, 1, false, 20, 64, false, 1)]
    public void FusedLoopsGiveTheBitsOfThePlainOnes(string cell, int hidden, int layers, bool bidirectional, int steps,
        int inputSize, bool bias, int backwardLoops, bool forwardFused = true)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var plans = new List<ExecutionPlan>();
            float[][] fused = UnitSplitTests.Run(threads, cell, 1, hidden, layers, bidirectional, inputSize, steps, bias, frozen: true, plans: plans);

            // The plan fuses every layer and direction's forward projection (on one thread or split over units: LSTM
            // (1, 128), GRU (1, 256) and Elman (1, 256) on two), and backward, on one thread, dL/dx where it fits.
            var directions = plans[0].Directions;
            Assert.Equal(forwardFused ? layers * (bidirectional ? 2 : 1) : 0, directions.Count(d => d.FusedProjection));
            if (threads == 1)
            {
                Assert.Equal(backwardLoops, directions.Count(d => d.FusedInputGradient));
            }

            float[][] plain = UnitSplitTests.Run(threads, cell, 1, hidden, layers, bidirectional, inputSize, steps, bias, frozen: true, fuse: false, plans: plans);
            Assert.DoesNotContain(plans[1].Directions, d => d.FusedProjection || d.FusedInputGradient);
            Assert.Equal(plain.Length, fused.Length);
            for (int i = 0; i < plain.Length; i++)
            {
                Assert.Equal(plain[i], fused[i]);
            }
        }
    }
}

