using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using RecurrentNets.Kernels;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// The kernels that give the same bits on every vector path against the TensorPrimitives calls they replace (the
/// baseline of each category), in one run: fixed-order reductions (gradient clipping's norm, softmax's sum), our exp
/// (softmax) and double σ/tanh (double cells, reservoirs), and softmax rows.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class SameBitsBenchmarks
{
    private float[] x = [], y = [], z = [];
    private double[] xd = [], zd = [];

    /// <summary>Odd, an LSTM's gate row, a block of gradients, a whole model's gradients.</summary>
    [Params(37, 512, 4096, 65536)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        x = Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
        y = Enumerable.Range(0, Length).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
        z = new float[Length];
        xd = x.Select(v => (double)v).ToArray();
        zd = new double[Length];
    }

    [Benchmark(Baseline = true), BenchmarkCategory("SumOfSquares")]
    public float TensorPrimitivesSumOfSquares() => TP.SumOfSquares<float>(x);

    [Benchmark, BenchmarkCategory("SumOfSquares")]
    public float FixedOrderSumOfSquares() => Reductions.SumOfSquares<float>(x);

    [Benchmark(Baseline = true), BenchmarkCategory("Dot")]
    public double TensorPrimitivesDot() => TP.Dot<double>(xd, xd);

    [Benchmark, BenchmarkCategory("Dot")]
    public double FixedOrderDot() => Reductions.Dot<double>(xd, xd);

    [Benchmark(Baseline = true), BenchmarkCategory("ExpFloat")]
    public void TensorPrimitivesExp() => TP.Exp<float>(x, z);

    [Benchmark, BenchmarkCategory("ExpFloat")]
    public void OurExp() => VectorMath.Exp(x, z);

    [Benchmark(Baseline = true), BenchmarkCategory("SigmoidDouble")]
    public void TensorPrimitivesSigmoidDouble() => TP.Sigmoid<double>(xd, zd);

    [Benchmark, BenchmarkCategory("SigmoidDouble")]
    public void OurSigmoidDouble() => VectorMath.Sigmoid(xd, zd);

    [Benchmark(Baseline = true), BenchmarkCategory("TanhDouble")]
    public void TensorPrimitivesTanhDouble() => TP.Tanh<double>(xd, zd);

    [Benchmark, BenchmarkCategory("TanhDouble")]
    public void OurTanhDouble() => VectorMath.Tanh(xd, zd);

    /// <summary>Softmax rows of 8 classes as main computed them: TensorPrimitives' max, exp, sum and divide.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("Softmax8")]
    public void TensorPrimitivesSoftmax()
    {
        for (int r = 0; r + 8 <= Length; r += 8)
        {
            ReadOnlySpan<float> row = x.AsSpan(r, 8);
            Span<float> p = z.AsSpan(r, 8);
            float max = TP.Max(row);
            TP.Subtract(row, max, p);
            TP.Exp<float>(p, p);
            TP.Divide(p, TP.Sum<float>(p), p);
        }
    }

    [Benchmark, BenchmarkCategory("Softmax8")]
    public void OurSoftmax() => Softmax.Rows<float>(x.AsSpan(0, Length / 8 * 8), Length / 8, 8, z.AsSpan(0, Length / 8 * 8));
}
