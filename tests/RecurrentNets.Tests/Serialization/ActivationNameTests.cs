using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;

namespace RecurrentNets.Tests.Serialization;

/// <summary>
/// The one <see cref="Activation"/> enum replaced three (Layers.Activation, Reservoirs.ReservoirActivation and
/// Cells.RnnNonlinearity) whose members had the same names; checkpoints store those names as strings, so files written
/// before still load.
/// </summary>
public sealed class ActivationNameTests
{
    private static string Legacy(string name) => Path.Combine(AppContext.BaseDirectory, "Serialization", "Legacy", name);

    [Fact]
    public void AModelSavedWithTheThreeOldEnumsLoads()
    {
        // Written at commit b88bb3d by SequenceModel<float>.Save: Rnn(2, relu), TimeDelay(2, k = 2, Sigmoid),
        // TimeDelay(2, k = 1, Identity), TimeDelay(2, k = 1, Relu), Rnn(2, tanh), Linear(1); its architecture JSON reads
        // "nonlinearity":"Relu", "activation":"Sigmoid", "activation":"Identity", "activation":"Relu", "nonlinearity":"Tanh".
        string path = Legacy("legacy-activations-model.safetensors");
        Assert.Contains("\"nonlinearity\":\"Relu\"", Checkpoint.ReadMetadata(path)["architecture"], StringComparison.Ordinal);
        var model = SequenceModel<float>.Load(path);
        var specs = model.Architecture;
        Assert.Equal(Activation.Relu, ((RecurrentSpec)specs[0]).Nonlinearity);
        Assert.Equal(Activation.Sigmoid, ((TimeDelaySpec)specs[1]).Activation);
        Assert.Equal(Activation.Identity, ((TimeDelaySpec)specs[2]).Activation);
        Assert.Equal(Activation.Relu, ((TimeDelaySpec)specs[3]).Activation);
        Assert.Equal(Activation.Tanh, ((RecurrentSpec)specs[4]).Nonlinearity);
        Assert.Equal(Activation.Relu, ((Rnn<float>)model.GetRecurrentLayer(0)!).Nonlinearity);

        // The outputs the old library printed for this input (float "R" format), to float rounding.
        var batch = new SequenceBatch<float>(4, 1, 3, TargetKind.Values);
        for (int i = 0; i < batch.Features!.Length; i++)
        {
            batch.Features.Data[i] = (i % 7 - 3) * 0.25f;
        }

        float[] expected = [-0.4353292f, -0.2612607f, -0.35907716f, -0.31001508f];
        float[] actual = model.Predict(batch).Data.ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6f, $"output {i}: {actual[i]} against {expected[i]}");
        }

        // Saved again, the architecture reads exactly as before: the stored strings did not change.
        string again = Path.Combine(Path.GetTempPath(), $"activations-again-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(again);
            Assert.Equal(Checkpoint.ReadMetadata(path)["architecture"], Checkpoint.ReadMetadata(again)["architecture"]);
        }
        finally
        {
            File.Delete(again);
        }
    }

    [Fact]
    public void ALayerCheckpointWithTheOldNonlinearityLoads()
    {
        // Written at commit b88bb3d by Checkpoint.Save(path, new Rnn<float>(3, 2, 1, RnnNonlinearity.Relu, random: new SeededRandom(4))).
        string path = Legacy("legacy-rnn-relu-layer.safetensors");
        Assert.Equal("relu", Checkpoint.ReadMetadata(path)["nonlinearity"]);
        var layer = Assert.IsType<Rnn<float>>(Checkpoint.LoadLayer<float>(path));
        Assert.Equal(Activation.Relu, layer.Nonlinearity);
        var fresh = new Rnn<float>(3, 2, 1, Activation.Relu, random: new SeededRandom(4));
        Assert.Equal(fresh.Parameters.Values, layer.Parameters.Values);
        Assert.Equal(fresh.Configuration, layer.Configuration);
    }

    [Theory]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Relu)]
    public void EveryElmanNonlinearityRoundTripsThroughALayerCheckpoint(Activation nonlinearity)
    {
        string path = Path.Combine(Path.GetTempPath(), $"rnn-{nonlinearity}-{Environment.ProcessId}.safetensors");
        try
        {
            Checkpoint.Save(path, new Rnn<float>(3, 2, nonlinearity: nonlinearity, random: new SeededRandom(1)));
            Assert.Equal(nonlinearity == Activation.Relu ? "relu" : "tanh", Checkpoint.ReadMetadata(path)["nonlinearity"]);
            Assert.Equal(nonlinearity, Assert.IsType<Rnn<float>>(Checkpoint.LoadLayer<float>(path)).Nonlinearity);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Identity)]
    public void EveryActivationRoundTripsThroughAModelFile(Activation activation)
    {
        var model = new SequenceModel<float>(2, seed: 1).Add(Layer.TimeDelay(3, kernelSize: 2, activation: activation));
        if (activation is Activation.Tanh or Activation.Relu)
        {
            model.Add(Layer.Rnn(2, nonlinearity: activation));
        }

        string path = Path.Combine(Path.GetTempPath(), $"model-{activation}-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(path);
            Assert.Contains($"\"activation\":\"{activation}\"", model.ArchitectureJson(), StringComparison.Ordinal);
            Assert.Equal(model.Architecture, SequenceModel<float>.Load(path).Architecture);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
