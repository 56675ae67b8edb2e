using System.Numerics;

namespace RecurrentNets.Sequence;

/// <summary>
/// A batch of sequences of different lengths padded to T steps (PyTorch's packed sequences, ONNX's sequence_lens): a step
/// past a sequence's end is the identity on its state and its output is zero, so its final state is the state after its
/// last step and its gradients are those of running it alone. The time loops call these around each step of a batch
/// that has padded rows; a batch without them never does.
/// </summary>
internal sealed class PaddedSteps<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private int[] lengths = [];
    private T[] savedDHidden = [], savedDCell = [], rowScratch = [];
    private int batch, hidden, cellWidth;

    /// <summary>Whether some sequence of the current pass is shorter than T.</summary>
    public bool Active { get; private set; }

    /// <summary>Checks lengths given for a batch: one per sequence, each in [1, steps] (empty: all T).</summary>
    public static void Validate(ReadOnlySpan<int> sequenceLengths, int steps, int batch)
    {
        if (sequenceLengths.IsEmpty)
        {
            return;
        }

        if (sequenceLengths.Length != batch)
        {
            throw new ArgumentException($"sequenceLengths has {sequenceLengths.Length} entries but the batch has {batch} sequences.", nameof(sequenceLengths));
        }

        for (int b = 0; b < batch; b++)
        {
            if (sequenceLengths[b] < 1 || sequenceLengths[b] > steps)
            {
                throw new ArgumentOutOfRangeException(nameof(sequenceLengths), sequenceLengths[b],
                    $"Sequence {b} has length {sequenceLengths[b]}, outside [1, {steps}] (timeSteps).");
            }
        }
    }

    /// <summary>Takes the lengths of a pass (empty: all T), validated by the caller; h rows are
    /// <paramref name="stateSize"/> wide, C rows <paramref name="hiddenSize"/>.</summary>
    public void Set(ReadOnlySpan<int> sequenceLengths, int steps, int batchSize, int stateSize, int hiddenSize)
    {
        batch = batchSize;
        hidden = stateSize;
        cellWidth = hiddenSize;
        Active = false;
        foreach (int length in sequenceLengths)
        {
            Active |= length < steps;
        }

        Buffers.Grow(ref lengths, batchSize);
        Buffers.Grow(ref savedDHidden, batchSize * stateSize);
        Buffers.Grow(ref savedDCell, batchSize * hiddenSize);
        sequenceLengths.CopyTo(lengths);
    }

    /// <summary>After forward step t: rows past their end keep the previous state, h(t) = h(t-1), C(t) = C(t-1).</summary>
    public void CarryState(DirectionCache<T> cache, bool hasCell, int t, int direction)
    {
        int h = hidden, c = cellWidth;
        int prevSlot = direction == 0 ? t : t + 1, slot = direction == 0 ? t + 1 : t;
        for (int b = 0; b < batch; b++)
        {
            if (t < lengths[b])
            {
                continue;
            }

            cache.HiddenSlot(prevSlot).Slice(b * h, h).CopyTo(cache.HiddenSlot(slot).Slice(b * h, h));
            if (hasCell)
            {
                cache.CellSlot(prevSlot).Slice(b * c, c).CopyTo(cache.CellSlot(slot).Slice(b * c, c));
            }
        }
    }

    /// <summary>Zeroes the rows of [T, B, width] past each sequence's end.</summary>
    public void ZeroPaddedRows(Span<T> sequence, int steps, int width)
    {
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                if (t >= lengths[b])
                {
                    sequence.Slice((t * batch + b) * width, width).Clear();
                }
            }
        }
    }

    /// <summary>
    /// Before backward step t: the carried gradient of a padded row is held aside (when <paramref name="save"/>) and the
    /// cell sees zeros, so its gate gradients there are zero (the output gradient of a padded row is added between the
    /// two calls and discarded: that output is a constant zero).
    /// </summary>
    public void HoldGradients(int t, Span<T> dh, Span<T> dc, bool save)
    {
        int h = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (t < lengths[b])
            {
                continue;
            }

            if (save)
            {
                dh.Slice(b * h, h).CopyTo(savedDHidden.AsSpan(b * h, h));
            }

            dh.Slice(b * h, h).Clear();
            if (!dc.IsEmpty)
            {
                dc.Slice(b * cellWidth, cellWidth).CopyTo(savedDCell.AsSpan(b * cellWidth, cellWidth));
                dc.Slice(b * cellWidth, cellWidth).Clear();
            }
        }
    }

    /// <summary>After backward step t: a padded row passes its held gradient on to step t - 1 unchanged.</summary>
    public void ReleaseGradients(int t, Span<T> dhPrev, Span<T> dcPrev)
    {
        int h = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (t < lengths[b])
            {
                continue;
            }

            savedDHidden.AsSpan(b * h, h).CopyTo(dhPrev.Slice(b * h, h));
            if (!dcPrev.IsEmpty)
            {
                savedDCell.AsSpan(b * cellWidth, cellWidth).CopyTo(dcPrev.Slice(b * cellWidth, cellWidth));
            }
        }
    }

    /// <summary>destination = source with each sequence's steps [0, length) in reverse order (Keras <c>go_backwards</c>, ONNX
    /// <c>ReverseSequence</c>); the rows past its end are copied as they are. Both [T, B, width].</summary>
    public void Reverse(ReadOnlySpan<T> source, Span<T> destination, int steps, int width)
        => Reverse(source, destination, steps, batch, width, Active ? lengths.AsSpan(0, batch) : default);

    /// <inheritdoc cref="Reverse(ReadOnlySpan{T}, Span{T}, int, int)"/>
    /// <param name="source">[T, B, width].</param>
    /// <param name="destination">[T, B, width]; not overlapping <paramref name="source"/>.</param>
    /// <param name="steps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="width">The features of a row.</param>
    /// <param name="sequenceLengths">[B], or empty when every sequence has T steps.</param>
    public static void Reverse(ReadOnlySpan<T> source, Span<T> destination, int steps, int batchSize, int width, ReadOnlySpan<int> sequenceLengths)
    {
        for (int b = 0; b < batchSize; b++)
        {
            int length = sequenceLengths.IsEmpty ? steps : sequenceLengths[b];
            for (int t = 0; t < steps; t++)
            {
                int from = t < length ? length - 1 - t : t;
                source.Slice((from * batchSize + b) * width, width).CopyTo(destination.Slice((t * batchSize + b) * width, width));
            }
        }
    }

    /// <summary><see cref="Reverse(ReadOnlySpan{T}, Span{T}, int, int)"/> in place (rows swapped through one row of
    /// scratch, grown once).</summary>
    public void ReverseInPlace(Span<T> sequence, int steps, int width)
    {
        Buffers.Grow(ref rowScratch, width);
        Span<T> scratch = rowScratch.AsSpan(0, width);
        for (int b = 0; b < batch; b++)
        {
            int length = Active ? lengths[b] : steps;
            for (int t = 0; t < length / 2; t++)
            {
                Span<T> first = sequence.Slice((t * batch + b) * width, width);
                Span<T> second = sequence.Slice(((length - 1 - t) * batch + b) * width, width);
                first.CopyTo(scratch);
                second.CopyTo(first);
                scratch.CopyTo(second);
            }
        }
    }
}
