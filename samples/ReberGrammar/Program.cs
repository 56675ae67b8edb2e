using RecurrentNets.Samples;
using System.CommandLine;
using ReberSample;

var cellsOption = new Option<string[]>("--cells")
{
    Description = "Cells to train: lstm, peephole, cifg (default), and for comparison rnn or gru (repeatable or comma-separated).",
    AllowMultipleArgumentsPerToken = true,
};
var hiddenOption = new Option<int>("--hidden")
{
    Description = "Hidden units (the 1997 paper used 4 blocks of 1-2 cells: try 8).",
    DefaultValueFactory = _ => 32,
};
var batchOption = new Option<int>("--batch") { Description = "Training strings per step.", DefaultValueFactory = _ => 16 };
var stepsOption = new Option<int>("--steps") { Description = "Maximum Adam steps per trial.", DefaultValueFactory = _ => 5_000 };
var learningRateOption = new Option<double>("--learning-rate") { Description = "Adam's learning rate.", DefaultValueFactory = _ => 1e-2 };
var clipOption = new Option<double>("--clip") { Description = "Gradient-norm clipping threshold.", DefaultValueFactory = _ => 1.0 };
var trialsOption = new Option<int>("--trials") { Description = "Trials (seeds) per cell.", DefaultValueFactory = _ => 3 };
var evaluateOption = new Option<int>("--evaluate-every") { Description = "Steps between checks of all 512 strings.", DefaultValueFactory = _ => 50 };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the first trial's weights and data.", DefaultValueFactory = _ => 1UL };
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the summary table (without the times) as Markdown to this file (for the docs)." };

foreach (var option in new[] { hiddenOption, batchOption, stepsOption, trialsOption, evaluateOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

cellsOption.Validators.Add(result =>
{
    foreach (string name in SplitCells(result.GetValueOrDefault<string[]>()))
    {
        if (!CellKinds.TryParse(name, out _))
        {
            result.AddError($"Unknown cell '{name}': use lstm, peephole, cifg, rnn or gru.");
        }
    }
});

var root = new RootCommand(
    "Trains LSTM variants (standard, peephole, CIFG) on the embedded Reber grammar, experiment 1 of Hochreiter and "
    + "Schmidhuber 1997, and reports per variant whether every symbol of 256 training and 256 test strings is predicted, "
    + "the sequences it took, and example predictions.")
{
    cellsOption, hiddenOption, batchOption, stepsOption, learningRateOption, clipOption, trialsOption, evaluateOption, seedOption,
    markdownOption,
};

root.SetAction(parseResult =>
{
    string[] names = SplitCells(parseResult.GetValue(cellsOption));
    var cells = names.Length == 0
        ? [CellKind.Lstm, CellKind.Peephole, CellKind.Cifg]
        : names.Select(n => CellKinds.TryParse(n, out var k) ? k : default).Distinct().ToArray();
    var settings = new Settings(
        cells,
        parseResult.GetValue(hiddenOption),
        parseResult.GetValue(batchOption),
        parseResult.GetValue(stepsOption),
        parseResult.GetValue(learningRateOption),
        parseResult.GetValue(clipOption),
        parseResult.GetValue(trialsOption),
        parseResult.GetValue(evaluateOption),
        parseResult.GetValue(seedOption),
        parseResult.GetValue(markdownOption));
    return ReberApp.Run(settings);
});

return root.Parse(args).Invoke();

static string[] SplitCells(string[]? values) => (values ?? [])
    .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    .ToArray();
