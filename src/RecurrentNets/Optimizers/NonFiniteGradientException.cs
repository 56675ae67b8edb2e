using System.Numerics;
using RecurrentNets.Parameters;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Optimizers;

/// <summary>
/// A gradient holds NaN or ±Inf, so an optimiser step (or <see cref="GradientClipping.ClipGradientNorm{T}"/> with
/// <c>errorIfNonFinite</c>) was refused before anything was written: the parameters, the gradients and the optimiser's
/// state are as they were. Catch it to stop training with the last good weights, or to skip the batch.
/// </summary>
/// <remarks>
/// The usual causes are a NaN in the inputs or targets, or an exploding gradient (clip it with
/// <see cref="GradientClipping.ClipGradientNorm{T}"/>, or lower the learning rate).
/// </remarks>
public sealed class NonFiniteGradientException : ArithmeticException
{
    /// <summary>Creates the exception for the parameter view named <paramref name="parameterName"/>.</summary>
    /// <param name="message">What was refused and why.</param>
    /// <param name="parameterName">The name of the first parameter view whose gradient is not finite, or null when every
    /// element is finite but a norm over them overflowed.</param>
    public NonFiniteGradientException(string message, string? parameterName)
        : base(message)
    {
        ParameterName = parameterName;
    }

    /// <summary>Creates the exception.</summary>
    public NonFiniteGradientException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public NonFiniteGradientException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NonFiniteGradientException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// The <see cref="ParameterView{T}.Name"/> (PyTorch's <c>state_dict</c> key) of the first view, in block order, whose
    /// gradient holds NaN or ±Inf; null when the elements are finite but their norm overflowed.
    /// </summary>
    public string? ParameterName { get; }

    /// <summary>
    /// Throws when a gradient of the block is NaN or ±Inf. One vectorised pass over the flat gradient block, no
    /// allocation unless it throws.
    /// </summary>
    /// <param name="parameters">The block.</param>
    /// <param name="refused">What is refused, for the message ("the optimiser step").</param>
    /// <exception cref="NonFiniteGradientException">A gradient is NaN or ±Inf; the message names its view and index.</exception>
    internal static void ThrowIfAny<T>(ParameterBlock<T> parameters, string refused)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!TP.IsFiniteAll<T>(parameters.Gradients))
        {
            throw Create(parameters, refused);
        }
    }

    /// <summary>Builds the exception for the first non-finite gradient (cold path).</summary>
    internal static NonFiniteGradientException Create<T>(ParameterBlock<T> parameters, string refused)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var views = parameters.Views;
        for (int v = 0; v < views.Count; v++)
        {
            ReadOnlySpan<T> g = views[v].Gradients;
            if (TP.IsFiniteAll(g))
            {
                continue;
            }

            int first = 0;
            int count = 0;
            for (int i = g.Length - 1; i >= 0; i--)
            {
                if (!T.IsFinite(g[i]))
                {
                    first = i;
                    count++;
                }
            }

            return new NonFiniteGradientException(
                $"The gradient of '{views[v].Name}' {Tensors.Tensor<T>.FormatShape(views[v].Shape)} holds {count} non-finite value(s) "
                + $"(the first, at element {first}, is {g[first]}), so {refused} was refused and nothing was changed. "
                + "A NaN in the inputs or targets, or an exploding gradient (clip it with GradientClipping.ClipGradientNorm, or lower the learning rate), is the usual cause.",
                views[v].Name);
        }

        return new NonFiniteGradientException(
            $"Every gradient is finite but their norm overflowed, so {refused} was refused and nothing was changed. "
            + "The gradients are exploding: lower the learning rate or clip them sooner.",
            parameterName: null);
    }
}
