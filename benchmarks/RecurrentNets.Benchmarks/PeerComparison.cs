using System.Diagnostics;
using System.Globalization;
using System.Text;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// Times RecurrentNets and its peers (libtorch through TorchSharp for training, ONNX Runtime for inference, both
/// built by ../shared/peers/run_baselines.sh) on the same grid point one right after the other, with the peers' own
/// method (after a longer warm-up, for the JIT's tiers): timed calls until at least 1 s and 10 calls (at most 200), median reported. The
/// share of the machine used by other processes during our timing is reported beside it, as the peers do.
/// </summary>
/// <remarks>Usage: <c>dotnet run -c Release --project benchmarks/RecurrentNets.Benchmarks -- compare [--cells lstm,gru,rnn]
/// [--threads 1,2] [--points 1x128,32x512] [--rounds 1] [--peers torch,ort] [--out results.md] [--ours-only] [--no-fuse]</c>; <c>--ours-only</c> skips the peers;
/// <c>--no-fuse</c> turns the fused batch-1 loops off; <c>--peers ort</c> runs only ONNX Runtime (and so on); <c>--rounds N</c> measures each point N times, ours and the peers
/// alternated, and reports the median of each (on a machine whose speed wanders between runs, the ratio of one round
/// can be 1.3x off).</remarks>
internal static class PeerComparison
{
    private static readonly string PeerRoot = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "recurrentnets-peers", "bin");
    private static readonly string Torch = Path.Combine(PeerRoot, "TorchSharpRnnBench", "release_linux-x64", "TorchSharpRnnBench.dll");
    private static readonly string Ort = Path.Combine(PeerRoot, "OrtLstmProbe", "release_linux-x64", "OrtLstmProbe.dll");

    public static int Run(string[] args)
    {
        string[] cells = Option(args, "--cells", "lstm,gru,rnn").Split(',');
        int[] threads = Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        (int B, int H)[] points = Option(args, "--points", "1x128,1x512,32x128,32x512,64x1024").Split(',')
            .Select(p => p.Split('x')).Select(p => (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture))).ToArray();
        string? output = Option(args, "--out", "");
        bool oursOnly = args.Contains("--ours-only");
        string roundsText = Option(args, "--rounds", "1");
        if (!int.TryParse(roundsText, NumberStyles.None, CultureInfo.InvariantCulture, out int rounds) || rounds < 1)
        {
            Console.Error.WriteLine($"--rounds must be a whole number of at least 1, was '{roundsText}'.");
            return 2;
        }

        string[] peers = Option(args, "--peers", "torch,ort").Split(',');
        string[] unknown = peers.Where(p => p is not ("torch" or "ort")).ToArray();
        if (unknown.Length > 0)
        {
            Console.Error.WriteLine($"--peers takes torch and ort, comma-separated; '{string.Join(",", unknown)}' is neither.");
            return 2;
        }

        bool runTorch = peers.Contains("torch"), runOrt = peers.Contains("ort");

        // --no-fuse: the batch-1 loops without fused products (to measure what the fusion pays).
        bool fuse = !args.Contains("--no-fuse");
        if (oursOnly)
        {
            // Quick A/B of our own builds: our medians only, no peers.
            foreach (string cell in cells)
            {
                foreach (int t in threads)
                {
                    foreach (var (b, h) in points)
                    {
                        var (train, infer, repacking, other) = MeasureOurs(cell, b, h, t, fuse);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{cell} B={b} H={h} threads={t} train_ms={train:F3} infer_ms={infer:F3} infer_repacking_ms={repacking:F3} other_cpu_pct={other:F0}"));
                    }
                }
            }

            return 0;
        }

        if ((runTorch && !File.Exists(Torch)) || (runOrt && !File.Exists(Ort)))
        {
            Console.Error.WriteLine($"Peers not built: run ../shared/peers/run_baselines.sh build (looked for {(runTorch ? Torch : "")} {(runOrt ? Ort : "")}).");
            return 2;
        }

        var table = new StringBuilder();
        table.AppendLine("| cell | B | H | threads | ours train ms | libtorch train ms | speed-up | ours infer ms (frozen) | ORT infer ms | speed-up | ours infer ms (packing per call) | ours GFLOP/s (train) | other CPU % (ours / torch / ORT) |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        if (rounds > 1)
        {
            Console.WriteLine($"# each time is the median of {rounds} rounds (ours and the peers alternated); other CPU % is the most of any round");
        }

        Console.WriteLine(table.ToString().TrimEnd());
        foreach (string cell in cells)
        {
            foreach (int t in threads)
            {
                foreach (var (b, h) in points)
                {
                    var ours = new List<(double Train, double Infer, double Repacking, double Other)>();
                    var torchRuns = new List<(double Median, double Other)>();
                    var ortRuns = new List<(double Median, double Other)>();
                    for (int round = 0; round < rounds; round++)
                    {
                        ours.Add(MeasureOurs(cell, b, h, t));
                        if (runTorch)
                        {
                            torchRuns.Add(Peer(Torch, $"--cell {cell} --batch {b} --hidden {h} --seq 100 --threads {t} --mode train"));
                        }

                        if (runOrt)
                        {
                            ortRuns.Add(Peer(Ort, $"--cell {cell} --batch {b} --hidden {h} --seq 100 --threads {t}"));
                        }
                    }

                    double ourTrain = Medians.Of(ours.Select(o => o.Train)), ourInfer = Medians.Of(ours.Select(o => o.Infer));
                    double ourRepacking = Medians.Of(ours.Select(o => o.Repacking)), ourOther = ours.Max(o => o.Other);
                    var torch = (Median: Medians.Of(torchRuns.Select(r => r.Median)), Other: torchRuns.Select(r => r.Other).DefaultIfEmpty(double.NaN).Max());
                    var ort = (Median: Medians.Of(ortRuns.Select(r => r.Median)), Other: ortRuns.Select(r => r.Other).DefaultIfEmpty(double.NaN).Max());
                    int gates = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1;
                    double flops = 3 * 2.0 * 100 * b * gates * h * 2 * h;
                    string row = string.Create(CultureInfo.InvariantCulture,
                        $"| {cell.ToUpperInvariant()} | {b} | {h} | {t} | {ourTrain:F3} | {Shown(torch.Median, "F3")} | {SpeedUp(torch.Median, ourTrain)} | {ourInfer:F3} | {Shown(ort.Median, "F3")} | {SpeedUp(ort.Median, ourInfer)} | {ourRepacking:F3} | {flops / ourTrain / 1e6:F1} | {ourOther:F0} / {Shown(torch.Other, "F0")} / {Shown(ort.Other, "F0")} |");
                    table.AppendLine(row);
                    Console.WriteLine(row);
                }
            }
        }

        if (!string.IsNullOrEmpty(output))
        {
            File.WriteAllText(output, table.ToString());
        }

        return 0;
    }

    private static (double Train, double Infer, double InferRepacking, double OtherCpu) MeasureOurs(string cell, int batch, int hidden, int threads, bool fuse = true)
    {
        using var scope = KernelScope.Enter(threads);
        var random = new SeededRandom(1);
        RecurrentLayer<float> layer = cell switch
        {
            "lstm" => new Lstm<float>(hidden, hidden, random: random),
            "gru" => new Gru<float>(hidden, hidden, random: random),
            _ => new Rnn<float>(hidden, hidden, random: random),
        };
        layer.FuseProducts = fuse;
        var x = new Tensor<float>(100, batch, hidden);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (float)random.NextNormal();
        }

        var y = new Tensor<float>(100, batch, hidden);
        var dy = new Tensor<float>(100, batch, hidden);
        dy.AsSpan().Fill(0.01f);
        var dx = new Tensor<float>(100, batch, hidden);
        var load = CpuLoad.Start();
        // Inference as ONNX Runtime runs it, on weights packed once (its session packs them when it is built), and as a
        // forward pass that packs them on each call.
        layer.FreezeWeights();
        double infer = Median(() => layer.Forward(x, y));
        layer.UnfreezeWeights();
        double repacking = Median(() => layer.Forward(x, y));
        double train = Median(() =>
        {
            layer.Parameters.ZeroGradients();
            layer.Forward(x, y);
            layer.Backward(dy, null, dx);
        });
        return (train, infer, repacking, load.OtherPercent());
    }

    private static double Median(Action call)
    {
        // Warm up until the JIT's tiered compilation has replaced the quick first-tier code (the peers run native code):
        // at least 2 s and 3 calls (100 calls for short ones).
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 2 || (i < 100 && warm.Elapsed.TotalSeconds < 10); i++)
        {
            call();
        }

        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 200 && (times.Count < 10 || total.Elapsed.TotalSeconds < 1))
        {
            long start = Stopwatch.GetTimestamp();
            call();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }

    // A peer left out by --peers shows as "-".
    private static string Shown(double value, string format) => double.IsNaN(value) ? "-" : value.ToString(format, CultureInfo.InvariantCulture);

    private static string SpeedUp(double peer, double ours) => double.IsNaN(peer) ? "-" : (peer / ours).ToString("F2", CultureInfo.InvariantCulture) + "x";

    private static (double Median, double Other) Peer(string dll, string arguments)
    {
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        string line = text.Split('\n').LastOrDefault(l => l.Contains("median_ms=", StringComparison.Ordinal)) ?? "";
        return (Field(line, "median_ms"), Field(line, "other_cpu_pct"));
    }

    private static double Field(string line, string name)
    {
        foreach (string part in line.Split(' '))
        {
            if (part.StartsWith(name + "=", StringComparison.Ordinal))
            {
                return double.Parse(part.AsSpan(name.Length + 1), CultureInfo.InvariantCulture);
            }
        }

        return double.NaN;
    }

    private static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    /// <summary>CPU used by other processes, from /proc/stat minus this process's own CPU time.</summary>
    internal sealed class CpuLoad
    {
        private long busy0, total0;
        private TimeSpan own0;

        public static CpuLoad Start()
        {
            var load = new CpuLoad();
            (load.busy0, load.total0) = Read();
            load.own0 = Process.GetCurrentProcess().TotalProcessorTime;
            return load;
        }

        public double OtherPercent()
        {
            var (busy1, total1) = Read();
            double ticksPerSecond = 100; // USER_HZ
            double own = (Process.GetCurrentProcess().TotalProcessorTime - own0).TotalSeconds * ticksPerSecond;
            double total = total1 - total0;
            return total <= 0 ? double.NaN : Math.Max(0, 100 * (busy1 - busy0 - own) / total);
        }

        private static (long Busy, long Total) Read()
        {
            string[] f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long[] v = f.Skip(1).Select(long.Parse).ToArray();
            long idle = v[3] + v[4];
            long total = v.Take(8).Sum();
            return (total - idle, total);
        }
    }
}
