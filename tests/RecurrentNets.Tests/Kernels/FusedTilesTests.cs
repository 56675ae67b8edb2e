using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// The one-row product with fused tiles (<see cref="FusedGemm.ComputeRow"/>): both products get the bits of their
/// plain versions, however the tiles' panels fall between calls, and stay close to the naive reference.
/// </summary>
[Collection(GemmCollection.Name)]
public sealed class FusedTilesTests
{

    private static float[] Floats(Random rng, int length) => GemmTests.RandomArray<float>(rng, length);

    [Fact]
    public void FusedTilesRideOnlyOnTheAvx512Path()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // Without AVX-512 the layer projects every row itself: the fused tiles must refuse (the other tests here are skipped).
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, 128, 512, new float[128 * 512], 128, packed);
        Assert.Equal(CpuFeatures.HasAvx512, FusedTiles<float>.IsSupported(packed, packed));
    }

    [Avx512Theory]
    [InlineData(128, 512, 128, 512)] // LSTM (1, 128): two tiles panels fit in each call
    [InlineData(512, 2048, 512, 2048)] // LSTM (1, 512)
    [InlineData(33, 128, 70, 96)] // odd row K, tiles K longer than a group's pairs
    [InlineData(96, 384, 7, 384)] // short tiles K: many panels per group
    [InlineData(500, 256, 512, 64)] // tiles K = KC, row K just below
    [InlineData(2048, 512, 2048, 512)] // LSTM (1, 512) backward: dL/dh(t-1) and dL/dx over four K blocks each
    [InlineData(1100, 128, 600, 64)] // partial last K blocks
    [InlineData(512, 128, 512, 128)] // LSTM (1, 128) backward: half a unit per call, carried to the next
    [InlineData(128, 128, 512, 64)] // a unit spans four calls
    [InlineData(128, 384, 128, 384)] // GRU (1, 128) forward: one and a half units per call
    public void RowProductAndFusedTilesGiveThePlainProductsBits(int k, int n, int tilesK, int tilesN)
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        var rng = new Random(k + n + tilesK + tilesN);
        float[] w = Floats(rng, n * k), wTiles = Floats(rng, tilesN * tilesK);
        var packed = new PackedMatrix<float>();
        var packedTiles = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Gemm.Pack<float>(true, tilesK, tilesN, wTiles, tilesK, packedTiles);
        Assert.True(FusedTiles<float>.IsSupported(packed, packedTiles));

        const int calls = 5, rows = FusedTiles<float>.Rows, ldc = 8 + 64;
        float[] a = Floats(rng, calls * k), x = Floats(rng, rows * tilesK);
        float[] rowStart = Floats(rng, calls * n), tilesStart = Floats(rng, (rows + 1) * (tilesN + ldc));
        var tiles = new FusedTiles<float>();
        foreach (bool accumulate in new[] { true, false })
        {
            foreach (bool reverse in new[] { false, true })
            {
                // Plain: each row's product, then the fused tiles rows' product.
                float[] rowExpected = (float[])rowStart.Clone(), tilesExpected = (float[])tilesStart.Clone();
                for (int i = 0; i < calls; i++)
                    Gemm.Compute<float>(false, 1, n, k, a.AsSpan(i * k, k), k, packed, rowExpected.AsSpan(i * n, n), n, accumulate, reverse);
                Gemm.Compute<float>(false, rows, tilesN, tilesK, x, tilesK, packedTiles, tilesExpected.AsSpan(3), tilesN + ldc, !accumulate);

                // Fused: the fused tiles starts at C offset 3 (unaligned), rides along the calls, and the rest is finished.
                float[] rowActual = (float[])rowStart.Clone(), tilesActual = (float[])tilesStart.Clone();
                tiles.Start(x, packedTiles, tilesActual, 3, tilesN + ldc, !accumulate);
                int before = tiles.NextUnit;
                for (int i = 0; i < calls; i++)
                    FusedGemm.ComputeRow<float>(n, k, a.AsSpan(i * k, k), packed, rowActual.AsSpan(i * n, n), accumulate, reverse, tiles);
                Assert.True(tiles.NextUnit > before || tiles.Progress > 0, "the row products carried no tiles panel");
                tiles.Finish();
                Assert.False(tiles.Pending);

                Assert.Equal(rowExpected, rowActual);
                Assert.Equal(tilesExpected, tilesActual);
            }
        }
    }

    [Avx512Fact]
    public void FusedProductsMatchTheNaiveReference()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        int k = 64, n = 256, tilesK = 48, tilesN = 160, rows = FusedTiles<float>.Rows;
        var rng = new Random(5);
        float[] w = Floats(rng, n * k), wTiles = Floats(rng, tilesN * tilesK);
        float[] a = Floats(rng, k), x = Floats(rng, rows * tilesK);
        var packed = new PackedMatrix<float>();
        var packedTiles = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Gemm.Pack<float>(true, tilesK, tilesN, wTiles, tilesK, packedTiles);
        float[] row = new float[n], rowReference = new float[n], tilesC = new float[rows * tilesN], tilesReference = new float[rows * tilesN];
        var tiles = new FusedTiles<float>();
        tiles.Start(x, packedTiles, tilesC, 0, tilesN, accumulate: false);
        FusedGemm.ComputeRow<float>(n, k, a, packed, row, accumulate: false, reverse: false, tiles);
        tiles.Finish();
        ReferenceGemm.Compute<float>(false, true, 1, n, k, a, k, w, k, rowReference, n, false);
        ReferenceGemm.Compute<float>(false, true, rows, tilesN, tilesK, x, tilesK, wTiles, tilesK, tilesReference, tilesN, false);
        for (int i = 0; i < n; i++)
            Assert.Equal(rowReference[i], row[i], 1e-5f);
        for (int i = 0; i < tilesReference.Length; i++)
            Assert.Equal(tilesReference[i], tilesC[i], 1e-5f);
    }

    [Avx512Fact]
    public void ACarriedUnitIsDroppedByClearAndByANewStart()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // Row K = 128 over four panels leaves half of a 512-deep tiles unit in its tile after one call.
        int k = 128, n = 128, tilesK = 512, tilesN = 64, rows = FusedTiles<float>.Rows;
        var rng = new Random(13);
        float[] w = Floats(rng, n * k), wTiles = Floats(rng, tilesN * tilesK), a = Floats(rng, k);
        float[] x = Floats(rng, rows * tilesK), other = Floats(rng, rows * tilesK);
        var packed = new PackedMatrix<float>();
        var packedTiles = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Gemm.Pack<float>(true, tilesK, tilesN, wTiles, tilesK, packedTiles);
        float[] row = new float[n], c = new float[rows * tilesN], expected = new float[rows * tilesN];
        Gemm.Compute<float>(false, rows, tilesN, tilesK, x, tilesK, packedTiles, expected, tilesN, false);

        var tiles = new FusedTiles<float>();
        tiles.Start(other, packedTiles, c, 0, tilesN, accumulate: false);
        FusedGemm.ComputeRow<float>(n, k, a, packed, row, accumulate: false, reverse: false, tiles);
        Assert.True(tiles.Progress > 0);
        tiles.Clear();
        Assert.False(tiles.Pending);
        Assert.Equal(0, tiles.Progress);

        // A new start after a half-done unit begins from zero: its rows get only their own product.
        tiles.Start(other, packedTiles, c, 0, tilesN, accumulate: false);
        FusedGemm.ComputeRow<float>(n, k, a, packed, row, accumulate: false, reverse: false, tiles);
        tiles.Start(x, packedTiles, c, 0, tilesN, accumulate: false);
        Assert.Equal(0, tiles.Progress);
        for (int i = 0; i < 3; i++)
            FusedGemm.ComputeRow<float>(n, k, a, packed, row, accumulate: false, reverse: false, tiles);
        tiles.Finish();
        Assert.Equal(expected, c);
    }

    [Fact]
    public void UnsupportedShapesFallBackToThePlainProduct()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // 96 columns are not whole groups of four panels: the row product runs alone and leaves the fused tiles pending.
        int k = 16, n = 96, rows = FusedTiles<float>.Rows;
        var rng = new Random(9);
        float[] w = Floats(rng, n * k), a = Floats(rng, k), x = Floats(rng, rows * k);
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Assert.False(FusedTiles<float>.IsSupported(packed, packed));
        float[] expected = new float[n], actual = new float[n], tilesC = new float[rows * n];
        Gemm.Compute<float>(false, 1, n, k, a, k, packed, expected, n, false);
        var tiles = new FusedTiles<float>();
        tiles.Start(x, packed, tilesC, 0, n, accumulate: false);
        FusedGemm.ComputeRow<float>(n, k, a, packed, actual, accumulate: false, reverse: false, tiles);
        Assert.Equal(expected, actual);
        Assert.True(tiles.Pending);
        Assert.Equal(0, tiles.NextUnit);
    }

    [Fact]
    public void UnitPanelsListEachGateBlocksColumnsOfTheUnits()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // Units [64, 128) of H = 128 in four gate blocks: panels 2, 3 of each block of four.
        Span<int> panels = stackalloc int[20];
        Assert.Equal(8, FusedTiles<float>.UnitPanels(panels, 4, 128, 64, 128));
        Assert.Equal(new[] { 2, 3, 6, 7, 10, 11, 14, 15 }, panels[..8].ToArray());
        Assert.Equal(3, FusedTiles<float>.UnitPanels(panels, 3, 512, 0, 32));
        Assert.Equal(new[] { 0, 16, 32 }, panels[..3].ToArray());
        Assert.Equal(0, FusedTiles<float>.UnitPanels(panels, 4, 128, 128, 128));
    }

    [Fact]
    public void StartRejectsTooSmallBuffers()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, 16, 64, new float[64 * 16], 16, packed);
        var tiles = new FusedTiles<float>();
        var ex = Assert.Throws<ArgumentException>(() => tiles.Start(new float[8 * 16], packed, new float[7 * 64 + 63], 0, 64, false));
        Assert.Contains("[8, 64]", ex.Message);
        Assert.Throws<ArgumentException>(() => tiles.Start(new float[8 * 15], packed, new float[8 * 64], 0, 64, false));
    }
}
