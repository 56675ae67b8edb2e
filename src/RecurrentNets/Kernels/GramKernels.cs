using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RecurrentNets.Kernels;

/// <summary>
/// The Gram matrix XᵀX of a block of rows, accumulated in double over the upper triangle (a SYRK): the cost of a
/// ridge readout fit. The same bits on every CPU: AVX with FMA, or Vector128 with <see cref="ExactFma"/>. The naive twin is <c>Reference.ReferenceSparse.AccumulateGramUpper</c>.
/// </summary>
/// <remarks>
/// Legend: R = rows of the block, F = columns (features), Fp = F rounded up to the panel width 8.
/// The block is packed into column panels [Fp/8][R][8]; a 4×8 register tile of G then reads one broadcast per row
/// of its four columns and two vector loads per row of its eight, all contiguous. Threads take interleaved
/// 4-column strips, so the triangle's work is balanced; every element is summed over rows in the same order for
/// any thread count. The multiply-adds are <see cref="Vector256.FusedMultiplyAdd(Vector256{double}, Vector256{double}, Vector256{double})"/>:
/// the FMA instruction where the CPU has one, an exact emulation (slow, one rounding each) where it has not, so every
/// CPU gives the same bits.
/// </remarks>
public static class GramKernels
{
    /// <summary>Rows packed at a time: a packed block of 1,000 features is 512 KB, about one L2.</summary>
    public const int BlockRows = 64;

    /// <summary>The panel width (columns per packed panel).</summary>
    public const int PanelWidth = 8;

    /// <summary>The pack buffer length <see cref="AccumulateUpper"/> needs for <paramref name="columns"/> features.</summary>
    public static int PackLength(int columns) => BlockRows * ((columns + PanelWidth - 1) / PanelWidth * PanelWidth);

    /// <summary>gram[i, j] += Σ_r x[r, i]·x[r, j] for all j ≥ i (entries below the diagonal may be written too).</summary>
    /// <param name="x">The rows, row-major [rows, columns].</param>
    /// <param name="rows">R.</param>
    /// <param name="columns">F.</param>
    /// <param name="gram">G, row-major [F, F].</param>
    /// <param name="pack">Scratch of at least <see cref="PackLength"/>(columns) doubles.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public static void AccumulateUpper(ReadOnlySpan<double> x, int rows, int columns, Span<double> gram, Span<double> pack)
        => Accumulate(x, rows, columns, gram, pack, portable: !Fma.IsSupported);

    /// <summary><see cref="AccumulateUpper(ReadOnlySpan{double}, int, int, Span{double}, Span{double})"/> on the Vector128
    /// kernel when <paramref name="portable"/> is set (tests run it beside the AVX kernel: the same bits).</summary>
    internal static unsafe void Accumulate(ReadOnlySpan<double> x, int rows, int columns, Span<double> gram, Span<double> pack, bool portable)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (x.Length < (long)rows * columns)
        {
            throw new ArgumentException($"x has {x.Length} elements but {rows} rows × {columns} columns need {(long)rows * columns}", nameof(x));
        }

        if (gram.Length < (long)columns * columns)
        {
            throw new ArgumentException($"gram has {gram.Length} elements but {columns}² are needed", nameof(gram));
        }

        if (pack.Length < PackLength(columns))
        {
            throw new ArgumentException($"pack has {pack.Length} elements but {PackLength(columns)} are needed", nameof(pack));
        }

        int panels = (columns + PanelWidth - 1) / PanelWidth;
        int strips = (columns + 3) / 4;
        fixed (double* xp = x)
        fixed (double* gp = gram)
        fixed (double* pp = pack)
        {
            for (int r0 = 0; r0 < rows; r0 += BlockRows)
            {
                int kc = Math.Min(BlockRows, rows - r0);
                Pack(xp + (long)r0 * columns, kc, columns, panels, pp);
                int threads = Math.Min(WorkerPool.Shared.MaxParts, strips / 16);
                if (threads <= 1)
                {
                    Strips(pp, gp, kc, columns, panels, strips, 0, 1, portable);
                }
                else
                {
                    var job = cachedJob ??= new StripJob();
                    job.Set(pp, gp, kc, columns, panels, strips, portable);
                    WorkerPool.Shared.Run(job, threads);
                }
            }
        }
    }

    [ThreadStatic]
    private static StripJob? cachedJob;

    private sealed unsafe class StripJob : IParallelJob
    {
        private double* pack;
        private double* gram;
        private int kc, columns, panels, strips;
        private bool portable;

        public void Set(double* p, double* g, int k, int c, int pn, int s, bool usePortable)
        {
            portable = usePortable;
            pack = p;
            gram = g;
            kc = k;
            columns = c;
            panels = pn;
            strips = s;
        }

        public void Run(int part, int parts) => Strips(pack, gram, kc, columns, panels, strips, part, parts, portable);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Pack(double* x, int kc, int columns, int panels, double* pack)
    {
        for (int p = 0; p < panels; p++)
        {
            double* dst = pack + (long)p * kc * PanelWidth;
            int c0 = p * PanelWidth;
            int w = Math.Min(PanelWidth, columns - c0);
            for (int r = 0; r < kc; r++)
            {
                double* src = x + (long)r * columns + c0;
                int c = 0;
                for (; c < w; c++)
                {
                    dst[r * PanelWidth + c] = src[c];
                }

                for (; c < PanelWidth; c++)
                {
                    dst[r * PanelWidth + c] = 0;
                }
            }
        }
    }

    // Strips s = first, first + stride, ...: columns [4s, 4s + 4) of G against panels from the diagonal on. Every
    // element of a block is fma(x[r, i], x[r, j], ·) over its rows in order from zero, then added to G, on every path.
    private static unsafe void Strips(double* pack, double* gram, int kc, int columns, int panels, int strips, int first, int stride, bool portable)
    {
        if (Fma.IsSupported && !portable)
            Strips<Vector256<double>>(pack, gram, kc, columns, panels, strips, first, stride);
        else
            Strips<Vector128<double>>(pack, gram, kc, columns, panels, strips, first, stride);
    }

    // One 4-row strip against the panels right of its diagonal: a 4 x (2·TV) register tile per panel part (the whole
    // panel of 8 columns with Vector256, 8 accumulators of the 16 ymm registers; two halves of four with Vector128, as
    // many xmm), every multiply-add rounded once, so both widths give the same bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Strips<TV>(double* pack, double* gram, int kc, int columns, int panels, int strips, int first, int stride)
        where TV : unmanaged
    {
        int n = Lanes<TV, double>.Count;
        for (int s = first; s < strips; s += stride)
        {
            int ib = 4 * s;
            int pa = ib / PanelWidth;
            double* a = pack + (long)pa * kc * PanelWidth + (ib % PanelWidth);
            for (int jp = pa; jp < panels; jp++)
            {
                for (int part = 0; part < PanelWidth; part += 2 * n)
                {
                    double* b = pack + (long)jp * kc * PanelWidth + part;
                    TV c0a = default, c0b = default, c1a = default, c1b = default;
                    TV c2a = default, c2b = default, c3a = default, c3b = default;
                    for (int r = 0; r < kc; r++)
                    {
                        double* br = b + r * PanelWidth;
                        double* ar = a + r * PanelWidth;
                        TV b0 = Lanes<TV, double>.Load(br), b1 = Lanes<TV, double>.Load(br + n);
                        GemmKernel<double, TV>.RowStep(ar[0], b0, b1, ref c0a, ref c0b);
                        GemmKernel<double, TV>.RowStep(ar[1], b0, b1, ref c1a, ref c1b);
                        GemmKernel<double, TV>.RowStep(ar[2], b0, b1, ref c2a, ref c2b);
                        GemmKernel<double, TV>.RowStep(ar[3], b0, b1, ref c3a, ref c3b);
                    }

                    int j0 = jp * PanelWidth + part;
                    Store(gram, columns, ib, j0, c0a, c0b);
                    Store(gram, columns, ib + 1, j0, c1a, c1b);
                    Store(gram, columns, ib + 2, j0, c2a, c2b);
                    Store(gram, columns, ib + 3, j0, c3a, c3b);
                }
            }
        }
    }

    // g[i, j0 + j] += (lo | hi)[j] for the columns j0 + j of G that exist (the last panel may be partial).
    private static unsafe void Store<TV>(double* gram, int columns, int i, int j0, TV lo, TV hi)
        where TV : unmanaged
    {
        if (i >= columns)
        {
            return;
        }

        int n = Lanes<TV, double>.Count;
        double* g = gram + (long)i * columns + j0;
        if (j0 + 2 * n <= columns)
        {
            Lanes<TV, double>.Store(Lanes<TV, double>.Add(Lanes<TV, double>.Load(g), lo), g);
            Lanes<TV, double>.Store(Lanes<TV, double>.Add(Lanes<TV, double>.Load(g + n), hi), g + n);
            return;
        }

        double* l = (double*)&lo, h = (double*)&hi;
        int w = columns - j0;
        for (int j = 0; j < w; j++)
        {
            g[j] += j < n ? l[j] : h[j - n];
        }
    }
}
