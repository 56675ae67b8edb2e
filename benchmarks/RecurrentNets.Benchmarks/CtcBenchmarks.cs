using System.Globalization;
using BenchmarkDotNet.Attributes;
using RecurrentNets.Losses;
using RecurrentNets.Reference;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// CTC forward + backward (<see cref="CtcLoss{T}"/>) at the point: T = 200, B = 32, C = 30 classes (blank 0),
/// target length 40, float, mean reduction; the naive twin (one sequence, double) as the baseline.
/// </summary>
[MemoryDiagnoser]
public class CtcBenchmarks
{
    private CtcData data = null!;
    private CtcLoss<float> loss = null!;
    private float[] grad = [];
    private double[] rows = [], rowGrad = [];

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        data = CtcData.Create(200, 32, 30, 40, seed: 1);
        loss = new CtcLoss<float> { MaxDegreeOfParallelism = Threads };
        grad = new float[data.LogProbs.Length];
        rows = new double[200 * 30];
        for (int t = 0; t < 200; t++)
        {
            for (int c = 0; c < 30; c++)
            {
                rows[t * 30 + c] = data.LogProbs[(t * 32) * 30 + c];
            }
        }

        rowGrad = new double[rows.Length];
    }

    /// <summary>The naive twin on one of the 32 sequences (double, scalar, allocating): ×32 for the batch.</summary>
    [Benchmark(Baseline = true)]
    public double NaiveTwinOneSequence() => ReferenceCtc.Loss(rows, 200, 30, data.Targets.AsSpan(0, 40), 0, rowGrad);

    [Benchmark]
    public double ForwardBackward() => data.Run(loss, grad);

    [Benchmark]
    public double ForwardOnly() => data.Run(loss, []);

    /// <summary>
    /// <c>ctc</c> command: ours and libtorch's CPU <c>ctc_loss</c> (through Debian's python3-torch, a persistent
    /// /usr/bin/python3 child with the same shapes) alternated round by round in one run; per round the median of
    /// <c>--calls</c> timed forward + backward calls of each; the best round's medians are reported.
    /// Usage: <c>ctc [--threads 1,2] [--rounds 7] [--calls 30]</c>.
    /// </summary>
    public static int RunVersusTorch(string[] args)
    {
        int[] threadCounts = TorchChild.Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        int rounds = int.Parse(TorchChild.Option(args, "--rounds", "7"), CultureInfo.InvariantCulture);
        int calls = int.Parse(TorchChild.Option(args, "--calls", "30"), CultureInfo.InvariantCulture);
        const int steps = 200, batch = 32, classes = 30, length = 40;
        var data = CtcData.Create(steps, batch, classes, length, seed: 1);
        Console.WriteLine($"CTC forward + backward, T = {steps}, B = {batch}, C = {classes}, target length {length}, float, reduction mean; " +
            $"median of {calls} calls per round, best of {rounds} rounds; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine("| threads | RecurrentNets (ms) | libtorch ctc_loss (ms) | libtorch / ours |");
        Console.WriteLine("|---:|---:|---:|---:|");
        foreach (int threads in threadCounts)
        {
            using var torch = TorchChild.Start(TorchSetup, $"{threads} {steps} {batch} {classes} {length}");
            var loss = new CtcLoss<float> { MaxDegreeOfParallelism = threads };
            var grad = new float[data.LogProbs.Length];
            var (ours, theirs) = torch.BestOfRounds(() => data.Run(loss, grad), rounds, calls);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {threads} | {ours:F3} | {theirs:F3} | {theirs / ours:F1}× |"));
            Console.Error.WriteLine($"({torch.Version})");
        }

        return 0;
    }

    // libtorch's ctc_loss forward + backward on a batch of the same shapes (TorchChild times call()).
    private const string TorchSetup = """
        threads, T, B, C, S = map(int, sys.argv[1:6])
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        logits = torch.randn(T, B, C, dtype=torch.float32) * 2
        log_probs = logits.log_softmax(2).detach().requires_grad_()
        targets = torch.randint(1, C, (B, S), dtype=torch.long)
        il = torch.full((B,), T, dtype=torch.long)
        tl = torch.full((B,), S, dtype=torch.long)
        def call():
            log_probs.grad = None
            torch.nn.functional.ctc_loss(log_probs, targets, il, tl, blank=0, reduction="mean").backward()
        """;
}

/// <summary>A random CTC batch: log_softmax of N(0, 2²) logits, full-length inputs, random labels in [1, C).</summary>
internal sealed class CtcData
{
    public required float[] LogProbs { get; init; }

    public required int[] Targets { get; init; }

    public required int[] InputLengths { get; init; }

    public required int[] TargetLengths { get; init; }

    public int Steps { get; init; }

    public int Batch { get; init; }

    public int Classes { get; init; }

    public int Length { get; init; }

    public static CtcData Create(int steps, int batch, int classes, int length, int seed)
    {
        var random = new Random(seed);
        var logProbs = new float[steps * batch * classes];
        for (int r = 0; r < steps * batch; r++)
        {
            var row = logProbs.AsSpan(r * classes, classes);
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < classes; c++)
            {
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                row[c] = (float)(2 * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                max = Math.Max(max, row[c]);
            }

            foreach (float v in row)
            {
                sum += Math.Exp(v - max);
            }

            for (int c = 0; c < classes; c++)
            {
                row[c] = (float)(row[c] - max - Math.Log(sum));
            }
        }

        var targets = new int[batch * length];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = random.Next(1, classes);
        }

        return new CtcData
        {
            LogProbs = logProbs,
            Targets = targets,
            InputLengths = Enumerable.Repeat(steps, batch).ToArray(),
            TargetLengths = Enumerable.Repeat(length, batch).ToArray(),
            Steps = steps,
            Batch = batch,
            Classes = classes,
            Length = length,
        };
    }

    public double Run(CtcLoss<float> loss, float[] grad) =>
        loss.Compute(LogProbs, Steps, Batch, Classes, Targets, Length, InputLengths, TargetLengths, grad);
}
