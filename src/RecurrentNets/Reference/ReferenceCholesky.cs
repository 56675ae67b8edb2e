namespace RecurrentNets.Reference;

/// <summary>Naive twin of <see cref="Kernels.CholeskyKernels"/>: the textbook triple loop.</summary>
public static class ReferenceCholesky
{
    /// <summary>Lower Cholesky factor in place; false if not positive definite.</summary>
    public static bool Factor(Span<double> a, int n)
    {
        for (int j = 0; j < n; j++)
        {
            double d = a[j * n + j];
            for (int k = 0; k < j; k++)
            {
                d -= a[j * n + k] * a[j * n + k];
            }

            if (!(d > 0))
            {
                return false;
            }

            a[j * n + j] = Math.Sqrt(d);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++)
                {
                    s -= a[i * n + k] * a[j * n + k];
                }

                a[i * n + j] = s / a[j * n + j];
            }
        }

        return true;
    }
}
