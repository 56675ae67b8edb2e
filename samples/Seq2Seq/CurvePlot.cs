using ScottPlot;

namespace Seq2SeqSample;

/// <summary>Two panels: mean training loss (log scale) and held-out exact match, against training step, one line per cell.</summary>
internal static class CurvePlot
{
    public static void Write(IReadOnlyList<CellRun> runs, string path)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var loss = new Plot();
        var match = new Plot();
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            var points = run.Curve.Where(p => !double.IsNaN(p.Loss)).ToList();
            var lossLine = loss.Add.Scatter(points.Select(p => (double)p.Step).ToArray(),
                points.Select(p => Math.Log10(Math.Max(p.Loss, 1e-6))).ToArray());
            lossLine.LegendText = run.Name;
            lossLine.Color = palette.GetColor(i);
            lossLine.LineWidth = 2;
            lossLine.MarkerSize = 0;

            var matchLine = match.Add.Scatter(run.Curve.Select(p => (double)p.Step).ToArray(),
                run.Curve.Select(p => 100 * p.ExactMatch).ToArray());
            matchLine.LegendText = run.Name;
            matchLine.Color = palette.GetColor(i);
            matchLine.LineWidth = 2;
            matchLine.MarkerSize = 0;
        }

        loss.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"{Math.Pow(10, y):G3}",
        };
        loss.Title("Training loss (teacher forcing)");
        loss.XLabel("training step");
        loss.YLabel("cross-entropy per token (log scale)");
        loss.ShowLegend(Alignment.UpperRight);

        var bar = match.Add.HorizontalLine(100 * Seq2SeqApp.Bar);
        bar.Color = Colors.Gray;
        bar.LinePattern = LinePattern.Dashed;
        bar.LegendText = $"{Seq2SeqApp.Bar:P0}";
        match.Axes.SetLimitsY(0, 101);
        match.Title("Held-out exact match (greedy decoding)");
        match.XLabel("training step");
        match.YLabel("exact match (%)");
        match.ShowLegend(Alignment.LowerRight);

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var multiplot = new Multiplot();
        multiplot.Reset(loss);
        multiplot.AddPlot(match);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        multiplot.SavePng(path, 1400, 550);
    }
}
