using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// `dotnet run -c Release -- reservoir-cputime`: the reservoir steps and the ridge fit of <see cref="ReservoirStepBenchmarks"/>
/// and <see cref="RidgeFitBenchmarks"/> timed by the calling thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)),
/// single-threaded, best of several repeats. On a machine shared with other jobs, wall-clock times (what
/// BenchmarkDotNet reports) include the time the thread waits for a core; CPU time does not (caches and memory
/// bandwidth are still shared). Both are reported in docs/reservoirs.md, with the load average.
/// </summary>
internal static partial class ReservoirCpuTime
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private static double ThreadSeconds()
    {
        _ = ClockGetTime(3, out var t); // CLOCK_THREAD_CPUTIME_ID
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    private static double Best(Action run, int repeats)
    {
        run();
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            double t0 = ThreadSeconds();
            run();
            best = Math.Min(best, ThreadSeconds() - t0);
        }

        return best;
    }

    // The 1, 5 and 15 minute load averages (Linux).
    private static string LoadAverage() =>
        string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>Runs the timings; <c>--markdown FILE</c> also writes the table (and the ridge fit below it) to FILE.</summary>
    public static int Run(string[] args)
    {
        string? markdown = args is ["--markdown", var file] ? file : null;
        if (args.Length > 0 && markdown is null)
        {
            Console.Error.WriteLine("usage: reservoir-cputime [--markdown FILE]");
            return 2;
        }

        using var scope = KernelScope.Enter(1);
        var table = new StringBuilder();
        void Line(string line)
        {
            Console.WriteLine(line);
            table.Append(line).Append('\n');
        }

        string loadBefore = LoadAverage();
        Console.WriteLine($"load before: {loadBefore}");
        Line("| units | nnz | float µs/step | float ns/nnz | double µs/step | double ns/nnz |");
        Line("|---:|---:|---:|---:|---:|---:|");
        foreach (int n in new[] { 1_000, 10_000, 100_000, 1_000_000 })
        {
            var rd = Reservoir<double>.Create(new ReservoirOptions
            {
                Units = n, LeakRate = 0.5, SpectralRadius = 0.9, InputScaling = 1.0, InputConnectivity = 0.1, Connectivity = 0.01,
                Degree = n > 1_000 ? 10 : null, Seed = 1,
                SpectralRadiusMethod = n <= 10_000 ? SpectralRadiusMethod.Arnoldi : SpectralRadiusMethod.CircularLaw,
            });
            var rf = new Reservoir<float>(rd.Weights.Convert<float>(), rd.DriveWeights.Select(v => (float)v).ToArray(), null, 1, 0, 0.5);
            var xd = new double[n];
            var nd = new double[n];
            var xf = new float[n];
            var nf = new float[n];
            var u = new double[] { 0.3 };
            var uf = new float[] { 0.3f };
            int steps = Math.Max(5, 2_000_000 / rd.Weights.NonZeros * 10);
            double f = Best(() =>
            {
                for (int i = 0; i < steps; i++)
                {
                    rf.Step(xf, uf, nf);
                    (xf, nf) = (nf, xf);
                }
            }, 7) / steps;
            double d = Best(() =>
            {
                for (int i = 0; i < steps; i++)
                {
                    rd.Step(xd, u, nd);
                    (xd, nd) = (nd, xd);
                }
            }, 7) / steps;
            int nnz = rd.Weights.NonZeros;
            Line($"| {n:N0} | {nnz:N0} | {f * 1e6:N1} | {f * 1e9 / nnz:F2} | {d * 1e6:N1} | {d * 1e9 / nnz:F2} |");
        }

        var fit = new RidgeFitBenchmarks { Threads = 1 };
        fit.Setup();
        double fitSeconds = Best(() => fit.RidgeFit(), 5);
        double gramSeconds = Best(fit.GramOnly, 5);
        string fitLine = $"ridge fit 10,000 × 1,000 (1 thread, CPU time): {fitSeconds:F3} s; ZᵀZ alone {gramSeconds:F3} s";
        string loadAfter = LoadAverage();
        Console.WriteLine(fitLine);
        Console.WriteLine($"load after: {loadAfter}");
        if (markdown is not null)
        {
            File.WriteAllText(markdown, $"One thread, thread CPU time, best of 7 (load average before: {loadBefore}; after: {loadAfter})\n\n"
                + $"{table}\n{char.ToUpperInvariant(fitLine[0])}{fitLine[1..]}.\n");
        }

        return 0;
    }
}
