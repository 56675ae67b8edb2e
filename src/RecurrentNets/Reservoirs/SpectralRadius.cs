using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Init;
using TP = System.Numerics.Tensors.TensorPrimitives;
using RecurrentNets.Kernels;

namespace RecurrentNets.Reservoirs;

/// <summary>How the spectral radius of a reservoir matrix is found.</summary>
public enum SpectralRadiusMethod
{
    /// <summary>Dense eigen-decomposition up to <see cref="SpectralRadius.DenseLimit"/> units, Arnoldi above.</summary>
    Auto,

    /// <summary>MathNet's dense eigen-decomposition (O(N³), small reservoirs).</summary>
    Dense,

    /// <summary>Thick-restart Arnoldi on the sparse matrix (<see cref="SpectralRadius.EstimateArnoldi"/>).</summary>
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

    /// <summary>Krylov dimension of <see cref="Compute"/>'s Arnoldi.</summary>
    public const int DefaultKrylov = 100;

    /// <summary>Ritz pairs of largest modulus that <see cref="Compute"/>'s Arnoldi converges together.</summary>
    public const int DefaultWanted = 4;

    /// <summary>Relative residual tolerance of <see cref="Compute"/>'s iterative methods.</summary>
    public const double DefaultTolerance = 1e-8;

    /// <summary>Matrix-vector products allowed to <see cref="Compute"/>'s iterative methods.</summary>
    public const int DefaultMaxIterations = 50_000;

    /// <summary>Seed of the start vector of <see cref="Compute"/>'s iterative methods.</summary>
    public const ulong DefaultSeed = 12345;

    /// <summary>Computes ρ(W) with the chosen method.</summary>
    /// <param name="matrix">A square matrix.</param>
    /// <param name="method">The method.</param>
    /// <param name="tolerance">Relative tolerance of the iterative methods: for Arnoldi the Ritz residual
    /// ‖W x − θ x‖ ≤ tolerance·ρ·‖x‖, for power iteration the change of the estimate.</param>
    /// <param name="maxIterations">Matrix-vector products allowed to the iterative methods.</param>
    /// <param name="seed">Seed of the iterative methods' start vector.</param>
    /// <exception cref="ArgumentException">The matrix is not square.</exception>
    /// <exception cref="SpectralRadiusConvergenceException">An iterative method did not converge.</exception>
    public static double Compute(CsrMatrix<double> matrix, SpectralRadiusMethod method = SpectralRadiusMethod.Auto,
        double tolerance = DefaultTolerance, int maxIterations = DefaultMaxIterations, ulong seed = DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        CheckSquare(matrix);

        if (method == SpectralRadiusMethod.Auto)
        {
            method = matrix.Rows <= DenseLimit ? SpectralRadiusMethod.Dense : SpectralRadiusMethod.Arnoldi;
        }

        return method switch
        {
            SpectralRadiusMethod.Dense => Dense(matrix),
            SpectralRadiusMethod.Arnoldi => Arnoldi(matrix, DefaultKrylov, tolerance, maxIterations, seed),
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

        double ss = Reductions.SumOfSquares<double>(matrix.Values);
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
            double norm = Math.Sqrt(Reductions.SumOfSquares<double>(y));
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
    /// Thick-restart Arnoldi (see <see cref="EstimateArnoldi"/>): the modulus of the converged eigenvalue of largest
    /// modulus.
    /// </summary>
    /// <param name="matrix">A square matrix.</param>
    /// <param name="krylov">Krylov dimension m (at least 3; <see cref="DefaultKrylov"/> is the default of <see cref="Compute"/>).</param>
    /// <param name="tolerance">Relative residual: stop when the wanted Ritz pairs (θ, x) all have ‖W x − θ x‖ ≤ tolerance·ρ·‖x‖.</param>
    /// <param name="maxIterations">Matrix-vector products allowed (this caps the restarts).</param>
    /// <param name="seed">Seed of the start vector.</param>
    /// <exception cref="ArgumentException">The matrix is not square.</exception>
    /// <exception cref="ArgumentOutOfRangeException">krylov is below 3, tolerance is not in (0, 1) or maxIterations is below 1.</exception>
    /// <exception cref="SpectralRadiusConvergenceException">No convergence within maxIterations products.</exception>
    public static double Arnoldi(CsrMatrix<double> matrix, int krylov, double tolerance, int maxIterations, ulong seed) =>
        EstimateArnoldi(matrix, krylov, DefaultWanted, tolerance, maxIterations, seed).Radius;

    /// <summary>
    /// Thick-restart Arnoldi on the sparse matrix: the eigenvalue of largest modulus, its residual and the cost.
    /// </summary>
    /// <remarks>
    /// Each cycle builds m Krylov vectors, takes the Ritz values from MathNet's eigen-decomposition of the m × m projected
    /// matrix, and restarts from the real span of the Ritz vectors of the m/2 largest moduli (conjugate pairs kept
    /// whole), as Krylov–Schur does (Stewart 2002; Morgan 1996). It stops when the <paramref name="wanted"/> Ritz pairs of
    /// largest modulus all have ‖W x − θ x‖ ≤ tolerance·ρ·‖x‖ and the top pair's residual, recomputed with W, agrees.
    /// Converging several pairs at once keeps the search open: the edge of a random reservoir's spectrum is a dense ring
    /// of eigenvalues, and a run that converged only one of them could stop on one below the largest. The eigenvalue
    /// error is about the residual times its condition number (a few for random reservoirs). The iteration runs on
    /// W^power (see <paramref name="power"/>): the residual is then that of W^power, the radius |μ|^(1/power) for the
    /// Ritz value μ of largest modulus, and the eigenvalue W's Rayleigh quotient of its Ritz vector. Deterministic for a
    /// seed (sparse products above 2¹⁸ nonzeros run over the cores, row blocks each summed in the same order). When
    /// two eigenvalues of largest modulus have equal powers (λ and −λ for an even power) the radius is still right but
    /// the eigenvalue is a mixture: pass power 1 to get the eigenvalue itself.
    /// </remarks>
    /// <param name="matrix">A square matrix.</param>
    /// <param name="krylov">Krylov dimension m (at least 3).</param>
    /// <param name="wanted">Ritz pairs of largest modulus that must converge (at least 1, at most m − 2; a conjugate
    /// pair counts twice and is never split).</param>
    /// <param name="tolerance">Relative residual, in (0, 1).</param>
    /// <param name="maxIterations">Matrix-vector products allowed (this caps the restarts).</param>
    /// <param name="seed">Seed of the start vector.</param>
    /// <param name="power">Iterate with W^power (same eigenvectors, moduli raised to the power: one orthogonalisation
    /// serves several sparse products, and the edge of the spectrum spreads out); 0 chooses it from the cost of a
    /// product against that of an orthogonalisation (<c>AutomaticPower</c>).</param>
    /// <exception cref="ArgumentException">The matrix is not square.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names it).</exception>
    /// <exception cref="SpectralRadiusConvergenceException">No convergence within maxIterations products.</exception>
    public static SpectralRadiusEstimate EstimateArnoldi(CsrMatrix<double> matrix, int krylov = DefaultKrylov, int wanted = DefaultWanted,
        double tolerance = DefaultTolerance, int maxIterations = DefaultMaxIterations, ulong seed = DefaultSeed, int power = 0)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        CheckSquare(matrix);
        ArgumentOutOfRangeException.ThrowIfLessThan(krylov, 3);
        ArgumentOutOfRangeException.ThrowIfNegative(power);
        ArgumentOutOfRangeException.ThrowIfLessThan(wanted, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        if (!(tolerance > 0 && tolerance < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "the tolerance must be in (0, 1)");
        }

        if (matrix.Rows == 0)
        {
            return new SpectralRadiusEstimate(0, Complex.Zero, 0, 0, 0);
        }

        return ThickRestartArnoldi.Run(matrix, krylov, wanted, tolerance, maxIterations, seed,
            power > 0 ? power : AutomaticPower(matrix, Math.Min(krylov, matrix.Rows)));
    }

    private static void CheckSquare(CsrMatrix<double> matrix)
    {
        if (matrix.Rows != matrix.Columns)
        {
            throw new ArgumentException($"the matrix is {matrix.Rows} × {matrix.Columns}; a spectral radius needs a square one", nameof(matrix));
        }
    }

    /// <summary>
    /// The power s of W that <see cref="EstimateArnoldi"/> iterates with by default: about as many sparse products per
    /// Arnoldi step as an orthogonalisation against the basis costs in products (m·n / nnz), from 2 to 12.
    /// </summary>
    /// <remarks>Measured on the 10⁵-unit reservoir with 10 per row (m·n / nnz = 10): s = 1 needed 4,230 products and
    /// 51 s and stopped below the largest modulus (3.16922 against 3.17322); s = 4 7,706 products and 39 s; s = 12
    /// 5,834 products and 17 s (two shared cores, ARPACK running beside). At 10⁴ with 1 % (m·n / nnz = 1) s = 2 beat
    /// s = 1: medians 1.2 s against 3.0 s, with the same number of products (1,250-1,340) and half the restarts.</remarks>
    internal static int AutomaticPower(CsrMatrix<double> matrix, int krylov)
    {
        double ratio = (double)krylov * matrix.Rows / Math.Max(1, matrix.NonZeros);
        return (int)Math.Clamp(Math.Round(ratio), 2, 12);
    }

    private static double[] StartVector(int n, ulong seed)
    {
        var random = new SeededRandom(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = random.NextUniform(-1, 1);
        }

        double norm = Math.Sqrt(Reductions.SumOfSquares<double>(x));
        TP.Divide(x, norm, x);
        return x;
    }
}
