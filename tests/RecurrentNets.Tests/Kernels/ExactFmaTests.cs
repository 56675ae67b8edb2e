using System.Runtime.Intrinsics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Tests.Kernels;

/// <summary>The FMA emulation of CPUs without the instruction against the correctly rounded fma (the instruction here,
/// the C library's fma elsewhere): bit for bit, on random, cancelling, tie-making and special inputs.</summary>
public class ExactFmaTests
{
    private static float RandomFloat(Random random, int minExponent, int maxExponent)
    {
        double mantissa = 1 + random.NextDouble();
        int exponent = random.Next(minExponent, maxExponent + 1);
        return (float)(Math.ScaleB(mantissa, exponent) * (random.Next(2) == 0 ? -1 : 1));
    }

    private static double RandomDouble(Random random, int minExponent, int maxExponent)
    {
        // Full 52-bit mantissas: the cases where the product's low half matters.
        long bits = (long)(random.NextInt64() & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L;
        double mantissa = BitConverter.Int64BitsToDouble(bits);
        int exponent = random.Next(minExponent, maxExponent + 1);
        return Math.ScaleB(mantissa, exponent) * (random.Next(2) == 0 ? -1 : 1);
    }

    private static void CheckFloat(float a, float b, float c, ref int checkedCount)
    {
        var got = ExactFma.Emulated(Vector128.Create(a), Vector128.Create(b), Vector128.Create(c)).GetElement(1);
        float expected = MathF.FusedMultiplyAdd(a, b, c);
        if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(expected) && !(float.IsNaN(got) && float.IsNaN(expected)))
            Assert.Fail($"fma({a:R}, {b:R}, {c:R}) = {expected:R} but the emulation gives {got:R}");
        checkedCount++;
    }

    private static void CheckDouble(double a, double b, double c, ref int checkedCount)
    {
        var got = ExactFma.Emulated(Vector128.Create(a, 0.5), Vector128.Create(b, 3.0), Vector128.Create(c, 1.0)).GetElement(0);
        double expected = Math.FusedMultiplyAdd(a, b, c);
        if (BitConverter.DoubleToInt64Bits(got) != BitConverter.DoubleToInt64Bits(expected) && !(double.IsNaN(got) && double.IsNaN(expected)))
            Assert.Fail($"fma({a:R}, {b:R}, {c:R}) = {expected:R} but the emulation gives {got:R}");
        checkedCount++;
    }

    [Fact]
    public void FloatEmulationRoundsOnceEverywhere()
    {
        var random = new Random(20261);
        int count = 0;
        for (int i = 0; i < 400_000; i++)
        {
            float a = RandomFloat(random, -20, 20), b = RandomFloat(random, -20, 20);
            float product = a * b;

            // Random addends, addends that cancel the product (all but its rounding error), and addends a few ulp away.
            CheckFloat(a, b, RandomFloat(random, -45, 45), ref count);
            CheckFloat(a, b, -product, ref count);
            CheckFloat(a, b, -MathF.BitIncrement(product), ref count);
            CheckFloat(a, b, -BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(product) + random.Next(-40, 40)), ref count);

            // Addends far below the product's last bit: the product's rounding decided by the sticky bits alone.
            CheckFloat(a, b, product * MathF.ScaleB(1, -random.Next(20, 60)), ref count);
            // Products with few significant bits, so that ties (exact midpoints) happen.
            float a2 = random.Next(-4096, 4096), b2 = random.Next(-4096, 4096) * 0.5f;
            CheckFloat(a2, b2, MathF.ScaleB(random.Next(-1 << 20, 1 << 20), random.Next(-8, 8)), ref count);
            CheckFloat(a2, b2, MathF.ScaleB(1, random.Next(-30, 30)) * (random.Next(2) * 2 - 1), ref count);
        }

        // The double sum lands exactly halfway between two floats while the exact sum lies below (or above) it: a sum
        // rounded twice would round up (down); a·b = 1 − 2^-40, c = 2^24 + 2, exact 2^24 + 3 − 2^-40 → 2^24 + 2.
        float below = 1 + MathF.ScaleB(1, -20), above = 1 - MathF.ScaleB(1, -20);
        CheckFloat(below, above, 16777218f, ref count);
        CheckFloat(below, above, -16777218f, ref count);
        CheckFloat(-below, above, 16777222f, ref count);
        CheckFloat(below, below, 16777216f, ref count);
        Assert.Equal(16777218f, ExactFma.Emulated(Vector128.Create(below), Vector128.Create(above), Vector128.Create(16777218f)).GetElement(0));

        // Sums below float's normal range, where the midpoints are not where the double's low bits say.
        for (int i = 0; i < 20000; i++)
            CheckFloat(RandomFloat(random, -70, -60), RandomFloat(random, -70, -60), RandomFloat(random, -150, -126), ref count);

        float[] special = [0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity,
            float.NegativeInfinity, float.NaN, 1e-38f, 3e38f, 1.17549435e-38f, MathF.BitDecrement(1f), MathF.BitIncrement(1f)];
        foreach (float a in special)
            foreach (float b in special)
                foreach (float c in special)
                    CheckFloat(a, b, c, ref count);
        Assert.True(count > 2_800_000);
    }

    [Fact]
    public void DoubleEmulationRoundsOnceEverywhere()
    {
        var random = new Random(20262);
        int count = 0;
        for (int i = 0; i < 400_000; i++)
        {
            double a = RandomDouble(random, -60, 60), b = RandomDouble(random, -60, 60);
            double product = a * b;
            CheckDouble(a, b, RandomDouble(random, -130, 130), ref count);
            CheckDouble(a, b, -product, ref count);
            CheckDouble(a, b, -Math.BitIncrement(product), ref count);
            CheckDouble(a, b, -BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(product) + random.Next(-40, 40)), ref count);
            CheckDouble(a, b, product * Math.ScaleB(1, -random.Next(50, 120)), ref count);
            double a2 = random.Next(-1 << 26, 1 << 26), b2 = random.Next(-1 << 26, 1 << 26) * 0.5;
            CheckDouble(a2, b2, Math.ScaleB(random.NextInt64(-1L << 50, 1L << 50), random.Next(-8, 8)), ref count);
            CheckDouble(a2, b2, Math.ScaleB(1, random.Next(-60, 60)) * (random.Next(2) * 2 - 1), ref count);

            // Both ends of the fast path's range, and beyond it (the lane-by-lane fallback).
            CheckDouble(RandomDouble(random, 380, 420), RandomDouble(random, -420, -380), RandomDouble(random, -10, 10), ref count);
            CheckDouble(RandomDouble(random, -420, -380), RandomDouble(random, -420, -380), RandomDouble(random, -900, -700), ref count);
        }

        double[] special = [0, -0.0, 1, -1, double.Epsilon, -double.Epsilon, double.MaxValue, double.MinValue, double.PositiveInfinity,
            double.NegativeInfinity, double.NaN, 1e-300, 1e300, 2.2250738585072014e-308, Math.BitDecrement(1.0), Math.BitIncrement(1.0)];
        foreach (double a in special)
            foreach (double b in special)
                foreach (double c in special)
                    CheckDouble(a, b, c, ref count);
        Assert.True(count > 3_600_000);
    }

    [Fact]
    public void EveryLaneIsItsOwn()
    {
        var random = new Random(7);
        for (int i = 0; i < 1000; i++)
        {
            var a = Vector128.Create(RandomFloat(random, -5, 5), RandomFloat(random, -5, 5), RandomFloat(random, -5, 5), RandomFloat(random, -5, 5));
            var b = Vector128.Create(RandomFloat(random, -5, 5), RandomFloat(random, -5, 5), RandomFloat(random, -5, 5), RandomFloat(random, -5, 5));
            var c = Vector128.Create(RandomFloat(random, -5, 5), RandomFloat(random, -5, 5), RandomFloat(random, -5, 5), RandomFloat(random, -5, 5));
            var got = ExactFma.Emulated(a, b, c);
            var viaPublic = ExactFma.MultiplyAdd(a, b, c);
            for (int l = 0; l < 4; l++)
            {
                Assert.Equal(MathF.FusedMultiplyAdd(a[l], b[l], c[l]), got[l]);
                Assert.Equal(got[l], viaPublic[l]);
            }

            var ad = Vector128.Create(RandomDouble(random, -5, 5), double.NaN);
            var gotD = ExactFma.Emulated(ad, Vector128.Create(3.0, 1.0), Vector128.Create(1.0, 2.0));
            Assert.Equal(Math.FusedMultiplyAdd(ad[0], 3.0, 1.0), gotD[0]);
            Assert.True(double.IsNaN(gotD[1]));
        }
    }
}
