using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>How the targets of a <see cref="SequenceBatch{T}"/> are stored.</summary>
public enum TargetKind
{
    /// <summary>No targets (prediction only).</summary>
    None,

    /// <summary>One class index per row of the model's output, <see cref="SequenceBatch{T}.Classes"/>; -1 ignores the row.</summary>
    Classes,

    /// <summary>Real values (regression targets, or class probabilities for soft cross-entropy), <see cref="SequenceBatch{T}.Values"/>.</summary>
    Values,
}

/// <summary>
/// A padded, time-major batch of variable-length sequences with their lengths and targets: what a
/// sequence model trains on, evaluates and predicts. Legend: T = <see cref="Steps"/> (the longest
/// sequence), B = <see cref="BatchSize"/>, I = input features, O = outputs per row, T' = the model's output steps
/// (T for a per-step model, 1 after a reduction to one step).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// A batch is a set of reusable buffers: a dataset fills the same object again for the next batch of the same shape,
/// so training allocates nothing per step. Steps past a sequence's length are padding (zero features, the padding
/// token) and never reach the loss or the metrics.
/// </remarks>
public sealed class SequenceBatch<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Allocates the buffers of a batch.</summary>
    /// <param name="steps">T, at least 1.</param>
    /// <param name="batchSize">B, at least 1.</param>
    /// <param name="inputSize">I, the features of a step; 0 for a batch of tokens (<see cref="Tokens"/>).</param>
    /// <param name="targetKind">What the targets are.</param>
    /// <param name="targetSteps">T': <paramref name="steps"/> for a target per step, 1 for a target per sequence.</param>
    /// <param name="targetSize">O for <see cref="TargetKind.Values"/> targets (ignored otherwise).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public SequenceBatch(int steps, int batchSize, int inputSize, TargetKind targetKind = TargetKind.None, int targetSteps = 1, int targetSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(inputSize);
        if (!Enum.IsDefined(targetKind))
        {
            throw new ArgumentOutOfRangeException(nameof(targetKind), targetKind, "Unknown target kind.");
        }

        if (targetKind != TargetKind.None && targetSteps != 1 && targetSteps != steps)
        {
            throw new ArgumentOutOfRangeException(nameof(targetSteps), targetSteps, $"targetSteps must be 1 (a target per sequence) or steps ({steps}, a target per step).");
        }

        Steps = steps;
        BatchSize = batchSize;
        InputSize = inputSize;
        TargetKind = targetKind;
        TargetSteps = targetKind == TargetKind.None ? 0 : targetSteps;
        Features = inputSize > 0 ? new Tensor<T>(steps, batchSize, inputSize) : null;
        Tokens = inputSize == 0 ? new int[steps * batchSize] : null;
        Lengths = new int[batchSize];
        Array.Fill(Lengths, steps);
        if (targetKind == TargetKind.Classes)
        {
            Classes = new int[targetSteps * batchSize];
        }
        else if (targetKind == TargetKind.Values)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(targetSize, 1);
            Values = new Tensor<T>(targetSteps, batchSize, targetSize);
        }
    }

    /// <summary>T, the padded length.</summary>
    public int Steps { get; }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>I, or 0 when the batch holds tokens.</summary>
    public int InputSize { get; }

    /// <summary>What the targets are.</summary>
    public TargetKind TargetKind { get; }

    /// <summary>T': the steps of the targets (T or 1), 0 without targets.</summary>
    public int TargetSteps { get; }

    /// <summary>x, [T, B, I], or null for a batch of tokens. Zero past each sequence's end.</summary>
    public Tensor<T>? Features { get; }

    /// <summary>Token indices, [T·B] time-major (index t·B + b), or null for a batch of features.</summary>
    public int[]? Tokens { get; }

    /// <summary>The length of each sequence, [B], each in [1, T].</summary>
    public int[] Lengths { get; }

    /// <summary>Class targets, [T'·B] time-major; -1 marks a row without a target. Null unless <see cref="TargetKind.Classes"/>.</summary>
    public int[]? Classes { get; }

    /// <summary>Real targets, [T', B, O]. Null unless <see cref="TargetKind.Values"/>.</summary>
    public Tensor<T>? Values { get; }

    /// <summary>Whether row (t, b) of the targets counts: t is inside sequence b (always, for one target per sequence).</summary>
    public bool IsValid(int step, int row) => TargetSteps <= 1 || step < Lengths[row];
}
