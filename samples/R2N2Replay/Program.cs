using System.CommandLine;
using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.Tensors;
using Spectre.Console;

// Reverse replay (Cheng & Brown 2025, exp0 + exp6): an episode is stored one-shot in the Hopfield cache, replayed forward
// through the consolidator, then replayed backward by the cache while the consolidator runs backwards and regenerates its
// own past activity. The two activity maps are plotted side by side (the backward one time-flipped).
var lengthOption = new Option<int>("--length") { Description = "T, the items of the episode (at most 0.08·N).", DefaultValueFactory = _ => 60 };
var cacheOption = new Option<int>("--cache") { Description = "N, the cache's binary units.", DefaultValueFactory = _ => 1000 };
var groupOption = new Option<int>("--group") { Description = "n, the units of each consolidator group.", DefaultValueFactory = _ => 64 };
var pumpOption = new Option<CachePumpMode>("--pump") { Description = "SelfTimed (3-step settle test) or ExternalCosine (H = 30).", DefaultValueFactory = _ => CachePumpMode.SelfTimed };
var seedOption = new Option<ulong>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 0UL };
var outOption = new Option<string>("--out") { Description = "Prefix of the PNG files.", DefaultValueFactory = _ => "r2n2-replay" };
var root = new RootCommand("R2N2 replay: store a sequence in the cache, replay it forward and backward, and reconstruct the consolidator's past.")
{
    lengthOption, cacheOption, groupOption, pumpOption, seedOption, outOption,
};
root.SetAction(result =>
{
    int length = result.GetValue(lengthOption), cacheSize = result.GetValue(cacheOption), n = result.GetValue(groupOption);
    ulong seed = result.GetValue(seedOption);
    string prefix = result.GetValue(outOption)!;
    const int inputs = 10;
    var random = new SeededRandom(seed);
    var sequence = new Tensor<double>(length, inputs);
    for (int i = 0; i < sequence.Length; i++)
    {
        sequence.Data[i] = random.NextUniform(0, 0.5);
    }

    var cache = new HopfieldSequenceCache(cacheSize, result.GetValue(pumpOption));
    var replay = new CacheReplay(cache, inputs, random.Fork());
    try
    {
        replay.Store(sequence);
    }
    catch (ArgumentException e)
    {
        AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
        return 1;
    }

    var net = new R2N2Consolidator(new R2N2Options { GroupSize = n, InputSize = inputs, OutputSize = inputs, Seed = seed + 1 });
    net.RandomizeState();
    var forward = new double[length + 1, 2 * n];
    Record(net, forward, 0);
    var x = new double[inputs];
    var items = new double[length, inputs];
    double minOverlap = 1, maxItemError = 0;
    replay.StartForward();
    for (int t = 0; t < length; t++)
    {
        replay.NextForward(x);
        minOverlap = Math.Min(minOverlap, replay.LastOverlap);
        for (int i = 0; i < inputs; i++)
        {
            items[t, i] = x[i];
            maxItemError = Math.Max(maxItemError, Math.Abs(x[i] - sequence[t, i]));
        }

        net.Forward(x);
        Record(net, forward, t + 1);
    }

    int forwardSteps = cache.StepsRun;
    double[] finalA = net.StateA.ToArray(), finalB = net.StateB.ToArray();

    // Reverse: the cache plays x_{T−1} … x_0 and the consolidator undoes one step per item (V = −W).
    var backward = new double[length + 1, 2 * n];
    Record(net, backward, length);
    net.ResetReverseWeights();
    replay.StartReverse();
    var error = new double[length];
    for (int t = length - 1; t >= 0; t--)
    {
        replay.NextReverse(x);
        minOverlap = Math.Min(minOverlap, replay.LastOverlap);
        net.Reverse(x);
        Record(net, backward, t);
        double e = 0;
        for (int j = 0; j < 2 * n; j++)
        {
            e = Math.Max(e, Math.Abs(backward[t, j] - forward[t, j]));
        }

        error[length - 1 - t] = e;
    }

    // The same backward run with least-squares reverse weights fitted on 4 random-input runs of 100 steps (the authors' demo).
    var fitted = new R2N2Consolidator(new R2N2Options { GroupSize = n, InputSize = inputs, OutputSize = inputs, Seed = seed + 1 });
    fitted.BeginReverseWeightRecording();
    for (int run = 0; run < 4; run++)
    {
        fitted.RandomizeState();
        for (int t = 0; t < 100; t++)
        {
            for (int i = 0; i < inputs; i++)
            {
                x[i] = random.NextUniform(0, 0.5);
            }

            fitted.Forward(x);
        }
    }

    fitted.FitReverseWeights();
    double vError = 0;
    for (int i = 0; i < n * n; i++)
    {
        vError = Math.Max(vError, Math.Max(Math.Abs(fitted.ReverseWeightAB[i] + fitted.WeightAB.Values[i]), Math.Abs(fitted.ReverseWeightBA[i] + fitted.WeightBA.Values[i])));
    }

    fitted.SetState(finalA, finalB);
    var lsError = new double[length];
    for (int t = length - 1; t >= 0; t--)
    {
        for (int i = 0; i < inputs; i++)
        {
            x[i] = items[t, i];
        }

        fitted.Reverse(x);
        double e = 0;
        for (int j = 0; j < n; j++)
        {
            e = Math.Max(e, Math.Abs(fitted.RateA[j] - forward[t, j]));
            e = Math.Max(e, Math.Abs(fitted.RateB[j] - forward[t, n + j]));
        }

        lsError[length - 1 - t] = e;
    }

    var table = new Table().AddColumns("quantity", "value");
    table.AddRow("cache", $"N = {cacheSize}, {length} items (capacity {cache.Capacity}), {result.GetValue(pumpOption)}");
    table.AddRow("cache recall", $"in order both ways; min overlap with the due key {minOverlap:F3}; {forwardSteps} + {cache.StepsRun} dynamics steps");
    table.AddRow("replayed items vs stored", $"max |x̂ − x| = {maxItemError:E1}");
    table.AddRow("consolidator", $"n = {n} per group, τ = 10, g_f = 1.5");
    table.AddRow("reconstruction error, V = −W", $"after {Math.Min(25, length)} / {Math.Min(50, length)} / {length} reverse steps: {error[Math.Min(25, length) - 1]:E1} / {error[Math.Min(50, length) - 1]:E1} / {error[length - 1]:E1}");
    table.AddRow("least-squares V (4 × 100 steps)", $"max |V + W| = {vError:E1}; reconstruction error after {Math.Min(25, length)} / {Math.Min(50, length)} / {length}: {lsError[Math.Min(25, length) - 1]:E1} / {lsError[Math.Min(50, length) - 1]:E1} / {lsError[length - 1]:E1}");
    AnsiConsole.Write(table);

    // One map: forward activity | gap | backward reconstruction, time-flipped so both read left to right in forward time.
    int shown = Math.Min(2 * n, 64);
    var map = new double[shown, 2 * (length + 1) + 3];
    for (int j = 0; j < shown; j++)
    {
        for (int t = 0; t <= length; t++)
        {
            map[j, t] = forward[t, j];
            map[j, length + 4 + t] = backward[t, j];
        }

        map[j, length + 1] = map[j, length + 2] = map[j, length + 3] = double.NaN;
    }

    var heat = new ScottPlot.Plot();
    var hm = heat.Add.Heatmap(map);
    hm.Colormap = new ScottPlot.Colormaps.Viridis();
    heat.Add.ColorBar(hm);
    heat.Title("Consolidator rates tanh(a), tanh(b): forward replay (left) | backward reconstruction, time-flipped (right)");
    heat.XLabel("time step (left: forward run; right: reverse run read backwards)");
    heat.YLabel("unit");
    heat.SavePng(prefix + "-activity.png", 1100, 500);

    var plot = new ScottPlot.Plot();
    double[] steps = Enumerable.Range(1, length).Select(s => (double)s).ToArray();
    var exact = plot.Add.ScatterLine(steps, error.Select(e => Math.Log10(Math.Max(e, 1e-17))).ToArray());
    exact.LegendText = "V = −W";
    var ls = plot.Add.ScatterLine(steps, lsError.Select(e => Math.Log10(Math.Max(e, 1e-17))).ToArray());
    ls.LegendText = "least-squares V";
    plot.Title("Reconstruction error of the backward run");
    plot.XLabel("reverse steps");
    plot.YLabel("log10 max |reconstructed − forward|");
    plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
    plot.SavePng(prefix + "-error.png", 800, 450);
    AnsiConsole.MarkupLine($"Plots: [green]{Markup.Escape(Path.GetFullPath(prefix + "-activity.png"))}[/], [green]{Markup.Escape(Path.GetFullPath(prefix + "-error.png"))}[/]");
    return 0;
});
return root.Parse(args).Invoke();

static void Record(R2N2Consolidator net, double[,] activity, int t)
{
    int n = net.GroupSize;
    for (int j = 0; j < n; j++)
    {
        activity[t, j] = net.RateA[j];
        activity[t, n + j] = net.RateB[j];
    }
}
