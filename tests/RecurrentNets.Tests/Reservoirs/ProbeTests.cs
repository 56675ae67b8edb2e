using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Reservoirs;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Reservoirs;

public class ProbeTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Probe")]
    public void Probe()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int j = 0; j < 3; j++)
        {
            var runs = Protocols.MackeyGlassRun(10000 + 500 * j, 1000 + (ulong)j, [1e-12, 1e-11], 10, 500);
            foreach (var r in runs)
            {
                output.WriteLine($"run {j}: one-step {r.OneStepNrmse:E3} end-fork |e84|/s {Math.Abs(r.ForkErrors[0][83]) / Protocols.Sigma(Protocols.MgSeries):E3} {sw.Elapsed.TotalSeconds:F1}s");
            }
        }

        foreach (ulong seed in new ulong[] { 1, 2, 3 })
        {
            foreach (double ridge in new[] { 0, 1e-14, 1e-13, 1e-12 })
            {
                var (nrmse, worst, diverged) = Protocols.Jaeger(400, seed, ridge, 20);
                output.WriteLine($"jaeger seed {seed} ridge {ridge:E0}: NRMSE84 {nrmse:E3} worst {worst:E2} diverged {diverged}");
            }
        }
    }
}
