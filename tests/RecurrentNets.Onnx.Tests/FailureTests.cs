using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Interop;
using RecurrentNets.Layers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;

namespace RecurrentNets.Onnx.Tests;

public sealed class FailureTests
{
    // A user-written cell: it runs in the engine but has no ONNX operator.
    private sealed class ScaledTanhCell<T>(ParameterBlock<T> block, int inputSize, int hiddenSize, string suffix)
        : RecurrentCell<T>(block, inputSize, hiddenSize, 1, true, suffix)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public override void Forward(in CellStep<T> step) => throw new NotImplementedException();

        public override void Backward(in CellStep<T> step) => throw new NotImplementedException();
    }

    [Fact]
    public void CustomCellIsRefusedNamingItsType()
    {
        var layer = new RecurrentLayer<float>(null, 3, 4, 1, (block, _, input, suffix) => new ScaledTanhCell<float>(block, input, 4, suffix));
        string path = Path.Combine(Path.GetTempPath(), $"rn-onnx-{Guid.NewGuid():N}.onnx");
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(layer, null, path));
        Assert.Contains("ScaledTanhCell", error.Message, StringComparison.Ordinal);
        Assert.Contains("layer 0", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path), "nothing is written when the export fails");
    }

    [Fact]
    public void LayerNormalisedCellsAreRefused()
    {
        var lstm = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(new LayerNormLstm<float>(3, 4), null));
        Assert.Contains("LayerNormLstmCell", lstm.Message, StringComparison.Ordinal);
        var gru = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(new LayerNormGru<float>(3, 4, numLayers: 2), null));
        Assert.Contains("LayerNormGruCell", gru.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LstmWithProjectionsIsRefused()
    {
        // ONNX's LSTM operator has no W_hr (PyTorch's proj_size): a layer and a model holding one are refused.
        var layer = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(new Lstm<float>(3, 4, numLayers: 2, projectionSize: 2), null));
        Assert.Contains("proj_size 2", layer.Message, StringComparison.Ordinal);
        Assert.Contains("layer 0", layer.Message, StringComparison.Ordinal);
        var model = new Models.SequenceModel<float>(3).Add(Models.Layer.Lstm(4, projectionSize: 3)).Add(Models.Layer.Linear(2));
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(model));
        Assert.Contains("proj_size 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CustomCellInAnUpperLayerIsRefused()
    {
        var layer = new RecurrentLayer<float>(null, 3, 4, 2, (block, l, input, suffix) =>
            l == 0 ? new ElmanCell<float>(block, input, 4, nameSuffix: suffix) : new ScaledTanhCell<float>(block, input, 4, suffix));
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(layer, null));
        Assert.Contains("layer 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DirectionsOfDifferentVariantsAreRefused()
    {
        var layer = new RecurrentLayer<float>(null, 3, 4, 1, (block, _, input, suffix) =>
            new GruCell<float>(block, input, 4, resetAfterRecurrence: !suffix.EndsWith("_reverse", StringComparison.Ordinal), nameSuffix: suffix),
            bidirectional: true);
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(layer, null));
        Assert.Contains("layer 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeadOfTheWrongWidthIsRefused()
    {
        var layer = new Lstm<float>(3, 4, bidirectional: true);
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.ToBytes(layer, new Linear<float>(4, 2)));
        Assert.Contains("8", error.Message, StringComparison.Ordinal);
        Assert.Equal("head", error.ParamName);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void LstmExportIsTheInverseOfImport(bool peephole, bool coupled)
    {
        var block = new ParameterBlock<float>();
        var cell = new LstmCell<float>(block, 3, 4, peephole, coupled);
        var random = new Init.SeededRandom(3);
        for (int k = 0; k < block.Values.Length; k++)
        {
            block.Values[k] = (float)random.NextUniform(-1, 1);
        }

        var w = new float[16 * 3];
        var r = new float[16 * 4];
        var b = new float[32];
        var p = new float[peephole ? 12 : 0];
        Assert.Equal(coupled, OnnxLstm.Export(cell, w, r, b, p));
        var copy = new LstmCell<float>(new ParameterBlock<float>(), 3, 4, peephole, coupled);
        OnnxLstm.Import(copy, w, r, b, p, coupled);
        for (int k = 0; k < cell.Parameters.Count; k++)
        {
            Assert.Equal(cell.Parameters[k].Values.ToArray(), copy.Parameters[k].Values.ToArray());
        }
    }
}
