using System.Numerics;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Golden;

namespace RecurrentNets.Tests.Sequence;

/// <summary>torch.nn.RNN (tanh) golden case from libtorch 2.10: outputs and every gradient.</summary>
public class RnnGoldenTests
{
    [Fact]
    public void DoubleMatchesPyTorchTo1e10() => Check<double>(1e-10);

    [Fact]
    public void FloatMatchesPyTorchTo1e4() => Check<float>(1e-4);

    private static void Check<T>(double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = GoldenFile.Load("torch-rnn.json");
        int steps = g.Size("seq_len"), batch = g.Size("batch"), inputSize = g.Size("input_size"), hidden = g.Size("hidden_size");
        var rnn = new Rnn<T>(inputSize, hidden);
        foreach (string name in new[] { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0" })
        {
            Assert.Equal(g.Shape(name), rnn.Parameters[name].Shape.ToArray());
            rnn.Parameters[name].CopyFrom(g.Data<T>(name));
        }

        var x = Tensor<T>.FromArray(g.Data<T>("x"), steps, batch, inputSize);
        var h0 = rnn.CreateState(batch);
        g.Data<T>("h0").CopyTo(h0.Hidden.Data, 0);
        var y = new Tensor<T>(steps, batch, hidden);
        var hn = rnn.CreateState(batch);
        rnn.Forward(x, y, h0, hn);
        AssertClose(g.Data("output"), y.Data, tolerance, "output");
        AssertClose(g.Data("h_n"), hn.Hidden.Data, tolerance, "h_n");

        // loss = Σ output ⊙ R + Σ h_n ⊙ R_hn
        var r = g.Data<T>("R");
        double loss = 0;
        for (int i = 0; i < r.Length; i++)
        {
            loss += double.CreateTruncating(y.Data[i] * r[i]);
        }

        var rhn = g.Data<T>("R_hn");
        for (int i = 0; i < rhn.Length; i++)
        {
            loss += double.CreateTruncating(hn.Hidden.Data[i] * rhn[i]);
        }

        Assert.Equal(g.Scalar("loss_value"), loss, tolerance * 10);

        var dOut = Tensor<T>.FromArray(r, steps, batch, hidden);
        var dFinal = rnn.CreateState(batch);
        rhn.CopyTo(dFinal.Hidden.Data, 0);
        var dx = new Tensor<T>(steps, batch, inputSize);
        var dh0 = rnn.CreateState(batch);
        rnn.Backward(dOut, dFinal, dx, dh0);
        foreach (string name in new[] { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0" })
        {
            AssertClose(g.Data("grad_" + name), rnn.Parameters[name].Gradients.ToArray(), tolerance, "grad_" + name);
        }

        AssertClose(g.Data("grad_x"), dx.Data, tolerance, "grad_x");
        AssertClose(g.Data("grad_h0"), dh0.Hidden.Data, tolerance, "grad_h0");
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
