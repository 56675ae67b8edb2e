using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using RecurrentNets.Data;
using RecurrentNets.Reservoirs;
using RecurrentNets.Samples;
using Spectre.Console;

namespace MackeyGlass;

/// <summary>Train, free-run, report and plot (the protocol of the ReservoirPy baseline, one run).</summary>
internal static class ForecastApp
{
    private const int Washout = 1000, Train = 3000, Offset = 10000;

    public static int Run(int units, double ridge, double bias, int horizon, ulong seed, bool useFloat, FileInfo output, FileInfo? markdown)
    {
        var series = MackeyGlassSeries.Squash(MackeyGlassSeries.ReservoirPy(30000));
        double sigma = ReservoirMetrics.StandardDeviation(series);
        if (Offset + Washout + Train + horizon > series.Length)
        {
            AnsiConsole.MarkupLine($"[red]--horizon {horizon} is longer than the series allows ({series.Length - Offset - Washout - Train}).[/]");
            return 1;
        }

        var options = new ReservoirOptions
        {
            Units = units,
            LeakRate = 0.5,
            SpectralRadius = 1.0,
            InputScaling = 0.5,
            BiasScaling = bias,
            Connectivity = Math.Min(1.0, 10.0 / units),
            Seed = seed,
        };
        AnsiConsole.MarkupLine($"[bold]Mackey-Glass τ = 17[/]: {units} units, leak 0.5, ρ 1.0, input scaling 0.5, bias ±{bias}, ridge {ridge:E0}, {(useFloat ? "float" : "double")}");
        var sw = Stopwatch.StartNew();
        var prediction = useFloat ? Forecast<float>(options, ridge, series, horizon) : Forecast<double>(options, ridge, series, horizon);
        var truth = series.AsSpan(Offset + Washout + Train, horizon);
        var report = ReservoirMetrics.FreeRun(prediction, truth, sigma);

        var table = new Table().AddColumn("step k").AddColumn("|error| / σ").AddColumn("NRMSE over 1..k");
        var markdownTable = new MarkdownTable().NumberColumn("step k").NumberColumn("|error| / σ").NumberColumn("NRMSE over 1..k");
        foreach (int k in new[] { 1, 10, 50, 84, 100, 200, 300, 400, 500 }.Where(k => k <= horizon))
        {
            string[] row = [k.ToString(CultureInfo.InvariantCulture), MarkdownTable.Scientific(report.At(k)),
                MarkdownTable.Scientific(ReservoirMetrics.Nrmse(prediction.AsSpan(0, k), truth[..k], sigma))];
            table.AddRow(row);
            markdownTable.Row(row);
        }

        AnsiConsole.Write(table);
        markdownTable.WriteTo(markdown, string.Create(CultureInfo.InvariantCulture,
            $"Free-running error after training: {units} units, ridge {ridge:0e-0}, bias ±{bias}, reservoir seed {seed}, {(useFloat ? "float" : "double")}; "
            + $"{(report.Diverged ? $"diverged at step {report.DivergenceStep}" : "no divergence (|error| ≤ σ throughout)")}"));
        if (horizon >= 84)
        {
            AnsiConsole.MarkupLine($"NRMSE at step 84: [green]{report.At(84):E2}[/] (ReservoirPy, 20-run RMS: 3.3e-5 to 5.9e-5)");
        }

        AnsiConsole.MarkupLine($"NRMSE at step {horizon}: [green]{report.At(horizon):E2}[/]; " + (report.Diverged ? $"[red]diverged at step {report.DivergenceStep}[/]" : "no divergence (|error| ≤ σ throughout)"));
        AnsiConsole.MarkupLine($"train + free run: {sw.Elapsed.TotalSeconds:F1} s");

        var plot = new ScottPlot.Plot();
        var xs = Enumerable.Range(1, horizon).Select(k => (double)k).ToArray();
        var t = plot.Add.ScatterLine(xs, truth.ToArray());
        t.LegendText = "truth";
        t.LineWidth = 3;
        var p = plot.Add.ScatterLine(xs, prediction);
        p.LegendText = "free-running ESN";
        p.LinePattern = ScottPlot.LinePattern.Dashed;
        p.LineWidth = 2;
        plot.Title($"Mackey-Glass τ=17, {units}-unit ESN running free (NRMSE@84 {(horizon >= 84 ? report.At(84) : double.NaN):E1})");
        plot.XLabel("steps after the end of training");
        plot.YLabel("tanh(x - 1)");
        plot.ShowLegend();
        plot.SavePng(output.FullName, 1000, 450);
        AnsiConsole.MarkupLine($"wrote [blue]{output.FullName}[/]");
        return 0;
    }

    private static double[] Forecast<T>(ReservoirOptions options, double ridge, double[] series, int horizon)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var reservoir = Reservoir<T>.Create(options);
        var readout = new RidgeReadout<T>(options.Units, 1, ridge);
        var esn = new EchoStateNetwork<T>(reservoir, readout);
        var s = series.Select(T.CreateTruncating).ToArray();
        var state = esn.CreateState();
        esn.Train(state, s.AsSpan(Offset, Washout + Train), s.AsSpan(Offset + 1, Washout + Train), Washout);
        var prediction = new T[horizon];
        esn.Generate(state, prediction);
        return prediction.Select(double.CreateTruncating).ToArray();
    }
}
