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
    Description = "Stacked recurrent layers.",
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
    Description = "Optimiser steps, one per window of B x k characters (0 with --load: evaluate and generate only).",
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
var cellOption = new Option<CellKind>("--cell")
{
    Description = "The recurrent cell: rnn (the course's Elman network), lstm (forget-gate bias 1), gru, or the layer-normalised lnlstm (forget-gate bias 1) and lngru.",
    DefaultValueFactory = _ => CellKind.Rnn,
};
var embeddingOption = new Option<int>("--embedding")
{
    Description = "Width of a learned character embedding fed to the first layer; 0 feeds the one-hot code.",
    DefaultValueFactory = _ => 0,
};
var dropoutOption = new Option<double>("--dropout")
{
    Description = "Dropout probability on the top layer's output (before the linear head) and between layers when --layers > 1.",
    DefaultValueFactory = _ => 0.0,
};
var recurrentDropoutOption = new Option<double>("--recurrent-dropout")
{
    Description = "Variational dropout on the recurrent connections: one mask per stream and window, kept across its steps.",
    DefaultValueFactory = _ => 0.0,
};
var holdoutOption = new Option<double>("--holdout")
{
    Description = "Fraction held out for bits/char on unseen text: the end of a file, or every (1/fraction)-th sentence of the built-in corpus. 0 for none.",
    DefaultValueFactory = _ => 0.1,
};
var saveOption = new Option<FileInfo?>("--save")
{
    Description = "Write the whole model to this .safetensors file: the weights (PyTorch names), the architecture and the vocabulary (SequenceModel.Save).",
};
var loadOption = new Option<FileInfo?>("--load")
{
    Description = "Start from a model written by --save (SequenceModel.Load): its architecture and vocabulary replace --cell, --hidden, --layers, --embedding and the dropouts.",
};

foreach (var option in new[] { hiddenOption, layersOption, windowOption, batchOption, lengthOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

stepsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 0)
    {
        result.AddError("--steps must be at least 0.");
    }
});
embeddingOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 0)
    {
        result.AddError("--embedding must be at least 0.");
    }
});
foreach (var option in new[] { dropoutOption, recurrentDropoutOption })
{
    option.Validators.Add(result =>
    {
        if (!(result.GetValueOrDefault<double>() is >= 0 and < 1))
        {
            result.AddError($"{option.Name} must be in [0, 1).");
        }
    });
}

holdoutOption.Validators.Add(result =>
{
    if (!(result.GetValueOrDefault<double>() is >= 0 and <= 0.5))
    {
        result.AddError("--holdout must be in [0, 0.5].");
    }
});
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
    "Trains a character-level language model, by default the course's Elman network (a = b + W h(t-1) + U x(t), "
    + "h = tanh(a), o = c + V h, y = softmax(o)), by truncated BPTT over parallel streams with the state carried from "
    + "window to window; reports bits/char on held-out text and generates text. The defaults finish in well under a "
    + "minute; for a larger text try --cell lstm --embedding 32 --hidden 256 --window 64 --dropout 0.2 and raise --steps.")
{
    fileArgument, cellOption, hiddenOption, layersOption, embeddingOption, dropoutOption, recurrentDropoutOption,
    windowOption, batchOption, stepsOption, epochsOption, learningRateOption, holdoutOption, temperatureOption,
    lengthOption, seedOption, promptOption, saveOption, loadOption,
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
        parseResult.GetValue(promptOption) ?? [],
        parseResult.GetValue(cellOption),
        parseResult.GetValue(embeddingOption),
        parseResult.GetValue(dropoutOption),
        parseResult.GetValue(recurrentDropoutOption),
        parseResult.GetValue(holdoutOption),
        parseResult.GetValue(saveOption),
        parseResult.GetValue(loadOption));
    if (settings.Steps == 0 && settings.Epochs is null && settings.Load is null)
    {
        Console.Error.WriteLine("--steps 0 needs --load: there is nothing to evaluate.");
        return 1;
    }

    return CharRnnApp.Run(settings);
});

return root.Parse(args).Invoke();
