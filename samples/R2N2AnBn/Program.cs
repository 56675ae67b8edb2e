using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.R2N2.Tasks;
using Spectre.Console;

// aⁿbⁿ with the protocol of Cheng & Brown 2025 (exp_anbn): R2N2 (feedback alignment), R2N2 (exact BPTT by replay),
// RFLO and the echo state network, trained side by side. One seed and one range: learning curves to a PNG. Several
// seeds or ranges: scores per seed set and mean ± sd over the sets, as a console or a Markdown table.
var rangeOption = new Option<int[]>("--range") { Description = "m: the range is n = m … m+3 (the paper: 1, 6, 11, …); several allowed.", DefaultValueFactory = _ => [1], AllowMultipleArgumentsPerToken = true };
var epochsOption = new Option<int>("--epochs") { Description = "Epochs (4 sequences each; the paper: 10 000).", DefaultValueFactory = _ => 10_000 };
var seedOption = new Option<ulong[]>("--seed") { Description = "Seeds of the weights and initial states (shuffles: seed + 100); several allowed.", DefaultValueFactory = _ => [0UL], AllowMultipleArgumentsPerToken = true };
var setSizeOption = new Option<int>("--set-size") { Description = "Consecutive seeds per seed set (the table reports each set and mean ± sd over the sets).", DefaultValueFactory = _ => 2 };
var modelsOption = new Option<string[]>("--models")
{
    Description = "Models: R2N2-FA, R2N2-exact, RFLO, ESN; a baseline may carry the released code's quirks, e.g. RFLO:released or "
        + "ESN:FirstInputSkipped+LaggedInputTrace (flags of RfloQuirks).",
    DefaultValueFactory = _ => ["R2N2-FA", "R2N2-exact", "RFLO", "ESN"],
    AllowMultipleArgumentsPerToken = true,
};
var threadsOption = new Option<int>("--threads") { Description = "Runs in parallel.", DefaultValueFactory = _ => Environment.ProcessorCount };
var markdownOption = new Option<bool>("--markdown") { Description = "Print the score table as Markdown to stdout (progress to stderr), no plot." };
var layoutOption = new Option<string>("--layout")
{
    Description = "sets: one row per model and range with every seed set (docs/r2n2.md); summary: one row per model, mean ± sd over the sets per range (docs/results.md); both: the two tables.",
    DefaultValueFactory = _ => "sets",
};
layoutOption.AcceptOnlyFromAmong("sets", "summary", "both");
var outOption = new Option<string>("--out") { Description = "The PNG file of the learning curves (one seed, one range).", DefaultValueFactory = _ => "r2n2-anbn.png" };
var root = new RootCommand("R2N2 on aⁿbⁿ: R2N2-FA, R2N2-exact, RFLO and an echo state network under the authors' protocol.")
{
    rangeOption, epochsOption, seedOption, setSizeOption, modelsOption, threadsOption, markdownOption, layoutOption, outOption,
};
root.SetAction(result =>
{
    int[] ranges = result.GetValue(rangeOption)!;
    int epochs = result.GetValue(epochsOption), setSize = result.GetValue(setSizeOption), threads = result.GetValue(threadsOption);
    ulong[] seeds = result.GetValue(seedOption)!;
    string[] models = result.GetValue(modelsOption)!;
    bool markdown = result.GetValue(markdownOption);
    if (ranges.Length == 0 || ranges.Any(m => m < 1) || epochs < 100 || seeds.Length == 0 || models.Length == 0 || threads < 1
        || setSize < 1 || seeds.Length % setSize != 0)
    {
        Console.Error.WriteLine("--range must be ≥ 1, --epochs ≥ 100, --threads ≥ 1, and the number of --seed values a multiple of --set-size.");
        return 1;
    }

    (AnBnModel Model, RfloQuirks Quirks)[] specs;
    try
    {
        specs = models.Select(ParseModel).ToArray();
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }

    var jobs = (from m in ranges from i in Enumerable.Range(0, models.Length) from seed in seeds select (m, i, seed)).ToArray();
    var runs = new AnBnRun[jobs.Length];
    var seconds = new double[jobs.Length];
    void RunJob(int j, Action<int>? progress)
    {
        var (m, i, seed) = jobs[j];
        var watch = Stopwatch.StartNew();
        runs[j] = AnBnProtocol.Run(AnBnProtocol.CreateLearner(specs[i].Model, seed, specs[i].Quirks), m, epochs, seed + 100, progress);
        seconds[j] = watch.Elapsed.TotalSeconds;
    }

    var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
    if (jobs.Length == 1 || !markdown)
    {
        AnsiConsole.MarkupLine($"aⁿbⁿ, m = {string.Join(", ", ranges)}, {epochs} epochs, seeds {string.Join(", ", seeds)}, {jobs.Length} runs ({threads} at a time)");
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var tasks = jobs.Select(j => context.AddTask(Markup.Escape($"{models[j.i]} m={j.m} seed {j.seed}"), maxValue: epochs)).ToArray();
                Parallel.For(0, jobs.Length, parallel, j => RunJob(j, e => tasks[j].Value = e + 1));
            });
    }
    else
    {
        int done = 0;
        Parallel.For(0, jobs.Length, parallel, j =>
        {
            RunJob(j, null);
            Console.Error.WriteLine($"[{Interlocked.Increment(ref done)}/{jobs.Length}] {models[jobs[j].i]} m = {jobs[j].m} seed {jobs[j].seed}: {runs[j].Score():F3} ({seconds[j]:F1} s)");
        });
    }

    if (seeds.Length == 1 && ranges.Length == 1 && !markdown)
    {
        WriteCurves(runs, models, seconds, result.GetValue(outOption)!);
        return 0;
    }

    // Per (range, model): each seed set's scores, mean ± sd over the set means, sequences solved per n.
    int sets = seeds.Length / setSize;
    var cells = new Dictionary<(int M, int Model), (string[] Sets, string Over, string PerN)>();
    foreach (int m in ranges)
    {
        for (int i = 0; i < models.Length; i++)
        {
            var mine = Enumerable.Range(0, jobs.Length).Where(j => jobs[j].m == m && jobs[j].i == i).Select(j => runs[j]).ToArray();
            var setCells = new string[sets];
            var setMeans = new double[sets];
            for (int s = 0; s < sets; s++)
            {
                var scores = mine.Skip(s * setSize).Take(setSize).Select(r => r.Score()).ToArray();
                setMeans[s] = scores.Average();
                setCells[s] = string.Join(", ", scores.Select(F3));
            }

            double mean = setMeans.Average(), sd = Math.Sqrt(setMeans.Sum(v => (v - mean) * (v - mean)) / sets);
            cells[(m, i)] = (setCells, $"{F3(mean)} ± {F3(sd)}",
                string.Join(" ", Enumerable.Range(0, 4).Select(k => $"{m + k}: {mine.Average(r => r.ScoreOf(k)).ToString("F2", CultureInfo.InvariantCulture)}")));
        }
    }

    string layout = result.GetValue(layoutOption)!;
    if (layout != "summary")
    {
        var header = new List<string> { "model", "m (n)" };
        header.AddRange(Enumerable.Range(0, sets).Select(s => $"seeds {string.Join(", ", seeds.Skip(s * setSize).Take(setSize))}"));
        header.Add($"over the {sets} sets");
        header.Add("per n (mean over all seeds)");
        var rows = from m in ranges
                   from i in Enumerable.Range(0, models.Length)
                   let c = cells[(m, i)]
                   select (string[])[DisplayName(models[i]), $"{m} ({m}–{m + 3})", .. c.Sets, c.Over, c.PerN];
        WriteTable(header, rows, markdown);
    }

    if (layout != "sets")
    {
        var header = new List<string> { $"model (mean ± sd over {sets} seed sets)" };
        header.AddRange(ranges.Select(m => $"n = {m}–{m + 3}"));
        var rows = Enumerable.Range(0, models.Length).Select(i => (string[])[DisplayName(models[i]), .. ranges.Select(m => cells[(m, i)].Over)]);
        WriteTable(header, rows, markdown);
    }

    return 0;
});
return root.Parse(args).Invoke();

// A Markdown table to stdout, or a console table; a blank line after each.
static void WriteTable(List<string> header, IEnumerable<string[]> rows, bool markdown)
{
    if (markdown)
    {
        Console.WriteLine($"| {string.Join(" | ", header)} |");
        Console.WriteLine($"|{string.Concat(header.Select(_ => "---|"))}");
        foreach (var row in rows)
        {
            Console.WriteLine($"| {string.Join(" | ", row)} |");
        }
    }
    else
    {
        var table = new Table().AddColumns(header.Select(Markup.Escape).ToArray());
        foreach (var row in rows)
        {
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
    }

    Console.WriteLine();
}

static string F3(double value) => value.ToString("F3", CultureInfo.InvariantCulture);

// "RFLO", "ESN:released", "RFLO:NonPositiveInputWeights+FirstInputSkipped", …
static (AnBnModel Model, RfloQuirks Quirks) ParseModel(string spec)
{
    string[] parts = spec.Split(':', 2);
    AnBnModel model = parts[0] switch
    {
        "R2N2-FA" => AnBnModel.R2N2FeedbackAlignment,
        "R2N2-exact" => AnBnModel.R2N2Exact,
        "RFLO" => AnBnModel.Rflo,
        "ESN" => AnBnModel.EchoStateNetwork,
        _ => throw new ArgumentException($"unknown model '{parts[0]}' in '{spec}': use R2N2-FA, R2N2-exact, RFLO or ESN."),
    };
    var quirks = RfloQuirks.None;
    if (parts.Length == 2)
    {
        foreach (string flag in parts[1].Split('+'))
        {
            quirks |= flag == "released" ? RfloQuirks.ReleasedCode
                : Enum.TryParse(flag, out RfloQuirks parsed) && Enum.IsDefined(parsed) ? parsed
                : throw new ArgumentException($"unknown quirk '{flag}' in '{spec}': use released or {string.Join(", ", Enum.GetNames<RfloQuirks>())}.");
        }
    }

    return (model, quirks);
}

static string DisplayName(string spec) => spec.EndsWith(":released", StringComparison.Ordinal) ? $"{spec[..^9]} (released code's quirks)" : spec;

// One seed, one range: the models' scores beside the authors' code (its seeds 0 / 1), and learning curves to a PNG.
static void WriteCurves(AnBnRun[] runs, string[] models, double[] seconds, string output)
{
    var authors = new Dictionary<(string, int), string>
    {
        [("R2N2-FA", 1)] = "0.950 / 0.968", [("R2N2-FA", 6)] = "0.943 / 0.920", [("R2N2-FA", 11)] = "0.735 / 0.823",
        [("R2N2-exact", 1)] = "0.943 / 0.975 (BP, released carry)", [("R2N2-exact", 6)] = "0.980 / 0.958 (BP, released carry)",
        [("RFLO", 1)] = "0.50 / 0.50", [("RFLO", 6)] = "0.50 / 0.50", [("RFLO", 11)] = "0.278 / 0.25",
        [("ESN", 1)] = "0.75 / 0.75", [("ESN", 6)] = "0.50 / 0.50", [("ESN", 11)] = "0.25 / 0.25",
    };
    int m = runs[0].RangeStart, epochs = runs[0].Epochs;
    var table = new Table().AddColumns("model", "score (last 100 epochs)", "per n", "at 1k / 2k / 4k / 8k", "authors' code (seeds 0 / 1)", "time");
    for (int i = 0; i < runs.Length; i++)
    {
        var run = runs[i];
        table.AddRow(Markup.Escape(models[i]), run.Score().ToString("F3", CultureInfo.InvariantCulture),
            string.Join(" ", Enumerable.Range(0, 4).Select(k => run.ScoreOf(k).ToString("F2", CultureInfo.InvariantCulture))),
            string.Join(" / ", new[] { 1000, 2000, 4000, 8000 }.Select(e => e <= epochs ? run.ScoreAt(e).ToString("F2", CultureInfo.InvariantCulture) : "-")),
            Markup.Escape(authors.GetValueOrDefault((models[i].Split(':')[0], m), "-")), $"{seconds[i]:F1} s");
    }

    AnsiConsole.Write(table);

    var plot = new ScottPlot.Plot();
    for (int i = 0; i < runs.Length; i++)
    {
        int points = epochs / 50;
        double[] xs = new double[points], ys = new double[points];
        for (int p = 0; p < points; p++)
        {
            xs[p] = (p + 1) * 50;
            ys[p] = runs[i].ScoreAt((p + 1) * 50, Math.Min(100, (p + 1) * 50));
        }

        var line = plot.Add.ScatterLine(xs, ys);
        line.LegendText = models[i];
        line.LineWidth = 2;
    }

    plot.Title($"a^n b^n, n = {m}..{m + 3}: score over the last 100 epochs");
    plot.XLabel("epoch");
    plot.YLabel("fraction correct at all but one position");
    plot.Axes.SetLimitsY(0, 1.02);
    plot.ShowLegend(ScottPlot.Alignment.LowerRight);
    plot.SavePng(output, 900, 540);
    AnsiConsole.MarkupLine($"Learning curves: [green]{Markup.Escape(Path.GetFullPath(output))}[/]");
}
