using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using RecurrentNets.Kernels;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// The GEMM's small-M A·Bᵀ dot products in one run: <see cref="GemmDot"/> (one order on every path) against the
/// width-dependent tiles it replaced (the baseline, kept here as they were: 4x4 on AVX-512, 2x4 on AVX2, each reduced by
/// its register's horizontal sum). C[M, N] = A[M, K]·B[N, K]ᵀ over all tiles, float, one thread, on the path the CPU
/// (or DOTNET_EnableAVX512=0) gives.
/// </summary>
[MemoryDiagnoser]
public unsafe class GemmDotBenchmarks
{
    private float[] a = [], b = [], c = [];

    /// <summary>(M, K, N): a batch-1 step (h·W_hhᵀ of an LSTM at H = 512), the head of a small batch, Cho's reset product.</summary>
    public static IEnumerable<(int M, int K, int N)> Shapes() => [(1, 512, 2048), (4, 128, 512), (16, 256, 1024), (32, 512, 512), (3, 37, 37)];

    [ParamsSource(nameof(Shapes))]
    public (int M, int K, int N) Shape { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        a = Enumerable.Range(0, Shape.M * Shape.K).Select(_ => (float)random.NextDouble()).ToArray();
        b = Enumerable.Range(0, Shape.N * Shape.K).Select(_ => (float)random.NextDouble()).ToArray();
        c = new float[Shape.M * Shape.N];
    }

    [Benchmark(Baseline = true)]
    public void WidthDependentTiles()
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (Vector512.IsHardwareAccelerated)
                Run(pa, pb, pc, 4, &Old512.Tile, &Old512.Row);
            else
                Run(pa, pb, pc, 2, &Old256.Tile, &Old256.Row);
        }
    }

    [Benchmark]
    public void FixedOrderTiles()
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (Vector512.IsHardwareAccelerated)
                Run(pa, pb, pc, 4, &Tile<GemmKernel<float, Vector512<float>>>, null);
            else if (Vector256.IsHardwareAccelerated)
                Run(pa, pb, pc, 4, &Tile<GemmKernel<float, Vector256<float>>>, null);
            else
                Run(pa, pb, pc, 4, &Tile<GemmKernel<float, Vector128<float>>>, null);
        }
    }

    private static void Tile<TKernel>(nint k, int rows, float* a0, float* a1, float* a2, float* a3, float* b0, float* b1, float* b2, float* b3, float* r)
        where TKernel : struct, IGemmMicroKernel<float>
        => GemmDot.Tile<float, TKernel>(k, rows, a0, a1, a2, a3, b0, b1, b2, b3, r);

    // The driver's loop (GemmDriver.DotProducts): four rows of B at a time, tileRows rows of A, edge tiles repeat a row.
    private void Run(float* a, float* b, float* c, int tileRows,
        delegate*<nint, int, float*, float*, float*, float*, float*, float*, float*, float*, float*, void> tile,
        delegate*<nint, float*, float*, float*, float*, float*, float*, void> row)
    {
        int m = Shape.M, n = Shape.N, k = Shape.K;
        float* r = stackalloc float[16];
        for (int j = 0; j < n; j += 4)
        {
            int cols = Math.Min(4, n - j);
            float* b0 = b + j * k;
            float* b1 = cols > 1 ? b0 + k : b0, b2 = cols > 2 ? b0 + 2 * k : b0, b3 = cols > 3 ? b0 + 3 * k : b0;
            for (int i = 0; i < m; i += tileRows)
            {
                int rowCount = Math.Min(tileRows, m - i);
                float* a0 = a + i * k;
                float* a1 = rowCount > 1 ? a0 + k : a0, a2 = rowCount > 2 ? a0 + 2 * k : a0, a3 = rowCount > 3 ? a0 + 3 * k : a0;
                if (rowCount == 1 && row != null)
                    row(k, a0, b0, b1, b2, b3, r);
                else
                    tile(k, rowCount, a0, a1, a2, a3, b0, b1, b2, b3, r);
                for (int ii = 0; ii < rowCount; ii++)
                {
                    for (int jj = 0; jj < cols; jj++)
                        c[(i + ii) * n + j + jj] = r[4 * ii + jj];
                }
            }
        }
    }

    // main's AVX-512 dot tiles (b88bb3d), as they were.
    private static class Old512
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile(nint k, int rows, float* a0, float* a1, float* a2, float* a3, float* b0, float* b1, float* b2, float* b3, float* r)
        {
            nint w = Vector512<float>.Count;
            Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
            Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
            nint p = 0;
            for (; p + w <= k; p += w)
            {
                Vector512<float> x0 = Vector512.Load(a0 + p), x1 = Vector512.Load(a1 + p), x2 = Vector512.Load(a2 + p), x3 = Vector512.Load(a3 + p);
                Vector512<float> y = Vector512.Load(b0 + p);
                s00 = Vector512.FusedMultiplyAdd(x0, y, s00); s10 = Vector512.FusedMultiplyAdd(x1, y, s10);
                s20 = Vector512.FusedMultiplyAdd(x2, y, s20); s30 = Vector512.FusedMultiplyAdd(x3, y, s30);
                y = Vector512.Load(b1 + p);
                s01 = Vector512.FusedMultiplyAdd(x0, y, s01); s11 = Vector512.FusedMultiplyAdd(x1, y, s11);
                s21 = Vector512.FusedMultiplyAdd(x2, y, s21); s31 = Vector512.FusedMultiplyAdd(x3, y, s31);
                y = Vector512.Load(b2 + p);
                s02 = Vector512.FusedMultiplyAdd(x0, y, s02); s12 = Vector512.FusedMultiplyAdd(x1, y, s12);
                s22 = Vector512.FusedMultiplyAdd(x2, y, s22); s32 = Vector512.FusedMultiplyAdd(x3, y, s32);
                y = Vector512.Load(b3 + p);
                s03 = Vector512.FusedMultiplyAdd(x0, y, s03); s13 = Vector512.FusedMultiplyAdd(x1, y, s13);
                s23 = Vector512.FusedMultiplyAdd(x2, y, s23); s33 = Vector512.FusedMultiplyAdd(x3, y, s33);
            }

            Finish(k, p, a0, b0, b1, b2, b3, Vector512.Sum(s00), Vector512.Sum(s01), Vector512.Sum(s02), Vector512.Sum(s03), r);
            Finish(k, p, a1, b0, b1, b2, b3, Vector512.Sum(s10), Vector512.Sum(s11), Vector512.Sum(s12), Vector512.Sum(s13), r + 4);
            Finish(k, p, a2, b0, b1, b2, b3, Vector512.Sum(s20), Vector512.Sum(s21), Vector512.Sum(s22), Vector512.Sum(s23), r + 8);
            Finish(k, p, a3, b0, b1, b2, b3, Vector512.Sum(s30), Vector512.Sum(s31), Vector512.Sum(s32), Vector512.Sum(s33), r + 12);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(nint k, float* a0, float* b0, float* b1, float* b2, float* b3, float* r)
        {
            nint w = Vector512<float>.Count;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            nint p = 0;
            for (; p + w <= k; p += w)
            {
                Vector512<float> x = Vector512.Load(a0 + p);
                s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b0 + p), s0);
                s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b1 + p), s1);
                s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b2 + p), s2);
                s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b3 + p), s3);
            }

            Finish(k, p, a0, b0, b1, b2, b3, Vector512.Sum(s0), Vector512.Sum(s1), Vector512.Sum(s2), Vector512.Sum(s3), r);
        }
    }

    // main's AVX2 dot tiles (b88bb3d): 2x4 with one Vector256 per dot product.
    private static class Old256
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile(nint k, int rows, float* a0, float* a1, float* a2, float* a3, float* b0, float* b1, float* b2, float* b3, float* r)
        {
            nint w = Vector256<float>.Count;
            Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
            nint p = 0;
            for (; p + w <= k; p += w)
            {
                Vector256<float> x0 = Vector256.Load(a0 + p), x1 = Vector256.Load(a1 + p);
                Vector256<float> y = Vector256.Load(b0 + p);
                s00 = Vector256.FusedMultiplyAdd(x0, y, s00); s10 = Vector256.FusedMultiplyAdd(x1, y, s10);
                y = Vector256.Load(b1 + p);
                s01 = Vector256.FusedMultiplyAdd(x0, y, s01); s11 = Vector256.FusedMultiplyAdd(x1, y, s11);
                y = Vector256.Load(b2 + p);
                s02 = Vector256.FusedMultiplyAdd(x0, y, s02); s12 = Vector256.FusedMultiplyAdd(x1, y, s12);
                y = Vector256.Load(b3 + p);
                s03 = Vector256.FusedMultiplyAdd(x0, y, s03); s13 = Vector256.FusedMultiplyAdd(x1, y, s13);
            }

            Finish(k, p, a0, b0, b1, b2, b3, Vector256.Sum(s00), Vector256.Sum(s01), Vector256.Sum(s02), Vector256.Sum(s03), r);
            Finish(k, p, a1, b0, b1, b2, b3, Vector256.Sum(s10), Vector256.Sum(s11), Vector256.Sum(s12), Vector256.Sum(s13), r + 4);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(nint k, float* a0, float* b0, float* b1, float* b2, float* b3, float* r)
        {
            nint w = Vector256<float>.Count;
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            nint p = 0;
            for (; p + w <= k; p += w)
            {
                Vector256<float> x = Vector256.Load(a0 + p);
                s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b0 + p), s0);
                s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1 + p), s1);
                s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b2 + p), s2);
                s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b3 + p), s3);
            }

            Finish(k, p, a0, b0, b1, b2, b3, Vector256.Sum(s0), Vector256.Sum(s1), Vector256.Sum(s2), Vector256.Sum(s3), r);
        }
    }

    private static void Finish(nint k, nint p, float* a, float* b0, float* b1, float* b2, float* b3, float r0, float r1, float r2, float r3, float* r)
    {
        for (; p < k; p++)
        {
            float x = a[p];
            r0 += x * b0[p];
            r1 += x * b1[p];
            r2 += x * b2[p];
            r3 += x * b3[p];
        }

        r[0] = r0;
        r[1] = r1;
        r[2] = r2;
        r[3] = r3;
    }
}
