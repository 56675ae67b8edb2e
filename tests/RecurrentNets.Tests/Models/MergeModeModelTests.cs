using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Models;

/// <summary>Merge modes and goBackwards in the model layer: the saved architecture, loads that refuse an unknown mode,
/// the frozen model, the stepper, and a layer checkpoint.</summary>
public class MergeModeModelTests
{
    public static TheoryData<string> Architectures => new()
    {
        "lstm-stack-bidirectional-sum-last", "gru-bidirectional-mul-dropout-rnn-ave-every-step", "lstm-stack-go-backwards-last",
        "rnn-go-backwards-gru-every-step",
    };

    private static string TempPath(string name) => Path.Combine(Path.GetTempPath(), $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");

    [Theory]
    [MemberData(nameof(Architectures))]
    public void FrozenModelPredictsAsTheModelWithVariableLengths(string architecture)
    {
        var model = SequenceModelTests.Build<double>(architecture, out _);
        var batch = SequenceModelTests.RandomBatch<double>(6, 4, 3, [6, 2, 4, 1], seed: 3);
        double[] expected = model.Predict(batch).Data.ToArray();
        var frozen = model.Freeze();
        double[] actual = frozen.Predict(batch).Data.ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.Contains(expected, v => Math.Abs(v) > 1e-3);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12, $"output {i}: frozen {actual[i]}, model {expected[i]}");
        }

        Assert.False(frozen.CanStream);
        Assert.Contains("cannot run", Assert.Throws<NotSupportedException>(() => frozen.CreateStream()).Message, StringComparison.Ordinal);
        var stepper = Assert.Throws<NotSupportedException>(() => model.CreateStepper());
        Assert.Contains(architecture.Contains("go-backwards", StringComparison.Ordinal) ? "goBackwards" : "bidirectional", stepper.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void TheArchitectureRecordsTheKerasNamesAndOnlyWhenTheyAreNotTheDefault()
    {
        var model = new SequenceModel<float>(3).Add(Layer.Gru(4, bidirectional: true, mergeMode: MergeMode.Average))
            .Add(Layer.Lstm(2, goBackwards: true)).Add(Layer.Rnn(2, bidirectional: true));
        string json = model.ArchitectureJson();
        Assert.Contains("\"merge_mode\":\"ave\"", json, StringComparison.Ordinal);
        Assert.Contains("\"go_backwards\":true", json, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(json, "merge_mode"));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(json, "go_backwards"));
        Assert.Equal(4, model.GetRecurrentLayer(1)!.InputSize);
        Assert.Equal(2, model.GetRecurrentLayer(2)!.InputSize);
    }

    [Fact]
    public void ALoadRestoresTheOptionsAndRefusesAnUnknownMergeMode()
    {
        var model = new SequenceModel<double>(3, seed: 2).Add(Layer.Lstm(4, bidirectional: true, mergeMode: MergeMode.Multiply))
            .Add(Layer.Gru(3, goBackwards: true)).Add(Layer.Linear(2));
        string path = TempPath("merge-model"), edited = TempPath("merge-model-edited");
        try
        {
            model.Save(path);
            var loaded = SequenceModel<double>.Load(path);
            Assert.Equal(MergeMode.Multiply, loaded.GetRecurrentLayer(0)!.MergeMode);
            Assert.True(loaded.GetRecurrentLayer(1)!.GoBackwards);
            Assert.Equal(model.Architecture, loaded.Architecture);

            CheckpointFiles.CopyWithMetadata<double>(path, edited, metadata => metadata["architecture"] =
                model.ArchitectureJson().Replace("\"merge_mode\":\"mul\"", "\"merge_mode\":\"max\"", StringComparison.Ordinal));
            var error = Assert.Throws<InvalidDataException>(() => SequenceModel<double>.Load(edited));
            Assert.Contains("merge_mode 'max' is not one of concat, sum, mul, ave", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
            File.Delete(edited);
        }
    }

    [Theory]
    [InlineData(MergeMode.Sum, false)]
    [InlineData(MergeMode.Average, false)]
    [InlineData(MergeMode.Concat, true)]
    public void ALayerCheckpointRoundTripsTheOptionsAndRefusesAnUnknownMergeMode(MergeMode mode, bool goBackwards)
    {
        var layer = new Gru<float>(3, 4, numLayers: 2, random: new SeededRandom(5), bidirectional: !goBackwards,
            mergeMode: mode, goBackwards: goBackwards);
        string path = TempPath("merge-layer"), edited = TempPath("merge-layer-edited");
        try
        {
            Checkpoint.Save(path, layer);
            var loaded = Checkpoint.LoadLayer<float>(path);
            Assert.Equal(mode, loaded.MergeMode);
            Assert.Equal(goBackwards, loaded.GoBackwards);
            var x = EngineTestsRandom(3);
            var y = new Tensor<float>(4, 2, layer.OutputSize);
            var yLoaded = new Tensor<float>(4, 2, loaded.OutputSize);
            layer.Forward(x, y, sequenceLengths: [4, 2]);
            loaded.Forward(x, yLoaded, sequenceLengths: [4, 2]);
            Assert.Equal(y.Data, yLoaded.Data);

            CheckpointFiles.CopyWithMetadata<float>(path, edited, metadata => metadata["merge_mode"] = "concatenate");
            var error = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadLayer<float>(edited));
            Assert.Contains("merge_mode 'concatenate' is not one of concat, sum, mul, ave", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
            File.Delete(edited);
        }
    }

    private static Tensor<float> EngineTestsRandom(ulong seed) => RecurrentNets.Tests.Sequence.EngineTests.Random<float>(new SeededRandom(seed), 4, 2, 3);
}
