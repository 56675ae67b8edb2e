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
    public void RidgePseudoInverseRlsLmsAndNlmsAgreeWithMathNetLeastSquares()
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

        var pinv = new PseudoInverseReadout<double>(5, 2, fitIntercept: true);
        pinv.AccumulateRows(z, d, rows);
        pinv.Fit();
        AssertSolution(pinv, 1e-12);
        Assert.Equal(5, pinv.Rank);
        for (int o = 0; o < 2; o++)
        {
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal(ls[j, o], pinv.Weights[o * 5 + j], 1e-12);
            }

            Assert.Equal(ls[5, o], pinv.Intercept[o], 1e-12);
        }

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
        foreach (var readout in new LinearReadout<double>[] { ridge, pinv, rls, lms, nlms })
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

    [Fact]
    public void PseudoInverseGivesTheMinimumNormSolutionOfARankDeficientProblem()
    {
        // Columns 5 and 6 repeat columns 0 and 1, so Z has rank 5 and many weights fit exactly; the pseudo-inverse picks
        // the one of least norm, which MathNet's PseudoInverse also gives (the weight of a repeated column is split in two).
        const int rows = 200;
        var (z5, d) = Problem(rows, 3);
        var z = new double[rows * 7];
        for (int r = 0; r < rows; r++)
        {
            z5.AsSpan(r * 5, 5).CopyTo(z.AsSpan(r * 7, 5));
            z[r * 7 + 5] = z5[r * 5];
            z[r * 7 + 6] = z5[r * 5 + 1];
        }

        var zm = Matrix<double>.Build.Dense(rows, 7, (r, j) => z[r * 7 + j]);
        var dm = Matrix<double>.Build.Dense(rows, 2, (r, o) => d[r * 2 + o] - TrueB[o]);
        var expected = zm.PseudoInverse() * dm;

        var pinv = new PseudoInverseReadout<double>(7, 2);
        var target = new double[2];
        for (int r = 0; r < rows; r++)
        {
            target[0] = d[r * 2] - TrueB[0];
            target[1] = d[r * 2 + 1] - TrueB[1];
            pinv.Accumulate(z.AsSpan(r * 7, 7), target);
        }

        pinv.Fit();
        Assert.Equal(5, pinv.Rank);
        Assert.Equal(7, pinv.SingularValues.Count);
        Assert.True(pinv.SingularValues[6] < 1e-12 * pinv.SingularValues[0], $"smallest singular value {pinv.SingularValues[6]:E2}");
        for (int o = 0; o < 2; o++)
        {
            Assert.Equal(0.5 * TrueW[o, 0], pinv.Weights[o * 7], 1e-10);
            Assert.Equal(0.5 * TrueW[o, 0], pinv.Weights[o * 7 + 5], 1e-10);
            for (int j = 0; j < 7; j++)
            {
                Assert.Equal(expected[j, o], pinv.Weights[o * 7 + j], 1e-10);
            }

            Assert.Equal(0, pinv.Intercept[o]);
        }

        // With a tolerance of 0 nothing is dropped and the rounding-level singular values blow the weights up.
        pinv.RelativeTolerance = 0;
        pinv.Fit();
        Assert.Equal(7, pinv.Rank);
        Assert.True(Math.Abs(pinv.Weights[0] - 0.5 * TrueW[0, 0]) > 1e-6, $"weight {pinv.Weights[0]} with nothing dropped");
    }

    [Fact]
    public void PseudoInverseInFloatAndWithFewerRowsThanFeatures()
    {
        // Fewer rows than features (3 × 5): the minimum-norm exact fit; in float the rows are stored in double.
        var (z, d) = Problem(3, 4);
        var pinv = new PseudoInverseReadout<float>(5, 2);
        pinv.AccumulateRows(z.Select(v => (float)v).ToArray(), d.Select(v => (float)v).ToArray(), 3);
        pinv.Fit();
        Assert.Equal(3, pinv.Rank);
        var zm = Matrix<double>.Build.Dense(3, 5, (r, j) => (float)z[r * 5 + j]);
        var dm = Matrix<double>.Build.Dense(3, 2, (r, o) => (float)d[r * 2 + o]);
        var expected = zm.PseudoInverse() * dm;
        var p = new float[2];
        for (int r = 0; r < 3; r++)
        {
            pinv.Predict(z.Skip(r * 5).Take(5).Select(v => (float)v).ToArray(), p);
            Assert.Equal((float)d[r * 2], p[0], 1e-5f);
            Assert.Equal((float)d[r * 2 + 1], p[1], 1e-5f);
        }

        for (int o = 0; o < 2; o++)
        {
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal(expected[j, o], pinv.Weights[o * 5 + j], 1e-9);
            }
        }

        // Reset forgets the rows; fitting again needs data.
        pinv.Reset();
        Assert.Equal(0, pinv.Count);
        Assert.Throws<InvalidOperationException>(pinv.Fit);
    }
}
