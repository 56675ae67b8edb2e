using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// What the losses and metrics of the model layer share: the checks of an output against a batch, and the walk over the
/// runs of consecutive counted rows. Legend: T' = target steps, B = batch size, O = outputs per row; row r = t·B + b.
/// </summary>
internal static class TargetRows
{
    /// <summary>
    /// Throws unless <paramref name="output"/> is [T', B, O] for the batch (and, for <see cref="TargetKind.Values"/>,
    /// has the shape of the batch's values) and the batch has one of the target kinds <paramref name="who"/> accepts.
    /// </summary>
    /// <returns>O, the outputs per row.</returns>
    public static int CheckOutput<T>(Tensor<T> output, SequenceBatch<T> batch, string who, bool acceptsClasses, bool acceptsValues)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(batch);
        bool kindOk = batch.TargetKind switch
        {
            TargetKind.Classes => acceptsClasses,
            TargetKind.Values => acceptsValues,
            _ => false,
        };
        if (!kindOk)
        {
            string wanted = acceptsClasses && acceptsValues ? "Classes or Values" : acceptsClasses ? "Classes" : "Values";
            throw new ArgumentException($"{who} needs targets of kind {wanted} but the batch has targets of kind {batch.TargetKind}.", nameof(batch));
        }

        if (batch.TargetKind == TargetKind.Values)
        {
            Tensor<T> values = batch.Values!;
            if (!output.HasShape(values.Shape))
            {
                throw new ArgumentException(
                    $"output has shape {Tensor<T>.FormatShape(output.Shape)} but the batch's values have shape {Tensor<T>.FormatShape(values.Shape)} [T', B, O].",
                    nameof(output));
            }
        }
        else if (output.Rank != 3 || output.Size(0) != batch.TargetSteps || output.Size(1) != batch.BatchSize)
        {
            throw new ArgumentException(
                $"output has shape {Tensor<T>.FormatShape(output.Shape)} but [{batch.TargetSteps}, {batch.BatchSize}, O] [T', B, O] is expected (T' = the batch's target steps, B = its batch size).",
                nameof(output));
        }

        return output.Size(2);
    }

    /// <summary>Throws unless <paramref name="dOutput"/> (when given) has the shape of <paramref name="output"/>.</summary>
    public static void CheckGradient<T>(Tensor<T> output, Tensor<T>? dOutput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dOutput is not null && !dOutput.HasShape(output.Shape))
        {
            throw new ArgumentException(
                $"dOutput has shape {Tensor<T>.FormatShape(dOutput.Shape)} but output has shape {Tensor<T>.FormatShape(output.Shape)}.",
                nameof(dOutput));
        }
    }

    /// <summary>
    /// The next run of consecutive counted rows (inside their sequence; class targets are not looked at) at or after
    /// <paramref name="position"/>, which moves past it. False when no row is left.
    /// </summary>
    /// <param name="batch">The batch.</param>
    /// <param name="position">The first row to look at; on return, the row after the run.</param>
    /// <param name="start">The run's first row.</param>
    /// <param name="count">The run's length, at least 1 when the result is true.</param>
    public static bool NextRun<T>(SequenceBatch<T> batch, ref int position, out int start, out int count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int batchSize = batch.BatchSize, rows = batch.TargetSteps * batchSize;
        int r = position;
        while (r < rows && !batch.IsValid(r / batchSize, r % batchSize))
        {
            r++;
        }

        start = r;
        while (r < rows && batch.IsValid(r / batchSize, r % batchSize))
        {
            r++;
        }

        count = r - start;
        position = r;
        return count > 0;
    }

    /// <summary>The rows that count (inside their sequence and, for class targets, not -1): the weight of a batch's mean loss.</summary>
    public static long CountedRows<T>(SequenceBatch<T> batch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rows = 0;
        int position = 0;
        while (NextRun(batch, ref position, out int start, out int count))
        {
            for (int r = start; r < start + count; r++)
            {
                rows += batch.Classes is null || batch.Classes[r] >= 0 ? 1 : 0;
            }
        }

        return rows;
    }

    /// <summary>
    /// Checks the class target of every counted row and throws for one outside [0, <paramref name="classes"/>) other
    /// than -1, naming the row (t, b), the target and O. Rows past a sequence's end are not checked.
    /// </summary>
    /// <param name="batch">A batch with class targets.</param>
    /// <param name="classes">O.</param>
    /// <param name="masked">When not empty, receives [T'·B] the targets with every row past a sequence's end set to -1.</param>
    /// <returns>The number of counted rows (inside their sequence, target not -1).</returns>
    public static int CheckClasses<T>(SequenceBatch<T> batch, int classes, Span<int> masked)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int[] targets = batch.Classes!;
        int batchSize = batch.BatchSize, rows = batch.TargetSteps * batchSize, counted = 0;
        for (int r = 0; r < rows; r++)
        {
            int t = r / batchSize, b = r % batchSize;
            int target = batch.IsValid(t, b) ? targets[r] : -1;
            if (target >= classes || target < -1)
            {
                throw new ArgumentException(
                    $"The class target of row (t={t}, b={b}) is {target} but the output has {classes} classes (O); a target must be in [0, {classes}) or -1 to ignore the row.",
                    nameof(batch));
            }

            counted += target >= 0 ? 1 : 0;
            if (!masked.IsEmpty)
            {
                masked[r] = target;
            }
        }

        return counted;
    }
}
