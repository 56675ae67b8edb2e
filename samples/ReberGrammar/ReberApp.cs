using RecurrentNets.Samples;
using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using Spectre.Console;

namespace ReberSample;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    CellKind[] Cells, int Hidden, int Batch, int Steps, double LearningRate, double ClipNorm, int Trials, int EvaluateEvery,
    ulong Seed, FileInfo? Markdown);

/// <summary>The outcome of one trial.</summary>
internal sealed record Trial(int? SolvedAtStep, int FailingStrings, double Loss, TimeSpan Elapsed, ReberModel Model);

/// <summary>Trains each variant on the embedded Reber grammar, reports success and shows its predictions.</summary>
internal static class ReberApp
{
    private const int TrainStrings = 256, TestStrings = 256;

    public static int Run(Settings settings)
    {
        PrintSetup(settings);
        var clock = Stopwatch.StartNew();
        var results = new List<(CellKind Kind, List<Trial> Trials)>();
        foreach (var kind in settings.Cells)
        {
            var trials = new List<Trial>();
            for (int trial = 0; trial < settings.Trials; trial++)
            {
                var result = Train(kind, settings.Seed + (ulong)trial, settings);
                trials.Add(result);
                string outcome = result.SolvedAtStep is int s
                    ? $"[green]solved[/] after {s * settings.Batch,7:N0} sequences"
                    : $"[red]not solved[/]: {result.FailingStrings}/{TrainStrings + TestStrings} strings wrong";
                AnsiConsole.MarkupLine(
                    $"{Markup.Escape(kind.Name()),-13} trial {trial + 1,-2} loss {result.Loss:F3}  {outcome}  {result.Elapsed.TotalSeconds,5:F1} s");
            }

            results.Add((kind, trials));
        }

        AnsiConsole.WriteLine();
        PrintSummary(results, settings);
        PrintExamples(results, settings);
        AnsiConsole.MarkupLineInterpolated($"Total time {clock.Elapsed.TotalSeconds:F0} s.");
        return 0;
    }

    private static void PrintSetup(Settings settings)
    {
        AnsiConsole.Write(new Rule("[bold]Embedded Reber grammar[/] (Hochreiter and Schmidhuber 1997, experiment 1)").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Task", "predict the next symbol of B{T|P}<Reber string>{same T|P}E; 7 one-hot symbols BTPSXVE");
        grid.AddRow("Data", $"{TrainStrings} training and {TestStrings} test strings per trial");
        grid.AddRow("Success", "every symbol of every training and test string predicted: at every position each legal next "
            + "symbol gets a higher probability than every illegal one");
        grid.AddRow("Cells", Markup.Escape(string.Join(", ", settings.Cells.Select(c => c.Name()))));
        grid.AddRow("Model", Markup.Escape($"7 -> cell {settings.Hidden} -> linear 7 -> softmax at every step, cross-entropy on the actual next symbol"));
        grid.AddRow("Training", Markup.Escape(
            $"up to {settings.Steps:N0} Adam steps of {settings.Batch} training strings, lr {settings.LearningRate:G3}, "
            + $"clip norm {settings.ClipNorm:G}, checked every {settings.EvaluateEvery} steps"));
        grid.AddRow("Trials", $"{settings.Trials} per cell, seeds {settings.Seed} to {settings.Seed + (ulong)settings.Trials - 1}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static Trial Train(CellKind kind, ulong seed, Settings settings)
    {
        var clock = Stopwatch.StartNew();
        var data = new SeededRandom(seed * 7919 + 17);
        var train = EmbeddedReberGrammar.Generate(TrainStrings, data);
        var test = EmbeddedReberGrammar.Generate(TestStrings, data);
        var trainSet = new StringBatch(train);
        var testSet = new StringBatch(test);
        var model = new ReberModel(kind, settings.Hidden, new SeededRandom(seed), settings.LearningRate, settings.ClipNorm);
        var picked = new ReberString[settings.Batch];
        int failing = TrainStrings + TestStrings;
        double loss = double.NaN;
        int? solvedAt = null;

        void Loop(ProgressTask? task)
        {
            for (int step = 1; step <= settings.Steps && solvedAt is null; step++)
            {
                for (int b = 0; b < picked.Length; b++)
                {
                    picked[b] = train[data.NextInt(train.Length)];
                }

                loss = model.TrainStep(new StringBatch(picked));
                if (step % settings.EvaluateEvery == 0 || step == settings.Steps)
                {
                    failing = model.CountFailing(trainSet) + model.CountFailing(testSet);
                    solvedAt = failing == 0 ? step : null;
                    if (task is not null)
                    {
                        task.Description = $"{kind.Name()}: {failing} strings mispredicted";
                        task.Value = step;
                    }
                }
            }
        }

        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context => Loop(context.AddTask(kind.Name(), maxValue: settings.Steps)));
        }
        else
        {
            Loop(null);
        }

        return new Trial(solvedAt, failing, loss, clock.Elapsed, model);
    }

    private static void PrintSummary(List<(CellKind Kind, List<Trial> Trials)> results, Settings settings)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Cell")
            .AddColumn(new TableColumn("Solved").RightAligned())
            .AddColumn(new TableColumn("Sequences (mean)").RightAligned())
            .AddColumn(new TableColumn("Range").RightAligned())
            .AddColumn(new TableColumn("s/trial").RightAligned());
        var markdown = new MarkdownTable().Column("Cell").NumberColumn("Solved").NumberColumn("Sequences (mean)").NumberColumn("Range");
        foreach (var (kind, trials) in results)
        {
            var solved = trials.Where(t => t.SolvedAtStep is not null).Select(t => t.SolvedAtStep!.Value * settings.Batch).ToList();
            string[] row =
            [
                kind.Name(),
                $"{solved.Count} of {trials.Count}",
                solved.Count > 0 ? MarkdownTable.Count(solved.Average()) : "—",
                solved.Count > 0 ? $"{MarkdownTable.Count(solved.Min())}-{MarkdownTable.Count(solved.Max())}" : "—",
            ];
            table.AddRow(
                Markup.Escape(row[0]),
                $"{(solved.Count == trials.Count ? "[green]" : "[red]")}{row[1]}[/]",
                row[2],
                row[3],
                $"{trials.Average(t => t.Elapsed.TotalSeconds):F1}");
            markdown.Row(row);
        }

        markdown.WriteTo(settings.Markdown, $"Trials solved and training sequences needed ({settings.Hidden} hidden units, seeds {settings.Seed}-{settings.Seed + (ulong)settings.Trials - 1})");

        AnsiConsole.MarkupLine("[bold]Trials solved and training sequences needed[/]");
        AnsiConsole.MarkupLine("(1997 paper, online LSTM with 3-4 blocks: 97-100 % of trials, 8,440-39,740 sequences; Elman nets 0 %)");
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine();
    }

    private static void PrintExamples(List<(CellKind Kind, List<Trial> Trials)> results, Settings settings)
    {
        // One fresh string with a Reber walk of moderate length, shown position by position for every cell's last trial.
        var random = new SeededRandom(settings.Seed + 99);
        ReberString example;
        do
        {
            example = EmbeddedReberGrammar.Generate(random);
        }
        while (example.Length < 12 || example.Length > 16);

        var batch = new StringBatch([example]);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("t").AddColumn("Input").AddColumn("Legal next");
        var predictions = new List<float[]>();
        foreach (var (kind, trials) in results)
        {
            table.AddColumn(Markup.Escape(kind.Name()));
            trials[^1].Model.Predict(batch, batch.Probabilities);
            predictions.Add((float[])batch.Probabilities.Clone());
        }

        for (int t = 0; t < example.Length - 1; t++)
        {
            var row = new List<string>
            {
                $"{t}",
                $"{EmbeddedReberGrammar.Alphabet[example.Symbols[t]]}",
                string.Concat(Enumerable.Range(0, 7).Where(s => example.IsLegalNext(t, s)).Select(s => EmbeddedReberGrammar.Alphabet[s])),
            };
            foreach (float[] p in predictions)
            {
                float[] scores = p[(t * 7)..(t * 7 + 7)];
                string shown = string.Join(" ", Enumerable.Range(0, 7)
                    .Where(s => scores[s] >= 0.05f)
                    .OrderByDescending(s => scores[s])
                    .Select(s => $"{EmbeddedReberGrammar.Alphabet[s]} {scores[s]:F2}"));
                row.Add(example.PredictsNext<float>(t, scores) ? shown : $"[red]{shown}[/]");
            }

            table.AddRow(row.ToArray());
        }

        AnsiConsole.MarkupLine($"[bold]Predictions on a fresh string[/] {example}: next symbols with p ≥ 0.05 (red: a legal symbol is "
            + $"not above every illegal one). At t = {example.Length - 3} only the second symbol, {EmbeddedReberGrammar.Alphabet[example.Symbols[1]]}, may follow.");
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine();
    }
}
