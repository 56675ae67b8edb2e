using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Losses;

/// <summary>
/// Softmax cross-entropy: y = softmax(o), L = -log y[target], the course's loss on o = c + V h.
/// PyTorch: <c>torch.nn.CrossEntropyLoss</c> (logits in, class indices as targets).
/// </summary>
/// <remarks>
/// Legend: N = rows, C = classes. dL/do = softmax(o) - onehot(target), divided by the number of counted rows for
/// <see cref="LossReduction.Mean"/>. A negative target marks a row to ignore (PyTorch's <c>ignore_index</c>): it adds
/// no loss and gets a zero gradient, which masks padded steps.
/// </remarks>
public static class CrossEntropyLoss
{
    /// <summary>The loss and its gradient with respect to the logits.</summary>
    /// <param name="logits">o, [N, C].</param>
    /// <param name="targets">The class of each row, [N], in [0, C); negative to ignore the row.</param>
    /// <param name="classes">C.</param>
    /// <param name="dLogits">Receives (overwritten) dL/do, [N, C]; pass an empty span for the loss alone.</param>
    /// <param name="reduction">Mean over counted rows, or sum.</param>
    /// <returns>The loss (0 when every row is ignored).</returns>
    /// <exception cref="ArgumentException">Lengths disagree or a target is C or more.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is not Mean or Sum.</exception>
    public static double Compute<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> dLogits,
        LossReduction reduction = LossReduction.Mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        LossReductionCheck.MeanOrSum(reduction);
        int rows = targets.Length;
        if (logits.Length != (long)rows * classes)
        {
            throw new ArgumentException($"logits has {logits.Length} elements but {rows} targets of {classes} classes need {(long)rows * classes}.", nameof(logits));
        }

        bool wantGradient = !dLogits.IsEmpty;
        if (wantGradient && dLogits.Length != logits.Length)
        {
            throw new ArgumentException($"dLogits has {dLogits.Length} elements but logits has {logits.Length}.", nameof(dLogits));
        }

        int counted = 0;
        foreach (int target in targets)
        {
            if (target >= classes)
            {
                throw new ArgumentException($"A target is {target} but there are only {classes} classes.", nameof(targets));
            }

            if (target >= 0)
            {
                counted++;
            }
        }

        double scale = reduction == LossReduction.Mean && counted > 0 ? 1.0 / counted : 1.0;
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = logits.Slice(r * classes, classes);
            int target = targets[r];
            if (target < 0)
            {
                if (wantGradient)
                {
                    dLogits.Slice(r * classes, classes).Clear();
                }

                continue;
            }

            // log softmax(o)[target] = o[target] - max - log Σ exp(o - max)
            double logSumExp = LogSumExp(row);
            loss -= double.CreateTruncating(row[target]) - logSumExp;
            if (wantGradient)
            {
                Span<T> d = dLogits.Slice(r * classes, classes);
                Softmax.Row(row, d);
                d[target] -= T.One;
                if (scale != 1.0)
                {
                    System.Numerics.Tensors.TensorPrimitives.Multiply(d, T.CreateTruncating(scale), d);
                }
            }
        }

        return loss * scale;
    }

    /// <summary>
    /// The loss and its gradient against target distributions (soft targets): L = -Σ_c p[c]·log softmax(o)[c] per row.
    /// PyTorch: <c>torch.nn.CrossEntropyLoss</c> with class probabilities as the target.
    /// </summary>
    /// <param name="logits">o, [N, C].</param>
    /// <param name="targetProbabilities">p, [N, C]: one distribution per row (non-negative; rows normally sum to one).</param>
    /// <param name="classes">C.</param>
    /// <param name="dLogits">Receives (overwritten) dL/do, [N, C]; pass an empty span for the loss alone.</param>
    /// <param name="reduction">Mean over the N rows, or sum.</param>
    /// <returns>The loss.</returns>
    /// <remarks>dL/do = softmax(o)·Σ_c p[c] - p, which is softmax(o) - p for a distribution; divided by N for
    /// <see cref="LossReduction.Mean"/>. The minimum over o is the entropy of p, reached at softmax(o) = p.</remarks>
    /// <exception cref="ArgumentException">The lengths disagree, are not a whole number of rows, or a target is negative
    /// or not finite.</exception>
    public static double ComputeSoft<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targetProbabilities, int classes, Span<T> dLogits,
        LossReduction reduction = LossReduction.Mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        LossReductionCheck.MeanOrSum(reduction);
        if (targetProbabilities.Length != logits.Length)
        {
            throw new ArgumentException($"targetProbabilities has {targetProbabilities.Length} elements but logits has {logits.Length}.", nameof(targetProbabilities));
        }

        if (logits.Length % classes != 0)
        {
            throw new ArgumentException($"logits has {logits.Length} elements: not a whole number of rows of {classes} classes.", nameof(logits));
        }

        bool wantGradient = !dLogits.IsEmpty;
        if (wantGradient && dLogits.Length != logits.Length)
        {
            throw new ArgumentException($"dLogits has {dLogits.Length} elements but logits has {logits.Length}.", nameof(dLogits));
        }

        foreach (T p in targetProbabilities)
        {
            if (!(p >= T.Zero) || !T.IsFinite(p))
            {
                throw new ArgumentException($"A target probability is {p}: targets must be finite and non-negative.", nameof(targetProbabilities));
            }
        }

        int rows = logits.Length / classes;
        double scale = reduction == LossReduction.Mean && rows > 0 ? 1.0 / rows : 1.0;
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = logits.Slice(r * classes, classes);
            ReadOnlySpan<T> p = targetProbabilities.Slice(r * classes, classes);

            // -Σ p·log softmax(o) = Σ p·(logsumexp(o) - o)
            double logSumExp = LogSumExp(row), mass = 0;
            for (int c = 0; c < classes; c++)
            {
                double pc = double.CreateTruncating(p[c]);
                mass += pc;
                if (pc != 0)
                {
                    loss += pc * (logSumExp - double.CreateTruncating(row[c]));
                }
            }

            if (wantGradient)
            {
                Span<T> d = dLogits.Slice(r * classes, classes);
                Softmax.Row(row, d);
                T m = T.CreateTruncating(mass * scale), s = T.CreateTruncating(scale);
                for (int c = 0; c < classes; c++)
                {
                    d[c] = d[c] * m - p[c] * s;
                }
            }
        }

        return loss * scale;
    }

    private static double LogSumExp<T>(ReadOnlySpan<T> row)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double max = double.NegativeInfinity;
        foreach (T v in row)
        {
            max = Math.Max(max, double.CreateTruncating(v));
        }

        // e^(o - max) in double by our vector exp (the same bits on every CPU), 64 at a time, summed in order.
        Span<double> e = stackalloc double[64];
        double sum = 0;
        for (int start = 0; start < row.Length; start += e.Length)
        {
            int count = Math.Min(e.Length, row.Length - start);
            for (int c = 0; c < count; c++)
            {
                e[c] = double.CreateTruncating(row[start + c]) - max;
            }

            VectorMath.Exp(e[..count], e[..count]);
            for (int c = 0; c < count; c++)
            {
                sum += e[c];
            }
        }

        return max + ScalarMath.Log(sum);
    }
}
