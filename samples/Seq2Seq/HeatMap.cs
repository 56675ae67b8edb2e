using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;
using ScottPlot;

namespace Seq2SeqSample;

/// <summary>The attention weights α(u, s) of greedy decoding on held-out numbers: output digit against source word.</summary>
internal static class HeatMap
{
    private const int Panels = 3;

    public static void Write(EncoderDecoder<float> model, CellRun run, ITranslationTask task, Settings settings)
    {
        // Of 64 held-out draws, the longest sources (the interesting ones), one panel each.
        var random = new SeededRandom(settings.Seed * 31 + 5);
        var source = new TokenBatch(task.MaxSourceLength, 64);
        var target = new TokenBatch(task.MaxTargetLength, 64);
        task.Fill(random, heldOut: true, source, target);
        int capacity = task.MaxTargetLength + 1, steps = source.MaxLength;
        var output = new TokenBatch(capacity, 64);
        var weights = new float[capacity * 64 * steps];
        model.Decode(source, output, weights);
        int[] chosen = [.. Enumerable.Range(0, 64).OrderByDescending(b => source.Lengths[b]).ThenBy(b => b).Take(Panels)];

        var multiplot = new Multiplot();
        multiplot.AddPlots(Panels);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        for (int i = 0; i < Panels; i++)
        {
            int b = chosen[i];
            int[] words = source.GetSequence(b);
            int[] digits = output.GetSequence(b);
            int rows = Math.Min(digits.Length + 1, capacity);
            var grid = new double[rows, words.Length];
            for (int u = 0; u < rows; u++)
            {
                for (int s = 0; s < words.Length; s++)
                {
                    grid[u, s] = weights[(u * 64 + b) * steps + s];
                }
            }

            var plot = multiplot.GetPlot(i);
            var heatmap = plot.Add.Heatmap(grid);
            heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
            heatmap.Rectangle = new CoordinateRect(0, words.Length, 0, rows);
            heatmap.ManualRange = new ScottPlot.Range(0, 1);
            plot.Axes.Bottom.SetTicks(
                [.. Enumerable.Range(0, words.Length).Select(s => s + 0.5)],
                [.. words.Select(w => task.FormatSource([w]))]);
            plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            plot.Axes.Bottom.MinimumSize = 110;
            plot.Axes.Left.SetTicks(
                [.. Enumerable.Range(0, rows).Select(u => rows - u - 0.5)],
                [.. Enumerable.Range(0, rows).Select(u => u < digits.Length ? $"{digits[u]}" : "<eos>")]);
            plot.Axes.Margins(0, 0);
            plot.HideGrid();
            string expected = NumberWords.FormatTarget(target.GetSequence(b));
            string got = NumberWords.FormatTarget(digits);
            plot.Title($"{run.Name}: {expected}{(got == expected ? "" : $" (got {got})")}", size: 13);
            plot.XLabel("source word");
            plot.YLabel("output digit");
            if (i == Panels - 1)
            {
                plot.Add.ColorBar(heatmap);
            }
        }

        string? directory = Path.GetDirectoryName(settings.HeatMap.FullName);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        multiplot.SavePng(settings.HeatMap.FullName, 600 * Panels, 560);
    }
}
