using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Layers;

/// <summary>
/// A stack of <see cref="TimeDelayLayer{T}"/>s, each reading the whole output sequence of the one below: the
/// receptive field widens to 1 + Σ_l (K_l - 1)·δ_l frames (Waibel et al. 1989 stacked two; with dilations 1, 2, 4, ...
/// it grows exponentially with depth, as in WaveNet and Kaldi's TDNNs).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize, I = inputSize, H_l = the output size of layer l, K_l its kernel size,
/// δ_l its dilation.</para>
/// <para>h_0 = x; h_l(t) = f(b_l + Σ_d W_{l,d} h_{l-1}(t - d·δ_l)); y = h_L. Every layer is causal, so y(t) reads
/// x(t - (receptive field - 1)) .. x(t) only. Parameters: <c>{name}.{l}.weight [H_l, H_{l-1}, K_l]</c> and
/// <c>{name}.{l}.bias [H_l]</c>, the keys of a PyTorch <c>nn.ModuleList</c> of <c>Conv1d</c> registered as
/// <c>name</c>. The intermediate sequences are allocated once per (T, B) and reused.</para>
/// </remarks>
public sealed class TimeDelayNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly TimeDelayLayer<T>[] layers;
    private readonly Tensor<T>[] hidden, dHidden;   // between layers: layer l's output is hidden[l], l < L - 1

    /// <summary>Builds the stack; layer l maps the output of layer l - 1 (the input for l = 0) to layerSizes[l] features.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="layerSizes">H_l of every layer, bottom first.</param>
    /// <param name="kernelSizes">K_l of every layer (the same length as <paramref name="layerSizes"/>).</param>
    /// <param name="dilations">δ_l of every layer; all 1 when null.</param>
    /// <param name="activation">f of every layer but the last.</param>
    /// <param name="lastActivation">f of the last layer; <paramref name="activation"/> when null.</param>
    /// <param name="bias">Whether every layer adds a bias.</param>
    /// <param name="random">The initialisation source; seed 0 when null.</param>
    /// <param name="parameters">The block to add the parameters to; a new one when null.</param>
    /// <param name="name">The parameter-name prefix.</param>
    /// <exception cref="ArgumentException">The arrays are empty or of different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, kernel size or dilation is below 1.</exception>
    public TimeDelayNetwork(int inputSize, int[] layerSizes, int[] kernelSizes, int[]? dilations = null, Activation activation = Activation.Tanh,
        Activation? lastActivation = null, bool bias = true, SeededRandom? random = null, ParameterBlock<T>? parameters = null, string name = "tdnn")
    {
        ArgumentNullException.ThrowIfNull(layerSizes);
        ArgumentNullException.ThrowIfNull(kernelSizes);
        if (layerSizes.Length == 0)
        {
            throw new ArgumentException("A TDNN stack needs at least one layer.", nameof(layerSizes));
        }

        if (kernelSizes.Length != layerSizes.Length)
        {
            throw new ArgumentException($"kernelSizes has {kernelSizes.Length} entries but layerSizes has {layerSizes.Length}: one per layer.", nameof(kernelSizes));
        }

        if (dilations is not null && dilations.Length != layerSizes.Length)
        {
            throw new ArgumentException($"dilations has {dilations.Length} entries but layerSizes has {layerSizes.Length}: one per layer.", nameof(dilations));
        }

        Parameters = parameters ?? new ParameterBlock<T>();
        random ??= new SeededRandom(0);
        layers = new TimeDelayLayer<T>[layerSizes.Length];
        int width = inputSize;
        for (int l = 0; l < layers.Length; l++)
        {
            var f = l == layers.Length - 1 ? lastActivation ?? activation : activation;
            layers[l] = new TimeDelayLayer<T>(width, layerSizes[l], kernelSizes[l], dilations?[l] ?? 1, f, bias, random, Parameters, $"{name}.{l}");
            width = layerSizes[l];
        }

        hidden = new Tensor<T>[layers.Length - 1];
        dHidden = new Tensor<T>[layers.Length - 1];
        for (int l = 0; l < hidden.Length; l++)
        {
            hidden[l] = dHidden[l] = new Tensor<T>(1, 1, layerSizes[l]);
        }
    }

    /// <summary>The block holding every layer's parameters.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>The layers, bottom first.</summary>
    public IReadOnlyList<TimeDelayLayer<T>> Layers => layers;

    /// <summary>I.</summary>
    public int InputSize => layers[0].InputSize;

    /// <summary>H_L, the features of each output frame.</summary>
    public int OutputSize => layers[^1].OutputSize;

    /// <summary>1 + Σ_l (K_l - 1)·δ_l: the input frames each output frame depends on.</summary>
    public int ReceptiveField
    {
        get
        {
            int frames = 1;
            foreach (var layer in layers)
            {
                frames += layer.ReceptiveField - 1;
            }

            return frames;
        }
    }

    /// <summary>
    /// The most threads one <see cref="Forward"/> or <see cref="Backward"/> may use for its GEMMs, the calling thread
    /// included; null (the default) takes the limit of the caller, else the number of processors. Results are
    /// bit-identical for every value.
    /// PyTorch's <c>torch.set_num_threads</c> sets one limit for the process; this one is the layer's, as ONNX Runtime's
    /// <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = Kernels.KernelScope.Validate(value); }

    /// <summary>Runs the stack over a sequence and keeps every layer's activations for <see cref="Backward"/>.</summary>
    /// <param name="input">x, [timeSteps, batchSize, inputSize] (copied).</param>
    /// <param name="output">Receives y, [timeSteps, batchSize, outputSize].</param>
    /// <exception cref="ArgumentException">A shape disagrees; the message names the argument and both shapes.</exception>
    public void Forward(Tensor<T> input, Tensor<T> output)
    {
        using var scope = Kernels.KernelScope.Enter(MaxDegreeOfParallelism);
        (int steps, int batch) = ShapeCheck.RequireSequence(input, InputSize, "network");
        ArgumentNullException.ThrowIfNull(output);

        if (!output.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(output, [steps, batch, OutputSize], nameof(output), "[timeSteps, batchSize, outputSize]");
        }

        for (int l = 0; l < hidden.Length; l++)
        {
            if (!hidden[l].HasShape(steps, batch, layers[l].OutputSize))
            {
                hidden[l] = new Tensor<T>(steps, batch, layers[l].OutputSize);
                dHidden[l] = new Tensor<T>(steps, batch, layers[l].OutputSize);
            }
        }

        for (int l = 0; l < layers.Length; l++)
        {
            layers[l].Forward(l == 0 ? input : hidden[l - 1], l == layers.Length - 1 ? output : hidden[l]);
        }
    }

    /// <summary>Backpropagates through the last <see cref="Forward"/> call, adding every layer's gradients to the block.</summary>
    /// <param name="dOutput">dL/dy, [timeSteps, batchSize, outputSize].</param>
    /// <param name="dInput">Receives (overwritten) dL/dx, [timeSteps, batchSize, inputSize], when given.</param>
    /// <exception cref="InvalidOperationException">No forward pass is waiting for its backward pass.</exception>
    /// <exception cref="ArgumentException">A shape disagrees with the forward pass.</exception>
    public void Backward(Tensor<T> dOutput, Tensor<T>? dInput = null)
    {
        using var scope = Kernels.KernelScope.Enter(MaxDegreeOfParallelism);
        for (int l = layers.Length - 1; l >= 0; l--)
        {
            layers[l].Backward(l == layers.Length - 1 ? dOutput : dHidden[l], l == 0 ? dInput : dHidden[l - 1]);
        }
    }
}
