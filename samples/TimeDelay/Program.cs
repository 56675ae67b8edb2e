using System.CommandLine;
using System.CommandLine.Parsing;
using TimeDelaySample;

var lagsOption = IntList("--lags", "Lags L from cue to probe (repeatable or comma-separated). Default 4, 14, 15, 20, 30 (the default window covers lags up to 14).");
var kernelsOption = IntList("--kernels", "Kernel size K of each TDNN layer (comma-separated). Default 3, 3, 3.");
var dilationsOption = IntList("--dilations", "Dilation of each TDNN layer, one per kernel. Default 1, 2, 4 (receptive field 15).");
var widthOption = new Option<int>("--width") { Description = "Units of every TDNN layer.", DefaultValueFactory = _ => 24 };
var lstmHiddenOption = new Option<int?>("--lstm-hidden") { Description = "LSTM units (default: the largest LSTM with no more parameters than the TDNN)." };
var batchOption = new Option<int>("--batch") { Description = "Sequences per step.", DefaultValueFactory = _ => 32 };
var stepsOption = new Option<int>("--steps") { Description = "Adam steps per model and lag (the same for both models).", DefaultValueFactory = _ => 1_500 };
var timeStepsOption = new Option<int?>("--time-steps") { Description = "Frames per sequence (default max(64, 3(L + 1) + max gap) per lag)." };
var gapOption = new Option<int>("--max-gap") { Description = "The largest gap between two episodes.", DefaultValueFactory = _ => 4 };
var learningRateOption = new Option<double>("--learning-rate") { Description = "Adam's learning rate (both models).", DefaultValueFactory = _ => 1e-2 };
var forgetBiasOption = new Option<double>("--forget-bias")
{
    Description = "Initial forget-gate bias of the LSTM (3 keeps a cue for tens of frames from the start; with 1 it is forgotten within about 15).",
    DefaultValueFactory = _ => 3.0,
};
var clipOption = new Option<double>("--clip") { Description = "Gradient-norm clipping threshold.", DefaultValueFactory = _ => 1.0 };
var evaluateOption = new Option<int>("--evaluate-every") { Description = "Steps between held-out evaluations.", DefaultValueFactory = _ => 25 };
var testOption = new Option<int>("--test-batches") { Description = "Held-out batches per lag.", DefaultValueFactory = _ => 16 };
var threadsOption = new Option<int>("--threads")
{
    Description = "Threads of the GEMM kernels (results are identical for any value). Default 1, so both models are timed alike on a shared machine.",
    DefaultValueFactory = _ => 1,
};
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the weights and data.", DefaultValueFactory = _ => 1UL };
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the result table (without the times per step) as Markdown to this file (for the docs)." };
var outputOption = new Option<FileInfo>("--output")
{
    Description = "Where to write the learning curves (PNG); the accuracy-vs-lag figure goes beside it as <name>-lags.png.",
    DefaultValueFactory = _ => new FileInfo("time-delay.png"),
};

foreach (var option in new[] { threadsOption, widthOption, batchOption, stepsOption, evaluateOption, testOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

foreach (var option in new[] { lstmHiddenOption, timeStepsOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int?>() is < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

gapOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 0)
    {
        result.AddError("--max-gap must not be negative.");
    }
});

foreach (var option in new[] { lagsOption, kernelsOption, dilationsOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int[]>() is { } values && values.Any(v => v < 1))
        {
            result.AddError($"{option.Name} must all be at least 1.");
        }
    });
}

var root = new RootCommand(
    "Trains a time-delay neural network (Waibel et al. 1989) and an LSTM of about the same size on a lagged-match task "
    + "(is the probe bit equal to the cue bit L frames earlier?) at lags inside and past the TDNN's receptive field; prints "
    + "accuracy, steps to 95 % and time per step, says which model wins at each lag and why, and writes the learning curves.")
{
    lagsOption, kernelsOption, dilationsOption, widthOption, lstmHiddenOption, batchOption, stepsOption, timeStepsOption, gapOption,
    learningRateOption, forgetBiasOption, clipOption, evaluateOption, testOption, threadsOption, seedOption, outputOption, markdownOption,
};

root.SetAction(parseResult =>
{
    int[] lags = Or(parseResult.GetValue(lagsOption), [4, 14, 15, 20, 30]);
    int[] kernels = Or(parseResult.GetValue(kernelsOption), [3, 3, 3]);
    int[]? dilations = parseResult.GetValue(dilationsOption);
    dilations = dilations is { Length: > 0 } ? dilations : parseResult.GetValue(kernelsOption) is { Length: > 0 } ? Enumerable.Repeat(1, kernels.Length).ToArray() : [1, 2, 4];
    if (dilations.Length != kernels.Length)
    {
        Console.Error.WriteLine($"--dilations has {dilations.Length} values but --kernels has {kernels.Length}: one per layer.");
        return 1;
    }

    var settings = new Settings(lags, parseResult.GetValue(widthOption), kernels, dilations, parseResult.GetValue(lstmHiddenOption),
        parseResult.GetValue(batchOption), parseResult.GetValue(stepsOption), parseResult.GetValue(timeStepsOption), parseResult.GetValue(gapOption),
        parseResult.GetValue(learningRateOption), parseResult.GetValue(forgetBiasOption), parseResult.GetValue(clipOption), parseResult.GetValue(evaluateOption),
        parseResult.GetValue(testOption), parseResult.GetValue(seedOption), parseResult.GetValue(outputOption)!, parseResult.GetValue(threadsOption),
        parseResult.GetValue(markdownOption));
    foreach (int lag in lags)
    {
        if (settings.StepsFor(lag) < lag + 1 + settings.MaxGap)
        {
            Console.Error.WriteLine($"--time-steps {settings.StepsFor(lag)} cannot hold an episode of lag {lag} after a gap of {settings.MaxGap}.");
            return 1;
        }
    }

    return TimeDelayApp.Run(settings);
});

return root.Parse(args).Invoke();

static int[] Or(int[]? values, int[] fallback) => values is { Length: > 0 } ? values : fallback;

static Option<int[]> IntList(string name, string description) => new(name)
{
    Description = description,
    AllowMultipleArgumentsPerToken = true,
    CustomParser = result => ParseInts(result),
};

static int[] ParseInts(ArgumentResult result)
{
    var values = new List<int>();
    foreach (var token in result.Tokens)
    {
        foreach (string part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, out int value))
            {
                result.AddError($"'{part}' is not an integer.");
                return [];
            }

            values.Add(value);
        }
    }

    return values.ToArray();
}
