using RecurrentNets.Data;
using ScottPlot;

namespace GridCellsSample;

/// <summary>The sample's PNGs: rate maps of the top units, the gridness histograms, an example trajectory.</summary>
internal static class Figures
{
    private const int TopUnits = 8;

    public static List<string> Write(IReadOnlyList<ConditionRun> runs, PathIntegrationTask task, Settings settings)
    {
        string prefix = settings.OutputPrefix;
        string? directory = Path.GetDirectoryName(Path.GetFullPath(prefix + ".png"));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var written = new List<string>
        {
            RateMapFigure(runs, settings, prefix + "-ratemaps.png"),
            HistogramFigure(runs, settings, prefix + "-gridness.png"),
            TrajectoryFigure(runs, task, prefix + "-trajectory.png"),
        };
        return written;
    }

    // One row per condition: the rate maps of its TopUnits units with the highest gridness.
    private static string RateMapFigure(IReadOnlyList<ConditionRun> runs, Settings settings, string path)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(runs.Count * TopUnits);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(runs.Count, TopUnits);
        int bins = settings.Bins;
        for (int r = 0; r < runs.Count; r++)
        {
            var run = runs[r];
            int[] order = Enumerable.Range(0, run.Gridness.Length).OrderByDescending(u => run.Gridness[u]).Take(TopUnits).ToArray();
            for (int k = 0; k < order.Length; k++)
            {
                int unit = order[k];
                double[] map = new double[bins * bins];
                run.Maps.GetMap(unit, map);
                var grid = new double[bins, bins];
                for (int y = 0; y < bins; y++)
                {
                    for (int x = 0; x < bins; x++)
                    {
                        // Heatmap rows run top to bottom: flip so +y is up.
                        grid[bins - 1 - y, x] = map[y * bins + x];
                    }
                }

                var plot = multiplot.GetPlot(r * TopUnits + k);
                var heatmap = plot.Add.Heatmap(grid);
                heatmap.Colormap = new ScottPlot.Colormaps.Turbo();
                heatmap.NaNCellColor = Colors.White;
                plot.Axes.Frameless();
                plot.HideGrid();
                plot.Axes.Margins(0, 0);
                plot.Title(k == 0 ? $"{run.Name}: unit {unit}, g = {run.Gridness[unit]:F2}" : $"unit {unit}, g = {run.Gridness[unit]:F2}", size: 11);
            }
        }

        multiplot.SavePng(path, 220 * TopUnits, 250 * runs.Count);
        return path;
    }

    // Both conditions' gridness distributions, with the threshold.
    private static string HistogramFigure(IReadOnlyList<ConditionRun> runs, Settings settings, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        const double width = 0.05;
        double low = Math.Floor(runs.Min(r => r.Gridness.Min()) / width) * width;
        double high = Math.Ceiling(runs.Max(r => r.Gridness.Max()) / width + 1e-9) * width;
        int binCount = Math.Max(1, (int)Math.Round((high - low) / width));
        for (int r = 0; r < runs.Count; r++)
        {
            var counts = new double[binCount];
            foreach (double g in runs[r].Gridness)
            {
                counts[Math.Clamp((int)Math.Floor((g - low) / width), 0, binCount - 1)]++;
            }

            var bars = new List<Bar>();
            for (int b = 0; b < binCount; b++)
            {
                // Side by side within each bin, one colour per condition.
                double centre = low + (b + 0.25 + 0.5 * r) * width;
                bars.Add(new Bar { Position = centre, Value = counts[b], Size = width / 2, FillColor = palette.GetColor(r), LineWidth = 0 });
            }

            var series = plot.Add.Bars(bars);
            series.LegendText = $"{runs[r].Name}: {runs[r].GridUnits(settings.Threshold)} units > {settings.Threshold:G}, max {runs[r].Gridness.Max():F2}";
            series.Color = palette.GetColor(r);
        }

        var threshold = plot.Add.VerticalLine(settings.Threshold);
        threshold.Color = Colors.Black;
        threshold.LinePattern = LinePattern.Dashed;
        threshold.LegendText = $"threshold {settings.Threshold:G}";
        plot.Title($"Gridness of the {settings.Bottleneck} bottleneck units after {settings.Steps:N0} steps");
        plot.XLabel("gridness score (min(r60, r120) - max(r30, r90, r150))");
        plot.YLabel("units");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1000, 550);
        return path;
    }

    // The first held-out trajectory and the positions decoded from each condition's place-cell prediction.
    private static string TrajectoryFigure(IReadOnlyList<ConditionRun> runs, PathIntegrationTask task, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double half = task.Options.ArenaSize / 2;
        var box = plot.Add.Rectangle(-half, half, -half, half);
        box.FillStyle.Color = Colors.Transparent;
        box.LineColor = Colors.Gray;

        var truth = runs[0].Example;
        var path0 = plot.Add.ScatterLine(truth.TrueX, truth.TrueY);
        path0.Color = Colors.Black;
        path0.LineWidth = 2;
        path0.LegendText = "true path";
        var start = plot.Add.Marker(truth.TrueX[0], truth.TrueY[0]);
        start.Color = Colors.Black;
        start.MarkerSize = 12;
        start.LegendText = "start";
        for (int r = 0; r < runs.Count; r++)
        {
            var decoded = plot.Add.ScatterPoints(runs[r].Example.DecodedX, runs[r].Example.DecodedY);
            decoded.Color = palette.GetColor(r);
            decoded.MarkerSize = 5;
            decoded.LegendText = $"decoded, {runs[r].Name}";
        }

        plot.Axes.SquareUnits();
        plot.Axes.SetLimits(-half - 0.05, half + 0.05, -half - 0.05, half + 0.05);
        plot.Title("A held-out trajectory and the positions decoded from the place-cell prediction");
        plot.XLabel("x (m)");
        plot.YLabel("y (m)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 750, 700);
        return path;
    }
}
