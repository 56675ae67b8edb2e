using RecurrentNets.Init;
using RecurrentNets.Serialization;
using Spectre.Console;

namespace CharRnn;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    FileInfo? File, int Hidden, int Layers, int Window, int Batch, int Steps, int? Epochs,
    double LearningRate, double Temperature, int Length, ulong Seed, string[] Prompts,
    CellKind Cell = CellKind.Rnn, int Embedding = 0, double Dropout = 0, double RecurrentDropout = 0, double Holdout = 0.1,
    FileInfo? Save = null, FileInfo? Load = null);

/// <summary>Loads the text, trains, reports and generates.</summary>
internal static class CharRnnApp
{
    private const double MaxGradientNorm = 5.0;
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

        // The model: new, or the architecture and vocabulary of a checkpoint with its weights.
        var random = new SeededRandom(settings.Seed);
        var config = new ModelConfig(settings.Cell, settings.Hidden, settings.Layers, settings.Embedding, settings.Dropout,
            settings.RecurrentDropout);
        Vocabulary vocabulary;
        IReadOnlyDictionary<string, string>? loadedMetadata = null;
        if (settings.Load is not null)
        {
            if (!settings.Load.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]No checkpoint at {settings.Load.FullName}.[/]");
                return 1;
            }

            loadedMetadata = SafeTensorsFile.Read(settings.Load.FullName).Metadata;
            (config, vocabulary) = ModelConfig.FromMetadata(loadedMetadata, settings.Load.Name);
            char[] unknown = text.Where(c => !vocabulary.Contains(c)).Distinct().Order().ToArray();
            if (unknown.Length > 0)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"[red]The text has {unknown.Length} characters the checkpoint's vocabulary lacks: {string.Concat(unknown.Take(20).Select(Vocabulary.Display))}[/]");
                return 1;
            }
        }
        else
        {
            vocabulary = new Vocabulary(text);
        }

        var (trainText, heldOutText, heldOutNote) = Split(text, settings.File is null, settings.Holdout);
        int[] encoded = vocabulary.Encode(trainText);
        int[] heldOut = vocabulary.Encode(heldOutText);
        if (encoded.Length < settings.Batch + 1)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[red]The training text has {encoded.Length} characters: too few for {settings.Batch} parallel streams. Lower --batch (or --holdout).[/]");
            return 1;
        }

        var model = new CharModel(vocabulary, config, random.Fork());
        if (settings.Load is not null)
        {
            Checkpoint.Load(settings.Load.FullName, model.Parameters);
        }

        var trainer = new CharTrainer(model, encoded, settings.Batch, settings.Window, settings.LearningRate, MaxGradientNorm,
            shuffleLines: settings.File is null ? random.Fork() : null);
        int totalSteps = settings.Epochs is int epochs ? epochs * trainer.WindowsPerEpoch : settings.Steps;
        double unigramBits = Corpus.UnigramEntropyBits(vocabulary.Encode(text), vocabulary.Size);
        int heldOutStreams = Math.Clamp(heldOut.Length / HeldOutCharactersPerStream, 1, settings.Batch);

        PrintSetup(settings, config, source, text.Length, vocabulary, model, trainer, totalSteps, unigramBits,
            encoded.Length, heldOut.Length, heldOutNote, heldOutStreams);
        var (smoothedBits, elapsed) = Train(trainer, totalSteps);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double finalBits = trainer.EvaluateBits();
        double heldOutBits = heldOut.Length > 1 ? CharTrainer.Evaluate(model, heldOut, heldOutStreams, settings.Window) : double.NaN;
        var evaluation = clock.Elapsed;
        PrintResult(unigramBits, finalBits, heldOutBits, smoothedBits, totalSteps, elapsed, evaluation, settings);

        if (settings.Save is not null)
        {
            var metadata = config.ToMetadata(vocabulary);
            long previous = loadedMetadata is not null && long.TryParse(loadedMetadata.GetValueOrDefault("trained_steps"),
                System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long p) ? p : 0;
            metadata["trained_steps"] = (previous + totalSteps).ToString(System.Globalization.CultureInfo.InvariantCulture);
            metadata["text"] = source;
            metadata["batch"] = settings.Batch.ToString(System.Globalization.CultureInfo.InvariantCulture);
            metadata["window"] = settings.Window.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!double.IsNaN(heldOutBits))
            {
                metadata["heldout_bits_per_char"] = heldOutBits.ToString("F4", System.Globalization.CultureInfo.InvariantCulture);
            }

            Checkpoint.Save(settings.Save.FullName, model.Parameters, metadata);
            AnsiConsole.MarkupLineInterpolated(
                $"Saved {model.Parameters.Views.Count} tensors ({model.Parameters.Length:N0} parameters) and the configuration to {settings.Save.FullName}.");
            AnsiConsole.WriteLine();
        }

        string prime = vocabulary.Contains('\n') ? "\n" : text[..1];
        PrintPredictions(model, prime, Prompts(settings, text));
        PrintSample(model, prime, settings, random.Fork());
        return 0;
    }

    /// <summary>
    /// Splits off held-out text: for a file, its last <paramref name="fraction"/> (from a line start when one is near);
    /// for the built-in corpus, every (1/fraction)-th sentence, so that whole sentences are held out.
    /// </summary>
    private static (string Train, string HeldOut, string Note) Split(string text, bool builtIn, double fraction)
    {
        if (fraction <= 0)
        {
            return (text, "", "none (--holdout 0)");
        }

        if (builtIn)
        {
            string[] lines = text.TrimEnd('\n').Split('\n');
            int every = Math.Max(2, (int)Math.Round(1 / fraction));
            var train = new System.Text.StringBuilder();
            var held = new System.Text.StringBuilder();
            int heldLines = 0;
            for (int i = 0; i < lines.Length; i++)
            {
                bool hold = i % every == every - 1;
                (hold ? held : train).Append(lines[i]).Append('\n');
                heldLines += hold ? 1 : 0;
            }

            return (train.ToString(), held.ToString(), $"every {every}th sentence ({heldLines} of {lines.Length})");
        }

        int cut = (int)Math.Round(text.Length * (1 - fraction));
        int lineStart = text.LastIndexOf('\n', Math.Max(0, cut - 1)) + 1;
        if (lineStart > 0 && cut - lineStart < 1000)
        {
            cut = lineStart;
        }

        return (text[..cut], text[cut..], $"the last {fraction:P0} of the file");
    }

    private static void PrintSetup(Settings settings, ModelConfig config, string source, int characters, Vocabulary vocabulary,
        CharModel model, CharTrainer trainer, int totalSteps, double unigramBits, int trainCharacters, int heldOutCharacters,
        string heldOutNote, int heldOutStreams)
    {
        AnsiConsole.Write(new Rule($"[bold]Character-level {config.CellName}[/]").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Text", Markup.Escape($"{source}, {characters:N0} characters, {vocabulary.Size} distinct"));
        grid.AddRow("Unigram entropy", $"{unigramBits:F3} bits/char (a model that ignores context)");
        grid.AddRow("Held out", Markup.Escape(heldOutCharacters > 1
            ? $"{heldOutNote}: {heldOutCharacters:N0} characters, read as {heldOutStreams} stream(s) with the state carried"
            : heldOutNote));
        grid.AddRow("Model", Markup.Escape(Describe(config, vocabulary.Size)));
        grid.AddRow("Parameters", $"{model.Parameters.Length:N0}");
        if (settings.Load is not null)
        {
            grid.AddRow("Loaded", Markup.Escape(settings.Load.FullName));
        }

        grid.AddRow("Streams", $"{settings.Batch} x {trainer.StreamLength:N0} of {trainCharacters:N0} training characters, windows of {settings.Window} steps, state carried");
        if (settings.File is null)
        {
            grid.AddRow("Line order", "shuffled every epoch");
        }

        grid.AddRow("Training", Markup.Escape(
            $"{totalSteps:N0} Adam steps ({trainer.WindowsPerEpoch:N0} per epoch), lr {settings.LearningRate:G3}, clip norm {MaxGradientNorm:G}"));
        grid.AddRow("Seed", $"{settings.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static string Describe(ModelConfig config, int v)
    {
        string input = config.Embedding > 0 ? $"embedding {v} x {config.Embedding}" : $"one-hot {v}";
        string cell = config.Cell switch
        {
            CellKind.Lstm => "LSTM",
            CellKind.Gru => "GRU",
            _ => "Elman tanh",
        };
        string between = config.Layers > 1 && config.Dropout > 0 ? $" (dropout {config.Dropout:G3} between layers)" : "";
        string recurrent = config.RecurrentDropout > 0 ? $", recurrent dropout {config.RecurrentDropout:G3}" : "";
        string output = config.Dropout > 0 ? $" -> dropout {config.Dropout:G3}" : "";
        return $"{input} -> {config.Layers} x {cell} {config.Hidden}{between}{recurrent}{output} -> linear {v} -> softmax";
    }

    private static (double SmoothedBits, TimeSpan Elapsed) Train(CharTrainer trainer, int totalSteps)
    {
        if (totalSteps == 0)
        {
            return (double.NaN, TimeSpan.Zero);
        }

        int reportEvery = Math.Max(1, totalSteps / ReportLines);
        var elapsed = TimeSpan.Zero;

        // A line every eighth of the run (kept in logs), plus a live bar when the console is interactive.
        void Report(TrainingProgress progress, ProgressTask? task)
        {
            double stepsPerSecond = progress.Step / Math.Max(progress.Elapsed.TotalSeconds, 1e-9);
            if (task is not null)
            {
                task.Description = $"loss {progress.SmoothedLossBits:F3} bits/char, {stepsPerSecond:F0} steps/s";
                task.Value = progress.Step;
            }

            if (progress.Step % reportEvery == 0 || progress.Step == progress.TotalSteps)
            {
                AnsiConsole.MarkupLine(
                    $"step {progress.Step,6:N0}/{progress.TotalSteps:N0}   epoch {progress.Epoch,5:N0}   "
                    + $"loss [bold]{progress.SmoothedLossBits:F3}[/] bits/char   {stepsPerSecond,6:F1} steps/s");
            }

            elapsed = progress.Elapsed;
        }

        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            double bits = trainer.Train(totalSteps, progress => Report(progress, null));
            return (bits, elapsed);
        }

        double smoothed = double.NaN;
        AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("training", maxValue: totalSteps);
                smoothed = trainer.Train(totalSteps, progress => Report(progress, task));
            });
        return (smoothed, elapsed);
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

    private static void PrintPredictions(CharModel model, string prime, IEnumerable<string> prompts)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("After").AddColumn("1st").AddColumn("2nd").AddColumn("3rd").AddColumn("Greedy completion");
        var skipped = new List<string>();
        foreach (string prompt in prompts)
        {
            if (prompt.Length == 0 || !prompt.All(model.Vocabulary.Contains))
            {
                skipped.Add(prompt);
                continue;
            }

            var top = model.TopPredictions(prime, prompt, 3);
            string Cell(int i) => i < top.Length ? Markup.Escape($"{Vocabulary.Display(top[i].Character)} {top[i].Probability:P0}") : "";
            table.AddRow(Markup.Escape($"\"{prompt}\""), "[bold]" + Cell(0) + "[/]", Cell(1), Cell(2),
                Markup.Escape($"\"{model.Complete(prime, prompt, '\n', 40).TrimEnd()}\""));
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

    private static void PrintSample(CharModel model, string prime, Settings settings, SeededRandom random)
    {
        string sample = model.Sample(prime, settings.Length, settings.Temperature, random);
        var panel = new Panel(new Text(sample))
            .Header($"Generated text: {settings.Length:N0} characters, temperature {settings.Temperature:G3}, seed {settings.Seed}")
            .Border(BoxBorder.Rounded)
            .Expand();
        AnsiConsole.Write(panel);
    }
}
