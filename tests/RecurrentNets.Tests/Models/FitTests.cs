using System.Numerics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;
using RecurrentNets.Training;

namespace RecurrentNets.Tests.Models;

/// <summary>Fit, Evaluate, Predict, early stopping, resume and the guards of the model layer.</summary>
public class FitTests
{
    /// <summary>Noisy sine waves of three frequencies, 20-40 steps long: the class is the frequency.</summary>
    internal static SequenceDataset<float> SineWaves(int count, ulong seed)
    {
        var random = new SeededRandom(seed);
        var items = new List<(float[,], int)>();
        for (int i = 0; i < count; i++)
        {
            int label = i % 3, steps = 20 + random.NextInt(21);
            double phase = random.NextDouble() * 2 * Math.PI;
            var x = new float[steps, 1];
            for (int t = 0; t < steps; t++)
            {
                x[t, 0] = (float)(Math.Sin(phase + (label + 1) * 0.3 * t) + 0.2 * random.NextNormal());
            }

            items.Add((x, label));
        }

        return SequenceDataset<float>.Create(items);
    }

    private static SequenceModel<float> Classifier(ulong seed, double dropout = 0, int hidden = 16, double learningRate = 1e-2)
    {
        var model = new SequenceModel<float>(inputSize: 1, seed).Add(Layer.Lstm(hidden, numLayers: 2, dropout: dropout, recurrentDropout: dropout));
        if (dropout > 0)
        {
            model.Add(Layer.Dropout(dropout));
        }

        model.Add(Layer.LastStep()).Add(Layer.Linear(3));
        model.Compile(new CrossEntropy<float>(), p => new Adam<float>(p, learningRate), new Accuracy<float>());
        return model;
    }

    private sealed class Recorder(Action<EpochSummary> action) : IProgress<EpochSummary>
    {
        public void Report(EpochSummary value) => action(value);
    }

    /// <summary>
    /// The README's first program, smaller (450 waves instead of 600), on five model seeds chosen before looking: at least
    /// four reach 90 % held out (a seed can settle on two of the three classes; measured 2026-12-07: 5 of 5, the same run on
    /// every vector path now that they give the same bits; the Vector128 path reached 4 of 5 before). Every run reloads
    /// bit for bit.
    /// </summary>
    [Fact]
    public void ASineWaveClassifierLearnsOnMostSeedsAndReloadsBitForBit()
    {
        var (train, test) = SineWaves(450, seed: 1).Split(0.8, seed: 2);
        var failures = new List<string>();
        foreach (ulong seed in new ulong[] { 42, 7, 2026, 1, 2 })
        {
            var model = Classifier(seed, hidden: 32, learningRate: 3e-3);
            var history = model.Fit(train, test, new FitOptions { Epochs = 30, EarlyStoppingPatience = 5 });
            Assert.NotEqual(StopReason.NonFinite, history.Reason);
            double accuracy = model.Evaluate(test).Metrics["accuracy"];
            if (accuracy < 0.9)
            {
                failures.Add($"seed {seed}: {accuracy:F3} ({string.Join("; ", history.Epochs)})");
            }

            string path = Path.Combine(Path.GetTempPath(), $"waves-{Environment.ProcessId}-{seed}.safetensors");
            try
            {
                model.Save(path);
                var loaded = SequenceModel<float>.Load(path);
                Assert.Equal(model.PredictClasses(test), loaded.PredictClasses(test));
                var expected = model.Predict(test);
                var actual = loaded.Predict(test);
                for (int i = 0; i < expected.Length; i++)
                {
                    Assert.Equal(expected[i], actual[i]);
                }
            }
            finally
            {
                File.Delete(path);
            }
        }

        Assert.True(failures.Count <= 1, $"{failures.Count} of 5 seeds below 90 % held out:\n{string.Join("\n", failures)}");
    }

    [Fact]
    public void EarlyStoppingPutsBackTheWeightsOfTheBestEpoch()
    {
        var (train, test) = SineWaves(120, seed: 3).Split(0.5, seed: 4);
        var model = Classifier(seed: 5);
        var snapshots = new Dictionary<int, float[]>();
        var history = model.Fit(train, test, new FitOptions { Epochs = 15, EarlyStoppingPatience = 2, BatchSize = 16 },
            new Recorder(s => snapshots[s.Epoch] = (float[])model.Parameters.Values.Clone()));
        Assert.NotNull(history.BestEpoch);
        int best = history.BestEpoch!.Value;
        double bestLoss = history.Epochs.Min(e => e.ValidationLoss!.Value);
        Assert.Equal(bestLoss, history.Epochs[best - 1].ValidationLoss);
        Assert.Equal(snapshots[best], model.Parameters.Values);
        if (best < history.Epochs.Count)
        {
            Assert.NotEqual(snapshots[history.Epochs.Count], model.Parameters.Values);
        }
    }

    [Fact]
    public void AResumedRunIsBitIdenticalToAnUninterruptedOne()
    {
        var (train, test) = SineWaves(96, seed: 6).Split(0.75, seed: 7);
        string dir = Directory.CreateTempSubdirectory("resume").FullName;
        try
        {
            var options = new FitOptions { Epochs = 4, BatchSize = 16, EarlyStoppingPatience = 3, Schedule = LearningRateSchedule.Cosine(4) };
            var whole = Classifier(seed: 8, dropout: 0.2);
            var wholeHistory = whole.Fit(train, test, options with { CheckpointPath = Path.Combine(dir, "a.safetensors") });

            string path = Path.Combine(dir, "b.safetensors");
            var first = Classifier(seed: 8, dropout: 0.2);
            first.Fit(train, test, options with { Epochs = 2, CheckpointPath = path });
            var resumed = Classifier(seed: 8, dropout: 0.2);
            var rest = resumed.Fit(train, test, options with { CheckpointPath = path, Resume = true });

            Assert.Equal(2, rest.Epochs.Count);
            Assert.Equal(wholeHistory.Epochs[^1].Loss, rest.Epochs[^1].Loss);
            Assert.Equal(wholeHistory.Epochs[^1].ValidationLoss, rest.Epochs[^1].ValidationLoss);
            Assert.Equal(whole.Parameters.Values, resumed.Parameters.Values);
            Assert.Equal(((Adam<float>)whole.Optimizer!).FirstMoment.ToArray(), ((Adam<float>)resumed.Optimizer!).FirstMoment.ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ANonFiniteStepStopsTrainingWithTheWeightsOfTheStepBefore()
    {
        var data = SineWaves(64, seed: 9);
        const int poisonedStep = 3;
        int calls = 0;
        var model = new SequenceModel<float>(1, seed: 10).Add(Layer.Gru(8))
            .Add(new CustomSpec("poison") { Name = "poison" }, context => new Poison(context.InputSize, () => ++calls == poisonedStep))
            .Add(Layer.LastStep()).Add(Layer.Linear(3));
        model.Compile(new CrossEntropy<float>(), p => new Adam<float>(p, 1e-2));
        var history = model.Fit(data, null, new FitOptions { Epochs = 2, BatchSize = 8, Shuffle = false });
        Assert.Equal(StopReason.NonFinite, history.Reason);
        Assert.Contains("epoch 1", history.Message!, StringComparison.Ordinal);

        // The same run up to step k - 1 with a clean layer gives the weights the stopped run kept.
        calls = int.MinValue;
        var clean = new SequenceModel<float>(1, seed: 10).Add(Layer.Gru(8))
            .Add(new CustomSpec("poison") { Name = "poison" }, context => new Poison(context.InputSize, () => false))
            .Add(Layer.LastStep()).Add(Layer.Linear(3));
        clean.Compile(new CrossEntropy<float>(), p => new Adam<float>(p, 1e-2));
        int step = 0;
        foreach (var batch in data.Batches(8))
        {
            if (++step == poisonedStep)
            {
                break;
            }

            clean.TrainStep(batch);
        }

        Assert.Equal(clean.Parameters.Values, model.Parameters.Values);
        Assert.All(model.Parameters.Values, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>Identity, except that it writes NaN into its output when told to.</summary>
    private sealed class Poison(int size, Func<bool> poisonNow) : ISequenceLayer<float>
    {
        public int InputSize => size;

        public int OutputSize => size;

        public bool Training { get; set; }

        public void Forward(Tensor<float> input, Tensor<float> output, ReadOnlySpan<int> lengths)
        {
            input.AsSpan().CopyTo(output.AsSpan());
            if (Training && poisonNow())
            {
                output.AsSpan().Fill(float.NaN);
            }
        }

        public void Backward(Tensor<float> dOutput, Tensor<float>? dInput) => dOutput.AsSpan().CopyTo(dInput!.AsSpan());
    }

    [Fact]
    public void EvaluationRunsWithDropoutOffAndTrainingWithItOn()
    {
        var data = SineWaves(40, seed: 11);
        var model = Classifier(seed: 12, dropout: 0.5);
        var first = model.Evaluate(data);
        var second = model.Evaluate(data);
        Assert.Equal(first.Loss, second.Loss);
        Assert.False(model.Training);

        var batch = data.Batch([0, 1, 2, 3]);
        model.ComputeGradients(batch);
        Assert.True(model.Training);
        Assert.All(model.Layers, l => Assert.True(l.Training));
        model.Predict(batch);
        Assert.All(model.Layers, l => Assert.False(l.Training));
    }

    [Theory]
    [InlineData(32)]
    [InlineData(1)]
    public void ATrainingStepAllocatesNothingAfterWarmUp(int batchSize)
    {
        var data = SineWaves(64, seed: 13);
        var model = Classifier(seed: 14, dropout: 0.1);
        var batch = data.Batch([.. Enumerable.Range(0, batchSize)]);
        model.TrainStep(batch);
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => model.TrainStep(batch), calls: 5));
        var tokens = new SequenceModel<float>(5, seed: 1).Add(Layer.Embedding(4)).Add(Layer.Gru(8)).Add(Layer.Linear(5));
        tokens.Compile(new CrossEntropy<float>(), p => new Sgd<float>(p, 0.1));
        var lm = SequenceDataset<float>.ForLanguageModel([.. Enumerable.Range(0, 200).Select(i => i * 7 % 5)], window: 12, stride: 12);
        var lmBatch = lm.Batch([.. Enumerable.Range(0, Math.Min(batchSize, lm.Count))]);
        tokens.TrainStep(lmBatch);
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => tokens.TrainStep(lmBatch), calls: 5));
    }

    [Fact]
    public void DataThatDoesNotFitTheModelIsRefusedBeforeAnythingChanges()
    {
        var model = Classifier(seed: 15);
        float[] before = (float[])model.Parameters.Values.Clone();

        var twoFeatures = SequenceDataset<float>.Create([(new float[3, 2], 0)]);
        var e1 = Assert.Throws<ArgumentException>(() => model.Fit(twoFeatures));
        Assert.Contains("2 features", e1.Message, StringComparison.Ordinal);
        Assert.Contains("expects 1", e1.Message, StringComparison.Ordinal);

        var fiveClasses = SequenceDataset<float>.Create([(new float[3, 1], 4)]);
        var e2 = Assert.Throws<ArgumentException>(() => model.Fit(fiveClasses));
        Assert.Contains("class 4", e2.Message, StringComparison.Ordinal);
        Assert.Contains("3 classes", e2.Message, StringComparison.Ordinal);

        var perStep = SequenceDataset<float>.Create([(new float[3, 1], new[] { 0, 1, 2 })]);
        Assert.Contains("target per step", Assert.Throws<ArgumentException>(() => model.Fit(perStep)).Message, StringComparison.Ordinal);

        var tokens = SequenceDataset<float>.Create([(new[] { 1, 2 }, 0)]);
        Assert.Contains("tokens", Assert.Throws<ArgumentException>(() => model.Evaluate(tokens)).Message, StringComparison.Ordinal);

        Assert.Contains("Monitor", Assert.Throws<ArgumentException>(() => model.Fit(SineWaves(6, 1), SineWaves(6, 2), new FitOptions { Monitor = "f1" })).Message, StringComparison.Ordinal);
        Assert.Equal(before, model.Parameters.Values);
    }

    [Fact]
    public void ACheckpointWhoseArchitectureDisagreesWithItsTensorsIsRefused()
    {
        var model = new SequenceModel<float>(2, seed: 1).Add(Layer.Lstm(4)).Add(Layer.Linear(2));
        var other = new SequenceModel<float>(2, seed: 1).Add(Layer.Lstm(5)).Add(Layer.Linear(2));
        string dir = Directory.CreateTempSubdirectory("arch").FullName;
        try
        {
            // The tensors of one model under the architecture of the other.
            string path = Path.Combine(dir, "m.safetensors");
            RecurrentNets.Serialization.SafeTensorsFile.Write(path, model.Parameters.Views.Select(v => (v.Name, v.Shape.ToArray(), (Array)v.Values.ToArray())),
                new Dictionary<string, string> { ["format"] = SequenceModel<float>.FormatName, ["dtype"] = "float32", ["architecture"] = other.ArchitectureJson() });
            var error = Assert.Throws<InvalidDataException>(() => SequenceModel<float>.Load(path));
            Assert.Contains("rnn.weight_ih_l0", error.Message, StringComparison.Ordinal);
            Assert.Contains("[16, 2]", error.Message, StringComparison.Ordinal);

            string weights = Path.Combine(dir, "w.safetensors");
            model.SaveWeights(weights);
            Assert.Throws<InvalidDataException>(() => SequenceModel<float>.Load(weights));
            var doubleModel = new SequenceModel<double>(2).Add(Layer.Lstm(4)).Add(Layer.Linear(2));
            Assert.Throws<InvalidDataException>(() => doubleModel.LoadWeights(weights));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
