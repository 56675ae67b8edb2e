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
[Collection(HostedProjectionCollection.Name)]
public class HostedProjectionTests
{
    // Without AVX-512 nothing is hosted and both runs would be the plain loops: skipped there, with the reason.
    [Avx512Theory]
    [InlineData("lstm", 128, 1, false, 100, 128, true, 1)]
    [InlineData("lstm", 64, 2, true, 23, 7, true, 0)]
    [InlineData("lstm", 256, 1, false, 40, 512, true, 1)] // long products: blocks leave units for after their steps; K blocks
    [InlineData("peephole", 32, 1, true, 17, 40, true, 0)]
    [InlineData("cifg-peephole", 128, 1, false, 16, 96, false, 1)]
    [InlineData("cifg", 128, 2, false, 31, 5, true, 1)] // dL/dx of layer 2 only (the input has 5 columns)
    [InlineData("gru", 128, 1, true, 40, 128, true, 2)]
    [InlineData("gru", 256, 1, false, 24, 9, false, 0)] // dL/dx of 9 columns is not whole panels: computed after the loop
    [InlineData("gru-cho", 128, 1, true, 19, 128, true, 0, false)] // Cho's form keeps W_hh unpacked: never hosted
    [InlineData("rnn", 128, 2, true, 33, 128, true, 4)]
    [InlineData("rnn-relu", 256, 1, false, 20, 64, false, 1)]
    public void HostedProductsGiveTheBitsOfThePlainOnes(string cell, int hidden, int layers, bool bidirectional, int steps,
        int inputSize, bool bias, int backwardLoops, bool forwardHosted = true)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            long forwardBefore = RecurrentLayer<float>.HostedLoops, backwardBefore = RecurrentLayer<float>.HostedBackwardLoops;
            float[][] hosted = Run(true, threads, cell, hidden, layers, bidirectional, steps, inputSize, bias);
            // Forward: every layer and direction, the training pass and the frozen one, on one thread or split over units
            // (LSTM (1, 128), GRU (1, 256) and Elman (1, 256) on two); backward, on one thread: where dL/dx fits.
            Assert.Equal(forwardBefore + (forwardHosted ? 2 * layers * (bidirectional ? 2 : 1) : 0), RecurrentLayer<float>.HostedLoops);
            if (threads == 1)
            {
                Assert.Equal(backwardBefore + backwardLoops, RecurrentLayer<float>.HostedBackwardLoops);
            }

            float[][] whole = Run(false, threads, cell, hidden, layers, bidirectional, steps, inputSize, bias);
            Assert.Equal(whole.Length, hosted.Length);
            for (int i = 0; i < whole.Length; i++)
            {
                Assert.Equal(whole[i], hosted[i]);
            }
        }
    }

    private static float[][] Run(bool hosts, int threads, string cell, int hidden, int layers, bool bidirectional, int steps, int inputSize, bool bias)
    {
        bool saved = RecurrentLayer<float>.HostsProjection;
        RecurrentLayer<float>.HostsProjection = hosts;
        try
        {
            return UnitSplitTests.Run(threads, cell, 1, hidden, layers, bidirectional, inputSize, steps, bias, frozen: true);
        }
        finally
        {
            RecurrentLayer<float>.HostsProjection = saved;
        }
    }
}

/// <summary>The tests that switch <see cref="RecurrentLayer{T}.HostsProjection"/> off run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostedProjectionCollection
{
    public const string Name = "Hosted projection (global switch)";
}
