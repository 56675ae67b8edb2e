using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Interop;
using RecurrentNets.Models;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Models;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// LSTM with projections (LSTMP, PyTorch <c>proj_size</c>) beyond the golden cases (<see cref="LstmProjectionGoldenTests"/>)
/// and the gradient checks of every loss, stack and direction (<see cref="CellGradientTests"/>) and padded batches
/// (<see cref="VariableLengthTests"/>): names and shapes, bad sizes, the merge modes, threads, frozen weights, allocations,
/// persistence, the frozen model, and ONNX's refusal (its allocation test is in <see cref="EngineTests"/>).
/// </summary>
public class LstmProjectionTests
{
    [Fact]
    public void ParametersStatesAndOutputsHavePyTorchsShapes()
    {
        var lstm = new Lstm<float>(3, 6, numLayers: 2, bidirectional: true, projectionSize: 4);
        Assert.Equal(4, lstm.ProjectionSize);
        Assert.Equal(4, lstm.StateSize);
        Assert.Equal(6, lstm.HiddenSize);
        Assert.Equal(8, lstm.OutputSize);
        Assert.Equal([24, 3], lstm.Parameters["weight_ih_l0"].Shape);
        Assert.Equal([24, 4], lstm.Parameters["weight_hh_l0"].Shape);
        Assert.Equal([4, 6], lstm.Parameters["weight_hr_l0_reverse"].Shape);
        Assert.Equal([24, 8], lstm.Parameters["weight_ih_l1"].Shape);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"], lstm.Cells[0].Parameters.Select(v => v.Name));
        var state = lstm.CreateState(5);
        Assert.Equal([4, 5, 4], state.Hidden.Shape);
        Assert.Equal([4, 5, 6], state.Cell!.Shape);
        Assert.Equal("4", lstm.Configuration["proj_size"]);
        Assert.False(new Lstm<float>(3, 6).Configuration.ContainsKey("proj_size"));
        Assert.Equal(0, new Lstm<float>(3, 6).ProjectionSize);
        Assert.Equal(2 * 6 + 4, lstm.Cells[0].StepCacheWidth);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(-1)]
    public void AProjectionSizeOutside1ToHMinus1IsRefused(int projectionSize)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm<double>(3, 6, projectionSize: projectionSize));
        Assert.Equal("projectionSize", error.ParamName);
        Assert.Contains("hiddenSize - 1 = 5", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmCell<double>(new ParameterBlock<double>(), 3, 6, projectionSize: projectionSize));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layer.Lstm(6, projectionSize: projectionSize).BuildLayer(
            new LayerContext<double>(new ParameterBlock<double>(), 3, new SeededRandom(1), "rnn", 1)));
    }

    [Fact]
    public void AStateOfTheUnprojectedWidthIsRefusedNamingBothShapes()
    {
        var lstm = new Lstm<double>(3, 6, projectionSize: 2);
        var x = new Tensor<double>(4, 2, 3);
        var y = new Tensor<double>(4, 2, 2);
        var wrong = new RecurrentState<double>(1, 2, 6, hasCell: true);
        var error = Assert.Throws<ArgumentException>(() => lstm.Forward(x, y, wrong));
        Assert.Equal("initialState.Hidden", error.ParamName);
        Assert.Contains("[1, 2, 2]", error.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 2, 6]", error.Message, StringComparison.Ordinal);
        var wrongCell = new RecurrentState<double>(1, 2, 2, 2);
        Assert.Equal("initialState.Cell", Assert.Throws<ArgumentException>(() => lstm.Forward(x, y, wrongCell)).ParamName);
        var wide = new Tensor<double>(4, 2, 6);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => lstm.Forward(x, wide)).ParamName);
    }

    [Theory]
    [InlineData(MergeMode.Sum, false)]
    [InlineData(MergeMode.Multiply, false)]
    [InlineData(MergeMode.Average, false)]
    [InlineData(MergeMode.Concat, true)]
    public void MergeModesAndGoBackwardsHaveExactGradients(MergeMode mode, bool goBackwards)
    {
        const int steps = 5, batch = 3, inputSize = 3;
        var random = new SeededRandom(23);
        var layer = new Lstm<double>(inputSize, 5, 2, random: random, bidirectional: !goBackwards, mergeMode: mode, goBackwards: goBackwards, projectionSize: 3);
        Assert.Equal(goBackwards || mode != MergeMode.Concat ? 3 : 6, layer.OutputSize);
        var x = EngineTests.Random(random, steps, batch, inputSize);
        var w = EngineTests.Random(random, steps, batch, layer.OutputSize);
        var y = new Tensor<double>(steps, batch, layer.OutputSize);
        var dy = new Tensor<double>(steps, batch, layer.OutputSize);
        var dx = new Tensor<double>(steps, batch, inputSize);
        int[] lengths = [5, 3, 4];

        // L = Σ w ⊙ y².
        double LossAndBackward()
        {
            layer.Forward(x, y, sequenceLengths: lengths);
            double loss = 0;
            for (int i = 0; i < y.Length; i++)
            {
                loss += w.Data[i] * y.Data[i] * y.Data[i];
                dy.Data[i] = 2 * w.Data[i] * y.Data[i];
            }

            layer.Backward(dy, dInput: dx);
            return loss;
        }

        var results = GradientCheck.CheckParameters(layer.Parameters, LossAndBackward);
        Assert.Contains(results, r => r.Name == "weight_hr_l1");
        Assert.All(results, r => Assert.True(r.MaxRelativeError < 1e-6, r.ToString()));
        LossAndBackward();
        var input = GradientCheck.Compare("x", x.Data, (double[])dx.Data.Clone(), LossAndBackward);
        Assert.True(input.MaxRelativeError < 1e-6, input.ToString());
    }

    [Fact]
    public void TheBatchSplitOverThreadsGivesTheSameBits()
    {
        var split = Run(threads: 2, out var plan);
        Assert.True(Environment.ProcessorCount < 2 || plan.Directions.All(d => d.Forward == LoopStrategy.BatchSplit), "the forward loops were not split");
        Assert.All(plan.Directions, d => Assert.False(d.FusedProjection || d.FusedInputGradient));
        var serial = Run(threads: 1, out _);
        Assert.Equal(serial, split);
    }

    // Two bidirectional float layers at (T, B, H, P) = (10, 32, 48, 16).
    private static float[][] Run(int threads, out ExecutionPlan plan)
    {
        var random = new SeededRandom(3);
        var layer = new Lstm<float>(16, 48, 2, random: random, bidirectional: true, projectionSize: 16) { MaxDegreeOfParallelism = threads };
        return EngineTests.ForwardBackward(layer, random, 10, 32, out plan);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    public void FrozenWeightsGiveTheSameBitsAndAllocateNothing(int batch)
    {
        var random = new SeededRandom(4);
        var layer = new Lstm<float>(8, 64, 2, random: random, projectionSize: 32);
        var x = EngineTests.Random<float>(random, 40, batch, 8);
        var expected = new Tensor<float>(40, batch, 32);
        var final = layer.CreateState(batch);
        layer.Forward(x, expected, finalState: final);
        float[] expectedFinal = [.. final.Hidden.Data, .. final.Cell!.Data];

        layer.FreezeWeights();
        var y = new Tensor<float>(40, batch, 32);
        layer.Forward(x, y, finalState: final);
        Assert.Equal(expected.Data, y.Data);
        Assert.Equal(expectedFinal, final.Hidden.Data.Concat(final.Cell.Data).ToArray());
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => layer.Forward(x, y), 5));

        // A write to W_hr is not seen until the weights are thawed (as for W_ih and W_hh).
        layer.Cells[0].Parameters.Single(v => v.Name == "weight_hr_l0").Values[0] += 1;
        layer.Forward(x, y);
        Assert.Equal(expected.Data, y.Data);
        layer.UnfreezeWeights();
        layer.Forward(x, y);
        Assert.NotEqual(expected.Data, y.Data);
    }

    [Fact]
    public void AModelRoundTripsThroughSafetensorsFreezesAndStreams()
    {
        var model = new SequenceModel<double>(3, seed: 5)
            .Add(Layer.Lstm(6, numLayers: 2, bidirectional: true, projectionSize: 3))
            .Add(Layer.Lstm(5, projectionSize: 2, name: "top"))
            .Add(Layer.Linear(2));
        var batch = SequenceModelTests.RandomBatch<double>(5, 3, 3, [5, 2, 4], seed: 7);
        Assert.Contains("top.weight_hr_l0", model.Parameters.Views.Select(v => v.Name));
        Assert.Contains("\"projection_size\":3", model.ArchitectureJson().Replace(" ", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("projection_size", new SequenceModel<double>(3).Add(Layer.Lstm(4)).ArchitectureJson(), StringComparison.OrdinalIgnoreCase);
        SequenceModelTests.AssertRoundTripsAndFreezes(model, batch, "lstmp");
    }

    [Fact]
    public void ALayerRoundTripsThroughACheckpoint()
    {
        var layer = new Lstm<double>(3, 5, 2, random: new SeededRandom(2), bidirectional: true, peephole: true, projectionSize: 2);
        string path = Path.Combine(Path.GetTempPath(), $"lstmp-layer-{Environment.ProcessId}.safetensors");
        string edited = Path.Combine(Path.GetTempPath(), $"lstmp-layer-edited-{Environment.ProcessId}.safetensors");
        try
        {
            Checkpoint.Save(path, layer);
            var loaded = Assert.IsType<Lstm<double>>(Checkpoint.LoadLayer<double>(path));
            Assert.Equal(layer.Configuration, loaded.Configuration);
            Assert.Equal(2, loaded.ProjectionSize);
            Assert.Equal(layer.Parameters.Values, loaded.Parameters.Values);

            // A file whose proj_size no LSTM can have (not below hidden_size) is a corrupt file, not a bad argument.
            CheckpointFiles.CopyWithMetadata<double>(path, edited, metadata => metadata["proj_size"] = "5");
            var error = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadLayer<double>(edited));
            Assert.Contains("describes no valid LSTM layer", error.Message, StringComparison.Ordinal);
            Assert.Contains("projectionSize", error.Message, StringComparison.Ordinal);
            Assert.IsType<ArgumentOutOfRangeException>(error.InnerException);
        }
        finally
        {
            File.Delete(path);
            File.Delete(edited);
        }
    }

    [Fact]
    public void OnnxWeightsRefuseAProjectedCell()
    {
        var cell = (LstmCell<float>)new Lstm<float>(3, 4, projectionSize: 2).Cells[0];
        var error = Assert.Throws<ArgumentException>(() => OnnxLstm.Export(cell, new float[48], new float[64], new float[32], default));
        Assert.Equal("cell", error.ParamName);
        Assert.Contains("proj_size 2", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => OnnxLstm.Import(cell, new float[48], new float[64], default, default, false));
    }
}
