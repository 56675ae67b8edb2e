using RecurrentNets.Diagnostics;
using RecurrentNets.Losses;
using RecurrentNets.Models;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Losses;

namespace RecurrentNets.Tests.Models.Losses;

/// <summary>The model layer's CTC loss: log_softmax + <see cref="CtcLoss{T}"/> on label sequences carried in per-step class targets.</summary>
public sealed class ConnectionistTemporalClassificationTests
{
    private static SequenceBatch<double> Batch(int steps, int size, int[][] labels, int[] lengths)
    {
        var batch = new SequenceBatch<double>(steps, size, 2, TargetKind.Classes, targetSteps: steps);
        Array.Fill(batch.Classes!, -1);
        for (int b = 0; b < size; b++)
        {
            batch.Lengths[b] = lengths[b];
            for (int i = 0; i < labels[b].Length; i++)
            {
                batch.Classes![i * size + b] = labels[b][i];
            }
        }

        return batch;
    }

    [Fact]
    public void LossIsCtcOfTheLogSoftmaxAndItsGradientMatchesFiniteDifferences()
    {
        int steps = 7, size = 3, classes = 4;
        int[][] labels = [[1, 1, 2], [3], []];
        int[] lengths = [7, 5, 2];
        var batch = Batch(steps, size, labels, lengths);
        var x = CtcLossTests.RandomBatch(31, steps, size, classes, 1);
        var output = Tensor<double>.FromArray((double[])x.Logits.Clone(), steps, size, classes);
        var dOutput = new Tensor<double>(steps, size, classes);
        var loss = new ConnectionistTemporalClassification<double>();
        double value = loss.Compute(output, batch, dOutput);

        int[] flat = [.. labels.SelectMany(l => l)];
        double expected = new CtcLoss<double>().ComputeConcatenated(CtcLossTests.LogSoftmax(x.Logits, classes), steps, size, classes, flat,
            lengths, [.. labels.Select(l => l.Length)], []);
        Assert.Equal(expected, value, 1e-12);

        double[] values = output.Data;
        var check = GradientCheck.Compare("output", values, dOutput.AsSpan(), () => loss.Compute(output, batch, null));
        Assert.True(check.MaxRelativeError < 1e-6, check.ToString());
        for (int t = 2; t < steps; t++)
        {
            Assert.All(dOutput.AsSpan().Slice((t * size + 2) * classes, classes).ToArray(), g => Assert.Equal(0, g));
        }
    }

    [Fact]
    public void BadTargetsAreRejected()
    {
        var loss = new ConnectionistTemporalClassification<double>();
        var output = new Tensor<double>(4, 2, 3);
        var batch = Batch(4, 2, [[1], [2]], [4, 4]);
        batch.Classes![2 * 2 + 0] = 1; // a label after the -1 that ended sequence 0
        Assert.Contains("after a -1", Assert.Throws<ArgumentException>(() => loss.Compute(output, batch, null)).Message);
        Assert.Contains("[4, 2, O]", Assert.Throws<ArgumentException>(() => loss.Compute(new Tensor<double>(3, 2, 3), Batch(4, 2, [[1], [2]], [4, 4]), null)).Message);
        var perSequence = new SequenceBatch<double>(4, 2, 2, TargetKind.Classes, targetSteps: 1);
        Assert.Throws<ArgumentException>(() => loss.Compute(new Tensor<double>(1, 2, 3), perSequence, null));
    }
}
