using System.Numerics;
using RecurrentNets.Losses;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

/// <summary>
/// Mean-squared error L = mean over counted elements of (ŷ - y)²: the loss of a regression model.
/// PyTorch: <c>torch.nn.MSELoss(reduction='mean')</c>; Keras: <c>MeanSquaredError</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: T' = the batch's target steps, B = batch size, O = outputs per row. A row counts when it lies inside its
/// sequence (always, for one target per sequence); the mean runs over the N·O elements of the N counted rows, and
/// dL/dŷ = 2(ŷ - y)/(N·O) there, zero on the other rows. The maths is <see cref="MseLoss"/>'s. Allocates nothing.
/// </remarks>
public sealed class MeanSquaredError<T> : ILoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    /// <value><c>mse</c>.</value>
    public string Name => "mse";

    /// <summary>The mean squared error of <paramref name="output"/> against the batch's values, and dL/d(output).</summary>
    /// <param name="output">Predictions ŷ, [T', B, O], the shape of <see cref="SequenceBatch{T}.Values"/>.</param>
    /// <param name="batch">Real targets y (<see cref="TargetKind.Values"/>) and the lengths (rows past a sequence's end
    /// are masked when T' &gt; 1).</param>
    /// <param name="dOutput">Receives (overwritten) dL/dŷ, [T', B, O]; zero on masked rows. Null for the loss alone.</param>
    /// <returns>The loss, the mean over counted elements (0 when none counts).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> or <paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">The batch's targets are not <see cref="TargetKind.Values"/>; <paramref name="output"/>
    /// does not have the values' shape or <paramref name="dOutput"/> not the shape of <paramref name="output"/> (the message
    /// names both shapes).</exception>
    public double Compute(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput)
        => Evaluate(output, batch, dOutput, LossReduction.Mean, out _);

    /// <summary>The loss with the given reduction, and the number of counted elements (for the metrics' weighting).</summary>
    internal double Evaluate(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput, LossReduction reduction, out int counted)
    {
        int size = TargetRows.CheckOutput(output, batch, Name, acceptsClasses: false, acceptsValues: true);
        TargetRows.CheckGradient(output, dOutput);
        Span<T> d = dOutput is null ? default : dOutput.AsSpan();
        ReadOnlySpan<T> prediction = output.AsSpan(), target = batch.Values!.AsSpan();

        // Each run of counted rows is one contiguous block: sum over it, divide once at the end.
        double sum = 0;
        int position = 0, cleared = 0;
        counted = 0;
        while (TargetRows.NextRun(batch, ref position, out int start, out int count))
        {
            int from = start * size, length = count * size;
            if (!d.IsEmpty)
            {
                d[(cleared * size)..from].Clear();
            }

            sum += MseLoss.Compute(prediction.Slice(from, length), target.Slice(from, length),
                d.IsEmpty ? default : d.Slice(from, length), LossReduction.Sum);
            counted += length;
            cleared = start + count;
        }

        if (!d.IsEmpty)
        {
            d[(cleared * size)..].Clear();
        }

        if (reduction == LossReduction.Sum || counted == 0)
        {
            return sum;
        }

        if (!d.IsEmpty)
        {
            TP.Multiply(d, T.CreateTruncating(1.0 / counted), d);
        }

        return sum / counted;
    }
}
