using System.CommandLine;
using CtcSymbolsSample;

var defaults = new SymbolSettings();
var stepsOption = new Option<int>("--steps") { Description = "Adam steps (one fresh batch each).", DefaultValueFactory = _ => defaults.Steps };
var batchOption = new Option<int>("--batch") { Description = "Sequences per step.", DefaultValueFactory = _ => defaults.Batch };
var hiddenOption = new Option<int>("--hidden") { Description = "LSTM units per direction.", DefaultValueFactory = _ => defaults.Hidden };
var symbolsOption = new Option<int>("--symbols") { Description = "Distinct symbols K (waveforms sin(πkτ), k = 1..K).", DefaultValueFactory = _ => defaults.Symbols };
var noiseOption = new Option<double>("--noise") { Description = "Standard deviation of the Gaussian noise on every frame.", DefaultValueFactory = _ => defaults.Noise };
var learningRateOption = new Option<double>("--learning-rate") { Description = "Adam's learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
var testOption = new Option<int>("--test-size") { Description = "Held-out sequences.", DefaultValueFactory = _ => defaults.TestSequences };
var beamOption = new Option<int>("--beam") { Description = "Beam width of the prefix beam search.", DefaultValueFactory = _ => defaults.BeamWidth };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the weights and data.", DefaultValueFactory = _ => defaults.Seed };
var outputOption = new Option<FileInfo>("--output")
{
    Description = "Where to write the PNG of the CTC posteriors over time for one held-out sequence.",
    DefaultValueFactory = _ => new FileInfo("ctc-symbols.png"),
};
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the result table as Markdown to this file (for the docs)." };

foreach (var option in new[] { stepsOption, batchOption, hiddenOption, testOption, beamOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

symbolsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() is < 2 or > 26)
    {
        result.AddError("--symbols must lie in [2, 26].");
    }
});
noiseOption.Validators.Add(result =>
{
    if (!(result.GetValueOrDefault<double>() >= 0))
    {
        result.AddError("--noise must be non-negative.");
    }
});

var root = new RootCommand(
    "Trains a bidirectional LSTM + linear + log-softmax with CTC (Graves et al. 2006) to read noisy, time-stretched symbol "
    + "waveforms generated in-process and write the symbol string; reports the label error rate (edit distance / reference "
    + "length) of greedy and prefix-beam decoding on held-out sequences and writes the posteriors of one as a PNG.")
{
    stepsOption, batchOption, hiddenOption, symbolsOption, noiseOption, learningRateOption, testOption, beamOption, seedOption,
    outputOption, markdownOption,
};

root.SetAction(parseResult => SymbolApp.Run(
    new SymbolSettings
    {
        Steps = parseResult.GetValue(stepsOption),
        Batch = parseResult.GetValue(batchOption),
        Hidden = parseResult.GetValue(hiddenOption),
        Symbols = parseResult.GetValue(symbolsOption),
        Noise = parseResult.GetValue(noiseOption),
        LearningRate = parseResult.GetValue(learningRateOption),
        TestSequences = parseResult.GetValue(testOption),
        BeamWidth = parseResult.GetValue(beamOption),
        Seed = parseResult.GetValue(seedOption),
    },
    parseResult.GetValue(outputOption)!,
    parseResult.GetValue(markdownOption)));

return root.Parse(args).Invoke();
