using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Layers;

/// <summary>
/// A fully connected layer y = x·Wᵀ + b applied to every row: the output layer o = c + V h of the course, shared by
/// every cell. PyTorch: <c>torch.nn.Linear</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: N = rows (e.g. timeSteps·batchSize), In = inFeatures, Out = outFeatures. Parameters: <c>{name}.weight
/// [Out, In]</c> and <c>{name}.bias [Out]</c>, PyTorch's names for a module registered as <c>name</c>.
/// </remarks>
public sealed class Linear<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds the layer's parameters, initialised as PyTorch does: W and b from U(-1/√In, 1/√In).</summary>
    /// <param name="inFeatures">In. PyTorch: <c>in_features</c>.</param>
    /// <param name="outFeatures">Out. PyTorch: <c>out_features</c>.</param>
    /// <param name="bias">Whether to add b. PyTorch: <c>bias</c>.</param>
    /// <param name="random">The initialisation source; seed 0 when null.</param>
    /// <param name="parameters">The block to add the parameters to; a new one when null.</param>
    /// <param name="name">The module name used as the parameter-name prefix.</param>
    public Linear(int inFeatures, int outFeatures, bool bias = true, SeededRandom? random = null, ParameterBlock<T>? parameters = null, string name = "linear")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        Parameters = parameters ?? new ParameterBlock<T>();
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Parameters.Add(name + ".weight", outFeatures, inFeatures);
        Bias = bias ? Parameters.Add(name + ".bias", outFeatures) : null;
        random ??= new SeededRandom(0);
        double bound = 1.0 / Math.Sqrt(inFeatures);
        Initializers.Uniform(Weight.Values, -bound, bound, random);
        if (Bias is not null)
        {
            Initializers.Uniform(Bias.Values, -bound, bound, random);
        }
    }

    /// <summary>The block holding W and b.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>In.</summary>
    public int InFeatures { get; }

    /// <summary>Out.</summary>
    public int OutFeatures { get; }

    /// <summary>W [Out, In]. PyTorch: <c>weight</c>.</summary>
    public ParameterView<T> Weight { get; }

    /// <summary>b [Out], or null. PyTorch: <c>bias</c>.</summary>
    public ParameterView<T>? Bias { get; }

    /// <summary>
    /// The most threads one <see cref="Forward(ReadOnlySpan{T}, int, Span{T})"/> or
    /// <see cref="Backward(ReadOnlySpan{T}, ReadOnlySpan{T}, int, Span{T})"/> may use for its GEMMs, the calling thread
    /// included; null (the default) takes the limit of the caller (a model), else the number of processors. Results are
    /// bit-identical for every value.
    /// PyTorch's <c>torch.set_num_threads</c> sets one limit for the process; this one is the layer's, as ONNX Runtime's
    /// <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    /// <summary>y = x·Wᵀ + b for <paramref name="rows"/> rows.</summary>
    /// <param name="input">x, [rows, In].</param>
    /// <param name="rows">N.</param>
    /// <param name="output">y, [rows, Out] (overwritten).</param>
    /// <exception cref="ArgumentException">A span's length is not N times the feature count.</exception>
    public void Forward(ReadOnlySpan<T> input, int rows, Span<T> output)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckRows(input.Length, rows, InFeatures, nameof(input), "inFeatures");
        CheckRows(output.Length, rows, OutFeatures, nameof(output), "outFeatures");
        if (Bias is not null)
        {
            Elementwise.BroadcastRows<T>(Bias.Values, rows, output);
            Gemm.MultiplyTransposeB(input, Weight.Values, output, rows, InFeatures, OutFeatures, accumulate: true);
        }
        else
        {
            Gemm.MultiplyTransposeB(input, Weight.Values, output, rows, InFeatures, OutFeatures);
        }
    }

    /// <summary>y = x·Wᵀ + b over every row of a tensor whose last dimension is In (e.g. [T, B, In] to [T, B, Out]).</summary>
    /// <exception cref="ArgumentException">The shapes disagree.</exception>
    public void Forward(Tensor<T> input, Tensor<T> output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        int rows = RowsOf(input, InFeatures, nameof(input), "inFeatures");
        int outRows = RowsOf(output, OutFeatures, nameof(output), "outFeatures");
        if (outRows != rows)
        {
            throw new ArgumentException($"output has shape {Tensor<T>.FormatShape(output.Shape)} but input {Tensor<T>.FormatShape(input.Shape)} has {rows} rows.", nameof(output));
        }

        Forward(input.AsSpan(), rows, output.AsSpan());
    }

    /// <summary>Adds dL/dW = dyᵀ·x and dL/db = Σ dy to the gradients and writes dL/dx = dy·W.</summary>
    /// <param name="input">x of the forward pass, [rows, In].</param>
    /// <param name="dOutput">dL/dy, [rows, Out].</param>
    /// <param name="rows">N.</param>
    /// <param name="dInput">Receives (overwritten) dL/dx, [rows, In]; pass an empty span to skip it.</param>
    public void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> dOutput, int rows, Span<T> dInput)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckRows(input.Length, rows, InFeatures, nameof(input), "inFeatures");
        CheckRows(dOutput.Length, rows, OutFeatures, nameof(dOutput), "outFeatures");
        if (!dInput.IsEmpty)
        {
            CheckRows(dInput.Length, rows, InFeatures, nameof(dInput), "inFeatures");
        }

        Parameters.Freeze();
        Gemm.MultiplyTransposeA(dOutput, input, Weight.Gradients, OutFeatures, rows, InFeatures, accumulate: true);
        if (Bias is not null)
        {
            Elementwise.AddColumnSums(dOutput, rows, OutFeatures, Bias.Gradients);
        }

        if (!dInput.IsEmpty)
        {
            Gemm.Multiply(dOutput, Weight.Values, dInput, rows, OutFeatures, InFeatures);
        }
    }

    /// <summary>Tensor form of <see cref="Backward(ReadOnlySpan{T}, ReadOnlySpan{T}, int, Span{T})"/>.</summary>
    public void Backward(Tensor<T> input, Tensor<T> dOutput, Tensor<T>? dInput = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(dOutput);
        int rows = RowsOf(input, InFeatures, nameof(input), "inFeatures");
        if (dInput is not null)
        {
            ShapeCheck.Require(dInput, input.Shape, nameof(dInput), "(the shape of input)");
        }

        Backward(input.AsSpan(), dOutput.AsSpan(), rows, dInput is null ? default : dInput.AsSpan());
    }

    private static int RowsOf(Tensor<T> tensor, int features, string name, string meaning)
    {
        int last = tensor.Size(tensor.Rank - 1);
        if (last != features)
        {
            throw new ArgumentException($"{name} has shape {Tensor<T>.FormatShape(tensor.Shape)}: {last} features but the layer expects {features} ({meaning}).", name);
        }

        return tensor.Length / features;
    }

    private static void CheckRows(int length, int rows, int features, string name, string meaning)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1, nameof(rows));
        if (length != (long)rows * features)
        {
            throw new ArgumentException($"{name} has {length} elements but [{rows}, {features}] ({meaning}) needs {(long)rows * features}.", name);
        }
    }
}
