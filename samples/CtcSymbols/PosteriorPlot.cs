using ScottPlot;

namespace CtcSymbolsSample;

/// <summary>The CTC posteriors y_t(c) over time for one held-out sequence, with its waveform above them.</summary>
internal static class PosteriorPlot
{
    public static void Write(SymbolTask task, SymbolSequence sequence, int symbols, string path)
    {
        var batch = SymbolTask.ToBatch([sequence]);
        float[] logPosteriors = task.LogPosteriors(batch);
        int steps = sequence.Wave.Length, classes = symbols + 1;
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double[] xs = [.. Enumerable.Range(0, steps).Select(t => (double)t)];
        for (int c = 0; c < classes; c++)
        {
            double[] ys = [.. Enumerable.Range(0, steps).Select(t => Math.Exp(logPosteriors[t * classes + c]))];
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = c == 0 ? "blank" : $"{(char)('A' + c - 1)} (sin {c}πτ)";
            line.Color = c == 0 ? Colors.Gray : palette.GetColor(c - 1);
            line.LinePattern = c == 0 ? LinePattern.Dashed : LinePattern.Solid;
            line.LineWidth = 2;
            line.MarkerSize = 0;
        }

        // The input waveform, scaled into [1.15, 1.85] above the posteriors.
        var wave = plot.Add.Scatter(xs, [.. sequence.Wave.Select(v => 1.5 + 0.3 * v)]);
        wave.LegendText = "input waveform (scaled)";
        wave.Color = Colors.Black;
        wave.LineWidth = 1;
        wave.MarkerSize = 0;
        var greedy = RecurrentNets.Losses.CtcDecoder.Greedy<float>(logPosteriors, steps, 1, classes, [steps]);
        plot.Title($"CTC posteriors over time: reference {SymbolTask.Spell(sequence.Labels)}, decoded {SymbolTask.Spell(greedy[0].Labels)}");
        plot.XLabel("frame t");
        plot.YLabel("posterior y_t(c)");
        plot.ShowLegend(Edge.Right);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        plot.SavePng(path, 1400, 600);
    }
}
