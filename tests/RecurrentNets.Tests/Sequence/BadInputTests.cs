using RecurrentNets.Cells;
using RecurrentNets.Models;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

public class BadInputTests
{
    private readonly Rnn<float> rnn = new(3, 5, numLayers: 2);

    [Fact]
    public void WrongInputWidthNamesBothSizes()
    {
        var ex = Assert.Throws<ArgumentException>(() => rnn.Forward(new Tensor<float>(4, 2, 7), new Tensor<float>(4, 2, 5)));
        Assert.Equal("input", ex.ParamName);
        Assert.Contains("7 features", ex.Message);
        Assert.Contains("expects 3 (inputSize)", ex.Message);
    }

    [Fact]
    public void InitialStateWithAnotherBatchSizeNamesBothShapes()
    {
        var output = new Tensor<float>(4, 2, 5);
        output.AsSpan().Fill(42);
        var state = new RecurrentState<float>(2, 3, 5, hasCell: false);
        var ex = Assert.Throws<ArgumentException>(() => rnn.Forward(new Tensor<float>(4, 2, 3), output, state));
        Assert.Equal("initialState.Hidden", ex.ParamName);
        Assert.Contains("[2, 3, 5]", ex.Message);
        Assert.Contains("[2, 2, 5]", ex.Message);
        Assert.All(output.Data, v => Assert.Equal(42f, v)); // nothing written before the checks
    }

    [Fact]
    public void WrongOutputShapeIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => rnn.Forward(new Tensor<float>(4, 2, 3), new Tensor<float>(4, 2, 6)));
        Assert.Equal("output", ex.ParamName);
        Assert.Contains("[4, 2, 6]", ex.Message);
        Assert.Contains("[4, 2, 5]", ex.Message);
    }

    [Fact]
    public void ZeroSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new Tensor<float>(0, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn<float>(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn<float>(3, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn<float>(3, 5, numLayers: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => rnn.CreateState(0));
    }

    [Fact]
    public void NonPositiveWindowIsRejected()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new TruncatedBptt<float>(rnn, -3, 2));
        Assert.Equal("windowLength", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TruncatedBptt<float>(rnn, 0, 2));
    }

    [Fact]
    public void StreamOfAnotherBatchSizeIsRejected()
    {
        var tbptt = new TruncatedBptt<float>(rnn, 4, 2);
        Assert.Throws<ArgumentNullException>(() => tbptt.Run(new Tensor<float>(10, 2, 3), null!));
        var ex = Assert.Throws<ArgumentException>(() => tbptt.Run(new Tensor<float>(10, 3, 3), new NoOp()));
        Assert.Contains("[10, 3, 3]", ex.Message);
    }

    [Fact]
    public void BackwardWithoutForwardIsAnInvalidOperation()
    {
        var fresh = new Rnn<float>(3, 5);
        Assert.Throws<InvalidOperationException>(() => fresh.Backward(new Tensor<float>(4, 2, 5)));
        fresh.Forward(new Tensor<float>(4, 2, 3), new Tensor<float>(4, 2, 5));
        var ex = Assert.Throws<ArgumentException>(() => fresh.Backward(new Tensor<float>(5, 2, 5)));
        Assert.Contains("[5, 2, 5]", ex.Message);
        fresh.Backward(new Tensor<float>(4, 2, 5));
        Assert.Throws<InvalidOperationException>(() => fresh.Backward(new Tensor<float>(4, 2, 5)));
    }

    [Theory]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Identity)]
    [InlineData((Activation)7)]
    public void ANonlinearityOtherThanTanhOrReluIsRejected(Activation nonlinearity)
    {
        // PyTorch's nn.RNN accepts only 'tanh' and 'relu'; the shared enum has more members, which the Elman cell refuses.
        var layer = Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn<float>(3, 5, nonlinearity: nonlinearity));
        Assert.Equal("nonlinearity", layer.ParamName);
        var cell = Assert.Throws<ArgumentOutOfRangeException>(() => new ElmanCell<float>(new ParameterBlock<float>(), 3, 5, nonlinearity));
        Assert.Equal("nonlinearity", cell.ParamName);
        var spec = Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceModel<float>(3).Add(Layer.Rnn(5, nonlinearity: nonlinearity)));
        Assert.Equal("nonlinearity", spec.ParamName);
    }

    private sealed class NoOp : IWindowObjective<float>
    {
        public double LossAndGradient(int windowStart, Tensor<float> output, Tensor<float> dOutput) => 0;

        public void AfterBackward(int windowStart)
        {
        }
    }
}
