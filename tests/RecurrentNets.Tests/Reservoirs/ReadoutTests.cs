using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Init;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Tests.Reservoirs;

public class ReadoutTests
{
    // A small problem with a known exact answer: d = W·z + b exactly, z i.i.d. uniform, 5 features, 2 outputs.
    private static readonly double[,] TrueW = { { 0.5, -1.0, 2.0, 0.0, 0.25 }, { -0.3, 0.7, 0.1, 1.5, -2.0 } };
    private static readonly double[] TrueB = { 0.4, -0.1 };

    private static (double[] Z, double[] D) Problem(int rows, ulong seed)
    {
        var random = new SeededRandom(seed);
        var z = new double[rows * 5];
        var d = new double[rows * 2];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < 5; j++)
            {
                z[r * 5 + j] = random.NextUniform(-1, 1);
            }

            for (int o = 0; o < 2; o++)
            {
                double s = TrueB[o];
                for (int j = 0; j < 5; j++)
                {
                    s += TrueW[o, j] * z[r * 5 + j];
                }

                d[r * 2 + o] = s;
            }
        }

        return (z, d);
    }

    private static void AssertSolution(LinearReadout<double> readout, double tolerance)
    {
        for (int o = 0; o < 2; o++)
        {
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal(TrueW[o, j], readout.Weights[o * 5 + j], tolerance);
            }

            Assert.Equal(TrueB[o], readout.Intercept[o], tolerance);
        }
    }

    [Fact]
    public void RidgeRlsLmsAndNlmsAgreeWithMathNetLeastSquares()
    {
        const int rows = 3000;
        var (z, d) = Problem(rows, 1);

        // MathNet's least-squares solution (QR) of [Z 1]·[W b]ᵀ = D.
        var a = Matrix<double>.Build.Dense(rows, 6, (r, j) => j < 5 ? z[r * 5 + j] : 1);
        var bm = Matrix<double>.Build.Dense(rows, 2, (r, o) => d[r * 2 + o]);
        var ls = a.QR().Solve(bm);
        for (int o = 0; o < 2; o++)
        {
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal(TrueW[o, j], ls[j, o], 1e-10);
            }
        }

        var ridge = new RidgeReadout<double>(5, 2, ridge: 0);
        ridge.AccumulateRows(z, d, rows);
        ridge.Fit();
        AssertSolution(ridge, 1e-9);

        var rls = new RlsReadout<double>(5, 2, alpha: 1e-8);
        var lms = new LmsReadout<double>(5, 2, learningRate: 0.05);
        var nlms = new LmsReadout<double>(5, 2, learningRate: 0.5, normalized: true);
        var p = new double[2];
        for (int epoch = 0; epoch < 3; epoch++)
        {
            for (int r = 0; r < rows; r++)
            {
                rls.Update(z.AsSpan(r * 5, 5), d.AsSpan(r * 2, 2), p);
                lms.Update(z.AsSpan(r * 5, 5), d.AsSpan(r * 2, 2), p);
                nlms.Update(z.AsSpan(r * 5, 5), d.AsSpan(r * 2, 2), p);
            }
        }

        AssertSolution(rls, 1e-6);
        AssertSolution(lms, 1e-4);
        AssertSolution(nlms, 1e-4);

        // All readouts predict the same on a fresh point.
        var (zt, dt) = Problem(1, 99);
        foreach (var readout in new LinearReadout<double>[] { ridge, rls, lms, nlms })
        {
            readout.Predict(zt, p);
            Assert.Equal(dt[0], p[0], 1e-4);
            Assert.Equal(dt[1], p[1], 1e-4);
        }
    }

    [Fact]
    public void RidgeMatchesTheClosedFormWithPenaltyAndRlsConvergesToIt()
    {
        // With noise and λ > 0: W = (ZcᵀZc + λI)⁻¹ Zcᵀ Dc on centred data (unpenalised intercept).
        const int rows = 500;
        var (z, d) = Problem(rows, 2);
        var random = new SeededRandom(5);
        for (int i = 0; i < d.Length; i++)
        {
            d[i] += 0.1 * random.NextNormal();
        }

        double lambda = 3.0;
        var zm = Matrix<double>.Build.Dense(rows, 5, (r, j) => z[r * 5 + j]);
        var dm = Matrix<double>.Build.Dense(rows, 2, (r, o) => d[r * 2 + o]);
        var zMean = zm.ColumnSums() / rows;
        var dMean = dm.ColumnSums() / rows;
        var zc = zm - Matrix<double>.Build.Dense(rows, 5, (_, j) => zMean[j]);
        var dc = dm - Matrix<double>.Build.Dense(rows, 2, (_, o) => dMean[o]);
        var w = (zc.TransposeThisAndMultiply(zc) + lambda * Matrix<double>.Build.DenseIdentity(5)).Solve(zc.TransposeThisAndMultiply(dc));

        var ridge = new RidgeReadout<float>(5, 2, lambda);
        ridge.AccumulateRows(z.Select(v => (float)v).ToArray(), d.Select(v => (float)v).ToArray(), rows);
        ridge.Fit();
        for (int o = 0; o < 2; o++)
        {
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal(w[j, o], ridge.Weights[o * 5 + j], 1e-5);
            }

            Assert.Equal(dMean[o] - zMean.DotProduct(w.Column(o)), ridge.Intercept[o], 1e-5);
        }

        // Without intercept, RLS with P(0) = I/λ is exactly ridge with penalty λ on every weight.
        var ridgeNoB = new RidgeReadout<double>(5, 2, lambda, fitIntercept: false);
        var rls = new RlsReadout<double>(5, 2, alpha: lambda, fitIntercept: false);
        var p = new double[2];
        for (int r = 0; r < rows; r++)
        {
            ridgeNoB.Accumulate(z.AsSpan(r * 5, 5), d.AsSpan(r * 2, 2));
            rls.Update(z.AsSpan(r * 5, 5), d.AsSpan(r * 2, 2), p);
        }

        ridgeNoB.Fit();
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(ridgeNoB.Weights[i], rls.Weights[i], 1e-9);
        }
    }

    [Fact]
    public void CrossValidationPrefersASmallRidgeOnCleanDataAndALargerOneOnNoise()
    {
        var (z, d) = Problem(4000, 3);
        var cv = new RidgeReadout<double>(5, 2, folds: 5);
        cv.AccumulateRows(z, d, 4000);
        double chosen = cv.FitCrossValidated([1e-8, 1e-2, 1e2, 1e4]);
        Assert.Equal(1e-8, chosen);
        Assert.True(cv.CrossValidationErrors[0] < cv.CrossValidationErrors[3]);
        AssertSolution(cv, 1e-6);

        // Pure-noise targets: the best model predicts the mean, so heavy shrinkage wins.
        var random = new SeededRandom(8);
        var noise = d.Select(_ => random.NextNormal()).ToArray();
        var cvNoise = new RidgeReadout<double>(5, 2, folds: 5);
        cvNoise.AccumulateRows(z, noise, 4000);
        Assert.Equal(1e4, cvNoise.FitCrossValidated([1e-8, 1e4]));
    }

    [Fact]
    public void IllConditionedSystemFallsBackInsteadOfFailing()
    {
        // Two identical features and λ = 0: ZᵀZ is singular; the pseudo-inverse splits the weight between them.
        var ridge = new RidgeReadout<double>(2, 1, ridge: 0, fitIntercept: false);
        for (int r = 0; r < 100; r++)
        {
            double v = Math.Sin(r);
            ridge.Accumulate([v, v], [2 * v]);
        }

        ridge.Fit();
        Assert.True(ridge.UsedFallback);
        Assert.Equal(1.0, ridge.Weights[0], 1e-8);
        Assert.Equal(1.0, ridge.Weights[1], 1e-8);
    }
}
