using RecurrentNets.Kernels;

namespace RecurrentNets.Tests.Kernels;

/// <summary>The library's own log, power and cos(π·t): accurate to an ulp or so, with the special values of the C library's.</summary>
public class ScalarMathTests
{
    [Fact]
    public void LogIsWithinOneUlpEverywhere()
    {
        var random = new Random(21);
        for (int i = 0; i < 300_000; i++)
        {
            double x = Math.ScaleB(1 + random.NextDouble(), random.Next(-1074, 1024));
            double expected = Math.Log(x), got = ScalarMath.Log(x);
            Assert.True(Math.Abs(got - expected) <= Math.Abs(Math.BitIncrement(expected) - expected), $"ln {x:R} = {got:R}, Math.Log gives {expected:R}");
        }

        foreach (double x in new[] { 1.0, 2.0, 0.5, Math.E, 1 + 1e-10, 1 - 1e-10, double.Epsilon, double.MaxValue, 2.2250738585072014e-308 })
            Assert.Equal(Math.Log(x), ScalarMath.Log(x), Math.Abs(Math.Log(x)) * 2.3e-16);
        Assert.Equal(0.0, ScalarMath.Log(1));
        Assert.Equal(double.NegativeInfinity, ScalarMath.Log(0));
        Assert.Equal(double.NegativeInfinity, ScalarMath.Log(-0.0));
        Assert.Equal(double.PositiveInfinity, ScalarMath.Log(double.PositiveInfinity));
        Assert.True(double.IsNaN(ScalarMath.Log(-1)) && double.IsNaN(ScalarMath.Log(double.NaN)));
    }

    [Fact]
    public void PowerIsRepeatedMultiplication()
    {
        Assert.Equal(1.0, ScalarMath.Power(0.9, 0));
        Assert.Equal(0.9, ScalarMath.Power(0.9, 1));
        Assert.Equal(0.9 * 0.9, ScalarMath.Power(0.9, 2));
        Assert.Equal(1 / (2.0 * 2 * 2), ScalarMath.Power(2, -3));
        // Relative error about n ulp (each squaring doubles the error of its operand), as n multiplications would give.
        foreach (long n in new long[] { 3, 7, 10, 100, 1000, 12345, 1_000_000 })
        {
            Assert.Equal(Math.Pow(0.999, n), ScalarMath.Power(0.999, n), Math.Pow(0.999, n) * n * 2.3e-16);
            Assert.Equal(Math.Pow(0.9, n), ScalarMath.Power(0.9, n), Math.Pow(0.9, n) * n * 2.3e-16);
        }

        Assert.Equal(Math.Pow(2.5, 0.37), ScalarMath.Pow(2.5, 0.37), 1e-15);
        Assert.Equal(0.0, ScalarMath.Pow(0, 2.5));
    }

    [Fact]
    public void CosPiIsAccurateAndExactWhereCosIs()
    {
        for (int i = -4000; i <= 4000; i++)
        {
            double t = i * 1e-3;
            // Math.Cos sees π·t rounded (up to 1.4e-15 off at |t| = 4); CosPi reduces t exactly.
            Assert.Equal(Math.Cos(Math.PI * t), ScalarMath.CosPi(t), 2e-15);
        }

        Assert.Equal(1.0, ScalarMath.CosPi(0));
        Assert.Equal(-1.0, ScalarMath.CosPi(1));
        Assert.Equal(1.0, ScalarMath.CosPi(2));
        Assert.Equal(0.0, ScalarMath.CosPi(0.5), 1e-300);
        Assert.True(double.IsNaN(ScalarMath.CosPi(double.PositiveInfinity)));
    }
}
