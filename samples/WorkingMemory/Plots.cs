using RecurrentNets.Samples;
using ScottPlot;

namespace WorkingMemorySample;

/// <summary>The sample's two figures.</summary>
internal static class Plots
{
    /// <summary>
    /// Left: held-out accuracy against delay, one line per cell, the training range shaded, chance dashed. Right: the
    /// validation accuracy during training.
    /// </summary>
    public static void Accuracy(IReadOnlyList<CellResult> results, Settings settings, string path)
    {
        var multiplot = new Multiplot(); // starts with one plot: the left panel
        var plot = multiplot.GetPlot(0);
        var learning = multiplot.AddPlot();
        var palette = new ScottPlot.Palettes.Category10();
        var range = plot.Add.HorizontalSpan(settings.MinimumDelay, settings.MaximumDelay);
        range.FillStyle.Color = Colors.Gray.WithAlpha(0.15);
        range.LineStyle.Width = 0;
        range.LegendText = $"training delays {settings.MinimumDelay}-{settings.MaximumDelay}";
        for (int i = 0; i < results.Count; i++)
        {
            var result = results[i];
            double[] xs = result.Accuracy.Select(a => (double)a.Delay).ToArray();
            double[] ys = result.Accuracy.Select(a => 100 * a.Accuracy).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = result.Kind.Name();
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 7;

            var curve = learning.Add.Scatter(
                result.Curve.Select(p => (double)p.Step).ToArray(), result.Curve.Select(p => 100 * p.Accuracy).ToArray());
            curve.LegendText = result.Kind.Name();
            curve.Color = palette.GetColor(i);
            curve.LineWidth = 2;
            curve.MarkerSize = 0;
        }

        var chance = plot.Add.HorizontalLine(100.0 / settings.Locations);
        chance.Color = Colors.Black;
        chance.LinePattern = LinePattern.Dashed;
        chance.LegendText = $"chance (1/{settings.Locations})";
        plot.Axes.SetLimitsY(0, 105);
        plot.Title($"Held-out accuracy vs delay ({settings.Locations} locations, {settings.Hidden} units, {settings.Steps:N0} steps, RNN {settings.RnnSteps:N0})", size: 15);
        plot.XLabel("delay d (steps between the cue and GO)");
        plot.YLabel("trials answered correctly (%)");
        plot.ShowLegend(Edge.Bottom);

        var learningChance = learning.Add.HorizontalLine(100.0 / settings.Locations);
        learningChance.Color = Colors.Black;
        learningChance.LinePattern = LinePattern.Dashed;
        learning.Axes.SetLimitsY(0, 105);
        learning.Title($"Validation accuracy while training (delays {settings.MinimumDelay}-{settings.MaximumDelay})", size: 15);
        learning.XLabel("training step");
        learning.YLabel("trials answered correctly (%)");
        learning.ShowLegend(Edge.Bottom);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(1, 2);
        Save(path, p => multiplot.SavePng(p, 1500, 600));
    }

    /// <summary>
    /// One row per analysed cell, one panel per selected unit: mean h(t) over the trials of each cue location (one line
    /// per location), with the delay shaded and the GO step marked.
    /// </summary>
    public static void DelayUnits(IReadOnlyList<DelayAnalysis> analyses, Settings settings, string path)
    {
        int columns = analyses.Max(a => a.Top.Count), rows = analyses.Count;
        var multiplot = new Multiplot(); // starts with one plot: the first panel
        int panels = 0;
        Plot NextPanel() => panels++ == 0 ? multiplot.GetPlot(0) : multiplot.AddPlot();
        var palette = new ScottPlot.Palettes.Category10();
        foreach (var analysis in analyses)
        {
            foreach (var unit in analysis.Top)
            {
                var plot = NextPanel();
                int delay = analysis.Delay, length = unit.MeanActivity[0].Length;
                bool legend = unit == analysis.Top[^1] && analysis == analyses[0]; // one legend, right of the first row
                var span = plot.Add.HorizontalSpan(0.5, delay + 0.5);
                span.FillStyle.Color = Colors.Gray.WithAlpha(0.15);
                span.LineStyle.Width = 0;
                var go = plot.Add.VerticalLine(delay + 1);
                go.Color = Colors.Black;
                go.LinePattern = LinePattern.Dotted;
                double[] xs = Enumerable.Range(0, length).Select(t => (double)t).ToArray();
                for (int c = 0; c < unit.MeanActivity.Length; c++)
                {
                    var line = plot.Add.Scatter(xs, unit.MeanActivity[c]);
                    line.Color = palette.GetColor(c);
                    line.LineWidth = c == unit.PreferredLocation ? 3 : 1.5f;
                    line.MarkerSize = 0;
                    if (legend)
                    {
                        line.LegendText = $"cue {c}";
                    }
                }

                plot.Axes.SetLimitsY(-1.05, 1.05);
                plot.Title($"{analysis.Kind.Name()} unit {unit.Unit}: F {unit.Separation:G3}, η² {unit.Selectivity:F3}", size: 13);
                plot.XLabel("t (0 cue, shaded delay, dotted GO)", size: 11);
                plot.YLabel("h(t)", size: 11);
                if (legend)
                {
                    plot.ShowLegend(Edge.Right);
                }
                else
                {
                    plot.HideLegend();
                }
            }

            for (int filler = analysis.Top.Count; filler < columns; filler++)
            {
                NextPanel();
            }
        }

        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        Save(path, p => multiplot.SavePng(p, 380 * columns + 90, 320 * rows));
    }

    private static void Save(string path, Action<string> save)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        save(path);
    }
}
