using System.Numerics;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Golden;

namespace RecurrentNets.Tests.Sequence;

/// <summary>torch.nn.RNN (tanh), LSTM and GRU golden cases from libtorch 2.10: outputs, final state and every gradient.</summary>
public class TorchGoldenTests
{
    private static readonly string[] ParameterNames = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

    [Theory]
    [InlineData("torch-rnn.json")]
    [InlineData("torch-lstm.json")]
    [InlineData("torch-gru.json")]
    public void DoubleMatchesPyTorchTo1e10(string file) => Check<double>(file, 1e-10);

    [Theory]
    [InlineData("torch-rnn.json")]
    [InlineData("torch-lstm.json")]
    [InlineData("torch-gru.json")]
    public void FloatMatchesPyTorchTo1e4(string file) => Check<float>(file, 1e-4);

    private static RecurrentLayer<T> Build<T>(string file, int inputSize, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
        => file switch
        {
            "torch-rnn.json" => new Rnn<T>(inputSize, hidden),
            "torch-lstm.json" => new Lstm<T>(inputSize, hidden),
            _ => new Gru<T>(inputSize, hidden),
        };

    private static void Check<T>(string file, double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = GoldenFile.Load(file);
        int steps = g.Size("seq_len"), batch = g.Size("batch"), inputSize = g.Size("input_size"), hidden = g.Size("hidden_size");
        var layer = Build<T>(file, inputSize, hidden);
        foreach (string name in ParameterNames)
        {
            Assert.Equal(g.Shape(name), layer.Parameters[name].Shape.ToArray());
            layer.Parameters[name].CopyFrom(g.Data<T>(name));
        }

        var x = Tensor<T>.FromArray(g.Data<T>("x"), steps, batch, inputSize);
        var initial = layer.CreateState(batch);
        g.Data<T>("h0").CopyTo(initial.Hidden.Data, 0);
        if (layer.HasCellState)
        {
            g.Data<T>("c0").CopyTo(initial.Cell!.Data, 0);
        }

        var y = new Tensor<T>(steps, batch, hidden);
        var final = layer.CreateState(batch);
        layer.Forward(x, y, initial, final);
        AssertClose(g.Data("output"), y.Data, tolerance, "output");
        AssertClose(g.Data("h_n"), final.Hidden.Data, tolerance, "h_n");
        if (layer.HasCellState)
        {
            AssertClose(g.Data("c_n"), final.Cell!.Data, tolerance, "c_n");
        }

        // loss = Σ output ⊙ R + Σ h_n ⊙ R_hn (+ Σ c_n ⊙ R_cn)
        var r = g.Data<T>("R");
        var dFinal = layer.CreateState(batch);
        g.Data<T>("R_hn").CopyTo(dFinal.Hidden.Data, 0);
        double loss = Dot(y.Data, r) + Dot(final.Hidden.Data, dFinal.Hidden.Data);
        if (layer.HasCellState)
        {
            g.Data<T>("R_cn").CopyTo(dFinal.Cell!.Data, 0);
            loss += Dot(final.Cell!.Data, dFinal.Cell.Data);
        }

        Assert.Equal(g.Scalar("loss_value"), loss, tolerance * 10);

        var dx = new Tensor<T>(steps, batch, inputSize);
        var dInitial = layer.CreateState(batch);
        layer.Backward(Tensor<T>.FromArray(r, steps, batch, hidden), dFinal, dx, dInitial);
        foreach (string name in ParameterNames)
        {
            AssertClose(g.Data("grad_" + name), layer.Parameters[name].Gradients.ToArray(), tolerance, "grad_" + name);
        }

        AssertClose(g.Data("grad_x"), dx.Data, tolerance, "grad_x");
        AssertClose(g.Data("grad_h0"), dInitial.Hidden.Data, tolerance, "grad_h0");
        if (layer.HasCellState)
        {
            AssertClose(g.Data("grad_c0"), dInitial.Cell!.Data, tolerance, "grad_c0");
        }
    }

    private static double Dot<T>(T[] a, T[] b)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += double.CreateTruncating(a[i]) * double.CreateTruncating(b[i]);
        }

        return sum;
    }

    internal static void AssertClose<T>(double[] expected, T[] actual, double tolerance, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double a = double.CreateTruncating(actual[i]);
            Assert.True(Math.Abs(expected[i] - a) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"{what}[{i}]: expected {expected[i]:R}, got {a:R} (tolerance {tolerance})");
        }
    }
}
