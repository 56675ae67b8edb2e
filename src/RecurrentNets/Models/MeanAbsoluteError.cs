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
public sealed class MeanAbsoluteError<T> : IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private double sum;
    private long counted;

    /// <inheritdoc/>
    /// <value><c>mae</c>.</value>
    public string Name => "mae";

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
    /// <exception cref="ArgumentException">The batch's targets are not <see cref="TargetKind.Values"/>, or
    /// <paramref name="output"/> does not have the values' shape (the message names both shapes).</exception>
    public void Update(Tensor<T> output, SequenceBatch<T> batch)
    {
        int size = TargetRows.CheckOutput(output, batch, Name, acceptsClasses: false, acceptsValues: true);
        ReadOnlySpan<T> prediction = output.AsSpan(), target = batch.Values!.AsSpan();
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
    }
}
