using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Layers;

/// <summary>
/// A time-delay neural network layer (Waibel, Hanazawa, Hinton, Shikano and Lang 1989): every output frame sees a
/// window of the last k input frames, and the same weights slide along the sequence,
/// y(t) = f(b + Σ_{d=0}^{k-1} W_d x(t - d·dilation)). PyTorch: <c>torch.nn.Conv1d</c> with left padding
/// (k - 1)·dilation; Kaldi: a TDNN layer (affine on spliced frames).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize, I = inputSize, O = outputSize, K = kernelSize (the context window in
/// taps), d = delay in taps (0 is the current frame), δ = dilation (frames between taps).</para>
/// <para>
/// Input and output are time-major, [T, B, I] and [T, B, O], like the recurrent layers. The layer is causal: frames
/// before t = 0 are zero, so the output has T frames and y(t) never reads a frame after t. The receptive field is
/// (K - 1)·δ + 1 frames; stacked layers add their (K - 1)·δ (see <see cref="TimeDelayNetwork{T}"/>). The equivalent
/// plain loop, for each t, b, o: <c>a = b[o]; for d, i: if t - d·δ ≥ 0: a += weight[o, i, K-1-d] · x[t - d·δ, b, i];
/// y[t, b, o] = f(a)</c>.
/// </para>
/// <para>
/// Parameters: <c>{name}.weight [O, I, K]</c> and <c>{name}.bias [O]</c>, PyTorch's <c>Conv1d</c> names and layout,
/// so a Conv1d state dict loads unchanged. Conv1d is a cross-correlation: its kernel index j multiplies input frame
/// t + j·δ - (K - 1)·δ once the sequence is left-padded by (K - 1)·δ, so j = K - 1 - d: the last kernel index is the
/// current frame and index 0 the oldest. <c>nn.Conv1d(I, O, K, dilation=δ)</c> applied to
/// <c>F.pad(x, ((K - 1)·δ, 0))</c> in PyTorch's [B, I, T] layout equals this layer before f.
/// </para>
/// <para>
/// Computation: with time-major storage, delay d is an offset of d·δ·B rows, so the forward pass is K accumulating
/// GEMMs Y[d·δ·B.., :] += X[..(T - d·δ)·B, :]·W_dᵀ (one per tap, none per step), and the backward pass is their
/// transposes, dW_d = dA[d·δ·B.., :]ᵀ·X and dX[..(T - d·δ)·B, :] += dA[d·δ·B.., :]·W_d, plus one column sum for db.
/// W_d is gathered from the [O, I, K] layout into a contiguous [O, I] block per tap at each forward pass (O·I·K
/// copies, small beside the 2·T·B·O·I·K FLOPs). Buffers are sized on the first call for a (T, B) and reused: after
/// that neither pass allocates. Gradients accumulate into the parameter block.
/// </para>
/// <para>Not thread-safe: one layer runs one batch at a time. A padded batch needs no lengths: the layer is causal, so
/// the outputs of a sequence up to its end do not depend on the padding after it (mask the loss there).</para>
/// </remarks>
public sealed class TimeDelayLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] delayWeights;   // [K, O, I]: W_d = weight[:, :, K-1-d], packed at each forward pass
    private readonly T[] dDelayWeight;   // [O, I]: dW_d of one tap before it is scattered into [O, I, K]
    private T[] inputCache = [], outputCache = [], dPreActivation = [];
    private int cachedSteps, cachedBatch;
    private bool backwardReady;

    /// <summary>Adds the layer's parameters, initialised as PyTorch's Conv1d: W and b from U(-1/√(I·K), 1/√(I·K)).</summary>
    /// <param name="inputSize">I, the features of each input frame. PyTorch: <c>in_channels</c>.</param>
    /// <param name="outputSize">O, the features of each output frame. PyTorch: <c>out_channels</c>.</param>
    /// <param name="kernelSize">K, the taps of the context window. PyTorch: <c>kernel_size</c>.</param>
    /// <param name="dilation">δ, the frames between two taps. PyTorch: <c>dilation</c>.</param>
    /// <param name="activation">f.</param>
    /// <param name="bias">Whether to add b. PyTorch: <c>bias</c>.</param>
    /// <param name="random">The initialisation source; seed 0 when null.</param>
    /// <param name="parameters">The block to add the parameters to; a new one when null.</param>
    /// <param name="name">The module name used as the parameter-name prefix.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, the kernel size or the dilation is below 1, or the activation
    /// is not defined.</exception>
    public TimeDelayLayer(int inputSize, int outputSize, int kernelSize, int dilation = 1, Activation activation = Activation.Tanh,
        bool bias = true, SeededRandom? random = null, ParameterBlock<T>? parameters = null, string name = "tdnn")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        if (kernelSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "kernelSize (the taps of the context window) must be at least 1.");
        }

        if (dilation < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dilation), dilation, "dilation (the frames between two taps) must be at least 1.");
        }

        if (!Enum.IsDefined(activation))
        {
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }

        if ((long)(kernelSize - 1) * dilation + 1 > int.MaxValue / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(dilation), dilation, $"The receptive field (kernelSize - 1)·dilation + 1 with kernelSize {kernelSize} is too large.");
        }

        Parameters = parameters ?? new ParameterBlock<T>();
        InputSize = inputSize;
        OutputSize = outputSize;
        KernelSize = kernelSize;
        Dilation = dilation;
        Activation = activation;
        Weight = Parameters.Add(name + ".weight", outputSize, inputSize, kernelSize);
        Bias = bias ? Parameters.Add(name + ".bias", outputSize) : null;
        random ??= new SeededRandom(0);
        double bound = 1.0 / Math.Sqrt((double)inputSize * kernelSize);
        Initializers.Uniform(Weight.Values, -bound, bound, random);
        if (Bias is not null)
        {
            Initializers.Uniform(Bias.Values, -bound, bound, random);
        }

        delayWeights = new T[kernelSize * outputSize * inputSize];
        dDelayWeight = new T[outputSize * inputSize];
    }

    /// <summary>The block holding W and b.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>O.</summary>
    public int OutputSize { get; }

    /// <summary>K, the taps of the context window.</summary>
    public int KernelSize { get; }

    /// <summary>δ, the frames between two taps.</summary>
    public int Dilation { get; }

    /// <summary>f.</summary>
    public Activation Activation { get; }

    /// <summary>(K - 1)·δ + 1: the frames x(t - (K - 1)·δ) .. x(t) that y(t) depends on.</summary>
    public int ReceptiveField => (KernelSize - 1) * Dilation + 1;

    /// <summary>W [O, I, K]; index K - 1 - d is delay d. PyTorch: <c>Conv1d.weight</c>.</summary>
    public ParameterView<T> Weight { get; }

    /// <summary>b [O], or null. PyTorch: <c>Conv1d.bias</c>.</summary>
    public ParameterView<T>? Bias { get; }

    /// <summary>Runs the layer over a sequence and keeps what <see cref="Backward"/> needs.</summary>
    /// <param name="input">x, [timeSteps, batchSize, inputSize]. It is copied: the caller may reuse it at once.</param>
    /// <param name="output">Receives y, [timeSteps, batchSize, outputSize] (overwritten).</param>
    /// <exception cref="ArgumentException">A shape disagrees; the message names the argument and both shapes. Nothing
    /// is written before all checks pass.</exception>
    public void Forward(Tensor<T> input, Tensor<T> output)
    {
        (int steps, int batch) = ShapeCheck.RequireSequence(input, InputSize, "layer");
        ArgumentNullException.ThrowIfNull(output);

        if (!output.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(output, [steps, batch, OutputSize], nameof(output), "[timeSteps, batchSize, outputSize]");
        }

        if (steps == 0 || batch == 0)
        {
            throw new ArgumentException($"input has shape {Tensor<T>.FormatShape(input.Shape)}: at least one step and one sequence are needed.", nameof(input));
        }

        Parameters.Freeze();
        EnsureCapacity(steps, batch);
        int rows = steps * batch, i = InputSize, o = OutputSize;
        Span<T> x = inputCache.AsSpan(0, rows * i);
        input.AsSpan().CopyTo(x);
        PackDelayWeights();

        // y = b (broadcast), then one accumulating GEMM per tap: delay d shifts the rows by d·δ·B.
        Span<T> y = outputCache.AsSpan(0, rows * o);
        if (Bias is not null)
        {
            Elementwise.BroadcastRows<T>(Bias.Values, rows, y);
        }

        for (int d = 0; d < KernelSize; d++)
        {
            int shift = d * Dilation;
            if (shift >= steps)
            {
                break; // this tap and every later one reads only the zero frames before t = 0
            }

            int m = (steps - shift) * batch;
            Gemm.Compute<T>(false, true, m, o, i, x[..(m * i)], i, delayWeights.AsSpan(d * o * i, o * i), i,
                y[(shift * batch * o)..], o, accumulate: Bias is not null || d > 0);
        }

        ActivationKernels.Apply(Activation, y);
        y.CopyTo(output.AsSpan());
        cachedSteps = steps;
        cachedBatch = batch;
        backwardReady = true;
    }

    /// <summary>
    /// Backpropagates through the last <see cref="Forward"/> call: adds dL/dW and dL/db to the gradients and writes
    /// dL/dx.
    /// </summary>
    /// <param name="dOutput">dL/dy, [timeSteps, batchSize, outputSize] of the forward pass.</param>
    /// <param name="dInput">Receives (overwritten) dL/dx, [timeSteps, batchSize, inputSize], when given.</param>
    /// <exception cref="InvalidOperationException">No forward pass is waiting for its backward pass.</exception>
    /// <exception cref="ArgumentException">A shape disagrees with the forward pass; the message names both shapes.</exception>
    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput = null)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (!backwardReady)
        {
            throw new InvalidOperationException("Backward needs a Forward call first; each Forward allows one Backward (its caches are overwritten).");
        }

        int steps = cachedSteps, batch = cachedBatch;
        if (!dOutput.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(dOutput, [steps, batch, OutputSize], nameof(dOutput), "[timeSteps, batchSize, outputSize] of the forward pass");
        }

        if (dInput is not null && !dInput.HasShape(steps, batch, InputSize))
        {
            ShapeCheck.Require(dInput, [steps, batch, InputSize], nameof(dInput), "[timeSteps, batchSize, inputSize] of the forward pass");
        }

        backwardReady = false;
        int rows = steps * batch, i = InputSize, o = OutputSize, k = KernelSize;
        ReadOnlySpan<T> x = inputCache.AsSpan(0, rows * i);
        Span<T> dA = dPreActivation.AsSpan(0, rows * o);
        ActivationKernels.Backward<T>(Activation, outputCache.AsSpan(0, rows * o), dOutput.AsSpan(), dA);
        if (Bias is not null)
        {
            Elementwise.AddColumnSums<T>(dA, rows, o, Bias.Gradients);
        }

        Span<T> gradient = Weight.Gradients;
        Span<T> dX = dInput is null ? default : dInput.AsSpan();
        for (int d = 0; d < k; d++)
        {
            int shift = d * Dilation;
            if (shift >= steps)
            {
                break;
            }

            // Tap d saw rows 0 .. (T - d·δ)·B of x and wrote rows d·δ·B .. T·B of y.
            int m = (steps - shift) * batch;
            ReadOnlySpan<T> dAd = dA[(shift * batch * o)..];
            Gemm.Compute<T>(true, false, o, i, m, dAd, o, x[..(m * i)], i, dDelayWeight, i, accumulate: false);

            // Scatter dW_d [O, I] into weight index K-1-d of the [O, I, K] gradient (O·I adds, no FLOP-heavy work).
            int tap = k - 1 - d;
            for (int r = 0; r < o * i; r++)
            {
                gradient[r * k + tap] += dDelayWeight[r];
            }

            if (!dX.IsEmpty)
            {
                // Tap 0 covers every row, so it overwrites dX and the others accumulate.
                Gemm.Compute<T>(false, false, m, i, o, dAd, o, delayWeights.AsSpan(d * o * i, o * i), i, dX, i, accumulate: d > 0);
            }
        }
    }

    private void PackDelayWeights()
    {
        int o = OutputSize, i = InputSize, k = KernelSize;
        ReadOnlySpan<T> w = Weight.Values;
        for (int d = 0; d < k; d++)
        {
            Span<T> wd = delayWeights.AsSpan(d * o * i, o * i);
            int tap = k - 1 - d;
            for (int r = 0; r < o * i; r++)
            {
                wd[r] = w[r * k + tap];
            }
        }
    }

    private void EnsureCapacity(int steps, int batch)
    {
        long rows = (long)steps * batch;
        if (rows * Math.Max(InputSize, OutputSize) > Array.MaxLength)
        {
            throw new ArgumentException($"A sequence [{steps}, {batch}, {Math.Max(InputSize, OutputSize)}] does not fit in one array.", "input");
        }

        if (inputCache.Length < rows * InputSize)
        {
            inputCache = new T[rows * InputSize];
        }

        if (outputCache.Length < rows * OutputSize)
        {
            outputCache = new T[rows * OutputSize];
            dPreActivation = new T[rows * OutputSize];
        }
    }
}
