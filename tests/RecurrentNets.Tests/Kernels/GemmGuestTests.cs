using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// The one-row product with guest tiles (<see cref="Gemm.ComputeRowWithGuest"/>): both products get the bits of their
/// plain versions, however the guest's panels fall between calls, and stay close to the naive reference.
/// </summary>
[Collection(GemmCollection.Name)]
public sealed class GemmGuestTests
{

    private static float[] Floats(Random rng, int length) => GemmTests.RandomArray<float>(rng, length);

    [Fact]
    public void TheGuestRidesOnlyOnTheAvx512Path()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // Without AVX-512 the layer projects every row itself: the guest must refuse (the other tests here are skipped).
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, 128, 512, new float[128 * 512], 128, packed);
        Assert.Equal(CpuFeatures.HasAvx512, GemmGuest<float>.IsSupported(packed, packed));
    }

    [Avx512Theory]
    [InlineData(128, 512, 128, 512)] // LSTM (1, 128): two guest panels fit in each call
    [InlineData(512, 2048, 512, 2048)] // LSTM (1, 512)
    [InlineData(33, 128, 70, 96)] // odd row K, guest K longer than a group's pairs
    [InlineData(96, 384, 7, 384)] // short guest K: many panels per group
    [InlineData(500, 256, 512, 64)] // guest K = KC, row K just below
    [InlineData(2048, 512, 2048, 512)] // LSTM (1, 512) backward: dL/dh(t-1) and dL/dx over four K blocks each
    [InlineData(1100, 128, 600, 64)] // partial last K blocks
    [InlineData(512, 128, 512, 128)] // LSTM (1, 128) backward: half a unit per call, carried to the next
    [InlineData(128, 128, 512, 64)] // a unit spans four calls
    [InlineData(128, 384, 128, 384)] // GRU (1, 128) forward: one and a half units per call
    public void RowProductAndGuestGiveThePlainProductsBits(int k, int n, int guestK, int guestN)
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        var rng = new Random(k + n + guestK + guestN);
        float[] w = Floats(rng, n * k), wGuest = Floats(rng, guestN * guestK);
        var packed = new PackedMatrix<float>();
        var packedGuest = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Gemm.Pack<float>(true, guestK, guestN, wGuest, guestK, packedGuest);
        Assert.True(GemmGuest<float>.IsSupported(packed, packedGuest));

        const int calls = 5, rows = GemmGuest<float>.Rows, ldc = 8 + 64;
        float[] a = Floats(rng, calls * k), x = Floats(rng, rows * guestK);
        float[] rowStart = Floats(rng, calls * n), guestStart = Floats(rng, (rows + 1) * (guestN + ldc));
        var guest = new GemmGuest<float>();
        foreach (bool accumulate in new[] { true, false })
        {
            foreach (bool reverse in new[] { false, true })
            {
                // Plain: each row's product, then the guest rows' product.
                float[] rowExpected = (float[])rowStart.Clone(), guestExpected = (float[])guestStart.Clone();
                for (int i = 0; i < calls; i++)
                    Gemm.Compute<float>(false, 1, n, k, a.AsSpan(i * k, k), k, packed, rowExpected.AsSpan(i * n, n), n, accumulate, reverse);
                Gemm.Compute<float>(false, rows, guestN, guestK, x, guestK, packedGuest, guestExpected.AsSpan(3), guestN + ldc, !accumulate);

                // Hosted: the guest starts at C offset 3 (unaligned), rides along the calls, and the rest is finished.
                float[] rowActual = (float[])rowStart.Clone(), guestActual = (float[])guestStart.Clone();
                guest.Start(x, packedGuest, guestActual, 3, guestN + ldc, !accumulate);
                int before = guest.NextUnit;
                for (int i = 0; i < calls; i++)
                    Gemm.ComputeRowWithGuest<float>(n, k, a.AsSpan(i * k, k), packed, rowActual.AsSpan(i * n, n), accumulate, reverse, guest);
                Assert.True(guest.NextUnit > before || guest.Progress > 0, "the row products hosted no guest panel");
                guest.Finish();
                Assert.False(guest.Pending);

                Assert.Equal(rowExpected, rowActual);
                Assert.Equal(guestExpected, guestActual);
            }
        }
    }

    [Avx512Fact]
    public void HostedProductsMatchTheNaiveReference()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        int k = 64, n = 256, guestK = 48, guestN = 160, rows = GemmGuest<float>.Rows;
        var rng = new Random(5);
        float[] w = Floats(rng, n * k), wGuest = Floats(rng, guestN * guestK);
        float[] a = Floats(rng, k), x = Floats(rng, rows * guestK);
        var packed = new PackedMatrix<float>();
        var packedGuest = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Gemm.Pack<float>(true, guestK, guestN, wGuest, guestK, packedGuest);
        float[] row = new float[n], rowReference = new float[n], guestC = new float[rows * guestN], guestReference = new float[rows * guestN];
        var guest = new GemmGuest<float>();
        guest.Start(x, packedGuest, guestC, 0, guestN, accumulate: false);
        Gemm.ComputeRowWithGuest<float>(n, k, a, packed, row, accumulate: false, reverse: false, guest);
        guest.Finish();
        ReferenceGemm.Compute<float>(false, true, 1, n, k, a, k, w, k, rowReference, n, false);
        ReferenceGemm.Compute<float>(false, true, rows, guestN, guestK, x, guestK, wGuest, guestK, guestReference, guestN, false);
        for (int i = 0; i < n; i++)
            Assert.Equal(rowReference[i], row[i], 1e-5f);
        for (int i = 0; i < guestReference.Length; i++)
            Assert.Equal(guestReference[i], guestC[i], 1e-5f);
    }

    [Avx512Fact]
    public void ACarriedUnitIsDroppedByClearAndByANewStart()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // Row K = 128 over four panels leaves half of a 512-deep guest unit in its tile after one call.
        int k = 128, n = 128, guestK = 512, guestN = 64, rows = GemmGuest<float>.Rows;
        var rng = new Random(13);
        float[] w = Floats(rng, n * k), wGuest = Floats(rng, guestN * guestK), a = Floats(rng, k);
        float[] x = Floats(rng, rows * guestK), other = Floats(rng, rows * guestK);
        var packed = new PackedMatrix<float>();
        var packedGuest = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Gemm.Pack<float>(true, guestK, guestN, wGuest, guestK, packedGuest);
        float[] row = new float[n], c = new float[rows * guestN], expected = new float[rows * guestN];
        Gemm.Compute<float>(false, rows, guestN, guestK, x, guestK, packedGuest, expected, guestN, false);

        var guest = new GemmGuest<float>();
        guest.Start(other, packedGuest, c, 0, guestN, accumulate: false);
        Gemm.ComputeRowWithGuest<float>(n, k, a, packed, row, accumulate: false, reverse: false, guest);
        Assert.True(guest.Progress > 0);
        guest.Clear();
        Assert.False(guest.Pending);
        Assert.Equal(0, guest.Progress);

        // A new start after a half-done unit begins from zero: its rows get only their own product.
        guest.Start(other, packedGuest, c, 0, guestN, accumulate: false);
        Gemm.ComputeRowWithGuest<float>(n, k, a, packed, row, accumulate: false, reverse: false, guest);
        guest.Start(x, packedGuest, c, 0, guestN, accumulate: false);
        Assert.Equal(0, guest.Progress);
        for (int i = 0; i < 3; i++)
            Gemm.ComputeRowWithGuest<float>(n, k, a, packed, row, accumulate: false, reverse: false, guest);
        guest.Finish();
        Assert.Equal(expected, c);
    }

    [Fact]
    public void UnsupportedShapesFallBackToThePlainProduct()
    {
        using var scope = KernelScope.Enter(1); // the products run on this thread alone
        // 96 columns are not whole groups of four panels: the row product runs alone and leaves the guest pending.
        int k = 16, n = 96, rows = GemmGuest<float>.Rows;
        var rng = new Random(9);
        float[] w = Floats(rng, n * k), a = Floats(rng, k), x = Floats(rng, rows * k);
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, k, n, w, k, packed);
        Assert.False(GemmGuest<float>.IsSupported(packed, packed));
        float[] expected = new float[n], actual = new float[n], guestC = new float[rows * n];
        Gemm.Compute<float>(false, 1, n, k, a, k, packed, expected, n, false);
        var guest = new GemmGuest<float>();
        guest.Start(x, packed, guestC, 0, n, accumulate: false);
        Gemm.ComputeRowWithGuest<float>(n, k, a, packed, actual, accumulate: false, reverse: false, guest);
        Assert.Equal(expected, actual);
        Assert.True(guest.Pending);
        Assert.Equal(0, guest.NextUnit);
    }

    [Fact]
    public void UnitPanelsListEachGateBlocksColumnsOfTheUnits()
    {
        // Units [64, 128) of H = 128 in four gate blocks: panels 2, 3 of each block of four.
        Span<int> panels = stackalloc int[20];
        Assert.Equal(8, GemmGuest<float>.UnitPanels(panels, 4, 128, 64, 128));
        Assert.Equal(new[] { 2, 3, 6, 7, 10, 11, 14, 15 }, panels[..8].ToArray());
        Assert.Equal(3, GemmGuest<float>.UnitPanels(panels, 3, 512, 0, 32));
        Assert.Equal(new[] { 0, 16, 32 }, panels[..3].ToArray());
        Assert.Equal(0, GemmGuest<float>.UnitPanels(panels, 4, 128, 128, 128));
    }

    [Fact]
    public void StartRejectsTooSmallBuffers()
    {
        var packed = new PackedMatrix<float>();
        Gemm.Pack<float>(true, 16, 64, new float[64 * 16], 16, packed);
        var guest = new GemmGuest<float>();
        var ex = Assert.Throws<ArgumentException>(() => guest.Start(new float[8 * 16], packed, new float[7 * 64 + 63], 0, 64, false));
        Assert.Contains("[8, 64]", ex.Message);
        Assert.Throws<ArgumentException>(() => guest.Start(new float[8 * 15], packed, new float[8 * 64], 0, 64, false));
    }
}
