using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Losses;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

/// <summary>
/// CTC (Graves et al. 2006) as a model loss, so a per-step model (a recurrent layer, then a linear layer to the C classes,
/// blank included) trains with <see cref="SequenceModel{T}.Fit"/> or <see cref="SequenceModel{T}.TrainStep"/>: log_softmax
/// of the output, then <see cref="CtcLoss{T}"/> with the batch's lengths as input lengths, mean reduction (each
/// sequence's loss over its target length, then the mean over the batch). PyTorch:
/// <c>F.ctc_loss(model(x).log_softmax(2), targets, input_lengths, target_lengths)</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>
/// The targets ride in the batch's per-step class targets (<see cref="TargetKind.Classes"/>, T' = T): sequence b's
/// label sequence is rows (0, b), (1, b), ... and ends at its first -1 (so a target holds at most T labels; its length
/// is independent of the input length). dL/d(output) is PyTorch's CTC gradient y − γ scaled by the reduction, which is
/// exactly the gradient through the log_softmax; it is zero past each sequence's length.
/// </para>
/// <para>One instance keeps scratch buffers grown on first use (later calls allocate nothing); it is not safe to share
/// between threads.</para>
/// </remarks>
public sealed class ConnectionistTemporalClassification<T> : ILoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CtcLoss<T> loss;
    private T[] logProbs = [], scratch = [];
    private int[] targets = [], targetLengths = [];

    /// <summary>Creates the loss.</summary>
    /// <param name="blank">The blank class (PyTorch's <c>blank</c>).</param>
    /// <param name="zeroInfinity">Infeasible targets count zero (PyTorch's <c>zero_infinity</c>); otherwise their loss is
    /// +∞ and their gradient NaN.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blank"/> is negative.</exception>
    public ConnectionistTemporalClassification(int blank = 0, bool zeroInfinity = false) => loss = new CtcLoss<T>(blank, LossReduction.Mean, zeroInfinity);

    /// <inheritdoc/>
    /// <value><c>ctc</c>.</value>
    public string Name => "ctc";

    /// <summary>The blank class.</summary>
    public int Blank => loss.Blank;

    /// <summary>The mean CTC loss of the logits <paramref name="output"/> against the batch's label sequences, and dL/d(output).</summary>
    /// <param name="output">Logits, [T, B, C] (T = the batch's steps, C = classes with the blank).</param>
    /// <param name="batch">Per-step class targets holding each sequence's labels from row 0 to its first -1, and the lengths.</param>
    /// <param name="dOutput">Receives (overwritten) dL/d(output), [T, B, C]; null for the loss alone.</param>
    /// <returns>The loss: the mean over the batch of −ln p(labels | x) / max(labels, 1).</returns>
    /// <exception cref="ArgumentException">The batch does not hold per-step class targets, a shape disagrees (the message
    /// names both), a label follows a -1, or a label is out of [0, C) or the blank.</exception>
    public double Compute(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput)
    {
        int classes = TargetRows.CheckOutput(output, batch, Name, acceptsClasses: true, acceptsValues: false);
        TargetRows.CheckGradient(output, dOutput);
        int steps = batch.TargetSteps, size = batch.BatchSize;
        if (steps != batch.Steps)
        {
            throw new ArgumentException($"ctc needs a target per step (T' = T = {batch.Steps}) to hold the label sequences, but the batch has T' = {steps}.", nameof(batch));
        }

        Buffers.Grow(ref logProbs, steps * size * classes);
        Buffers.Grow(ref scratch, classes);
        Buffers.Grow(ref targets, size * steps);
        Buffers.Grow(ref targetLengths, size);

        // Labels: column b of the class targets up to its first -1, as padded rows [B, T].
        int[] classTargets = batch.Classes!;
        for (int b = 0; b < size; b++)
        {
            int length = 0;
            while (length < steps && classTargets[length * size + b] >= 0)
            {
                targets[b * steps + length] = classTargets[length * size + b];
                length++;
            }

            for (int t = length; t < steps; t++)
            {
                if (classTargets[t * size + b] >= 0)
                {
                    throw new ArgumentException($"Target row ({t}, {b}) is {classTargets[t * size + b]} after a -1: a label sequence ends at its first -1.", nameof(batch));
                }

                targets[b * steps + t] = 0;
            }

            targetLengths[b] = length;
        }

        // ln y = log_softmax(output) per row.
        ReadOnlySpan<T> logits = output.AsSpan();
        Span<T> lp = logProbs.AsSpan(0, steps * size * classes), e = scratch.AsSpan(0, classes);
        for (int r = 0; r < steps * size; r++)
        {
            ReadOnlySpan<T> row = logits.Slice(r * classes, classes);
            Span<T> destination = lp.Slice(r * classes, classes);
            T max = TP.Max(row);
            TP.Subtract(row, max, destination);
            VectorMath.Exp<T>(destination, e);
            TP.Subtract(destination, T.CreateTruncating(ScalarMath.Log(double.CreateTruncating(Reductions.Sum<T>(e)))), destination);
        }

        return loss.Compute(lp, steps, size, classes, targets.AsSpan(0, size * steps), steps, batch.Lengths, targetLengths.AsSpan(0, size),
            dOutput is null ? default : dOutput.AsSpan());
    }
}
