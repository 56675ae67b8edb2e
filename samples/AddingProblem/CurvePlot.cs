using RecurrentNets.Samples;
using RecurrentNets.Data;
using ScottPlot;

namespace AddingSample;

/// <summary>Test MSE against training step, one line per (cell, T), on a log y-axis, with the 0.167 baseline.</summary>
internal static class CurvePlot
{
    public static void Write(IReadOnlyList<CellRun> runs, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        LinePattern[] patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
        var kinds = runs.Select(r => r.Kind).Distinct().ToList();
        var lengths = runs.Select(r => r.TimeSteps).Distinct().ToList();
        foreach (var run in runs)
        {
            // ScottPlot draws log axes as log10 of the data with tick labels mapped back.
            double[] xs = run.Curve.Select(p => (double)p.Step).ToArray();
            double[] ys = run.Curve.Select(p => Math.Log10(Math.Max(p.Mse, 1e-6))).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = $"{run.Kind.Name()} T={run.TimeSteps}";
            line.Color = palette.GetColor(kinds.IndexOf(run.Kind));
            line.LinePattern = patterns[lengths.IndexOf(run.TimeSteps) % patterns.Length];
            line.LineWidth = 2;
            line.MarkerSize = 0;
        }

        var baseline = plot.Add.HorizontalLine(Math.Log10(AddingProblem.ConstantBaselineMse));
        baseline.Color = Colors.Black;
        baseline.LinePattern = LinePattern.Dashed;
        baseline.LegendText = "baseline 0.167 (predict 1)";
        var solved = plot.Add.HorizontalLine(Math.Log10(AddingApp.SolvedMse));
        solved.Color = Colors.Gray;
        solved.LinePattern = LinePattern.Dotted;
        solved.LegendText = "solved (0.01)";

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"{Math.Pow(10, y):G3}",
        };
        plot.Title("Adding problem: held-out MSE vs training step");
        plot.XLabel("training step");
        plot.YLabel("test MSE (log scale)");
        plot.ShowLegend(Edge.Right);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        plot.SavePng(path, 1400, 750);
    }
}
