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

public class VectorMathFloatTests
{
    // Dense over the exp range, around the branch points (0, the tail clamps) and down to denormals.
    internal static float[] Points()
    {
        var xs = new List<float> { 0f, -0f, 1e-40f, -1e-40f, 1e-30f, 1e-8f, float.Epsilon, 9.9f, 10f, 10.1f, 17f, 87f, 88f, 103f, 104f, 105f, 200f, float.MaxValue };
        for (int i = -200000; i <= 200000; i++)
        {
            xs.Add(i * 6e-4f);
        }

        for (float v = 1e-12f; v < 1e3f; v *= 1.001f)
        {
            xs.Add(v);
            xs.Add(-v);
        }

        return xs.ToArray();
    }

    // |got − exact| in ulps of the float nearest the exact value.
    internal static double Ulps(float got, double exact)
    {
        float nearest = (float)exact;
        double ulp = Math.Abs((double)MathF.BitIncrement(Math.Abs(nearest)) - Math.Abs(nearest));
        return Math.Abs(got - exact) / ulp;
    }

    [Fact]
    public void SigmoidIsWithinThreeUlpOfTheExactValue()
    {
        float[] xs = Points();
        var values = new float[xs.Length];
        VectorMath.Sigmoid(xs, values);
        double worst = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double exact = 1 / (1 + Math.Exp(-(double)xs[i]));
            double ulps = Ulps(values[i], exact);
            worst = Math.Max(worst, ulps);
            Assert.True(ulps <= 3, $"σ({xs[i]:R}) = {values[i]:R}, exact {exact:R}: {ulps:F2} ulp");
        }

        Assert.True(worst > 0.5, $"worst {worst:F2} ulp: the comparison must see the approximation");
    }

    [Fact]
    public void TanhIsWithinThreeUlpOfTheExactValue()
    {
        float[] xs = Points();
        var values = new float[xs.Length];
        VectorMath.Tanh(xs, values);
        double worst = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double exact = Math.Tanh(xs[i]);
            double ulps = Ulps(values[i], exact);
            worst = Math.Max(worst, ulps);
            Assert.True(ulps <= 3, $"tanh({xs[i]:R}) = {values[i]:R}, exact {exact:R}: {ulps:F2} ulp");
            Assert.True(float.IsNegative(xs[i]) == float.IsNegative(values[i]), $"sign of tanh({xs[i]:R}) = {values[i]:R}");
        }

        Assert.True(worst > 0.5, $"worst {worst:F2} ulp: the comparison must see the approximation");
    }

    [Fact]
    public void SpecialValues()
    {
        float[] xs = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f];
        var s = new float[xs.Length];
        var t = new float[xs.Length];
        VectorMath.Sigmoid(xs, s);
        VectorMath.Tanh(xs, t);
        Assert.True(float.IsNaN(s[0]) && float.IsNaN(t[0]));
        Assert.Equal([1f, 0f, 0.5f, 0.5f], s[1..]);
        Assert.Equal([1f, -1f], t[1..3]);
        Assert.True(t[3] == 0 && !float.IsNegative(t[3]) && float.IsNegative(t[4]));
        Assert.True(float.IsNaN(VectorMath.Sigmoid(float.NaN)) && float.IsNaN(VectorMath.Tanh(float.NaN)));
    }

    [Fact]
    public void EveryPositionAndLengthGivesTheSameBits()
    {
        // The Vector512 body, the Vector<float> body and the scalar tail run the same operations: an element's result
        // must not depend on where a span starts or how long it is (every length past two 512-bit vectors).
        var random = new Random(7);
        float[] source = Enumerable.Range(0, 83).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
        foreach (bool sigmoid in new[] { true, false })
        {
            var whole = new float[source.Length];
            if (sigmoid) VectorMath.Sigmoid(source, whole); else VectorMath.Tanh(source, whole);
            for (int start = 0; start < 17; start++)
            {
                for (int length = 0; start + length <= source.Length; length++)
                {
                    var part = source.AsSpan(start, length).ToArray();
                    if (sigmoid) VectorMath.Sigmoid(part, part); else VectorMath.Tanh(part, part);
                    Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
                }
            }

            for (int i = 0; i < source.Length; i++)
            {
                float one = sigmoid ? VectorMath.Sigmoid(source[i]) : VectorMath.Tanh(source[i]);
                Assert.Equal(BitConverter.SingleToInt32Bits(whole[i]), BitConverter.SingleToInt32Bits(one));
            }
        }
    }
}
