namespace RecurrentNets.Reference;

/// <summary>
/// The naive twin of <c>Kernels.CtcKernels</c>: Graves et al. (2006)'s α and β recursions for one sequence, one state at
/// a time, in double with <see cref="Math.Log(double)"/> and <see cref="Math.Exp"/>, and the gradient as PyTorch's CPU
/// kernel forms it (ln Σ α·β per class, then exp).
/// </summary>
public static class ReferenceCtc
{
    /// <summary>−ln p(l | x) of one sequence and the gradient y − γ (PyTorch's), [T, C].</summary>
    /// <param name="logProbs">ln y, [T, C].</param>
    /// <param name="timeSteps">T (at least 1).</param>
    /// <param name="classes">C.</param>
    /// <param name="labels">l.</param>
    /// <param name="blank">The blank class.</param>
    /// <param name="gradient">Receives y − γ, [T, C] (NaN where the loss is infinite).</param>
    /// <returns>−ln p(l | x), +∞ when no path fits.</returns>
    public static double Loss(ReadOnlySpan<double> logProbs, int timeSteps, int classes, ReadOnlySpan<int> labels, int blank, Span<double> gradient)
    {
        int states = 2 * labels.Length + 1;
        int[] l = labels.ToArray();
        int Label(int s) => s % 2 == 0 ? blank : l[s / 2];
        bool Skip(int s) => s % 2 == 1 && s >= 3 && l[s / 2] != l[s / 2 - 1];
        var alpha = new double[timeSteps, states];
        var beta = new double[timeSteps, states];
        for (int t = 0; t < timeSteps; t++)
        {
            for (int s = 0; s < states; s++)
            {
                alpha[t, s] = beta[t, s] = double.NegativeInfinity;
            }
        }

        alpha[0, 0] = logProbs[blank];
        if (states > 1)
        {
            alpha[0, 1] = logProbs[Label(1)];
        }

        for (int t = 1; t < timeSteps; t++)
        {
            for (int s = 0; s < states; s++)
            {
                double sum = alpha[t - 1, s];
                if (s >= 1)
                {
                    sum = LogAdd(sum, alpha[t - 1, s - 1]);
                }

                if (Skip(s))
                {
                    sum = LogAdd(sum, alpha[t - 1, s - 2]);
                }

                alpha[t, s] = sum + logProbs[t * classes + Label(s)];
            }
        }

        int last = timeSteps - 1;
        beta[last, states - 1] = logProbs[last * classes + blank];
        if (states > 1)
        {
            beta[last, states - 2] = logProbs[last * classes + Label(states - 2)];
        }

        for (int t = last - 1; t >= 0; t--)
        {
            for (int s = 0; s < states; s++)
            {
                double sum = beta[t + 1, s];
                if (s + 1 < states)
                {
                    sum = LogAdd(sum, beta[t + 1, s + 1]);
                }

                if (s + 2 < states && Skip(s + 2))
                {
                    sum = LogAdd(sum, beta[t + 1, s + 2]);
                }

                beta[t, s] = sum + logProbs[t * classes + Label(s)];
            }
        }

        double logLikelihood = states > 1 ? LogAdd(alpha[last, states - 1], alpha[last, states - 2]) : alpha[last, 0];
        double nll = -logLikelihood;
        for (int t = 0; t < timeSteps; t++)
        {
            for (int c = 0; c < classes; c++)
            {
                double logAlphaBeta = double.NegativeInfinity;
                for (int s = 0; s < states; s++)
                {
                    if (Label(s) == c)
                    {
                        logAlphaBeta = LogAdd(logAlphaBeta, alpha[t, s] + beta[t, s]);
                    }
                }

                double lp = logProbs[t * classes + c];
                gradient[t * classes + c] = Math.Exp(lp) - Math.Exp(logAlphaBeta + nll - lp);
            }
        }

        return nll;
    }

    /// <summary>ln(e^a + e^b), −∞ when both are.</summary>
    public static double LogAdd(double a, double b)
    {
        double m = Math.Max(a, b);
        return double.IsNegativeInfinity(m) ? m : m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m));
    }
}
