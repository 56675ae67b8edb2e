namespace RecurrentNets.Reference;

/// <summary>
/// Naive twins of <see cref="Kernels.CholeskyKernels"/>: the textbook triple loop (<see cref="Factor"/>, plain sums), and
/// the kernel's compensated algorithm as scalar loops (<see cref="FactorCompensated"/>, <see cref="SolveCompensated"/>),
/// which the kernel matches bit for bit.
/// </summary>
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

    /// <summary>
    /// The kernel's factorisation: L[i, j] = -FixedOrderCompensatedDot(L[i, 0:j], L[j, 0:j], -A[i, j]) / L[j, j], row by
    /// row, and L[i, i] = √(-FixedOrderCompensatedDot(L[i, 0:i], L[i, 0:i], -A[i, i])); false if a pivot is not positive.
    /// </summary>
    public static bool FactorCompensated(Span<double> a, int n)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                double dot = ReferenceElementwise.FixedOrderCompensatedDot(a.Slice(i * n, j), a.Slice(j * n, j), -a[i * n + j]);
                a[i * n + j] = -dot / a[j * n + j];
            }

            double d = -ReferenceElementwise.FixedOrderCompensatedDot(a.Slice(i * n, i), a.Slice(i * n, i), -a[i * n + i]);
            if (!(d > 0) || !double.IsFinite(d))
            {
                return false;
            }

            a[i * n + i] = Math.Sqrt(d);
        }

        return true;
    }

    /// <summary>
    /// The kernel's solve of L·Lᵀ·x = b for each row of <paramref name="b"/> [columns, N]: forward with compensated dots;
    /// backward x[i] = (y[i] + e[i]) / L[i, i], then for each k &lt; i: p = -x[i]·L[i, k], q = fma(-x[i], L[i, k], -p),
    /// (y[k], t) = TwoSum(y[k], p), e[k] = e[k] + (q + t).
    /// </summary>
    public static void SolveCompensated(ReadOnlySpan<double> l, int n, Span<double> b, int columns)
    {
        for (int c = 0; c < columns; c++)
        {
            var x = b.Slice(c * n, n);
            for (int i = 0; i < n; i++)
            {
                x[i] = -ReferenceElementwise.FixedOrderCompensatedDot(l.Slice(i * n, i), x[..i], -x[i]) / l[i * n + i];
            }

            var e = new double[n];
            for (int i = n - 1; i >= 0; i--)
            {
                x[i] = (x[i] + e[i]) / l[i * n + i];
                for (int k = 0; k < i; k++)
                {
                    double p = -x[i] * l[i * n + k];
                    double q = Math.FusedMultiplyAdd(-x[i], l[i * n + k], -p);
                    double sum = x[k] + p;
                    double z = sum - x[k];
                    double t = (x[k] - (sum - z)) + (p - z);
                    x[k] = sum;
                    e[k] += q + t;
                }
            }
        }
    }
}
