using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Optimizers;

/// <summary>Gradient clipping by global norm (Pascanu et al. 2013). PyTorch: <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient of the block by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂ is the norm of all gradients
    /// together, and returns ‖g‖₂ before clipping.
    /// </summary>
    /// <param name="parameters">The block whose gradients are clipped in place.</param>
    /// <param name="maxNorm">The largest norm kept, &gt; 0. PyTorch: <c>max_norm</c>.</param>
    /// <param name="errorIfNonFinite">Throw when the norm is NaN or ±Inf instead of returning it (the gradients are then
    /// left unchanged). PyTorch: <c>error_if_nonfinite</c>, also false by default. Without it a NaN norm leaves the
    /// gradients as they are and an infinite one scales them by 0 (the infinite elements become NaN), as in PyTorch.</param>
    /// <returns>‖g‖₂ before clipping.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    /// <exception cref="NonFiniteGradientException"><paramref name="errorIfNonFinite"/> is set and the norm is not finite;
    /// the message names the first parameter view holding NaN or ±Inf (none when the norm overflowed).</exception>
    public static double ClipGradientNorm<T>(ParameterBlock<T> parameters, double maxNorm, bool errorIfNonFinite = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive.");
        }

        double norm = GradientNorm(parameters);
        if (errorIfNonFinite && !double.IsFinite(norm))
        {
            throw NonFiniteGradientException.Create(parameters, "clipping the gradient norm");
        }

        double coefficient = maxNorm / (norm + 1e-6);
        if (coefficient < 1)
        {
            TP.Multiply(parameters.Gradients, T.CreateTruncating(coefficient), parameters.Gradients);
        }

        return norm;
    }

    /// <summary>‖g‖₂ over all gradients of the block, accumulated in double over fixed-size chunks, each summed in the
    /// order of <see cref="Reductions"/> (the same bits for any thread count and on every vector path).</summary>
    public static double GradientNorm<T>(ParameterBlock<T> parameters)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ReadOnlySpan<T> g = parameters.Gradients;
        double sum = 0;
        const int Chunk = 4096;
        for (int i = 0; i < g.Length; i += Chunk)
        {
            sum += double.CreateTruncating(Reductions.SumOfSquares(g.Slice(i, Math.Min(Chunk, g.Length - i))));
        }

        return Math.Sqrt(sum);
    }
}
