using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Samples;
using RecurrentNets.Tensors;
using Spectre.Console;

namespace TimeDelaySample;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    int[] Lags, int Width, int[] Kernels, int[] Dilations, int? LstmHidden, int Batch, int Steps, int? TimeSteps, int MaxGap,
    double LearningRate, double ForgetBias, double ClipNorm, int EvaluateEvery, int TestBatches, ulong Seed, FileInfo Output, int Threads,
    FileInfo? Markdown = null)
{
    public int ReceptiveField => 1 + Kernels.Zip(Dilations, (k, d) => (k - 1) * d).Sum();

    /// <summary>T for lag L: room for three episodes, at least 64 frames.</summary>
    public int StepsFor(int lag) => TimeSteps ?? Math.Max(64, 3 * (lag + 1) + MaxGap);
}

/// <summary>The learning curve and outcome of one (model, L) pair.</summary>
internal sealed record ModelRun(string Model, int Lag, int Parameters, List<(int Step, double Accuracy)> Curve, int? SolvedAtStep, double MillisecondsPerStep)
{
    public double FinalAccuracy => Curve[^1].Accuracy;

    public double? SecondsToSolve => SolvedAtStep * MillisecondsPerStep / 1000;
}

/// <summary>Trains a TDNN and an LSTM at every lag, prints the table and the verdicts, and writes the figures.</summary>
internal static class TimeDelayApp
{
    public const double SolvedAccuracy = 0.95;

    /// <summary>The first steps (JIT compilation, buffer sizing) are left out of the time per step.</summary>
    private const int WarmUpSteps = 10;

    public static int Run(Settings settings)
    {
        var clock = Stopwatch.StartNew();
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 120); // keep the table on one line per row in logs
        }

        int tdnnParameters = TdnnModel.Create(settings.Width, settings.Kernels, settings.Dilations, new SeededRandom(0), 1e-3, 1).Parameters.Length;
        int lstmHidden = settings.LstmHidden ?? MatchBudget(tdnnParameters);
        PrintSetup(settings, tdnnParameters, lstmHidden);

        var runs = new List<(ModelRun Tdnn, ModelRun Lstm)>();
        foreach (int lag in settings.Lags)
        {
            var tdnn = Train(TdnnModel.Create(settings.Width, settings.Kernels, settings.Dilations, new SeededRandom(settings.Seed), settings.LearningRate, settings.ClipNorm)
                .WithThreads(settings.Threads), lag, settings);
            var lstm = Train(LstmModel.Create(lstmHidden, settings.ForgetBias, new SeededRandom(settings.Seed), settings.LearningRate, settings.ClipNorm)
                .WithThreads(settings.Threads), lag, settings);
            runs.Add((tdnn, lstm));
        }

        AnsiConsole.WriteLine();
        PrintTable(runs, settings);
        PrintVerdicts(runs, settings);
        AnsiConsole.MarkupLineInterpolated($"Total time {clock.Elapsed.TotalSeconds:F0} s.");
        string curves = settings.Output.FullName;
        string lags = Path.Combine(Path.GetDirectoryName(curves) ?? ".", Path.GetFileNameWithoutExtension(curves) + "-lags.png");
        Plots.WriteCurves(runs, settings, curves);
        Plots.WriteLags(runs, settings, lags);
        AnsiConsole.MarkupLineInterpolated($"Figures written to [bold]{curves}[/] and [bold]{lags}[/].");
        return 0;
    }

    /// <summary>The largest LSTM whose parameter count (with its head) does not exceed the TDNN's.</summary>
    private static int MatchBudget(int budget)
    {
        int hidden = 1;
        while (LstmModel.ParameterCount(hidden + 1) <= budget)
        {
            hidden++;
        }

        return hidden;
    }

    private static void PrintSetup(Settings settings, int tdnnParameters, int lstmHidden)
    {
        AnsiConsole.Write(new Rule("[bold]Time-delay network vs LSTM[/] on a lagged match (Waibel et al. 1989; Hochreiter & Schmidhuber 1997)").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Task", Markup.Escape($"a cue bit, L - 1 distractor bits, a probe bit; at the probe: match or mismatch (50 % by chance); "
            + $"episodes follow each other with gaps of 0-{settings.MaxGap} frames"));
        grid.AddRow("Lags L", string.Join(", ", settings.Lags));
        string layers = string.Join(" -> ", settings.Kernels.Select((k, l) => $"(K={k}, d={settings.Dilations[l]})"));
        grid.AddRow("TDNN", Markup.Escape($"3 -> {settings.Kernels.Length} tanh layers of {settings.Width} {layers} -> linear 2; "
            + $"receptive field {settings.ReceptiveField} frames (sees lags up to {settings.ReceptiveField - 1}); {tdnnParameters:N0} parameters"));
        grid.AddRow("LSTM", Markup.Escape($"3 -> LSTM {lstmHidden} (forget bias {settings.ForgetBias:G}) -> linear 2; {LstmModel.ParameterCount(lstmHidden):N0} parameters"));
        grid.AddRow("Training", Markup.Escape($"{settings.Steps:N0} Adam steps of {settings.Batch} fresh sequences each, lr {settings.LearningRate:G3}, "
            + $"clip {settings.ClipNorm:G}; cross-entropy on the probe frames; T = max(64, 3(L + 1) + {settings.MaxGap}) frames"
            + (settings.TimeSteps is int t ? $" (fixed {t})" : "")));
        grid.AddRow("Evaluation", Markup.Escape($"every {settings.EvaluateEvery} steps on {settings.TestBatches} held-out batches; "
            + $"solved = accuracy ≥ {SolvedAccuracy:P0}"));
        grid.AddRow("Seed", $"{settings.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static ModelRun Train(FrameModel model, int lag, Settings settings)
    {
        // Both models at one lag see the same training stream and the same held-out set.
        int steps = settings.StepsFor(lag);
        var data = new SeededRandom(settings.Seed * 1_000_003 + (ulong)lag);
        var testRandom = data.Fork();
        var test = new List<(Tensor<float>, int[])>();
        for (int i = 0; i < settings.TestBatches; i++)
        {
            var x = new Tensor<float>(steps, settings.Batch, LaggedMatch.InputSize);
            var y = new int[steps * settings.Batch];
            LaggedMatch.Generate(testRandom, x, y, lag, settings.MaxGap);
            test.Add((x, y));
        }

        var input = new Tensor<float>(steps, settings.Batch, LaggedMatch.InputSize);
        var targets = new int[steps * settings.Batch];
        var curve = new List<(int, double)> { (0, model.Accuracy(test)) };
        int? solvedAt = null;
        var trainClock = new Stopwatch();

        void Loop(ProgressTask? task)
        {
            for (int step = 1; step <= settings.Steps; step++)
            {
                LaggedMatch.Generate(data, input, targets, lag, settings.MaxGap);
                if (step > WarmUpSteps)
                {
                    trainClock.Start();
                }

                model.TrainStep(input, targets);
                trainClock.Stop();
                if (step % settings.EvaluateEvery == 0 || step == settings.Steps)
                {
                    double accuracy = model.Accuracy(test);
                    curve.Add((step, accuracy));
                    if (accuracy >= SolvedAccuracy && solvedAt is null)
                    {
                        solvedAt = step;
                    }

                    if (task is not null)
                    {
                        task.Description = $"{model.Name} L = {lag}: {accuracy:P1}";
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
                .Start(context => Loop(context.AddTask($"{model.Name} L = {lag}", maxValue: settings.Steps)));
        }
        else
        {
            Loop(null);
        }

        var run = new ModelRun(model.Name, lag, model.Parameters.Length, curve, solvedAt, trainClock.Elapsed.TotalMilliseconds / Math.Max(1, settings.Steps - WarmUpSteps));
        string outcome = solvedAt is int s ? $"[green]solved[/] at step {s,5:N0}" : $"[red]not solved[/] in {settings.Steps:N0}";
        AnsiConsole.MarkupLine($"{model.Name,-5} L={lag,-3} T={steps,-4} accuracy [bold]{run.FinalAccuracy,6:P1}[/]  {outcome}  {run.MillisecondsPerStep,6:F2} ms/step");
        return run;
    }

    private static void PrintTable(List<(ModelRun Tdnn, ModelRun Lstm)> runs, Settings settings)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn(new TableColumn("L").RightAligned())
            .AddColumn(new TableColumn("T").RightAligned())
            .AddColumn(new TableColumn("L in window").Centered())
            .AddColumn(new TableColumn("TDNN acc.").RightAligned())
            .AddColumn(new TableColumn("steps").RightAligned())
            .AddColumn(new TableColumn("ms/step").RightAligned())
            .AddColumn(new TableColumn("LSTM acc.").RightAligned())
            .AddColumn(new TableColumn("steps").RightAligned())
            .AddColumn(new TableColumn("ms/step").RightAligned())
            .AddColumn("winner");
        var markdown = new MarkdownTable().NumberColumn("L").NumberColumn("T").Column("L in window").NumberColumn("TDNN acc.")
            .NumberColumn("TDNN steps").NumberColumn("LSTM acc.").NumberColumn("LSTM steps").Column("winner");
        foreach (var (tdnn, lstm) in runs)
        {
            bool inside = tdnn.Lag + 1 <= settings.ReceptiveField;
            markdown.Row($"{tdnn.Lag}", $"{settings.StepsFor(tdnn.Lag)}", inside ? "yes" : "no", $"{tdnn.FinalAccuracy:P1}", Steps(tdnn),
                $"{lstm.FinalAccuracy:P1}", Steps(lstm), WinnerName(tdnn, lstm));
            table.AddRow(
                $"{tdnn.Lag}", $"{settings.StepsFor(tdnn.Lag)}",
                inside ? "yes" : "no",
                Accuracy(tdnn), Steps(tdnn), $"{tdnn.MillisecondsPerStep:F2}",
                Accuracy(lstm), Steps(lstm), $"{lstm.MillisecondsPerStep:F2}",
                WinnerName(tdnn, lstm));
        }

        AnsiConsole.MarkupLine($"[bold]TDNN receptive field {settings.ReceptiveField} frames: held-out accuracy after {settings.Steps:N0} steps, steps to reach {SolvedAccuracy:P0} (-: never), training time per step[/]");
        AnsiConsole.Write(table);
        markdown.WriteTo(settings.Markdown, $"TDNN receptive field {settings.ReceptiveField} frames: held-out accuracy after {settings.Steps:N0} steps, "
            + $"steps to reach {SolvedAccuracy:P0} (-: never); the winner reaches it in fewer steps");

        static string Accuracy(ModelRun run) => run.SolvedAtStep is null ? $"[red]{run.FinalAccuracy:P1}[/]" : $"[green]{run.FinalAccuracy:P1}[/]";

        static string Steps(ModelRun run) => run.SolvedAtStep is int s ? $"{s:N0}" : "-";
    }

    /// <summary>
    /// The model that reached the criterion in fewer steps, or null when neither did or both took the same number (a
    /// tie). Steps, not seconds, decide: they are deterministic, while the time per step depends on the machine's load.
    /// </summary>
    private static ModelRun? Winner(ModelRun tdnn, ModelRun lstm) => (tdnn.SolvedAtStep, lstm.SolvedAtStep) switch
    {
        (null, null) => null,
        (not null, null) => tdnn,
        (null, not null) => lstm,
        var (a, b) when a == b => null,
        var (a, b) => a < b ? tdnn : lstm,
    };

    private static string WinnerName(ModelRun tdnn, ModelRun lstm) =>
        Winner(tdnn, lstm)?.Model ?? (tdnn.SolvedAtStep is not null ? "tie" : "neither");

    private static void PrintVerdicts(List<(ModelRun Tdnn, ModelRun Lstm)> runs, Settings settings)
    {
        int field = settings.ReceptiveField;
        AnsiConsole.WriteLine();
        foreach (var (tdnn, lstm) in runs)
        {
            int lag = tdnn.Lag;
            bool inside = lag + 1 <= field;
            var winner = Winner(tdnn, lstm);
            string why;
            if (winner == tdnn && inside)
            {
                string lstmPart = lstm.SolvedAtStep is int ls
                    ? $"the LSTM needed {ls:N0} steps at {lstm.MillisecondsPerStep:F2} ms ({lstm.SecondsToSolve:F1} s) to learn to hold the cue"
                    : $"the LSTM did not learn to hold the cue in {settings.Steps:N0} steps ({lstm.FinalAccuracy:P1})";
                why = $"x(t-{lag}) lies inside the TDNN's {field}-frame window, so the match is a fixed function of frames it sees; "
                    + $"with no recurrence to backpropagate through it reached {SolvedAccuracy:P0} in {tdnn.SolvedAtStep:N0} steps at "
                    + $"{tdnn.MillisecondsPerStep:F2} ms ({tdnn.SecondsToSolve:F1} s); {lstmPart}.";
            }
            else if (winner == lstm && !inside)
            {
                why = $"x(t-{lag}) lies outside the TDNN's window ({field} frames < L + 1 = {lag + 1}), so it sees only the probe and "
                    + $"stays at chance ({tdnn.FinalAccuracy:P1}); the LSTM is not bounded by a window and learned to keep the cue through "
                    + $"{lag - 1} distractor frames ({SolvedAccuracy:P0} at step {lstm.SolvedAtStep:N0}).";
            }
            else if (winner is null && tdnn.SolvedAtStep is int both)
            {
                why = $"both reached {SolvedAccuracy:P0} at step {both:N0} (TDNN {tdnn.MillisecondsPerStep:F2} ms per step, LSTM "
                    + $"{lstm.MillisecondsPerStep:F2} ms)."
                    + (lag + 1 == field
                        ? $" x(t-{lag}) is the oldest frame of the TDNN's window, reached by one path only (the oldest tap of every layer), so it learns it more slowly than a short lag."
                        : "");
            }
            else if (winner is null)
            {
                why = inside
                    ? $"neither reached {SolvedAccuracy:P0} in {settings.Steps:N0} steps (TDNN {tdnn.FinalAccuracy:P1}, LSTM {lstm.FinalAccuracy:P1})."
                    : $"the TDNN cannot see x(t-{lag}) ({field} frames < {lag + 1}) and stays at chance ({tdnn.FinalAccuracy:P1}); the LSTM "
                      + $"could in principle hold the cue but did not learn to in {settings.Steps:N0} steps ({lstm.FinalAccuracy:P1}).";
            }
            else
            {
                why = $"both solved it; the {winner!.Model} needed fewer steps to {SolvedAccuracy:P0}: TDNN {tdnn.SolvedAtStep:N0} steps × "
                    + $"{tdnn.MillisecondsPerStep:F2} ms, LSTM {lstm.SolvedAtStep:N0} steps × {lstm.MillisecondsPerStep:F2} ms.";
            }

            AnsiConsole.MarkupLine($"[bold]L = {lag}: {WinnerName(tdnn, lstm)}[/]. {Markup.Escape(why)}");
        }

        AnsiConsole.WriteLine();
    }
}
