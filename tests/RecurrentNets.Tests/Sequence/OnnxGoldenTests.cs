using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Interop;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Golden;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// ONNX Runtime 1.31.1's LSTM with peepholes, with input_forget = 1 (coupled), and both: our cell with the weights
/// mapped by <see cref="OnnxLstm.Import"/> gives ORT's float32 outputs, and in double the float64 re-evaluation.
/// </summary>
public class OnnxGoldenTests
{
    [Theory]
    [InlineData("onnx-lstm-peephole.json", true, false)]
    [InlineData("onnx-lstm-cifg.json", false, true)]
    [InlineData("onnx-lstm-cifg-peephole.json", true, true)]
    public void FloatMatchesOnnxRuntimeTo1e5(string file, bool peephole, bool coupled)
    {
        var (y, final) = Run<float>(file, peephole, coupled);
        var g = GoldenFile.Load(file);
        TorchGoldenTests.AssertClose(g.Data("Y"), y.Data, 1e-5, "Y");
        TorchGoldenTests.AssertClose(g.Data("Y_h"), final.Hidden.Data, 1e-5, "Y_h");
        TorchGoldenTests.AssertClose(g.Data("Y_c"), final.Cell!.Data, 1e-5, "Y_c");
    }

    [Theory]
    [InlineData("onnx-lstm-peephole.json", true, false)]
    [InlineData("onnx-lstm-cifg.json", false, true)]
    [InlineData("onnx-lstm-cifg-peephole.json", true, true)]
    public void DoubleMatchesTheFloat64ReevaluationTo1e12(string file, bool peephole, bool coupled)
    {
        var (y, _) = Run<double>(file, peephole, coupled);
        TorchGoldenTests.AssertClose(GoldenFile.Load(file).Data("Y_float64_reference"), y.Data, 1e-12, "Y");
    }

    [Fact]
    public void ImportRejectsAMismatchedVariant()
    {
        var g = GoldenFile.Load("onnx-lstm-cifg.json");
        var lstm = new Lstm<float>(3, 5);
        var cell = (LstmCell<float>)lstm.Cells[0];
        var ex = Assert.Throws<ArgumentException>(() => OnnxLstm.Import(cell, g.Data<float>("W"), g.Data<float>("R"), g.Data<float>("B"), default, inputForget: true));
        Assert.Equal("inputForget", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => OnnxLstm.Import(cell, g.Data<float>("W").AsSpan(1), g.Data<float>("R"), g.Data<float>("B"), default, false));
        Assert.Contains("59 elements", ex.Message);
    }

    private static (Tensor<T> Y, RecurrentState<T> Final) Run<T>(string file, bool peephole, bool coupled)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = GoldenFile.Load(file);
        int steps = g.Size("seq_len"), batch = g.Size("batch"), inputSize = g.Size("input_size"), hidden = g.Size("hidden_size");
        var lstm = new Lstm<T>(inputSize, hidden, peephole: peephole, coupledInputForget: coupled);
        OnnxLstm.Import((LstmCell<T>)lstm.Cells[0], g.Data<float>("W"), g.Data<float>("R"), g.Data<float>("B"),
            peephole ? g.Data<float>("P") : default, inputForget: coupled);
        var x = Tensor<T>.FromArray(g.Data<float>("X").Select(v => T.CreateTruncating(v)).ToArray(), steps, batch, inputSize);
        var initial = lstm.CreateState(batch);
        g.Data<float>("initial_h").Select(v => T.CreateTruncating(v)).ToArray().CopyTo(initial.Hidden.Data, 0);
        g.Data<float>("initial_c").Select(v => T.CreateTruncating(v)).ToArray().CopyTo(initial.Cell!.Data, 0);
        var y = new Tensor<T>(steps, batch, hidden);
        var final = lstm.CreateState(batch);
        lstm.Forward(x, y, initial, final);
        return (y, final);
    }
}
