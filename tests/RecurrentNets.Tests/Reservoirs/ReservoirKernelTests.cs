using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Tests.Reservoirs;

public class ReservoirKernelTests
{
    private static CsrMatrix<double> RandomCsr(int n, int degreeOrZero, ulong seed) =>
        degreeOrZero > 0
            ? new SparseRandomInitializer { Degree = degreeOrZero }.Create(n, n, new SeededRandom(seed))
            : new SparseRandomInitializer { Connectivity = 0.3 }.Create(n, n, new SeededRandom(seed));

    public static TheoryData<int, int> Sizes()
    {
        var d = new TheoryData<int, int>();
        // Row lengths from 0 to past two 8-wide gathers, so every tail path runs.
        foreach (int n in new[] { 1, 3, 7, 8, 9, 17, 33, 100, 257, 1031 })
        {
            foreach (int k in new[] { 0, 1, 3, 4, 5, 8, 9, 16, 17, 19 })
            {
                if (k <= n)
                {
                    d.Add(n, k);
                }
            }
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void LeakyStepMatchesReferenceInBothPrecisions(int n, int degree)
    {
        var w = RandomCsr(n, degree, (ulong)(n * 31 + degree));
        var random = new SeededRandom(7);
        int d = 2;
        var x = Enumerable.Range(0, n).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var wd = Enumerable.Range(0, n * d).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var drive = new[] { 0.3, -0.7 };
        var bias = Enumerable.Range(0, n).Select(_ => random.NextUniform(-0.2, 0.2)).ToArray();
        foreach (var act in Enum.GetValues<Activation>())
        {
            var fast = new double[n];
            var slow = new double[n];
            SparseKernels.LeakyStep<double>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drive, bias, 0.7, 0.3, act, fast);
            ReferenceSparse.LeakyStep<double>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drive, bias, 0.7, 0.3, act, slow);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(slow[i], fast[i], 1e-13);
            }

            var wf = w.Convert<float>();
            var xf = x.Select(v => (float)v).ToArray();
            var wdf = wd.Select(v => (float)v).ToArray();
            var drf = drive.Select(v => (float)v).ToArray();
            var bf = bias.Select(v => (float)v).ToArray();
            var fastF = new float[n];
            var slowF = new float[n];
            SparseKernels.LeakyStep<float>(wf.RowPointers, wf.ColumnIndices, wf.Values, xf, wdf, drf, bf, 0.7f, 0.3f, act, fastF);
            ReferenceSparse.LeakyStep<float>(wf.RowPointers, wf.ColumnIndices, wf.Values, xf, wdf, drf, bf, 0.7f, 0.3f, act, slowF);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(slowF[i], fastF[i], 2e-5f);
            }
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 5, 1)]
    [InlineData(3, 3, 0)]
    [InlineData(257, 1, 5)]
    [InlineData(257, 3, 5)]
    [InlineData(257, 8, 10)]
    [InlineData(257, 17, 5)]
    [InlineData(1031, 2, 9)]
    [InlineData(1031, 17, 19)]
    [InlineData(515, 64, 4)]
    [InlineData(515, 33, 0)]
    public void LeakyStepBatchMatchesReferenceAndSingleStepInBothPrecisions(int n, int batch, int degree)
    {
        var w = RandomCsr(n, degree, (ulong)(n * 17 + degree));
        var random = new SeededRandom((ulong)(batch + 3));
        int d = 2;
        var x = Enumerable.Range(0, batch * n).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var wd = Enumerable.Range(0, n * d).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var drives = Enumerable.Range(0, batch * d).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var bias = batch % 2 == 0 ? [] : Enumerable.Range(0, n).Select(_ => random.NextUniform(-0.2, 0.2)).ToArray();
        var wf = w.Convert<float>();
        var xf = x.Select(v => (float)v).ToArray();
        var wdf = wd.Select(v => (float)v).ToArray();
        var drf = drives.Select(v => (float)v).ToArray();
        var bf = bias.Select(v => (float)v).ToArray();
        foreach (var act in Enum.GetValues<Activation>())
        {
            var fast = new double[batch * n];
            var slow = new double[batch * n];
            var one = new double[n];
            SparseKernels.LeakyStepBatch<double>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drives, bias, 0.7, 0.3, act, batch, fast);
            ReferenceSparse.LeakyStepBatch<double>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drives, bias, 0.7, 0.3, act, batch, slow);
            for (int i = 0; i < batch * n; i++)
            {
                Assert.Equal(slow[i], fast[i], 1e-13);
            }

            for (int b = 0; b < batch; b++)
            {
                SparseKernels.LeakyStep<double>(w.RowPointers, w.ColumnIndices, w.Values, x.AsSpan(b * n, n), wd, drives.AsSpan(b * d, d), bias, 0.7, 0.3, act, one);
                Assert.Equal(one, fast.AsSpan(b * n, n).ToArray());
            }

            var fastF = new float[batch * n];
            var slowF = new float[batch * n];
            var oneF = new float[n];
            SparseKernels.LeakyStepBatch<float>(wf.RowPointers, wf.ColumnIndices, wf.Values, xf, wdf, drf, bf, 0.7f, 0.3f, act, batch, fastF);
            ReferenceSparse.LeakyStepBatch<float>(wf.RowPointers, wf.ColumnIndices, wf.Values, xf, wdf, drf, bf, 0.7f, 0.3f, act, batch, slowF);
            for (int i = 0; i < batch * n; i++)
            {
                Assert.Equal(slowF[i], fastF[i], 2e-5f);
            }

            for (int b = 0; b < batch; b++)
            {
                SparseKernels.LeakyStep<float>(wf.RowPointers, wf.ColumnIndices, wf.Values, xf.AsSpan(b * n, n), wdf, drf.AsSpan(b * d, d), bf, 0.7f, 0.3f, act, oneF);
                Assert.Equal(oneF, fastF.AsSpan(b * n, n).ToArray());
            }
        }
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(8, false)]
    [InlineData(9, false)]
    [InlineData(17, false)]
    [InlineData(3, true)]
    [InlineData(8, true)]
    [InlineData(17, true)]
    [InlineData(64, true)]
    public void BatchStepEqualsSingleStepsBitForBit(int batch, bool split)
    {
        // Float: every stream of StepBatch equals Step on it, with the rows split over threads or not.
        BatchStepEqualsSingleSteps<float>(batch, split);
        BatchStepEqualsSingleSteps<double>(batch, split);
    }

    private static void BatchStepEqualsSingleSteps<T>(int batch, bool split)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        // 1,300 units: two threads split the rows at 512, inside the single step's third block of 256 rows.
        const int n = 1300;
        var reservoir = Reservoir<T>.Create(new ReservoirOptions { Units = n, Inputs = 2, Connectivity = 0.02, BiasScaling = 0.3, LeakRate = 0.4, Seed = 5 });
        reservoir.ParallelMinNonZeros = split ? 1 : int.MaxValue;
        var serial = Reservoir<T>.Create(new ReservoirOptions { Units = n, Inputs = 2, Connectivity = 0.02, BiasScaling = 0.3, LeakRate = 0.4, Seed = 5 });
        serial.ParallelMinNonZeros = int.MaxValue;
        var random = new SeededRandom(11);
        var states = Enumerable.Range(0, batch * n).Select(_ => T.CreateTruncating(random.NextUniform(-1, 1))).ToArray();
        var drives = Enumerable.Range(0, batch * 2).Select(_ => T.CreateTruncating(random.NextUniform(-1, 1))).ToArray();
        var next = new T[batch * n];
        reservoir.StepBatch(states, drives, batch, next);
        var one = new T[n];
        var oneSplit = new T[n];
        for (int b = 0; b < batch; b++)
        {
            serial.Step(states.AsSpan(b * n, n), drives.AsSpan(b * 2, 2), one);
            Assert.Equal(one, next.AsSpan(b * n, n).ToArray());
            reservoir.Step(states.AsSpan(b * n, n), drives.AsSpan(b * 2, 2), oneSplit);
            Assert.Equal(one, oneSplit);
        }
    }

    [Fact]
    public void BatchStepFromSeveralThreadsAtOnceGivesEachItsOwnResult()
    {
        // The split job is taken by one caller at a time; the others run serially, with the same bits.
        const int n = 600, batch = 8, callers = 4;
        var reservoir = Reservoir<float>.Create(new ReservoirOptions { Units = n, Inputs = 1, Connectivity = 0.02, Seed = 3 });
        reservoir.ParallelMinNonZeros = 1;
        var x = new float[callers][];
        var u = new float[callers][];
        var expected = new float[callers][];
        var results = new float[callers][];
        for (int k = 0; k < callers; k++)
        {
            var random = new SeededRandom((ulong)k);
            x[k] = Enumerable.Range(0, batch * n).Select(_ => (float)random.NextUniform(-1, 1)).ToArray();
            u[k] = Enumerable.Range(0, batch).Select(_ => (float)random.NextUniform(-1, 1)).ToArray();
            expected[k] = new float[batch * n];
            for (int b = 0; b < batch; b++)
            {
                reservoir.Step(x[k].AsSpan(b * n, n), u[k].AsSpan(b, 1), expected[k].AsSpan(b * n, n));
            }

            results[k] = new float[batch * n];
        }

        Parallel.For(0, callers, k =>
        {
            for (int rep = 0; rep < 200; rep++)
            {
                reservoir.StepBatch(x[k], u[k], batch, results[k]);
                Assert.Equal(expected[k], results[k]);
            }
        });
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    [InlineData(64, 8)]
    [InlineData(65, 9)]
    [InlineData(130, 17)]
    [InlineData(300, 101)]
    public void GramKernelMatchesReference(int rows, int columns)
    {
        var random = new SeededRandom(3);
        var x = Enumerable.Range(0, rows * columns).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var fast = new double[columns * columns];
        var slow = new double[columns * columns];
        foreach (int threads in new[] { 1, 2 })
        {
            Array.Clear(fast);
            using (KernelScope.Enter(threads))
            {
                GramKernels.AccumulateUpper(x, rows, columns, fast, new double[GramKernels.PackLength(columns)]);
            }

            Array.Clear(slow);
            ReferenceSparse.AccumulateGramUpper(x, rows, columns, slow);
            for (int i = 0; i < columns; i++)
            {
                for (int j = i; j < columns; j++)
                {
                    Assert.Equal(slow[i * columns + j], fast[i * columns + j], 1e-10);
                }
            }
        }
    }

    [Fact]
    public void CholeskyKernelMatchesMathNetAndReference()
    {
        int n = 37;
        var random = new SeededRandom(9);
        var m = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, n + 5, (_, _) => random.NextNormal());
        var a = m * m.Transpose();
        var rowMajor = a.ToRowMajorArray();
        var fast = (double[])rowMajor.Clone();
        var slow = (double[])rowMajor.Clone();
        Assert.True(CholeskyKernels.Factor(fast, n));
        Assert.True(ReferenceCholesky.Factor(slow, n));
        var l = a.Cholesky().Factor;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                Assert.Equal(l[i, j], fast[i * n + j], 1e-10);
                Assert.Equal(slow[i * n + j], fast[i * n + j], 1e-10);
            }
        }

        var b = Enumerable.Range(0, 2 * n).Select(i => Math.Sin(i)).ToArray();
        var expected = a.Solve(MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfRowMajor(2, n, b).Transpose());
        CholeskyKernels.Solve(fast, n, b, 2);
        for (int c = 0; c < 2; c++)
        {
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(expected[i, c], b[c * n + i], 1e-8);
            }
        }

        var notPd = new double[] { 1, 2, 2, 1 };
        Assert.False(CholeskyKernels.Factor(notPd, 2));
    }

    [Fact]
    public void SparseGenerationHasTheRequestedDensityAndIsDeterministic()
    {
        var init = new SparseRandomInitializer { Connectivity = 0.01 };
        var a = init.Create(2000, 2000, new SeededRandom(1));
        var b = init.Create(2000, 2000, new SeededRandom(1));
        Assert.Equal(a.Values, b.Values);
        Assert.Equal(a.ColumnIndices, b.ColumnIndices);
        Assert.InRange(a.NonZeros, 40000 * 0.97, 40000 * 1.03);
        var fixedDegree = new SparseRandomInitializer { Degree = 10 }.Create(5000, 5000, new SeededRandom(2));
        Assert.Equal(50000, fixedDegree.NonZeros);
        for (int i = 0; i < 5000; i++)
        {
            Assert.Equal(10, fixedDegree.RowPointers[i + 1] - fixedDegree.RowPointers[i]);
            for (int p = fixedDegree.RowPointers[i] + 1; p < fixedDegree.RowPointers[i + 1]; p++)
            {
                Assert.True(fixedDegree.ColumnIndices[p] > fixedDegree.ColumnIndices[p - 1]); // sorted, distinct
            }
        }
    }

    [Fact]
    public void LargeReservoirIsBuiltSparseWithMemoryProportionalToNonzeros()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var r = Reservoir<float>.Create(new ReservoirOptions { Units = 200_000, Degree = 10, SpectralRadiusMethod = SpectralRadiusMethod.CircularLaw, SpectralRadius = 0.9, Seed = 1 });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(2_000_000, r.Weights.NonZeros);
        // A dense float matrix would be 160 GB; the build allocates a few hundred bytes per nonzero at most.
        Assert.True(allocated < 200L * r.Weights.NonZeros, $"allocated {allocated} bytes");
    }

    [Fact]
    public void SpectralRadiusMethodsAgree()
    {
        var w = new SparseRandomInitializer { Connectivity = 0.05 }.Create(250, 250, new SeededRandom(4));
        double dense = SpectralRadius.Dense(w);
        double arnoldi = SpectralRadius.Arnoldi(w, 30, 1e-8, 50_000, 1);
        Assert.Equal(dense, arnoldi, dense * 1e-6);
        Assert.Equal(Math.Sqrt(0.05 * 250), dense, 0.2 * dense); // the circular law, roughly
        var orth = new OrthogonalInitializer().Create(50, 50, new SeededRandom(3));
        Assert.Equal(1.0, SpectralRadius.Dense(orth), 1e-10);

        // A positive matrix has a real dominant eigenvalue: power iteration converges to it.
        var positive = new SparseRandomInitializer { Connectivity = 0.2, Distribution = WeightDistribution.Uniform }.Create(100, 100, new SeededRandom(6));
        for (int i = 0; i < positive.Values.Length; i++)
        {
            positive.Values[i] = Math.Abs(positive.Values[i]);
        }

        Assert.Equal(SpectralRadius.Dense(positive), SpectralRadius.Power(positive, 1e-12, 10_000, 1), 1e-8);
    }

    [Fact]
    public void NonConvergenceIsAnExceptionNotARedraw()
    {
        var w = new SparseRandomInitializer { Connectivity = 0.05 }.Create(2000, 2000, new SeededRandom(4));
        Assert.Throws<SpectralRadiusConvergenceException>(() => SpectralRadius.Arnoldi(w, 10, 1e-12, 30, 1));
        Assert.Throws<SpectralRadiusConvergenceException>(() => SpectralRadius.Power(w, 1e-12, 50, 1));
    }

    [Fact]
    public void ReservoirIsScaledToTheRequestedRadiusAndSeedsAreReproducible()
    {
        var options = new ReservoirOptions { Units = 400, Connectivity = 0.05, SpectralRadius = 0.9, Seed = 42 };
        var a = Reservoir<double>.Create(options);
        var b = Reservoir<double>.Create(options);
        Assert.Equal(a.Weights.Values, b.Weights.Values);
        Assert.Equal(a.DriveWeights, b.DriveWeights);
        Assert.Equal(0.9, SpectralRadius.Dense(a.Weights), 1e-6);
    }

    [Fact]
    public void SteadyStateStepsAllocateNothing()
    {
        var reservoir = Reservoir<float>.Create(new ReservoirOptions { Units = 500, Connectivity = 0.02, Seed = 1 });
        var x = new float[500];
        var next = new float[500];
        var drive = new float[] { 0.5f };
        var states = new float[3 * 500];
        var nextStates = new float[3 * 500];
        var drives = new float[3];
        // 64 streams × 5,000 nonzeros: past ParallelMinNonZeros, so the rows are split over the workers.
        var states64 = new float[64 * 500];
        var nextStates64 = new float[64 * 500];
        var drives64 = new float[64];
        var readout = new RidgeReadout<float>(500, 1, 1e-6);
        var esn = new EchoStateNetwork<float>(reservoir, readout);
        var state = esn.CreateState();
        var u = new float[2000];
        var y = new float[2000];
        for (int warm = 0; warm < 2; warm++)
        {
            reservoir.Step(x, drive, next);
            reservoir.StepBatch(states, drives, 3, nextStates);
            reservoir.StepBatch(states64, drives64, 64, nextStates64);
            esn.Train(state, u, y, 10, fit: false);
        }

        // Some steady-state window of 100 steps and a training pass allocates nothing.
        long best = SteadyState.AllocatedBytes(_ =>
        {
            for (int t = 0; t < 100; t++)
            {
                reservoir.Step(x, drive, next);
                reservoir.StepBatch(states, drives, 3, nextStates);
                reservoir.StepBatch(states64, drives64, 64, nextStates64);
            reservoir.StepBatch(states64, drives64, 64, nextStates64);
            }

            esn.Train(state, u, y, 10, fit: false);
        }, 1);
        Assert.Equal(0, best);
    }
}
