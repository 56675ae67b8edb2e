using RecurrentNets.Kernels;
using Xunit;

namespace RecurrentNets.Tests.Kernels;

public class VectorMathTests
{
    [Fact]
    public void TanhMatchesMathTanhToAFewUlpOverTheWholeRange()
    {
        // Dense around the branch point 1/8, across the exp range, and out to where tanh rounds to ±1.
        var xs = new List<double> { 0.0, -0.0, 1e-300, -1e-300, 1e-8, 0.125, -0.125, Math.BitDecrement(0.125), 22, 22.5, 40, 700, 1e300 };
        for (int i = -20000; i <= 20000; i++)
        {
            xs.Add(i * 1e-3);
            xs.Add(i * 1.37e-5);
        }

        var values = xs.ToArray();
        VectorMath.Tanh(values);
        double worst = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double expected = Math.Tanh(xs[i]);
            double error = Math.Abs(values[i] - expected) / Math.Max(Math.Abs(expected), double.Epsilon);
            worst = Math.Max(worst, error);
            Assert.True(error < 2e-15, $"tanh({xs[i]:R}) = {values[i]:R}, Math.Tanh gives {expected:R}");
            Assert.True(double.IsNegative(xs[i]) == double.IsNegative(values[i]), $"sign of tanh({xs[i]:R}) = {values[i]:R}");
        }

        Assert.True(worst > 0, "the comparison must see the approximation (worst error 0 would mean the test did not run it)");
    }

    [Fact]
    public void TanhKeepsSpecialValues()
    {
        var values = new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 0.5 };
        VectorMath.Tanh(values);
        Assert.True(double.IsNaN(values[0]) && double.IsNaN(values[3]));
        Assert.Equal(1.0, values[1]);
        Assert.Equal(-1.0, values[2]);
        Assert.Equal(Math.Tanh(0.5), values[4], 1e-15);
    }

    [Fact]
    public void TanhGivesTheSameBitsAtEveryPositionAndLength()
    {
        // The vector body and the scalar tail must agree, so results do not depend on how a span is split.
        var random = new Random(5);
        var source = Enumerable.Range(0, 67).Select(_ => random.NextDouble() * 8 - 4).ToArray();
        var whole = (double[])source.Clone();
        VectorMath.Tanh(whole);
        for (int start = 0; start < 9; start++)
        {
            for (int length = 0; start + length <= source.Length; length += 5)
            {
                var part = source.AsSpan(start, length).ToArray();
                VectorMath.Tanh(part);
                Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
                for (int i = 0; i < length; i++)
                {
                    Assert.Equal(BitConverter.DoubleToInt64Bits(VectorMath.Tanh(source[start + i])), BitConverter.DoubleToInt64Bits(part[i]));
                }
            }
        }
    }
}
