using ScottPlot;

namespace ForecastingSample;

/// <summary>One held-out window, one panel per variable: the observed input, the noise-free truth and the observations
/// after it, the model's forecast and persistence.</summary>
internal static class ForecastPlot
{
    public static void Write(LorenzForecastData data, int window, float[] forecast, float[] persistence, string modelName, string path)
    {
        const int F = LorenzForecastData.Features;
        var multiplot = new Multiplot();
        multiplot.AddPlots(F);     // as many subplots as variables
        var palette = new ScottPlot.Palettes.Category10();
        double[] past = [.. Enumerable.Range(-data.Window + 1, data.Window).Select(t => (double)t)];
        double[] future = [.. Enumerable.Range(1, data.Horizon).Select(t => (double)t)];
        double[] all = [.. Enumerable.Range(-data.Window + 1, data.Window + data.Horizon).Select(t => (double)t)];
        for (int f = 0; f < F; f++)
        {
            var plot = multiplot.GetPlot(f);
            var clean = plot.Add.ScatterLine(all, [.. all.Select(t => (double)data.Clean[data.TestStart + window + data.Window - 1 + (int)t, f])]);
            clean.Color = Colors.Gray;
            clean.LineWidth = 1.5f;
            clean.LegendText = "noise-free truth";
            var observed = plot.Add.ScatterPoints(all, [.. all.Select(t => (double)data.TestPart[window + data.Window - 1 + (int)t, f])]);
            observed.Color = Colors.Black;
            observed.MarkerSize = 4;
            observed.LegendText = "observed";
            var model = plot.Add.Scatter(future, Column(forecast, f));
            model.Color = palette.GetColor(0);
            model.LineWidth = 2.5f;
            model.MarkerSize = 6;
            model.LegendText = modelName;
            var last = plot.Add.ScatterLine(future, Column(persistence, f));
            last.Color = palette.GetColor(3);
            last.LinePattern = LinePattern.Dashed;
            last.LineWidth = 2;
            last.LegendText = "persistence";
            var now = plot.Add.VerticalLine(0.5);
            now.Color = Colors.Gray.WithAlpha(0.5);
            now.LinePattern = LinePattern.Dotted;
            plot.YLabel(LorenzForecastData.Names[f]);
            plot.XLabel(f == F - 1 ? "steps (0 = last observed; Δt = 0.02)" : string.Empty);
            if (f == 0)
            {
                plot.Title($"Lorenz, held-out window {window}: {data.Window} observed steps → {data.Horizon}-step forecast");
                plot.ShowLegend(Alignment.UpperLeft);
            }
            else
            {
                plot.HideLegend();
            }
        }

        multiplot.Layout = new ScottPlot.MultiplotLayouts.Rows();
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        multiplot.SavePng(path, 1000, 900);

        double[] Column(float[] values, int f) => [.. Enumerable.Range(0, data.Horizon).Select(h => (double)values[h * F + f])];
    }
}
