using System.CommandLine;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using Seq2SeqSample;

var cellsOption = new Option<string[]>("--cells")
{
    Description = "Cells of the encoder and decoder: lstm, gru, rnn (repeatable or comma-separated). Default lstm, gru.",
    AllowMultipleArgumentsPerToken = true,
};
var digitsOption = new Option<int>("--max-digits") { Description = "Numbers up to 10^d - 1, d in [3, 6].", DefaultValueFactory = _ => 6 };
var embeddingOption = new Option<int>("--embedding") { Description = "Embedding width E of source and target tokens.", DefaultValueFactory = _ => 32 };
var hiddenOption = new Option<int>("--hidden") { Description = "Hidden units H of the encoder and decoder.", DefaultValueFactory = _ => 128 };
var layersOption = new Option<int>("--layers") { Description = "Stacked layers of the encoder and of the decoder.", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int>("--batch") { Description = "Training numbers per step.", DefaultValueFactory = _ => 64 };
var stepsOption = new Option<int>("--steps") { Description = "Adam steps per cell.", DefaultValueFactory = _ => 2000 };
var learningRateOption = new Option<double>("--learning-rate")
{
    Description = "Adam's initial learning rate (cosine decay to 0 over --steps).",
    DefaultValueFactory = _ => 3e-3,
};
var clipOption = new Option<double>("--clip") { Description = "Gradient-norm clipping threshold.", DefaultValueFactory = _ => 1.0 };
var evaluateOption = new Option<int>("--evaluate-every") { Description = "Steps between held-out evaluations.", DefaultValueFactory = _ => 100 };
var curveTestOption = new Option<int>("--curve-test-size") { Description = "Held-out numbers of each curve point.", DefaultValueFactory = _ => 1000 };
var testOption = new Option<int>("--test-size") { Description = "Held-out numbers of the final score.", DefaultValueFactory = _ => 10000 };
var examplesOption = new Option<int>("--examples") { Description = "Held-out translations to print.", DefaultValueFactory = _ => 8 };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the weights, the split and the data.", DefaultValueFactory = _ => 1UL };
var attentionOption = new Option<string[]>("--attention")
{
    Description = "Attention of the decoder: none, additive, dot, general (repeatable or comma-separated; each is a run per cell). Default none.",
    AllowMultipleArgumentsPerToken = true,
};
var beamOption = new Option<int>("--beam") { Description = "Also score beam search of this width (1: greedy only).", DefaultValueFactory = _ => 1 };
var alphaOption = new Option<double>("--length-normalization")
{
    Description = "Beam search's length normalisation alpha (score / length^alpha).",
    DefaultValueFactory = _ => 0.0,
};
var longOption = new Option<bool>("--long") { Description = "The long-input variant: numbers up to 10^12 - 1 (million, billion; up to 19 words, 12 digits). Ignores --max-digits." };
var heatMapOption = new Option<FileInfo>("--heatmap")
{
    Description = "Where to write the PNG of attention weights (of the first run with attention).",
    DefaultValueFactory = _ => new FileInfo("seq2seq-attention.png"),
};
var outputOption = new Option<FileInfo>("--output")
{
    Description = "Where to write the PNG of training loss and held-out exact match.",
    DefaultValueFactory = _ => new FileInfo("seq2seq.png"),
};

foreach (var option in new[] { embeddingOption, hiddenOption, layersOption, batchOption, stepsOption, evaluateOption, curveTestOption, testOption, beamOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

digitsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() is < 3 or > 6)
    {
        result.AddError("--max-digits must be in [3, 6] (held-out numbers have at least 3 digits).");
    }
});
cellsOption.Validators.Add(result =>
{
    foreach (string name in SplitCells(result.GetValueOrDefault<string[]>()))
    {
        if (!TryParse(name, out _))
        {
            result.AddError($"Unknown cell '{name}': use lstm, gru or rnn.");
        }
    }
});

attentionOption.Validators.Add(result =>
{
    foreach (string name in SplitCells(result.GetValueOrDefault<string[]>()))
    {
        if (!TryParseAttention(name, out _))
        {
            result.AddError($"Unknown attention '{name}': use none, additive, dot or general.");
        }
    }
});
alphaOption.Validators.Add(result =>
{
    double value = result.GetValueOrDefault<double>();
    if (!double.IsFinite(value) || value < 0)
    {
        result.AddError("--length-normalization must be finite and at least 0.");
    }
});

var root = new RootCommand(
    "Trains an encoder-decoder (sequence to sequence, with or without attention) to translate English number words into digits "
    + "(\"three hundred forty two thousand five\" -> \"342005\") with teacher forcing, scores greedy decoding on held-out "
    + "numbers (exact match and token accuracy; beam search with --beam), prints example translations and writes the learning curves "
    + "(and the attention weights) as PNGs.")
{
    cellsOption, digitsOption, embeddingOption, hiddenOption, layersOption, batchOption, stepsOption, learningRateOption,
    clipOption, evaluateOption, curveTestOption, testOption, examplesOption, seedOption, outputOption, attentionOption, beamOption,
    alphaOption, longOption, heatMapOption,
};

root.SetAction(parseResult =>
{
    // Redirected output (a log file, the README) gets wide tables instead of the 80-column fallback.
    if (Console.IsOutputRedirected)
    {
        Spectre.Console.AnsiConsole.Profile.Width = 120;
    }

    string[] names = SplitCells(parseResult.GetValue(cellsOption));
    EncoderDecoderCell[] cells = names.Length == 0
        ? [EncoderDecoderCell.Lstm, EncoderDecoderCell.Gru]
        : names.Select(n => TryParse(n, out var c) ? c : default).Distinct().ToArray();
    string[] attentionNames = SplitCells(parseResult.GetValue(attentionOption));
    AttentionKind[] attentions = attentionNames.Length == 0
        ? [AttentionKind.None]
        : attentionNames.Select(n => TryParseAttention(n, out var a) ? a : default).Distinct().ToArray();
    var settings = new Settings(
        cells,
        parseResult.GetValue(digitsOption),
        parseResult.GetValue(embeddingOption),
        parseResult.GetValue(hiddenOption),
        parseResult.GetValue(layersOption),
        parseResult.GetValue(batchOption),
        parseResult.GetValue(stepsOption),
        parseResult.GetValue(learningRateOption),
        parseResult.GetValue(clipOption),
        parseResult.GetValue(evaluateOption),
        parseResult.GetValue(curveTestOption),
        parseResult.GetValue(testOption),
        parseResult.GetValue(examplesOption),
        parseResult.GetValue(seedOption),
        parseResult.GetValue(outputOption)!,
        attentions,
        parseResult.GetValue(beamOption),
        parseResult.GetValue(alphaOption),
        parseResult.GetValue(longOption),
        parseResult.GetValue(heatMapOption)!);
    return Seq2SeqApp.Run(settings);
});

return root.Parse(args).Invoke();

static string[] SplitCells(string[]? values) => (values ?? [])
    .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    .ToArray();

static bool TryParse(string text, out EncoderDecoderCell cell)
{
    switch (text.Trim().ToLowerInvariant())
    {
        case "lstm": cell = EncoderDecoderCell.Lstm; return true;
        case "gru": cell = EncoderDecoderCell.Gru; return true;
        case "rnn" or "elman": cell = EncoderDecoderCell.Rnn; return true;
        default: cell = default; return false;
    }
}

static bool TryParseAttention(string text, out AttentionKind kind)
{
    switch (text.Trim().ToLowerInvariant())
    {
        case "none": kind = AttentionKind.None; return true;
        case "additive" or "bahdanau" or "concat": kind = AttentionKind.Additive; return true;
        case "dot": kind = AttentionKind.Dot; return true;
        case "general": kind = AttentionKind.General; return true;
        default: kind = default; return false;
    }
}
