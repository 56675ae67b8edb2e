using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// One Elman BPTT window: T = 100, B = 32, I = H = 256, forward only and forward + full backward (all weight
/// gradients and the input gradient). FLOPs: forward T·B·2·H·(I + H); backward twice that.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class ElmanBenchmarks
{
    private Rnn<float> rnn = null!;
    private Tensor<float> x = null!, y = null!, dy = null!, dx = null!;

    public static IEnumerable<RnnPoint> Points() => [new(CellKind.Rnn, Batch, 256, 1), new(CellKind.Rnn, Batch, 256, 2)];

    [ParamsSource(nameof(Points))]
    public RnnPoint Point { get; set; } = null!;

    public const int Steps = RnnPoint.Steps, Batch = 32;

    private int Threads => Point.Threads;

    private int Hidden => Point.Hidden;

    [GlobalSetup]
    public void Setup()
    {
        KernelOptions.MaxDegreeOfParallelism = Threads;
        var random = new SeededRandom(1);
        rnn = new Rnn<float>(Hidden, Hidden, random: random);
        x = new Tensor<float>(Steps, Batch, Hidden);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (float)random.NextNormal();
        }

        y = new Tensor<float>(Steps, Batch, Hidden);
        dy = new Tensor<float>(Steps, Batch, Hidden);
        dy.AsSpan().Fill(0.01f);
        dx = new Tensor<float>(Steps, Batch, Hidden);
    }

    [GlobalCleanup]
    public void Cleanup() => KernelOptions.MaxDegreeOfParallelism = Environment.ProcessorCount;

    [Benchmark]
    [FlopsFactor(1)]
    public void Forward() => rnn.Forward(x, y);

    [Benchmark]
    [FlopsFactor(3)]
    public void ForwardBackward()
    {
        rnn.Parameters.ZeroGradients();
        rnn.Forward(x, y);
        rnn.Backward(dy, null, dx);
    }
}
