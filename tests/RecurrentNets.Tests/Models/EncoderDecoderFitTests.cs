using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Serialization;
using RecurrentNets.Training;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// The encoder-decoder on the model layer's conventions: pair data sets, Fit on the trainer (learning to reverse
/// sequences, early stopping that restores the best weights, resume), Evaluate, Predict, Save/Load of the whole model
/// and the errors of bad input.
/// </summary>
public class EncoderDecoderFitTests(ITestOutputHelper output)
{
    // Symbols 0 .. 5 in both vocabularies; the target vocabulary adds <bos> = 6 and <eos> = 7.
    private const int Symbols = 6, TargetVocabulary = 8, Begin = 6, End = 7;

    [Fact]
    public void PairBatchesCoverEveryPairOnceAndShuffleBySeedAndEpoch()
    {
        var data = ReversePairs(10, seed: 1);
        Assert.Equal(3, data.BatchCount(4));
        var first = Epoch(data, shuffle: true, seed: 5, epoch: 0);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => data.Source(i).ToArray()).OrderBy(Key), first.OrderBy(Key));
        Assert.Equal(first, Epoch(data, shuffle: true, seed: 5, epoch: 0));
        Assert.NotEqual(first, Epoch(data, shuffle: true, seed: 5, epoch: 1));
        Assert.NotEqual(first, Epoch(data, shuffle: true, seed: 6, epoch: 0));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => data.Source(i).ToArray()), Epoch(data, shuffle: false, seed: 0, epoch: 0));

        // One pair of buffers per batch size, reused across batches and epochs; targets travel with their sources.
        var seen = new HashSet<TokenBatch>();
        foreach (var (source, target) in data.Batches(4, shuffle: true, seed: 2))
        {
            seen.Add(source);
            for (int b = 0; b < source.BatchSize; b++)
            {
                Assert.Equal(source.GetSequence(b).Reverse(), target.GetSequence(b));
            }
        }

        foreach (var (source, _) in data.Batches(4, shuffle: true, seed: 2, epoch: 3))
        {
            Assert.Contains(source, seen);
        }

        Assert.Equal(2, seen.Count);

        var (train, held) = data.Split(0.7, seed: 3);
        Assert.Equal((7, 3), (train.Count, held.Count));
        var all = Enumerable.Range(0, 7).Select(i => Key(train.Source(i).ToArray()))
            .Concat(Enumerable.Range(0, 3).Select(i => Key(held.Source(i).ToArray())));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => Key(data.Source(i).ToArray())).Order(), all.Order());

        static List<int[]> Epoch(SequencePairDataset data, bool shuffle, ulong seed, int epoch)
        {
            var sequences = new List<int[]>();
            foreach (var (source, _) in data.Batches(4, shuffle, seed, epoch))
            {
                for (int b = 0; b < source.BatchSize; b++)
                {
                    sequences.Add(source.GetSequence(b));
                }
            }

            return sequences;
        }
    }

    [Fact]
    public void FitLearnsToReverseSequencesAndGetsHeldOutPairsExactlyRight()
    {
        // 2,400 distinct sequences of 3 to 5 symbols: 2,000 to train on, 200 to stop on, 200 never seen.
        var (train, rest) = ReversePairs(2400, seed: 42).Split(2000.0 / 2400, seed: 1);
        var (validation, test) = rest.Split(0.5, seed: 2);
        var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, Symbols, TargetVocabulary, Begin, End, embeddingSize: 16,
            hiddenSize: 64, random: new SeededRandom(7), forgetBias: 1.0);
        model.Compile(new Adam<float>(model.Parameters, 1e-2));
        model.ShuffleSeed = 3;
        var before = model.Evaluate(test);

        var clock = Stopwatch.StartNew();
        var history = model.Fit(train, validation, new FitOptions { Epochs = 5, BatchSize = 32, ClipNorm = 1.0, EarlyStoppingPatience = 2 },
            new Recorder(summary => output.WriteLine(summary.ToString())));
        var after = model.Evaluate(test);
        output.WriteLine($"{history.Epochs.Count} epochs ({history.Reason}, best {history.BestEpoch}) in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"held-out loss {before.Loss:F3} -> {after.Loss:F3}, exact match {before.Metrics["exact_match"]:P1} -> {after.Metrics["exact_match"]:P1}");

        Assert.True(after.Loss < 0.1, $"held-out loss {after.Loss}");
        Assert.True(after.Metrics["exact_match"] >= 0.9, $"held-out exact match {after.Metrics["exact_match"]}");
        Assert.True(before.Metrics["exact_match"] < 0.05);

        // Predict agrees with Evaluate's decoding, and strips <eos>.
        var predicted = model.Predict(test, maxLength: 8);
        int right = Enumerable.Range(0, test.Count).Count(i => predicted[i].AsSpan().SequenceEqual(test.Target(i)));
        Assert.Equal(after.Metrics["exact_match"], (double)right / test.Count);
        Assert.DoesNotContain(predicted, p => p.Contains(End));
        Assert.Equal([5, 4, 3, 2, 1], model.Predict([[1, 2, 3, 4, 5]], maxLength: 8)[0]);
    }

    [Theory]
    [InlineData(EncoderDecoderCell.Lstm, 2)]
    [InlineData(EncoderDecoderCell.Gru, 1)]
    [InlineData(EncoderDecoderCell.Rnn, 2)]
    public void SaveAndLoadRebuildTheModelBitForBit(EncoderDecoderCell cell, int layers)
    {
        var model = new EncoderDecoder<float>(cell, Symbols, TargetVocabulary, Begin, End, embeddingSize: 5, hiddenSize: 7, numLayers: layers,
            random: new SeededRandom(3), forgetBias: cell == EncoderDecoderCell.Lstm ? 1.0 : null);
        model.Compile(new Adam<float>(model.Parameters, 1e-2));
        model.Fit(ReversePairs(40, seed: 4), options: new FitOptions { Epochs = 2, BatchSize = 8 });
        var vocabulary = Vocabulary.FromCharacters("abcdef");
        model.Metadata["source_vocabulary"] = vocabulary.ToJson();
        model.Metadata["note"] = "reversal";

        string path = TempPath($"encdec-{cell}"), weights = TempPath($"encdec-weights-{cell}");
        try
        {
            model.Save(path);
            var loaded = EncoderDecoder<float>.Load(path);
            Assert.Equal(model.ArchitectureJson(), loaded.ArchitectureJson());
            Assert.Equal((cell, layers, model.ForgetBias), (loaded.Cell, loaded.NumLayers, loaded.ForgetBias));
            Assert.Equal(model.Parameters.Views.Select(v => v.Name), loaded.Parameters.Views.Select(v => v.Name));
            Assert.Equal(model.Parameters.Values.ToArray(), loaded.Parameters.Values.ToArray());
            Assert.Equal(model.Metadata.OrderBy(m => m.Key), loaded.Metadata.OrderBy(m => m.Key));
            Assert.Equal("abcdef", Vocabulary.FromJson(loaded.Metadata["source_vocabulary"]).Decode([0, 1, 2, 3, 4, 5]));

            // Decoding is bit-identical: same tokens, and the same teacher-forced logits.
            int[][] sources = [[0, 1, 2], [5, 4, 3, 2, 1], [3], [2, 2, 0, 1]];
            Assert.Equal(model.Predict(sources, 6), loaded.Predict(sources, 6));
            var data = ReversePairs(12, seed: 9);
            Assert.Equal(model.Evaluate(data).Loss, loaded.Evaluate(data).Loss);

            // Weights alone: into a model built with another seed, which then decodes the same.
            model.SaveWeights(weights);
            var other = new EncoderDecoder<float>(cell, Symbols, TargetVocabulary, Begin, End, 5, 7, layers, new SeededRandom(99));
            Assert.NotEqual(model.Parameters.Values.ToArray(), other.Parameters.Values.ToArray());
            other.LoadWeights(weights);
            Assert.Equal(model.Parameters.Values.ToArray(), other.Parameters.Values.ToArray());
            other.LoadWeights(path);
            Assert.Equal(model.Predict(sources, 6), other.Predict(sources, 6));

            // A weights-only file is not a model, and a double model does not load as float.
            var error = Assert.Throws<InvalidDataException>(() => EncoderDecoder<float>.Load(weights));
            Assert.Contains("not a saved EncoderDecoder", error.Message);
            Assert.Contains("float32", Assert.Throws<InvalidDataException>(() => EncoderDecoder<double>.Load(path)).Message);
        }
        finally
        {
            File.Delete(path);
            File.Delete(weights);
        }
    }

    [Fact]
    public void LoadRejectsOtherKindsOfFileAndArchitecturesThatDisagreeWithTheTensors()
    {
        var model = new EncoderDecoder<double>(EncoderDecoderCell.Gru, Symbols, TargetVocabulary, Begin, End, 4, 5, random: new SeededRandom(1));
        string path = TempPath("encdec-bad"), edited = TempPath("encdec-edited"), sequence = TempPath("encdec-sequence-model");
        try
        {
            model.Save(path);
            // The architecture says 6 hidden units but the tensors hold 5.
            CheckpointFiles.CopyWithMetadata<double>(path, edited, metadata => metadata["architecture"] =
                model.ArchitectureJson().Replace("\"hidden_size\":5", "\"hidden_size\":6", StringComparison.Ordinal));
            var error = Assert.Throws<InvalidDataException>(() => EncoderDecoder<double>.Load(edited));
            Assert.Contains("architecture disagrees with the tensors", error.Message);
            Assert.Matches(@"'[a-z_.0-9]+' has shape \[\d+(, \d+)*\] in the source but \[\d+(, \d+)*\] in this model", error.Message);

            // An architecture that is not one.
            foreach (string architecture in new[] { "{\"cell\":\"Lstm\"}", "{not json" })
            {
                CheckpointFiles.CopyWithMetadata<double>(path, edited, metadata => metadata["architecture"] = architecture);
                Assert.Contains("architecture metadata is not valid", Assert.Throws<InvalidDataException>(() => EncoderDecoder<double>.Load(edited)).Message);
            }

            // A saved SequenceModel is another kind of file.
            var other = new SequenceModel<double>(3).Add(Layer.Gru(4)).Add(Layer.Linear(2));
            other.Save(sequence);
            error = Assert.Throws<InvalidDataException>(() => EncoderDecoder<double>.Load(sequence));
            Assert.Contains($"'{SequenceModel<double>.FormatName}' file", error.Message);
            Assert.Throws<FileNotFoundException>(() => EncoderDecoder<double>.Load(TempPath("encdec-missing")));
        }
        finally
        {
            File.Delete(path);
            File.Delete(edited);
            File.Delete(sequence);
        }
    }

    [Fact]
    public void EarlyStoppingRestoresTheWeightsOfTheBestEpoch()
    {
        // Sixteen pairs to train on and others to validate on: the model overfits and the validation loss turns up.
        var (train, validation) = ReversePairs(80, seed: 5).Split(0.2, seed: 6);
        var model = new EncoderDecoder<double>(EncoderDecoderCell.Gru, Symbols, TargetVocabulary, Begin, End, 8, 24, random: new SeededRandom(2));
        model.Compile(new Adam<double>(model.Parameters, 3e-2));
        var snapshots = new List<double[]>();
        var history = model.Fit(train, validation, new FitOptions { Epochs = 200, BatchSize = 4, EarlyStoppingPatience = 3 },
            new Recorder(summary =>
            {
                snapshots.Add(model.Parameters.Values.ToArray());
                output.WriteLine(summary.ToString());
            }));

        Assert.Equal(StopReason.EarlyStopping, history.Reason);
        int best = history.BestEpoch!.Value;
        Assert.Equal(best + 3, history.Epochs.Count);
        Assert.Equal(history.Epochs.Min(e => e.ValidationLoss), history.Epochs[best - 1].ValidationLoss);
        Assert.Equal(snapshots[best - 1], model.Parameters.Values.ToArray());
        Assert.NotEqual(snapshots[^1], model.Parameters.Values.ToArray());
        Assert.Equal(history.Epochs[best - 1].ValidationLoss!.Value, model.Evaluate(validation, batchSize: 4).Loss, 12);
    }

    [Fact]
    public void AResumedRunEqualsAnUninterruptedOne()
    {
        var (train, validation) = ReversePairs(60, seed: 8).Split(0.75, seed: 1);
        string path = TempPath("encdec-resume");
        File.Delete(path);
        var options = new FitOptions { Epochs = 4, BatchSize = 8, CheckpointPath = path };
        try
        {
            var whole = Build();
            var wholeHistory = whole.Fit(train, validation, options with { CheckpointPath = null });

            Build().Fit(train, validation, options with { Epochs = 2 });
            var resumed = Build();
            var resumedHistory = resumed.Fit(train, validation, options with { Resume = true });

            Assert.Equal(whole.Parameters.Values.ToArray(), resumed.Parameters.Values.ToArray());
            Assert.Equal(wholeHistory.Epochs.Skip(2).Select(e => (e.Epoch, e.Loss, e.ValidationLoss)),
                resumedHistory.Epochs.Select(e => (e.Epoch, e.Loss, e.ValidationLoss)));
            Assert.Equal(whole.Optimizer!.StepCount, resumed.Optimizer!.StepCount);

            // A checkpoint of another architecture is refused before anything changes.
            var wider = new EncoderDecoder<double>(EncoderDecoderCell.Lstm, Symbols, TargetVocabulary, Begin, End, 4, 7, random: new SeededRandom(1));
            wider.Compile(new Adam<double>(wider.Parameters, 1e-2));
            Assert.Contains("not a training checkpoint of this model",
                Assert.Throws<ArgumentException>(() => wider.Fit(train, validation, options with { Resume = true })).Message);
        }
        finally
        {
            File.Delete(path);
        }

        static EncoderDecoder<double> Build()
        {
            var model = new EncoderDecoder<double>(EncoderDecoderCell.Lstm, Symbols, TargetVocabulary, Begin, End, 4, 6, random: new SeededRandom(1));
            model.Compile(p => new Adam<double>(p, 1e-2));
            model.ShuffleSeed = 11;
            return model;
        }
    }

    [Fact]
    public void BadPairsAndSourcesAreRejectedNamingTheItemAndNothingChanges()
    {
        // The data set: empty, null or negative sequences.
        var error = Assert.Throws<ArgumentException>(() => SequencePairDataset.Create([([1, 2], [2, 1]), ([3], [])]));
        Assert.Contains("pair 1 has an empty target", error.Message);
        error = Assert.Throws<ArgumentException>(() => SequencePairDataset.Create([([1, 2], [2, 1]), ([], [3])]));
        Assert.Contains("pair 1 has an empty source", error.Message);
        Assert.Contains("pair 0 has source token -1 at position 1", Assert.Throws<ArgumentException>(() => SequencePairDataset.Create([([1, -1], [2])])).Message);
        Assert.Contains("pair 0 has no target", Assert.Throws<ArgumentException>(() => SequencePairDataset.Create([([1], null!)])).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => SequencePairDataset.Create([])).Message);

        var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, Symbols, TargetVocabulary, Begin, End, 4, 5, random: new SeededRandom(1));
        var good = ReversePairs(20, seed: 1);
        Assert.Contains("Compile", Assert.Throws<InvalidOperationException>(() => model.Fit(good)).Message);
        model.Compile(new Adam<float>(model.Parameters, 1e-2));
        float[] before = model.Parameters.Values.ToArray();

        // A token outside a vocabulary, or a special token inside a target, anywhere in the training or validation set.
        var badSource = SequencePairDataset.Create([([1, 2], [2, 1]), ([0, 1, 2], [3]), ([3, Symbols], [1])]);
        error = Assert.Throws<ArgumentException>(() => model.Fit(badSource));
        Assert.Equal("train", error.ParamName);
        Assert.Contains($"train pair 2 has source token {Symbols} at position 1, outside [0, {Symbols}) (sourceVocabularySize)", error.Message);
        var badTarget = SequencePairDataset.Create([([1, 2], [2, 1]), ([0, 1, 2], [3, TargetVocabulary])]);
        error = Assert.Throws<ArgumentException>(() => model.Fit(good, badTarget));
        Assert.Contains($"validation pair 1 has target token {TargetVocabulary} at position 1, outside [0, {TargetVocabulary}) (targetVocabularySize)", error.Message);
        var special = SequencePairDataset.Create([([1, 2], [End])]);
        Assert.Contains("pair 0 has the end token 7 at position 0", Assert.Throws<ArgumentException>(() => model.Evaluate(special)).Message);
        Assert.Contains("options.Monitor", Assert.Throws<ArgumentException>(() => model.Fit(good, good, new FitOptions { Monitor = "accuracy" })).Message);
        Assert.Contains("BucketByLength", Assert.Throws<ArgumentException>(() => model.Fit(good, null, new FitOptions { BucketByLength = true })).Message);
        Assert.Equal(before, model.Parameters.Values.ToArray());
        Assert.Equal(0, model.Optimizer!.StepCount);

        // Predict: an empty or null source, a token outside the source vocabulary.
        Assert.Contains("sources item 1 is empty", Assert.Throws<ArgumentException>(() => model.Predict([[1], []], 4)).Message);
        Assert.Contains("sources item 0 is null", Assert.Throws<ArgumentException>(() => model.Predict([null!], 4)).Message);
        error = Assert.Throws<ArgumentException>(() => model.Predict([[1], [2, 3], [4, -2]], 4));
        Assert.Contains($"sources item 2 has token -2 at position 1, outside [0, {Symbols})", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Predict([[1]], 0));

        // Compile with another model's optimiser.
        var other = new EncoderDecoder<float>(EncoderDecoderCell.Gru, Symbols, TargetVocabulary, Begin, End, 4, 5);
        Assert.Throws<ArgumentException>(() => model.Compile(new Adam<float>(other.Parameters, 1e-2)));
        Assert.Equal(before, model.Parameters.Values.ToArray());
    }

    /// <summary>Distinct random sequences of 3 to 5 symbols, each with its reversal as the target.</summary>
    private static SequencePairDataset ReversePairs(int count, ulong seed)
    {
        var random = new SeededRandom(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pairs = new List<(int[] Source, int[] Target)>();
        while (pairs.Count < count)
        {
            var source = new int[3 + random.NextInt(3)];
            for (int t = 0; t < source.Length; t++)
            {
                source[t] = random.NextInt(Symbols);
            }

            if (seen.Add(Key(source)))
            {
                pairs.Add((source, source.Reverse().ToArray()));
            }
        }

        return SequencePairDataset.Create(pairs);
    }

    private static string Key(int[] sequence) => string.Join(',', sequence);

    private static string TempPath(string name) => Path.Combine(Path.GetTempPath(), $"{name}-{Environment.ProcessId}.safetensors");

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Recorder(Action<EpochSummary> report) : IProgress<EpochSummary>
    {
        public void Report(EpochSummary value) => report(value);
    }
}
