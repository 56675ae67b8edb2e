using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using RecurrentNets.Init;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// `dotnet run -c Release -- reservoir-steps [--units 1000,10000] [--rounds 7] [--cpu]`: the single step and StepBatch(8) of
/// <see cref="ReservoirStepBenchmarks"/> (same reservoirs, float and double), timed round-robin in one process so the
/// ratios come from the same minutes of a shared machine: each round times Step, StepBatch(8), in alternating order,
/// and the batch's cost against eight single steps is taken per round (median over rounds). Wall clock, both cores
/// allowed (as BenchmarkDotNet). "other %" is the CPU share of other processes over each size's rounds (/proc/stat).
/// <c>--cpu</c> times the calling thread's CPU time instead, on one thread (for a loaded machine: it leaves out the
/// waits for a core, not the shared caches).
/// </summary>
internal static partial class ReservoirStepTiming
{
    private static bool cpuTime;

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private static double NowMicroseconds()
    {
        if (!cpuTime)
        {
            return Stopwatch.GetTimestamp() * 1e6 / Stopwatch.Frequency;
        }

        _ = ClockGetTime(3, out var t); // CLOCK_THREAD_CPUTIME_ID
        return (t.Seconds * 1e6) + (t.Nanoseconds * 1e-3);
    }

    private const int Batch = 8;

    public static int Run(string[] args)
    {
        int[] sizes = [1_000, 10_000, 100_000, 1_000_000];
        int rounds = 7;
        for (int a = 0; a < args.Length; a++)
        {
            if (args[a] == "--cpu")
            {
                cpuTime = true;
                continue;
            }

            if (a + 1 >= args.Length)
            {
                Console.Error.WriteLine($"option {args[a]} needs a value");
                return 2;
            }

            switch (args[a++])
            {
                case "--units":
                    sizes = args[a].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--rounds":
                    rounds = int.Parse(args[a], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[a - 1]}");
                    return 2;
            }
        }

        // One thread for CPU time: the workers' time would not be counted.
        using var scope = Kernels.KernelScope.Enter(cpuTime ? 1 : null);
        string path = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";
        Console.WriteLine($"vector path {path}, {(cpuTime ? "thread CPU time, one thread" : "wall clock, " + Environment.ProcessorCount + " processors")}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("| units | precision | Step µs (min / median) | StepBatch(8) µs (min / median) | per stream | 8 × Step ÷ StepBatch(8) (median of rounds) | other % |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|");
        foreach (int n in sizes)
        {
            var rd = Reservoir<double>.Create(new ReservoirOptions
            {
                Units = n, LeakRate = 0.5, SpectralRadius = 0.9, InputScaling = 1.0, InputConnectivity = 0.1, Connectivity = 0.01,
                Degree = n > 1_000 ? 10 : null, Seed = 1,
                SpectralRadiusMethod = n <= 10_000 ? SpectralRadiusMethod.Arnoldi : SpectralRadiusMethod.CircularLaw,
            });
            var rf = new Reservoir<float>(rd.Weights.Convert<float>(), rd.DriveWeights.Select(v => (float)v).ToArray(), null, 1, 0, 0.5);
            var random = new SeededRandom(7);
            var ud = Enumerable.Range(0, 10_000).Select(_ => random.NextUniform(-1, 1)).ToArray();
            var uf = ud.Select(v => (float)v).ToArray();
            int single = Math.Max(5, 20_000_000 / rd.Weights.NonZeros), batched = Math.Max(3, single / Batch);
            var (fs, fb, fo) = Pair(rf, uf, n, single, batched, rounds);
            var (ds, db, dot) = Pair(rd, ud, n, single, batched, rounds);
            Report(n, "float", fs, fb, fo);
            Report(n, "double", ds, db, dot);
        }

        Console.WriteLine($"load after: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static (double[] Single, double[] Batch, double Other) Pair<T>(Reservoir<T> r, T[] u, int n, int singleSteps, int batchSteps, int rounds)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var x = new T[n];
        var next = new T[n];
        var xs = new T[Batch * n];
        var nexts = new T[Batch * n];
        int t = 0;
        double Single()
        {
            double t0 = NowMicroseconds();
            for (int s = 0; s < singleSteps; s++)
            {
                r.Step(x, u.AsSpan(t++ % 10_000, 1), next);
                (x, next) = (next, x);
            }

            return (NowMicroseconds() - t0) / singleSteps;
        }

        double Batched()
        {
            double t0 = NowMicroseconds();
            for (int s = 0; s < batchSteps; s++)
            {
                r.StepBatch(xs, u.AsSpan(t++ % 9_992, Batch), Batch, nexts);
                (xs, nexts) = (nexts, xs);
            }

            return (NowMicroseconds() - t0) / batchSteps;
        }

        // Warm-up past tier-1 (several hundred ms each).
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 400)
        {
            Single();
            Batched();
        }

        var (busy0, total0, own0) = Ticks();
        var a = new double[rounds];
        var b = new double[rounds];
        for (int k = 0; k < rounds; k++)
        {
            if (k % 2 == 0)
            {
                a[k] = Single();
                b[k] = Batched();
            }
            else
            {
                b[k] = Batched();
                a[k] = Single();
            }
        }

        var (busy1, total1, own1) = Ticks();
        double other = total1 > total0 ? 100.0 * ((busy1 - busy0) - (own1 - own0)) / (total1 - total0) : double.NaN;
        return (a, b, other);
    }

    private static (long Busy, long Total, long Own) Ticks()
    {
        // /proc/stat "cpu" line: user nice system idle iowait irq softirq steal ...; /proc/self/stat fields 14, 15.
        long[] f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        long total = f.Take(8).Sum(), idle = f[3] + f[4];
        string[] self = File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long own = long.Parse(self[11], CultureInfo.InvariantCulture) + long.Parse(self[12], CultureInfo.InvariantCulture);
        return (total - idle, total, own);
    }

    private static void Report(int n, string precision, double[] single, double[] batch, double other)
    {
        var ratios = single.Zip(batch, (s, b) => Batch * s / b).Order().ToArray();
        double Median(double[] v) => v.Order().ElementAt(v.Length / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {n:N0} | {precision} | {single.Min():F1} / {Median(single):F1} | {batch.Min():F1} / {Median(batch):F1} | {Median(batch) / Batch:F1} | {ratios[ratios.Length / 2]:F2}× | {other:F0} |"));
    }
}
