using RecurrentNets.Samples;
using System.CommandLine;
using AddingSample;

var lengthsOption = new Option<int[]>("--lengths")
{
    Description = "Sequence lengths T (repeatable or comma-separated). Default 50, 100, 200; --full: 100, 200, 400, 750.",
    AllowMultipleArgumentsPerToken = true,
    CustomParser = result => result.Tokens
        .SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        .Select(int.Parse).ToArray(),
};
var cellsOption = new Option<string[]>("--cells")
{
    Description = "Cells to compare: rnn, lstm, peephole, cifg, gru, lnlstm, lngru (the layer-normalised ones; repeatable or "
        + "comma-separated). Default the first five.",
    AllowMultipleArgumentsPerToken = true,
};
var fullOption = new Option<bool>("--full")
{
    Description = "The papers' protocol: T = 100, 200, 400, 750, 128 hidden units, up to 20,000 steps, 2,560 test "
        + "sequences (hours on two cores). Explicit options override it.",
};
var hiddenOption = new Option<int?>("--hidden") { Description = "Hidden units (default 64; 128 with --full)." };
var batchOption = new Option<int>("--batch") { Description = "Sequences per step.", DefaultValueFactory = _ => 32 };
var stepsOption = new Option<int?>("--steps") { Description = "Maximum Adam steps per (cell, T) (default 3,000; 20,000 with --full)." };
var learningRateOption = new Option<double>("--learning-rate")
{
    Description = "Adam's learning rate for the gated cells.",
    DefaultValueFactory = _ => 1e-2,
};
var rnnLearningRateOption = new Option<double>("--rnn-learning-rate")
{
    Description = "Adam's learning rate for the Elman RNN (it diverges at the gated cells' rate).",
    DefaultValueFactory = _ => 1e-3,
};
var forgetBiasOption = new Option<double>("--forget-bias")
{
    Description = "Initial forget-gate bias of the LSTM cells (Gers et al. 2000; 1 as in Keras).",
    DefaultValueFactory = _ => 1.0,
};
var clipOption = new Option<double>("--clip") { Description = "Gradient-norm clipping threshold.", DefaultValueFactory = _ => 1.0 };
var evaluateOption = new Option<int>("--evaluate-every") { Description = "Steps between test evaluations.", DefaultValueFactory = _ => 100 };
var testOption = new Option<int?>("--test-size") { Description = "Held-out sequences per T (default 1,000; 2,560 with --full)." };
var keepOption = new Option<bool>("--keep-training") { Description = "Train every cell for all --steps instead of stopping when it is solved." };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the weights and data.", DefaultValueFactory = _ => 1UL };
var outputOption = new Option<FileInfo>("--output")
{
    Description = "Where to write the learning-curve PNG.",
    DefaultValueFactory = _ => new FileInfo("adding-problem.png"),
};
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the result table as Markdown to this file (for the docs)." };

foreach (var option in new[] { batchOption, evaluateOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

foreach (var option in new[] { hiddenOption, stepsOption, testOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int?>() is < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

lengthsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int[]>() is { } lengths && lengths.Any(t => t < 2))
    {
        result.AddError("--lengths must all be at least 2.");
    }
});
cellsOption.Validators.Add(result =>
{
    foreach (string name in SplitCells(result.GetValueOrDefault<string[]>()))
    {
        if (!CellKinds.TryParse(name, out _))
        {
            result.AddError($"Unknown cell '{name}': use rnn, lstm, peephole, cifg or gru.");
        }
    }
});

var root = new RootCommand(
    "Compares an Elman RNN, LSTM, peephole LSTM, CIFG LSTM and GRU on the adding problem (Le et al. 2015; Arjovsky et al. "
    + "2016) at several lengths T: prints the final held-out MSE and the steps each cell needs to reach MSE < 0.01 "
    + "(predicting the constant 1 gives 0.167), and writes the learning curves as a PNG.")
{
    lengthsOption, cellsOption, fullOption, hiddenOption, batchOption, stepsOption, learningRateOption, rnnLearningRateOption,
    forgetBiasOption, clipOption, evaluateOption, testOption, keepOption, seedOption, outputOption, markdownOption,
};

root.SetAction(parseResult =>
{
    bool full = parseResult.GetValue(fullOption);
    string[] cellNames = SplitCells(parseResult.GetValue(cellsOption));
    var cells = cellNames.Length == 0
        ? [CellKind.Rnn, CellKind.Lstm, CellKind.Peephole, CellKind.Cifg, CellKind.Gru]
        : cellNames.Select(n => CellKinds.TryParse(n, out var k) ? k : default).Distinct().ToArray();
    int[]? lengths = parseResult.GetValue(lengthsOption);
    var settings = new Settings(
        lengths is { Length: > 0 } ? lengths : full ? [100, 200, 400, 750] : [50, 100, 200],
        cells,
        parseResult.GetValue(hiddenOption) ?? (full ? 128 : 64),
        parseResult.GetValue(batchOption),
        parseResult.GetValue(stepsOption) ?? (full ? 20_000 : 3_000),
        parseResult.GetValue(learningRateOption),
        parseResult.GetValue(rnnLearningRateOption),
        parseResult.GetValue(forgetBiasOption),
        parseResult.GetValue(clipOption),
        parseResult.GetValue(evaluateOption),
        parseResult.GetValue(testOption) ?? (full ? 2560 : 1000),
        parseResult.GetValue(keepOption),
        parseResult.GetValue(seedOption),
        parseResult.GetValue(outputOption)!,
        parseResult.GetValue(markdownOption));
    return AddingApp.Run(settings);
});

return root.Parse(args).Invoke();

static string[] SplitCells(string[]? values) => (values ?? [])
    .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    .ToArray();
