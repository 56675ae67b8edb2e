using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

// The built-in layers as ISequenceLayer<T>: thin adapters over the engine's layers, no copies.

/// <summary>A recurrent stack; lengths go to the engine only when a sequence is shorter than the batch (the engine's
/// plain loops serve full batches).</summary>
internal sealed class RecurrentAdapter<T>(RecurrentLayer<T> layer) : ISequenceLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public RecurrentLayer<T> Layer { get; } = layer;

    public int InputSize => Layer.InputSize;

    public int OutputSize => Layer.OutputSize;

    public bool Training
    {
        get => Layer.Training;
        set => Layer.Training = value;
    }

    /// <summary>Whether each forward pass starts from the state the last one ended in (per batch size).</summary>
    public bool Stateful { get; set; }

    /// <summary>The state carried between forward passes when <see cref="Stateful"/>, or null before the first.</summary>
    public RecurrentState<T>? Carried { get; private set; }

    public void ResetState() => Carried?.Clear();

    public void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths)
    {
        RecurrentState<T>? state = null;
        if (Stateful)
        {
            if (Carried is null || Carried.BatchSize != input.Size(1))
            {
                Carried = Layer.CreateState(input.Size(1));
            }

            state = Carried;
        }

        // The carried state is a value: it enters as the initial state and the final state overwrites it, with no
        // gradient across the boundary (truncated BPTT).
        Layer.Forward(input, output, state, state, AllFull(lengths, input.Size(0)) ? default : lengths);
    }

    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput) => Layer.Backward(dOutput, null, dInput);

    internal static bool AllFull(ReadOnlySpan<int> lengths, int steps)
    {
        foreach (int length in lengths)
        {
            if (length != steps)
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed class DropoutAdapter<T>(int size, Dropout<T> dropout) : ISequenceLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public Dropout<T> Dropout { get; } = dropout;

    public int InputSize => size;

    public int OutputSize => size;

    public bool Training
    {
        get => Dropout.Training;
        set => Dropout.Training = value;
    }

    public void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths) => Dropout.Forward(input.AsSpan(), output.AsSpan());

    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput)
    {
        if (dInput is not null)
        {
            Dropout.Backward(dOutput.AsSpan(), dInput.AsSpan());
        }
    }
}

/// <summary>A linear layer whose forward product always runs on a packed W (never the small-M dot-product path), so
/// each output row has the same bits whatever the number of rows: a step of the stepper, a window of a stateful model
/// and the whole sequence agree bit for bit. Packing W costs O(In·Out) per call, small beside the product.</summary>
internal sealed class LinearAdapter<T>(Linear<T> linear) : ISequenceLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PackedMatrix<T> packed = new();
    private Tensor<T>? lastInput;

    public Linear<T> Linear { get; } = linear;

    public int InputSize => Linear.InFeatures;

    public int OutputSize => Linear.OutFeatures;

    public bool Training { get; set; } = true;

    public void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths)
    {
        int rows = input.Length / InputSize;
        Gemm.Pack<T>(transposeB: true, InputSize, OutputSize, Linear.Weight.Values, InputSize, packed);
        if (Linear.Bias is { } bias)
        {
            Elementwise.BroadcastRows<T>(bias.Values, rows, output.AsSpan());
        }

        Gemm.Compute<T>(false, rows, OutputSize, InputSize, input.AsSpan(), InputSize, packed, output.AsSpan(), OutputSize, accumulate: Linear.Bias is not null);
        lastInput = input;
    }

    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput)
    {
        var input = lastInput ?? throw new InvalidOperationException("Backward needs a forward pass first.");
        Linear.Backward(input, dOutput, dInput);
    }
}

internal sealed class TimeDelayAdapter<T>(TimeDelayLayer<T> layer) : ISequenceLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public TimeDelayLayer<T> Layer { get; } = layer;

    public int InputSize => Layer.InputSize;

    public int OutputSize => Layer.OutputSize;

    public bool Training { get; set; } = true;

    public void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths) => Layer.Forward(input, output);

    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput) => Layer.Backward(dOutput, dInput);
}

/// <summary>[T, B, F] to [1, B, F]: the last valid step, or the mean over valid steps, of each sequence. After a
/// bidirectional layer (F = 2H) the last step takes the reverse half at step 0.</summary>
internal sealed class ReduceAdapter<T>(int size, Reduction reduction, int directions) : ISequenceLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private int[] lengths = [];

    public int InputSize => size;

    public int OutputSize => size;

    public Reduction Reduction => reduction;

    public int Directions => directions;

    public bool Training { get; set; } = true;

    public int OutputSteps(int steps) => 1;

    public void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths)
    {
        int batch = input.Size(1);
        if (this.lengths.Length != batch)
        {
            this.lengths = new int[batch];
        }

        lengths.CopyTo(this.lengths);
        for (int b = 0; b < batch; b++)
        {
            Span<T> y = output.Row(0, b);
            int length = lengths[b];
            if (reduction == Reduction.Mean)
            {
                y.Clear();
                for (int t = 0; t < length; t++)
                {
                    TP.Add(y, input.Row(t, b), y);
                }

                TP.Multiply(y, T.One / T.CreateTruncating(length), y);
            }
            else
            {
                int half = size / directions;
                input.Row(length - 1, b)[..half].CopyTo(y);
                input.Row(0, b)[half..].CopyTo(y[half..]);
            }
        }
    }

    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput)
    {
        if (dInput is null)
        {
            return;
        }

        dInput.Clear();
        for (int b = 0; b < lengths.Length; b++)
        {
            ReadOnlySpan<T> dy = dOutput.Row(0, b);
            int length = lengths[b];
            if (reduction == Reduction.Mean)
            {
                T scale = T.One / T.CreateTruncating(length);
                for (int t = 0; t < length; t++)
                {
                    TP.Multiply(dy, scale, dInput.Row(t, b));
                }
            }
            else
            {
                int half = size / directions;
                dy[..half].CopyTo(dInput.Row(length - 1, b));
                Span<T> first = dInput.Row(0, b)[half..];
                TP.Add(first, dy[half..], first);
            }
        }
    }
}
