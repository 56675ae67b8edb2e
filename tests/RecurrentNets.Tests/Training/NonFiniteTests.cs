using System.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;

namespace RecurrentNets.Tests.Training;

/// <summary>Issue 18, item 1: a NaN or Inf never reaches the weights unannounced.</summary>
public sealed class NonFiniteTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("rn-nonfinite-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    public static TheoryData<string, double> BadGradients => new()
    {
        { "sgd", double.NaN },
        { "sgd-momentum", double.PositiveInfinity },
        { "sgd-nesterov-decay", double.NegativeInfinity },
        { "adam", double.NaN },
        { "adamw", double.PositiveInfinity },
    };

    private static ParameterBlock<T> TwoViews<T>()
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var block = new ParameterBlock<T>();
        block.Add("weight", 3, 4);
        block.Add("bias", 5);
        for (int i = 0; i < block.Length; i++)
        {
            block.Values[i] = T.CreateTruncating(Math.Sin(i + 1));
            block.Gradients[i] = T.CreateTruncating(Math.Cos(3 * i));
        }

        return block;
    }

    private static Optimizer<double> Create(string kind, ParameterBlock<double> block) => kind switch
    {
        "sgd" => new Sgd<double>(block, 0.1),
        "sgd-momentum" => new Sgd<double>(block, 0.1, momentum: 0.9),
        "sgd-nesterov-decay" => new Sgd<double>(block, 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true),
        "adam" => new Adam<double>(block, 0.01),
        "adamw" => new Adam<double>(block, 0.01, weightDecay: 0.1, decoupledWeightDecay: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(BadGradients))]
    public void AnOptimiserRefusesANonFiniteStepAndLeavesEverythingAsItWas(string kind, double bad)
    {
        var block = TwoViews<double>();
        var optimizer = Create(kind, block);
        optimizer.Step(); // a good step first, so the state buffers hold something
        double[] values = [.. block.Values];
        double[][] state = [.. optimizer.StateBuffers.Select(s => s.Buffer.ToArray())];
        block["bias"].Gradients[2] = bad;

        var e = Assert.Throws<NonFiniteGradientException>(optimizer.Step);
        Assert.Equal("bias", e.ParameterName);
        Assert.Contains("'bias'", e.Message, StringComparison.Ordinal);
        Assert.Equal(values, block.Values);
        Assert.Equal(state, optimizer.StateBuffers.Select(s => s.Buffer));
        Assert.Equal(1, optimizer.StepCount);

        // Once the gradient is good again the optimiser goes on.
        block["bias"].Gradients[2] = 0.5;
        optimizer.Step();
        Assert.Equal(2, optimizer.StepCount);
    }

    [Theory]
    [InlineData("sgd-nesterov-decay")]
    [InlineData("adamw")]
    public void TheFiniteCheckDoesNotAllocate(string kind)
    {
        var block = TwoViews<double>();
        var optimizer = Create(kind, block);
        optimizer.Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            optimizer.Step();
            GradientClipping.ClipGradientNorm(block, 1.0, errorIfNonFinite: true);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void TheExceptionNamesTheFirstViewWithABadGradientInFloat()
    {
        var block = TwoViews<float>();
        block["weight"].Gradients[7] = float.NaN;
        block["bias"].Gradients[0] = float.PositiveInfinity;
        var adam = new Adam<float>(block);
        var e = Assert.Throws<NonFiniteGradientException>(adam.Step);
        Assert.Equal("weight", e.ParameterName);
        Assert.IsAssignableFrom<ArithmeticException>(e);
    }

    [Fact]
    public void ClipGradientNormRaisesOnANonFiniteNormWhenAskedAsPyTorchDoes()
    {
        var block = TwoViews<double>();
        block["bias"].Gradients[4] = double.NaN;
        double[] gradients = [.. block.Gradients];
        var e = Assert.Throws<NonFiniteGradientException>(() => GradientClipping.ClipGradientNorm(block, 1.0, errorIfNonFinite: true));
        Assert.Equal("bias", e.ParameterName);
        Assert.Equal(gradients, block.Gradients);

        // Without the flag the norm is returned as it is (PyTorch's default).
        Assert.True(double.IsNaN(GradientClipping.ClipGradientNorm(block, 1.0)));

        // A finite norm is clipped as before, with or without the flag.
        var good = TwoViews<double>();
        double norm = GradientClipping.ClipGradientNorm(good, 0.5, errorIfNonFinite: true);
        Assert.True(norm > 0.5);
        Assert.Equal(0.5, GradientClipping.GradientNorm(good), 1e-5);
    }

    [Fact]
    public void ClipGradientNormRaisesWhenTheNormOverflowsWithoutANonFiniteElement()
    {
        var block = new ParameterBlock<float>();
        block.Add("w", 4);
        block.Gradients.AsSpan().Fill(3e38f);
        var e = Assert.Throws<NonFiniteGradientException>(() => GradientClipping.ClipGradientNorm(block, 1.0, errorIfNonFinite: true));
        Assert.Null(e.ParameterName);
    }

    [Fact]
    public void ACheckpointHoldingNaNIsRefusedOnRequestAndLoadsWithAWarningByDefault()
    {
        var source = new Lstm<float>(2, 3, random: new SeededRandom(1));
        source.Parameters["bias_hh_l0"].Values[5] = float.NaN;
        source.Parameters["weight_ih_l0"].Values[1] = float.NegativeInfinity;
        string path = Path.Combine(directory, "nan.safetensors");
        Checkpoint.Save(path, source);

        var target = new Lstm<float>(2, 3, random: new SeededRandom(2));
        float[] before = [.. target.Parameters.Values];
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target.Parameters, nonFinite: NonFinitePolicy.Refuse));
        Assert.Contains("'weight_ih_l0'", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, target.Parameters.Values);
        Assert.Throws<InvalidDataException>(() => Checkpoint.LoadLayer<float>(path, NonFinitePolicy.Refuse));

        using var listener = new CapturingListener();
        Trace.Listeners.Add(listener);
        try
        {
            Checkpoint.Load(path, target.Parameters);
            var layer = Checkpoint.LoadLayer<float>(path);
            Assert.True(float.IsNaN(layer.Parameters["bias_hh_l0"].Values[5]));
        }
        finally
        {
            Trace.Listeners.Remove(listener);
        }

        Assert.True(float.IsNaN(target.Parameters["bias_hh_l0"].Values[5]));
        string warnings = listener.Text;
        Assert.Contains(path, warnings, StringComparison.Ordinal);
        Assert.Contains("'bias_hh_l0'", warnings, StringComparison.Ordinal);

        // Allow loads silently, as torch.load does.
        Checkpoint.Load(path, target.Parameters, nonFinite: NonFinitePolicy.Allow);
    }
}
