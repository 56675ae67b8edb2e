using System.Numerics;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Golden;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// LSTM with projections (PyTorch <c>proj_size</c>) against torch.nn.LSTM of Debian's python3-torch (libtorch 1.13): one
/// layer; two bidirectional layers; two layers without biases. Outputs, h_n, c_n and every gradient (all parameters
/// by PyTorch's names and in its order, x, h0, c0). Made by Golden/scripts/make_lstmp.py.
/// </summary>
public class LstmProjectionGoldenTests
{
    public static TheoryData<string> Files => ["torch-lstmp.json", "torch-lstmp-stack.json", "torch-lstmp-nobias.json"];

    [Theory]
    [MemberData(nameof(Files))]
    public void DoubleMatchesPyTorchTo1e10(string file) => Check<double>(file, 1e-10, threads: 1);

    [Theory]
    [MemberData(nameof(Files))]
    public void DoubleMatchesPyTorchOnTwoThreads(string file) => Check<double>(file, 1e-10, threads: 2);

    [Theory]
    [MemberData(nameof(Files))]
    public void FloatMatchesPyTorchTo1e4(string file) => Check<float>(file, 1e-4, threads: 1);

    private static void Check<T>(string file, double tolerance, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = GoldenFile.Load(file);
        int steps = g.Size("seq_len"), batch = g.Size("batch"), inputSize = g.Size("input_size"), hidden = g.Size("hidden_size");
        int proj = g.Size("proj_size"), layers = g.Size("num_layers"), directions = g.Size("directions");
        var layer = new Lstm<T>(inputSize, hidden, layers, bias: g.Flag("bias"), bidirectional: directions == 2, projectionSize: proj)
        {
            MaxDegreeOfParallelism = threads,
        };
        Assert.Equal(proj, layer.StateSize);
        Assert.Equal(directions * proj, layer.OutputSize);
        string[] names = g.Strings("parameters");
        Assert.Equal(names, layer.ParameterViews.Select(v => v.Name).ToArray());
        foreach (string name in names)
        {
            Assert.Equal(g.Shape(name), layer.Parameters[name].Shape.ToArray());
            layer.Parameters[name].CopyFrom(g.Data<T>(name));
        }

        var x = Tensor<T>.FromArray(g.Data<T>("x"), steps, batch, inputSize);
        var initial = layer.CreateState(batch);
        Assert.Equal(g.Shape("h0"), initial.Hidden.Shape.ToArray());
        Assert.Equal(g.Shape("c0"), initial.Cell!.Shape.ToArray());
        g.Data<T>("h0").CopyTo(initial.Hidden.Data, 0);
        g.Data<T>("c0").CopyTo(initial.Cell.Data, 0);

        var y = new Tensor<T>(steps, batch, layer.OutputSize);
        var final = layer.CreateState(batch);
        layer.Forward(x, y, initial, final);
        TorchGoldenTests.AssertClose(g.Data("output"), y.Data, tolerance, "output");
        TorchGoldenTests.AssertClose(g.Data("h_n"), final.Hidden.Data, tolerance, "h_n");
        TorchGoldenTests.AssertClose(g.Data("c_n"), final.Cell!.Data, tolerance, "c_n");

        var dFinal = layer.CreateState(batch);
        g.Data<T>("R_hn").CopyTo(dFinal.Hidden.Data, 0);
        g.Data<T>("R_cn").CopyTo(dFinal.Cell!.Data, 0);
        var dx = new Tensor<T>(steps, batch, inputSize);
        var dInitial = layer.CreateState(batch);
        layer.Backward(Tensor<T>.FromArray(g.Data<T>("R"), steps, batch, layer.OutputSize), dFinal, dx, dInitial);
        foreach (string name in names)
        {
            TorchGoldenTests.AssertClose(g.Data("grad_" + name), layer.Parameters[name].Gradients.ToArray(), tolerance, "grad_" + name);
        }

        TorchGoldenTests.AssertClose(g.Data("grad_x"), dx.Data, tolerance, "grad_x");
        TorchGoldenTests.AssertClose(g.Data("grad_h0"), dInitial.Hidden.Data, tolerance, "grad_h0");
        TorchGoldenTests.AssertClose(g.Data("grad_c0"), dInitial.Cell!.Data, tolerance, "grad_c0");
    }
}
