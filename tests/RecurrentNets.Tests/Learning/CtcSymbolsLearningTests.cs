using CtcSymbolsSample;

namespace RecurrentNets.Tests.Learning;

/// <summary>The CtcSymbols sample's network (bidirectional LSTM + linear + CTC, trained through the model layer's
/// <c>TrainStep</c>) learns to read the symbol waveforms, on a tiny setting with a fixed seed.</summary>
public sealed class CtcSymbolsLearningTests
{
    [Fact]
    public void TheBidirectionalLstmLearnsToSpellTheSymbols()
    {
        var settings = new SymbolSettings(Symbols: 3, Hidden: 16, Batch: 16, Steps: 300, LearningRate: 1e-2, TestSequences: 100, BeamWidth: 4, Seed: 3);
        var task = new SymbolTask(settings);
        var random = new Random(12345);
        var heldOut = Enumerable.Range(0, settings.TestSequences).Select(_ => SymbolTask.Generate(settings, random)).ToList();

        // Not vacuous: the untrained network spells nearly nothing right.
        var before = task.Evaluate(heldOut);
        Assert.True(before.GreedyLabelErrorRate > 0.5, $"untrained label error rate {before.GreedyLabelErrorRate:P1}");

        double first = task.TrainStep(), last = 0;
        for (int step = 1; step < settings.Steps; step++)
        {
            last = task.TrainStep();
        }

        var after = task.Evaluate(heldOut);
        Assert.True(last < first / 4, $"CTC loss {first:F3} -> {last:F3}");
        Assert.True(after.GreedyLabelErrorRate < 0.1, $"greedy label error rate {after.GreedyLabelErrorRate:P1}");
        Assert.True(after.BeamLabelErrorRate < 0.1, $"beam label error rate {after.BeamLabelErrorRate:P1}");
    }

    [Fact]
    public void EditDistanceCountsInsertionsDeletionsAndSubstitutions()
    {
        Assert.Equal(0, SymbolTask.EditDistance([1, 2, 3], [1, 2, 3]));
        Assert.Equal(1, SymbolTask.EditDistance([1, 2, 3], [1, 3]));
        Assert.Equal(1, SymbolTask.EditDistance([1, 3], [1, 2, 3]));
        Assert.Equal(1, SymbolTask.EditDistance([1, 2, 3], [1, 4, 3]));
        Assert.Equal(3, SymbolTask.EditDistance([], [1, 2, 3]));
        Assert.Equal(2, SymbolTask.EditDistance([1, 2, 3, 4], [2, 1, 3, 4]));
    }
}
