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

    /// <summary>
    /// addend + Σ x[i]·y[i] in the order of <see cref="Kernels.Reductions.CompensatedDot"/> (Ogita, Rump and Oishi's
    /// Dot2): 16 lanes, each a pair (s, e) taking x[b + l]·y[b + l] of each block b of 16 values (p = x·y,
    /// q = fma(x, y, -p), (s, t) = TwoSum(s, p), e = e + (q + t)); the lanes folded in halves ((s, t) = TwoSum(s, s'),
    /// e = (e + e') + t); then the addend and the last n mod 16 products into that pair; s + e.
    /// </summary>
    public static double FixedOrderCompensatedDot(ReadOnlySpan<double> x, ReadOnlySpan<double> y, double addend = 0)
    {
        const int lanes = 16;
        int n = x.Length, body = n - n % lanes;
        var s = new double[lanes];
        var e = new double[lanes];
        for (int b = 0; b < body; b += lanes)
        {
            for (int l = 0; l < lanes; l++)
            {
                double p = x[b + l] * y[b + l];
                double q = Math.FusedMultiplyAdd(x[b + l], y[b + l], -p);
                double t = TwoSum(ref s[l], p);
                e[l] += q + t;
            }
        }

        for (int width = lanes / 2; width >= 1; width /= 2)
        {
            for (int l = 0; l < width; l++)
            {
                double t = TwoSum(ref s[l], s[l + width]);
                e[l] = (e[l] + e[l + width]) + t;
            }
        }

        double sum = s[0], error = e[0];
        error += TwoSum(ref sum, addend);
        for (int i = body; i < n; i++)
        {
            double p = x[i] * y[i];
            double q = Math.FusedMultiplyAdd(x[i], y[i], -p);
            double t = TwoSum(ref sum, p);
            error += q + t;
        }

        return sum + error;
    }

    // Knuth's TwoSum: s + v = s' + t exactly; s becomes s', t is returned.
    private static double TwoSum(ref double s, double v)
    {
        double sum = s + v;
        double z = sum - s;
        double t = (s - (sum - z)) + (v - z);
        s = sum;
        return t;
    }
}
