using System.CommandLine;
using RecurrentNets.Samples;
using WorkingMemorySample;

var locationsOption = new Option<int>("--locations") { Description = "Cue locations k (the response classes).", DefaultValueFactory = _ => 8 };
var minDelayOption = new Option<int>("--min-delay") { Description = "Shortest training delay (steps).", DefaultValueFactory = _ => 2 };
var maxDelayOption = new Option<int>("--max-delay") { Description = "Longest training delay (steps).", DefaultValueFactory = _ => 20 };
var testDelaysOption = new Option<int[]>("--test-delays")
{
    Description = "Delays to test at (repeatable or comma-separated). Default 2, 10, 20, 40, 100, 200, 500.",
    AllowMultipleArgumentsPerToken = true,
    CustomParser = result => result.Tokens
        .SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        .Select(int.Parse).ToArray(),
};
var cellsOption = new Option<string[]>("--cells")
{
    Description = "Cells to train: rnn, lstm, peephole, cifg, gru (repeatable or comma-separated). Default rnn, lstm, gru.",
    AllowMultipleArgumentsPerToken = true,
};
var unitCellsOption = new Option<string[]>("--unit-cells")
{
    Description = "Cells whose delay units are analysed and plotted. Default lstm, gru.",
    AllowMultipleArgumentsPerToken = true,
};
var hiddenOption = new Option<int>("--hidden") { Description = "Hidden units of every cell.", DefaultValueFactory = _ => 32 };
var batchOption = new Option<int>("--batch") { Description = "Trials per step.", DefaultValueFactory = _ => 32 };
var stepsOption = new Option<int>("--steps") { Description = "Adam steps per gated cell (LSTM, GRU).", DefaultValueFactory = _ => 4000 };
var rnnStepsOption = new Option<int>("--rnn-steps") { Description = "Adam steps for the Elman RNN (at its lower learning rate it needs about 9,000 to reach 95 %).", DefaultValueFactory = _ => 12000 };
var learningRateOption = new Option<double>("--learning-rate") { Description = "Adam's learning rate for the gated cells.", DefaultValueFactory = _ => 1e-2 };
var rnnLearningRateOption = new Option<double>("--rnn-learning-rate") { Description = "Adam's learning rate for the Elman RNN (at 1e-2 it does not learn the task).", DefaultValueFactory = _ => 1e-3 };
var forgetBiasOption = new Option<double>("--forget-bias") { Description = "Initial forget-gate bias of the LSTM cells.", DefaultValueFactory = _ => 1.0 };
var clipOption = new Option<double>("--clip") { Description = "Gradient-norm clipping threshold.", DefaultValueFactory = _ => 1.0 };
var noiseOption = new Option<double>("--noise") { Description = "σ of Gaussian noise on every input channel at every step of a trial (0: none).", DefaultValueFactory = _ => 0.1 };
var fixationOption = new Option<bool>("--fixation") { Description = "Add a fixation channel, on from the cue until GO." };
var testOption = new Option<int>("--test-size") { Description = "Held-out trials per test delay.", DefaultValueFactory = _ => 1000 };
var unitsOption = new Option<int>("--units") { Description = "Delay units plotted per analysed cell.", DefaultValueFactory = _ => 4 };
var analysisDelayOption = new Option<int?>("--analysis-delay") { Description = "Delay of the trials used to find the delay units (default --max-delay)." };
var analysisTrialsOption = new Option<int>("--analysis-trials") { Description = "Trials used to find the delay units.", DefaultValueFactory = _ => 800 };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the weights and data.", DefaultValueFactory = _ => 1UL };
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the accuracy table as Markdown to this file (for the docs)." };
var outputOption = new Option<FileInfo>("--output")
{
    Description = "Where to write the accuracy-vs-delay PNG.",
    DefaultValueFactory = _ => new FileInfo("working-memory.png"),
};
var unitsOutputOption = new Option<FileInfo>("--units-output")
{
    Description = "Where to write the delay-unit PNG.",
    DefaultValueFactory = _ => new FileInfo("working-memory-units.png"),
};

foreach (var option in new[] { hiddenOption, batchOption, stepsOption, testOption, unitsOption, analysisTrialsOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

locationsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 2)
    {
        result.AddError("--locations must be at least 2.");
    }
});
minDelayOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 0)
    {
        result.AddError("--min-delay must be at least 0.");
    }
});
noiseOption.Validators.Add(result =>
{
    if (!(result.GetValueOrDefault<double>() >= 0))
    {
        result.AddError("--noise must be at least 0.");
    }
});
testDelaysOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int[]>() is { } delays && delays.Any(d => d < 0))
    {
        result.AddError("--test-delays must all be at least 0.");
    }
});
analysisDelayOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 1)
    {
        result.AddError("--analysis-delay must be at least 1 (the units are selected on their delay activity).");
    }
});
foreach (var option in new[] { cellsOption, unitCellsOption })
{
    option.Validators.Add(result =>
    {
        foreach (string name in SplitCells(result.GetValueOrDefault<string[]>()))
        {
            if (!CellKinds.TryParse(name, out _))
            {
                result.AddError($"Unknown cell '{name}': use rnn, lstm, peephole, cifg or gru.");
            }
        }
    });
}

var root = new RootCommand(
    "The delayed-response (WHERE) working-memory task: trains an Elman RNN, an LSTM and a GRU on delays from a training "
    + "range, prints held-out accuracy at delays inside and beyond it, plots accuracy vs delay, and plots the hidden units "
    + "whose delay activity holds the cue (the analogue of dorsolateral prefrontal delay cells).")
{
    locationsOption, minDelayOption, maxDelayOption, testDelaysOption, cellsOption, unitCellsOption, hiddenOption, batchOption,
    stepsOption, rnnStepsOption, learningRateOption, rnnLearningRateOption, forgetBiasOption, clipOption, noiseOption, fixationOption, testOption,
    unitsOption, analysisDelayOption, analysisTrialsOption, seedOption, outputOption, unitsOutputOption, markdownOption,
};

root.SetAction(parseResult =>
{
    int minDelay = parseResult.GetValue(minDelayOption), maxDelay = parseResult.GetValue(maxDelayOption);
    if (maxDelay < minDelay || maxDelay < 1)
    {
        Console.Error.WriteLine($"--max-delay ({maxDelay}) must be at least --min-delay ({minDelay}) and at least 1.");
        return 1;
    }

    var cells = ParseCells(parseResult.GetValue(cellsOption), [CellKind.Rnn, CellKind.Lstm, CellKind.Gru]);
    var unitCells = ParseCells(parseResult.GetValue(unitCellsOption), [CellKind.Lstm, CellKind.Gru]).Where(cells.Contains).ToArray();
    int[]? testDelays = parseResult.GetValue(testDelaysOption);
    var settings = new Settings(
        parseResult.GetValue(locationsOption),
        minDelay,
        maxDelay,
        testDelays is { Length: > 0 } ? testDelays : [2, 10, 20, 40, 100, 200, 500],
        cells,
        unitCells,
        parseResult.GetValue(hiddenOption),
        parseResult.GetValue(batchOption),
        parseResult.GetValue(stepsOption),
        parseResult.GetValue(rnnStepsOption),
        parseResult.GetValue(learningRateOption),
        parseResult.GetValue(rnnLearningRateOption),
        parseResult.GetValue(forgetBiasOption),
        parseResult.GetValue(clipOption),
        parseResult.GetValue(noiseOption),
        parseResult.GetValue(fixationOption),
        parseResult.GetValue(testOption),
        parseResult.GetValue(unitsOption),
        parseResult.GetValue(analysisDelayOption) ?? maxDelay,
        parseResult.GetValue(analysisTrialsOption),
        parseResult.GetValue(seedOption),
        parseResult.GetValue(outputOption)!,
        parseResult.GetValue(unitsOutputOption)!,
        parseResult.GetValue(markdownOption));
    return MemoryApp.Run(settings);
});

return root.Parse(args).Invoke();

static CellKind[] ParseCells(string[]? values, CellKind[] defaults)
{
    string[] names = SplitCells(values);
    return names.Length == 0
        ? defaults
        : names.Select(n => CellKinds.TryParse(n, out var k) ? k : default).Distinct().ToArray();
}

static string[] SplitCells(string[]? values) => (values ?? [])
    .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    .ToArray();
