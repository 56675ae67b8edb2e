using System.Diagnostics;
using RecurrentNets.Models;
using RecurrentNets.Samples;
using Spectre.Console;

namespace ForecastingSample;

/// <summary>Generate, train, compare with the baselines, save, plot.</summary>
internal static class ForecastApp
{
    public static int Run(ForecastSettings settings, FileInfo? save, DirectoryInfo output, FileInfo? markdown)
    {
        var clock = Stopwatch.StartNew();
        var data = new LorenzForecastData(settings);
        string cell = settings.Cell.ToUpperInvariant();
        AnsiConsole.MarkupLine($"[bold]Lorenz (x, y, z)[/], {settings.Length:N0} samples every 0.02, noise {settings.Noise:P0} of each sd; "
            + $"W = {data.Window} → H = {data.Horizon}; windows: {data.Train.Count:N0} train (stride {settings.TrainStride}), "
            + $"{data.Validation.Count:N0} validation, {data.Test.Count:N0} test");
        AnsiConsole.MarkupLine($"{cell} {settings.Hidden} → last step → linear {data.Horizon * LorenzForecastData.Features}; Adam {settings.LearningRate}, batch {settings.BatchSize}, seed {settings.Seed}");

        var model = Forecaster.Create(settings, data.Normalizer);
        var history = model.Fit(data.Train, data.Validation,
            new FitOptions { Epochs = settings.Epochs, BatchSize = settings.BatchSize, EarlyStoppingPatience = settings.Patience, ClipNorm = 1.0 },
            new Progress(s => AnsiConsole.MarkupLine(Markup.Escape($"  {s} ({s.Elapsed.TotalSeconds:F0} s)"))));
        AnsiConsole.MarkupLine($"stopped: {history.Reason} after {history.Epochs.Count} epochs; weights of epoch {history.BestEpoch} (best validation loss), {clock.Elapsed.TotalSeconds:F0} s");

        if (save is not null)
        {
            model.Save(save.FullName);
            model = SequenceModel<float>.Load(save.FullName);     // the file alone: architecture, weights and normaliser
            AnsiConsole.MarkupLine($"saved and reloaded [blue]{save.FullName}[/]");
        }

        var forecasts = Forecaster.Forecast(model, data.Test);
        var persistence = Enumerable.Range(0, data.Test.Count).Select(data.Persistence).ToArray();
        var linear = Forecaster.LinearBaseline(data);
        var rows = new (string Name, (double[] Mae, double[] Rmse) Errors)[]
        {
            ("persistence", Forecaster.Errors(data, persistence)),
            ("linear AR (ridge)", Forecaster.Errors(data, linear)),
            ($"{cell} {settings.Hidden}", Forecaster.Errors(data, forecasts)),
            ("noise floor", Forecaster.Errors(data, [.. Enumerable.Range(0, data.Test.Count).Select(data.NoiseFree)])),
        };

        int[] steps = [.. new[] { 1, 3, 6, 12, 24 }.Where(h => h < data.Horizon).Append(data.Horizon)];
        var table = new Table().AddColumn(new TableColumn("step h").RightAligned());
        var markdownTable = new MarkdownTable().NumberColumn("step h");
        foreach (var (name, _) in rows)
        {
            table.AddColumn(new TableColumn($"{name}\nMAE / RMSE").RightAligned());
            markdownTable.NumberColumn($"{name} MAE / RMSE");
        }

        foreach (int h in steps)
        {
            string[] cells = [$"{h}", .. rows.Select(r => $"{r.Errors.Mae[h - 1]:F3} / {r.Errors.Rmse[h - 1]:F3}")];
            table.AddRow(cells);
            markdownTable.Row(cells);
        }

        string caption = $"{data.Test.Count:N0} held-out test windows; errors against the noisy observations in original units, "
            + "mean over x, y, z; noise floor = the noise-free truth as forecast";
        table.Caption(caption);
        AnsiConsole.Write(table);
        markdownTable.WriteTo(markdown, $"{cell} {settings.Hidden}, seed {settings.Seed}: stopped ({history.Reason}) after {history.Epochs.Count} epochs, "
            + $"weights of epoch {history.BestEpoch}; {caption}");
        var (modelMae, persistenceMae) = (rows[2].Errors.Mae, rows[0].Errors.Mae);
        AnsiConsole.MarkupLine($"MAE at h={data.Horizon}: {cell} {modelMae[^1]:F3} vs persistence {persistenceMae[^1]:F3} "
            + $"({100 * (1 - modelMae[^1] / persistenceMae[^1]):F0} % lower)");

        int shown = data.Test.Count / 2;
        string path = Path.Combine(output.FullName, $"forecast-{settings.Cell}.png");
        ForecastPlot.Write(data, shown, forecasts[shown], persistence[shown], $"{cell} {settings.Hidden}", path);
        AnsiConsole.MarkupLine($"wrote [blue]{path}[/]; total {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    private sealed class Progress(Action<EpochSummary> report) : IProgress<EpochSummary>
    {
        public void Report(EpochSummary value) => report(value);
    }
}
