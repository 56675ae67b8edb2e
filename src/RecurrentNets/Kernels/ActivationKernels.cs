using System.Numerics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The forward and backward passes of an <see cref="Activation"/> in place over a span (σ and tanh from
/// <see cref="VectorMath"/>: the same bits on every vector path). The naive twin is <c>Reference.ReferenceTimeDelay.Activate</c> / <c>Reference.ReferenceTimeDelay.ActivationDerivative</c>.
/// </summary>
public static class ActivationKernels
{
    /// <summary>values = f(values), in place.</summary>
    /// <param name="activation">f.</param>
    /// <param name="values">a on entry, f(a) on return.</param>
    /// <exception cref="ArgumentOutOfRangeException">The activation is not defined.</exception>
    public static void Apply<T>(Activation activation, Span<T> values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (activation)
        {
            case Activation.Identity:
                break;
            case Activation.Tanh:
                VectorMath.Tanh<T>(values, values);
                break;
            case Activation.Relu:
                Elementwise.Relu<T>(values, values);
                break;
            case Activation.Sigmoid:
                VectorMath.Sigmoid<T>(values);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    /// <summary>da = dh ⊙ f'(a), with f'(a) computed from the output h = f(a); dh may alias da.</summary>
    /// <param name="activation">f.</param>
    /// <param name="h">f(a), the forward output.</param>
    /// <param name="dh">dL/dh.</param>
    /// <param name="da">Receives dL/da, the same length.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The activation is not defined.</exception>
    public static void Backward<T>(Activation activation, ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dh.Length != h.Length || da.Length != h.Length)
        {
            throw new ArgumentException($"h, dh and da must have one length; they have {h.Length}, {dh.Length} and {da.Length}.", nameof(da));
        }

        switch (activation)
        {
            case Activation.Identity:
                dh.CopyTo(da);
                break;
            case Activation.Tanh:
                Elementwise.TanhBackward(h, dh, da);
                break;
            case Activation.Relu:
                Elementwise.ReluBackward(h, dh, da);
                break;
            case Activation.Sigmoid:
                Elementwise.Backward<T, SigmoidGradient<T>>(h, dh, da);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }
}
