using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Init;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Reservoirs;

/// <summary>How the spectral radius of a reservoir matrix is found.</summary>
public enum SpectralRadiusMethod
{
    /// <summary>Dense eigen-decomposition up to <see cref="SpectralRadius.DenseLimit"/> units, Arnoldi above.</summary>
    Auto,

    /// <summary>MathNet's dense eigen-decomposition (O(N³), small reservoirs).</summary>
    Dense,

    /// <summary>Restarted Arnoldi iteration on the sparse matrix (Ritz value of largest modulus).</summary>
    Arnoldi,

    /// <summary>Power iteration (converges only when one real eigenvalue dominates).</summary>
    PowerIteration,

    /// <summary>
    /// No eigen-solve: the circular law ρ ≈ σ·√(mean nonzeros per row) for i.i.d. zero-mean entries of standard
    /// deviation σ (Girko; Gallicchio et al. 2020 use the same idea). An estimate, exact only as N → ∞.
    /// </summary>
    CircularLaw,
}

/// <summary>The spectral radius did not converge: the matrix is never silently redrawn.</summary>
public sealed class SpectralRadiusConvergenceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SpectralRadiusConvergenceException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public SpectralRadiusConvergenceException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SpectralRadiusConvergenceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Spectral radius max |λ(W)| of a CSR matrix.</summary>
public static class SpectralRadius
{
    /// <summary>Largest size for which <see cref="SpectralRadiusMethod.Auto"/> uses the dense eigen-decomposition (MathNet's managed
    /// nonsymmetric eigen-decomposition takes about 20 s at N = 1,000 on the reference machine; Arnoldi 0.3 s).</summary>
    public const int DenseLimit = 300;

    /// <summary>Computes ρ(W) with the chosen method.</summary>
    /// <param name="matrix">A square matrix.</param>
    /// <param name="method">The method.</param>
    /// <param name="tolerance">Relative tolerance of the iterative methods.</param>
    /// <param name="maxIterations">Matrix-vector products allowed to the iterative methods.</param>
    /// <param name="seed">Seed of the iterative methods' start vector.</param>
    /// <exception cref="ArgumentException">The matrix is not square.</exception>
    /// <exception cref="SpectralRadiusConvergenceException">An iterative method did not converge.</exception>
    public static double Compute(CsrMatrix<double> matrix, SpectralRadiusMethod method = SpectralRadiusMethod.Auto,
        double tolerance = 1e-6, int maxIterations = 20_000, ulong seed = 12345)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Rows != matrix.Columns)
        {
            throw new ArgumentException($"the matrix is {matrix.Rows} × {matrix.Columns}; a spectral radius needs a square one", nameof(matrix));
        }

        if (method == SpectralRadiusMethod.Auto)
        {
            method = matrix.Rows <= DenseLimit ? SpectralRadiusMethod.Dense : SpectralRadiusMethod.Arnoldi;
        }

        return method switch
        {
            SpectralRadiusMethod.Dense => Dense(matrix),
            SpectralRadiusMethod.Arnoldi => Arnoldi(matrix, 30, tolerance, maxIterations, seed),
            SpectralRadiusMethod.PowerIteration => Power(matrix, tolerance, maxIterations, seed),
            SpectralRadiusMethod.CircularLaw => CircularLaw(matrix),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown method"),
        };
    }

    /// <summary>ρ from MathNet's dense eigen-decomposition.</summary>
    public static double Dense(CsrMatrix<double> matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Rows;
        if (n == 0)
        {
            return 0;
        }

        var m = Matrix<double>.Build.DenseOfRowMajor(n, n, matrix.ToDense());
        var evd = m.Evd();
        double rho = 0;
        foreach (Complex c in evd.EigenValues)
        {
            rho = Math.Max(rho, c.Magnitude);
        }

        return rho;
    }

    /// <summary>The circular-law estimate σ·√(nnz / N), σ the root mean square of the stored values.</summary>
    public static double CircularLaw(CsrMatrix<double> matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.NonZeros == 0)
        {
            return 0;
        }

        double ss = TP.SumOfSquares<double>(matrix.Values);
        return Math.Sqrt(ss / matrix.Rows);
    }

    /// <summary>Power iteration: |λ₁| from ‖W x‖ with x normalised, until two estimates agree to the tolerance.</summary>
    /// <exception cref="SpectralRadiusConvergenceException">No convergence within maxIterations products.</exception>
    public static double Power(CsrMatrix<double> matrix, double tolerance, int maxIterations, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Rows;
        var x = StartVector(n, seed);
        var y = new double[n];
        double previous = double.NaN;
        for (int it = 0; it < maxIterations; it++)
        {
            matrix.Multiply(x, y);
            double norm = TP.Norm<double>(y);
            if (norm == 0)
            {
                return 0;
            }

            TP.Divide(y, norm, x);
            if (Math.Abs(norm - previous) <= tolerance * norm)
            {
                return norm;
            }

            previous = norm;
        }

        throw new SpectralRadiusConvergenceException(
            $"power iteration did not converge in {maxIterations} products (last estimate {previous}); the dominant " +
            "eigenvalue is probably complex or not separated: use SpectralRadiusMethod.Arnoldi");
    }

    /// <summary>
    /// Explicitly restarted Arnoldi: a Krylov basis of <paramref name="krylov"/> vectors, the Ritz value of largest
    /// modulus from MathNet's eigen-decomposition of the Hessenberg matrix, restarts from that Ritz vector (real and
    /// imaginary parts summed), until the Ritz residual is below the tolerance.
    /// </summary>
    /// <exception cref="SpectralRadiusConvergenceException">No convergence within maxIterations products.</exception>
    public static double Arnoldi(CsrMatrix<double> matrix, int krylov, double tolerance, int maxIterations, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Rows;
        if (n == 0)
        {
            return 0;
        }

        int m = Math.Min(krylov, n);
        var v = new double[m + 1][];
        for (int i = 0; i <= m; i++)
        {
            v[i] = new double[n];
        }

        StartVector(n, seed).CopyTo(v[0], 0);
        var h = new double[m + 1, m];
        int products = 0;
        double rho = double.NaN, residual = double.NaN;
        while (products < maxIterations)
        {
            Array.Clear(h);
            int dim = m;
            for (int j = 0; j < m; j++)
            {
                matrix.Multiply(v[j], v[j + 1]);
                products++;
                // Modified Gram-Schmidt, twice for orthogonality in floating point.
                for (int pass = 0; pass < 2; pass++)
                {
                    for (int i = 0; i <= j; i++)
                    {
                        double c = TP.Dot<double>(v[i], v[j + 1]);
                        h[i, j] += c;
                        TP.MultiplyAdd(v[i], -c, v[j + 1], v[j + 1]);
                    }
                }

                double norm = TP.Norm<double>(v[j + 1]);
                h[j + 1, j] = norm;
                if (norm <= 1e-14 * Math.Max(1, Math.Abs(h[j, j])))
                {
                    dim = j + 1; // an invariant subspace: its Ritz values are exact eigenvalues
                    break;
                }

                TP.Divide(v[j + 1], norm, v[j + 1]);
            }

            var hm = Matrix<double>.Build.Dense(dim, dim, (i, j) => h[i, j]);
            var evd = hm.Evd();
            int best = 0;
            for (int i = 1; i < dim; i++)
            {
                if (evd.EigenValues[i].Magnitude > evd.EigenValues[best].Magnitude)
                {
                    best = i;
                }
            }

            rho = evd.EigenValues[best].Magnitude;
            if (dim < m || rho == 0)
            {
                return rho;
            }

            // Ritz vector y of the chosen value; the residual norm is h[m, m-1]·|y[m-1]| (y normalised).
            var ev = evd.EigenVectors;
            Complex ritz = evd.EigenValues[best];
            var y = new Complex[dim];
            if (ritz.Imaginary == 0)
            {
                for (int i = 0; i < dim; i++)
                {
                    y[i] = ev[i, best];
                }
            }
            else
            {
                // MathNet stores a complex pair as the real and imaginary parts in two consecutive columns.
                int re = best + 1 < dim && evd.EigenValues[best + 1] == Complex.Conjugate(ritz) ? best : best - 1;
                for (int i = 0; i < dim; i++)
                {
                    y[i] = new Complex(ev[i, re], ev[i, re + 1]);
                }
            }

            double ynorm = 0;
            foreach (var c in y)
            {
                ynorm += c.Real * c.Real + c.Imaginary * c.Imaginary;
            }

            ynorm = Math.Sqrt(ynorm);
            residual = h[m, m - 1] * y[dim - 1].Magnitude / ynorm;
            if (residual <= tolerance * rho)
            {
                return rho;
            }

            // Restart from Re(V y) + Im(V y), which spans the pair's real invariant plane.
            var start = new double[n];
            for (int i = 0; i < dim; i++)
            {
                TP.MultiplyAdd(v[i], y[i].Real + y[i].Imaginary, start, start);
            }

            double sn = TP.Norm<double>(start);
            TP.Divide(start, sn, v[0]);
        }

        throw new SpectralRadiusConvergenceException(
            $"Arnoldi did not converge in {maxIterations} products: last estimate {rho}, relative residual {residual / rho:E2} " +
            $"(tolerance {tolerance}); raise maxIterations or the tolerance, or use SpectralRadiusMethod.CircularLaw for an estimate");
    }

    private static double[] StartVector(int n, ulong seed)
    {
        var random = new SeededRandom(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = random.NextUniform(-1, 1);
        }

        double norm = TP.Norm<double>(x);
        TP.Divide(x, norm, x);
        return x;
    }
}
