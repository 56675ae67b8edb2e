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
    [MemberData(nameof(Sizes))]
    public void SlicedStepEqualsTheCsrStepBitForBit(int n, int degree)
    {
        // The single step's layout (rows side by side in chunks, sorted by length within blocks of 256) against the
        // row-by-row kernel, whole and split at a block boundary, every activation, both precisions.
        SlicedEqualsCsr(RandomCsr(n, degree, (ulong)(n * 13 + degree)));
    }

    [Fact]
    public void SlicedStepEqualsTheCsrStepWithRowsOfEveryLengthAndEmptyRows()
    {
        // Rows of lengths 0 to 22 in a repeating pattern, so chunks mix lengths, groups of four and tails.
        const int n = 700;
        var random = new SeededRandom(21);
        var pointers = new int[n + 1];
        var columns = new List<int>();
        var values = new List<double>();
        for (int i = 0; i < n; i++)
        {
            int length = (i * 7) % 23;
            foreach (int c in Enumerable.Range(0, n).OrderBy(_ => random.NextUniform(0, 1)).Take(length).Order())
            {
                columns.Add(c);
                values.Add(random.NextNormal());
            }

            pointers[i + 1] = columns.Count;
        }

        SlicedEqualsCsr(new CsrMatrix<double>(n, n, pointers, columns.ToArray(), values.ToArray()));
    }

    private static void SlicedEqualsCsr(CsrMatrix<double> w)
    {
        SlicedEqualsCsr<double>(w);
        SlicedEqualsCsr<float>(w.Convert<float>());
    }

    private static void SlicedEqualsCsr<T>(CsrMatrix<T> w)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int lanes = SparseKernels.SlicedLanes<T>();
        if (lanes == 0)
        {
            return; // this vector path steps row by row
        }

        int n = w.Rows, d = 2;
        var random = new SeededRandom((ulong)n);
        var x = Enumerable.Range(0, n).Select(_ => T.CreateTruncating(random.NextUniform(-2, 2))).ToArray();
        var wd = Enumerable.Range(0, n * d).Select(_ => T.CreateTruncating(random.NextUniform(-1, 1))).ToArray();
        var drive = new[] { T.CreateTruncating(0.3), T.CreateTruncating(-0.7) };
        var bias = Enumerable.Range(0, n).Select(_ => T.CreateTruncating(random.NextUniform(-0.2, 0.2))).ToArray();
        var sliced = SlicedEllMatrix<T>.FromCsr(n, w.RowPointers, w.ColumnIndices, w.Values, lanes);
        T decay = T.CreateTruncating(0.7), gain = T.CreateTruncating(0.3);
        foreach (var act in Enum.GetValues<Activation>())
        {
            var csr = new T[n];
            var fast = new T[n];
            SparseKernels.LeakyStep<T>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drive, bias, decay, gain, act, csr);
            SparseKernels.LeakyStepRows(sliced, x, wd, drive, bias, decay, gain, act, fast, 0, n);
            Assert.Equal(csr, fast);
            var naive = new T[n];
            ReferenceSparse.LeakyStep<T>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drive, bias, decay, gain, act, naive);
            T tolerance = T.CreateTruncating(typeof(T) == typeof(float) ? 2e-5 : 1e-13);
            for (int i = 0; i < n; i++)
            {
                Assert.True(T.Abs(naive[i] - fast[i]) <= tolerance * T.Max(T.One, T.Abs(naive[i])), $"unit {i}: {fast[i]} against the naive twin's {naive[i]}");
            }
            if (n > 256)
            {
                Array.Clear(fast);
                SparseKernels.LeakyStepRows(sliced, x, wd, drive, [], decay, gain, act, fast, 256, n);
                SparseKernels.LeakyStepRows(sliced, x, wd, drive, [], decay, gain, act, fast, 0, 256);
                SparseKernels.LeakyStep<T>(w.RowPointers, w.ColumnIndices, w.Values, x, wd, drive, [], decay, gain, act, csr);
                Assert.Equal(csr, fast);
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

    public static TheoryData<int, int> BatchSizeClasses()
    {
        // Units: below one transpose block, a 256-row block exactly, last blocks of 7 and 14 rows (short: the activation
        // runs per stream), of 16, 44 and 232 rows (the activation runs over the tile), rows not a multiple of 8.
        // Streams: below, at and past the 4-double and 8-float transpose groups, and a padded stride.
        var d = new TheoryData<int, int>();
        foreach (int n in new[] { 5, 23, 256, 263, 270, 272, 300, 1000 })
        {
            foreach (int batch in new[] { 2, 3, 4, 5, 8, 9, 12, 16, 17 })
            {
                d.Add(n, batch);
            }
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(BatchSizeClasses))]
    public void EveryStreamOfABatchEqualsTheStreamSteppedAloneInEverySizeClass(int n, int batch)
    {
        foreach (var activation in Enum.GetValues<Activation>())
        {
            foreach (bool split in new[] { false, true })
            {
                EveryStreamEqualsItsStep<float>(n, batch, activation, split);
                EveryStreamEqualsItsStep<double>(n, batch, activation, split);
            }
        }
    }

    private static void EveryStreamEqualsItsStep<T>(int n, int batch, Activation activation, bool split)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var options = new ReservoirOptions
        {
            Units = n, Inputs = 2, FeedbackSize = 1, Connectivity = Math.Min(1.0, 12.0 / n), BiasScaling = 0.3, LeakRate = 0.3,
            Activation = activation, Seed = (ulong)(n * 7 + batch), SpectralRadius = null,
        };
        var reservoir = Reservoir<T>.Create(options);
        reservoir.ParallelMinNonZeros = split ? 1 : int.MaxValue;
        var random = new SeededRandom((ulong)(n + batch));
        // Large enough that tanh and the sigmoid leave their linear parts, and ReLU cuts.
        var states = Enumerable.Range(0, batch * n).Select(_ => T.CreateTruncating(random.NextUniform(-3, 3))).ToArray();
        var drives = Enumerable.Range(0, batch * 3).Select(_ => T.CreateTruncating(random.NextUniform(-1, 1))).ToArray();
        var next = new T[batch * n];
        reservoir.StepBatch(states, drives, batch, next);
        reservoir.ParallelMinNonZeros = int.MaxValue;
        var one = new T[n];
        for (int b = 0; b < batch; b++)
        {
            reservoir.Step(states.AsSpan(b * n, n), drives.AsSpan(b * 3, 3), one);
            for (int i = 0; i < n; i++)
            {
                Assert.True(one[i].Equals(next[(b * n) + i]),
                    $"{typeof(T).Name} {activation}, n {n}, batch {batch}, split {split}: stream {b} unit {i} is {next[(b * n) + i]} in the batch, {one[i]} alone");
            }
        }
    }

    [Fact]
    public void ActivationsGiveTheSameBitsInEverySpanOfSixteenOrMore()
    {
        // StepBatch runs f once over a block's whole tile of interleaved streams where Step runs it over each stream's
        // span of the block: the same bits only if an element's result does not depend on its span once the span is at
        // least 16 long (shorter spans may take a narrower vector or the scalar tail, and do differ in TensorPrimitives).
        SpansAgree<float>();
        SpansAgree<double>();
    }

    private static void SpansAgree<T>()
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new SeededRandom(17);
        var source = Enumerable.Range(0, 2048).Select(_ => T.CreateTruncating(random.NextUniform(-12, 12) * random.NextUniform(0, 1))).ToArray();
        foreach (var activation in Enum.GetValues<Activation>())
        {
            var whole = (T[])source.Clone();
            SparseKernels.Activate<T>(whole, activation);
            for (int length = 16; length <= 300; length += 7)
            {
                for (int start = 0; start < 40; start += 3)
                {
                    var part = source.AsSpan(start, length).ToArray();
                    SparseKernels.Activate<T>(part, activation);
                    for (int i = 0; i < length; i++)
                    {
                        Assert.True(part[i].Equals(whole[start + i]), $"{typeof(T).Name} {activation}: span [{start}, {start + length}) gives {part[i]} at {start + i}, the whole array {whole[start + i]}");
                    }
                }
            }
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
        var reservoirD = Reservoir<double>.Create(new ReservoirOptions { Units = 500, Connectivity = 0.02, Seed = 1 });
        var states8 = new double[8 * 500];
        var nextStates8 = new double[8 * 500];
        var drives8 = new double[8];
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
            reservoirD.StepBatch(states8, drives8, 8, nextStates8);
            esn.Train(state, u, y, 10, fit: false);
        }

        // Some steady-state window of 100 steps and a training pass allocates nothing (the batches of 3 and 8 streams run
        // serially, the batch of 64 is split over the workers).
        long best = SteadyState.AllocatedBytes(_ =>
        {
            for (int t = 0; t < 100; t++)
            {
                reservoir.Step(x, drive, next);
                reservoir.StepBatch(states, drives, 3, nextStates);
                reservoir.StepBatch(states64, drives64, 64, nextStates64);
                reservoirD.StepBatch(states8, drives8, 8, nextStates8);
            }

            esn.Train(state, u, y, 10, fit: false);
        }, 1);
        Assert.Equal(0, best);
    }
}
