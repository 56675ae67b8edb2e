using RecurrentNets.Diagnostics;
using RecurrentNets.Models;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Models.Losses;

/// <summary>
/// <see cref="CrossEntropy{T}"/>: finite-difference gradients in double for class and soft targets, per step (with
/// lengths) and per sequence; values against the loss written out; padded rows that cannot move the loss; errors;
/// no allocation after the first call.
/// </summary>
public class CrossEntropyTests(ITestOutputHelper output)
{
    private const int Steps = 4, BatchSize = 3, Classes = 5;
    private static readonly int[] Ragged = [4, 2, 3];

    public static TheoryData<bool, bool> Cases => new()
    {
        { false, true },  // class targets, one per step, ragged lengths
        { false, false }, // class targets, one per sequence
        { true, true },   // soft targets, one per step, ragged lengths
        { true, false },  // soft targets, one per sequence
    };

    private static SequenceBatch<double> Batch(Random random, bool soft, bool perStep) => soft
        ? Fixtures.Values<double>(random, Steps, BatchSize, Classes, perStep, Ragged, distributions: true)
        : Fixtures.Classes<double>(random, Steps, BatchSize, Classes, perStep, Ragged);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientMatchesCentralDifferences(bool soft, bool perStep)
    {
        var random = new Random(11);
        var batch = Batch(random, soft, perStep);
        var logits = Fixtures.Output(random, batch, Classes);
        var dLogits = new Tensor<double>(logits.Shape.ToArray());
        var loss = new CrossEntropy<double>();
        loss.Compute(logits, batch, dLogits);

        var result = GradientCheck.Compare("logits", logits.Data, dLogits.Data, () => loss.Compute(logits, batch, null), step: 1e-6);
        output.WriteLine(result.ToString());
        Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
        Assert.True(result.MaxAbsoluteError < 1e-9, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValueIsTheMeanOverCountedRows(bool soft, bool perStep)
    {
        var random = new Random(12);
        var batch = Batch(random, soft, perStep);
        var logits = Fixtures.Output(random, batch, Classes);
        var (sum, rows) = Fixtures.NaiveCrossEntropy(logits, batch);
        Assert.True(rows > 0);

        Assert.Equal(sum / rows, new CrossEntropy<double>().Compute(logits, batch, null), 12);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PaddedAndIgnoredRowsDoNotMoveTheLossAndGetZeroGradient(bool soft)
    {
        var random = new Random(13);
        var batch = Batch(random, soft, perStep: true);
        if (!soft)
        {
            batch.Classes![1 * BatchSize + 0] = -1; // row (1, 0), inside its sequence, ignored
        }

        var logits = Fixtures.Output(random, batch, Classes);
        var dLogits = new Tensor<double>(logits.Shape.ToArray());
        dLogits.AsSpan().Fill(123); // overwritten everywhere, zeros included
        var loss = new CrossEntropy<double>();
        double before = loss.Compute(logits, batch, dLogits);

        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < BatchSize; b++)
            {
                bool skipped = t >= Ragged[b] || (!soft && batch.Classes![t * BatchSize + b] == -1);
                if (skipped)
                {
                    Assert.All(dLogits.Row(t, b).ToArray(), d => Assert.Equal(0.0, d));
                    logits.Row(t, b).Fill(1e3 * (t + 1) * (b % 2 == 0 ? 1 : -1));
                }
                else
                {
                    Assert.Contains(dLogits.Row(t, b).ToArray(), d => d != 0);
                }
            }
        }

        Assert.Equal(before, loss.Compute(logits, batch, null));
    }

    [Fact]
    public void EverythingIgnoredGivesZeroLossAndZeroGradient()
    {
        var batch = new SequenceBatch<double>(2, 2, 1, TargetKind.Classes, 2);
        Array.Fill(batch.Classes!, -1);
        var logits = Fixtures.Output(new Random(14), batch, Classes);
        var dLogits = new Tensor<double>(2, 2, Classes);
        dLogits.AsSpan().Fill(1);

        Assert.Equal(0.0, new CrossEntropy<double>().Compute(logits, batch, dLogits));
        Assert.All(dLogits.Data, d => Assert.Equal(0.0, d));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FloatAgreesWithDouble(bool soft)
    {
        var batchD = Batch(new Random(15), soft, perStep: true);
        var logitsD = Fixtures.Output(new Random(16), batchD, Classes);
        SequenceBatch<float> batchF = soft
            ? Fixtures.Values<float>(new Random(15), Steps, BatchSize, Classes, true, Ragged, distributions: true)
            : Fixtures.Classes<float>(new Random(15), Steps, BatchSize, Classes, true, Ragged);
        var logitsF = Fixtures.Output(new Random(16), batchF, Classes);
        var dD = new Tensor<double>(logitsD.Shape.ToArray());
        var dF = new Tensor<float>(logitsF.Shape.ToArray());

        double lossD = new CrossEntropy<double>().Compute(logitsD, batchD, dD);
        double lossF = new CrossEntropy<float>().Compute(logitsF, batchF, dF);

        Assert.Equal(lossD, lossF, 5);
        for (int i = 0; i < dD.Length; i++)
        {
            Assert.Equal(dD.Data[i], dF.Data[i], 6);
        }
    }

    [Fact]
    public void WrongOutputShapeNamesBothShapes()
    {
        var classes = Fixtures.Classes<double>(new Random(17), Steps, BatchSize, Classes, perStep: true, Ragged);
        var loss = new CrossEntropy<double>();
        var ex = Assert.Throws<ArgumentException>(() => loss.Compute(new Tensor<double>(1, BatchSize, Classes), classes, null));
        Assert.Equal("output", ex.ParamName);
        Assert.Contains("[1, 3, 5]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 3, O]", ex.Message, StringComparison.Ordinal);

        var soft = Fixtures.Values<double>(new Random(17), Steps, BatchSize, Classes, perStep: true, Ragged, distributions: true);
        ex = Assert.Throws<ArgumentException>(() => loss.Compute(new Tensor<double>(Steps, BatchSize, 6), soft, null));
        Assert.Contains("[4, 3, 6]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 3, 5]", ex.Message, StringComparison.Ordinal);

        var logits = new Tensor<double>(Steps, BatchSize, Classes);
        ex = Assert.Throws<ArgumentException>(() => loss.Compute(logits, classes, new Tensor<double>(Steps, BatchSize, 2)));
        Assert.Equal("dOutput", ex.ParamName);
        Assert.Contains("[4, 3, 2]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 3, 5]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BatchWithoutTargetsIsRejected()
    {
        var batch = new SequenceBatch<double>(Steps, BatchSize, 2);
        var ex = Assert.Throws<ArgumentException>(() => new CrossEntropy<double>().Compute(new Tensor<double>(1, BatchSize, Classes), batch, null));
        Assert.Equal("batch", ex.ParamName);
        Assert.Contains("None", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassOutOfRangeNamesTheRowTheTargetAndTheClassCount()
    {
        var batch = Fixtures.Classes<double>(new Random(18), Steps, BatchSize, Classes, perStep: true, Ragged);
        batch.Classes![1 * BatchSize + 2] = Classes; // row (t=1, b=2), inside its sequence
        var logits = new Tensor<double>(Steps, BatchSize, Classes);

        var ex = Assert.Throws<ArgumentException>(() => new CrossEntropy<double>().Compute(logits, batch, null));
        output.WriteLine(ex.Message);
        Assert.Contains("(t=1, b=2)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("is 5", ex.Message, StringComparison.Ordinal);
        Assert.Contains("5 classes", ex.Message, StringComparison.Ordinal);

        batch.Classes[1 * BatchSize + 2] = -2;
        Assert.Throws<ArgumentException>(() => new CrossEntropy<double>().Compute(logits, batch, null));
    }

    [Fact]
    public void OutOfRangeTargetPastTheEndIsIgnored()
    {
        var batch = Fixtures.Classes<double>(new Random(19), Steps, BatchSize, Classes, perStep: true, Ragged);
        batch.Classes![3 * BatchSize + 1] = 99; // row (3, 1): sequence 1 has length 2
        double loss = new CrossEntropy<double>().Compute(Fixtures.Output(new Random(20), batch, Classes), batch, null);
        Assert.True(double.IsFinite(loss));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SecondCallAllocatesNothing(bool soft)
    {
        var batch = soft
            ? Fixtures.Values<float>(new Random(21), Steps, BatchSize, Classes, true, Ragged, distributions: true)
            : Fixtures.Classes<float>(new Random(21), Steps, BatchSize, Classes, true, Ragged);
        var logits = Fixtures.Output(new Random(22), batch, Classes);
        var dLogits = new Tensor<float>(logits.Shape.ToArray());
        var loss = new CrossEntropy<float>();
        loss.Compute(logits, batch, dLogits);

        Assert.Equal(0, SteadyState.AllocatedBytes(_ => loss.Compute(logits, batch, dLogits), 5));
    }
}
