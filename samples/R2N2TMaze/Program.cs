using System.CommandLine;
using System.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Tasks;
using Spectre.Console;

// The delayed-alternation T-maze of Cheng & Brown 2025 (exp2, exp7): R2N2 learns from replays of optimal trajectories,
// with a performance-dependent replay schedule (replays per epoch = ⌊(1 − r)·set size⌋, r = success of the previous
// epoch's replays), then runs closed-loop; its units tile the maze like place cells.
var paperOption = new Option<bool>("--paper") { Description = "The paper's maze set: cue 20–23, delay 50–55, branch 20–25, 10 noisy repeats (2 880 trajectories of 91–104 steps; slow). Default: a small set (cue 4–5, delay 10–12, branch 4–5, 5 repeats)." };
var epochsOption = new Option<int>("--epochs") { Description = "Most epochs.", DefaultValueFactory = _ => 200 };
var stopOption = new Option<double>("--stop") { Description = "Stop when the success of the last 2 × set-size replays exceeds this.", DefaultValueFactory = _ => 0.85 };
var feedbackOption = new Option<FeedbackMode>("--feedback") { Description = "FeedbackAlignment or Transposed (exact BPTT).", DefaultValueFactory = _ => FeedbackMode.FeedbackAlignment };
var seedOption = new Option<ulong>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 0UL };
var outOption = new Option<string>("--out") { Description = "Prefix of the PNG files.", DefaultValueFactory = _ => "r2n2-tmaze" };
var root = new RootCommand("R2N2 on the delayed-alternation T-maze: replay-driven learning, closed-loop success, place cells.")
{
    paperOption, epochsOption, stopOption, feedbackOption, seedOption, outOption,
};
root.SetAction(result =>
{
    bool paper = result.GetValue(paperOption);
    int maxEpochs = result.GetValue(epochsOption);
    double stop = result.GetValue(stopOption);
    ulong seed = result.GetValue(seedOption);
    string prefix = result.GetValue(outOption)!;
    var random = new SeededRandom(seed);
    var set = paper
        ? TMaze.OptimalTrajectories(20..23, 50..55, 20..25, 10, 0.01, random)
        : TMaze.OptimalTrajectories(4..5, 10..12, 4..5, 5, 0.01, random);
    var (testCue, testDelay, testBranch) = paper ? (22, 52, 24) : (5, 11, 4);
    var learner = new R2N2Learner(new R2N2Options
    {
        GroupSize = 64, InputSize = TMaze.InputSize, OutputSize = TMaze.InputSize, ScoredOutputs = 4,
        Feedback = result.GetValue(feedbackOption), LearningRate = 1e-3, Seed = seed + 1,
    });
    AnsiConsole.MarkupLine($"{set.Count} optimal trajectories of {set.Min(s => s.Sequence.Size(0))}–{set.Max(s => s.Sequence.Size(0))} inputs; R2N2 n = 64 per group, {learner.Name}, Adam 1e-3");

    var replays = new List<int>();
    var successes = new List<double>();
    var recent = new Queue<bool>();
    double rate = 0;
    var watch = Stopwatch.StartNew();
    int[] order = Enumerable.Range(0, set.Count).ToArray();
    for (int epoch = 0; epoch < maxEpochs; epoch++)
    {
        int count = Math.Max(1, (int)Math.Floor((1 - rate) * set.Count));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        int ok = 0;
        for (int k = 0; k < count; k++)
        {
            var r = learner.TrainSequence(set[order[k]].Sequence);
            bool correct = r.Correct == r.Predictions;
            ok += correct ? 1 : 0;
            recent.Enqueue(correct);
            if (recent.Count > 2 * set.Count)
            {
                recent.Dequeue();
            }
        }

        rate = (double)ok / count;
        replays.Add(count);
        successes.Add(rate);
        double window = recent.Count(c => c) / (double)recent.Count;
        AnsiConsole.MarkupLine($"epoch {epoch + 1,3}: {count,5} replays, all actions right in {rate:P0} of them (last {recent.Count}: {window:P0}), {watch.Elapsed.TotalSeconds:F0} s");
        if (recent.Count == 2 * set.Count && window > stop)
        {
            break;
        }
    }

    // Closed loop: 40 trials, alternating cues.
    int rewarded = 0;
    TMazeTrial? placeTrial = null;
    for (int trial = 0; trial < 40; trial++)
    {
        var maze = new TMaze(testCue, testDelay, testBranch, 1 + (trial % 2));
        var outcome = TMazeClosedLoop.Run(learner.Consolidator, maze, 0.01, random);
        rewarded += outcome.Rewarded ? 1 : 0;
        if (outcome.Rewarded && maze.CueType == 1 && placeTrial is null)
        {
            placeTrial = outcome;
        }
    }

    var table = new Table().AddColumns("quantity", "value");
    table.AddRow("epochs", replays.Count.ToString());
    table.AddRow("replays (forward + reverse sweeps)", $"{replays.Sum()} in total; first epoch {replays[0]}, last {replays[^1]}");
    table.AddRow("reversal warnings (|ŝ₀ − s₀| > 1e-6)", learner.Consolidator.ReversalWarnings.ToString());
    table.AddRow("closed-loop success", $"{rewarded} / 40 = {rewarded / 40.0:P0} (maze cue {testCue}, delay {testDelay}, branch {testBranch})");
    table.AddRow("training time", $"{watch.Elapsed.TotalSeconds:F1} s");
    AnsiConsole.Write(table);

    var plot = new ScottPlot.Plot();
    double[] epochs = Enumerable.Range(1, replays.Count).Select(e => (double)e).ToArray();
    var bars = plot.Add.ScatterLine(epochs, replays.Select(r => (double)r).ToArray());
    bars.LegendText = "replays per epoch";
    bars.LineWidth = 2;
    var axis = plot.Axes.AddRightAxis();
    var line = plot.Add.ScatterLine(epochs, successes.Select(s => s * 100).ToArray());
    line.Axes.YAxis = axis;
    line.LegendText = "replays with every action right (%)";
    axis.LabelText = "% correct replays";
    plot.Title("Performance-dependent replay schedule: ⌊(1 − r)·set⌋ replays per epoch");
    plot.XLabel("epoch");
    plot.YLabel("replays");
    plot.ShowLegend(ScottPlot.Alignment.UpperRight);
    plot.SavePng(prefix + "-replays.png", 900, 500);

    if (placeTrial is not null)
    {
        // Place cells: each unit's rate normalised to [0, 1] over the trial, units sorted by the position of their peak.
        int n = learner.Consolidator.GroupSize, steps = placeTrial.Steps;
        var peak = new int[n];
        var normalised = new double[n, steps];
        for (int j = 0; j < n; j++)
        {
            double lo = double.MaxValue, hi = double.MinValue;
            for (int t = 0; t < steps; t++)
            {
                double v = placeTrial.Activity[t * n + j];
                lo = Math.Min(lo, v);
                hi = Math.Max(hi, v);
            }

            for (int t = 0; t < steps; t++)
            {
                normalised[j, t] = hi > lo ? (placeTrial.Activity[t * n + j] - lo) / (hi - lo) : 0;
                if (normalised[j, t] >= normalised[j, peak[j]])
                {
                    peak[j] = t;
                }
            }
        }

        int[] sorted = Enumerable.Range(0, n).OrderBy(j => placeTrial.Positions[peak[j]]).ToArray();
        var map = new double[n, steps];
        for (int r = 0; r < n; r++)
        {
            for (int t = 0; t < steps; t++)
            {
                map[n - 1 - r, t] = normalised[sorted[r], t];
            }
        }

        var heat = new ScottPlot.Plot();
        var hm = heat.Add.Heatmap(map);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        heat.Add.ColorBar(hm);
        heat.Title("Group B units, sorted by the position of their peak (closed-loop trial, cue 1)");
        heat.XLabel($"position along the maze (cue 0–{testCue - 1}, delay to {testCue + testDelay - 1}, arm after)");
        heat.YLabel("unit (sorted)");
        heat.SavePng(prefix + "-place-cells.png", 900, 500);
    }

    AnsiConsole.MarkupLine($"Plots: [green]{Markup.Escape(Path.GetFullPath(prefix + "-replays.png"))}[/]" + (placeTrial is null ? " (no rewarded cue-1 trial: no place-cell plot)" : $", [green]{Markup.Escape(Path.GetFullPath(prefix + "-place-cells.png"))}[/]"));
    return 0;
});
return root.Parse(args).Invoke();
