using System.Numerics;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

/// <summary>
/// The fraction of counted rows whose largest output is the class target. Keras: <c>SparseCategoricalAccuracy</c>
/// (<c>metrics=["accuracy"]</c> with integer targets); torchmetrics: <c>MulticlassAccuracy(average='micro')</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// A row counts as for <see cref="CrossEntropy{T}"/>: inside its sequence, target not -1. Accumulates hits and counted
/// rows over the batches, so the epoch value is the accuracy over all their rows at once. Ties go to the first class.
/// Allocates nothing.
/// </remarks>
public sealed class Accuracy<T> : IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private long hits, counted;

    /// <inheritdoc/>
    /// <value><c>accuracy</c>.</value>
    public string Name => "accuracy";

    /// <inheritdoc/>
    /// <value>True.</value>
    public bool HigherIsBetter => true;

    /// <inheritdoc/>
    public double Result => counted == 0 ? double.NaN : (double)hits / counted;

    /// <inheritdoc/>
    public void Reset()
    {
        hits = 0;
        counted = 0;
    }

    /// <summary>Adds a batch: argmax over the last axis of <paramref name="output"/> against the class targets.</summary>
    /// <param name="output">Scores (logits or probabilities), [T', B, O].</param>
    /// <param name="batch">Class targets (-1 ignores a row) and the lengths (rows past a sequence's end are masked when T' &gt; 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> or <paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">The batch's targets are not <see cref="TargetKind.Classes"/>; <paramref name="output"/>
    /// is not [T', B, O] (the message names both shapes); a counted row's target is O or more or below -1 (the message
    /// names the row (t, b), the target and O).</exception>
    public void Update(Tensor<T> output, SequenceBatch<T> batch)
    {
        int classes = TargetRows.CheckOutput(output, batch, Name, acceptsClasses: true, acceptsValues: false);
        counted += TargetRows.CheckClasses(batch, classes, default);
        ReadOnlySpan<T> scores = output.AsSpan();
        int[] targets = batch.Classes!;
        int position = 0;
        while (TargetRows.NextRun(batch, ref position, out int start, out int count))
        {
            for (int r = start; r < start + count; r++)
            {
                int target = targets[r];
                if (target >= 0 && TP.IndexOfMax(scores.Slice(r * classes, classes)) == target)
                {
                    hits++;
                }
            }
        }
    }
}
