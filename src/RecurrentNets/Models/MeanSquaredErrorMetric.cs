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
public sealed class MeanSquaredErrorMetric<T> : AccumulatedMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MeanSquaredError<T> loss = new();

    /// <inheritdoc/>
    /// <value><c>mse</c>.</value>
    public override string Name => "mse";

    /// <inheritdoc/>
    /// <value>False.</value>
    public override bool HigherIsBetter => false;

    /// <inheritdoc/>
    protected override (double Sum, long Count) Measure(Tensor<T> output, SequenceBatch<T> batch)
    {
        double sum = loss.Evaluate(output, batch, null, LossReduction.Sum, out int elements);
        return (sum, elements);
    }
}
