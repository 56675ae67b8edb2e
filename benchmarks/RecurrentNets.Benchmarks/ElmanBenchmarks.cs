using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// The course's Elman RNN, one BPTT window: T = 100, B = 32, I = H = 256, forward only (Inference) and forward + full
/// backward (Train: every weight gradient and the input gradient). FLOPs: forward T·B·2·H·(I + H), training 3 times that.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class ElmanBenchmarks : RecurrentBenchmark
{
    public static IEnumerable<RnnPoint> Points() => [new(CellKind.Rnn, 32, 256, 1), new(CellKind.Rnn, 32, 256, 2)];

    [ParamsSource(nameof(Points))]
    public override RnnPoint Point { get; set; } = null!;
}
