using RecurrentNets.Reservoirs;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Reservoirs;

/// <summary>
/// The reservoir claims of docs/reservoirs.md over three independent seed sets each, fixed before any of them was
/// measured (issue 18, item 5): the set ReservoirPy used (bench.py), and two others. This class prints the table of
/// docs/reservoirs.md ("Over three seed sets"); the acceptance tests hold each number to its measured value.
/// Run: dotnet test -c Release tests/RecurrentNets.Tests -s tests/RecurrentNets.Tests/slow.runsettings
///      --filter FullyQualifiedName~SeedSetTests --logger "console;verbosity=detailed"
/// </summary>
public class SeedSetTests(ITestOutputHelper output)
{
    /// <summary>A seed set: a name, the first reservoir seed and the first data seed (run j uses first + j).</summary>
    public sealed record SeedSet(string Name, ulong Reservoir, ulong Data);

    /// <summary>NARMA-10 and the tanh memory capacity: ReservoirPy's seeds (bench.py), then 500-509 and 1000-1009.</summary>
    public static readonly SeedSet[] NarmaSets = [new("rpy", 2000, 3000), new("500", 500, 1500), new("1000", 1000, 2500)];

    public static readonly SeedSet[] TanhMemorySets = [new("rpy", 4000, 5000), new("500", 500, 1500), new("1000", 1000, 2500)];

    /// <summary>Mackey-Glass (20 runs, offset 10000 + 500 j, the series is fixed): ReservoirPy's reservoir seeds 1000-1019, then 500-519 and 9000-9019 (the set issue 18 quotes).</summary>
    public static readonly SeedSet[] MackeyGlassSets = [new("rpy", 1000, 0), new("500", 500, 0), new("9000", 9000, 0)];

    /// <summary>The linear memory capacity (data seed = reservoir seed + 100): seeds 1-10 (the existing test's), 500-509, 1000-1009.</summary>
    public static readonly SeedSet[] LinearMemorySets = [new("1", 1, 0), new("500", 500, 0), new("1000", 1000, 0)];

    private static string MeanSd(double[] v, string format) =>
        $"{v.Average().ToString(format)} ± {ReservoirMetrics.StandardDeviation(v).ToString(format)} (min {v.Min().ToString(format)}, max {v.Max().ToString(format)})";

    private void Summary(string what, double[] perSet, string format) =>
        output.WriteLine($"  {what} over the sets: {MeanSd(perSet, format)}");

    [Fact]
    [Trait("Category", "Slow")]
    public void Narma10OverThreeSeedSets()
    {
        output.WriteLine($"vector path: {(CpuFeatures.HasAvx512 ? "AVX-512" : "no AVX-512")}");
        foreach (int units in new[] { 100, 400 })
        {
            var means = new List<double>();
            foreach (var set in NarmaSets)
            {
                var v = Enumerable.Range(0, 10).Select(j => Protocols.Narma(units, set.Reservoir + (ulong)j, set.Data + (ulong)j, [1e-12])[0]).ToArray();
                means.Add(v.Average());
                output.WriteLine($"NARMA-10, {units} units, ridge 1e-12, reservoir {set.Reservoir}-{set.Reservoir + 9}, data {set.Data}-{set.Data + 9}: " +
                    $"{MeanSd(v, "F4")}; runs {string.Join(" ", v.Select(x => x.ToString("F4")))}");
            }

            Summary($"NARMA-10 {units} units, set means", means.ToArray(), "F4");
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassOverThreeSeedSets()
    {
        output.WriteLine($"vector path: {(CpuFeatures.HasAvx512 ? "AVX-512" : "no AVX-512")}");
        var s = Protocols.MgSeries;
        double sigma = Protocols.Sigma(s);
        double[] ridges = [1e-12, 1e-11];
        foreach (var set in MackeyGlassSets)
        {
            var runs = Enumerable.Range(0, 20).Select(j => Protocols.MackeyGlassRun(10000 + 500 * j, set.Reservoir + (ulong)j, ridges, 10, 500,
                p: new Protocols.MgParams(Bias: 0.2))).ToList();
            for (int i = 0; i < ridges.Length; i++)
            {
                var endFork = runs.Select(r => r[i].ForkErrors[0]).ToList();
                var kept = runs.Select((r, j) => (r: r[i], j)).Where(p => p.r.ForkErrors.All(e => e.All(v => Math.Abs(v) <= sigma))).ToList();
                var per84 = endFork.Select(e => Math.Abs(e[83]) / sigma).ToArray();
                int divergedForks = runs.Sum(r => r[i].ForkErrors.Count(e => e.Any(v => !(Math.Abs(v) <= sigma))));
                var divergedRuns = runs.Select((r, j) => (r, j)).Where(p => p.r[i].ForkErrors.Any(e => e.Any(v => !(Math.Abs(v) <= sigma)))).Select(p => set.Reservoir + (ulong)p.j);
                double rms84 = Math.Sqrt(endFork.Average(e => e[83] * e[83])) / sigma;
                double rms84Kept = kept.Count == 0 ? double.NaN : Math.Sqrt(kept.Average(p => p.r.ForkErrors[0][83] * p.r.ForkErrors[0][83])) / sigma;
                var oneStep = runs.Select(r => r[i].OneStepNrmse).ToArray();
                output.WriteLine($"MG double, ridge {ridges[i]:E0}, reservoir {set.Reservoir}-{set.Reservoir + 19}: NRMSE@84 end fork {rms84:E2}" +
                    $" ({kept.Count} runs without a diverged fork: {rms84Kept:E2}); per-run |err84|/σ median {Protocols.UpperMedian(per84):E2}, max {per84.Max():E2};" +
                    $" one-step {oneStep.Average():E2} ± {ReservoirMetrics.StandardDeviation(oneStep):E1}; diverged forks (|err| > σ within 500 steps) {divergedForks} of 200" +
                    $" in runs {string.Join(",", divergedRuns)}");
            }
        }

        foreach (var set in MackeyGlassSets)
        {
            var errs = Enumerable.Range(0, 20).Select(j => Protocols.MackeyGlassFloatRun(10000 + 500 * j, set.Reservoir + (ulong)j, ridges, 500)).ToList();
            for (int i = 0; i < ridges.Length; i++)
            {
                var e = errs.Select(x => x[i]).ToList();
                double rms84 = Math.Sqrt(e.Average(x => x[83] * x[83])) / sigma;
                double rms84First4 = Math.Sqrt(e.Take(4).Average(x => x[83] * x[83])) / sigma;
                var diverged84 = e.Select((x, j) => (x, j)).Where(p => p.x.Take(84).Any(v => !(Math.Abs(v) <= sigma))).Select(p => set.Reservoir + (ulong)p.j);
                var diverged500 = e.Select((x, j) => (x, j)).Where(p => p.x.Any(v => !(Math.Abs(v) <= sigma))).Select(p => set.Reservoir + (ulong)p.j);
                output.WriteLine($"MG float, ridge {ridges[i]:E0}, reservoir {set.Reservoir}-{set.Reservoir + 19}: NRMSE@84 end fork {rms84:E2} (first 4 runs {rms84First4:E2});" +
                    $" runs diverged within 84 steps: {diverged84.Count()} ({string.Join(",", diverged84)}), within 500: {diverged500.Count()} ({string.Join(",", diverged500)})");
            }
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MemoryCapacityOverThreeSeedSets()
    {
        output.WriteLine($"vector path: {(CpuFeatures.HasAvx512 ? "AVX-512" : "no AVX-512")}");
        var linear = new List<double>();
        foreach (var set in LinearMemorySets)
        {
            var mc = Enumerable.Range(0, 10).Select(j => Protocols.MemoryCapacityLinear(set.Reservoir + (ulong)j, 20000, 5000, 1e-10).Sum()).ToArray();
            linear.Add(mc.Average());
            output.WriteLine($"MC linear, seeds {set.Reservoir}-{set.Reservoir + 9}: {MeanSd(mc, "F2")}; runs {string.Join(" ", mc.Select(x => x.ToString("F2")))}");
        }

        Summary("MC linear, set means", linear.ToArray(), "F2");
        foreach (var (length, test) in new[] { (2000, 400), (20000, 5000) })
        {
            var tanh = new List<double>();
            foreach (var set in TanhMemorySets)
            {
                var mc = Enumerable.Range(0, 10).Select(j => Protocols.MemoryCapacityTanh(set.Reservoir + (ulong)j, set.Data + (ulong)j, length, test).Sum()).ToArray();
                tanh.Add(mc.Average());
                output.WriteLine($"MC tanh {length}/{test}, reservoir {set.Reservoir}-{set.Reservoir + 9}, data {set.Data}-{set.Data + 9}: {MeanSd(mc, "F2")}");
            }

            Summary($"MC tanh {length}/{test}, set means", tanh.ToArray(), "F2");
        }
    }
}
