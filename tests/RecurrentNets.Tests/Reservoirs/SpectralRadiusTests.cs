using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Tests.Reservoirs;

/// <summary>
/// The Arnoldi spectral radius against independent answers: matrices with a planted spectrum, MathNet's dense
/// eigen-decomposition, and the 10⁴-unit reservoirs of issue 18 (item 4), cross-checked once with SciPy's ARPACK.
/// </summary>
public class SpectralRadiusTests
{
    /// <summary>
    /// A sparse nonsymmetric matrix whose eigenvalues are known exactly: a block-diagonal B of non-normal 2 × 2 blocks
    /// [[a, s·b], [−b/s, a]] (eigenvalues a ± ib) and two 1 × 1 blocks, made dense-looking by a similarity with
    /// S = I + E, E² = 0 (E maps the second half of the coordinates into the first, so S⁻¹ = I − E), then permuted.
    /// The top of the spectrum is clustered: the largest modulus is a complex pair at 1, then −0.999 (real), a pair at
    /// 0.9985 and 0.998 (real); the other n − 6 eigenvalues fill the disk of radius 0.99 uniformly. With another
    /// <paramref name="gap"/> g: 1, −(1 − g), 1 − 1.5g, 1 − 2g and the disk of radius 1 − 10g; g = 1e-4 is as close as the
    /// two largest moduli of the 1 % reservoir at 10⁴ units (10.05599 and 10.05491).
    /// </summary>
    internal static CsrMatrix<double> PlantedSpectrum(int n, ulong seed, double gap = 1e-3)
    {
        if (n % 4 != 0)
        {
            throw new ArgumentException("n must be a multiple of 4", nameof(n));
        }

        var random = new SeededRandom(seed);
        var rows = new Dictionary<int, double>[n];
        for (int i = 0; i < n; i++)
        {
            rows[i] = [];
        }

        // B: pairs on (2t, 2t+1); the 1 × 1 blocks sit at n − 2 and n − 1 (both in the second half).
        void Pair(int i, double modulus, double angle)
        {
            double a = modulus * Math.Cos(angle), b = modulus * Math.Sin(angle), s = random.NextUniform(0.5, 2);
            rows[i][i] = a;
            rows[i][i + 1] = s * b;
            rows[i + 1][i] = -b / s;
            rows[i + 1][i + 1] = a;
        }

        Pair(n / 2, 1.0, 2.0); // the largest pair in the second half, where E reads from
        Pair(0, 1 - 1.5 * gap, 0.7);
        for (int t = 1; t < n / 2 - 1; t++)
        {
            if (2 * t != n / 2)
            {
                Pair(2 * t, (1 - 10 * gap) * Math.Sqrt(random.NextDouble()), random.NextUniform(0, Math.PI));
            }
        }

        rows[n - 2][n - 2] = -(1 - gap);
        rows[n - 1][n - 1] = 1 - 2 * gap;

        // E: two entries per row of the first half, in columns of the second half.
        var e = new (int Column, double Value)[n / 2][];
        for (int i = 0; i < n / 2; i++)
        {
            e[i] = [(n / 2 + random.NextInt(n / 2), random.NextNormal() * 0.5), (n / 2 + random.NextInt(n / 2), random.NextNormal() * 0.5)];
        }

        // C = (I + E)·B, then A = C·(I − E): row_i(A) = row_i(C) − Σ_l C[i, l]·row_l(E).
        var c = new Dictionary<int, double>[n];
        for (int i = 0; i < n; i++)
        {
            c[i] = new Dictionary<int, double>(rows[i]);
            if (i < n / 2)
            {
                foreach (var (l, value) in e[i])
                {
                    foreach (var (j, b) in rows[l])
                    {
                        c[i][j] = c[i].GetValueOrDefault(j) + value * b;
                    }
                }
            }
        }

        var permutation = new int[n];
        for (int i = 0; i < n; i++)
        {
            permutation[i] = i;
        }

        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }

        // P·A·Pᵀ: entry (i, j) of A goes to (π(i), π(j)).
        var permuted = new SortedDictionary<int, double>[n];
        for (int i = 0; i < n; i++)
        {
            var row = new Dictionary<int, double>(c[i]);
            foreach (var (l, cl) in c[i])
            {
                if (l < n / 2)
                {
                    foreach (var (j, value) in e[l])
                    {
                        row[j] = row.GetValueOrDefault(j) - cl * value;
                    }
                }
            }

            permuted[permutation[i]] = new SortedDictionary<int, double>(row.ToDictionary(kv => permutation[kv.Key], kv => kv.Value));
        }

        var pointers = new int[n + 1];
        var indices = new List<int>();
        var values = new List<double>();
        for (int i = 0; i < n; i++)
        {
            foreach (var (j, value) in permuted[i])
            {
                indices.Add(j);
                values.Add(value);
            }

            pointers[i + 1] = indices.Count;
        }

        return new CsrMatrix<double>(n, n, pointers, indices.ToArray(), values.ToArray());
    }

    private static CsrMatrix<double> Reservoir10k(bool fixedDegree) =>
        (fixedDegree ? new SparseRandomInitializer { Degree = 10 } : new SparseRandomInitializer { Connectivity = 0.01 })
        .Create(10_000, 10_000, new SeededRandom(1).Fork()); // W of Reservoir.Create with Seed = 1

    [Fact]
    public void PlantedSpectrumIsFoundAt2000() => AssertPlanted(2_000);

    [Fact]
    public void PlantedSpectrumIsFoundAt10k() => AssertPlanted(10_000);

    [Fact]
    [Trait("Category", "Slow")]
    public void PlantedSpectrumIsFoundAt100k() => AssertPlanted(100_000);

    [Fact]
    public void NearlyDegeneratePlantedSpectrumIsFoundAt10k() => AssertPlanted(10_000, 1e-4);

    // Not tested: at 10⁵ with g = 1e-4 the estimate reaches 1.000000000000037 but the four wanted pairs stall at relative
    // residual 4.4e-5 (50,000 products, 82 s); this planted matrix is far more non-normal than a reservoir. An open
    // limitation (docs/reservoirs.md), not a skipped test.

    private static void AssertPlanted(int n, double gap = 1e-3)
    {
        var w = PlantedSpectrum(n, 5, gap);
        foreach (ulong seed in new ulong[] { 1, 2 })
        {
            var estimate = SpectralRadius.EstimateArnoldi(w, seed: seed);
            Assert.Equal(1.0, estimate.Radius, 1e-8);
            Assert.Equal(Math.Cos(2.0), estimate.Eigenvalue.Real, 1e-7);
            Assert.Equal(Math.Sin(2.0), Math.Abs(estimate.Eigenvalue.Imaginary), 1e-7);
            Assert.True(estimate.RelativeResidual <= SpectralRadius.DefaultTolerance, $"residual {estimate.RelativeResidual}");
        }
    }

    [Fact]
    public void PlantedSpectrumConstructionHasTheSpectrumItClaims()
    {
        var w = PlantedSpectrum(200, 5);
        var evd = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfRowMajor(200, 200, w.ToDense()).Evd();
        var moduli = evd.EigenValues.Select(c => c.Magnitude).OrderDescending().ToArray();
        Assert.Equal(1.0, moduli[0], 1e-12);
        Assert.Equal(1.0, moduli[1], 1e-12);
        Assert.Equal(0.999, moduli[2], 1e-12);
        Assert.Equal(0.9985, moduli[3], 1e-12);
        Assert.Equal(0.998, moduli[5], 1e-12);
        Assert.True(moduli[6] < 0.99);
        Assert.Contains(evd.EigenValues, c => Complex.Abs(c - new Complex(-0.999, 0)) < 1e-12);
    }

    [Fact]
    public void ArnoldiMatchesTheDenseEigenDecompositionAt600Units()
    {
        var w = new SparseRandomInitializer { Connectivity = 0.02 }.Create(600, 600, new SeededRandom(8));
        double dense = SpectralRadius.Dense(w);
        foreach (ulong seed in new ulong[] { 1, 2 })
        {
            Assert.Equal(dense, SpectralRadius.Arnoldi(w, SpectralRadius.DefaultKrylov, 1e-10, 50_000, seed), dense * 1e-8);
        }
    }

    // MathNet's dense Evd of this matrix (190 s on the shared 2-core machine, so recorded here and run live in the slow
    // test) gives 4.589246792508723; NumPy 1.24's LAPACK dgeev on the same CSR arrays 4.589246792508687.
    private const double Dense2000 = 4.589246792508723;

    private static CsrMatrix<double> Reservoir2000() =>
        new SparseRandomInitializer { Connectivity = 0.01 }.Create(2000, 2000, new SeededRandom(7));

    [Fact]
    public void ArnoldiMatchesTheRecordedDenseAnswerAt2000Units()
    {
        var w = Reservoir2000();
        Assert.Equal(Dense2000, SpectralRadius.Compute(w, SpectralRadiusMethod.Arnoldi), Dense2000 * 1e-8);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public void EveryPowerOfWGivesTheDenseAnswerAt2000Units(int power)
    {
        // Arnoldi on W^power: the modulus is |μ|^(1/power), the eigenvalue W's own Rayleigh quotient.
        var w = Reservoir2000();
        var estimate = SpectralRadius.EstimateArnoldi(w, seed: 4, power: power);
        Assert.Equal(Dense2000, estimate.Radius, Dense2000 * 1e-8);
        Assert.Equal(Dense2000, estimate.Eigenvalue.Magnitude, Dense2000 * 1e-7);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void ArnoldiMatchesTheDenseEigenDecompositionAt2000Units()
    {
        var w = Reservoir2000();
        double dense = SpectralRadius.Dense(w);
        Assert.Equal(Dense2000, dense, Dense2000 * 1e-12);
        Assert.Equal(dense, SpectralRadius.Compute(w, SpectralRadiusMethod.Arnoldi, seed: 3), dense * 1e-8);
    }

    // SciPy 1.10.1's ARPACK (eigs, which='LM', tol=1e-12) on the same CSR arrays:
    //   10 per row:  k=20, ncv=100 gives 3.20738777056239 (k=6, ncv=40 the same; k=1, ncv=20 stops at 3.15601845924467);
    //   1 %:         k=20, ncv=100 gives 10.0559915748716 (k=6, ncv=40 stops at 10.054381323369; k=1, ncv=20 at 10.0384050422099).
    // Re-run for branch spectral2 (CSR arrays written by `benchmarks spectral` with SPECTRAL_EXPORT, eigs k=20, ncv=100,
    // v0 = ones): 3.207387770562455 and 10.055991574871568; the next moduli are 3.17922683272251 and 10.0549129787597,
    // so the second largest of the 1 % matrix is 1.1e-4 below the largest.
    // The edge of these spectra is a dense ring of eigenvalues: a solver that converges one or a few of them can stop
    // on one below the largest, as the single-vector restart did (3.19325 against 3.19404 in issue 18).
    private const double Arpack10kDegree10 = 3.20738777056239;
    private const double Arpack10kConnectivity = 10.0559915748716;

    [Fact]
    public void FixedDegreeReservoirAt10kDoesNotDependOnTheStartVector()
    {
        // Two start vectors, the second on W scaled to 0.9 by the first: the fast form of both claims.
        var w = Reservoir10k(fixedDegree: true);
        double a = SpectralRadius.Arnoldi(w, SpectralRadius.DefaultKrylov, SpectralRadius.DefaultTolerance, 50_000, 1);
        Assert.Equal(Arpack10kDegree10, a, Arpack10kDegree10 * 1e-8);
        w.Scale(0.9 / a);
        double b = SpectralRadius.Arnoldi(w, SpectralRadius.DefaultKrylov, SpectralRadius.DefaultTolerance, 50_000, 2);
        Assert.Equal(0.9, b, 0.9 * 1e-6);
    }

    // About 1.2-1.8 s per run on the shared 2-core machine (1,250-1,350 products of 10⁶ nonzeros, s = 2): one run in the
    // default suite, two start vectors in the slow one.
    [Fact]
    public void ConnectivityReservoirAt10kMatchesArpack()
    {
        var w = Reservoir10k(fixedDegree: false);
        Assert.Equal(Arpack10kConnectivity, SpectralRadius.Compute(w, SpectralRadiusMethod.Arnoldi), Arpack10kConnectivity * 1e-8);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void ConnectivityReservoirAt10kDoesNotDependOnTheStartVector()
    {
        var w = Reservoir10k(fixedDegree: false);
        double a = SpectralRadius.Arnoldi(w, SpectralRadius.DefaultKrylov, SpectralRadius.DefaultTolerance, 50_000, 1);
        double b = SpectralRadius.Arnoldi(w, SpectralRadius.DefaultKrylov, SpectralRadius.DefaultTolerance, 50_000, 2);
        Assert.Equal(a, b, a * 1e-6);
        Assert.Equal(Arpack10kConnectivity, a, Arpack10kConnectivity * 1e-8);
    }

    // SciPy 1.10.1's ARPACK (eigs, which='LM', k=20, ncv=100, tol=1e-12, v0 = ones; 653 s) on the CSR arrays of the
    // 10⁵-unit reservoir with 10 per row (written by `benchmarks spectral 100000 degree` with SPECTRAL_EXPORT); the next
    // modulus is 3.17008346787917. Arnoldi on W itself with one wanted pair stopped on 3.16922, below both.
    private const double Arpack100kDegree10 = 3.1732241031402513;

    [Fact]
    [Trait("Category", "Slow")]
    public void FixedDegreeReservoirAt100kMatchesArpack()
    {
        var w = new SparseRandomInitializer { Degree = 10 }.Create(100_000, 100_000, new SeededRandom(1).Fork());
        var estimate = SpectralRadius.EstimateArnoldi(w, seed: 1);
        Assert.Equal(Arpack100kDegree10, estimate.Radius, Arpack100kDegree10 * 1e-8);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void ConnectivityReservoirAt10kIsScaledToTheRequestedRadius() => AssertScaledTo09(fixedDegree: false);

    [Fact]
    [Trait("Category", "Slow")]
    public void FixedDegreeReservoirAt10kIsScaledToTheRequestedRadius() => AssertScaledTo09(fixedDegree: true);

    private static void AssertScaledTo09(bool fixedDegree)
    {
        var reservoir = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = 10_000, Connectivity = 0.01, Degree = fixedDegree ? 10 : null, SpectralRadius = 0.9, Seed = 1,
        });
        double rho = SpectralRadius.Arnoldi(reservoir.Weights, SpectralRadius.DefaultKrylov, SpectralRadius.DefaultTolerance, 50_000, 99);
        Assert.Equal(0.9, rho, 1e-6);
    }

    [Fact]
    public void NonConvergenceIsReportedWithTheLastEstimate()
    {
        var w = Reservoir10k(fixedDegree: true);
        var ex = Assert.Throws<SpectralRadiusConvergenceException>(() => SpectralRadius.EstimateArnoldi(w, maxIterations: 300));
        Assert.Contains("did not converge in 300 products", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SmallAndDegenerateMatricesAreExact()
    {
        // n below the Krylov dimension: the basis fills the space and the Ritz values are the eigenvalues.
        var w = new SparseRandomInitializer { Connectivity = 0.3 }.Create(30, 30, new SeededRandom(2));
        Assert.Equal(SpectralRadius.Dense(w), SpectralRadius.EstimateArnoldi(w).Radius, 1e-10);

        // A rotation has a complex pair on the unit circle and nothing else.
        var rotation = CsrMatrix<double>.FromDense([0.6, -0.8, 0.8, 0.6], 2, 2);
        Assert.Equal(1.0, SpectralRadius.EstimateArnoldi(rotation).Radius, 1e-12);
    }
}
