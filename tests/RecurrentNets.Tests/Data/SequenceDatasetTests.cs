using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;

namespace RecurrentNets.Tests.Data;

/// <summary>
/// SequenceDataset: what batches hold (padding, lengths, targets of each kind), epochs (every item once, the last
/// partial batch, shuffling that depends only on (seed, epoch), bucketing), allocation-free epochs, splits, and the
/// validation messages, each naming the bad item.
/// </summary>
public class SequenceDatasetTests
{
    // Item i has i + 1 steps (cycling through 1..maxLength), feature f of step t = 100·i + 10·t + f, class i.
    private static (double[,] Sequence, int Target)[] Items(int count, int features = 2, int maxLength = 3)
    {
        var items = new (double[,], int)[count];
        for (int i = 0; i < count; i++)
        {
            var x = new double[i % maxLength + 1, features];
            for (int t = 0; t < x.GetLength(0); t++)
            {
                for (int f = 0; f < features; f++)
                {
                    x[t, f] = 100 * i + 10 * t + f;
                }
            }

            items[i] = (x, i);
        }

        return items;
    }

    // The items of an epoch, identified by their class target (class i = item i).
    private static List<int> EpochItems(SequenceDataset<double> data, int batchSize, bool shuffle, ulong seed, int epoch, bool bucket = false)
    {
        var seen = new List<int>();
        foreach (var batch in data.Batches(batchSize, shuffle, seed, epoch, bucket))
        {
            seen.AddRange(batch.Classes!);
        }

        return seen;
    }

    [Fact]
    public void FeatureBatchIsPaddedTimeMajorWithLengthsAndClass()
    {
        var data = SequenceDataset<double>.Create(Items(3));
        Assert.Equal((3, 2, 3, TargetKind.Classes, false, 3), (data.Count, data.InputSize, data.MaxLength, data.TargetKind, data.TargetsPerStep, data.TargetSize));
        var batch = Assert.Single(data.Batches(3));
        Assert.Equal((3, 3, 1), (batch.Steps, batch.BatchSize, batch.TargetSteps));
        Assert.Equal([1, 2, 3], batch.Lengths);
        Assert.Equal([0, 1, 2], batch.Classes!);
        for (int b = 0; b < 3; b++)
        {
            for (int t = 0; t < 3; t++)
            {
                for (int f = 0; f < 2; f++)
                {
                    double expected = t < b + 1 ? 100 * b + 10 * t + f : 0;
                    Assert.Equal(expected, batch.Features![t, b, f]);
                }
            }
        }
    }

    [Fact]
    public void PerStepClassesAreMinusOnePastTheEnd()
    {
        var data = SequenceDataset<float>.Create(
        [
            (new float[2, 1] { { 1 }, { 2 } }, new[] { 4, -1 }),
            (new float[3, 1] { { 3 }, { 4 }, { 5 } }, new[] { 0, 1, 2 }),
        ]);
        Assert.Equal((true, 5), (data.TargetsPerStep, data.TargetSize));
        var batch = data.Batch([0, 1]);
        Assert.Equal(3, batch.TargetSteps);
        Assert.Equal([4, 0, -1, 1, -1, 2], batch.Classes!);
        Assert.Equal([1f, 3f, 2f, 4f, 0f, 5f], batch.Features!.Data);
        Assert.False(batch.IsValid(2, 0));
    }

    [Fact]
    public void RealTargetsPerSequenceAndPerStep()
    {
        var perSequence = SequenceDataset<double>.Create(
        [
            (new double[1, 1] { { 1 } }, new[] { 1.5, 2.5 }),
            (new double[2, 1] { { 1 }, { 2 } }, new[] { 3.5, 4.5 }),
        ]);
        Assert.Equal((TargetKind.Values, false, 2), (perSequence.TargetKind, perSequence.TargetsPerStep, perSequence.TargetSize));
        var batch = perSequence.Batch([1, 0]);
        Assert.True(batch.Values!.HasShape(1, 2, 2));
        Assert.Equal([3.5, 4.5, 1.5, 2.5], batch.Values.Data);

        var perStep = SequenceDataset<double>.Create(
        [
            (new double[1, 1] { { 1 } }, new double[1, 2] { { 7, 8 } }),
            (new double[2, 1] { { 1 }, { 2 } }, new double[2, 2] { { 1, 2 }, { 3, 4 } }),
        ]);
        batch = perStep.Batch([0, 1]);
        Assert.True(batch.Values!.HasShape(2, 2, 2));
        Assert.Equal([7.0, 8, 1, 2, 0, 0, 3, 4], batch.Values.Data);
    }

    [Fact]
    public void TokenBatchUsesThePaddingToken()
    {
        var data = SequenceDataset<float>.Create([(new[] { 5, 6, 7 }, 1), (new[] { 8 }, 0)]);
        Assert.Equal((0, 2), (data.InputSize, data.TargetSize));
        var batch = Assert.Single(data.Batches(4, paddingToken: 99));
        Assert.Null(batch.Features);
        Assert.Equal([5, 8, 6, 99, 7, 99], batch.Tokens!);
        Assert.Equal([3, 1], batch.Lengths);
        Assert.Equal([1, 0], batch.Classes!);
    }

    [Fact]
    public void LanguageModelWindowsPredictTheNextToken()
    {
        int[] stream = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
        var data = SequenceDataset<float>.ForLanguageModel(stream, window: 3, stride: 2);
        Assert.Equal(4, data.Count);                 // starts 0, 2, 4, 6; a window at 8 has no next token for its last step
        Assert.Equal(20, data.TargetSize);
        var batch = data.Batch([3]);
        Assert.Equal([16, 17, 18], batch.Tokens!);
        Assert.Equal([17, 18, 19], batch.Classes!);
        Assert.Throws<ArgumentException>(() => SequenceDataset<float>.ForLanguageModel([1, 2, 3], window: 3, stride: 1));
    }

    [Fact]
    public void LanguageModelStreamsGiveConsecutiveWindowsOfEachStreamInItsBatchRow()
    {
        // 22 tokens, 3 streams: S = 21 / 3 = 7 steps each (stream b reads 7b .. 7b + 6); windows of 4 then 3 steps.
        int[] stream = [.. Enumerable.Range(0, 22)];
        var data = SequenceDataset<float>.ForLanguageModelStreams(stream, streams: 3, window: 4);
        Assert.Equal(6, data.Count);
        Assert.Equal(2, data.BatchCount(3));
        var seen = new List<(int[] Tokens, int[] Classes, int Steps)>();
        foreach (var batch in data.Batches(3))
        {
            seen.Add((batch.Tokens!.ToArray(), batch.Classes!.ToArray(), batch.Steps));
        }

        Assert.Equal(4, seen[0].Steps);
        Assert.Equal([0, 7, 14, 1, 8, 15, 2, 9, 16, 3, 10, 17], seen[0].Tokens);
        Assert.Equal([1, 8, 15, 2, 9, 16, 3, 10, 17, 4, 11, 18], seen[0].Classes);
        Assert.Equal(3, seen[1].Steps);
        Assert.Equal([4, 11, 18, 5, 12, 19, 6, 13, 20], seen[1].Tokens);
        Assert.Equal([5, 12, 19, 6, 13, 20, 7, 14, 21], seen[1].Classes);

        // A window that divides S: no short window; one stream: the whole text in order.
        Assert.Equal([5, 5, 5, 5], SequenceDataset<float>.ForLanguageModelStreams(stream, streams: 2, window: 5).Lengths.ToArray());
        var single = SequenceDataset<float>.ForLanguageModelStreams(stream, streams: 1, window: 21);
        Assert.Equal(Enumerable.Range(0, 21), single.Batch([0]).Tokens!);
        Assert.Throws<ArgumentException>(() => SequenceDataset<float>.ForLanguageModelStreams([1, 2, 3], streams: 3, window: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => SequenceDataset<float>.ForLanguageModelStreams(stream, streams: 0, window: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => SequenceDataset<float>.ForLanguageModelStreams(stream, streams: 2, window: 0));
    }

    [Fact]
    public void LastBatchHoldsTheRemainder()
    {
        var data = SequenceDataset<double>.Create(Items(7));
        Assert.Equal(3, data.BatchCount(3));
        var sizes = new List<int>();
        foreach (var batch in data.Batches(3))
        {
            sizes.Add(batch.BatchSize);
        }

        Assert.Equal([3, 3, 1], sizes);
        Assert.Equal(Enumerable.Range(0, 7), EpochItems(data, 3, shuffle: false, seed: 0, epoch: 0));
    }

    [Fact]
    public void ShuffleDependsOnlyOnSeedAndEpochAndCoversEveryItemOnce()
    {
        var data = SequenceDataset<double>.Create(Items(23));
        EpochItems(data, 4, true, 7, 0);
        EpochItems(data, 4, true, 7, 1);
        var epoch2AfterOthers = EpochItems(data, 4, true, 7, 2);
        var fresh = SequenceDataset<double>.Create(Items(23));
        var epoch2Alone = EpochItems(fresh, 4, true, 7, 2);
        Assert.Equal(epoch2AfterOthers, epoch2Alone);
        Assert.NotEqual(epoch2Alone, EpochItems(fresh, 4, true, 7, 3));
        Assert.NotEqual(epoch2Alone, EpochItems(fresh, 4, true, 8, 2));
        foreach (bool bucket in new[] { false, true })
        {
            for (int epoch = 0; epoch < 3; epoch++)
            {
                var items = EpochItems(data, 4, true, 7, epoch, bucket);
                Assert.Equal(Enumerable.Range(0, 23), items.Order());
            }
        }
    }

    [Fact]
    public void BucketingCutsPadding()
    {
        var random = new SeededRandom(3);
        var items = new (float[,], int)[500];
        for (int i = 0; i < items.Length; i++)
        {
            items[i] = (new float[1 + random.NextInt(60), 1], i);
        }

        var data = SequenceDataset<float>.Create(items);
        long Padding(bool bucket)
        {
            long padding = 0;
            var seen = new HashSet<int>();
            foreach (var batch in data.Batches(16, shuffle: true, seed: 1, epoch: 0, bucketByLength: bucket))
            {
                padding += (long)batch.Steps * batch.BatchSize - batch.Lengths.Sum();
                seen.UnionWith(batch.Classes!);
            }

            Assert.Equal(500, seen.Count);
            return padding;
        }

        long plain = Padding(false), bucketed = Padding(true);
        Assert.True(bucketed * 5 < plain, $"bucketed padding {bucketed} vs {plain} without bucketing");
    }

    [Fact]
    public void SecondEpochAllocatesNothing()
    {
        var data = SequenceDataset<double>.Create(Items(50, maxLength: 7));
        void Epoch(bool shuffle, bool bucket, int epoch)
        {
            foreach (var batch in data.Batches(8, shuffle, seed: 3, epoch, bucket))
            {
                Assert.True(batch.Steps > 0);
            }
        }

        Epoch(false, false, 0);
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => Epoch(false, false, 0), calls: 2));

        // A shuffled epoch allocates its SeededRandom (about 72 bytes) and nothing per batch.
        for (int e = 0; e < 30; e++)
        {
            Epoch(true, true, e);                    // warm-up: every (Steps, B) shape the shuffles produce
        }

        long shuffled = SteadyState.AllocatedBytes(e => Epoch(true, true, e % 30), calls: 1);
        Assert.True(shuffled <= 128, $"a shuffled epoch allocated {shuffled} bytes");
    }

    [Fact]
    public void StartingAnotherEpochEndsTheFirst()
    {
        var data = SequenceDataset<double>.Create(Items(6));
        var first = data.Batches(2).GetEnumerator();
        Assert.True(first.MoveNext());
        foreach (var _ in data.Batches(3))
        {
        }

        var firstCopy = first;
        Assert.Throws<InvalidOperationException>(() => firstCopy.MoveNext());
    }

    [Fact]
    public void SplitIsDisjointCompleteAndSeeded()
    {
        var data = SequenceDataset<double>.Create(Items(20));
        var (train, valid) = data.Split(0.75, seed: 11);
        Assert.Equal((15, 5), (train.Count, valid.Count));
        Assert.Equal(data.TargetSize, valid.TargetSize);
        var a = EpochItems(train, 4, false, 0, 0);
        var b = EpochItems(valid, 4, false, 0, 0);
        Assert.Empty(a.Intersect(b));
        Assert.Equal(Enumerable.Range(0, 20), a.Concat(b).Order());
        Assert.Equal(a, EpochItems(data.Split(0.75, seed: 11).First, 4, false, 0, 0));
        Assert.NotEqual(a, EpochItems(data.Split(0.75, seed: 12).First, 4, false, 0, 0));

        // The items keep their contents: item 7 (length 2) wherever it landed.
        var part = a.Contains(7) ? train : valid;
        int index = (a.Contains(7) ? a : b).IndexOf(7);
        Assert.Equal(2, part.LengthOf(index));
        Assert.Equal(710.0, part.Batch([index]).Features![1, 0, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Split(0.01, 1));
    }

    public static TheoryData<string, Func<object>> BadItems => new()
    {
        { "item 2 is empty", () => SequenceDataset<double>.Create([(new double[1, 2], 0), (new double[1, 2], 0), (new double[0, 2], 0)]) },
        { "item 1 has 3 features but item 0 has 2", () => SequenceDataset<double>.Create([(new double[1, 2], 0), (new double[4, 3], 0)]) },
        { "item 1 has 2 targets but 3 steps", () => SequenceDataset<double>.Create([(new double[1, 1], new[] { 0 }), (new double[3, 1], new[] { 0, 1 })]) },
        { "item 1 has 1 target steps but 2 sequence steps", () => SequenceDataset<double>.Create([(new double[1, 1], new double[1, 2]), (new double[2, 1], new double[1, 2])]) },
        { "item 1 has a target of 3 values but item 0 has 2", () => SequenceDataset<double>.Create([(new double[1, 1], new double[2]), (new double[1, 1], new double[3])]) },
        { "item 2 has a target of 1 values but item 0 has 2", () => SequenceDataset<double>.Create([(new double[1, 1], new double[1, 2]), (new double[1, 1], new double[1, 2]), (new double[1, 1], new double[1, 1])]) },
        { "item 1 has NaN at step 1, feature 0", () => SequenceDataset<double>.Create([(new double[1, 1], 0), (new double[2, 1] { { 0 }, { double.NaN } }, 0)]) },
        { "item 0 has Infinity in its target at value 1", () => SequenceDataset<double>.Create([(new double[1, 1], new[] { 0, double.PositiveInfinity })]) },
        { "item 1 has class -1; a class per sequence", () => SequenceDataset<double>.Create([(new double[1, 1], 0), (new double[1, 1], -1)]) },
        { "item 1 has class -2 at step 0", () => SequenceDataset<double>.Create([(new[] { 1 }, new[] { -1 }), (new[] { 1 }, new[] { -2 })]) },
        { "item 1 has token -3 at step 1", () => SequenceDataset<double>.Create([(new[] { 1 }, 0), (new[] { 1, -3 }, 0)]) },
        { "item 0 is empty", () => SequenceDataset<double>.Create([(Array.Empty<int>(), 0)]) },
        { "items is empty", () => SequenceDataset<double>.Create(Array.Empty<(double[,], int)>()) },
    };

    [Theory]
    [MemberData(nameof(BadItems))]
    public void BadItemsNameTheItem(string expected, Func<object> create)
    {
        var e = Assert.Throws<ArgumentException>(create);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal("items", e.ParamName);
    }
}
