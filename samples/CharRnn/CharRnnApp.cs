using RecurrentNets.Init;
using Spectre.Console;

namespace CharRnn;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    FileInfo? File, int Hidden, int Layers, int Window, int Batch, int Steps, int? Epochs,
    double LearningRate, double Temperature, int Length, ulong Seed, string[] Prompts);

/// <summary>Loads the text, trains, reports and generates.</summary>
internal static class CharRnnApp
{
    private const double MaxGradientNorm = 5.0;
    private const int ReportLines = 8;

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

        var vocabulary = new Vocabulary(text);
        int[] encoded = vocabulary.Encode(text);
        if (encoded.Length < settings.Batch + 1)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[red]The text has {encoded.Length} characters: too few for {settings.Batch} parallel streams. Lower --batch.[/]");
            return 1;
        }

        var random = new SeededRandom(settings.Seed);
        var model = new CharModel(vocabulary, settings.Hidden, settings.Layers, random.Fork());
        var trainer = new CharTrainer(model, encoded, settings.Batch, settings.Window, settings.LearningRate, MaxGradientNorm,
            shuffleLines: settings.File is null ? random.Fork() : null);
        int totalSteps = settings.Epochs is int epochs ? epochs * trainer.WindowsPerEpoch : settings.Steps;
        double unigramBits = Corpus.UnigramEntropyBits(encoded, vocabulary.Size);

        PrintSetup(settings, source, text.Length, vocabulary, model, trainer, totalSteps, unigramBits);
        var (smoothedBits, elapsed) = Train(trainer, totalSteps);
        double finalBits = trainer.EvaluateBits();
        PrintResult(unigramBits, finalBits, smoothedBits, totalSteps, elapsed, settings);

        string prime = vocabulary.Contains('\n') ? "\n" : text[..1];
        PrintPredictions(model, prime, Prompts(settings, text));
        PrintSample(model, prime, settings, random.Fork());
        return 0;
    }

    private static void PrintSetup(Settings settings, string source, int characters, Vocabulary vocabulary, CharModel model,
        CharTrainer trainer, int totalSteps, double unigramBits)
    {
        AnsiConsole.Write(new Rule("[bold]Character-level Elman RNN[/]").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Text", Markup.Escape($"{source}, {characters:N0} characters, {vocabulary.Size} distinct"));
        grid.AddRow("Unigram entropy", $"{unigramBits:F3} bits/char (a model that ignores context)");
        grid.AddRow("Model", Markup.Escape(
            $"one-hot {vocabulary.Size} -> {settings.Layers} x Elman tanh {settings.Hidden} -> linear {vocabulary.Size} -> softmax"));
        grid.AddRow("Parameters", $"{model.Parameters.Length:N0}");
        grid.AddRow("Streams", $"{settings.Batch} x {trainer.StreamLength:N0} characters, windows of {settings.Window} steps");
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

    private static (double SmoothedBits, TimeSpan Elapsed) Train(CharTrainer trainer, int totalSteps)
    {
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

    private static void PrintResult(double unigramBits, double finalBits, double smoothedBits, int totalSteps, TimeSpan elapsed,
        Settings settings)
    {
        AnsiConsole.WriteLine();
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(new TableColumn("bits/char").RightAligned());
        table.AddRow("Unigram entropy (no context)", $"{unigramBits:F3}");
        table.AddRow("Training loss, moving average", $"{smoothedBits:F3}");
        table.AddRow("[bold]Final loss over the whole text[/]", $"[bold]{finalBits:F3}[/]");
        AnsiConsole.Write(table);
        long characters = (long)totalSteps * settings.Batch * settings.Window;
        AnsiConsole.MarkupLine(
            $"Trained {totalSteps:N0} steps (about {characters:N0} characters) in {elapsed.TotalSeconds:F1} s."
            + Environment.NewLine
            + (finalBits < unigramBits
                ? $"The model needs {unigramBits - finalBits:F2} bits/char less than the unigram model."
                : "[yellow]The model is not yet better than the unigram model: train longer (--steps).[/]"));
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
