using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// The GEMM tests run alone, so that the worker pool is free when they compare one thread with several (a call that
/// finds the pool held by another test's call runs on its own thread, which would compare one thread with one).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GemmCollection
{
    public const string Name = "Gemm (the worker pool to themselves)";
}

/// <summary>Fast GEMM against <see cref="ReferenceGemm"/> on every forced path, every transpose, every small size.</summary>
[Collection(GemmCollection.Name)]
public sealed class GemmTests
{
    private static readonly int[] FixedSizes = [1, 7, 33, 70];

    /// <summary>The paths this CPU can run; forcing one it cannot accelerate would only test a software emulation.</summary>
    internal static GemmPath[] AvailablePaths()
    {
        var paths = new List<GemmPath>(3);
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            paths.Add(GemmPath.Vector512);
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
            paths.Add(GemmPath.Vector256);
        paths.Add(GemmPath.Portable);
        return [.. paths];
    }

    public static TheoryData<bool, bool, int> TransposesAndDimensions()
    {
        var data = new TheoryData<bool, bool, int>();
        foreach (bool ta in new[] { false, true })
        {
            foreach (bool tb in new[] { false, true })
            {
                for (int dim = 0; dim < 3; dim++)
                    data.Add(ta, tb, dim);
            }
        }

        return data;
    }

    public static TheoryData<bool, bool> Transposes() => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Fact]
    public void ThisMachineRunsEveryPath()
    {
        // Not a requirement of the library, but on the Zen 4 development machine all three paths must be exercised.
        GemmPath[] paths = AvailablePaths();
        Assert.Contains(GemmPath.Portable, paths);
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
            Assert.Equal(3, paths.Length);
    }

    [Theory]
    [MemberData(nameof(TransposesAndDimensions))]
    public void SweepEachDimensionFloat(bool transposeA, bool transposeB, int dimension) =>
        Sweep<float>(transposeA, transposeB, dimension, 1e-5);

    [Theory]
    [MemberData(nameof(TransposesAndDimensions))]
    public void SweepEachDimensionDouble(bool transposeA, bool transposeB, int dimension) =>
        Sweep<double>(transposeA, transposeB, dimension, 1e-13);

    [Theory]
    [MemberData(nameof(Transposes))]
    public void RandomShapesFloat(bool transposeA, bool transposeB) => RandomShapes<float>(transposeA, transposeB, 1e-5);

    [Theory]
    [MemberData(nameof(Transposes))]
    public void RandomShapesDouble(bool transposeA, bool transposeB) => RandomShapes<double>(transposeA, transposeB, 1e-13);

    [Theory]
    [MemberData(nameof(Transposes))]
    public void LargeOddShapes(bool transposeA, bool transposeB)
    {
        // Several KC, MC and NC blocks, a GEMV-like column, a wide row block (N > NC), and the long-K dot-product case.
        int[][] shapes = [[257, 131, 515], [1023, 1, 77], [13, 2101, 300], [1, 2049, 260], [41, 37, 300], [63, 9, 257]];
        foreach (int[] s in shapes)
        {
            CheckShape<float>(transposeA, transposeB, s[0], s[1], s[2], 1e-5, AvailablePaths());
            CheckShape<double>(transposeA, transposeB, s[0], s[1], s[2], 1e-13, AvailablePaths());
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void ThreadedIsBitIdenticalToSingleThreaded(bool transposeA, bool transposeB)
    {
        // Row split, column split, the small-M cases (direct B, dot products), all above the threading threshold; with
        // plain B, column splits of up to 128 rows read B in place on two threads but pack it on one (same bits).
        int[][] shapes = [[300, 100, 200], [100, 300, 200], [12, 2000, 300], [97, 97, 401], [47, 401, 300], [100, 600, 700]];
        foreach (GemmPath path in AvailablePaths())
        {
            using var scope = KernelScope.Enter(null, path);
            foreach (int[] s in shapes)
            {
                CompareThreadCounts<float>(transposeA, transposeB, s[0], s[1], s[2]);
                CompareThreadCounts<double>(transposeA, transposeB, s[0], s[1], s[2]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TransposesAndDimensions))]
    public void PackedSweepEachDimensionFloat(bool transposeA, bool transposeB, int dimension) =>
        PackedSweep<float>(transposeA, transposeB, dimension, 1e-5);

    [Theory]
    [MemberData(nameof(TransposesAndDimensions))]
    public void PackedSweepEachDimensionDouble(bool transposeA, bool transposeB, int dimension) =>
        PackedSweep<double>(transposeA, transposeB, dimension, 1e-13);

    [Theory]
    [MemberData(nameof(Transposes))]
    public void PackedLargeOddShapes(bool transposeA, bool transposeB)
    {
        // Several KC and NC blocks (N > NC with a partial last panel), GEMV-like rows, the row-kernel limit and above.
        int[][] shapes = [[257, 131, 515], [1, 2101, 300], [4, 2049, 260], [5, 2080, 513], [13, 2101, 300], [1, 512, 128], [2, 4100, 257]];
        foreach (int[] s in shapes)
        {
            CheckPackedShape<float>(transposeA, transposeB, s[0], s[1], s[2], 1e-5, AvailablePaths());
            CheckPackedShape<double>(transposeA, transposeB, s[0], s[1], s[2], 1e-13, AvailablePaths());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ThreadedPackingGivesTheSameProductsAsSingleThreadedPacking(bool transposeB)
    {
        // Matrices of a million elements and more are packed by all threads, each taking a range of micro-panels.
        foreach (GemmPath path in AvailablePaths())
        {
            using var scope = KernelScope.Enter(null, path);
            foreach (var (k, n) in new[] { (700, 2100), (513, 2049) })
            {
                var rng = new Random(k + n);
                float[] b = RandomArray<float>(rng, k * n), a = RandomArray<float>(rng, 3 * k);
                var single = new PackedMatrix<float>();
                var threaded = new PackedMatrix<float>();
                using (KernelScope.Enter(1))
                {
                    Gemm.Pack<float>(transposeB, k, n, b, transposeB ? k : n, single);
                }

                Gemm.Pack<float>(transposeB, k, n, b, transposeB ? k : n, threaded);
                using (KernelScope.Enter(1))
                {
                    float[] c1 = new float[3 * n], c2 = new float[3 * n];
                    Gemm.Compute<float>(false, 3, n, k, a, k, single, c1, n, false);
                    Gemm.Compute<float>(false, 3, n, k, a, k, threaded, c2, n, false);
                    Assert.Equal(c1, c2);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void PackedThreadedIsBitIdenticalToSingleThreaded(bool transposeA, bool transposeB)
    {
        // [8 and 10, 3072, 600]: the second thread's columns [1536, 3072) cross the 2048-column NC block with K deeper than
        // one K block, and leave two edge rows on the six-row (AVX2, Vector128) or eight-row (AVX-512) tile.
        int[][] shapes = [[300, 100, 200], [100, 300, 200], [1, 4100, 600], [3, 2100, 700], [12, 2000, 300], [47, 401, 300], [8, 3072, 600], [10, 3072, 600]];
        foreach (GemmPath path in AvailablePaths())
        {
            using var scope = KernelScope.Enter(null, path);
            foreach (int[] s in shapes)
            {
                ComparePackedThreadCounts<float>(transposeA, transposeB, s[0], s[1], s[2]);
                ComparePackedThreadCounts<double>(transposeA, transposeB, s[0], s[1], s[2]);
            }
        }
    }

    [Fact]
    public void EveryRowCountGivesEachRowTheBitsItHasAlone()
    {
        // M from 1 to past two AVX-512 tiles takes every last-tile shape (the full tile, the four-row tile, the rows one
        // by one) on every path; each row must come out as it does in a product of that row alone. K crosses a K block.
        var rng = new Random(5);
        const int n = 70, k = GemmDriver.KC + 37;
        float[] b = RandomArray<float>(rng, k * n);
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(false, k, n, b, n, packed);
        foreach (GemmPath path in AvailablePaths())
        {
            using var scope = KernelScope.Enter(1, path);
            for (int m = 1; m <= 21; m++)
            {
                float[] a = RandomArray<float>(rng, m * k), start = RandomArray<float>(rng, m * n);
                float[] plain = (float[])start.Clone(), fromPacked = (float[])start.Clone(), alone = (float[])start.Clone();
                Gemm.Compute<float>(false, false, m, n, k, a, k, b, n, plain, n, true);
                Gemm.Compute<float>(false, m, n, k, a, k, packed, fromPacked, n, true);
                for (int i = 0; i < m; i++)
                    Gemm.Compute<float>(false, 1, n, k, a.AsSpan(i * k, k), k, packed, alone.AsSpan(i * n, n), n, true);
                Assert.True(alone.AsSpan().SequenceEqual(fromPacked), $"{path}, M = {m}: packed B differs from the rows alone");
                Assert.True(alone.AsSpan().SequenceEqual(plain), $"{path}, M = {m}: plain B differs from the rows alone");
            }
        }
    }

    [Fact]
    public void PackedPlainBMatchesTheUnpackedBlockedProductBitForBit()
    {
        // Plain B with M > 2·MR is the blocked path unpacked; M <= 2·MR reads B in place; both sum each element alike.
        var rng = new Random(3);
        foreach (GemmPath path in AvailablePaths())
        {
            using var scope = KernelScope.Enter(null, path);
            foreach (int m in new[] { 1, 3, 4, 5, 13, 40 })
            {
                int n = 300, k = 600;
                float[] a = RandomArray<float>(rng, m * k), b = RandomArray<float>(rng, k * n);
                float[] plain = RandomArray<float>(rng, m * n);
                float[] packedResult = (float[])plain.Clone();
                Gemm.Compute<float>(false, false, m, n, k, a, k, b, n, plain, n, true);
                var packed = new PackedMatrix<float>();
                Gemm.Pack<float>(false, k, n, b, n, packed);
                Gemm.Compute<float>(false, m, n, k, a, k, packed, packedResult, n, true);
                Assert.Equal(plain, packedResult);
            }
        }
    }

    [Fact]
    public void PackedSteadyStateDoesNotAllocate()
    {
        var a = new float[64 * 512];
        var b = new float[2048 * 512];
        var c = new float[64 * 2048];
        var forward = new PackedMatrix<float>();
        var backward = new PackedMatrix<float>();
        int[] rows = [1, 5, 32];
        using var scope = KernelScope.Enter(1);
        long best = SteadyState.AllocatedBytes(_ =>
        {
            Gemm.Pack<float>(true, 512, 2048, b, 512, forward);
            Gemm.Pack<float>(false, 2048, 512, b, 512, backward);
            foreach (int m in rows)
            {
                Gemm.Compute<float>(false, m, 2048, 512, a, 512, forward, c, 2048, true);
                Gemm.Compute<float>(false, m, 512, 2048, c, 2048, backward, a, 512, false);
            }
        }, 1);
        Assert.Equal(0, best);
    }

    [Fact]
    public void PartnersShareMemoryAndPackingOneUnpacksTheOther()
    {
        // W_hh's forward and backward packings of a training pass share memory: whichever packed last is the valid one,
        // and a product on the other throws instead of reading the partner's layout.
        var rng = new Random(7);
        int k = 96, n = 160, m = 3;
        float[] w = RandomArray<float>(rng, n * k), x = RandomArray<float>(rng, m * k), g = RandomArray<float>(rng, m * n);
        var forward = new PackedMatrix<float>();
        var backward = new PackedMatrix<float>(forward);
        float[] expectedForward = new float[m * n], expectedBackward = new float[m * k];
        var alone = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, alone);
        Gemm.Compute<float>(false, m, n, k, x, k, alone, expectedForward, n, false);
        Gemm.Pack<float>(false, n, k, w, k, alone);
        Gemm.Compute<float>(false, m, k, n, g, n, alone, expectedBackward, k, false);
        for (int round = 0; round < 2; round++)
        {
            Gemm.Pack<float>(true, k, n, w, k, forward);
            Assert.True(forward.IsPacked);
            float[] y = new float[m * n];
            Gemm.Compute<float>(false, m, n, k, x, k, forward, y, n, false);
            Assert.Equal(expectedForward, y);

            Gemm.Pack<float>(false, n, k, w, k, backward);
            Assert.True(backward.IsPacked);
            Assert.False(forward.IsPacked);
            Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, m, n, k, x, k, forward, y, n, false));
            float[] dx = new float[m * k];
            Gemm.Compute<float>(false, m, k, n, g, n, backward, dx, k, false);
            Assert.Equal(expectedBackward, dx);
        }

        Gemm.Pack<float>(true, k, n, w, k, forward);
        Assert.False(backward.IsPacked);
    }

    [Fact]
    public void PackedShapeMismatchThrows()
    {
        var packed = new PackedMatrix<float>();
        var buffer = new float[64];
        Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, 2, 4, 4, buffer, 4, packed, buffer, 4, false));
        Gemm.Pack<float>(false, 4, 4, buffer, 4, packed);
        Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, 2, 4, 5, buffer, 5, packed, buffer, 4, false));
    }

    [Fact]
    public void ConvenienceWrappersMatchTheReference()
    {
        var rng = new Random(11);
        int m = 9, k = 13, n = 21;
        float[] a = RandomArray<float>(rng, 13 * 21);
        float[] b = RandomArray<float>(rng, 13 * 21);
        float[] expected = new float[m * n], actual = new float[m * n];

        ReferenceGemm.Compute<float>(false, false, m, n, k, a, k, b, n, expected, n, false);
        Gemm.Multiply<float>(a, b, actual, m, k, n);
        AssertClose(expected, actual, 1e-5f);

        ReferenceGemm.Compute<float>(false, true, m, n, k, a, k, b, k, expected, n, false);
        Gemm.MultiplyTransposeB<float>(a, b, actual, m, k, n);
        AssertClose(expected, actual, 1e-5f);

        ReferenceGemm.Compute<float>(true, false, m, n, k, a, m, b, n, expected, n, false);
        Gemm.MultiplyTransposeA<float>(a, b, actual, m, k, n);
        AssertClose(expected, actual, 1e-5f);

        ReferenceGemm.Compute<float>(true, false, m, n, k, a, m, b, n, expected, n, true);
        Gemm.MultiplyTransposeA<float>(a, b, actual, m, k, n, accumulate: true);
        AssertClose(expected, actual, 1e-5f);
    }

    [Theory]
    [InlineData(1, 2048, 512)]
    [InlineData(3, 4200, 300)]
    [InlineData(4, 96, 40)]
    [InlineData(2, 2100, 70)]
    public void ReversedPanelOrderAndColumnRangesGiveTheBitsOfTheWholeProduct(int m, int n, int k)
    {
        // Few rows against a prepacked B (the recurrent product): walking the panels last to first, or computing a range
        // of columns (from a multiple of 32), changes no bit; n = 4200 crosses an NC block, 4 rows fill a row group.
        using var scope = KernelScope.Enter(1);
        var (a, start, packed) = PackedProblem(m, n, k);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] expected = (float[])start.Clone(), reversed = (float[])start.Clone(), ranges = (float[])start.Clone();
            Gemm.Compute<float>(false, m, n, k, a, k, packed, expected, n, accumulate);
            Gemm.Compute<float>(false, m, n, k, a, k, packed, reversed, n, accumulate, reverse: true);
            Assert.Equal(expected, reversed);
            int split = n / 2 / Gemm.ColumnAlignment * Gemm.ColumnAlignment;
            Gemm.ComputeColumns<float>(m, n, k, a, k, packed, ranges, n, accumulate, split, n, reverse: true);
            Gemm.ComputeColumns<float>(m, n, k, a, k, packed, ranges, n, accumulate, 0, split);
            Assert.Equal(expected, ranges);
        }

        var untouched = (float[])start.Clone();
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.ComputeColumns<float>(m, n, k, a, k, packed, untouched, n, false, 16, n));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.ComputeColumns<float>(m, n, k, a, k, packed, untouched, n, false, 0, n + 1));
        Assert.Equal(start, untouched);
    }

    [Theory]
    [InlineData(2, 768, 600)]
    [InlineData(8, 768, 600)]
    [InlineData(10, 768, 600)]
    [InlineData(32, 768, 600)]
    [InlineData(32, 128, 128)]
    public void ColumnGroupsGiveTheBitsOfTheWholeProduct(int m, int h, int k)
    {
        // A unit split's forward product: units [u0, u1) of each of four gate blocks of width h, in one call (A packed
        // once) or one call per block, on every path. h = 768 puts the third block's range [1920, 2304) across the
        // 2048-column NC block with K deeper than one 512-deep K block; 8 and 32 rows leave two edge rows on the six-row
        // tile (AVX2, Vector128), 10 on AVX-512's eight-row tile; 2 rows run row by row, here also reversed.
        int n = 4 * h;
        foreach (GemmPath path in AvailablePaths())
        {
            using var scope = KernelScope.Enter(1, path);
            var (a, start, packed) = PackedProblem(m, n, k);
            foreach (bool accumulate in new[] { false, true })
            {
                float[] expected = (float[])start.Clone(), grouped = (float[])start.Clone(), perBlock = (float[])start.Clone();
                Gemm.Compute<float>(false, m, n, k, a, k, packed, expected, n, accumulate);
                int half = h / 2;
                Gemm.ComputeColumnGroups<float>(m, n, k, a, k, packed, grouped, n, accumulate, 0, half, 4, h);
                Gemm.ComputeColumnGroups<float>(m, n, k, a, k, packed, grouped, n, accumulate, half, h, 4, h, reverse: true);
                for (int g = 0; g < 4; g++)
                {
                    Gemm.ComputeColumns<float>(m, n, k, a, k, packed, perBlock, n, accumulate, g * h + half, (g + 1) * h);
                    Gemm.ComputeColumns<float>(m, n, k, a, k, packed, perBlock, n, accumulate, g * h, g * h + half);
                }

                Assert.Equal(expected, grouped);
                Assert.Equal(expected, perBlock);
            }

            // Overlapping ranges, a stride off the 32-column grid or negative, ranges past n, or no group are refused, and C
            // is left alone.
            var untouched = (float[])start.Clone();
            void Refused(string parameter, int end, int groups, int stride)
                => Assert.Equal(parameter, Assert.Throws<ArgumentOutOfRangeException>(
                    () => Gemm.ComputeColumnGroups<float>(m, n, k, a, k, packed, untouched, n, false, 0, end, groups, stride)).ParamName);
            Refused("groupStride", h, 4, h - 32);
            Refused("groupStride", 32, 4, h + 16);
            Refused("groupStride", 32, 4, -h);
            Refused("groups", 32, 5, h);
            Refused("groups", 32, 0, h);
            Assert.Equal(start, untouched);
        }
    }

    // A [m, k], a start for C [m, n], and a random B [k, n] (stored [n, k]) packed on the current path.
    private static (float[] A, float[] Start, PackedMatrix<float> Packed) PackedProblem(int m, int n, int k)
    {
        var rng = new Random(m + n + k);
        float[] a = RandomArray<float>(rng, m * k), b = RandomArray<float>(rng, n * k);
        float[] start = RandomArray<float>(rng, m * n);
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, b, k, packed);
        return (a, start, packed);
    }

    [Fact]
    public void SteadyStateCallDoesNotAllocateOnTheCallingThread()
    {
        var a = new float[64 * 512];
        var b = new float[2048 * 512];
        var c = new float[64 * 2048];
        using var scope = KernelScope.Enter(1);
        foreach (int m in new[] { 1, 5, 32 })
        {
            // Warm-up grows this thread's packing buffers once.
            Gemm.MultiplyTransposeB<float>(a, b, c, m, 512, 2048);
            Gemm.Multiply<float>(a, b, c, m, 512, 2048, accumulate: true);
            long best = SteadyState.AllocatedBytes(_ =>
            {
                Gemm.MultiplyTransposeB<float>(a, b, c, m, 512, 2048);
                Gemm.Multiply<float>(a, b, c, m, 512, 2048, accumulate: true);
            }, 1);
            Assert.Equal(0, best);
        }
    }

    [Fact]
    public void ThreadedCallDoesNotAllocateOnAnyThread()
    {
        var a = new float[256 * 256];
        var b = new float[256 * 256];
        var c = new float[256 * 256];
        for (int i = 0; i < 5; i++)
            Gemm.Multiply<float>(a, b, c, 256, 256, 256);

        // Counted on the threads that run the GEMM (the caller and each pool worker), not process-wide: the test host's
        // own threads allocate now and then, and on a slow vector path a window of ten calls is long enough to see it.
        // The best of three windows, as SteadyState does: an allocation per call shows in every window, while a one-off
        // (the caller running a whole product once because another test held the pool, a lazy runtime structure) does
        // not repeat (CI saw 4,600 B on the caller once in a fully parallel run).
        var pool = WorkerPool.Shared;
        var before = new ThreadAllocations(pool);
        var after = new ThreadAllocations(pool);
        long[] allocated = new long[before.Bytes.Length];
        for (int window = 0; window < 3; window++)
        {
            before.Read();
            for (int i = 0; i < 10; i++)
                Gemm.Multiply<float>(a, b, c, 256, 256, 256);
            after.Read();
            bool clean = true;
            for (int t = 0; t < allocated.Length; t++)
            {
                allocated[t] = after.Bytes[t] - before.Bytes[t];
                clean &= allocated[t] == 0;
            }

            if (clean)
                break;
        }

        for (int t = 0; t < allocated.Length; t++)
            Assert.True(allocated[t] == 0, $"Thread {t} (0 = the caller) allocated {allocated[t]} B in ten calls, in each of three windows.");
    }

    /// <summary>
    /// Reads each pool thread's allocated-bytes counter by running one part on each (part 0 on the caller). Made before
    /// the window it measures, so that it allocates nothing inside it.
    /// </summary>
    private sealed class ThreadAllocations(WorkerPool pool) : IParallelJob
    {
        public long[] Bytes { get; } = new long[pool.WorkerCount + 1];

        public void Read()
        {
            Assert.True(pool.TryAcquire(), "The worker pool is held by another test.");
            try
            {
                pool.RunAcquired(this, Bytes.Length);
            }
            finally
            {
                pool.Release();
            }
        }

        public void Run(int part, int parts) => Bytes[part] = GC.GetAllocatedBytesForCurrentThread();
    }

    [Fact]
    public void ConcurrentCallersGetCorrectResults()
    {
        // Two user threads share the worker pool: whoever finds it busy runs single-threaded, same bits either way.
        var rng = new Random(5);
        int m = 150, n = 160, k = 170;
        float[] a = RandomArray<float>(rng, m * k), b = RandomArray<float>(rng, k * n);
        var expected = new float[m * n];
        using (KernelScope.Enter(1))
        {
            Gemm.Multiply<float>(a, b, expected, m, k, n);
        }

        var results = new float[4][];
        var threads = new Thread[4];
        for (int t = 0; t < threads.Length; t++)
        {
            int index = t;
            results[index] = new float[m * n];
            threads[t] = new Thread(() =>
            {
                for (int rep = 0; rep < 20; rep++)
                    Gemm.Multiply<float>(a, b, results[index], m, k, n);
            });
            threads[t].Start();
        }

        foreach (Thread thread in threads)
            thread.Join();
        foreach (float[] result in results)
            Assert.Equal(expected, result);
    }

    [Fact]
    public void NegativeSizesThrowNamingTheArgument()
    {
        var buffer = new float[16];
        Assert.Equal("m", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<float>(false, false, -1, 2, 2, buffer, 2, buffer, 2, buffer, 2, false)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<float>(false, false, 2, -1, 2, buffer, 2, buffer, 2, buffer, 2, false)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<float>(false, false, 2, 2, -3, buffer, 2, buffer, 2, buffer, 2, false)).ParamName);
    }

    [Fact]
    public void SmallLeadingDimensionsThrowNamingTheArgumentAndValues()
    {
        var buffer = new double[64];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<double>(false, false, 3, 4, 5, buffer, 4, buffer, 4, buffer, 4, false));
        Assert.Equal("lda", ex.ParamName);
        Assert.Contains("4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("5", ex.Message, StringComparison.Ordinal);

        // Transposed A is stored [K, M]: its rows have M elements.
        Gemm.Compute<double>(true, false, 3, 4, 5, buffer, 3, buffer, 4, buffer, 4, false);
        Assert.Equal("lda", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<double>(true, false, 3, 4, 5, buffer, 2, buffer, 4, buffer, 4, false)).ParamName);
        Assert.Equal("ldb", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<double>(false, false, 3, 4, 5, buffer, 5, buffer, 3, buffer, 4, false)).ParamName);
        Assert.Equal("ldb", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<double>(false, true, 3, 4, 5, buffer, 5, buffer, 4, buffer, 4, false)).ParamName);
        Assert.Equal("ldc", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Compute<double>(false, false, 3, 4, 5, buffer, 5, buffer, 4, buffer, 3, false)).ParamName);
    }

    [Fact]
    public void ShortSpansThrowNamingTheSpanAndLengthsWithoutWriting()
    {
        var a = new float[3 * 5];
        var b = new float[5 * 4];
        var c = new float[3 * 4];
        Array.Fill(c, 42f);

        var ex = Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, false, 3, 4, 5, a.AsSpan(1), 5, b, 4, c, 4, false));
        Assert.Equal("a", ex.ParamName);
        Assert.Contains("14", ex.Message, StringComparison.Ordinal);
        Assert.Contains("15", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, false, 3, 4, 5, a, 5, b.AsSpan(0, 19), 4, c, 4, false));
        Assert.Equal("b", ex.ParamName);
        Assert.Contains("19", ex.Message, StringComparison.Ordinal);
        Assert.Contains("20", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, false, 3, 4, 5, a, 5, b, 4, c.AsSpan(0, 11), 4, false));
        Assert.Equal("c", ex.ParamName);
        Assert.All(c, x => Assert.Equal(42f, x));

        // A padded leading dimension needs (rows - 1)·ld + cols elements, not rows·ld.
        var padded = new float[2 * 7 + 5];
        Gemm.Compute<float>(false, false, 3, 4, 5, padded, 7, b, 4, c, 4, false);
        Assert.Throws<ArgumentException>(() => Gemm.Compute<float>(false, false, 3, 4, 5, padded.AsSpan(1), 7, b, 4, c, 4, false));
    }

    [Fact]
    public void ZeroSizes()
    {
        float[] empty = [];
        var c = new float[6];
        Array.Fill(c, float.NaN);

        // m = 0 or n = 0: nothing to do, C untouched.
        Gemm.Compute<float>(false, false, 0, 3, 2, empty, 2, new float[6], 3, empty, 3, false);
        Gemm.Compute<float>(false, false, 2, 0, 2, new float[4], 2, empty, 0, c, 0, false);
        Assert.All(c, x => Assert.True(float.IsNaN(x)));

        // k = 0 accumulating: C unchanged.
        Array.Fill(c, 3f);
        Gemm.Compute<float>(false, false, 2, 3, 0, empty, 0, empty, 3, c, 3, true);
        Assert.All(c, x => Assert.Equal(3f, x));

        // k = 0 overwriting: C = 0, even over NaN garbage; the padding of C is left alone.
        Array.Fill(c, float.NaN);
        Gemm.Compute<float>(false, false, 2, 2, 0, empty, 0, empty, 2, c, 3, false);
        Assert.Equal([0f, 0f, float.NaN, 0f, 0f, float.NaN], c);
    }

    private static void Sweep<T>(bool transposeA, bool transposeB, int dimension, double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmPath[] paths = AvailablePaths();
        for (int size = 1; size <= 70; size++)
        {
            foreach (int x in FixedSizes)
            {
                foreach (int y in FixedSizes)
                {
                    // The two costliest pairs, (33, 70) and (70, 70), add no tail case that (70, 33) lacks; skip them.
                    if (y == 70 && x >= 33)
                        continue;

                    (int m, int n, int k) = dimension switch
                    {
                        0 => (size, x, y),
                        1 => (x, size, y),
                        _ => (x, y, size),
                    };
                    CheckShape<T>(transposeA, transposeB, m, n, k, tolerance, paths);
                }
            }
        }
    }

    private static void RandomShapes<T>(bool transposeA, bool transposeB, double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int Seed = 20260101;
        var rng = new Random(Seed + (transposeA ? 2 : 0) + (transposeB ? 1 : 0));
        GemmPath[] paths = AvailablePaths();
        for (int i = 0; i < 60; i++)
        {
            int m = rng.Next(1, 131), n = rng.Next(1, 131), k = rng.Next(1, 131);
            CheckShape<T>(transposeA, transposeB, m, n, k, tolerance, paths);
        }
    }

    /// <summary>
    /// Checks one shape on every path in overwrite and accumulate mode, with padded leading dimensions whose padding is
    /// NaN (so reading it would show) and a C that starts as NaN garbage when overwriting.
    /// </summary>
    private static void CheckShape<T>(bool transposeA, bool transposeB, int m, int n, int k, double tolerance, GemmPath[] paths)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m * 1_000_003 + n * 1009 + k);
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        int lda = aCols + 3, ldb = bCols + 2, ldc = n + 1;
        T[] a = Padded<T>(rng, aRows, aCols, lda);
        T[] b = Padded<T>(rng, bRows, bCols, ldb);
        var expected = new T[(m - 1) * ldc + n];
        var bound = new T[expected.Length];
        ReferenceGemm.Compute<T>(transposeA, transposeB, m, n, k, a, lda, b, ldb, expected, ldc, false);
        ReferenceGemm.Compute<T>(transposeA, transposeB, m, n, k, Abs(a), lda, Abs(b), ldb, bound, ldc, false);
        T[] start = Padded<T>(rng, m, n, ldc);
        var c = new T[expected.Length];
        double eps = typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16;

        foreach (GemmPath path in paths)
        {
            using var scope = KernelScope.Enter(null, path);
            foreach (bool accumulate in new[] { false, true })
            {
                if (accumulate)
                    start.CopyTo(c, 0);
                else
                    Array.Fill(c, T.NaN);
                Gemm.Compute<T>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        int at = i * ldc + j;
                        double want = double.CreateTruncating(expected[at]);
                        double allowed = tolerance * double.CreateTruncating(bound[at]) + 1e-30;
                        if (accumulate)
                        {
                            double c0 = double.CreateTruncating(start[at]);
                            want += c0;
                            allowed += 2 * eps * (Math.Abs(c0) + Math.Abs(want));
                        }

                        double got = double.CreateTruncating(c[at]);
                        if (!(Math.Abs(got - want) <= allowed))
                        {
                            Assert.Fail($"{typeof(T).Name} {path} transA={transposeA} transB={transposeB} accumulate={accumulate} " +
                                $"m={m} n={n} k={k}: C[{i},{j}] = {got} but the reference gives {want} (allowed error {allowed})");
                        }
                    }

                    // The padding of C is never written.
                    if (i < m - 1)
                        Assert.True(T.IsNaN(c[i * ldc + n]), $"{path} m={m} n={n} k={k}: padding of C written");
                }
            }
        }
    }

    private static void CompareThreadCounts<T>(bool transposeA, bool transposeB, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m + n + k);
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        T[] a = RandomArray<T>(rng, aRows * aCols), b = RandomArray<T>(rng, bRows * bCols);
        T[] start = RandomArray<T>(rng, m * n);
        foreach (bool accumulate in new[] { false, true })
        {
            T[] single = (T[])start.Clone(), threaded = (T[])start.Clone();
            using (KernelScope.Enter(1))
            {
                Gemm.Compute<T>(transposeA, transposeB, m, n, k, a, aCols, b, bCols, single, n, accumulate);
            }

            Gemm.Compute<T>(transposeA, transposeB, m, n, k, a, aCols, b, bCols, threaded, n, accumulate);
            Assert.Equal(single, threaded);
        }
    }

    private static void PackedSweep<T>(bool transposeA, bool transposeB, int dimension, double tolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        GemmPath[] paths = AvailablePaths();
        for (int size = 1; size <= 70; size++)
        {
            foreach (int x in FixedSizes)
            {
                foreach (int y in FixedSizes)
                {
                    if (y == 70 && x >= 33)
                        continue;

                    (int m, int n, int k) = dimension switch
                    {
                        0 => (size, x, y),
                        1 => (x, size, y),
                        _ => (x, y, size),
                    };
                    CheckPackedShape<T>(transposeA, transposeB, m, n, k, tolerance, paths);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="CheckShape{T}"/> for B packed once (<see cref="Gemm.Pack{T}"/>) and reused: overwrite then accumulate
    /// with the same packed matrix, padded leading dimensions with NaN padding.
    /// </summary>
    private static void CheckPackedShape<T>(bool transposeA, bool transposeB, int m, int n, int k, double tolerance, GemmPath[] paths)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m * 1_000_003 + n * 1009 + k);
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        int lda = aCols + 3, ldb = bCols + 2, ldc = n + 1;
        T[] a = Padded<T>(rng, aRows, aCols, lda);
        T[] b = Padded<T>(rng, bRows, bCols, ldb);
        var expected = new T[(m - 1) * ldc + n];
        var bound = new T[expected.Length];
        ReferenceGemm.Compute<T>(transposeA, transposeB, m, n, k, a, lda, b, ldb, expected, ldc, false);
        ReferenceGemm.Compute<T>(transposeA, transposeB, m, n, k, Abs(a), lda, Abs(b), ldb, bound, ldc, false);
        T[] start = Padded<T>(rng, m, n, ldc);
        var c = new T[expected.Length];
        double eps = typeof(T) == typeof(float) ? 1.2e-7 : 2.3e-16;
        var packed = new PackedMatrix<T>();

        foreach (GemmPath path in paths)
        {
            using (KernelScope.Enter(null, path))
            {
                Gemm.Pack<T>(transposeB, k, n, b, ldb, packed);
            }

            Assert.Equal(path, packed.Path);

            // The product runs on the path B was packed for, whatever is forced when it is called.
            using var portable = KernelScope.Enter(null, GemmPath.Portable);
            foreach (bool accumulate in new[] { false, true })
            {
                if (accumulate)
                    start.CopyTo(c, 0);
                else
                    Array.Fill(c, T.NaN);
                Gemm.Compute<T>(transposeA, m, n, k, a, lda, packed, c, ldc, accumulate);
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        int at = i * ldc + j;
                        double want = double.CreateTruncating(expected[at]);
                        double allowed = tolerance * double.CreateTruncating(bound[at]) + 1e-30;
                        if (accumulate)
                        {
                            double c0 = double.CreateTruncating(start[at]);
                            want += c0;
                            allowed += 2 * eps * (Math.Abs(c0) + Math.Abs(want));
                        }

                        double got = double.CreateTruncating(c[at]);
                        if (!(Math.Abs(got - want) <= allowed))
                        {
                            Assert.Fail($"packed {typeof(T).Name} {path} transA={transposeA} transB={transposeB} accumulate={accumulate} " +
                                $"m={m} n={n} k={k}: C[{i},{j}] = {got} but the reference gives {want} (allowed error {allowed})");
                        }
                    }

                    if (i < m - 1)
                        Assert.True(T.IsNaN(c[i * ldc + n]), $"packed {path} m={m} n={n} k={k}: padding of C written");
                }
            }
        }
    }

    private static void ComparePackedThreadCounts<T>(bool transposeA, bool transposeB, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(m + n + k);
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        T[] a = RandomArray<T>(rng, aRows * aCols), b = RandomArray<T>(rng, bRows * bCols);
        T[] start = RandomArray<T>(rng, m * n);
        var packed = new PackedMatrix<T>();
        Gemm.Pack<T>(transposeB, k, n, b, bCols, packed);
        foreach (bool accumulate in new[] { false, true })
        {
            T[] single = (T[])start.Clone(), threaded = (T[])start.Clone();
            using (KernelScope.Enter(1))
            {
                Gemm.Compute<T>(transposeA, m, n, k, a, aCols, packed, single, n, accumulate);
            }

            Gemm.Compute<T>(transposeA, m, n, k, a, aCols, packed, threaded, n, accumulate);
            Assert.Equal(single, threaded);
        }
    }

    private static T[] Padded<T>(Random rng, int rows, int cols, int ld)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var array = new T[(rows - 1) * ld + cols];
        Array.Fill(array, T.NaN);
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
                array[r * ld + j] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        }

        return array;
    }

    internal static T[] RandomArray<T>(Random rng, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var array = new T[length];
        for (int i = 0; i < length; i++)
            array[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return array;
    }

    private static T[] Abs<T>(T[] values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = new T[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = T.Abs(values[i]);
        return result;
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
    }
}
