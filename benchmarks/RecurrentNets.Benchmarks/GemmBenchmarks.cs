using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Kernels;

namespace RecurrentNets.Benchmarks;

/// <summary>One GEMM problem C[M, N] = A[M, K]·op(B); op(B) = Bᵀ with B stored [N, K] when <see cref="TransposeB"/>.</summary>
public sealed record GemmShape(int M, int N, int K, bool TransposeB)
{
    /// <summary>Floating-point operations of one product (a multiply and an add per term).</summary>
    public double Flops => 2.0 * M * N * K;

    public override string ToString() => TransposeB ? $"[{M},{K}]·[{N},{K}]ᵀ" : $"{M}x{N}x{K}";
}

/// <summary>Floating-point operations of one invocation of a benchmark method that has no <see cref="GemmShape"/> parameter.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FlopsAttribute(double flops) : Attribute
{
    public double Flops { get; } = flops;
}

/// <summary>GFLOP/s = the case's FLOP count (its <see cref="GemmShape"/>, its <see cref="IFlopCount"/> parameter times the method's
/// <see cref="FlopsFactorAttribute"/>, or its <see cref="FlopsAttribute"/>) / mean time.</summary>
public sealed class GflopsColumn : IColumn
{
    public static readonly GflopsColumn Default = new();

    public string Id => nameof(GflopsColumn);

    public string ColumnName => "GFLOP/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Billions of floating-point operations per second (FLOP count / mean time)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        double flops = FlopsOf(benchmarkCase);
        if (meanNs is not > 0 || flops <= 0)
            return "-";
        return (flops / meanNs.Value).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static double FlopsOf(BenchmarkCase benchmarkCase)
    {
        double factor = benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsFactorAttribute>()?.Factor ?? 1;
        foreach (var parameter in benchmarkCase.Parameters.Items)
        {
            if (parameter.Value is GemmShape shape)
                return shape.Flops;
            if (parameter.Value is IFlopCount count)
                return factor * count.ForwardFlops;
        }

        return benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsAttribute>()?.Flops ?? 0;
    }
}

/// <summary>Adds the GFLOP/s column.</summary>
public sealed class GflopsConfig : ManualConfig
{
    public GflopsConfig() => AddColumn(GflopsColumn.Default);
}

/// <summary>
/// Float GEMM: RecurrentNets' packed kernel against MathNet.Numerics' managed Matrix&lt;float&gt; product (the baseline),
/// at square sizes and at the shapes of an RNN step ([B, H]·[G·H, H]ᵀ) and of the input projection over all steps.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private float[] a = [];
    private float[] b = [];
    private float[] c = [];
    private Matrix<float> matA = null!;
    private Matrix<float> matB = null!;
    private Matrix<float> matC = null!;

    public static IEnumerable<GemmShape> Shapes() =>
    [
        new(64, 64, 64, false), new(128, 128, 128, false), new(256, 256, 256, false), new(512, 512, 512, false),
        new(1024, 1024, 1024, false),
        new(32, 512, 512, true), new(32, 2048, 512, true), new(3200, 256, 256, true), new(1, 2048, 512, true),
    ];

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        int bRows = Shape.TransposeB ? Shape.N : Shape.K, bCols = Shape.TransposeB ? Shape.K : Shape.N;
        a = Enumerable.Range(0, Shape.M * Shape.K).Select(_ => (float)rng.NextDouble()).ToArray();
        b = Enumerable.Range(0, bRows * bCols).Select(_ => (float)rng.NextDouble()).ToArray();
        c = new float[Shape.M * Shape.N];
        matA = Matrix<float>.Build.Dense(Shape.M, Shape.K, (i, j) => a[i * Shape.K + j]);
        matB = Matrix<float>.Build.Dense(bRows, bCols, (i, j) => b[i * bCols + j]);
        matC = Matrix<float>.Build.Dense(Shape.M, Shape.N);
        Control.UseManaged();
        Control.MaxDegreeOfParallelism = Threads;
    }

    [Benchmark]
    public void RecurrentNetsGemm()
    {
        using var scope = KernelScope.Enter(Threads);
        Gemm.Compute<float>(false, Shape.TransposeB, Shape.M, Shape.N, Shape.K, a, Shape.K, b, Shape.TransposeB ? Shape.K : Shape.N,
            c, Shape.N, accumulate: false);
    }

    [Benchmark(Baseline = true)]
    public void MathNet()
    {
        if (Shape.TransposeB)
            matA.TransposeAndMultiply(matB, matC);
        else
            matA.Multiply(matB, matC);
    }
}

/// <summary>
/// The headline measurement in one table: 512x512x512 float on one thread, RecurrentNets against MathNet (the baseline,
/// so the Ratio column reads the slowdown of MathNet) and against the measured FMA peak of the same core.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class Gemm512Comparison
{
    private const int Size = 512;
    private const double Flops = 2.0 * Size * Size * Size;
    private readonly FmaPeakBenchmarks peak = new();
    private float[] a = [];
    private float[] b = [];
    private float[] c = [];
    private Matrix<float> matA = null!;
    private Matrix<float> matB = null!;
    private Matrix<float> matC = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        a = Enumerable.Range(0, Size * Size).Select(_ => (float)rng.NextDouble()).ToArray();
        b = Enumerable.Range(0, Size * Size).Select(_ => (float)rng.NextDouble()).ToArray();
        c = new float[Size * Size];
        matA = Matrix<float>.Build.Dense(Size, Size, (i, j) => a[i * Size + j]);
        matB = Matrix<float>.Build.Dense(Size, Size, (i, j) => b[i * Size + j]);
        matC = Matrix<float>.Build.Dense(Size, Size);
        Control.UseManaged();
        Control.UseSingleThread();
    }

    [Benchmark]
    [Flops(Flops)]
    public void RecurrentNetsGemm()
    {
        using var scope = KernelScope.Enter(1);
        Gemm.Multiply<float>(a, b, c, Size, Size, Size);
    }

    [Benchmark(Baseline = true)]
    [Flops(Flops)]
    public void MathNet() => matA.Multiply(matB, matC);

    [Benchmark]
    [Flops(FmaPeakBenchmarks.Vector512Flops)]
    public float Vector512Peak() => peak.Vector512Peak();

    [Benchmark]
    [Flops(FmaPeakBenchmarks.Vector256Flops)]
    public float Vector256Peak() => peak.Vector256Peak();
}

/// <summary>
/// The measured FMA peak of one core: 12 independent fused multiply-add chains held in registers (enough to cover
/// the 4-cycle latency at two 256-bit FMAs per cycle), so GFLOP/s here is what a perfect micro-kernel could reach.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class FmaPeakBenchmarks
{
    internal const double Vector512Flops = 2.0 * Chains * 16 * Iterations;
    internal const double Vector256Flops = 2.0 * Chains * 8 * Iterations;
    private const int Iterations = 1 << 20;
    private const int Chains = 12;

    [Benchmark]
    [Flops(Vector512Flops)]
    public float Vector512Peak()
    {
        if (!Vector512.IsHardwareAccelerated)
            return 0;
        return Run512(Iterations);
    }

    [Benchmark]
    [Flops(Vector256Flops)]
    public float Vector256Peak() => Run256(Iterations);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run512(int iterations)
    {
        Vector512<float> mul = Vector512.Create(0.999f), add = Vector512.Create(0.001f);
        Vector512<float> x0 = Vector512.Create(0.1f), x1 = Vector512.Create(0.2f), x2 = Vector512.Create(0.3f), x3 = Vector512.Create(0.4f);
        Vector512<float> x4 = Vector512.Create(0.5f), x5 = Vector512.Create(0.6f), x6 = Vector512.Create(0.7f), x7 = Vector512.Create(0.8f);
        Vector512<float> x8 = Vector512.Create(0.9f), x9 = Vector512.Create(1.0f), x10 = Vector512.Create(1.1f), x11 = Vector512.Create(1.2f);
        for (int i = 0; i < iterations; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, mul, add);
            x1 = Vector512.FusedMultiplyAdd(x1, mul, add);
            x2 = Vector512.FusedMultiplyAdd(x2, mul, add);
            x3 = Vector512.FusedMultiplyAdd(x3, mul, add);
            x4 = Vector512.FusedMultiplyAdd(x4, mul, add);
            x5 = Vector512.FusedMultiplyAdd(x5, mul, add);
            x6 = Vector512.FusedMultiplyAdd(x6, mul, add);
            x7 = Vector512.FusedMultiplyAdd(x7, mul, add);
            x8 = Vector512.FusedMultiplyAdd(x8, mul, add);
            x9 = Vector512.FusedMultiplyAdd(x9, mul, add);
            x10 = Vector512.FusedMultiplyAdd(x10, mul, add);
            x11 = Vector512.FusedMultiplyAdd(x11, mul, add);
        }

        return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run256(int iterations)
    {
        Vector256<float> mul = Vector256.Create(0.999f), add = Vector256.Create(0.001f);
        Vector256<float> x0 = Vector256.Create(0.1f), x1 = Vector256.Create(0.2f), x2 = Vector256.Create(0.3f), x3 = Vector256.Create(0.4f);
        Vector256<float> x4 = Vector256.Create(0.5f), x5 = Vector256.Create(0.6f), x6 = Vector256.Create(0.7f), x7 = Vector256.Create(0.8f);
        Vector256<float> x8 = Vector256.Create(0.9f), x9 = Vector256.Create(1.0f), x10 = Vector256.Create(1.1f), x11 = Vector256.Create(1.2f);
        for (int i = 0; i < iterations; i++)
        {
            x0 = Vector256.FusedMultiplyAdd(x0, mul, add);
            x1 = Vector256.FusedMultiplyAdd(x1, mul, add);
            x2 = Vector256.FusedMultiplyAdd(x2, mul, add);
            x3 = Vector256.FusedMultiplyAdd(x3, mul, add);
            x4 = Vector256.FusedMultiplyAdd(x4, mul, add);
            x5 = Vector256.FusedMultiplyAdd(x5, mul, add);
            x6 = Vector256.FusedMultiplyAdd(x6, mul, add);
            x7 = Vector256.FusedMultiplyAdd(x7, mul, add);
            x8 = Vector256.FusedMultiplyAdd(x8, mul, add);
            x9 = Vector256.FusedMultiplyAdd(x9, mul, add);
            x10 = Vector256.FusedMultiplyAdd(x10, mul, add);
            x11 = Vector256.FusedMultiplyAdd(x11, mul, add);
        }

        return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }
}
