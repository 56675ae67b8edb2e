using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>The kind of recurrent layer timed.</summary>
public enum CellKind
{
    Lstm,
    Gru,
    Rnn,
}

/// <summary>One point of the peers' grid: T = 100, input size = hidden size.</summary>
public sealed record RnnPoint(CellKind Cell, int Batch, int Hidden, int Threads) : IFlopCount
{
    public const int Steps = 100;

    public int Gates => Cell switch { CellKind.Lstm => 4, CellKind.Gru => 3, _ => 1 };

    /// <summary>Forward FLOPs T·B·2·G·H·(I + H), the peers' convention.</summary>
    public double ForwardFlops => 2.0 * Steps * Batch * Gates * Hidden * (Hidden + Hidden);

    public override string ToString() => $"{Cell} B={Batch} H={Hidden} t={Threads}";
}

/// <summary>
/// A training step (forward + full BPTT: every weight gradient and the input gradient) and inference of one recurrent
/// layer at T = 100, I = H, for the <see cref="RnnPoint"/> a derived class supplies.
/// </summary>
public abstract class RecurrentBenchmark
{
    private RecurrentLayer<float> layer = null!, frozen = null!;
    private Tensor<float> x = null!, y = null!, dy = null!, dx = null!;

    public abstract RnnPoint Point { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new SeededRandom(1);
        int h = Point.Hidden;
        layer = Point.Cell switch
        {
            CellKind.Lstm => new Lstm<float>(h, h, random: random),
            CellKind.Gru => new Gru<float>(h, h, random: random),
            _ => new Rnn<float>(h, h, random: random),
        };
        frozen = Point.Cell switch
        {
            CellKind.Lstm => new Lstm<float>(h, h, random: new SeededRandom(1)),
            CellKind.Gru => new Gru<float>(h, h, random: new SeededRandom(1)),
            _ => new Rnn<float>(h, h, random: new SeededRandom(1)),
        };
        layer.MaxDegreeOfParallelism = Point.Threads;
        frozen.MaxDegreeOfParallelism = Point.Threads;
        Configure(layer);
        Configure(frozen);
        frozen.FreezeWeights();
        x = new Tensor<float>(RnnPoint.Steps, Point.Batch, h);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (float)random.NextNormal();
        }

        y = new Tensor<float>(RnnPoint.Steps, Point.Batch, h);
        dy = new Tensor<float>(RnnPoint.Steps, Point.Batch, h);
        for (int i = 0; i < dy.Length; i++)
        {
            dy.Data[i] = 0.01f * (float)random.NextNormal();
        }

        dx = new Tensor<float>(RnnPoint.Steps, Point.Batch, h);
    }

    /// <summary>Sets a layer's options before the run (the default sets none).</summary>
    protected virtual void Configure(RecurrentLayer<float> recurrent)
    {
    }

    [Benchmark]
    [FlopsFactor(1)]
    public void Inference() => layer.Forward(x, y);

    /// <summary>Inference on weights packed once (<see cref="RecurrentLayer{T}.FreezeWeights"/>), as ONNX Runtime's session packs them.</summary>
    [Benchmark]
    [FlopsFactor(1)]
    public void InferenceFrozen() => frozen.Forward(x, y);

    [Benchmark]
    [FlopsFactor(3)]
    public void Train()
    {
        layer.Parameters.ZeroGradients();
        layer.Forward(x, y);
        layer.Backward(dy, null, dx);
    }
}

/// <summary>
/// LSTM, GRU and the Elman RNN on the grid the peers (libtorch through TorchSharp, ONNX Runtime) were timed on:
/// T = 100, I = H, (B, H) in (1, 128), (1, 512), (32, 128), (32, 512), (64, 1024), on 1 and 2 threads.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class RnnBenchmarks : RecurrentBenchmark
{
    public static IEnumerable<RnnPoint> Points()
    {
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
        {
            foreach (int threads in new[] { 1, 2 })
            {
                foreach (var (b, h) in new[] { (1, 128), (1, 512), (32, 128), (32, 512), (64, 1024) })
                {
                    yield return new RnnPoint(cell, b, h, threads);
                }
            }
        }
    }

    [ParamsSource(nameof(Points))]
    public override RnnPoint Point { get; set; } = null!;
}

/// <summary>
/// The batch-1 points of the grid with the fused loops (<c>Kernels/Fused</c>: the recurrent products compute the input
/// projection forward and dL/dx backward in their spare cycles) on and off: whether each fused path pays.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class FusedLoopBenchmarks : RecurrentBenchmark
{
    public static IEnumerable<RnnPoint> Points()
    {
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
        {
            foreach (int threads in new[] { 1, 2 })
            {
                foreach (int h in new[] { 128, 512 })
                {
                    yield return new RnnPoint(cell, 1, h, threads);
                }
            }
        }
    }

    [ParamsSource(nameof(Points))]
    public override RnnPoint Point { get; set; } = null!;

    [Params(true, false)]
    public bool Fused { get; set; }

    protected override void Configure(RecurrentLayer<float> recurrent) => recurrent.FuseProducts = Fused;
}
