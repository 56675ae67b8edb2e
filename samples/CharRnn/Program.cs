using System.CommandLine;
using CharRnn;

var fileArgument = new Argument<FileInfo?>("file")
{
    Description = "A UTF-8 text file to train on. Without it, a built-in corpus of short sentences (\"eat food.\", \"drink water.\", ...) is used, its lines shuffled every epoch.",
    Arity = ArgumentArity.ZeroOrOne,
};
var hiddenOption = new Option<int>("--hidden")
{
    Description = "Hidden units per layer (H).",
    DefaultValueFactory = _ => 96,
};
var layersOption = new Option<int>("--layers")
{
    Description = "Stacked Elman layers.",
    DefaultValueFactory = _ => 1,
};
var windowOption = new Option<int>("--window")
{
    Description = "Truncated-BPTT window: steps backpropagated per update (k).",
    DefaultValueFactory = _ => 25,
};
var batchOption = new Option<int>("--batch")
{
    Description = "Parallel streams (B): the text is cut into this many contiguous segments read side by side.",
    DefaultValueFactory = _ => 16,
};
var stepsOption = new Option<int>("--steps")
{
    Description = "Optimiser steps, one per window of B x k characters.",
    DefaultValueFactory = _ => 800,
};
var epochsOption = new Option<int?>("--epochs")
{
    Description = "Train for this many passes over the text instead of --steps.",
};
var learningRateOption = new Option<double>("--learning-rate")
{
    Description = "Adam's learning rate.",
    DefaultValueFactory = _ => 3e-3,
};
var temperatureOption = new Option<double>("--temperature")
{
    Description = "Sampling temperature: below 1 is more conservative, above 1 more adventurous.",
    DefaultValueFactory = _ => 0.7,
};
var lengthOption = new Option<int>("--length")
{
    Description = "Characters to generate after training.",
    DefaultValueFactory = _ => 300,
};
var seedOption = new Option<ulong>("--seed")
{
    Description = "Seed of the weight initialisation and of the sampling: the same seed gives the same output.",
    DefaultValueFactory = _ => 42UL,
};
var promptOption = new Option<string[]>("--prompt")
{
    Description = "A text whose most likely next characters are shown after training (repeatable). "
        + "Defaults: \"eat \" and \"drink \" for the built-in corpus, the text's first word for a file.",
    AllowMultipleArgumentsPerToken = false,
};

foreach (var option in new[] { hiddenOption, layersOption, windowOption, batchOption, stepsOption, lengthOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

epochsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 1)
    {
        result.AddError("--epochs must be at least 1.");
    }
});
learningRateOption.Validators.Add(result =>
{
    if (!(result.GetValueOrDefault<double>() is > 0 and < 1))
    {
        result.AddError("--learning-rate must be in (0, 1).");
    }
});
temperatureOption.Validators.Add(result =>
{
    if (!(result.GetValueOrDefault<double>() is > 0 and <= 10))
    {
        result.AddError("--temperature must be in (0, 10].");
    }
});

var root = new RootCommand(
    "Trains an Elman recurrent network (a = b + W h(t-1) + U x(t), h = tanh(a), o = c + V h, y = softmax(o)) to predict "
    + "the next character of a text, then generates text with it. The defaults finish in well under a minute; for a "
    + "longer run on a larger text raise --steps (or set --epochs), --hidden (128-512), --window (50-100) and --layers (2).")
{
    fileArgument, hiddenOption, layersOption, windowOption, batchOption, stepsOption, epochsOption,
    learningRateOption, temperatureOption, lengthOption, seedOption, promptOption,
};

root.SetAction(parseResult =>
{
    var settings = new Settings(
        parseResult.GetValue(fileArgument),
        parseResult.GetValue(hiddenOption),
        parseResult.GetValue(layersOption),
        parseResult.GetValue(windowOption),
        parseResult.GetValue(batchOption),
        parseResult.GetValue(stepsOption),
        parseResult.GetValue(epochsOption),
        parseResult.GetValue(learningRateOption),
        parseResult.GetValue(temperatureOption),
        parseResult.GetValue(lengthOption),
        parseResult.GetValue(seedOption),
        parseResult.GetValue(promptOption) ?? []);
    return CharRnnApp.Run(settings);
});

return root.Parse(args).Invoke();
