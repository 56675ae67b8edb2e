using System.Text.Json;
using RecurrentNets.Models;
using RecurrentNets.Serialization;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// A PyTorch module with attributes <c>embedding</c>, <c>rnn</c> (2-layer bidirectional <c>nn.LSTM</c>) and <c>head</c>, its
/// <c>state_dict</c> saved as safetensors (Golden/scripts/make_model_state_dict.py, PyTorch 1.13.1, double), loads into
/// the same model built in code and gives PyTorch's output and gradients.
/// </summary>
public class PyTorchStateDictTests
{
    private static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Golden", name);

    private static SequenceModel<double> Build() =>
        new SequenceModel<double>(11).Add(Layer.Embedding(5)).Add(Layer.Lstm(6, numLayers: 2, bidirectional: true)).Add(Layer.Linear(4));

    [Fact]
    public void AStateDictFromPyTorchLoadsAndGivesPyTorchsOutputAndGradients()
    {
        var model = Build();
        model.LoadWeights(Golden("torch-model-state-dict.safetensors"));
        using var json = JsonDocument.Parse(File.ReadAllText(Golden("torch-model-state-dict.json")));
        var root = json.RootElement;
        int steps = root.GetProperty("steps").GetInt32(), batchSize = root.GetProperty("batch").GetInt32();
        var batch = new SequenceBatch<double>(steps, batchSize, 0);
        int[] tokens = [.. root.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32())];
        tokens.CopyTo(batch.Tokens!, 0);
        var output = model.Forward(batch);
        double[] expected = [.. root.GetProperty("output").EnumerateArray().Select(e => e.GetDouble())];
        Assert.Equal(expected.Length, output.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], output.Data[i], 1e-12);
        }

        // L = Σ w ⊙ output, with PyTorch's w.
        new SequenceModelTests.WeightedSum<double>().Compute(output, batch, model.OutputGradient);
        model.Parameters.ZeroGradients();
        model.Backward(model.OutputGradient);
        foreach (var parameter in root.GetProperty("gradients").EnumerateObject())
        {
            double[] grad = [.. parameter.Value.EnumerateArray().Select(e => e.GetDouble())];
            var ours = model.Parameters[parameter.Name].Gradients;
            for (int i = 0; i < grad.Length; i++)
            {
                Assert.True(Math.Abs(grad[i] - ours[i]) < 1e-11, $"{parameter.Name}[{i}]: PyTorch {grad[i]}, ours {ours[i]}");
            }
        }
    }

    [Fact]
    public void OurWeightsFileHasExactlyPyTorchsNamesShapesAndOrder()
    {
        var torch = SafeTensorsFile.Read(Golden("torch-model-state-dict.safetensors"));
        var model = Build();
        string path = Path.Combine(Path.GetTempPath(), $"state-dict-{Environment.ProcessId}.safetensors");
        try
        {
            model.SaveWeights(path);
            var ours = SafeTensorsFile.Read(path);
            Assert.Equal(torch.Entries.Select(e => (e.Name, e.DType, string.Join(",", e.Shape))), ours.Entries.Select(e => (e.Name, e.DType, string.Join(",", e.Shape))));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AStateDictWithAMissingOrAnExtraNameIsRefusedAndChangesNothing()
    {
        var torch = SafeTensorsFile.Read(Golden("torch-model-state-dict.safetensors"));
        var model = Build();
        double[] before = (double[])model.Parameters.Values.Clone();
        string path = Path.Combine(Path.GetTempPath(), $"state-dict-bad-{Environment.ProcessId}.safetensors");
        try
        {
            var entries = torch.Entries.Select(e => (e.Name, e.Shape, (Array)torch.GetData<double>(e.Name))).ToList();
            SafeTensorsFile.Write(path, entries.Where(e => e.Name != "head.bias"));
            Assert.Contains("head.bias", Assert.Throws<ArgumentException>(() => model.LoadWeights(path)).Message, StringComparison.Ordinal);
            SafeTensorsFile.Write(path, [.. entries, ("decoder.weight", [2], new double[2])]);
            Assert.Contains("decoder.weight", Assert.Throws<ArgumentException>(() => model.LoadWeights(path)).Message, StringComparison.Ordinal);
            Assert.Equal(before, model.Parameters.Values);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
