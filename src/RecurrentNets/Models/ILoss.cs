using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// A loss on a model's output: the mean over the rows that count (steps inside each sequence, rows whose class target
/// is not -1) and its gradient with respect to the output.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public interface ILoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A short name for reports, e.g. <c>cross_entropy</c>.</summary>
    string Name { get; }

    /// <summary>The loss of <paramref name="output"/> against the batch's targets, and dL/d(output).</summary>
    /// <param name="output">The model's output, [T', B, O], T' = the batch's <see cref="SequenceBatch{T}.TargetSteps"/>.</param>
    /// <param name="batch">The targets and the lengths (rows past a sequence's end are masked when T' &gt; 1).</param>
    /// <param name="dOutput">Receives (overwritten) dL/d(output), [T', B, O]; zero on masked rows. Null for the loss alone.</param>
    /// <returns>The loss, averaged over counted rows (0 when none counts).</returns>
    /// <exception cref="ArgumentException">The shapes disagree or the batch has the wrong kind of targets; the message
    /// names both shapes. A class target outside [0, O) names the row and the class count.</exception>
    double Compute(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput);
}

/// <summary>A metric accumulated over the batches of an epoch (Keras <c>metrics=[...]</c>).</summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public interface IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A short name for reports, e.g. <c>accuracy</c>.</summary>
    string Name { get; }

    /// <summary>Whether a larger value is better (accuracy) or a smaller one (MSE, perplexity).</summary>
    bool HigherIsBetter { get; }

    /// <summary>Starts a new accumulation.</summary>
    void Reset();

    /// <summary>Adds a batch: <paramref name="output"/> [T', B, O] against the batch's targets, masked as the loss is.</summary>
    void Update(Tensor<T> output, SequenceBatch<T> batch);

    /// <summary>The value over everything added since <see cref="Reset"/> (NaN when nothing counted).</summary>
    double Result { get; }
}
