using System.Globalization;
using BenchmarkDotNet.Attributes;
using RecurrentNets.Init;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// Training of an LSTM with projections (PyTorch <c>proj_size</c>) at the point: T = 100, B = 32, I = H = 512,
/// P = 128, float, one layer; forward + full BPTT backward (every weight gradient and dL/dx). The plain LSTM at the same
/// point is the baseline.
/// </summary>
[MemoryDiagnoser]
public class LstmProjectionBenchmarks
{
    private Point plain = null!, projected = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        plain = Point.Create(0, Threads);
        projected = Point.Create(128, Threads);
    }

    [Benchmark(Baseline = true)]
    public void LstmTrain() => plain.Train();

    [Benchmark]
    public void LstmpTrain() => projected.Train();

    /// <summary>
    /// <c>lstmp</c> command: ours and libtorch's <c>nn.LSTM(proj_size=P)</c> (through Debian's python3-torch, a persistent
    /// /usr/bin/python3 child with the same shapes; TorchSharp has no <c>proj_size</c>) alternated round by round in one run,
    /// with the plain LSTM at the same point as a reference; per round the median of <c>--calls</c> timed training calls of
    /// each; the best round's medians are reported. Usage: <c>lstmp [--threads 1,2] [--rounds 5] [--calls 10] [--proj 128]</c>.
    /// </summary>
    public static int RunVersusTorch(string[] args)
    {
        int[] threadCounts = TorchChild.Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        int rounds = int.Parse(TorchChild.Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);
        int calls = int.Parse(TorchChild.Option(args, "--calls", "10"), CultureInfo.InvariantCulture);
        int proj = int.Parse(TorchChild.Option(args, "--proj", "128"), CultureInfo.InvariantCulture);
        Console.WriteLine($"LSTM training (forward + full BPTT backward with dL/dx), T = {Point.Steps}, B = {Point.Batch}, I = H = {Point.Hidden}, " +
            $"float, one layer; median of {calls} calls per round, best of {rounds} rounds; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine("| model | threads | RecurrentNets (ms) | libtorch (ms) | libtorch / ours |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (int p in new[] { proj, 0 })
        {
            foreach (int threads in threadCounts)
            {
                var point = Point.Create(p, threads);
                using var torch = TorchChild.Start(TorchSetup, string.Create(CultureInfo.InvariantCulture, $"{threads} {Point.Steps} {Point.Batch} {Point.Hidden} {p}"));
                var (ours, theirs) = torch.BestOfRounds(point.Train, rounds, calls);
                string model = p > 0 ? $"LSTMP, P = {p}" : "LSTM (reference)";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {model} | {threads} | {ours:F2} | {theirs:F2} | {theirs / ours:F2}× |"));
                Console.Error.WriteLine($"({torch.Version}, BLAS: {BlasLibrary()})");
            }
        }

        return 0;
    }

    // The library behind libblas.so.3, which Debian's torch calls for its products (netlib's reference BLAS unless
    // OpenBLAS is installed: apt-get install libopenblas0-openmp).
    private static string BlasLibrary()
    {
        const string link = "/usr/lib/x86_64-linux-gnu/libblas.so.3";
        try
        {
            return new FileInfo(link).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? link;
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    // One grid point of ours: the layer, x, a constant dL/dy (0.01), and the buffers of one training call.
    private sealed class Point
    {
        public const int Steps = 100, Batch = 32, Hidden = 512;
        private Lstm<float> layer = null!;
        private Tensor<float> x = null!, y = null!, dy = null!, dx = null!;

        public static Point Create(int projection, int threads)
        {
            var random = new SeededRandom(1);
            var point = new Point { layer = new Lstm<float>(Hidden, Hidden, random: random, projectionSize: projection) { MaxDegreeOfParallelism = threads } };
            point.x = new Tensor<float>(Steps, Batch, Hidden);
            for (int i = 0; i < point.x.Length; i++)
            {
                point.x.Data[i] = (float)random.NextNormal();
            }

            point.y = new Tensor<float>(Steps, Batch, point.layer.OutputSize);
            point.dy = new Tensor<float>(Steps, Batch, point.layer.OutputSize);
            point.dy.AsSpan().Fill(0.01f);
            point.dx = new Tensor<float>(Steps, Batch, Hidden);
            return point;
        }

        public void Train()
        {
            layer.Parameters.ZeroGradients();
            layer.Forward(x, y);
            layer.Backward(dy, null, dx);
        }
    }

    // libtorch's nn.LSTM(proj_size=P) training call on the same shapes (TorchChild times call()): the gradients are set to
    // None outside the timed call, as TorchSharpRnnBench does; x requires its gradient, as ours computes dL/dx.
    private const string TorchSetup = """
        threads, T, B, H, P = map(int, sys.argv[1:6])
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        lstm = torch.nn.LSTM(H, H, proj_size=P)
        lstm.train()
        x = torch.randn(T, B, H).requires_grad_()
        dy = torch.full((T, B, P if P > 0 else H), 0.01)
        def call():
            y, _ = lstm(x)
            y.backward(dy)
        def reset():
            lstm.zero_grad(set_to_none=True)
            x.grad = None
        """;
}
