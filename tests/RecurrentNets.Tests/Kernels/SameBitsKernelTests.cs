using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// The kernels whose order of operations used to follow the vector width, held bit for bit to their naive twins (which
/// have no vector width), and every GEMM path held to the others. CI runs these on the AVX-512, AVX2 and Vector128
/// paths; equal to the twin on each, they are equal to each other.
/// </summary>
[Collection(GemmCollection.Name)]
public sealed class SameBitsKernelTests
{
    /// <summary>Every length from 0 past a few 128-byte blocks, then odd large ones: every tail of every path.</summary>
    private static IEnumerable<int> Lengths() => Enumerable.Range(0, 300).Concat([511, 1000, 4099, 10007]);

    private static T[] RandomValues<T>(Random random, int length)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Enumerable.Range(0, length).Select(_ => T.CreateTruncating(random.NextDouble() * 4 - 2)).ToArray();

    private static void ReductionsMatchTheirTwin<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(11);
        foreach (int n in Lengths())
        {
            T[] x = RandomValues<T>(random, n), y = RandomValues<T>(random, n);
            Assert.Equal(ReferenceElementwise.FixedOrderSum<T>(x), Reductions.Sum<T>(x));
            Assert.Equal(ReferenceElementwise.FixedOrderSum<T>(x, x), Reductions.SumOfSquares<T>(x));
            Assert.Equal(ReferenceElementwise.FixedOrderSum<T>(x, y), Reductions.Dot<T>(x, y));

            // And they are sums: within a few roundings of the exact (double, then compensated) value.
            double exact = 0, scale = 0;
            for (int i = 0; i < n; i++)
            {
                exact += double.CreateTruncating(x[i]) * double.CreateTruncating(y[i]);
                scale += Math.Abs(double.CreateTruncating(x[i]) * double.CreateTruncating(y[i]));
            }

            double tolerance = (typeof(T) == typeof(float) ? 1e-6 : 1e-15) * (scale + 1) * Math.Log2(n + 2);
            Assert.Equal(exact, double.CreateTruncating(Reductions.Dot<T>(x, y)), tolerance);
        }
    }

    [Fact]
    public void FloatReductionsMatchTheirTwinBitForBit() => ReductionsMatchTheirTwin<float>();

    [Fact]
    public void DoubleReductionsMatchTheirTwinBitForBit() => ReductionsMatchTheirTwin<double>();

    [Fact]
    public void CompensatedDotMatchesItsTwinBitForBit()
    {
        // Values over twenty binary orders of magnitude, so the compensation terms are far from zero.
        var random = new Random(15);
        foreach (int n in Lengths())
        {
            double[] x = RandomValues<double>(random, n), y = RandomValues<double>(random, n);
            for (int i = 0; i < n; i++)
            {
                x[i] = Math.ScaleB(x[i], random.Next(-10, 11));
            }

            double addend = Math.ScaleB(random.NextDouble() - 0.5, random.Next(-10, 11));
            double expected = ReferenceElementwise.FixedOrderCompensatedDot(x, y, addend);
            double fast = Reductions.CompensatedDot(x, y, addend);
            Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(fast), $"n = {n}: {fast:R}, the twin gives {expected:R}");
        }

        Assert.Throws<ArgumentException>(() => Reductions.CompensatedDot(new double[3], new double[4]));
    }

    [Fact]
    public void CompensatedCholeskyMatchesItsTwinBitForBit()
    {
        // Orders around the 16 lanes of the compensated dot and the Vector<double> widths of the back substitution.
        var random = new Random(16);
        foreach (int n in new[] { 1, 2, 3, 7, 15, 16, 17, 31, 33, 70, 131 })
        {
            int rows = n + 3;
            double[] z = RandomValues<double>(random, rows * n);
            var a = new double[n * n];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        a[i * n + j] += z[r * n + i] * z[r * n + j];
                    }
                }
            }

            double[] fast = (double[])a.Clone(), slow = (double[])a.Clone();
            Assert.True(CholeskyKernels.Factor(fast, n));
            Assert.True(ReferenceCholesky.FactorCompensated(slow, n));
            Assert.True(fast.AsSpan().SequenceEqual(slow), $"N = {n}: L differs from the twin's");
            double[] b = RandomValues<double>(random, 2 * n), bSlow = (double[])b.Clone();
            CholeskyKernels.Solve(fast, n, b, 2);
            ReferenceCholesky.SolveCompensated(slow, n, bSlow, 2);
            Assert.True(b.AsSpan().SequenceEqual(bSlow), $"N = {n}: the solution differs from the twin's");
        }
    }

    [Fact]
    public void ReductionsRefuseSpansOfTwoLengths() =>
        Assert.Throws<ArgumentException>(() => Reductions.Dot<float>(new float[3], new float[4]));

    private static void DotProductsMatchTheirTwin<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // A·Bᵀ with few rows of A (every tile shape: 1 to 5 rows, 1 to 6 columns) over K from 0 past a few 64-byte blocks.
        var random = new Random(12);
        int[] ks = [.. Enumerable.Range(0, 70), 127, 128, 129, 513, 1000];
        foreach (GemmPath path in GemmTests.AvailablePaths())
        {
            using var pathScope = KernelScope.Enter(null, path);
            foreach (int k in ks)
            {
                int m = 1 + k % 5, n = 1 + k % 6;
                T[] a = RandomValues<T>(random, m * k), b = RandomValues<T>(random, n * k), c = new T[m * n];
                Gemm.MultiplyTransposeB<T>(a, b, c, m, k, n);
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        T expected = ReferenceGemm.DotProduct<T>(a.AsSpan(i * k, k), b.AsSpan(j * k, k));
                        Assert.True(expected.Equals(c[i * n + j]), $"{path}, K = {k}, C[{i}, {j}] = {c[i * n + j]}, the twin gives {expected}");
                    }
                }
            }
        }
    }

    [Fact]
    public void FloatDotProductPathMatchesItsTwinBitForBit() => DotProductsMatchTheirTwin<float>();

    [Fact]
    public void DoubleDotProductPathMatchesItsTwinBitForBit() => DotProductsMatchTheirTwin<double>();

    private static void EveryPathGivesTheSameProducts<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Blocked (K past KC, N past NC), plain B read in place, dot products, packed B with few and many rows.
        int[][] shapes = [[1, 9, 37], [3, 70, 130], [16, 33, 300], [40, 70, 513], [97, 150, 1100], [7, 2100, 64], [150, 40, 600]];
        var random = new Random(13);
        foreach (int threads in new[] { 1, 2 })
        {
            using var threadScope = KernelScope.Enter(threads);
            foreach (int[] s in shapes)
            {
                int m = s[0], n = s[1], k = s[2];
                T[] a = RandomValues<T>(random, m * k), b = RandomValues<T>(random, k * n);
                foreach (bool transposeA in new[] { false, true })
                {
                    foreach (bool transposeB in new[] { false, true })
                    {
                        T[]? first = null, firstPacked = null;
                        foreach (GemmPath path in GemmTests.AvailablePaths())
                        {
                            using var pathScope = KernelScope.Enter(null, path);
                            var c = new T[m * n];
                            Gemm.Compute<T>(transposeA, transposeB, m, n, k, a, transposeA ? m : k, b, transposeB ? k : n, c, n, false);
                            var packed = new PackedMatrix<T>();
                            Gemm.Pack<T>(transposeB, k, n, b, transposeB ? k : n, packed);
                            var cp = new T[m * n];
                            Gemm.Compute<T>(transposeA, m, n, k, a, transposeA ? m : k, packed, cp, n, false);
                            first ??= c;
                            firstPacked ??= cp;
                            Assert.True(first.AsSpan().SequenceEqual(c), $"{path}: [{m}, {n}, {k}] transposeA {transposeA} transposeB {transposeB}");
                            Assert.True(firstPacked.AsSpan().SequenceEqual(cp), $"{path} packed: [{m}, {n}, {k}] transposeA {transposeA}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void FloatGemmGivesTheSameBitsOnEveryPath() => EveryPathGivesTheSameProducts<float>();

    [Fact]
    public void DoubleGemmGivesTheSameBitsOnEveryPath() => EveryPathGivesTheSameProducts<double>();

    [Fact]
    public void GramKernelWithoutFmaGivesTheBitsOfTheAvxKernel()
    {
        var random = new Random(14);
        foreach (var (rows, columns) in new[] { (1, 1), (5, 3), (64, 8), (65, 9), (130, 17), (300, 101) })
        {
            double[] x = RandomValues<double>(random, rows * columns);
            foreach (int threads in new[] { 1, 2 })
            {
                using var threadScope = KernelScope.Enter(threads);
                double[] avx = new double[columns * columns], portable = new double[columns * columns];
                GramKernels.Accumulate(x, rows, columns, avx, new double[GramKernels.PackLength(columns)], portable: false);
                GramKernels.Accumulate(x, rows, columns, portable, new double[GramKernels.PackLength(columns)], portable: true);
                for (int i = 0; i < columns; i++)
                {
                    for (int j = i; j < columns; j++)
                        Assert.Equal(avx[i * columns + j], portable[i * columns + j]);
                }
            }
        }
    }

    [Fact]
    public void FloatExpIsAccurateAndTheSameAtEveryPosition()
    {
        var xs = new List<float> { 0f, -0f, 1f, -1f, 88.7f, 88.72f, 89f, 1000f, -87.3f, -103f, -104f, -150f, float.Epsilon, 1e-30f };
        for (int i = -20000; i <= 20000; i++)
            xs.Add(i * 4.5e-3f);
        float[] x = [.. xs], y = new float[x.Length];
        VectorMath.Exp(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Math.Exp(x[i]);
            if (expected > float.MaxValue)
            {
                Assert.Equal(float.PositiveInfinity, y[i]);
                continue;
            }

            // 3 float ulp, and subnormal results within one subnormal step.
            double tolerance = Math.Max(3 * (MathF.BitIncrement((float)expected) - (float)expected), 1.5e-45);
            Assert.True(Math.Abs(y[i] - expected) <= tolerance, $"exp({x[i]:R}) = {y[i]:R}, Math.Exp gives {expected:R}");
            Assert.Equal(VectorMath.Exp(x[i]), y[i]);
        }

        var special = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity };
        VectorMath.Exp(special, special);
        Assert.True(float.IsNaN(special[0]));
        Assert.Equal(float.PositiveInfinity, special[1]);
        Assert.Equal(0f, special[2]);
        CheckEveryPosition<float>(VectorMath.Exp);
    }

    [Fact]
    public void DoubleExpAndSigmoidAreAccurateAndTheSameAtEveryPosition()
    {
        var xs = new List<double> { 0, -0.0, 1, -1, 709, 709.78, 710, 1000, -708, -745, -746, -800, 1e-300, -1e-18 };
        for (int i = -20000; i <= 20000; i++)
            xs.Add(i * 3.7e-2);
        double[] x = [.. xs], e = new double[x.Length], s = new double[x.Length];
        VectorMath.Exp(x, e);
        VectorMath.Sigmoid(x, s);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Math.Exp(x[i]);
            double tolerance = Math.Max(4 * (Math.BitIncrement(expected) - expected), 5e-324);
            Assert.True(double.IsInfinity(expected) ? double.IsPositiveInfinity(e[i]) : Math.Abs(e[i] - expected) <= tolerance,
                $"exp({x[i]:R}) = {e[i]:R}, Math.Exp gives {expected:R}");
            double sigmoid = x[i] >= 0 ? 1 / (1 + Math.Exp(-x[i])) : Math.Exp(x[i]) / (1 + Math.Exp(x[i]));
            Assert.True(Math.Abs(s[i] - sigmoid) <= Math.Max(6 * (Math.BitIncrement(sigmoid) - sigmoid), 5e-324),
                $"σ({x[i]:R}) = {s[i]:R}, expected {sigmoid:R}");
            Assert.Equal(VectorMath.Exp(x[i]), e[i]);
            Assert.Equal(VectorMath.Sigmoid(x[i]), s[i]);
        }

        var special = new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity };
        var sig = (double[])special.Clone();
        VectorMath.Exp(special, special);
        VectorMath.Sigmoid(sig, sig);
        Assert.True(double.IsNaN(special[0]) && double.IsNaN(sig[0]));
        Assert.Equal([double.PositiveInfinity, 0.0], special[1..]);
        Assert.Equal([1.0, 0.0], sig[1..]);
        CheckEveryPosition<double>(VectorMath.Exp);
        CheckEveryPosition<double>(VectorMath.Sigmoid);
        CheckEveryPosition<double>(VectorMath.Tanh);
    }

    private delegate void SpanFunction<T>(ReadOnlySpan<T> x, Span<T> destination);

    // An element's result does not depend on where it lies in the span (vector body or tail) or on the span's length.
    private static void CheckEveryPosition<T>(SpanFunction<T> function)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(15);
        T[] source = RandomValues<T>(random, 141).Select(v => v * T.CreateTruncating(9)).ToArray();
        var whole = new T[source.Length];
        function(source, whole);
        for (int start = 0; start < 17; start++)
        {
            for (int length = 0; start + length <= source.Length; length += 3)
            {
                var part = new T[length];
                function(source.AsSpan(start, length), part);
                Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
            }
        }
    }

    [Fact]
    public void TanhBackwardGivesTheSameBitsAtEveryPosition()
    {
        var random = new Random(16);
        float[] h = RandomValues<float>(random, 77).Select(v => v / 2).ToArray(), dh = RandomValues<float>(random, 77);
        var whole = new float[h.Length];
        Elementwise.TanhBackward<float>(h, dh, whole);
        for (int start = 0; start < 9; start++)
        {
            for (int length = 0; start + length <= h.Length; length += 5)
            {
                var part = new float[length];
                Elementwise.TanhBackward<float>(h.AsSpan(start, length), dh.AsSpan(start, length), part);
                Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
            }
        }
    }

    [Fact]
    public void SoftmaxIsExpSumAndDivideInTheFixedOrder()
    {
        var random = new Random(17);
        foreach (int n in new[] { 1, 2, 3, 5, 8, 17, 33, 100, 1000 })
        {
            float[] logits = RandomValues<float>(random, n).Select(v => v * 5).ToArray(), p = new float[n];
            Softmax.Row<float>(logits, p);
            float max = logits.Max();
            float[] e = logits.Select(v => VectorMath.Exp(v - max)).ToArray();
            float sum = ReferenceElementwise.FixedOrderSum<float>(e);
            Assert.Equal(e.Select(v => v / sum).ToArray(), p);
        }
    }
}
