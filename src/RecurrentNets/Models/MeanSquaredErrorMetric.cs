using System.Numerics;
using RecurrentNets.Losses;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// Mean squared error as a metric: mean over counted elements of (ŷ - y)². Keras: <c>metrics.MeanSquaredError</c>
/// (<c>metrics=["mse"]</c>); torchmetrics: <c>MeanSquaredError</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Elements count as for <see cref="MeanSquaredError{T}"/>, whose loss it reads: those of rows inside their sequence.
/// Accumulates the summed squared error and the counted elements in double over the batches, so the epoch value is the
/// MSE over all their rows at once. Allocates nothing.
/// </remarks>
public sealed class MeanSquaredErrorMetric<T> : IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MeanSquaredError<T> loss = new();
    private double sum;
    private long counted;

    /// <inheritdoc/>
    /// <value><c>mse</c>.</value>
    public string Name => "mse";

    /// <inheritdoc/>
    /// <value>False.</value>
    public bool HigherIsBetter => false;

    /// <inheritdoc/>
    public double Result => counted == 0 ? double.NaN : sum / counted;

    /// <inheritdoc/>
    public void Reset()
    {
        sum = 0;
        counted = 0;
    }

    /// <summary>Adds a batch: predictions <paramref name="output"/> [T', B, O] against the batch's values.</summary>
    /// <param name="output">Predictions ŷ, the shape of <see cref="SequenceBatch{T}.Values"/>.</param>
    /// <param name="batch">Real targets and the lengths (rows past a sequence's end are masked when T' &gt; 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> or <paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">As <see cref="MeanSquaredError{T}.Compute"/>.</exception>
    public void Update(Tensor<T> output, SequenceBatch<T> batch)
    {
        sum += loss.Evaluate(output, batch, null, LossReduction.Sum, out int elements);
        counted += elements;
    }
}
