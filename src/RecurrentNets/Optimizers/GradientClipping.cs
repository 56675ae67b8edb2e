using System.Numerics;
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
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    public static double ClipGradientNorm<T>(ParameterBlock<T> parameters, double maxNorm)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive.");
        }

        double norm = GradientNorm(parameters);
        double coefficient = maxNorm / (norm + 1e-6);
        if (coefficient < 1)
        {
            TP.Multiply(parameters.Gradients, T.CreateTruncating(coefficient), parameters.Gradients);
        }

        return norm;
    }

    /// <summary>‖g‖₂ over all gradients of the block, accumulated in double in fixed-size chunks (deterministic).</summary>
    public static double GradientNorm<T>(ParameterBlock<T> parameters)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ReadOnlySpan<T> g = parameters.Gradients;
        double sum = 0;
        const int Chunk = 4096;
        for (int i = 0; i < g.Length; i += Chunk)
        {
            sum += double.CreateTruncating(TP.SumOfSquares(g.Slice(i, Math.Min(Chunk, g.Length - i))));
        }

        return Math.Sqrt(sum);
    }
}
