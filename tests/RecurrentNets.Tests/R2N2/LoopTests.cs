using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.R2N2.Tasks;
using RecurrentNets.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.R2N2;

/// <summary>The whole loop, the engine baseline's equivalence, and allocation-free episodes.</summary>
public class LoopTests(ITestOutputHelper output)
{
    [Fact]
    public void EngineBpttGradientsEqualR2N2ExactMode()
    {
        var options = new R2N2Options
        {
            GroupSize = 8, InputSize = 4, OutputSize = 4, Feedback = FeedbackMode.Transposed, Seed = 11, InputOutputScale = 1.0,
        };
        var r2n2 = new R2N2Consolidator(options);
        var bptt = new TwoGroupBptt(options);
        var sequence = ConsolidatorTests.RandomOneHot(16, 4, new SeededRandom(12));
        r2n2.RandomizeState();
        bptt.SetState(r2n2.StateA, r2n2.StateB);
        r2n2.Parameters.ZeroGradients();
        bptt.Parameters.ZeroGradients();
        var a = r2n2.AccumulateEpisode(new SequenceReplay(sequence));
        var b = bptt.AccumulateSequence(sequence);
        Assert.Equal(a.Loss, b.Loss, 1e-12);

        int n = 8, h = 16;
        var hh = bptt.Layer.Cells[0].WeightHH!.Gradients;
        var ih = bptt.Layer.Cells[0].WeightIH.Gradients;
        double max = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                max = Math.Max(max, Math.Abs(r2n2.WeightBA.Gradients[i * n + j] - hh[i * h + n + j]));
                max = Math.Max(max, Math.Abs(r2n2.WeightAB.Gradients[i * n + j] - hh[(n + i) * h + j]));
                Assert.Equal(0, hh[i * h + j]);
                Assert.Equal(0, ih[(n + i) * 4 + (j % 4)]);
            }

            for (int j = 0; j < 4; j++)
            {
                max = Math.Max(max, Math.Abs(r2n2.WeightIn.Gradients[i * 4 + j] - ih[i * 4 + j]));
            }
        }

        for (int i = 0; i < r2n2.WeightOut.Length; i++)
        {
            max = Math.Max(max, Math.Abs(r2n2.WeightOut.Gradients[i] - bptt.WeightOut.Gradients[i]));
        }

        output.WriteLine($"max |R2N2 exact − engine BPTT| over all weight gradients: {max:E2}");
        Assert.True(max < 1e-12);
    }

    [Fact]
    public void ReplayThroughTheCacheTrainsLikeDirectReplay()
    {
        var options = new R2N2Options { GroupSize = 16, InputSize = 3, OutputSize = 3, BackwardGain = 1.4, Seed = 2 };
        var direct = new R2N2Learner(options);
        var cached = new R2N2Learner(options, cacheSize: 500);
        var sequences = AnBnTask.Range(1);
        for (int e = 0; e < 20; e++)
        {
            foreach (var s in sequences)
            {
                var a = direct.TrainSequence(s);
                var b = cached.TrainSequence(s);
                Assert.Equal(a.Loss, b.Loss, 1e-9);
                Assert.True(b.ReconstructionError < 1e-12);
            }
        }

        double max = 0;
        for (int i = 0; i < direct.Consolidator.Parameters.Length; i++)
        {
            max = Math.Max(max, Math.Abs(direct.Consolidator.Parameters.Values[i] - cached.Consolidator.Parameters.Values[i]));
        }

        output.WriteLine($"80 episodes through a 500-unit cache: max weight difference to direct replay {max:E2}, recall failures {cached.CacheRecallFailures}");
        Assert.True(max < 1e-9);
    }

    [Fact]
    public void TheConsolidatorMemorisesOneSequenceAndReplaysItFromTheCache()
    {
        // exp1's task, shortened (12 items of 6 symbols): replayed by indexing, which trains exactly like replay through
        // the cache (ReplayThroughTheCacheTrainsLikeDirectReplay), then checked through a cache replay.
        var random = new SeededRandom(31);
        var sequence = SequenceMemorizationTask.Create(12, 6, random);
        var options = new R2N2Options { GroupSize = 64, InputSize = 6, OutputSize = 6, LearningRate = 5e-3, Seed = 3 };
        var learner = new R2N2Learner(options);
        var first = learner.TrainSequence(sequence, replays: 1);
        learner.TrainSequence(sequence, replays: 6000);
        var cache = new CacheReplay(new HopfieldSequenceCache(300), 6, new SeededRandom(4));
        cache.Store(sequence);
        learner.Consolidator.RandomizeState();
        learner.Consolidator.Parameters.ZeroGradients();
        var last = learner.Consolidator.AccumulateEpisode(cache);
        output.WriteLine($"12 items of 6 symbols: loss per prediction {first.MeanLoss:F3} -> {last.MeanLoss:F4} (through a 300-unit cache), "
            + $"correct {first.Correct}/{first.Predictions} -> {last.Correct}/{last.Predictions}, reconstruction {last.ReconstructionError:E1}");
        Assert.Equal(last.Predictions, last.Correct);
        Assert.True(last.MeanLoss < 0.05);
        Assert.True(last.ReconstructionError < 1e-12);
    }

    [Fact]
    public void AnEpisodeAllocatesNothingAfterWarmUp()
    {
        // L = 120 also crosses the 1e-6 reconstruction tolerance: the warning path must not allocate either.
        var learner = new R2N2Learner(new R2N2Options { GroupSize = 64, InputSize = 8, OutputSize = 8, Seed = 4 });
        var sequence = ConsolidatorTests.RandomOneHot(120, 8, new SeededRandom(5));
        learner.TrainSequence(sequence);
        learner.TrainSequence(sequence);
        long allocated = SteadyState.AllocatedBytes(_ => learner.TrainSequence(sequence), 5);
        output.WriteLine($"5 episodes of L = 120, n = 64: {allocated} bytes allocated; reversal warnings {learner.Consolidator.ReversalWarnings}");
        Assert.True(learner.Consolidator.ReversalWarnings > 0);
        Assert.Equal(0, allocated);

        var rflo = new Rflo(8, 64, 8, 1);
        rflo.TrainSequence(sequence);
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => rflo.TrainSequence(sequence), 1));
    }
}
