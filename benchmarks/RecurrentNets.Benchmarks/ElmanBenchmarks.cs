using BenchmarkDotNet.Attributes;
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
public class ElmanBenchmarks
{
    private Rnn<float> rnn = null!;
    private Tensor<float> x = null!, y = null!, dy = null!, dx = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(256)]
    public int Hidden { get; set; }

    public const int Steps = 100, Batch = 32;

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

    /// <summary>FLOPs of the forward pass.</summary>
    public double ForwardFlops => 2.0 * Steps * Batch * Hidden * (Hidden + Hidden);

    [Benchmark]
    public void Forward() => rnn.Forward(x, y);

    [Benchmark]
    public void ForwardBackward()
    {
        rnn.Parameters.ZeroGradients();
        rnn.Forward(x, y);
        rnn.Backward(dy, null, dx);
    }
}
