using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2.Tasks;

/// <summary>
/// "Memorise one sequence" (Cheng and Brown 2025, exp1): one sequence of random one-hot items that the consolidator learns
/// to reproduce by next-item prediction (n = 64 per group, 6 symbols, 20 items, Adam lr 5e-3; stop when the mean loss over
/// the last 1 000 episodes is below 1e-3, at most 50 000 episodes).
/// </summary>
public static class SequenceMemorizationTask
{
    /// <summary>A sequence [length, symbols] of random one-hot items.</summary>
    /// <exception cref="ArgumentOutOfRangeException">length &lt; 2 or symbols &lt; 1.</exception>
    public static Tensor<double> Create(int length, int symbols, SeededRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(symbols, 1);
        ArgumentNullException.ThrowIfNull(random);
        var x = new Tensor<double>(length, symbols);
        for (int t = 0; t < length; t++)
        {
            x[t, random.NextInt(symbols)] = 1;
        }

        return x;
    }
}
