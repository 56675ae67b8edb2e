namespace RecurrentNets.Reference;

/// <summary>Naive loops with the semantics of <see cref="Kernels.R2N2Kernels"/>: the numerical spec of the fast path.</summary>
public static class ReferenceR2N2Kernels
{
    /// <summary>y (+)= α·W·x, W [M, N] row-major.</summary>
    public static void MatVec(ReadOnlySpan<double> w, ReadOnlySpan<double> x, double alpha, Span<double> y, bool accumulate)
    {
        int n = x.Length;
        for (int i = 0; i < y.Length; i++)
        {
            double s = 0;
            for (int j = 0; j < n; j++)
            {
                s += w[i * n + j] * x[j];
            }

            y[i] = accumulate ? y[i] + alpha * s : alpha * s;
        }
    }

    /// <summary>y += α·Wᵀ·x, W [M, N] row-major.</summary>
    public static void MatTransposeVecAdd(ReadOnlySpan<double> w, ReadOnlySpan<double> x, double alpha, Span<double> y)
    {
        int n = y.Length;
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int i = 0; i < x.Length; i++)
            {
                s += w[i * n + j] * x[i];
            }

            y[j] += alpha * s;
        }
    }

    /// <summary>W += α·u·vᵀ.</summary>
    public static void OuterAdd(ReadOnlySpan<double> u, ReadOnlySpan<double> v, double alpha, Span<double> w)
    {
        for (int i = 0; i < u.Length; i++)
        {
            for (int j = 0; j < v.Length; j++)
            {
                w[i * v.Length + j] += alpha * u[i] * v[j];
            }
        }
    }
}
