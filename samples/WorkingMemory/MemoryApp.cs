using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Samples;
using Spectre.Console;

namespace WorkingMemorySample;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    int Locations, int MinimumDelay, int MaximumDelay, int[] TestDelays, CellKind[] Cells, CellKind[] UnitCells, int Hidden,
    int Batch, int Steps, int RnnSteps, double LearningRate, double RnnLearningRate, double ForgetBias, double ClipNorm, double Noise,
    bool Fixation, int TestTrials, int Units, int AnalysisDelay, int AnalysisTrials, ulong Seed, FileInfo Output, FileInfo UnitsOutput,
    FileInfo? Markdown);

/// <summary>One trained cell: its accuracy at every test delay and, when analysed, its delay units.</summary>
internal sealed record CellResult(
    CellKind Kind, List<(int Delay, double Accuracy)> Accuracy, List<(int Step, double Accuracy)> Curve, int? SolvedAtStep,
    double FinalLoss, TimeSpan Elapsed, DelayAnalysis? Analysis);

/// <summary>Trains every cell on the training delays, tests it at every test delay, analyses its delay units.</summary>
internal static class MemoryApp
{
    public const double SelectiveThreshold = 0.9;

    /// <summary>The validation accuracy that counts as learned.</summary>
    public const double SolvedAccuracy = 0.95;

    private const int EvaluateEvery = 100, ValidationTrials = 256, TestChunk = 250;

    public static int Run(Settings settings)
    {
        PrintSetup(settings);
        var clock = Stopwatch.StartNew();
        var task = new DelayedResponseTask(settings.Locations, settings.MinimumDelay, settings.MaximumDelay,
            inputNoise: settings.Noise, fixation: settings.Fixation);
        var results = new List<CellResult>();
        foreach (var kind in settings.Cells)
        {
            var result = Train(kind, task, settings);
            results.Add(result);
            string accuracies = string.Join("  ", result.Accuracy.Select(a => $"{a.Delay}: {100 * a.Accuracy:F1}"));
            AnsiConsole.MarkupLine(
                $"{Markup.Escape(kind.Name()),-5} {(result.SolvedAtStep is int s ? $"{100 * SolvedAccuracy:F0} % at step {s,5:N0}" : "not learned")}  loss {result.FinalLoss:F4}  accuracy (%) by delay  {accuracies}  {result.Elapsed.TotalSeconds,5:F1} s");
        }

        AnsiConsole.WriteLine();
        PrintAccuracyTable(results, settings);
        var analyses = results.Where(r => r.Analysis is not null).Select(r => r.Analysis!).ToList();
        if (analyses.Count > 0)
        {
            PrintUnitTable(analyses, settings);
        }

        AnsiConsole.MarkupLineInterpolated($"Total time {clock.Elapsed.TotalSeconds:F0} s.");
        Plots.Accuracy(results, settings, settings.Output.FullName);
        AnsiConsole.MarkupLineInterpolated($"Accuracy vs delay written to [bold]{settings.Output.FullName}[/].");
        if (analyses.Count > 0)
        {
            Plots.DelayUnits(analyses, settings, settings.UnitsOutput.FullName);
            AnsiConsole.MarkupLineInterpolated($"Delay units written to [bold]{settings.UnitsOutput.FullName}[/].");
        }

        return 0;
    }

    private static void PrintSetup(Settings settings)
    {
        AnsiConsole.Write(new Rule("[bold]Delayed response[/] (the WHERE task; Funahashi, Bruce and Goldman-Rakic 1989)").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Task", Markup.Escape(
            $"cue at one of {settings.Locations} locations (one step), a delay with no cue, GO, then the response: the cued location"
            + (settings.Fixation ? "; fixation channel on until GO" : "")
            + (settings.Noise > 0 ? $"; input noise σ = {settings.Noise:G}" : "")));
        grid.AddRow("Training", Markup.Escape(
            $"delays drawn from {settings.MinimumDelay}-{settings.MaximumDelay}; {settings.Steps:N0} Adam steps (RNN {settings.RnnSteps:N0}) of {settings.Batch} fresh trials, "
            + $"lr {settings.LearningRate:G3} (RNN {settings.RnnLearningRate:G3}), clip {settings.ClipNorm:G}, LSTM forget bias {settings.ForgetBias:G}"));
        grid.AddRow("Model", Markup.Escape(
            $"{settings.Locations + 1 + (settings.Fixation ? 1 : 0)} inputs -> cell {settings.Hidden} -> linear {settings.Locations}, "
            + "softmax cross-entropy at the response step only"));
        grid.AddRow("Test", Markup.Escape(
            $"{settings.TestTrials:N0} held-out trials at each delay {string.Join(", ", settings.TestDelays)}; a trial is correct when the largest output at the response is the cue"));
        grid.AddRow("Delay units", Markup.Escape(
            $"{string.Join(", ", settings.UnitCells.Select(c => c.Name()))}: {settings.AnalysisTrials} trials at delay {settings.AnalysisDelay}; "
            + $"units ranked by η² of their mean delay activity by cue location; top {settings.Units} plotted"));
        grid.AddRow("Seed", $"{settings.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static CellResult Train(CellKind kind, DelayedResponseTask task, Settings settings)
    {
        var clock = Stopwatch.StartNew();

        // Every cell sees the same training stream and the same test trials; the weights start from the same seed.
        var data = new SeededRandom(settings.Seed * 1_000_003 + 17);
        double learningRate = kind == CellKind.Rnn ? settings.RnnLearningRate : settings.LearningRate;
        int steps = kind == CellKind.Rnn ? settings.RnnSteps : settings.Steps;
        var model = new MemoryModel(kind, task.InputSize, settings.Hidden, settings.Locations, new SeededRandom(settings.Seed),
            learningRate, settings.ClipNorm, settings.ForgetBias);
        var batch = new TrialSet(task, settings.Batch);
        var validation = new TrialSet(task, ValidationTrials).Draw(new SeededRandom(settings.Seed * 7_919 + 1_000_000));
        var curve = new List<(int, double)> { (0, model.Accuracy(validation)) };
        int? solvedAt = null;
        double smoothed = double.NaN;

        void Loop(ProgressTask? progress)
        {
            for (int step = 1; step <= steps; step++)
            {
                double loss = model.TrainStep(batch.Draw(data).Input, batch.Targets);
                smoothed = double.IsNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
                if (step % EvaluateEvery == 0 || step == steps)
                {
                    double accuracy = model.Accuracy(validation);
                    curve.Add((step, accuracy));
                    if (accuracy >= SolvedAccuracy && solvedAt is null)
                    {
                        solvedAt = step;
                    }
                }

                if (progress is not null && step % 25 == 0)
                {
                    progress.Description = $"{kind.Name()}: loss {smoothed:F3}";
                    progress.Value = step;
                }
            }
        }

        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context => Loop(context.AddTask(kind.Name(), maxValue: steps)));
        }
        else
        {
            Loop(null);
        }

        var accuracy = new List<(int, double)>();
        foreach (int delay in settings.TestDelays)
        {
            var test = new DelayedResponseTask(settings.Locations, delay, delay, inputNoise: settings.Noise, fixation: settings.Fixation);
            // In chunks, so that the activation cache of a long delay stays small.
            var random = new SeededRandom(settings.Seed * 7_919 + (ulong)delay);
            double correct = 0;
            for (int done = 0; done < settings.TestTrials; done += TestChunk)
            {
                int count = Math.Min(TestChunk, settings.TestTrials - done);
                correct += count * model.Accuracy(new TrialSet(test, count).Draw(random));
            }

            accuracy.Add((delay, correct / settings.TestTrials));
        }

        DelayAnalysis? analysis = settings.UnitCells.Contains(kind)
            ? DelayCells.Analyse(kind, model, task, settings.AnalysisDelay, settings.AnalysisTrials, settings.Units,
                new SeededRandom(settings.Seed * 104_729 + 3))
            : null;
        return new CellResult(kind, accuracy, curve, solvedAt, smoothed, clock.Elapsed, analysis);
    }

    private static void PrintAccuracyTable(List<CellResult> results, Settings settings)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Cell \\ d");
        var markdown = new MarkdownTable().Column("Cell \\ d");
        foreach (int delay in settings.TestDelays)
        {
            bool inside = delay >= settings.MinimumDelay && delay <= settings.MaximumDelay;
            table.AddColumn(new TableColumn(inside ? $"{delay}" : $"{delay}*").RightAligned());
            markdown.NumberColumn(inside ? $"{delay}" : $"{delay}*");
        }

        table.AddColumn(new TableColumn($"to {100 * SolvedAccuracy:F0} %").RightAligned());
        markdown.NumberColumn($"to {100 * SolvedAccuracy:F0} %");

        foreach (var result in results)
        {
            var cells = new List<string> { Markup.Escape(result.Kind.Name()) };
            foreach (var (_, accuracy) in result.Accuracy)
            {
                string text = $"{100 * accuracy:F1}";
                cells.Add(accuracy >= 0.95 ? $"[green]{text}[/]" : accuracy < 2.0 / settings.Locations ? $"[red]{text}[/]" : text);
            }

            cells.Add(result.SolvedAtStep is int s ? $"{s:N0}" : "[red]not reached[/]");
            table.AddRow(cells.ToArray());
            markdown.Row([result.Kind.Name(), .. result.Accuracy.Select(a => $"{100 * a.Accuracy:F1}"),
                result.SolvedAtStep is int solved ? MarkdownTable.Count(solved) : "not reached"]);
        }

        string title = $"Held-out accuracy (%) by delay d (trained on d = {settings.MinimumDelay}-{settings.MaximumDelay}; *: beyond the training range; "
            + $"chance {100.0 / settings.Locations:F1} %; {settings.TestTrials:N0} trials per delay; "
            + $"steps to reach {100 * SolvedAccuracy:F0} % on {ValidationTrials} validation trials from the training range, checked every {EvaluateEvery})";
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(title)}[/]");
        AnsiConsole.Write(table);
        markdown.WriteTo(settings.Markdown, title);
    }

    private static void PrintUnitTable(List<DelayAnalysis> analyses, Settings settings)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Cell")
            .AddColumn(new TableColumn($"η² ≥ {SelectiveThreshold}, delay").RightAligned())
            .AddColumn(new TableColumn("last quarter").RightAligned())
            .AddColumn($"top {settings.Units} units by F: #unit F");
        foreach (var analysis in analyses)
        {
            table.AddRow(
                Markup.Escape(analysis.Kind.Name()),
                $"{analysis.CountSelective(SelectiveThreshold)} of {analysis.Selectivity.Length}",
                $"{analysis.CountLateSelective(SelectiveThreshold)} of {analysis.Selectivity.Length}",
                Markup.Escape(string.Join(", ", analysis.Top.Select(u => $"#{u.Unit} {u.Separation:0.0E+0}"))));
        }

        AnsiConsole.MarkupLine(
            $"[bold]Delay-selective units[/] ({analyses[0].Trials} trials at delay {analyses[0].Delay}): units whose mean delay activity separates the "
            + "cue locations (η², one-way ANOVA), over the whole delay and over its last quarter");
        AnsiConsole.Write(table);
    }
}
