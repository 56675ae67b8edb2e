using System.Numerics;

namespace RecurrentNets.Reference;

/// <summary>Naive twins of <see cref="Kernels.Elementwise"/>: plain scalar loops, the numerical specification.</summary>
public static class ReferenceElementwise
{
    /// <summary>sums[c] += Σ_r source[r, c].</summary>
    public static void AddColumnSums<T>(ReadOnlySpan<T> source, int rows, int columns, Span<T> sums)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                sums[c] += source[r * columns + c];
            }
        }
    }

    /// <summary>da = dh ⊙ (1 - h²).</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < h.Length; i++)
        {
            da[i] = dh[i] * (T.One - h[i] * h[i]);
        }
    }

    /// <summary>da = dh where h &gt; 0, else 0.</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < h.Length; i++)
        {
            da[i] = h[i] > T.Zero ? dh[i] : T.Zero;
        }
    }

    /// <summary>Numerically stable softmax of each row of [rows, columns].</summary>
    public static void SoftmaxRows<T>(ReadOnlySpan<T> logits, int rows, int columns, Span<T> probabilities)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T max = T.NegativeInfinity;
            for (int c = 0; c < columns; c++)
            {
                max = T.Max(max, logits[r * columns + c]);
            }

            T sum = T.Zero;
            for (int c = 0; c < columns; c++)
            {
                T e = T.Exp(logits[r * columns + c] - max);
                probabilities[r * columns + c] = e;
                sum += e;
            }

            for (int c = 0; c < columns; c++)
            {
                probabilities[r * columns + c] /= sum;
            }
        }
    }
}
