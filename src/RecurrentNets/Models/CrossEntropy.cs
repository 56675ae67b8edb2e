using System.Numerics;
using RecurrentNets.Losses;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

/// <summary>
/// Softmax cross-entropy over the last axis of a model's output, L = mean over counted rows of -log softmax(o)[target]:
/// the loss of a classifier or a language model. PyTorch: <c>torch.nn.CrossEntropyLoss(reduction='mean',
/// ignore_index=-1)</c>; Keras: <c>SparseCategoricalCrossentropy(from_logits=True)</c>, or
/// <c>CategoricalCrossentropy(from_logits=True)</c> for soft targets.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: T' = the batch's target steps, B = batch size, O = classes. With <see cref="TargetKind.Classes"/> targets a
/// row counts when it lies inside its sequence (always, for one target per sequence) and its target is not -1; with
/// <see cref="TargetKind.Values"/> targets each row of the values is a distribution over the O classes (soft targets,
/// L_row = -Σ_c p[c]·log softmax(o)[c]) and a row counts when it lies inside its sequence. dL/do = (softmax(o) - p) / N
/// on counted rows (N = their number), zero on the others. The maths is <see cref="CrossEntropyLoss"/>'s.
/// One instance keeps a scratch array of masked targets, grown on its first use, so later calls allocate nothing;
/// an instance is therefore not safe to share between threads.
/// </remarks>
public sealed class CrossEntropy<T> : ILoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    // [T'·B] class targets with rows past a sequence's end set to -1, what CrossEntropyLoss.Compute reads.
    private int[] masked = [];

    /// <inheritdoc/>
    /// <value><c>cross_entropy</c>.</value>
    public string Name => "cross_entropy";

    /// <summary>The mean cross-entropy of <paramref name="output"/> against the batch's targets, and dL/d(output).</summary>
    /// <param name="output">Logits o, [T', B, O], T' = <see cref="SequenceBatch{T}.TargetSteps"/>; for soft targets,
    /// the shape of <see cref="SequenceBatch{T}.Values"/>.</param>
    /// <param name="batch">Class targets (-1 ignores a row) or class probabilities, and the lengths (rows past a
    /// sequence's end are masked when T' &gt; 1).</param>
    /// <param name="dOutput">Receives (overwritten) dL/do, [T', B, O]; zero on rows that do not count. Null for the loss alone.</param>
    /// <returns>The loss, the mean over counted rows (0 when none counts).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> or <paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">The batch has no targets; <paramref name="output"/> is not [T', B, O] (or not
    /// the values' shape) or <paramref name="dOutput"/> not the shape of <paramref name="output"/>, the message naming
    /// both shapes; a counted row's class target is O or more or below -1 (the message names the row (t, b), the
    /// target and O); a soft target is negative or not finite.</exception>
    public double Compute(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput)
        => Evaluate(output, batch, dOutput, LossReduction.Mean, out _);

    /// <summary>The loss with the given reduction, and the number of counted rows (for the metrics' weighting).</summary>
    internal double Evaluate(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput, LossReduction reduction, out int counted)
    {
        int classes = TargetRows.CheckOutput(output, batch, Name, acceptsClasses: true, acceptsValues: true);
        TargetRows.CheckGradient(output, dOutput);
        Span<T> d = dOutput is null ? default : dOutput.AsSpan();
        int rows = batch.TargetSteps * batch.BatchSize;

        if (batch.TargetKind == TargetKind.Classes)
        {
            if (masked.Length < rows)
            {
                masked = new int[rows];
            }

            Span<int> targets = masked.AsSpan(0, rows);
            counted = TargetRows.CheckClasses(batch, classes, targets);
            return CrossEntropyLoss.Compute<T>(output.AsSpan(), targets, classes, d, reduction);
        }

        // Soft targets: the kernel averages over every row it is given, so give it each run of counted rows with a sum
        // and divide once at the end; the rows between runs get a zero gradient.
        ReadOnlySpan<T> logits = output.AsSpan(), probabilities = batch.Values!.AsSpan();
        double sum = 0;
        int position = 0, cleared = 0;
        counted = 0;
        while (TargetRows.NextRun(batch, ref position, out int start, out int count))
        {
            int from = start * classes, length = count * classes;
            if (!d.IsEmpty)
            {
                d[(cleared * classes)..from].Clear();
            }

            sum += CrossEntropyLoss.ComputeSoft(logits.Slice(from, length), probabilities.Slice(from, length), classes,
                d.IsEmpty ? default : d.Slice(from, length), LossReduction.Sum);
            counted += count;
            cleared = start + count;
        }

        if (!d.IsEmpty)
        {
            d[(cleared * classes)..].Clear();
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
