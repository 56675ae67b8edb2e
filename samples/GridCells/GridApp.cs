using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Samples;
using Spectre.Console;

namespace GridCellsSample;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    int Steps, int Batch, int TimeSteps, int Hidden, int Bottleneck, double Dropout, double LearningRate, double ClipNorm,
    double WeightDecay, int PlaceCells, double PlaceVariance, int HeadDirectionCells, double Kappa, TrajectoryOptions Motion,
    int Bins, int MapTrajectories, double Threshold, ulong Seed, string OutputPrefix, FileInfo? Markdown);

/// <summary>What one training condition produced.</summary>
internal sealed record ConditionRun(
    string Name, double DropoutRate, List<(int Step, double Loss)> Curve, double PlaceLoss, double HeadDirectionLoss,
    double PositionErrorCm, double[] Gridness, GridScoreResult[] Scores, RateMaps Maps, TimeSpan TrainTime,
    ExampleTrajectory Example)
{
    public int GridUnits(double threshold) => Gridness.Count(s => s > threshold);
}

/// <summary>One evaluation trajectory: true and decoded positions.</summary>
internal sealed record ExampleTrajectory(double[] TrueX, double[] TrueY, double[] DecodedX, double[] DecodedY);

/// <summary>Trains with and without dropout, scores the bottleneck units, prints the table and writes the figures.</summary>
internal static class GridApp
{
    private const int EvaluationBatch = 100;

    public static int Run(Settings settings)
    {
        PrintSetup(settings);
        var clock = Stopwatch.StartNew();
        var task = new PathIntegrationTask(settings.Motion, settings.PlaceCells, settings.PlaceVariance, settings.HeadDirectionCells,
            settings.Kappa, new SeededRandom(settings.Seed));
        var runs = new List<ConditionRun>();
        foreach (double rate in new[] { settings.Dropout, 0.0 }.Distinct())
        {
            runs.Add(RunCondition(task, rate, settings));
        }

        AnsiConsole.WriteLine();
        PrintTable(task, runs, settings);
        AnsiConsole.MarkupLineInterpolated($"Total time {clock.Elapsed.TotalSeconds:F0} s.");
        var written = Figures.Write(runs, task, settings);
        foreach (string path in written)
        {
            AnsiConsole.MarkupLineInterpolated($"Wrote [bold]{path}[/].");
        }

        return 0;
    }

    private static void PrintSetup(Settings s)
    {
        AnsiConsole.Write(new Rule("[bold]Grid cells from path integration[/] (Banino et al. 2018, supervised setup)").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Arena", Markup.Escape($"{s.Motion.ArenaSize} m square; rat-like paths (Rayleigh speed b = {s.Motion.SpeedScale:G3} m/s, "
            + $"turn sd {s.Motion.TurnStandardDeviation:G4} rad/s, wall avoidance), {s.TimeSteps} steps of {s.Motion.TimeStep} s"));
        grid.AddRow("Cells", Markup.Escape($"{s.PlaceCells} place cells (σ² = {s.PlaceVariance} m²), {s.HeadDirectionCells} head-direction cells (κ = {s.Kappa})"));
        grid.AddRow("Model", Markup.Escape($"[v, sin ω, cos ω] -> LSTM {s.Hidden} (forget bias 1; h0, C0 linear in the true cells at t = 0) -> linear {s.Bottleneck} "
            + $"+ dropout -> softmax heads {s.PlaceCells} and {s.HeadDirectionCells}"));
        grid.AddRow("Training", Markup.Escape($"{s.Steps:N0} Adam steps of {s.Batch} trajectories, lr {s.LearningRate:G3}, clip norm {s.ClipNorm:G}, "
            + $"weight decay {s.WeightDecay:G}; conditions: dropout {s.Dropout:G} and 0, same seed and data"));
        grid.AddRow("Maps", Markup.Escape($"{s.Bins} x {s.Bins} bins over {s.MapTrajectories:N0} held-out trajectories; gridness = best over Banino's 10 annuli, "
            + $"grid unit = gridness > {s.Threshold:G}"));
        grid.AddRow("Seed", $"{s.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static ConditionRun RunCondition(PathIntegrationTask task, double rate, Settings s)
    {
        string name = rate > 0 ? $"dropout {rate:G}" : "no dropout";
        var clock = Stopwatch.StartNew();

        // Both conditions start from the same weights and see the same trajectories.
        var model = new PathIntegrationModel(s.PlaceCells, s.HeadDirectionCells, s.Hidden, s.Bottleneck, rate, s.LearningRate,
            s.ClipNorm, s.WeightDecay, new SeededRandom(s.Seed + 1));
        var data = new SeededRandom(s.Seed + 2);
        var batch = task.CreateBatch<float>(s.TimeSteps, s.Batch);
        var curve = new List<(int, double)>();
        int every = Math.Max(1, s.Steps / 100);
        double window = 0;
        int inWindow = 0;

        void Loop(ProgressTask? progress)
        {
            for (int step = 1; step <= s.Steps; step++)
            {
                task.Generate(data, batch);
                var (place, hd) = model.TrainStep(batch);
                window += place + hd;
                inWindow++;
                if (step % every == 0 || step == s.Steps)
                {
                    curve.Add((step, window / inWindow));
                    if (progress is not null)
                    {
                        progress.Description = $"{name}: loss {window / inWindow:F3}";
                        progress.Value = step;
                    }
                    else if (curve.Count % 10 == 0)
                    {
                        AnsiConsole.MarkupLineInterpolated($"  {name}: step {step,9:N0}, training loss (place + HD CE) {window / inWindow:F3}, {clock.Elapsed.TotalSeconds:F0} s");
                    }

                    window = 0;
                    inWindow = 0;
                }
            }
        }

        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context => Loop(context.AddTask(name, maxValue: s.Steps)));
        }
        else
        {
            Loop(null);
        }

        var trainTime = clock.Elapsed;
        var run = Evaluate(task, model, name, rate, curve, trainTime, s);
        AnsiConsole.MarkupLineInterpolated(
            $"{name,-12} trained in {trainTime.TotalSeconds,5:F0} s; place CE {run.PlaceLoss:F3}, HD CE {run.HeadDirectionLoss:F3}, error {run.PositionErrorCm:F1} cm, {run.GridUnits(s.Threshold)} units with gridness > {s.Threshold:G} (max {run.Gridness.Max():F2}); {clock.Elapsed.TotalSeconds:F0} s in all");
        return run;
    }

    private static ConditionRun Evaluate(PathIntegrationTask task, PathIntegrationModel model, string name, double rate,
        List<(int, double)> curve, TimeSpan trainTime, Settings s)
    {
        // The same held-out trajectories for both conditions.
        var random = new SeededRandom(s.Seed + 3);
        var maps = new RateMaps(s.Bottleneck, s.Bins, task.Options.ArenaSize);
        double place = 0, hd = 0, error = 0;
        int batches = 0;
        ExampleTrajectory? example = null;
        for (int done = 0; done < s.MapTrajectories; done += EvaluationBatch)
        {
            int size = Math.Min(EvaluationBatch, s.MapTrajectories - done);
            var batch = task.CreateBatch<float>(s.TimeSteps, size);
            task.Generate(random, batch);
            var (p, h) = model.Forward(batch, training: false);
            place += p;
            hd += h;
            error += model.PositionError(task, batch);
            batches++;
            maps.Add<float>(batch.Trajectories.Positions.AsSpan(2 * size), model.Bottleneck);
            example ??= Example(task, model, batch);
        }

        int units = s.Bottleneck, bins = s.Bins;
        var scores = new GridScoreResult[units];
        Parallel.For(0, units, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, u =>
        {
            double[] map = new double[bins * bins];
            maps.GetMap(u, map);
            scores[u] = GridScore.Compute(map, bins);
        });

        return new ConditionRun(name, rate, curve, place / batches, hd / batches, 100 * error / batches,
            scores.Select(r => r.Score).ToArray(), scores, maps, trainTime, example!);
    }

    private static ExampleTrajectory Example(PathIntegrationTask task, PathIntegrationModel model, PathIntegrationBatch<float> batch)
    {
        int steps = batch.TimeSteps, size = batch.BatchSize;
        double[] positions = batch.Trajectories.Positions;
        var tx = new double[steps + 1];
        var ty = new double[steps + 1];
        var dx = new double[steps];
        var dy = new double[steps];
        for (int t = 0; t <= steps; t++)
        {
            tx[t] = positions[2 * t * size];
            ty[t] = positions[2 * t * size + 1];
        }

        for (int t = 0; t < steps; t++)
        {
            (dx[t], dy[t]) = model.Decode(task, t * size);
        }

        return new ExampleTrajectory(tx, ty, dx, dy);
    }

    private static void PrintTable(PathIntegrationTask task, List<ConditionRun> runs, Settings s)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("condition");
        foreach (string column in new[] { "place CE", "HD CE", "position error (cm)", $"units gridness > {s.Threshold:G}", "max gridness", "train time (s)" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        var markdown = new MarkdownTable().Column("condition").NumberColumn("place CE").NumberColumn("HD CE").NumberColumn("position error (cm)")
            .NumberColumn($"units gridness > {s.Threshold:G}").NumberColumn("max gridness");
        foreach (var run in runs)
        {
            string[] cells = [run.Name, $"{run.PlaceLoss:F3}", $"{run.HeadDirectionLoss:F3}", $"{run.PositionErrorCm:F1}",
                $"{run.GridUnits(s.Threshold)} / {run.Gridness.Length}", $"{run.Gridness.Max():F2}"];
            table.AddRow([Markup.Escape(cells[0]), .. cells[1..], $"{run.TrainTime.TotalSeconds:F0}"]);
            markdown.Row(cells);
        }

        string title = $"Held-out results ({s.MapTrajectories:N0} trajectories; chance position error, always answering the centre: {100 * task.ChanceError:F1} cm)";
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(title)}[/]");
        AnsiConsole.Write(table);
        markdown.WriteTo(s.Markdown, title);
    }
}
