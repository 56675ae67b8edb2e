using System.Numerics;
using RecurrentNets.Kernels;
using Xunit;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// The reservoir step's tanh and σ (<see cref="VectorMath.TanhTwoRoundings{T}"/>): every multiply-add rounded twice, so
/// the same bits on every CPU without an FMA emulation. Accuracy against Math, the bits against a scalar twin written
/// here with plain arithmetic (which cannot fuse), and the same bits wherever an element lies in a span.
/// </summary>
public class TwoRoundingsMathTests
{
    private static double[] DoublePoints()
    {
        var xs = new List<double> { 0.0, -0.0, 1e-300, -1e-300, 1e-8, 0.125, -0.125, 0.1733, 0.35, 22, 22.5, 40, 700, 1e300, double.Epsilon };
        for (int i = -20000; i <= 20000; i++)
        {
            xs.Add(i * 1e-3);
            xs.Add(i * 1.37e-5);
        }

        for (double v = 1e-12; v < 1e3; v *= 1.001)
        {
            xs.Add(v);
            xs.Add(-v);
        }

        return xs.ToArray();
    }

    [Fact]
    public void DoubleTanhIsWithinOneEMinus15OfMathTanh()
    {
        double[] xs = DoublePoints();
        var values = new double[xs.Length];
        VectorMath.TanhTwoRoundings<double>(xs, values);
        double worst = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double expected = Math.Tanh(xs[i]);
            double error = Math.Abs(values[i] - expected) / Math.Max(Math.Abs(expected), double.Epsilon);
            worst = Math.Max(worst, error);
            Assert.True(error < 1e-15, $"tanh({xs[i]:R}) = {values[i]:R}, Math.Tanh gives {expected:R}");
            Assert.True(double.IsNegative(xs[i]) == double.IsNegative(values[i]), $"sign of tanh({xs[i]:R}) = {values[i]:R}");
        }

        Assert.True(worst > 0, "the comparison must see the approximation");
    }

    [Fact]
    public void DoubleSigmoidIsWithinThreeEMinus15OfTheExactValue()
    {
        double[] xs = DoublePoints();
        var values = (double[])xs.Clone();
        VectorMath.SigmoidTwoRoundings<double>(values);
        double worst = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double expected = xs[i] >= 0 ? 1 / (1 + Math.Exp(-xs[i])) : Math.Exp(xs[i]) / (1 + Math.Exp(xs[i]));
            double error = Math.Abs(values[i] - expected) / Math.Max(Math.Abs(expected), double.Epsilon);
            worst = Math.Max(worst, error);
            Assert.True(error < 3e-15, $"σ({xs[i]:R}) = {values[i]:R}, exact {expected:R}");
        }

        Assert.True(worst > 0, "the comparison must see the approximation");
    }

    [Fact]
    public void FloatTanhAndSigmoidAreWithinThreeUlpOfTheExactValue()
    {
        float[] xs = VectorMathFloatTests.Points();
        var tanh = new float[xs.Length];
        var sigmoid = (float[])xs.Clone();
        VectorMath.TanhTwoRoundings<float>(xs, tanh);
        VectorMath.SigmoidTwoRoundings<float>(sigmoid);
        double worstTanh = 0, worstSigmoid = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double t = VectorMathFloatTests.Ulps(tanh[i], Math.Tanh(xs[i]));
            double s = VectorMathFloatTests.Ulps(sigmoid[i], 1 / (1 + Math.Exp(-(double)xs[i])));
            worstTanh = Math.Max(worstTanh, t);
            worstSigmoid = Math.Max(worstSigmoid, s);
            Assert.True(t <= 3, $"tanh({xs[i]:R}) = {tanh[i]:R}: {t:F2} ulp");
            Assert.True(s <= 3, $"σ({xs[i]:R}) = {sigmoid[i]:R}: {s:F2} ulp");
            Assert.True(float.IsNegative(xs[i]) == float.IsNegative(tanh[i]), $"sign of tanh({xs[i]:R}) = {tanh[i]:R}");
        }

        Assert.True(worstTanh > 0.5 && worstSigmoid > 0.5, $"worst {worstTanh:F2} / {worstSigmoid:F2} ulp: the comparison must see the approximation");
    }

    [Fact]
    public void SpecialValues()
    {
        double[] xs = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0];
        var t = new double[xs.Length];
        VectorMath.TanhTwoRoundings<double>(xs, t);
        Assert.True(double.IsNaN(t[0]));
        Assert.Equal([1.0, -1.0], t[1..3]);
        Assert.True(t[3] == 0 && !double.IsNegative(t[3]) && double.IsNegative(t[4]));
        var s = (double[])xs.Clone();
        VectorMath.SigmoidTwoRoundings<double>(s);
        Assert.True(double.IsNaN(s[0]));
        Assert.Equal([1.0, 0.0, 0.5, 0.5], s[1..]);

        float[] fx = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f];
        var ft = new float[fx.Length];
        VectorMath.TanhTwoRoundings<float>(fx, ft);
        Assert.True(float.IsNaN(ft[0]));
        Assert.Equal([1f, -1f], ft[1..3]);
        Assert.True(ft[3] == 0 && !float.IsNegative(ft[3]) && float.IsNegative(ft[4]));
    }

    [Fact]
    public void TanhHasTheBitsOfPlainScalarArithmetic()
    {
        // Scalar arithmetic never fuses: equal bits mean every multiply-add of the vector code rounded twice, on whatever
        // vector path this runs.
        double[] xs = DoublePoints();
        var values = new double[xs.Length];
        VectorMath.TanhTwoRoundings<double>(xs, values);
        AssertSameBits(xs, values, ScalarTanh, BitConverter.DoubleToInt64Bits);
        float[] fxs = VectorMathFloatTests.Points();
        var fvalues = new float[fxs.Length];
        VectorMath.TanhTwoRoundings<float>(fxs, fvalues);
        AssertSameBits(fxs, fvalues, ScalarTanh, v => BitConverter.SingleToInt32Bits(v));
    }

    [AvxFact]
    public void TheAvxFormForCpusWithoutAvx2HasTheBitsOfTheScalarTwinAtEveryPosition()
    {
        // The form TanhTwoRoundings<double> takes on a CPU with AVX but not AVX2 (DOTNET_EnableAVX2=0 runs it through
        // the public entry too): four lanes through AVX, the integer steps on 128-bit halves.
        double[] xs = [.. DoublePoints(), double.NaN, double.PositiveInfinity, double.NegativeInfinity, -1e-300, -22.5];
        var values = new double[xs.Length];
        VectorMath.TanhTwoRoundingsAvx(xs, values);
        AssertSameBits(xs, values, ScalarTanh, BitConverter.DoubleToInt64Bits);
        for (int length = 0; length <= 9; length++)
        {
            for (int start = 0; start < 4; start++)
            {
                var part = new double[length];
                VectorMath.TanhTwoRoundingsAvx(xs.AsSpan(start, length), part);
                Assert.Equal(values.AsSpan(start, length).ToArray().Select(BitConverter.DoubleToInt64Bits), part.Select(BitConverter.DoubleToInt64Bits));
            }
        }

        var tooShort = new double[3];
        Assert.Throws<ArgumentException>("destination", () => VectorMath.TanhTwoRoundingsAvx(xs.AsSpan(0, 4), tooShort));
    }

    private static void AssertSameBits<T>(T[] xs, T[] values, Func<T, T> twin, Func<T, long> bits)
    {
        for (int i = 0; i < xs.Length; i++)
        {
            T expected = twin(xs[i]);
            Assert.True(bits(expected) == bits(values[i]), $"tanh({xs[i]:R}): {values[i]:R}, the scalar twin {expected:R}");
        }
    }

    [Fact]
    public void EveryPositionAndLengthGivesTheSameBits()
    {
        var random = new Random(11);
        double[] source = Enumerable.Range(0, 83).Select(_ => random.NextDouble() * 24 - 12).ToArray();
        float[] fsource = source.Select(v => (float)v).ToArray();
        var whole = new double[source.Length];
        var fwhole = new float[source.Length];
        VectorMath.TanhTwoRoundings<double>(source, whole);
        VectorMath.TanhTwoRoundings<float>(fsource, fwhole);
        for (int start = 0; start < 17; start++)
        {
            for (int length = 0; start + length <= source.Length; length++)
            {
                var part = source.AsSpan(start, length).ToArray();
                VectorMath.TanhTwoRoundings<double>(part, part);
                Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
                var fpart = fsource.AsSpan(start, length).ToArray();
                VectorMath.TanhTwoRoundings<float>(fpart, fpart);
                Assert.Equal(fwhole.AsSpan(start, length).ToArray(), fpart);
            }
        }
    }

    // The double algorithm of VectorMath.TanhTwoRoundings, one value at a time.
    private static double ScalarTanh(double x)
    {
        const double shifter = 6755399441055744.0;
        double r = Reduce(x, 22.0, 1.4426950408889634, shifter, 0.693147180369123816490, 1.90821492927058770002e-10, out double t);
        double r2 = r * r, r4 = r2 * r2;
        double[] c = [0.5, 0.1666666666666667, 0.04166666666666667, 0.008333333333325539, 0.0013888888888883323, 0.0001984126987688064,
            2.4801587327018815e-05, 2.75572528132645e-06, 2.7557271795757454e-07, 2.510628299752617e-08, 2.0915448199097186e-09];
        double p01 = (c[1] * r) + c[0], p23 = (c[3] * r) + c[2], p45 = (c[5] * r) + c[4], p67 = (c[7] * r) + c[6], p89 = (c[9] * r) + c[8];
        double p810 = (c[10] * r2) + p89, p03 = (p23 * r2) + p01, p47 = (p67 * r2) + p45;
        double p = (((p810 * r4) + p47) * r4) + p03;
        double q = (r2 * p) + r;
        double s = BitConverter.Int64BitsToDouble((BitConverter.DoubleToInt64Bits(t) - BitConverter.DoubleToInt64Bits(shifter) + 1023) << 52);
        double m = (s * q) + (s - 1);
        double v = (0 - m) / (2 + m);
        return BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(v) | (BitConverter.DoubleToInt64Bits(x) & long.MinValue));
    }

    // The float algorithm of VectorMath.Tanh with its multiply-adds split, one value at a time.
    private static float ScalarTanh(float x)
    {
        const float shifter = 12582912f;
        float r = Reduce(x, 10f, 1.44269504f, shifter, 0.693359375f, -2.12194440e-4f, out float shifted);
        float p = (1f / 5040 * r) + (1f / 720);
        p = (p * r) + (1f / 120);
        p = (p * r) + (1f / 24);
        p = (p * r) + (1f / 6);
        p = (p * r) + (1f / 2);
        float q = (r * r * p) + r;
        float s = BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(shifted) + (127 - 0x4B400000)) << 23);
        float m = (s * q) + (s - 1f);
        float v = (0f - m) / (2f + m);
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) | (BitConverter.SingleToInt32Bits(x) & int.MinValue));
    }

    // −2·min(|x|, limit) = k·ln 2 + r with ln 2 = ln2Hi + ln2Lo; t = k + shifter.
    private static T Reduce<T>(T x, T limit, T log2e, T shifter, T ln2Hi, T ln2Lo, out T t)
        where T : IFloatingPointIeee754<T>
    {
        T abs = T.Abs(x);
        T a = limit < abs ? limit : abs;
        T y = a * T.CreateTruncating(-2);
        t = (y * log2e) + shifter;
        T k = t - shifter;
        T r = (k * -ln2Hi) + y;
        return (k * -ln2Lo) + r;
    }
}
