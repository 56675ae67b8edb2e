using BenchmarkDotNet.Attributes;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.Reference;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// One R2N2 training episode (Cheng and Brown 2025): forward replay + reverse sweep with the error network and the
/// delta rules + one Adam step, n = 64 per group, L = 100 items of 11 features (the T-maze's input width and length),
/// against the same network trained by exact BPTT through the engine (stored activations) and RFLO on the same sequence.
/// FLOPs per step ≈ 2·(3n² + 2n·n_x) forward, 2·(2n² + n·n_x + n·n_y) reverse, 2·(3n² + n·n_y) error, 2·(2n² + n·n_x + n·n_y) outer products.
/// </summary>
[MemoryDiagnoser]
public class R2N2Benchmarks
{
    private R2N2Learner fa = null!, exact = null!;
    private TwoGroupBptt bptt = null!;
    private Rflo rflo = null!;
    private Tensor<double> sequence = null!;

    /// <summary>n per group.</summary>
    [Params(64)]
    public int Group { get; set; }

    /// <summary>L, the items of the episode.</summary>
    [Params(100)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new SeededRandom(1);
        sequence = new Tensor<double>(Length, 11);
        for (int t = 0; t < Length; t++)
        {
            sequence[t, random.NextInt(11)] = 1;
        }

        fa = new R2N2Learner(new R2N2Options { GroupSize = Group, InputSize = 11, OutputSize = 11 });
        exact = new R2N2Learner(new R2N2Options { GroupSize = Group, InputSize = 11, OutputSize = 11, Feedback = FeedbackMode.Transposed });
        bptt = new TwoGroupBptt(new R2N2Options { GroupSize = Group, InputSize = 11, OutputSize = 11, Feedback = FeedbackMode.Transposed });
        rflo = new Rflo(11, 2 * Group, 11, 1);
    }

    /// <summary>R2N2 with feedback alignment: forward replay, reverse sweep, Adam step.</summary>
    [Benchmark(Baseline = true)]
    public EpisodeResult R2N2FeedbackAlignment() => fa.TrainSequence(sequence);

    /// <summary>R2N2 with transposed feedback (exact BPTT by reversal).</summary>
    [Benchmark]
    public EpisodeResult R2N2Exact() => exact.TrainSequence(sequence);

    /// <summary>The same network by BPTT through the engine (activations stored, not reconstructed).</summary>
    [Benchmark]
    public EpisodeResult EngineBptt() => bptt.TrainSequence(sequence);

    /// <summary>RFLO with 2n units on the same sequence.</summary>
    [Benchmark]
    public EpisodeResult Rflo() => rflo.TrainSequence(sequence);
}

/// <summary>The R2N2 mat-vec kernel against its naive twin, W [n, n]·x.</summary>
[MemoryDiagnoser]
public class R2N2KernelBenchmarks
{
    private double[] w = null!, x = null!, y = null!;

    /// <summary>n.</summary>
    [Params(32, 64, 67, 500)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new SeededRandom(2);
        w = Enumerable.Range(0, Size * Size).Select(_ => random.NextNormal()).ToArray();
        x = Enumerable.Range(0, Size).Select(_ => random.NextNormal()).ToArray();
        y = new double[Size];
    }

    /// <summary>Naive loops.</summary>
    [Benchmark(Baseline = true)]
    public void ReferenceMatVec() => ReferenceR2N2Kernels.MatVec(w, x, 1, y, false);

    /// <summary>One TensorPrimitives dot product per row.</summary>
    [Benchmark]
    public void MatVec() => R2N2Kernels.MatVec(w, x, 1, y, false);

    /// <summary>Rank-1 update W += x·yᵀ.</summary>
    [Benchmark]
    public void OuterAdd() => R2N2Kernels.OuterAdd(x, y, 1e-9, w);
}
