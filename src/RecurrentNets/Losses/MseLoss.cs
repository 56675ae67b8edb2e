using System.Numerics;

namespace RecurrentNets.Losses;

/// <summary>Mean-squared error L = mean((ŷ - y)²). PyTorch: <c>torch.nn.MSELoss</c>.</summary>
public static class MseLoss
{
    /// <summary>The loss and its gradient dL/dŷ = 2(ŷ - y)/N (Mean) or 2(ŷ - y) (Sum), N = element count.</summary>
    /// <param name="prediction">ŷ.</param>
    /// <param name="target">y, the same length.</param>
    /// <param name="dPrediction">Receives (overwritten) dL/dŷ; pass an empty span for the loss alone.</param>
    /// <param name="reduction">Mean over all elements, or sum.</param>
    /// <exception cref="ArgumentException">Lengths disagree or are zero.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is not Mean or Sum.</exception>
    public static double Compute<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, Span<T> dPrediction,
        LossReduction reduction = LossReduction.Mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (prediction.IsEmpty)
        {
            throw new ArgumentException("prediction is empty.", nameof(prediction));
        }

        if (target.Length != prediction.Length)
        {
            throw new ArgumentException($"target has {target.Length} elements but prediction has {prediction.Length}.", nameof(target));
        }

        return Core(prediction, target, default, prediction.Length, dPrediction, reduction);
    }

    /// <summary>
    /// The masked loss: only elements whose <paramref name="mask"/> is true count (padding past a sequence's end, say);
    /// Mean divides by the number counted, and masked elements get a zero gradient.
    /// </summary>
    /// <param name="prediction">ŷ.</param>
    /// <param name="target">y, the same length.</param>
    /// <param name="mask">Which elements count, the same length.</param>
    /// <param name="dPrediction">Receives (overwritten) dL/dŷ; pass an empty span for the loss alone.</param>
    /// <param name="reduction">Mean over the counted elements, or sum.</param>
    /// <returns>The loss (0 when nothing counts).</returns>
    /// <exception cref="ArgumentException">Lengths disagree.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is not Mean or Sum.</exception>
    public static double Compute<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, ReadOnlySpan<bool> mask, Span<T> dPrediction,
        LossReduction reduction = LossReduction.Mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (target.Length != prediction.Length || mask.Length != prediction.Length)
        {
            throw new ArgumentException($"prediction, target and mask must have one length; they have {prediction.Length}, {target.Length} and {mask.Length}.", nameof(mask));
        }

        int counted = 0;
        foreach (bool m in mask)
        {
            counted += m ? 1 : 0;
        }

        return Core(prediction, target, mask, counted, dPrediction, reduction);
    }

    // Σ over the counted elements (all when the mask is empty) of (ŷ - y)², and its gradient.
    private static double Core<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, ReadOnlySpan<bool> mask, int counted,
        Span<T> dPrediction, LossReduction reduction)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        LossReductionCheck.MeanOrSum(reduction);
        bool wantGradient = !dPrediction.IsEmpty;
        if (wantGradient && dPrediction.Length != prediction.Length)
        {
            throw new ArgumentException($"dPrediction has {dPrediction.Length} elements but prediction has {prediction.Length}.", nameof(dPrediction));
        }

        double scale = reduction == LossReduction.Mean && counted > 0 ? 1.0 / counted : 1.0;
        T gradScale = T.CreateTruncating(2 * scale);
        double sum = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            T diff = mask.IsEmpty || mask[i] ? prediction[i] - target[i] : T.Zero;
            double d = double.CreateTruncating(diff);
            sum += d * d;
            if (wantGradient)
            {
                dPrediction[i] = gradScale * diff;
            }
        }

        return sum * scale;
    }
}
