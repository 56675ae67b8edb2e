using System.Diagnostics;
using System.Globalization;
using RecurrentNets.Samples;
using Spectre.Console;

namespace CtcSymbolsSample;

/// <summary>Trains, evaluates, prints the table and writes the figure.</summary>
internal static class SymbolApp
{
    public static int Run(SymbolSettings settings, FileInfo output, FileInfo? markdown)
    {
        AnsiConsole.MarkupLine($"[bold]CTC symbols[/]: K = {settings.Symbols} symbols, {settings.MinLabels}-{settings.MaxLabels} a sequence, "
            + $"base duration {settings.BaseDuration} frames stretched ×{settings.MinStretch}-{settings.MaxStretch}, noise σ = {settings.Noise}; "
            + $"BiLSTM {settings.Hidden}+{settings.Hidden}, batch {settings.Batch}, {settings.Steps} Adam steps (lr {settings.LearningRate}), seed {settings.Seed}");
        var task = new SymbolTask(settings);
        var heldOutRandom = new Random((int)((settings.Seed + 1_000_003) % int.MaxValue));
        var heldOut = Enumerable.Range(0, settings.TestSequences).Select(_ => SymbolTask.Generate(settings, heldOutRandom)).ToList();
        var clock = Stopwatch.StartNew();
        double smoothed = double.NaN;
        for (int step = 1; step <= settings.Steps; step++)
        {
            double loss = task.TrainStep();
            smoothed = double.IsNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
            if (step % 100 == 0 || step == settings.Steps)
            {
                AnsiConsole.MarkupLine($"  step {step,5:N0}  CTC loss {smoothed:F4}  ({clock.Elapsed.TotalSeconds:F1} s)");
            }
        }

        var trainTime = clock.Elapsed;
        var evaluation = task.Evaluate(heldOut);
        var table = new MarkdownTable()
            .Column("decoder").NumberColumn("label error rate").NumberColumn("sequences exactly right");
        var console = new Table().AddColumns("decoder", "label error rate", "sequences exactly right");
        foreach (var (name, rate, pick) in new (string, double, Func<(SymbolSequence Sequence, int[] Greedy, int[] Beam), int[]>)[]
        {
            ("greedy (best path)", evaluation.GreedyLabelErrorRate, r => r.Greedy),
            ($"prefix beam search, width {settings.BeamWidth}", evaluation.BeamLabelErrorRate, r => r.Beam),
        })
        {
            int exact = evaluation.Results.Count(r => pick(r).SequenceEqual(r.Sequence.Labels));
            string[] cells = [name, rate.ToString("P2", CultureInfo.InvariantCulture), $"{exact} / {evaluation.Results.Count}"];
            table.Row(cells);
            console.AddRow(cells);
        }

        AnsiConsole.Write(console);
        AnsiConsole.MarkupLine($"Training took {trainTime.TotalSeconds:F1} s on {Environment.ProcessorCount} cores; {settings.TestSequences} held-out sequences.");
        foreach (var (sequence, greedy, beam) in evaluation.Results.Take(5))
        {
            AnsiConsole.MarkupLine($"  reference {SymbolTask.Spell(sequence.Labels),-8} greedy {SymbolTask.Spell(greedy),-8} beam {SymbolTask.Spell(beam)}");
        }

        // The figure shows the longest of the first 20 held-out sequences.
        var shown = evaluation.Results.Take(20).MaxBy(r => r.Sequence.Labels.Length).Sequence;
        PosteriorPlot.Write(task, shown, settings.Symbols, output.FullName);
        AnsiConsole.MarkupLine($"Wrote {output.FullName}");
        if (markdown is not null)
        {
            File.WriteAllText(markdown.FullName,
                $"Label error rate on {settings.TestSequences} held-out sequences (K = {settings.Symbols} symbols, noise σ = {settings.Noise}, "
                + $"BiLSTM {settings.Hidden}+{settings.Hidden}, {settings.Steps} steps of {settings.Batch}, seed {settings.Seed})\n\n" + table);
        }

        return 0;
    }
}
