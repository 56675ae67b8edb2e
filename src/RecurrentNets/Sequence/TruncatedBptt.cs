using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Sequence;

/// <summary>What <see cref="TruncatedBptt{T}"/> asks of the caller for each window: the loss and its output gradient.</summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public interface IWindowObjective<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Computes the loss of one window and dL/d output.</summary>
    /// <param name="windowStart">The stream index of the window's first step.</param>
    /// <param name="output">The recurrent layer's output for the window, [windowSteps, batchSize, directions·hiddenSize].</param>
    /// <param name="dOutput">Receives dL/d output (overwrite every element), the same shape.</param>
    /// <returns>The window's loss.</returns>
    double LossAndGradient(int windowStart, Tensor<T> output, Tensor<T> dOutput);

    /// <summary>Called after the window's backward pass, e.g. to clip gradients and take an optimiser step.</summary>
    /// <param name="windowStart">The stream index of the window's first step.</param>
    void AfterBackward(int windowStart);
}

/// <summary>
/// Truncated backpropagation through time (Williams and Peng 1990; Elman 1990) over a stream longer than memory:
/// the stream is cut into windows of k steps; each window runs forward and backward; its final state becomes the next
/// window's initial state as a value, so no gradient crosses a window boundary (min-char-rnn's <c>hprev</c>,
/// Keras's <c>stateful=True</c>).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>Window buffers are allocated once per window length; a run allocates nothing after the first window.</remarks>
public sealed class TruncatedBptt<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentLayer<T> layer;
    private readonly RecurrentState<T> carried;
    private WindowBuffers? full, tail;

    /// <summary>Creates a runner for <paramref name="batchSize"/> parallel streams.</summary>
    /// <param name="layer">The recurrent stack to train.</param>
    /// <param name="windowLength">k, the steps per window (≥ 1).</param>
    /// <param name="batchSize">B, the parallel streams.</param>
    /// <exception cref="ArgumentOutOfRangeException">k or B is below 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="layer"/> reads backwards (<see cref="RecurrentLayer{T}.GoBackwards"/>):
    /// windows run forward in time, so each would be read backwards on its own.</exception>
    public TruncatedBptt(RecurrentLayer<T> layer, int windowLength, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer.GoBackwards)
        {
            throw new ArgumentException("The layer reads backwards (goBackwards): truncated BPTT carries the state forward from window to window, so it needs a layer that reads forward.", nameof(layer));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(windowLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        this.layer = layer;
        WindowLength = windowLength;
        BatchSize = batchSize;
        carried = layer.CreateState(batchSize);
    }

    /// <summary>k.</summary>
    public int WindowLength { get; }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>The state carried from one window (and one <see cref="Run(Tensor{T}, IWindowObjective{T})"/> call) to the next. Clear it to start afresh.</summary>
    public RecurrentState<T> State => carried;

    /// <summary>Runs every window of <paramref name="stream"/> in order, carrying the state.</summary>
    /// <param name="stream">x, [streamSteps, batchSize, inputSize]; the last window may be shorter than k.</param>
    /// <param name="objective">Supplies each window's loss and output gradient and takes the optimiser step.</param>
    /// <returns>The sum of the window losses as the objective returns them.</returns>
    /// <exception cref="ArgumentException">The stream's shape disagrees with the layer or the batch size.</exception>
    public double Run(Tensor<T> stream, IWindowObjective<T> objective) => Run(stream, objective, 0, stream?.Size(0) ?? 0);

    /// <summary>
    /// Runs the windows of steps [<paramref name="startStep"/>, <paramref name="startStep"/> + <paramref name="stepCount"/>)
    /// of <paramref name="stream"/>, carrying the state: a long stream can be fed in pieces, or one tensor reused for
    /// chunks. The window starts given to <paramref name="objective"/> are indices into <paramref name="stream"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The stream's shape disagrees with the layer or the batch size.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The step range lies outside the stream or is empty.</exception>
    public double Run(Tensor<T> stream, IWindowObjective<T> objective, int startStep, int stepCount)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(objective);
        if (stream.Rank != 3 || stream.Size(1) != BatchSize || stream.Size(2) != layer.InputSize)
        {
            throw new ArgumentException(
                $"stream has shape {Tensor<T>.FormatShape(stream.Shape)} but [streamSteps, {BatchSize}, {layer.InputSize}] (batchSize, inputSize) is expected.",
                nameof(stream));
        }

        int steps = stream.Size(0);
        if (startStep < 0 || stepCount < 1 || startStep > steps - stepCount)
        {
            throw new ArgumentOutOfRangeException(nameof(stepCount), $"Steps [{startStep}, {(long)startStep + stepCount}) are not a non-empty range inside the stream's {steps} steps.");
        }

        int stepSize = BatchSize * layer.InputSize, end = startStep + stepCount;
        double total = 0;
        for (int start = startStep; start < end; start += WindowLength)
        {
            int length = Math.Min(WindowLength, end - start);
            var buffers = Buffers(length);
            stream.AsSpan().Slice(start * stepSize, length * stepSize).CopyTo(buffers.Input.AsSpan());
            layer.Forward(buffers.Input, buffers.Output, carried, carried);
            total += objective.LossAndGradient(start, buffers.Output, buffers.DOutput);
            layer.Backward(buffers.DOutput);
            objective.AfterBackward(start);
        }

        return total;
    }

    private WindowBuffers Buffers(int length)
    {
        if (length == WindowLength)
        {
            return full ??= new WindowBuffers(length, BatchSize, layer.InputSize, layer.OutputSize);
        }

        if (tail is null || tail.Input.Size(0) != length)
        {
            tail = new WindowBuffers(length, BatchSize, layer.InputSize, layer.OutputSize);
        }

        return tail;
    }

    private sealed class WindowBuffers(int steps, int batch, int inputSize, int hiddenSize)
    {
        public Tensor<T> Input { get; } = new(steps, batch, inputSize);

        public Tensor<T> Output { get; } = new(steps, batch, hiddenSize);

        public Tensor<T> DOutput { get; } = new(steps, batch, hiddenSize);
    }
}
