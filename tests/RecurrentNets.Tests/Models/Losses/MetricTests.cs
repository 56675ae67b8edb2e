using RecurrentNets.Models;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Models.Losses;

/// <summary>
/// The metrics: values against the metric written out, accumulation over two batches equal to the metric over their
/// rows concatenated into one batch, names and directions, errors, no allocation after the first update.
/// </summary>
public class MetricTests
{
    private const int Steps = 4, Classes = 4, Size = 3;
    private static readonly int[] LengthsA = [4, 1], LengthsB = [2, 3, 4];

    public static TheoryData<string> ClassMetrics => ["accuracy", "perplexity", "bits_per_char"];

    public static TheoryData<string> ValueMetrics => ["mse", "mae", "perplexity", "bits_per_char"];

    private static IMetric<double> Create(string name) => name switch
    {
        "accuracy" => new Accuracy<double>(),
        "perplexity" => new Perplexity<double>(),
        "bits_per_char" => new BitsPerCharacter<double>(),
        "mse" => new MeanSquaredErrorMetric<double>(),
        "mae" => new MeanAbsoluteError<double>(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    // The metric written out over one batch.
    private static double Naive(string name, Tensor<double> output, SequenceBatch<double> batch)
    {
        switch (name)
        {
            case "perplexity":
                {
                    var (sum, rows) = Fixtures.NaiveCrossEntropy(output, batch);
                    return Math.Exp(sum / rows);
                }

            case "bits_per_char":
                {
                    var (sum, rows) = Fixtures.NaiveCrossEntropy(output, batch);
                    return sum / rows / Math.Log(2);
                }

            case "mse":
                {
                    var (sum, elements) = Fixtures.NaiveElementwise(output, batch, d => d * d);
                    return sum / elements;
                }

            case "mae":
                {
                    var (sum, elements) = Fixtures.NaiveElementwise(output, batch, Math.Abs);
                    return sum / elements;
                }

            default:
                {
                    int hits = 0, rows = 0;
                    for (int t = 0; t < batch.TargetSteps; t++)
                    {
                        for (int b = 0; b < batch.BatchSize; b++)
                        {
                            int target = batch.Classes![t * batch.BatchSize + b];
                            if ((batch.TargetSteps > 1 && t >= batch.Lengths[b]) || target == -1)
                            {
                                continue;
                            }

                            int best = 0;
                            for (int c = 1; c < Classes; c++)
                            {
                                best = output[t, b, c] > output[t, b, best] ? c : best;
                            }

                            hits += best == target ? 1 : 0;
                            rows++;
                        }
                    }

                    return (double)hits / rows;
                }
        }
    }

    private static SequenceBatch<double> ClassBatch(int seed, int[] lengths, bool perStep = true) =>
        Fixtures.Classes<double>(new Random(seed), Steps, lengths.Length, Classes, perStep, lengths);

    private static SequenceBatch<double> ValueBatch(string name, int seed, int[] lengths, bool perStep = true) =>
        Fixtures.Values<double>(new Random(seed), Steps, lengths.Length, Size, perStep, lengths, distributions: name is "perplexity" or "bits_per_char");

    // Two batches side by side along the batch axis: one batch of B1 + B2 sequences.
    private static (Tensor<double> Output, SequenceBatch<double> Batch) Concatenate(
        Tensor<double> outputA, SequenceBatch<double> a, Tensor<double> outputB, SequenceBatch<double> b)
    {
        int batchSize = a.BatchSize + b.BatchSize, steps = a.TargetSteps, size = outputA.Size(2);
        var batch = new SequenceBatch<double>(a.Steps, batchSize, 1, a.TargetKind, steps, size);
        var output = new Tensor<double>(steps, batchSize, size);
        a.Lengths.CopyTo(batch.Lengths, 0);
        b.Lengths.CopyTo(batch.Lengths, a.BatchSize);
        for (int t = 0; t < steps; t++)
        {
            for (int row = 0; row < batchSize; row++)
            {
                bool first = row < a.BatchSize;
                var (sourceOutput, source, r) = first ? (outputA, a, row) : (outputB, b, row - a.BatchSize);
                sourceOutput.Row(t, r).CopyTo(output.Row(t, row));
                if (batch.Classes is not null)
                {
                    batch.Classes[t * batchSize + row] = source.Classes![t * source.BatchSize + r];
                }
                else
                {
                    source.Values!.Row(t, r).CopyTo(batch.Values!.Row(t, row));
                }
            }
        }

        return (output, batch);
    }

    [Theory]
    [MemberData(nameof(ClassMetrics))]
    public void ClassMetricMatchesTheNaiveValueAndAccumulatesLikeOneBatch(string name)
    {
        var a = ClassBatch(41, LengthsA);
        var b = ClassBatch(42, LengthsB);
        AccumulatesLikeOneBatch(name, a, b, Classes);
    }

    [Theory]
    [MemberData(nameof(ValueMetrics))]
    public void ValueMetricMatchesTheNaiveValueAndAccumulatesLikeOneBatch(string name)
    {
        var a = ValueBatch(name, 43, LengthsA);
        var b = ValueBatch(name, 44, LengthsB);
        AccumulatesLikeOneBatch(name, a, b, Size);
    }

    private static void AccumulatesLikeOneBatch(string name, SequenceBatch<double> a, SequenceBatch<double> b, int size)
    {
        var outputA = Fixtures.Output(new Random(45), a, size);
        var outputB = Fixtures.Output(new Random(46), b, size);
        var metric = Create(name);
        Assert.Equal(name, metric.Name);

        metric.Update(outputA, a);
        Assert.Equal(Naive(name, outputA, a), metric.Result, 12);

        metric.Update(outputB, b);
        var (output, all) = Concatenate(outputA, a, outputB, b);
        double expected = Naive(name, output, all);
        Assert.Equal(expected, metric.Result, 12);
        Assert.NotEqual(0.5 * (Naive(name, outputA, a) + Naive(name, outputB, b)), metric.Result, 6); // weighted, not a mean of means

        var once = Create(name);
        once.Update(output, all);
        Assert.Equal(expected, once.Result, 12);

        metric.Reset();
        Assert.True(double.IsNaN(metric.Result));
        metric.Update(outputB, b);
        Assert.Equal(Naive(name, outputB, b), metric.Result, 12);
    }

    [Fact]
    public void PerSequenceTargetsCountEveryRowWhateverTheLengths()
    {
        var batch = ClassBatch(47, [1, 2, 1], perStep: false);
        Array.Fill(batch.Classes!, 2);
        var logits = new Tensor<double>(1, 3, Classes);
        logits[0, 0, 2] = 1; // right
        logits[0, 1, 2] = 1; // right
        logits[0, 2, 0] = 1; // wrong

        var accuracy = new Accuracy<double>();
        accuracy.Update(logits, batch);
        Assert.Equal(2.0 / 3.0, accuracy.Result, 15);
    }

    [Fact]
    public void NamesAndDirections()
    {
        Assert.True(new Accuracy<float>().HigherIsBetter);
        IMetric<float>[] lower = [new Perplexity<float>(), new BitsPerCharacter<float>(), new MeanSquaredErrorMetric<float>(), new MeanAbsoluteError<float>()];
        Assert.All(lower, m => Assert.False(m.HigherIsBetter));
        Assert.Equal(["perplexity", "bits_per_char", "mse", "mae"], lower.Select(m => m.Name));
        Assert.True(double.IsNaN(new Accuracy<float>().Result));
        Assert.Equal("cross_entropy", new CrossEntropy<float>().Name);
        Assert.Equal("mse", new MeanSquaredError<float>().Name);
    }

    [Fact]
    public void NothingCountedLeavesTheResultNaN()
    {
        var batch = ClassBatch(48, LengthsB);
        Array.Fill(batch.Classes!, -1);
        var accuracy = new Accuracy<double>();
        var perplexity = new Perplexity<double>();
        var logits = Fixtures.Output(new Random(49), batch, Classes);
        accuracy.Update(logits, batch);
        perplexity.Update(logits, batch);
        Assert.True(double.IsNaN(accuracy.Result));
        Assert.True(double.IsNaN(perplexity.Result));
    }

    [Fact]
    public void WrongKindOrShapeIsRejected()
    {
        var values = ValueBatch("mse", 50, LengthsB);
        var classes = ClassBatch(51, LengthsB);

        var ex = Assert.Throws<ArgumentException>(() => new Accuracy<double>().Update(new Tensor<double>(Steps, 3, Size), values));
        Assert.Contains("accuracy needs targets of kind Classes", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new MeanAbsoluteError<double>().Update(new Tensor<double>(Steps, 3, Classes), classes));
        Assert.Contains("mae needs targets of kind Values", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<ArgumentException>(() => new MeanSquaredErrorMetric<double>().Update(new Tensor<double>(Steps, 2, Size), values));
        Assert.Contains("[4, 2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 3, 3]", ex.Message, StringComparison.Ordinal);

        classes.Classes![2 * 3 + 1] = Classes; // row (t=2, b=1), inside its sequence of 3
        ex = Assert.Throws<ArgumentException>(() => new Accuracy<double>().Update(new Tensor<double>(Steps, 3, Classes), classes));
        Assert.Contains("(t=2, b=1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SecondUpdateAllocatesNothing()
    {
        var classes = Fixtures.Classes<float>(new Random(52), Steps, 3, Classes, true, LengthsB);
        var values = Fixtures.Values<float>(new Random(53), Steps, 3, Size, true, LengthsB, distributions: false);
        var logits = Fixtures.Output(new Random(54), classes, Classes);
        var prediction = Fixtures.Output(new Random(55), values, Size);
        IMetric<float>[] onClasses = [new Accuracy<float>(), new Perplexity<float>(), new BitsPerCharacter<float>()];
        IMetric<float>[] onValues = [new MeanSquaredErrorMetric<float>(), new MeanAbsoluteError<float>()];
        foreach (var metric in onClasses)
        {
            metric.Update(logits, classes);
            Assert.Equal(0, SteadyState.AllocatedBytes(_ => metric.Update(logits, classes), 5));
        }

        foreach (var metric in onValues)
        {
            metric.Update(prediction, values);
            Assert.Equal(0, SteadyState.AllocatedBytes(_ => metric.Update(prediction, values), 5));
        }
    }
}
