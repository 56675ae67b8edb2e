using ScottPlot;

namespace TimeDelaySample;

/// <summary>The figures: held-out accuracy against training step, and final accuracy against the lag.</summary>
internal static class Plots
{
    public static void WriteCurves(IReadOnlyList<(ModelRun Tdnn, ModelRun Lstm)> runs, Settings settings, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < runs.Count; i++)
        {
            foreach (var run in new[] { runs[i].Tdnn, runs[i].Lstm })
            {
                var line = plot.Add.Scatter(run.Curve.Select(p => (double)p.Step).ToArray(), run.Curve.Select(p => 100 * p.Accuracy).ToArray());
                bool inside = run.Lag + 1 <= settings.ReceptiveField;
                line.LegendText = $"{run.Model} L={run.Lag}{(run.Model == "TDNN" ? inside ? " (in window)" : " (past window)" : "")}";
                line.Color = palette.GetColor(i);
                line.LinePattern = run.Model == "TDNN" ? LinePattern.Solid : LinePattern.Dashed;
                line.LineWidth = 2;
                line.MarkerSize = 0;
            }
        }

        AddGuides(plot);
        plot.Title($"Lagged match: TDNN (solid, receptive field {settings.ReceptiveField}) vs LSTM (dashed)");
        plot.XLabel("training step");
        plot.YLabel("held-out accuracy (%)");
        plot.Axes.SetLimitsY(40, 102);
        plot.ShowLegend(Edge.Right);
        Save(plot, path);
    }

    public static void WriteLags(IReadOnlyList<(ModelRun Tdnn, ModelRun Lstm)> runs, Settings settings, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double[] lags = runs.Select(r => (double)r.Tdnn.Lag).ToArray();
        var tdnn = plot.Add.Scatter(lags, runs.Select(r => 100 * r.Tdnn.FinalAccuracy).ToArray());
        tdnn.LegendText = "TDNN";
        tdnn.Color = palette.GetColor(0);
        tdnn.LineWidth = 2;
        tdnn.MarkerSize = 8;
        var lstm = plot.Add.Scatter(lags, runs.Select(r => 100 * r.Lstm.FinalAccuracy).ToArray());
        lstm.LegendText = "LSTM";
        lstm.Color = palette.GetColor(1);
        lstm.LineWidth = 2;
        lstm.MarkerSize = 8;
        lstm.LinePattern = LinePattern.Dashed;
        var edge = plot.Add.VerticalLine(settings.ReceptiveField - 0.5);
        edge.Color = Colors.Gray;
        edge.LinePattern = LinePattern.Dotted;
        edge.LegendText = $"edge of the TDNN window (largest visible lag {settings.ReceptiveField - 1})";
        AddGuides(plot);
        plot.Title($"Final held-out accuracy after {settings.Steps:N0} steps against the lag L");
        plot.XLabel("lag L (frames from cue to probe)");
        plot.YLabel("held-out accuracy (%)");
        plot.Axes.SetLimitsY(40, 102);
        plot.ShowLegend(Edge.Right);
        Save(plot, path);
    }

    private static void AddGuides(Plot plot)
    {
        var chance = plot.Add.HorizontalLine(50);
        chance.Color = Colors.Black;
        chance.LinePattern = LinePattern.Dashed;
        chance.LegendText = "chance (50 %)";
        var solved = plot.Add.HorizontalLine(100 * TimeDelayApp.SolvedAccuracy);
        solved.Color = Colors.Gray;
        solved.LinePattern = LinePattern.Dotted;
        solved.LegendText = "solved (95 %)";
    }

    private static void Save(Plot plot, string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        plot.SavePng(path, 1400, 750);
    }
}
