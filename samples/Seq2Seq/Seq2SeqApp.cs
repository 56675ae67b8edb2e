using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using Spectre.Console;

namespace Seq2SeqSample;

/// <summary>The command-line settings.</summary>
internal sealed record Settings(
    EncoderDecoderCell[] Cells, int MaxDigits, int Embedding, int Hidden, int Layers, int Batch, int Steps, double LearningRate,
    double ClipNorm, int EvaluateEvery, int CurveTestSize, int TestSize, int Examples, ulong Seed, FileInfo Output,
    AttentionKind[] Attentions, int Beam, double LengthNormalization, bool Long, FileInfo HeatMap);

/// <summary>Exact-match and token accuracy of greedy decoding on a set of numbers.</summary>
internal readonly record struct Score(double ExactMatch, double TokenAccuracy, int Sequences);

/// <summary>One (cell, attention) run's learning curve and final scores (greedy, and beam search when asked).</summary>
internal sealed record CellRun(EncoderDecoderCell Cell, AttentionKind Attention, List<(int Step, double Loss, double ExactMatch)> Curve,
    Score Final, Score? Beam, List<(string Words, string Target, string Output)> Examples, List<(string Words, string Target, string Output)> Errors,
    TimeSpan Elapsed, int Parameters)
{
    public string Name => Attention == AttentionKind.None ? $"{Cell}" : $"{Cell}+{Attention.ToString().ToLowerInvariant()}";

    /// <summary>The first curve step with held-out exact match at or above <see cref="Seq2SeqApp.Criterion"/>, or null.</summary>
    public int? StepsToCriterion => Curve.FirstOrDefault(p => p.ExactMatch >= Seq2SeqApp.Criterion) is var (step, _, match) && match >= Seq2SeqApp.Criterion ? step : null;
}

/// <summary>Trains one encoder-decoder per cell on number words to digits, prints the table and writes the curves.</summary>
internal static class Seq2SeqApp
{
    public const double Bar = 0.99;

    /// <summary>The exact match of "steps to criterion".</summary>
    public const double Criterion = 0.95;

    public static int Run(Settings settings)
    {
        ITranslationTask task = settings.Long ? new LongTask(settings.Seed) : new ShortTask(new NumberWords(settings.MaxDigits, splitSeed: settings.Seed));
        PrintSetup(settings, task);
        var clock = Stopwatch.StartNew();
        var runs = new List<CellRun>();
        (EncoderDecoder<float> Model, CellRun Run)? firstAttention = null;
        foreach (var cell in settings.Cells)
        {
            foreach (var attention in settings.Attentions)
            {
                var (model, run) = Train(cell, attention, task, settings);
                runs.Add(run);
                firstAttention ??= attention == AttentionKind.None ? null : (model, run);
                string beam = run.Beam is { } b ? $", beam {settings.Beam} {b.ExactMatch:P2}" : "";
                AnsiConsole.MarkupLine($"{run.Name,-14} held-out exact match [bold]{run.Final.ExactMatch:P2}[/]{beam}, token accuracy {run.Final.TokenAccuracy:P2}  {run.Elapsed.TotalSeconds,6:F1} s");
            }
        }

        AnsiConsole.WriteLine();
        PrintTable(runs, settings);
        PrintExamples(runs);
        AnsiConsole.MarkupLineInterpolated($"Total time {clock.Elapsed.TotalSeconds:F0} s.");
        CurvePlot.Write(runs, settings.Output.FullName);
        AnsiConsole.MarkupLineInterpolated($"Learning curves written to [bold]{settings.Output.FullName}[/].");
        if (firstAttention is var (attentionModel, attentionRun))
        {
            HeatMap.Write(attentionModel, attentionRun, task, settings);
            AnsiConsole.MarkupLineInterpolated($"Attention weights of {attentionRun.Name} written to [bold]{settings.HeatMap.FullName}[/].");
        }

        return 0;
    }

    private static void PrintSetup(Settings settings, ITranslationTask task)
    {
        AnsiConsole.Write(new Rule("[bold]Encoder-decoder: number words to digits[/] (Sutskever et al. 2014; Cho et al. 2014)").LeftJustified());
        var grid = new Grid().AddColumn(new GridColumn().PadRight(3)).AddColumn();
        grid.AddRow("Task", Markup.Escape(task.Description));
        grid.AddRow("Split", Markup.Escape("numbers >= 100 whose seeded hash is divisible by 10 are held out (never trained on)"));
        grid.AddRow("Cells", string.Join(", ", settings.Cells));
        grid.AddRow("Attention", Markup.Escape(string.Join(", ", settings.Attentions.Select(a => a.ToString().ToLowerInvariant()))
            + " (Luong's global attention: h~ = tanh(W_c [c; h]) feeds the output layer)"));
        grid.AddRow("Model", Markup.Escape($"embedding {settings.Embedding} -> encoder {settings.Layers}x{settings.Hidden} -> final state -> "
            + $"decoder {settings.Layers}x{settings.Hidden} -> (with attention: tanh(W_c [context; h])) -> linear {NumberWords.TargetVocabularySize}, softmax cross-entropy"));
        grid.AddRow("Training", Markup.Escape($"{settings.Steps:N0} Adam steps of {settings.Batch} fresh training numbers, teacher forcing, "
            + $"lr {settings.LearningRate:G3} (cosine to 0), clip norm {settings.ClipNorm:G}"));
        grid.AddRow("Evaluation", Markup.Escape($"greedy decoding; curve every {settings.EvaluateEvery} steps on {settings.CurveTestSize:N0} held-out numbers, "
            + $"final score on {settings.TestSize:N0} other held-out draws"
            + (settings.Beam > 1 ? $", also with beam search (width {settings.Beam}, alpha {settings.LengthNormalization:G3})" : "")));
        grid.AddRow("Seed", $"{settings.Seed}");
        AnsiConsole.Write(grid);
        AnsiConsole.WriteLine();
    }

    private static (EncoderDecoder<float> Model, CellRun Run) Train(EncoderDecoderCell cell, AttentionKind attention, ITranslationTask task, Settings settings)
    {
        var clock = Stopwatch.StartNew();
        var data = new SeededRandom(settings.Seed * 1_000_003 + 7);
        var curveSet = TestSet.Draw(task, settings.CurveTestSize, data.Fork());
        var finalSet = TestSet.Draw(task, settings.TestSize, data.Fork());
        var model = new EncoderDecoder<float>(cell, task.SourceVocabularySize, NumberWords.TargetVocabularySize,
            NumberWords.BeginToken, NumberWords.EndToken, settings.Embedding, settings.Hidden, settings.Layers,
            new SeededRandom(settings.Seed), forgetBias: 1.0, attention: attention);
        var optimizer = new Adam<float>(model.Parameters, settings.LearningRate);
        var source = new TokenBatch(task.MaxSourceLength, settings.Batch);
        var target = new TokenBatch(task.MaxTargetLength, settings.Batch);
        var curve = new List<(int, double, double)> { (0, double.NaN, curveSet.Evaluate(model).ExactMatch) };
        double lossSum = 0;
        int lossCount = 0;

        void Loop(ProgressTask? progress)
        {
            for (int step = 1; step <= settings.Steps; step++)
            {
                optimizer.LearningRate = settings.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - 1) / settings.Steps));
                task.Fill(data, heldOut: false, source, target);
                optimizer.ZeroGradients();
                lossSum += model.Forward(source, target);
                lossCount++;
                model.Backward();
                GradientClipping.ClipGradientNorm(model.Parameters, settings.ClipNorm);
                optimizer.Step();
                if (step % settings.EvaluateEvery == 0 || step == settings.Steps)
                {
                    var score = curveSet.Evaluate(model);
                    curve.Add((step, lossSum / lossCount, score.ExactMatch));
                    lossSum = 0;
                    lossCount = 0;
                    if (progress is not null)
                    {
                        progress.Description = $"{cell} {attention}: exact match {score.ExactMatch:P1}";
                        progress.Value = step;
                    }
                }
            }
        }

        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context => Loop(context.AddTask($"{cell} {attention}", maxValue: settings.Steps)));
        }
        else
        {
            Loop(null);
        }

        var errors = new List<(string, string, string)>();
        var final = finalSet.Evaluate(model, errors);
        Score? beam = settings.Beam > 1 ? finalSet.Evaluate(model, null, settings.Beam, settings.LengthNormalization) : null;
        var examples = finalSet.Examples(model, settings.Examples);
        return (model, new CellRun(cell, attention, curve, final, beam, examples, errors, clock.Elapsed, model.Parameters.Length));
    }

    private static void PrintTable(List<CellRun> runs, Settings settings)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Model").AddColumn(new TableColumn("Parameters").RightAligned())
            .AddColumn(new TableColumn("Train loss").RightAligned())
            .AddColumn(new TableColumn("Exact match").RightAligned());
        if (settings.Beam > 1)
        {
            table.AddColumn(new TableColumn($"Beam {settings.Beam}").RightAligned());
        }

        table.AddColumn(new TableColumn("Token accuracy").RightAligned()).AddColumn(new TableColumn($"Steps to {Criterion:P0}").RightAligned())
            .AddColumn(new TableColumn($"> {Bar:P0}").Centered()).AddColumn(new TableColumn("Time").RightAligned());
        foreach (var run in runs)
        {
            var row = new List<string> { run.Name, $"{run.Parameters:N0}", $"{run.Curve[^1].Loss:F5}", $"{run.Final.ExactMatch:P2}" };
            if (run.Beam is { } beam)
            {
                row.Add($"{beam.ExactMatch:P2}");
            }

            row.Add($"{run.Final.TokenAccuracy:P2}");
            row.Add(run.StepsToCriterion is int steps ? $"{steps:N0}" : "not reached");
            row.Add(run.Final.ExactMatch > Bar ? "[green]yes[/]" : "[red]no[/]");
            row.Add($"{run.Elapsed.TotalSeconds:F0} s");
            table.AddRow(row.ToArray());
        }

        AnsiConsole.MarkupLine($"[bold]Greedy decoding on {runs[0].Final.Sequences:N0} held-out numbers[/] (after {settings.Steps:N0} steps of {settings.Batch})");
        AnsiConsole.Write(table);
    }

    private static void PrintExamples(List<CellRun> runs)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Source (held out)").AddColumn("Target");
        foreach (var run in runs)
        {
            table.AddColumn($"{run.Name} output");
        }

        for (int i = 0; i < runs[0].Examples.Count; i++)
        {
            var row = new List<string> { Markup.Escape(runs[0].Examples[i].Words), runs[0].Examples[i].Target };
            foreach (var run in runs)
            {
                var (_, t, o) = run.Examples[i];
                row.Add(o == t ? $"[green]{Markup.Escape(o)}[/]" : $"[red]{Markup.Escape(o)}[/]");
            }

            table.AddRow(row.ToArray());
        }

        AnsiConsole.Write(table);
        foreach (var run in runs)
        {
            if (run.Errors.Count == 0)
            {
                continue;
            }

            var errors = new Table().Border(TableBorder.Rounded).AddColumn($"{run.Name}: wrong (first {Math.Min(5, run.Errors.Count)} of {run.Errors.Count})")
                .AddColumn("Target").AddColumn("Output");
            foreach (var (words, target, output) in run.Errors.Take(5))
            {
                errors.AddRow(Markup.Escape(words), target, $"[red]{Markup.Escape(output)}[/]");
            }

            AnsiConsole.Write(errors);
        }
    }
}

/// <summary>Held-out numbers in batches, scored by greedy decoding.</summary>
internal sealed class TestSet
{
    private const int Chunk = 500;
    private readonly List<(TokenBatch Source, TokenBatch Target, TokenBatch Output)> batches = [];

    private ITranslationTask task = null!;

    public static TestSet Draw(ITranslationTask task, int size, SeededRandom random)
    {
        var set = new TestSet { task = task };
        for (int done = 0; done < size; done += Chunk)
        {
            int n = Math.Min(Chunk, size - done);
            var source = new TokenBatch(task.MaxSourceLength, n);
            var target = new TokenBatch(task.MaxTargetLength, n);
            task.Fill(random, heldOut: true, source, target);
            set.batches.Add((source, target, new TokenBatch(task.MaxTargetLength + 1, n)));
        }

        return set;
    }

    public Score Evaluate(EncoderDecoder<float> model, List<(string, string, string)>? errors = null, int beam = 1, double alpha = 0)
    {
        int exact = 0, sequences = 0, tokens = 0, correct = 0;
        foreach (var (source, target, output) in batches)
        {
            if (beam > 1)
            {
                model.BeamDecode(source, output, beam, alpha);
            }
            else
            {
                model.Decode(source, output);
            }

            for (int b = 0; b < source.BatchSize; b++)
            {
                int length = target.Lengths[b], produced = output.Lengths[b];
                int right = 0;
                for (int t = 0; t < length; t++)
                {
                    if (t < produced && output[t, b] == target[t, b])
                    {
                        right++;
                    }
                }

                bool same = right == length && produced == length;
                exact += same ? 1 : 0;
                if (!same && errors is not null)
                {
                    errors.Add((task.FormatSource(source.GetSequence(b)), NumberWords.FormatTarget(target.GetSequence(b)),
                        NumberWords.FormatTarget(output.GetSequence(b))));
                }

                correct += right;
                tokens += length;
                sequences++;
            }
        }

        return new Score((double)exact / sequences, (double)correct / tokens, sequences);
    }

    public List<(string, string, string)> Examples(EncoderDecoder<float> model, int count)
    {
        var examples = new List<(string, string, string)>();
        var (source, target, output) = batches[0];
        model.Decode(source, output);
        for (int b = 0; b < Math.Min(count, source.BatchSize); b++)
        {
            examples.Add((task.FormatSource(source.GetSequence(b)), NumberWords.FormatTarget(target.GetSequence(b)),
                NumberWords.FormatTarget(output.GetSequence(b))));
        }

        return examples;
    }
}
