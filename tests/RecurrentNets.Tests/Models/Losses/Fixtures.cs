using System.Numerics;
using RecurrentNets.Models;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Models.Losses;

/// <summary>Random batches and outputs for the loss and metric tests, and the naive losses they are checked against.</summary>
internal static class Fixtures
{
    /// <summary>A batch of class targets in [0, classes) with some -1 (ignored) rows; rows past the end hold junk targets (even out of range).</summary>
    public static SequenceBatch<T> Classes<T>(Random random, int steps, int batchSize, int classes, bool perStep, int[] lengths)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var batch = new SequenceBatch<T>(steps, batchSize, 1, TargetKind.Classes, perStep ? steps : 1);
        lengths.CopyTo(batch.Lengths, 0);
        int[] targets = batch.Classes!;
        for (int r = 0; r < targets.Length; r++)
        {
            int t = r / batchSize, b = r % batchSize;
            targets[r] = !batch.IsValid(t, b) ? classes + 7 : random.Next(5) == 0 ? -1 : random.Next(classes);
        }

        return batch;
    }

    /// <summary>A batch of real targets; when <paramref name="distributions"/>, each row is a probability distribution. Rows past the end hold NaN.</summary>
    public static SequenceBatch<T> Values<T>(Random random, int steps, int batchSize, int size, bool perStep, int[] lengths, bool distributions)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var batch = new SequenceBatch<T>(steps, batchSize, 1, TargetKind.Values, perStep ? steps : 1, size);
        lengths.CopyTo(batch.Lengths, 0);
        Tensor<T> values = batch.Values!;
        for (int t = 0; t < batch.TargetSteps; t++)
        {
            for (int b = 0; b < batchSize; b++)
            {
                Span<T> row = values.Row(t, b);
                if (!batch.IsValid(t, b))
                {
                    row.Fill(T.NaN);
                    continue;
                }

                double total = 0;
                for (int c = 0; c < size; c++)
                {
                    double v = distributions ? random.NextDouble() : random.NextDouble() * 4 - 2;
                    total += v;
                    row[c] = T.CreateTruncating(v);
                }

                if (distributions)
                {
                    for (int c = 0; c < size; c++)
                    {
                        row[c] /= T.CreateTruncating(total);
                    }
                }
            }
        }

        return batch;
    }

    /// <summary>An output [T', B, O] of values in [-3, 3).</summary>
    public static Tensor<T> Output<T>(Random random, SequenceBatch<T> batch, int size)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var output = new Tensor<T>(batch.TargetSteps, batch.BatchSize, size);
        for (int i = 0; i < output.Length; i++)
        {
            output.Data[i] = T.CreateTruncating(random.NextDouble() * 6 - 3);
        }

        return output;
    }

    /// <summary>The cross-entropy written out: Σ over counted rows of logsumexp(o) - Σ_c p_c·o_c, and the rows counted.</summary>
    public static (double Sum, int Rows) NaiveCrossEntropy(Tensor<double> output, SequenceBatch<double> batch)
    {
        int classes = output.Size(2), rows = 0;
        double sum = 0;
        for (int t = 0; t < batch.TargetSteps; t++)
        {
            for (int b = 0; b < batch.BatchSize; b++)
            {
                bool inside = batch.TargetSteps == 1 || t < batch.Lengths[b];
                if (!inside)
                {
                    continue;
                }

                double logSumExp = 0;
                for (int c = 0; c < classes; c++)
                {
                    logSumExp += Math.Exp(output[t, b, c]);
                }

                logSumExp = Math.Log(logSumExp);
                if (batch.TargetKind == TargetKind.Classes)
                {
                    int target = batch.Classes![t * batch.BatchSize + b];
                    if (target == -1)
                    {
                        continue;
                    }

                    sum += logSumExp - output[t, b, target];
                }
                else
                {
                    for (int c = 0; c < classes; c++)
                    {
                        sum += batch.Values![t, b, c] * (logSumExp - output[t, b, c]);
                    }
                }

                rows++;
            }
        }

        return (sum, rows);
    }

    /// <summary>Σ over the elements of rows inside their sequence of f(ŷ - y), and the elements counted.</summary>
    public static (double Sum, int Elements) NaiveElementwise(Tensor<double> output, SequenceBatch<double> batch, Func<double, double> f)
    {
        int size = output.Size(2), elements = 0;
        double sum = 0;
        for (int t = 0; t < batch.TargetSteps; t++)
        {
            for (int b = 0; b < batch.BatchSize; b++)
            {
                if (batch.TargetSteps > 1 && t >= batch.Lengths[b])
                {
                    continue;
                }

                for (int c = 0; c < size; c++)
                {
                    sum += f(output[t, b, c] - batch.Values![t, b, c]);
                    elements++;
                }
            }
        }

        return (sum, elements);
    }
}
