using System.Numerics;
using System.Runtime.CompilerServices;

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

    /// <summary>
    /// Σ v[i], v[i] = x[i]·y[i] when <paramref name="y"/> is given and x[i] otherwise, in the order of
    /// <see cref="Kernels.Reductions"/>: 128 bytes of lanes (L values), lane l adding v[b + l] + v[b + l + L] for each
    /// block b of 2L values, the lanes folded in halves, then the last n mod 2L values in order.
    /// </summary>
    public static T FixedOrderSum<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = 128 / Unsafe.SizeOf<T>(), n = x.Length, body = n - n % (2 * lanes);
        var sums = new T[lanes];
        for (int b = 0; b < body; b += 2 * lanes)
        {
            for (int l = 0; l < lanes; l++)
            {
                T first = y.IsEmpty ? x[b + l] : x[b + l] * y[b + l];
                T second = y.IsEmpty ? x[b + l + lanes] : x[b + l + lanes] * y[b + l + lanes];
                sums[l] += first + second;
            }
        }

        for (int width = lanes / 2; width >= 1; width /= 2)
        {
            for (int l = 0; l < width; l++)
            {
                sums[l] += sums[l + width];
            }
        }

        T sum = sums[0];
        for (int i = body; i < n; i++)
        {
            sum += y.IsEmpty ? x[i] : x[i] * y[i];
        }

        return sum;
    }
}
