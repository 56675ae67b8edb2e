using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// Mean absolute error: mean over counted elements of |ŷ - y|. Keras: <c>metrics.MeanAbsoluteError</c>
/// (<c>metrics=["mae"]</c>); torchmetrics: <c>MeanAbsoluteError</c>; PyTorch's loss: <c>nn.L1Loss</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Elements count as for <see cref="MeanSquaredError{T}"/>: those of rows inside their sequence. Accumulates the summed
/// absolute error and the counted elements in double over the batches, so the epoch value is the MAE over all their
/// rows at once. Allocates nothing.
/// </remarks>
public sealed class MeanAbsoluteError<T> : AccumulatedMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    /// <value><c>mae</c>.</value>
    public override string Name => "mae";

    /// <inheritdoc/>
    /// <value>False.</value>
    public override bool HigherIsBetter => false;

    /// <inheritdoc/>
    protected override (double Sum, long Count) Measure(Tensor<T> output, SequenceBatch<T> batch)
    {
        int size = TargetRows.CheckOutput(output, batch, Name, acceptsClasses: false, acceptsValues: true);
        ReadOnlySpan<T> prediction = output.AsSpan(), target = batch.Values!.AsSpan();
        double sum = 0;
        long counted = 0;
        int position = 0;
        while (TargetRows.NextRun(batch, ref position, out int start, out int count))
        {
            // Summed in double, element by element, so a long epoch loses no precision in float.
            for (int i = start * size, end = (start + count) * size; i < end; i++)
            {
                sum += Math.Abs(double.CreateTruncating(prediction[i] - target[i]));
            }

            counted += count * size;
        }

        return (sum, counted);
    }
}
