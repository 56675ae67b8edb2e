using RecurrentNets.Samples;
using System.Diagnostics;
using System.Globalization;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Tensors;
using Spectre.Console;

namespace AddingSample;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    int[] Lengths, CellKind[] Cells, int Hidden, int Batch, int Steps, double LearningRate, double RnnLearningRate,
    double ForgetBias, double ClipNorm, int EvaluateEvery, int TestSequences, bool KeepTraining, ulong Seed, FileInfo Output,
    FileInfo? Markdown);

/// <summary>The learning curve and outcome of one (cell, T) pair.</summary>
internal sealed record CellRun(CellKind Kind, int TimeSteps, List<(int Step, double Mse)> Curve, int? SolvedAtStep, TimeSpan Elapsed)
{
    public double FinalMse => Curve.Count > 0 ? Curve[^1].Mse : double.NaN;
}

/// <summary>Trains every (cell, T) pair, prints the table and writes the learning curves.</summary>
internal static class AddingApp
{
    public const double SolvedMse = 0.01;

    public static int Run(Settings settings)
    {
        PrintSetup(settings);
        var runs = new List<CellRun>();
        var clock = Stopwatch.StartNew();
        foreach (int timeSteps in settings.Lengths)
        {
            foreach (var kind in settings.Cells)
            {
                var run = Train(kind, timeSteps, settings);
                runs.Add(run);
                string outcome = run.SolvedAtStep is int s
                    ? $"[green]solved[/] at step {s,6:N0}"
                    : $"[red]not solved[/] in {settings.Steps:N0}";
                AnsiConsole.MarkupLine(
                    $"{Markup.Escape(kind.Name()),-13} T={timeSteps,-4} MSE [bold]{run.FinalMse:F4}[/]  {outcome}  {run.Elapsed.TotalSeconds,6:F1} s");
            }
        }

        AnsiConsole.WriteLine();
        PrintTable(runs, settings);
        AnsiConsole.MarkupLineInterpolated($"Total time {clock.Elapsed.TotalSeconds:F0} s.");
        CurvePlot.Write(runs, settings.Output.FullName);
        AnsiConsole.MarkupLineInterpolated($"Learning curves written to [bold]{settings.Output.FullName}[/].");
        return 0;
    }

    private static void PrintSetup(Settings settings)
    {
        AnsiConsole.Write(new Rule("[bold]The adding problem[/] (Le et al. 2015; Arjovsky et al. 2016)").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Task", "T pairs (value ~ U(0,1), marker); one marker in each half; target = sum of the two marked values");
        grid.AddRow("Baseline", $"predicting 1 gives MSE {AddingProblem.ConstantBaselineMse:F3}; solved = held-out MSE < {SolvedMse}");
        grid.AddRow("Cells", Markup.Escape(string.Join(", ", settings.Cells.Select(c => c.Name()))));
        grid.AddRow("Lengths", string.Join(", ", settings.Lengths));
        grid.AddRow("Model", Markup.Escape($"2 -> cell {settings.Hidden} -> linear 1 on the last step, MSE"));
        grid.AddRow("Training", Markup.Escape(
            $"up to {settings.Steps:N0} Adam steps of {settings.Batch} fresh sequences, lr {settings.LearningRate:G3} "
            + $"(RNN {settings.RnnLearningRate:G3}), clip norm {settings.ClipNorm:G}, LSTM forget bias {settings.ForgetBias:G}"
            + (settings.KeepTraining ? "" : ", stop when solved")));
        grid.AddRow("Evaluation", $"every {settings.EvaluateEvery} steps on {settings.TestSequences:N0} held-out sequences");
        grid.AddRow("Seed", $"{settings.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static CellRun Train(CellKind kind, int timeSteps, Settings settings)
    {
        var clock = Stopwatch.StartNew();

        // Every cell at one T sees the same test set and the same training stream; the weights start from the same seed.
        var data = new SeededRandom(settings.Seed * 1_000_003 + (ulong)timeSteps);
        var test = AddingModel.TestSet(timeSteps, settings.TestSequences, data.Fork());
        double learningRate = kind == CellKind.Rnn ? settings.RnnLearningRate : settings.LearningRate;
        var model = new AddingModel(kind, settings.Hidden, new SeededRandom(settings.Seed), learningRate, settings.ClipNorm, settings.ForgetBias);
        var input = new Tensor<float>(timeSteps, settings.Batch, 2);
        var targets = new float[settings.Batch];
        var curve = new List<(int, double)> { (0, model.Evaluate(test)) };
        int? solvedAt = null;

        void Loop(ProgressTask? task)
        {
            for (int step = 1; step <= settings.Steps; step++)
            {
                AddingProblem.Generate(data, input, targets);
                model.TrainStep(input, targets);
                if (step % settings.EvaluateEvery == 0 || step == settings.Steps)
                {
                    double mse = model.Evaluate(test);
                    curve.Add((step, mse));
                    if (task is not null)
                    {
                        task.Description = $"{kind.Name()} T = {timeSteps}: MSE {mse:F4}";
                        task.Value = step;
                    }

                    if (mse < SolvedMse && solvedAt is null)
                    {
                        solvedAt = step;
                        if (!settings.KeepTraining)
                        {
                            break;
                        }
                    }
                }
            }
        }

        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context => Loop(context.AddTask($"{kind.Name()} T = {timeSteps}", maxValue: settings.Steps)));
        }
        else
        {
            Loop(null);
        }

        return new CellRun(kind, timeSteps, curve, solvedAt, clock.Elapsed);
    }

    private static void PrintTable(List<CellRun> runs, Settings settings)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Cell");
        var markdown = new MarkdownTable().Column("Cell");
        foreach (int t in settings.Lengths)
        {
            table.AddColumn(new TableColumn($"T = {t}").RightAligned());
            markdown.NumberColumn($"T = {t}");
        }

        table.AddColumn(new TableColumn("Largest T").RightAligned());
        markdown.NumberColumn("Largest T");
        foreach (var kind in settings.Cells)
        {
            var cells = new List<string> { Markup.Escape(kind.Name()) };
            var plain = new List<string> { kind.Name() };
            int? largest = null;
            foreach (int t in settings.Lengths)
            {
                var run = runs.Single(r => r.Kind == kind && r.TimeSteps == t);
                string mse = run.FinalMse.ToString("F4", CultureInfo.InvariantCulture);
                cells.Add(run.SolvedAtStep is int s ? $"[green]{mse}[/] @ {s:N0}" : $"[red]{mse}[/] ✗");
                plain.Add(run.SolvedAtStep is int solved ? $"{mse} @ {MarkdownTable.Count(solved)}" : $"{mse} ✗");
                if (run.SolvedAtStep is not null)
                {
                    largest = Math.Max(largest ?? 0, t);
                }
            }

            cells.Add(largest is int l ? $"{l}" : "none");
            plain.Add(cells[^1]);
            table.AddRow(cells.ToArray());
            markdown.Row(plain.ToArray());
        }

        string title = $"Final held-out MSE @ steps to reach MSE < {SolvedMse} (✗: not solved in {settings.Steps:N0} steps of {settings.Batch}; baseline {AddingProblem.ConstantBaselineMse:F3})";
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(title)}[/]");
        AnsiConsole.Write(table);
        markdown.WriteTo(settings.Markdown, title);
    }
}
