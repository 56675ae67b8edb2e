using System.Diagnostics;
using System.Globalization;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;
using Spectre.Console;

namespace CharRnn;

/// <summary>The recurrent cell: the course's Elman cell, LSTM (Hochreiter and Schmidhuber 1997, forget-gate bias 1),
/// GRU (Cho et al. 2014, PyTorch's form), or the layer-normalised LSTM (Ba, Kiros and Hinton 2016, forget-gate bias 1) and
/// GRU.</summary>
internal enum CellKind
{
    Rnn,
    Lstm,
    Gru,
    LnLstm,
    LnGru,
}

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    FileInfo? File, int Hidden, int Layers, int Window, int Batch, int Steps, int? Epochs,
    double LearningRate, double Temperature, int Length, ulong Seed, string[] Prompts,
    CellKind Cell = CellKind.Rnn, int Embedding = 0, double Dropout = 0, double RecurrentDropout = 0, double Holdout = 0.1,
    FileInfo? Save = null, FileInfo? Load = null);

/// <summary>Loads the text, trains, reports and generates.</summary>
internal static class CharRnnApp
{
    private const int ReportLines = 8;

    // Held-out text is read as this many characters per stream at least (up to B streams).
    private const int HeldOutCharactersPerStream = 2000;

    public static int Run(Settings settings)
    {
        string text;
        string source;
        if (settings.File is null)
        {
            text = Corpus.BuiltIn;
            source = "built-in corpus";
        }
        else if (!settings.File.Exists)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]No file at {settings.File.FullName}.[/]");
            return 1;
        }
        else
        {
            text = File.ReadAllText(settings.File.FullName).Replace("\r\n", "\n", StringComparison.Ordinal);
            source = settings.File.Name;
        }

        // The model: new, or a saved one (architecture, weights and vocabulary) whose vocabulary must cover the text.
        var random = new SeededRandom(settings.Seed);
        CharLanguageModel model;
        if (settings.Load is not null)
        {
            if (!settings.Load.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]No model at {settings.Load.FullName}.[/]");
                return 1;
            }

            model = CharLanguageModel.Load(settings.Load.FullName, settings.LearningRate);
            string[] unknown = [.. text.EnumerateRunes().Select(r => r.ToString()).Where(c => model.Vocabulary.IndexOf(c) < 0)
                .Distinct().Order(StringComparer.Ordinal)];
            if (unknown.Length > 0)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"[red]The text has {unknown.Length} characters the model's vocabulary lacks: {string.Concat(unknown.Take(20).Select(Display))}[/]");
                return 1;
            }
        }
        else
        {
            model = CharLanguageModel.Create(Vocabulary.FromCharacters(text), settings.Cell, settings.Hidden, settings.Layers,
                settings.Embedding, settings.Dropout, settings.RecurrentDropout, settings.LearningRate, settings.Seed);
        }

        var vocabulary = model.Vocabulary;
        var (trainText, heldOutText, heldOutNote) = Corpus.Split(text, settings.File is null, settings.Holdout);
        int trainCharacters = vocabulary.Encode(trainText).Length, heldOutCharacters = vocabulary.Encode(heldOutText).Length;
        if (trainCharacters < settings.Batch + 1)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[red]The training text has {trainCharacters} characters: too few for {settings.Batch} parallel streams. Lower --batch (or --holdout).[/]");
            return 1;
        }

        int streamLength = (trainCharacters - 1) / settings.Batch;
        int windowsPerEpoch = (streamLength + settings.Window - 1) / settings.Window;
        int totalSteps = settings.Epochs is int epochs ? epochs * windowsPerEpoch : settings.Steps;
        double unigramBits = Corpus.UnigramEntropyBits(vocabulary.Encode(text), vocabulary.Count);
        int heldOutStreams = Math.Clamp(heldOutCharacters / HeldOutCharactersPerStream, 1, settings.Batch);

        PrintSetup(settings, source, text.Length, model, streamLength, windowsPerEpoch, totalSteps, unigramBits,
            trainCharacters, heldOutCharacters, heldOutNote, heldOutStreams);
        var (smoothedBits, elapsed) = Train(model, trainText, settings, totalSteps, random.Fork());
        var clock = Stopwatch.StartNew();
        double finalBits = model.BitsPerCharacter(trainText, settings.Batch, settings.Window);
        double heldOutBits = heldOutCharacters > 1 ? model.BitsPerCharacter(heldOutText, heldOutStreams, settings.Window) : double.NaN;
        var evaluation = clock.Elapsed;
        PrintResult(unigramBits, finalBits, heldOutBits, smoothedBits, totalSteps, elapsed, evaluation, settings);

        if (settings.Save is not null)
        {
            // One file: the architecture and the weights (PyTorch names), the vocabulary and these notes in the metadata.
            var metadata = model.Model.Metadata;
            long previous = long.TryParse(metadata.TryGetValue("trained_steps", out string? p) ? p : null, NumberStyles.None,
                CultureInfo.InvariantCulture, out long steps) ? steps : 0;
            metadata["trained_steps"] = (previous + totalSteps).ToString(CultureInfo.InvariantCulture);
            metadata["text"] = source;
            metadata["batch"] = settings.Batch.ToString(CultureInfo.InvariantCulture);
            metadata["window"] = settings.Window.ToString(CultureInfo.InvariantCulture);
            if (!double.IsNaN(heldOutBits))
            {
                metadata["heldout_bits_per_char"] = heldOutBits.ToString("F4", CultureInfo.InvariantCulture);
            }

            model.Model.Save(settings.Save.FullName);
            AnsiConsole.MarkupLineInterpolated(
                $"Saved the model ({model.Model.Parameters.Views.Count} tensors, {model.Model.Parameters.Length:N0} parameters, its architecture and vocabulary) to {settings.Save.FullName}.");
            AnsiConsole.WriteLine();
        }

        string prime = vocabulary.IndexOf("\n") >= 0 ? "\n" : text.EnumerateRunes().First().ToString();
        PrintPredictions(model, prime, Prompts(settings, text));
        PrintSample(model, prime, settings, random.Fork());
        return 0;
    }

    private static void PrintSetup(Settings settings, string source, int characters, CharLanguageModel model, int streamLength,
        int windowsPerEpoch, int totalSteps, double unigramBits, int trainCharacters, int heldOutCharacters, string heldOutNote,
        int heldOutStreams)
    {
        var recurrent = model.Model.Architecture.OfType<RecurrentSpec>().First();
        AnsiConsole.Write(new Rule($"[bold]Character-level {CellName(recurrent.Kind, "RNN")}[/]").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Text", Markup.Escape($"{source}, {characters:N0} characters, {model.Vocabulary.Count} distinct"));
        grid.AddRow("Unigram entropy", $"{unigramBits:F3} bits/char (a model that ignores context)");
        grid.AddRow("Held out", Markup.Escape(heldOutCharacters > 1
            ? $"{heldOutNote}: {heldOutCharacters:N0} characters, read as {heldOutStreams} stream(s) with the state carried"
            : heldOutNote));
        grid.AddRow("Model", Markup.Escape(Describe(model.Model)));
        grid.AddRow("Parameters", $"{model.Model.Parameters.Length:N0}");
        if (settings.Load is not null)
        {
            grid.AddRow("Loaded", Markup.Escape(settings.Load.FullName));
        }

        grid.AddRow("Streams", $"{settings.Batch} x {streamLength:N0} of {trainCharacters:N0} training characters, windows of {settings.Window} steps, state carried");
        if (settings.File is null)
        {
            grid.AddRow("Line order", "shuffled every epoch");
        }

        grid.AddRow("Training", Markup.Escape(
            $"{totalSteps:N0} Adam steps ({windowsPerEpoch:N0} per epoch), lr {settings.LearningRate:G3}, clip norm {CharLanguageModel.MaxGradientNorm:G}"));
        grid.AddRow("Seed", $"{settings.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static string CellName(RecurrentKind kind, string elman) => kind switch
    {
        RecurrentKind.Lstm => "LSTM",
        RecurrentKind.Gru => "GRU",
        RecurrentKind.LayerNormLstm => "LN-LSTM",
        RecurrentKind.LayerNormGru => "LN-GRU",
        _ => "Elman " + elman,
    };

    // "one-hot 25 -> 1 x Elman tanh 96 -> linear 25 -> softmax", from the model's layer descriptions.
    private static string Describe(SequenceModel<float> model) => string.Join(" -> ", model.Architecture.Select(spec => spec switch
    {
        OneHotSpec => $"one-hot {model.InputSize}",
        EmbeddingSpec e => $"embedding {model.InputSize} x {e.EmbeddingDim}",
        RecurrentSpec r => $"{r.NumLayers} x {CellName(r.Kind, "tanh")} {r.HiddenSize}"
            + (r.NumLayers > 1 && r.Dropout > 0 ? $" (dropout {r.Dropout:G3} between layers)" : "")
            + (r.RecurrentDropout > 0 ? $", recurrent dropout {r.RecurrentDropout:G3}" : ""),
        DropoutSpec d => $"dropout {d.Probability:G3}",
        LinearSpec l => $"linear {l.OutFeatures}",
        _ => spec.DefaultName,
    })) + " -> softmax";

    private static (double SmoothedBits, TimeSpan Elapsed) Train(CharLanguageModel model, string trainText, Settings settings,
        int totalSteps, SeededRandom random)
    {
        if (totalSteps == 0)
        {
            return (double.NaN, TimeSpan.Zero);
        }

        int reportEvery = Math.Max(1, totalSteps / ReportLines);
        var clock = Stopwatch.StartNew();

        // A line every eighth of the run (kept in logs), plus a live bar when the console is interactive.
        void Report(int step, int epoch, double smoothedBits, ProgressTask? task)
        {
            double stepsPerSecond = step / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            if (task is not null)
            {
                task.Description = $"loss {smoothedBits:F3} bits/char, {stepsPerSecond:F0} steps/s";
                task.Value = step;
            }

            if (step % reportEvery == 0 || step == totalSteps)
            {
                AnsiConsole.MarkupLine(
                    $"step {step,6:N0}/{totalSteps:N0}   epoch {epoch,5:N0}   "
                    + $"loss [bold]{smoothedBits:F3}[/] bits/char   {stepsPerSecond,6:F1} steps/s");
            }
        }

        double Run(ProgressTask? task) => model.Train(trainText, settings.File is null, settings.Batch, settings.Window, totalSteps,
            random, (step, epoch, bits) => Report(step, epoch, bits, task));

        double smoothed = double.NaN;
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            smoothed = Run(null);
        }
        else
        {
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context => smoothed = Run(context.AddTask("training", maxValue: totalSteps)));
        }

        return (smoothed, clock.Elapsed);
    }

    private static void PrintResult(double unigramBits, double finalBits, double heldOutBits, double smoothedBits, int totalSteps,
        TimeSpan elapsed, TimeSpan evaluation, Settings settings)
    {
        AnsiConsole.WriteLine();
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(new TableColumn("bits/char").RightAligned());
        table.AddRow("Unigram entropy (no context)", $"{unigramBits:F3}");
        table.AddRow("Training loss, moving average", double.IsNaN(smoothedBits) ? "-" : $"{smoothedBits:F3}");
        table.AddRow("Final loss over the training text", $"{finalBits:F3}");
        if (!double.IsNaN(heldOutBits))
        {
            table.AddRow("[bold]Held-out text (evaluation mode)[/]", $"[bold]{heldOutBits:F3}[/]");
        }

        AnsiConsole.Write(table);
        long characters = (long)totalSteps * settings.Batch * settings.Window;
        double reference = double.IsNaN(heldOutBits) ? finalBits : heldOutBits;
        string on = double.IsNaN(heldOutBits) ? "" : " on held-out text";
        AnsiConsole.MarkupLine(
            $"Trained {totalSteps:N0} steps (about {characters:N0} characters) in {elapsed.TotalSeconds:F1} s; evaluated in {evaluation.TotalSeconds:F1} s."
            + Environment.NewLine
            + (reference < unigramBits
                ? $"The model needs {unigramBits - reference:F2} bits/char less than the unigram model{on}."
                : $"[yellow]The model is not yet better than the unigram model{on}: train longer (--steps).[/]"));
        AnsiConsole.WriteLine();
    }

    private static IEnumerable<string> Prompts(Settings settings, string text)
    {
        if (settings.Prompts.Length > 0)
        {
            return settings.Prompts;
        }

        if (settings.File is null)
        {
            return ["eat ", "drink "];
        }

        // For a file: its most frequent word (e.g. "the " for English text).
        string? word = text
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .Where(w => w.Length >= 2 && w.All(char.IsLetter))
            .GroupBy(w => w, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count())
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.Key)
            .FirstOrDefault();
        return word is null ? [] : [word + " "];
    }

    private static void PrintPredictions(CharLanguageModel model, string prime, IEnumerable<string> prompts)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("After").AddColumn("1st").AddColumn("2nd").AddColumn("3rd").AddColumn("Greedy completion");
        var skipped = new List<string>();
        foreach (string prompt in prompts)
        {
            if (prompt.Length == 0 || prompt.EnumerateRunes().Any(r => model.Vocabulary.IndexOf(r.ToString()) < 0))
            {
                skipped.Add(prompt);
                continue;
            }

            var top = model.TopPredictions(prime, prompt, 3);
            string Cell(int i) => i < top.Length ? Markup.Escape($"{Display(top[i].Character)} {top[i].Probability:P0}") : "";
            table.AddRow(Markup.Escape($"\"{prompt}\""), "[bold]" + Cell(0) + "[/]", Cell(1), Cell(2),
                Markup.Escape($"\"{model.Complete(prime, prompt, "\n", 40).TrimEnd()}\""));
        }

        if (table.Rows.Count > 0)
        {
            AnsiConsole.MarkupLine("[bold]Next-character predictions[/] (at the start of a line)");
            AnsiConsole.Write(table);
        }

        foreach (string prompt in skipped)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]Prompt \"{prompt}\" skipped: it has characters the text does not.[/]");
        }

        AnsiConsole.WriteLine();
    }

    private static void PrintSample(CharLanguageModel model, string prime, Settings settings, SeededRandom random)
    {
        string sample = model.Sample(prime, settings.Length, settings.Temperature, random);
        var panel = new Panel(new Text(sample))
            .Header($"Generated text: {settings.Length:N0} characters, temperature {settings.Temperature:G3}, seed {settings.Seed}")
            .Border(BoxBorder.Rounded)
            .Expand();
        AnsiConsole.Write(panel);
    }

    /// <summary>A character as it reads in a table: '\n' as "\n", space as "' '".</summary>
    private static string Display(string c) => c switch
    {
        "\n" => "\\n",
        "\r" => "\\r",
        "\t" => "\\t",
        " " => "' '",
        _ => c,
    };
}
