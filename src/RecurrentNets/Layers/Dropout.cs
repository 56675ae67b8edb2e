using System.Numerics;
using RecurrentNets.Init;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Layers;

/// <summary>
/// Inverted dropout (Srivastava et al. 2014): while training, each element is zeroed with probability p and the rest
/// are scaled by 1 / (1 - p); in evaluation it is the identity. PyTorch: <c>torch.nn.Dropout</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>The mask of the last forward pass is kept for <see cref="Backward"/>; its buffer is allocated once per size.</remarks>
public sealed class Dropout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private SeededRandom random;
    private T[] mask = [];
    private int maskLength = -1;

    /// <summary>Creates the layer.</summary>
    /// <param name="probability">p in [0, 1). PyTorch: <c>p</c>.</param>
    /// <param name="random">The mask source; seed 0 when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">p is outside [0, 1).</exception>
    public Dropout(double probability, SeededRandom? random = null)
    {
        if (!(probability >= 0 && probability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "The dropout probability must be in [0, 1).");
        }

        Probability = probability;
        this.random = random ?? new SeededRandom(0);
    }

    /// <summary>p.</summary>
    public double Probability { get; }

    /// <summary>Whether masks are drawn (PyTorch's <c>train()</c> / <c>eval()</c>). Default true.</summary>
    public bool Training { get; set; } = true;

    /// <summary>Restarts the masks from <paramref name="seed"/>.</summary>
    public void Reseed(ulong seed) => random = new SeededRandom(seed);

    /// <summary>output = input ⊙ mask (training) or input (evaluation). input and output may be the same span.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void Forward(ReadOnlySpan<T> input, Span<T> output)
    {
        if (output.Length != input.Length)
        {
            throw new ArgumentException($"output has {output.Length} elements but input has {input.Length}.", nameof(output));
        }

        if (!Training || Probability == 0)
        {
            input.CopyTo(output);
            maskLength = -1;
            return;
        }

        if (mask.Length < input.Length)
        {
            mask = new T[input.Length];
        }

        T keep = T.CreateTruncating(1 / (1 - Probability));
        Span<T> m = mask.AsSpan(0, input.Length);
        for (int i = 0; i < m.Length; i++)
        {
            m[i] = random.NextDouble() < Probability ? T.Zero : keep;
        }

        TP.Multiply(input, m, output);
        maskLength = input.Length;
    }

    /// <summary>dInput = dOutput ⊙ mask of the last forward pass (or dOutput in evaluation). The spans may be the same.</summary>
    /// <exception cref="ArgumentException">The length differs from the last forward pass.</exception>
    public void Backward(ReadOnlySpan<T> dOutput, Span<T> dInput)
    {
        if (dInput.Length != dOutput.Length)
        {
            throw new ArgumentException($"dInput has {dInput.Length} elements but dOutput has {dOutput.Length}.", nameof(dInput));
        }

        if (maskLength < 0)
        {
            dOutput.CopyTo(dInput);
            return;
        }

        if (maskLength != dOutput.Length)
        {
            throw new ArgumentException($"dOutput has {dOutput.Length} elements but the last forward pass had {maskLength}.", nameof(dOutput));
        }

        TP.Multiply(dOutput, mask.AsSpan(0, maskLength), dInput);
    }
}
