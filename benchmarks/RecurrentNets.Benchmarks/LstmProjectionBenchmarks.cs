using System.Diagnostics;
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
        int[] threadCounts = Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);
        int calls = int.Parse(Option(args, "--calls", "10"), CultureInfo.InvariantCulture);
        int proj = int.Parse(Option(args, "--proj", "128"), CultureInfo.InvariantCulture);
        string script = Path.Combine(Path.GetTempPath(), $"lstmp_torch_timer_{Environment.ProcessId}.py");
        File.WriteAllText(script, TorchTimer);
        try
        {
            Console.WriteLine($"LSTM training (forward + full BPTT backward with dL/dx), T = {Point.Steps}, B = {Point.Batch}, I = H = {Point.Hidden}, " +
                $"float, one layer; median of {calls} calls per round, best of {rounds} rounds; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
            Console.WriteLine("| model | threads | RecurrentNets (ms) | libtorch (ms) | libtorch / ours |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            foreach (int p in new[] { proj, 0 })
            {
                foreach (int threads in threadCounts)
                {
                    var ours = Point.Create(p, threads);
                    using var torch = Process.Start(new ProcessStartInfo("/usr/bin/python3",
                        string.Create(CultureInfo.InvariantCulture, $"{script} {threads} {Point.Steps} {Point.Batch} {Point.Hidden} {p}"))
                    {
                        RedirectStandardInput = true,
                        RedirectStandardOutput = true,
                        UseShellExecute = false,
                    })!;
                    string version = torch.StandardOutput.ReadLine()!;
                    double bestOurs = double.MaxValue, bestTorch = double.MaxValue;
                    for (int r = 0; r < rounds; r++)
                    {
                        var times = new double[calls];
                        for (int i = 0; i < calls + 3; i++)
                        {
                            long start = Stopwatch.GetTimestamp();
                            ours.Train();
                            if (i >= 3)
                            {
                                times[i - 3] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                            }
                        }

                        Array.Sort(times);
                        bestOurs = Math.Min(bestOurs, times[calls / 2]);
                        torch.StandardInput.WriteLine(calls.ToString(CultureInfo.InvariantCulture));
                        torch.StandardInput.Flush();
                        bestTorch = Math.Min(bestTorch, double.Parse(torch.StandardOutput.ReadLine()!, CultureInfo.InvariantCulture));
                    }

                    torch.StandardInput.WriteLine("0");
                    torch.WaitForExit();
                    string model = p > 0 ? $"LSTMP, P = {p}" : "LSTM (reference)";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {model} | {threads} | {bestOurs:F2} | {bestTorch:F2} | {bestTorch / bestOurs:F2}× |"));
                    Console.Error.WriteLine($"({version})");
                }
            }
        }
        finally
        {
            File.Delete(script);
        }

        return 0;
    }

    private static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
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

    // Reads a call count per line, times that many training calls after 3 warm-up calls, prints the median (ms). The
    // gradients are set to None outside the timed call, as TorchSharpRnnBench does; x requires its gradient, as ours
    // computes dL/dx.
    private const string TorchTimer = """
        import sys, time
        import torch
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
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}", flush=True)
        for line in sys.stdin:
            n = int(line)
            if n == 0:
                break
            for _ in range(3):
                reset()
                call()
            times = []
            for _ in range(n):
                reset()
                start = time.perf_counter()
                call()
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            print(times[n // 2], flush=True)
        """;
}
