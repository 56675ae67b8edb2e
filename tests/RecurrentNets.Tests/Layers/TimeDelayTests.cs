using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Reference;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Sequence;

namespace RecurrentNets.Tests.Layers;

/// <summary>
/// The time-delay layer and stack: the GEMM form against the naive loops on odd sizes, the Conv1d kernel-index
/// mapping, finite-difference gradients in double (every parameter and the input; several kernel sizes, dilations and
/// activations; one and two layers; losses on every step and on the last step only), the receptive field, bad input
/// and zero allocation in steady state.
/// </summary>
public class TimeDelayTests
{
    public static TheoryData<int, int, int, int, int, int, Activation, bool> OddSizes() => new()
    {
        // T, B, I, O, K, dilation, f, bias
        { 1, 1, 1, 1, 1, 1, Activation.Identity, true },
        { 7, 3, 5, 9, 3, 1, Activation.Tanh, true },
        { 13, 5, 17, 11, 4, 3, Activation.Relu, false },
        { 5, 2, 3, 7, 4, 2, Activation.Sigmoid, true },      // (K - 1)·δ = 6 > T - 1: the oldest taps see only zeros
        { 31, 7, 33, 19, 5, 2, Activation.Tanh, true },
        { 67, 9, 70, 65, 3, 7, Activation.Identity, true },
    };

    [Theory]
    [MemberData(nameof(OddSizes))]
    public void FastPathMatchesTheNaiveLoopsInDouble(int steps, int batch, int inputSize, int outputSize, int kernelSize, int dilation, Activation f, bool bias)
    {
        Compare<double>(steps, batch, inputSize, outputSize, kernelSize, dilation, f, bias, 1e-12);
    }

    [Theory]
    [MemberData(nameof(OddSizes))]
    public void FastPathMatchesTheNaiveLoopsInFloat(int steps, int batch, int inputSize, int outputSize, int kernelSize, int dilation, Activation f, bool bias)
    {
        // Float sums of up to T·B = 603 products cancel: the tolerance allows the rounding of that many terms.
        Compare<float>(steps, batch, inputSize, outputSize, kernelSize, dilation, f, bias, 2e-4);
    }

    private static void Compare<T>(int steps, int batch, int inputSize, int outputSize, int kernelSize, int dilation, Activation f, bool bias, double tolerance)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new SeededRandom((ulong)(steps * 1000 + inputSize));
        var layer = new TimeDelayLayer<T>(inputSize, outputSize, kernelSize, dilation, f, bias, random);
        var x = new Tensor<T>(steps, batch, inputSize);
        var dy = new Tensor<T>(steps, batch, outputSize);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = T.CreateTruncating(random.NextNormal());
        }

        for (int i = 0; i < dy.Length; i++)
        {
            dy.Data[i] = T.CreateTruncating(random.NextNormal());
        }

        var y = new Tensor<T>(steps, batch, outputSize);
        var dx = new Tensor<T>(steps, batch, inputSize);
        // Run twice: the second pass reuses every buffer and must give the same result.
        for (int pass = 0; pass < 2; pass++)
        {
            layer.Parameters.ZeroGradients();
            layer.Forward(x, y);
            dx.AsSpan().Fill(T.NaN); // overwritten, never read
            layer.Backward(dy, dx);
        }

        var yRef = new T[y.Length];
        var dxRef = new T[dx.Length];
        var dwRef = new T[layer.Weight.Length];
        var dbRef = new T[outputSize];
        ReadOnlySpan<T> b = layer.Bias is null ? default : layer.Bias.Values;
        ReferenceTimeDelay.Forward<T>(x.Data, layer.Weight.Values, b, steps, batch, inputSize, outputSize, kernelSize, dilation, f, yRef);
        ReferenceTimeDelay.Backward<T>(x.Data, yRef, dy.Data, layer.Weight.Values, steps, batch, inputSize, outputSize, kernelSize, dilation, f,
            dwRef, layer.Bias is null ? default : dbRef, dxRef);

        AssertClose("y", yRef, y.Data, tolerance);
        AssertClose("dx", dxRef, dx.Data, tolerance);
        AssertClose("dW", dwRef, layer.Weight.Gradients.ToArray(), tolerance);
        if (layer.Bias is not null)
        {
            AssertClose("db", dbRef, layer.Bias.Gradients.ToArray(), tolerance);
        }
    }

    private static void AssertClose<T>(string name, T[] expected, T[] actual, double tolerance)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            Assert.True(Math.Abs(e - a) <= tolerance * Math.Max(1, Math.Abs(e)), $"{name}[{i}]: expected {e}, got {a}");
        }
    }

    [Fact]
    public void LastKernelIndexIsTheCurrentFrameAsInLeftPaddedConv1d()
    {
        // weight [O=1, I=1, K=3], dilation 2: PyTorch's Conv1d on x left-padded by 4 computes
        // y(t) = w[0]·x(t - 4) + w[1]·x(t - 2) + w[2]·x(t).
        var layer = new TimeDelayLayer<double>(1, 1, kernelSize: 3, dilation: 2, activation: Activation.Identity, bias: false);
        layer.Weight.CopyFrom([100, 10, 1]);
        var x = Tensor<double>.FromArray([1, 2, 3, 4, 5, 6], 6, 1, 1);
        var y = new Tensor<double>(6, 1, 1);
        layer.Forward(x, y);
        Assert.Equal([1, 2, 13, 24, 135, 246], y.Data);
        Assert.Equal(5, layer.ReceptiveField);
    }

    public static TheoryData<int, int, Activation, bool> GradientCases() => new()
    {
        // K, dilation, f, last step only
        { 1, 1, Activation.Tanh, false },
        { 3, 1, Activation.Tanh, false },
        { 3, 1, Activation.Tanh, true },
        { 2, 3, Activation.Sigmoid, false },
        { 4, 2, Activation.Identity, true },
        { 3, 2, Activation.Relu, false },
        { 5, 3, Activation.Tanh, true },   // the window reaches past the start: (K - 1)·δ = 12 > T - 1
    };

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void GradientsMatchFiniteDifferences(int kernelSize, int dilation, Activation f, bool lastStepOnly)
    {
        const int steps = 9, batch = 2, inputSize = 3, outputSize = 4;
        var layer = new TimeDelayLayer<double>(inputSize, outputSize, kernelSize, dilation, f, random: new SeededRandom(3));
        if (f == Activation.Relu)
        {
            // Keep pre-activations away from the kink at 0, where finite differences are not a derivative.
            layer.Bias!.Values.Fill(0.3);
        }

        var objective = new Objective(EngineTests.Random(new SeededRandom(4), steps, batch, inputSize), outputSize, lastStepOnly, new SeededRandom(5));
        CheckAll(layer.Parameters, objective, (x, y) => layer.Forward(x, y), (dy, dx) => layer.Backward(dy, dx));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StackedLayersGradientsMatchFiniteDifferences(bool lastStepOnly)
    {
        const int steps = 11, batch = 2, inputSize = 2;
        var stack = new TimeDelayNetwork<double>(inputSize, [5, 3], [3, 2], [1, 3], Activation.Tanh, Activation.Sigmoid, random: new SeededRandom(6));
        Assert.Equal(1 + 2 + 3, stack.ReceptiveField);
        Assert.Equal(["tdnn.0.weight", "tdnn.0.bias", "tdnn.1.weight", "tdnn.1.bias"], stack.Parameters.Views.Select(v => v.Name));
        Assert.Equal([3, 5, 2], stack.Parameters["tdnn.1.weight"].Shape.ToArray());
        var objective = new Objective(EngineTests.Random(new SeededRandom(7), steps, batch, inputSize), stack.OutputSize, lastStepOnly, new SeededRandom(8));
        CheckAll(stack.Parameters, objective, (x, y) => stack.Forward(x, y), (dy, dx) => stack.Backward(dy, dx));
    }

    /// <summary>L = Σ w ⊙ sin(y) over every step, or over the last step only.</summary>
    private sealed class Objective(Tensor<double> input, int outputSize, bool lastStepOnly, SeededRandom random)
    {
        public Tensor<double> Input { get; } = input;

        public Tensor<double> Output { get; } = new(input.Size(0), input.Size(1), outputSize);

        public Tensor<double> DOutput { get; } = new(input.Size(0), input.Size(1), outputSize);

        public Tensor<double> DInput { get; } = new(input.Shape.ToArray());

        private readonly double[] weights = EngineTests.Random(random, input.Size(0), input.Size(1), outputSize).Data;

        public double Evaluate()
        {
            int first = lastStepOnly ? (Input.Size(0) - 1) * Input.Size(1) * Output.Size(2) : 0;
            double loss = 0;
            DOutput.Clear();
            for (int i = first; i < Output.Length; i++)
            {
                loss += weights[i] * Math.Sin(Output.Data[i]);
                DOutput.Data[i] = weights[i] * Math.Cos(Output.Data[i]);
            }

            return loss;
        }
    }

    private static void CheckAll(ParameterBlock<double> parameters, Objective objective,
        Action<Tensor<double>, Tensor<double>> forward, Action<Tensor<double>, Tensor<double>> backward)
    {
        double LossAndBackward()
        {
            forward(objective.Input, objective.Output);
            double loss = objective.Evaluate();
            backward(objective.DOutput, objective.DInput);
            return loss;
        }

        foreach (var result in GradientCheck.CheckParameters(parameters, LossAndBackward))
        {
            Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
        }

        LossAndBackward();
        double[] dInput = (double[])objective.DInput.Data.Clone();
        var inputResult = GradientCheck.Compare("input", objective.Input.Data, dInput, LossAndBackward);
        Assert.True(inputResult.MaxRelativeError < 1e-6, inputResult.ToString());
    }

    [Fact]
    public void StackedOutputDependsOnExactlyTheReceptiveField()
    {
        // Layers (K, δ) = (3, 1), (3, 2), (2, 4): receptive field 1 + 2 + 4 + 4 = 11 frames.
        const int steps = 30, batch = 1, changed = 8;
        var stack = new TimeDelayNetwork<double>(1, [4, 4, 1], [3, 3, 2], [1, 2, 4], random: new SeededRandom(2));
        Assert.Equal(11, stack.ReceptiveField);
        var x = EngineTests.Random(new SeededRandom(3), steps, batch, 1);
        var y = new Tensor<double>(steps, batch, 1);
        stack.Forward(x, y);
        double[] before = (double[])y.Data.Clone();
        x.Data[changed] += 1;
        stack.Forward(x, y);
        for (int t = 0; t < steps; t++)
        {
            bool inside = t >= changed && t < changed + stack.ReceptiveField;
            Assert.True(inside == (y.Data[t] != before[t]), $"t = {t}: output {(inside ? "unchanged" : "changed")} by a change of x({changed})");
        }
    }

    [Fact]
    public void BadInputIsRejectedWithBothShapes()
    {
        var zeroKernel = Assert.Throws<ArgumentOutOfRangeException>(() => new TimeDelayLayer<float>(3, 4, kernelSize: 0));
        Assert.Equal("kernelSize", zeroKernel.ParamName);
        var zeroDilation = Assert.Throws<ArgumentOutOfRangeException>(() => new TimeDelayLayer<float>(3, 4, 2, dilation: 0));
        Assert.Equal("dilation", zeroDilation.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimeDelayLayer<float>(0, 4, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimeDelayLayer<float>(3, 4, 2, activation: (Activation)17));

        var layer = new TimeDelayLayer<float>(3, 4, 2);
        var wrongWidth = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor<float>(5, 2, 7), new Tensor<float>(5, 2, 4)));
        Assert.Equal("input", wrongWidth.ParamName);
        Assert.Contains("7 features (shape [5, 2, 7])", wrongWidth.Message);
        Assert.Contains("expects 3 (inputSize)", wrongWidth.Message);
        var wrongOutput = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor<float>(5, 2, 3), new Tensor<float>(5, 2, 5)));
        Assert.Equal("output", wrongOutput.ParamName);
        Assert.Contains("[5, 2, 5]", wrongOutput.Message);
        Assert.Contains("[5, 2, 4]", wrongOutput.Message);
        Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor<float>(5, 3), new Tensor<float>(5, 2, 4)));

        Assert.Throws<InvalidOperationException>(() => layer.Backward(new Tensor<float>(5, 2, 4)));
        layer.Forward(new Tensor<float>(5, 2, 3), new Tensor<float>(5, 2, 4));
        var wrongGradient = Assert.Throws<ArgumentException>(() => layer.Backward(new Tensor<float>(6, 2, 4)));
        Assert.Equal("dOutput", wrongGradient.ParamName);
        Assert.Contains("[6, 2, 4]", wrongGradient.Message);
        Assert.Contains("[5, 2, 4]", wrongGradient.Message);
        var wrongDInput = Assert.Throws<ArgumentException>(() => layer.Backward(new Tensor<float>(5, 2, 4), new Tensor<float>(5, 2, 4)));
        Assert.Equal("dInput", wrongDInput.ParamName);
        layer.Backward(new Tensor<float>(5, 2, 4));
        Assert.Throws<InvalidOperationException>(() => layer.Backward(new Tensor<float>(5, 2, 4)));

        Assert.Throws<ArgumentException>(() => new TimeDelayNetwork<float>(3, [4, 4], [3]));
        Assert.Throws<ArgumentException>(() => new TimeDelayNetwork<float>(3, [4, 4], [3, 3], [1]));
        Assert.Throws<ArgumentException>(() => new TimeDelayNetwork<float>(3, [], []));
        var stackWidth = Assert.Throws<ArgumentException>(() => new TimeDelayNetwork<float>(3, [4], [2]).Forward(new Tensor<float>(5, 2, 2), new Tensor<float>(5, 2, 4)));
        Assert.Contains("expects 3 (inputSize)", stackWidth.Message);
    }

    [Fact]
    public void TrainingStepAllocatesNothingAfterWarmUp()
    {
        const int steps = 40, batch = 8, classes = 2;
        var random = new SeededRandom(9);
        var block = new ParameterBlock<float>();
        var stack = new TimeDelayNetwork<float>(3, [16, 16], [4, 3], [1, 2], random: random, parameters: block);
        var head = new Linear<float>(16, classes, random: random, parameters: block);
        var optimizer = new Adam<float>(block, 1e-3);
        var x = new Tensor<float>(steps, batch, 3);
        var h = new Tensor<float>(steps, batch, 16);
        var dh = new Tensor<float>(steps, batch, 16);
        var dx = new Tensor<float>(steps, batch, 3);
        var logits = new float[steps * batch * classes];
        var dLogits = new float[logits.Length];
        var targets = new int[steps * batch];
        var data = new SeededRandom(10);

        void TrainStep()
        {
            RecurrentNets.Data.LaggedMatch.Generate(data, x, targets, lag: 5);
            optimizer.ZeroGradients();
            stack.Forward(x, h);
            head.Forward(h.Data, steps * batch, logits);
            CrossEntropyLoss.Compute<float>(logits, targets, classes, dLogits);
            head.Backward(h.Data, dLogits, steps * batch, dh.Data);
            stack.Backward(dh, dx);
            GradientClipping.ClipGradientNorm(block, 1.0);
            optimizer.Step();
        }

        for (int i = 0; i < 3; i++)
        {
            TrainStep();
        }

        long allocated = SteadyState.AllocatedBytes(_ => TrainStep(), 5);
        Assert.True(allocated == 0, $"{allocated} bytes allocated over 5 steady-state training steps");
    }
}
