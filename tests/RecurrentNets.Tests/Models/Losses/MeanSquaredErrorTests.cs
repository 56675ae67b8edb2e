using RecurrentNets.Diagnostics;
using RecurrentNets.Models;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Models.Losses;

/// <summary>
/// <see cref="MeanSquaredError{T}"/>: finite-difference gradients in double per step (with lengths) and per sequence;
/// values against the loss written out; padded rows that cannot move the loss; errors; no allocation.
/// </summary>
public class MeanSquaredErrorTests(ITestOutputHelper output)
{
    private const int Steps = 5, BatchSize = 3, Size = 2;
    private static readonly int[] Ragged = [2, 5, 3];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GradientMatchesCentralDifferences(bool perStep)
    {
        var random = new Random(31);
        var batch = Fixtures.Values<double>(random, Steps, BatchSize, Size, perStep, Ragged, distributions: false);
        var prediction = Fixtures.Output(random, batch, Size);
        var dPrediction = new Tensor<double>(prediction.Shape.ToArray());
        var loss = new MeanSquaredError<double>();
        loss.Compute(prediction, batch, dPrediction);

        var result = GradientCheck.Compare("prediction", prediction.Data, dPrediction.Data, () => loss.Compute(prediction, batch, null), step: 1e-6);
        output.WriteLine(result.ToString());
        Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ValueIsTheMeanOverCountedElements(bool perStep)
    {
        var random = new Random(32);
        var batch = Fixtures.Values<double>(random, Steps, BatchSize, Size, perStep, Ragged, distributions: false);
        var prediction = Fixtures.Output(random, batch, Size);
        var (sum, elements) = Fixtures.NaiveElementwise(prediction, batch, d => d * d);
        Assert.Equal(perStep ? (2 + 5 + 3) * Size : BatchSize * Size, elements);

        Assert.Equal(sum / elements, new MeanSquaredError<double>().Compute(prediction, batch, null), 12);
    }

    [Fact]
    public void PaddedRowsDoNotMoveTheLossAndGetZeroGradient()
    {
        var random = new Random(33);
        var batch = Fixtures.Values<double>(random, Steps, BatchSize, Size, perStep: true, Ragged, distributions: false);
        var prediction = Fixtures.Output(random, batch, Size);
        var dPrediction = new Tensor<double>(prediction.Shape.ToArray());
        dPrediction.AsSpan().Fill(-7);
        var loss = new MeanSquaredError<double>();
        double before = loss.Compute(prediction, batch, dPrediction);
        Assert.True(double.IsFinite(before)); // the padded targets are NaN

        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < BatchSize; b++)
            {
                if (t >= Ragged[b])
                {
                    Assert.All(dPrediction.Row(t, b).ToArray(), d => Assert.Equal(0.0, d));
                    prediction.Row(t, b).Fill(-50 * t);
                }
            }
        }

        Assert.Equal(before, loss.Compute(prediction, batch, null));
    }

    [Fact]
    public void WrongOutputShapeNamesBothShapes()
    {
        var batch = Fixtures.Values<double>(new Random(34), Steps, BatchSize, Size, perStep: false, Ragged, distributions: false);
        var ex = Assert.Throws<ArgumentException>(() => new MeanSquaredError<double>().Compute(new Tensor<double>(Steps, BatchSize, Size), batch, null));
        Assert.Equal("output", ex.ParamName);
        Assert.Contains("[5, 3, 2]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 3, 2]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassTargetsAreRejected()
    {
        var batch = Fixtures.Classes<double>(new Random(35), Steps, BatchSize, 4, perStep: true, Ragged);
        var ex = Assert.Throws<ArgumentException>(() => new MeanSquaredError<double>().Compute(new Tensor<double>(Steps, BatchSize, 4), batch, null));
        Assert.Equal("batch", ex.ParamName);
        Assert.Contains("mse needs targets of kind Values", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Classes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SecondCallAllocatesNothing()
    {
        var batch = Fixtures.Values<float>(new Random(36), Steps, BatchSize, Size, perStep: true, Ragged, distributions: false);
        var prediction = Fixtures.Output(new Random(37), batch, Size);
        var dPrediction = new Tensor<float>(prediction.Shape.ToArray());
        var loss = new MeanSquaredError<float>();
        loss.Compute(prediction, batch, dPrediction);

        Assert.Equal(0, SteadyState.AllocatedBytes(_ => loss.Compute(prediction, batch, dPrediction), 5));
    }
}
