using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.R2N2;

/// <summary>The Hopfield sequence cache of R2N2 (Cheng and Brown 2025): one-shot storage, forward and reverse replay.</summary>
public class CacheTests(ITestOutputHelper output)
{
    internal static double[] Patterns(int count, int size, SeededRandom random, double density = 0.4)
    {
        var p = new double[count * size];
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = random.NextDouble() < density ? 1 : -1;
        }

        return p;
    }

    [Theory]
    [InlineData(CachePumpMode.SelfTimed, ReplayDirection.Forward)]
    [InlineData(CachePumpMode.SelfTimed, ReplayDirection.Reverse)]
    [InlineData(CachePumpMode.ExternalCosine, ReplayDirection.Forward)]
    [InlineData(CachePumpMode.ExternalCosine, ReplayDirection.Reverse)]
    public void FiveHundredUnitsRecallTwentyPatternsInOrder(CachePumpMode pump, ReplayDirection direction)
    {
        const int n = 500, count = 20;
        var patterns = Patterns(count, n, new SeededRandom(21));
        var cache = new HopfieldSequenceCache(n, pump);
        cache.Store(patterns);
        cache.Start(direction);
        double minOverlap = 1;
        for (int j = 0; j < count; j++)
        {
            if (j > 0)
            {
                cache.Advance();
            }

            int expected = direction == ReplayDirection.Forward ? j : count - 1 - j;
            double best = -1;
            int bestIndex = -1;
            for (int q = 0; q < count; q++)
            {
                double o = cache.Overlap(patterns.AsSpan(q * n, n));
                if (o > best)
                {
                    best = o;
                    bestIndex = q;
                }
            }

            Assert.Equal(expected, bestIndex);
            minOverlap = Math.Min(minOverlap, cache.Overlap(patterns.AsSpan(expected * n, n)));
        }

        output.WriteLine($"{pump} {direction}: all {count} items in order, min overlap {minOverlap:F3}, {cache.StepsRun} steps");
        Assert.True(minOverlap > 0.95, $"min overlap {minOverlap}");
    }

    [Fact]
    public void StoringBeyondCapacityIsAClearError()
    {
        var cache = new HopfieldSequenceCache(500);
        Assert.Equal(40, cache.Capacity);
        var e = Assert.Throws<ArgumentException>(() => cache.Store(Patterns(41, 500, new SeededRandom(1))));
        output.WriteLine(e.Message);
        Assert.Contains("capacity", e.Message);
        Assert.Contains("40", e.Message);
    }
}
