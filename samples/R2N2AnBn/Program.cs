using System.CommandLine;
using System.Diagnostics;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.R2N2.Tasks;
using Spectre.Console;

// aⁿbⁿ with the protocol of Cheng & Brown 2025 (exp_anbn): R2N2 (feedback alignment), R2N2 (exact BPTT by replay),
// RFLO and the echo state network, trained side by side; learning curves to a PNG.
var rangeOption = new Option<int>("--range") { Description = "m: the range is n = m … m+3 (the paper: 1, 6, 11, …).", DefaultValueFactory = _ => 1 };
var epochsOption = new Option<int>("--epochs") { Description = "Epochs (4 sequences each; the paper: 10 000).", DefaultValueFactory = _ => 10_000 };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the weights, initial states and shuffles.", DefaultValueFactory = _ => 0UL };
var outOption = new Option<string>("--out") { Description = "The PNG file of the learning curves.", DefaultValueFactory = _ => "r2n2-anbn.png" };
var root = new RootCommand("R2N2 on aⁿbⁿ: learning curves of R2N2-FA, R2N2-exact, RFLO and an echo state network.")
{
    rangeOption, epochsOption, seedOption, outOption,
};
root.SetAction(result =>
{
    int m = result.GetValue(rangeOption), epochs = result.GetValue(epochsOption);
    ulong seed = result.GetValue(seedOption);
    string output = result.GetValue(outOption)!;
    if (m < 1 || epochs < 100)
    {
        AnsiConsole.MarkupLine("[red]--range must be ≥ 1 and --epochs ≥ 100.[/]");
        return 1;
    }

    string[] models = ["R2N2-FA", "R2N2-exact", "RFLO", "ESN"];
    var runs = new AnBnRun[models.Length];
    var seconds = new double[models.Length];
    AnsiConsole.MarkupLine($"aⁿbⁿ, n = {m} … {m + 3}, {epochs} epochs, seed {seed} (models run in parallel)");
    AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(context =>
        {
            var tasks = models.Select(name => context.AddTask(name, maxValue: epochs)).ToArray();
            Parallel.For(0, models.Length, i =>
            {
                var watch = Stopwatch.StartNew();
                runs[i] = AnBnProtocol.Run(Make(models[i], seed), m, epochs, seed + 100, e => tasks[i].Value = e + 1);
                seconds[i] = watch.Elapsed.TotalSeconds;
            });
        });

    var authors = new Dictionary<(string, int), string>
    {
        [("R2N2-FA", 1)] = "0.950 / 0.968", [("R2N2-FA", 6)] = "0.943 / 0.920", [("R2N2-FA", 11)] = "0.735 / 0.823",
        [("R2N2-exact", 1)] = "0.943 / 0.975 (BP, released carry)", [("R2N2-exact", 6)] = "0.980 / 0.958 (BP, released carry)",
        [("RFLO", 1)] = "0.50 / 0.50", [("RFLO", 6)] = "0.50 / 0.50", [("RFLO", 11)] = "0.278 / 0.25",
        [("ESN", 1)] = "0.75 / 0.75", [("ESN", 6)] = "0.50 / 0.50", [("ESN", 11)] = "0.25 / 0.25",
    };
    var table = new Table().AddColumns("model", "score (last 100 epochs)", "per n", "at 1k / 2k / 4k / 8k", "authors' code (seeds 0 / 1)", "time");
    for (int i = 0; i < models.Length; i++)
    {
        var run = runs[i];
        table.AddRow(models[i], run.Score().ToString("F3"),
            string.Join(" ", Enumerable.Range(0, 4).Select(k => run.ScoreOf(k).ToString("F2"))),
            string.Join(" / ", new[] { 1000, 2000, 4000, 8000 }.Select(e => e <= epochs ? run.ScoreAt(e).ToString("F2") : "-")),
            Markup.Escape(authors.GetValueOrDefault((models[i], m), "-")), $"{seconds[i]:F1} s");
    }

    AnsiConsole.Write(table);

    var plot = new ScottPlot.Plot();
    foreach (var run in runs)
    {
        int points = epochs / 50;
        double[] xs = new double[points], ys = new double[points];
        for (int p = 0; p < points; p++)
        {
            xs[p] = (p + 1) * 50;
            ys[p] = run.ScoreAt((p + 1) * 50, Math.Min(100, (p + 1) * 50));
        }

        var line = plot.Add.ScatterLine(xs, ys);
        line.LegendText = run.Learner;
        line.LineWidth = 2;
    }

    plot.Title($"a^n b^n, n = {m}..{m + 3}: score over the last 100 epochs");
    plot.XLabel("epoch");
    plot.YLabel("fraction correct at all but one position");
    plot.Axes.SetLimitsY(0, 1.02);
    plot.ShowLegend(ScottPlot.Alignment.LowerRight);
    plot.SavePng(output, 900, 540);
    AnsiConsole.MarkupLine($"Learning curves: [green]{Markup.Escape(Path.GetFullPath(output))}[/]");
    return 0;
});
return root.Parse(args).Invoke();

static ISequenceLearner Make(string model, ulong seed) => model switch
{
    "R2N2-FA" => new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = 3, OutputSize = 3, BackwardGain = 1.4, Seed = seed }),
    "R2N2-exact" => new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = 3, OutputSize = 3, Feedback = FeedbackMode.Transposed, Seed = seed }),
    "RFLO" => new Rflo(3, 64, 3, seed),
    _ => new EchoStateNetwork(3, 64, 3, seed),
};
