using System.Globalization;
using RecurrentNets;
using RecurrentNets.Samples;
using RecurrentNets.Init;
using RecurrentNets.Reservoirs;
using Spectre.Console;

namespace MackeyGlass;

/// <summary>The memory-capacity curve r²(k) of a tanh and a linear reservoir.</summary>
internal static class MemoryApp
{
    private const int Steps = 20000, Test = 5000, MaxDelay = 200;

    public static int Run(int units, FileInfo output, FileInfo? markdown)
    {
        var random = new SeededRandom(5000);
        var u = Enumerable.Range(0, Steps).Select(_ => random.NextUniform(-0.8, 0.8)).ToArray();
        var tanh = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = units, LeakRate = 1.0, SpectralRadius = 1.0, InputScaling = 1.0, InputConnectivity = 0.1, Connectivity = 0.1, Seed = 4000,
        });
        var linear = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = units, Activation = Activation.Identity, Recurrent = new OrthogonalInitializer(), SpectralRadius = 0.95,
            InputScaling = 0.1, InputDistribution = WeightDistribution.Normal, Seed = 1,
        });
        var r2Tanh = ReservoirMetrics.MemoryCapacity(tanh, u, MaxDelay, Test, 1e-4);
        var r2Linear = ReservoirMetrics.MemoryCapacity(linear, u, MaxDelay, Test, 1e-10);
        AnsiConsole.MarkupLine($"memory capacity, {units} units, k = 1..{MaxDelay}: tanh [green]{r2Tanh.Sum():F2}[/] (ReservoirPy: 18.5), linear orthogonal ρ 0.95 [green]{r2Linear.Sum():F2}[/] (bound: {units})");
        var table = new MarkdownTable().Column("reservoir").NumberColumn("r²(k = 1)").NumberColumn("r²(k = 10)").NumberColumn("r²(k = 50)")
            .NumberColumn("memory capacity").Column("for comparison");
        foreach (var (name, r2, peer) in new[]
        {
            ("tanh, ρ 1.0, ridge 1e-4 (seed 4000)", r2Tanh, "ReservoirPy: 18.5"),
            ("linear orthogonal, ρ 0.95, ridge 1e-10 (seed 1)", r2Linear, $"bound: {units}"),
        })
        {
            table.Row(name, F(r2[0], "F3"), F(r2[9], "F3"), F(r2[49], "F3"), F(r2.Sum(), "F2"), peer);
        }

        table.WriteTo(markdown, $"Memory capacity Σ r²(k), k = 1..{MaxDelay}, {units} units, {Steps:N0} steps of U[−0.8, 0.8] input ({Test:N0} scored)");

        var plot = new ScottPlot.Plot();
        var xs = Enumerable.Range(1, MaxDelay).Select(k => (double)k).ToArray();
        var a = plot.Add.ScatterLine(xs, r2Tanh);
        a.LegendText = $"tanh, ρ 1.0 (MC {r2Tanh.Sum():F1})";
        a.LineWidth = 2;
        var b = plot.Add.ScatterLine(xs, r2Linear);
        b.LegendText = $"linear orthogonal, ρ 0.95 (MC {r2Linear.Sum():F1})";
        b.LineWidth = 2;
        plot.Title($"Memory capacity of {units}-unit reservoirs: r²(u(t-k), y_k(t))");
        plot.XLabel("delay k");
        plot.YLabel("squared correlation");
        plot.ShowLegend();
        plot.SavePng(output.FullName, 1000, 450);
        AnsiConsole.MarkupLine($"wrote [blue]{output.FullName}[/]");
        return 0;
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
