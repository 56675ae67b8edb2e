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
            StripsAvx(pack, gram, kc, columns, panels, strips, first, stride);
        else
            StripsPortable(pack, gram, kc, columns, panels, strips, first, stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void StripsAvx(double* pack, double* gram, int kc, int columns, int panels, int strips, int first, int stride)
    {
        for (int s = first; s < strips; s += stride)
        {
            int ib = 4 * s;
            int pa = ib / PanelWidth;
            double* a = pack + (long)pa * kc * PanelWidth + (ib % PanelWidth);
            for (int jp = pa; jp < panels; jp++)
            {
                double* b = pack + (long)jp * kc * PanelWidth;
                Vector256<double> c0a = default, c0b = default, c1a = default, c1b = default;
                Vector256<double> c2a = default, c2b = default, c3a = default, c3b = default;
                for (int r = 0; r < kc; r++)
                {
                    double* br = b + r * PanelWidth;
                    double* ar = a + r * PanelWidth;
                    var b0 = Vector256.Load(br);
                    var b1 = Vector256.Load(br + 4);
                    var av = Vector256.Create(ar[0]);
                    c0a = Vector256.FusedMultiplyAdd(av, b0, c0a);
                    c0b = Vector256.FusedMultiplyAdd(av, b1, c0b);
                    av = Vector256.Create(ar[1]);
                    c1a = Vector256.FusedMultiplyAdd(av, b0, c1a);
                    c1b = Vector256.FusedMultiplyAdd(av, b1, c1b);
                    av = Vector256.Create(ar[2]);
                    c2a = Vector256.FusedMultiplyAdd(av, b0, c2a);
                    c2b = Vector256.FusedMultiplyAdd(av, b1, c2b);
                    av = Vector256.Create(ar[3]);
                    c3a = Vector256.FusedMultiplyAdd(av, b0, c3a);
                    c3b = Vector256.FusedMultiplyAdd(av, b1, c3b);
                }

                int j0 = jp * PanelWidth;
                Store(gram, columns, ib, j0, c0a, c0b);
                Store(gram, columns, ib + 1, j0, c1a, c1b);
                Store(gram, columns, ib + 2, j0, c2a, c2b);
                Store(gram, columns, ib + 3, j0, c3a, c3b);
            }
        }
    }

    // Without FMA (Vector128, ExactFma's one rounding): each panel as two halves of four columns, 8 accumulators of the
    // 16 xmm registers; the same operations per element as StripsAvx.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void StripsPortable(double* pack, double* gram, int kc, int columns, int panels, int strips, int first, int stride)
    {
        for (int s = first; s < strips; s += stride)
        {
            int ib = 4 * s;
            int pa = ib / PanelWidth;
            double* a = pack + (long)pa * kc * PanelWidth + (ib % PanelWidth);
            for (int jp = pa; jp < panels; jp++)
            {
                for (int half = 0; half < PanelWidth; half += 4)
                {
                    double* b = pack + (long)jp * kc * PanelWidth + half;
                    Vector128<double> c0a = default, c0b = default, c1a = default, c1b = default;
                    Vector128<double> c2a = default, c2b = default, c3a = default, c3b = default;
                    for (int r = 0; r < kc; r++)
                    {
                        double* br = b + r * PanelWidth;
                        double* ar = a + r * PanelWidth;
                        var b0 = Vector128.Load(br);
                        var b1 = Vector128.Load(br + 2);
                        var av = Vector128.Create(ar[0]);
                        c0a = ExactFma.MultiplyAdd(av, b0, c0a);
                        c0b = ExactFma.MultiplyAdd(av, b1, c0b);
                        av = Vector128.Create(ar[1]);
                        c1a = ExactFma.MultiplyAdd(av, b0, c1a);
                        c1b = ExactFma.MultiplyAdd(av, b1, c1b);
                        av = Vector128.Create(ar[2]);
                        c2a = ExactFma.MultiplyAdd(av, b0, c2a);
                        c2b = ExactFma.MultiplyAdd(av, b1, c2b);
                        av = Vector128.Create(ar[3]);
                        c3a = ExactFma.MultiplyAdd(av, b0, c3a);
                        c3b = ExactFma.MultiplyAdd(av, b1, c3b);
                    }

                    int j0 = jp * PanelWidth + half;
                    Store(gram, columns, ib, j0, c0a, c0b);
                    Store(gram, columns, ib + 1, j0, c1a, c1b);
                    Store(gram, columns, ib + 2, j0, c2a, c2b);
                    Store(gram, columns, ib + 3, j0, c3a, c3b);
                }
            }
        }
    }

    private static unsafe void Store(double* gram, int columns, int i, int j0, Vector128<double> lo, Vector128<double> hi)
    {
        if (i >= columns)
        {
            return;
        }

        double* g = gram + (long)i * columns + j0;
        int w = Math.Min(4, columns - j0);
        for (int j = 0; j < w; j++)
        {
            g[j] += j < 2 ? lo.GetElement(j) : hi.GetElement(j - 2);
        }
    }

    private static unsafe void Store(double* gram, int columns, int i, int j0, Vector256<double> lo, Vector256<double> hi)
    {
        if (i >= columns)
        {
            return;
        }

        double* g = gram + (long)i * columns + j0;
        if (j0 + PanelWidth <= columns)
        {
            (Vector256.Load(g) + lo).Store(g);
            (Vector256.Load(g + 4) + hi).Store(g + 4);
            return;
        }

        int w = columns - j0;
        for (int j = 0; j < w; j++)
        {
            g[j] += j < 4 ? lo.GetElement(j) : hi.GetElement(j - 4);
        }
    }
}
