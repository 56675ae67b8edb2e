using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// A metric that is a function of a mean: each batch adds a sum and a count (in double, so a long epoch loses no
/// precision in float), and <see cref="Result"/> is <see cref="Finish"/>(Σ sums / Σ counts), the value over every
/// counted row of the epoch at once. Derive from it to write a metric of your own.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public abstract class AccumulatedMetric<T> : IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private double sum;
    private long counted;

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public abstract bool HigherIsBetter { get; }

    /// <inheritdoc/>
    public double Result => counted == 0 ? double.NaN : Finish(sum / counted);

    /// <inheritdoc/>
    public void Reset()
    {
        sum = 0;
        counted = 0;
    }

    /// <summary>Adds a batch: <paramref name="output"/> [T', B, O] against the batch's targets, masked as the losses are.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> or <paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">The batch has the wrong kind of targets or the output the wrong shape (the message
    /// names both shapes).</exception>
    public void Update(Tensor<T> output, SequenceBatch<T> batch)
    {
        var (batchSum, batchCount) = Measure(output, batch);
        sum += batchSum;
        counted += batchCount;
    }

    /// <summary>The batch's sum and the number of rows or elements it counted.</summary>
    protected abstract (double Sum, long Count) Measure(Tensor<T> output, SequenceBatch<T> batch);

    /// <summary>The metric from the mean over the epoch (the identity by default).</summary>
    protected virtual double Finish(double mean) => mean;
}
