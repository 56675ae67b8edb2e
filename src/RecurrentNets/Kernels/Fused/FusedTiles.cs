using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// Eight rows of a second product, C[8, N] (+)= A[8, K]·B on a packed B, that a one-row product on another packed
/// matrix computes alongside its own work (<see cref="FusedGemm.ComputeRow"/>): forward, the recurrent product of
/// a batch-1 step carries the input projection of coming steps; backward, dGates·W_hh carries dL/dx of finished ones.
/// </summary>
/// <remarks>
/// <para>
/// Why: a one-row product reads every element of its matrix once, so it runs at the speed the matrix streams from L2 (or
/// L3) and leaves about half of the core's multiply-add throughput idle; the fused 8x32 register tiles reuse each
/// element of B eight times from L1 and need that throughput. One k step of the tiles after every two of the row product's
/// keeps both busy (README.md here and docs/engine.md give the measurements).
/// </para>
/// <para>
/// Bits: the work is cut into units, a 32-column panel times a K block of <see cref="GemmDriver.KC"/>, each run with the
/// micro-kernel's operations (<see cref="IGemmMicroKernel{T}.Run"/>: the sum over the block's k in order from zero, then
/// added to C, or stored for the first block of a product that overwrites), a panel's blocks in order: every element
/// gets the bits of the plain blocked product of those rows, whichever units were done inside a row product and which
/// by <see cref="Finish"/>.
/// </para>
/// </remarks>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/> (only float is ever fused).</typeparam>
internal sealed unsafe class FusedTiles<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows of fused tiles: one AVX-512 register tile.</summary>
    public const int Rows = 8;

    /// <summary>Columns of a panel (the AVX-512 kernel's NR).</summary>
    public const int PanelWidth = 32;

    private T[] aStorage = [];
    private T* a;
    private PackedMatrix<T>? b;
    private T[]? c;
    private int cOffset, ldc;
    private int[] panels = GC.AllocateArray<int>(0, pinned: true);

    private int panelCount;

    // The register tile of a unit left unfinished by a row product (16 vectors of 16 floats), 64-byte aligned.
    private readonly float[] tileStorage = GC.AllocateUninitializedArray<float>(16 * 16 + 16, pinned: true);
    private readonly float* tile;

    /// <summary>Sets up an idle tiles (no units until <see cref="Start"/>).</summary>
    public FusedTiles()
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(tileStorage));
        tile = (float*)((address + 63) & ~(nint)63);
    }

    /// <summary>
    /// The k steps of unit <see cref="NextUnit"/> already summed in the carried tile (0: the unit is not begun). A row
    /// product that ends inside a unit leaves its partial sums here and the next one carries on from them, so a unit may
    /// span several row products (at H = 128 a backward step's product has room for half a unit of dL/dx): the sum
    /// over k runs in the same order, through the same register chain, so the bits do not change.
    /// </summary>
    public int Progress { get; internal set; }

    /// <summary>
    /// The next unit still to compute: unit u is K block u mod <see cref="KBlocks"/> of panel Panels[u / KBlocks], so each
    /// panel's K blocks come in order (the plain product's order of additions into C).
    /// </summary>
    public int NextUnit { get; internal set; }

    /// <summary>The number of units: panels times <see cref="KBlocks"/>.</summary>
    public int UnitCount => panelCount * KBlocks;

    /// <summary>K blocks (of <see cref="GemmDriver.KC"/>) per panel.</summary>
    public int KBlocks { get; private set; } = 1;

    /// <summary>The panels to compute, in order: panel j covers columns [32·j, 32·j + 32) of B and C.</summary>
    public ReadOnlySpan<int> Panels => panels.AsSpan(0, panelCount);

    /// <summary>Whether units remain (none before the first <see cref="Start"/>).</summary>
    public bool Pending => NextUnit < UnitCount;

    /// <summary>C += A·B (true) or C = A·B.</summary>
    public bool Accumulate { get; private set; }

    /// <summary>
    /// Whether fused tiles on <paramref name="tilesB"/> can ride along a one-row product on <paramref name="rowB"/>: both
    /// float, packed for AVX-512, one N block each, the row product over whole groups of four panels (N a multiple of
    /// 128) and the fused tiles over whole panels (N a multiple of 32).
    /// </summary>
    public static bool IsSupported(PackedMatrix<T> rowB, PackedMatrix<T> tilesB)
        => CanCarry(rowB) && tilesB.Path == GemmPath.Vector512 && FitsShape(tilesB.K, tilesB.N);

    /// <summary>Whether a one-row product on <paramref name="rowB"/> can carry fused tiles (of a shape <see cref="FitsShape"/> allows).</summary>
    public static bool CanCarry(PackedMatrix<T> rowB)
        => typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated && rowB.Path == GemmPath.Vector512
            && rowB.N <= GemmDriver.NC && rowB.N % (4 * PanelWidth) == 0;

    /// <summary>Whether fused tiles product with B of [<paramref name="k"/>, <paramref name="n"/>] fits one N block in whole panels.</summary>
    public static bool FitsShape(int k, int n) => k >= 1 && n <= GemmDriver.NC && n % PanelWidth == 0;

    /// <summary>
    /// The 32-column panels of units [<paramref name="first"/>, <paramref name="end"/>) in each of
    /// <paramref name="gateCount"/> gate blocks of <paramref name="hidden"/> columns (a unit range's gate columns, gate by
    /// gate), written to <paramref name="destination"/>; returns how many (gateCount · ⌈(end − first)/32⌉).
    /// </summary>
    public static int UnitPanels(Span<int> destination, int gateCount, int hidden, int first, int end)
    {
        int perGate = Math.Max(0, (end - first + PanelWidth - 1) / PanelWidth);
        for (int g = 0; g < gateCount; g++)
        {
            for (int j = 0; j < perGate; j++)
                destination[g * perGate + j] = (g * hidden + first) / PanelWidth + j;
        }

        return gateCount * perGate;
    }

    /// <summary>
    /// Sets up the rows C[8, N] = c[offset + r·ldc + j] (+)= x[8, K]·B on the columns of <paramref name="columnPanels"/>
    /// (all of them when empty), all pending. x is read now (packed).
    /// </summary>
    public void Start(ReadOnlySpan<T> x, PackedMatrix<T> packedB, T[] cArray, int offset, int leadingDimension, bool accumulate,
        ReadOnlySpan<int> columnPanels = default)
    {
        int k = packedB.K, n = packedB.N, count = columnPanels.IsEmpty ? n / PanelWidth : columnPanels.Length;
        if (x.Length < Rows * k || offset < 0 || leadingDimension < n || (long)offset + (long)(Rows - 1) * leadingDimension + n > cArray.Length)
        {
            throw new ArgumentException($"Fused tiles needs x [{Rows}, {k}] and C [{Rows}, {n}] (ldc {leadingDimension}) from offset {offset} of {cArray.Length}.");
        }

        foreach (int panel in columnPanels)
        {
            if ((uint)panel >= (uint)(n / PanelWidth))
            {
                throw new ArgumentOutOfRangeException(nameof(columnPanels), panel, $"A panel must lie in [0, {n / PanelWidth}) for B of {n} columns.");
            }
        }

        if (panels.Length < count)
        {
            panels = GC.AllocateArray<int>(count, pinned: true);
        }

        for (int i = 0; i < count; i++)
        {
            panels[i] = columnPanels.IsEmpty ? i : columnPanels[i];
        }

        int pad = 64 / sizeof(T);
        if (aStorage.Length < Rows * k + pad)
        {
            aStorage = GC.AllocateUninitializedArray<T>(Rows * k + pad, pinned: true);
            nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(aStorage));
            a = (T*)((address + 63) & ~(nint)63);
        }

        // a[p·8 + r] = x[r, p]: the micro-kernel's A micro-panel (through 8x8 transposes in float).
        if (typeof(T) == typeof(float) && System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            fixed (T* px = x)
            {
                GemmDriver.Transpose8Rows((float*)px, k, (float*)a, Rows, k);
            }
        }
        else
        {
            for (int r = 0; r < Rows; r++)
            {
                ReadOnlySpan<T> row = x.Slice(r * k, k);
                for (int p = 0; p < k; p++)
                    a[p * Rows + r] = row[p];
            }
        }

        b = packedB;
        c = cArray;
        cOffset = offset;
        ldc = leadingDimension;
        Accumulate = accumulate;
        panelCount = count;
        KBlocks = (k + GemmDriver.KC - 1) / GemmDriver.KC;
        NextUnit = 0;
        Progress = 0;
    }

    /// <summary>Computes the pending panels on this thread (the micro-kernel itself: the same bits as fused ones).</summary>
    public void Finish()
    {
        if (!Pending)
            return;

        fixed (T* pc = c)
        {
            if (Progress > 0)
            {
                // The unit a row product left unfinished: its remaining k steps from the carried tile.
                var state = State(pc);
                FusedTilesKernel.FinishCarriedUnit(ref state);
                NextUnit = state.Next;
                Progress = 0;
            }

            for (; NextUnit < UnitCount; NextUnit++)
            {
                int panel = panels[NextUnit / KBlocks], block = NextUnit % KBlocks, kc = Math.Min(GemmDriver.KC, b!.K - block * GemmDriver.KC);
                GemmKernel<T, Vector512<T>>.Run(kc, a + (nint)block * GemmDriver.KC * Rows, PanelB(panel, block), PanelWidth, PanelC(pc, panel), ldc,
                    Accumulate || block > 0);
            }
        }
    }

    /// <summary>Drops the pending units (after a failure); the next <see cref="Start"/> sets new ones.</summary>
    public void Clear()
    {
        NextUnit = UnitCount;
        Progress = 0;
    }

    /// <summary>The tiles' pointers and progress for <see cref="FusedTilesKernel"/>, with C's data at <paramref name="pc"/> (float only).</summary>
    internal FusedTilesState State(T* pc) => new()
    {
        A = (float*)a, B = (float*)b!.Data, C = (float*)PanelC(pc, 0), Panels = PanelList, Ldc = ldc, N = b.N, K = b.K,
        KBlocks = KBlocks, Add = Accumulate, Next = NextUnit, End = UnitCount, Tile = tile, Progress = Progress,
    };

    internal PackedMatrix<T> B => b!;

    internal T[] CArray => c!;

    // Panel j of K block q in the packed layout (one N block): the block at N·(q·KC), the panel at 32·kc·j within it.
    private T* PanelB(int panel, int block = 0)
    {
        int k0 = block * GemmDriver.KC, kc = Math.Min(GemmDriver.KC, b!.K - k0);
        return b.Data + (nint)b.N * k0 + (nint)panel * PanelWidth * kc;
    }

    private T* PanelC(T* pc, int panel) => pc + cOffset + (nint)panel * PanelWidth;

    private int* PanelList => (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(panels));
}

/// <summary>A tiles' pointers and progress for <see cref="FusedTilesKernel.Run"/> (float: only float is fused).</summary>
internal unsafe struct FusedTilesState
{
    /// <summary>Packed A of all K (a[p·8 + r]).</summary>
    public float* A;

    /// <summary>Packed B (one N block: K block q starts at N·q·KC).</summary>
    public float* B;

    /// <summary>C at column 0 of the tiles' first row.</summary>
    public float* C;

    /// <summary>The tiles' panels.</summary>
    public int* Panels;

    /// <summary>C's leading dimension and B's columns.</summary>
    public nint Ldc, N;

    /// <summary>B's rows and K blocks per panel.</summary>
    public int K, KBlocks;

    /// <summary>C += A·B (else the first K block overwrites).</summary>
    public bool Add;

    /// <summary>The next unit and the number of units.</summary>
    public int Next, End;

    /// <summary>Where an unfinished unit's register tile is carried between row products (16 aligned vectors).</summary>
    public float* Tile;

    /// <summary>The k steps of unit <see cref="Next"/> summed in <see cref="Tile"/> (0: not begun).</summary>
    public nint Progress;
}

/// <summary>The AVX-512 loop of <see cref="FusedGemm.ComputeRow"/>: a one-row product with fused tiles interleaved.</summary>
internal static unsafe class FusedTilesKernel
{
    // The row and tile steps are the AVX-512 micro-kernel's, so the fused products have its bits.
    private readonly struct Kernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void RowStep(float a, Vector512<float> b0, Vector512<float> b1, ref Vector512<float> c0, ref Vector512<float> c1)
            => GemmKernel<float, Vector512<float>>.RowStep(a, b0, b1, ref c0, ref c1);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void PanelStep(Vector512<float> av, float* q, nint w, ref Vector512<float> s0, ref Vector512<float> s1)
            => GemmKernel<float, Vector512<float>>.PanelStep(av, q, w, ref s0, ref s1);
    }

    /// <summary>
    /// c[0, 32·j..) (+)= a[0, k)·B for the panels j of <paramref name="rowPanels"/> (B's panel j: k x 32 values at
    /// b + 32·k·j), in groups of four taken in order or reversed, each group with
    /// <see cref="GemmKernel{T, TV}.RowPanels4"/>'s operations; meanwhile the tiles' units from <see cref="FusedTilesState.Next"/>
    /// with <see cref="GemmKernel{T, TV}.Run"/>'s, one tiles k step after every two row k steps, carrying on from
    /// <see cref="FusedTilesState.Progress"/> and leaving a unit begun, with its tile, for the next call. Advances
    /// <see cref="FusedTilesState.Next"/> past the units done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint k, float* a, float* b, int* rowPanels, int groups, float* c, bool add, bool reverse, ref FusedTilesState tiles)
    {
        nint ps = 32 * k;
        bool active = tiles.Next < tiles.End;
        nint tk = 0, kc = 0;
        float* ta = null, tb = null, tc = null;
        bool tadd = false;
        if (active)
            Begin(ref tiles, out ta, out tb, out tc, out kc, out tadd);
        TileAccumulators tile = default;
        if (active && tiles.Progress > 0)
            tk = CarryOn(ref tiles, ref ta, ref tb, ref tile); // the unit an earlier row product left unfinished

        for (int gi = 0; gi < groups; gi++)
        {
            int* group = rowPanels + 4 * (reverse ? groups - 1 - gi : gi);
            float* q0 = b + group[0] * ps, q1 = b + group[1] * ps, q2 = b + group[2] * ps, q3 = b + group[3] * ps;
            RowAccumulators row = default;
            nint p = 0;
            while (active && p + 1 < k)
            {
                nint pairs = Math.Min((k - p) >> 1, kc - tk);
                for (nint i = 0; i < pairs; i++)
                {
                    RowStep(ref row, a[p], q0, q1, q2, q3, p * 32);
                    TileStep(ref tile, ta, tb);
                    RowStep(ref row, a[p + 1], q0, q1, q2, q3, p * 32 + 32);
                    p += 2;
                    ta += 8;
                    tb += 32;
                }

                tk += pairs;
                if (tk == kc)
                {
                    StoreTile(tc, tiles.Ldc, tadd, ref tile);
                    tile = default;
                    tiles.Next++;
                    tk = 0;
                    active = tiles.Next < tiles.End;
                    if (active)
                        Begin(ref tiles, out ta, out tb, out tc, out kc, out tadd);
                }
            }

            for (; p < k; p++)
                RowStep(ref row, a[p], q0, q1, q2, q3, p * 32);

            Store(c + group[0] * 32, add, row.S00, row.S01);
            Store(c + group[1] * 32, add, row.S10, row.S11);
            Store(c + group[2] * 32, add, row.S20, row.S21);
            Store(c + group[3] * 32, add, row.S30, row.S31);
        }

        // A unit begun inside the row product waits, with its partial sums, for the next call (or Finish).
        tiles.Progress = active ? tk : 0;
        if (active && tk > 0)
            SaveTile(tiles.Tile, ref tile);
    }

    /// <summary>
    /// Finishes unit <see cref="FusedTilesState.Next"/> from its carried tile (<see cref="FusedTilesState.Progress"/> k steps done):
    /// the remaining steps with the same operations, then C, and advances <see cref="FusedTilesState.Next"/>.
    /// </summary>
    public static void FinishCarriedUnit(ref FusedTilesState tiles)
    {
        Begin(ref tiles, out float* ta, out float* tb, out float* tc, out nint kc, out bool tadd);
        TileAccumulators tile = default;
        for (nint tk = CarryOn(ref tiles, ref ta, ref tb, ref tile); tk < kc; tk++, ta += 8, tb += 32)
            TileStep(ref tile, ta, tb);

        StoreTile(tc, tiles.Ldc, tadd, ref tile);
        tiles.Next++;
        tiles.Progress = 0;
    }

    // The row product's four panels (two vectors each) of a group.
    private struct RowAccumulators
    {
        public Vector512<float> S00, S01, S10, S11, S20, S21, S30, S31;
    }

    // The tiles' 8 x 32 register tile.
    private struct TileAccumulators
    {
        public Vector512<float> C00, C01, C10, C11, C20, C21, C30, C31, C40, C41, C50, C51, C60, C61, C70, C71;
    }

    // One k step of the row product over four panels: RowPanels4's operations.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowStep(ref RowAccumulators s, float ap, float* q0, float* q1, float* q2, float* q3, nint o)
    {
        Vector512<float> av = Vector512.Create(ap);
        Kernel.PanelStep(av, q0 + o, 16, ref s.S00, ref s.S01);
        Kernel.PanelStep(av, q1 + o, 16, ref s.S10, ref s.S11);
        Kernel.PanelStep(av, q2 + o, 16, ref s.S20, ref s.S21);
        Kernel.PanelStep(av, q3 + o, 16, ref s.S30, ref s.S31);
    }

    // One k step of a fused tile: the micro-kernel's operations (a[0..8) against one 32-wide step of B).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileStep(ref TileAccumulators t, float* ta, float* tb)
    {
        Vector512<float> b0 = Vector512.Load(tb), b1 = Vector512.Load(tb + 16);
        Kernel.RowStep(ta[0], b0, b1, ref t.C00, ref t.C01);
        Kernel.RowStep(ta[1], b0, b1, ref t.C10, ref t.C11);
        Kernel.RowStep(ta[2], b0, b1, ref t.C20, ref t.C21);
        Kernel.RowStep(ta[3], b0, b1, ref t.C30, ref t.C31);
        Kernel.RowStep(ta[4], b0, b1, ref t.C40, ref t.C41);
        Kernel.RowStep(ta[5], b0, b1, ref t.C50, ref t.C51);
        Kernel.RowStep(ta[6], b0, b1, ref t.C60, ref t.C61);
        Kernel.RowStep(ta[7], b0, b1, ref t.C70, ref t.C71);
    }

    // The pointers of the tiles' next unit: K block q of panel j reads A from row q·KC, B's panel j of block q
    // (N·q·KC + 32·kc·j), and adds into C unless it is the first block of a product that overwrites.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Begin(ref FusedTilesState tiles, out float* ta, out float* tb, out float* tc, out nint kc, out bool tadd)
    {
        int panel = tiles.Panels[tiles.Next / tiles.KBlocks], block = tiles.Next % tiles.KBlocks;
        nint k0 = (nint)block * GemmDriver.KC;
        kc = Math.Min(GemmDriver.KC, tiles.K - k0);
        ta = tiles.A + k0 * 8;
        tb = tiles.B + tiles.N * k0 + panel * 32 * kc;
        tc = tiles.C + panel * 32;
        tadd = tiles.Add || block > 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, bool add, Vector512<float> x0, Vector512<float> x1)
    {
        if (add)
        {
            x0 = Vector512.Load(c) + x0;
            x1 = Vector512.Load(c + 16) + x1;
        }

        x0.Store(c);
        x1.Store(c + 16);
    }

    // Resumes the current unit where a row product left it: its tile back in registers, A and B past the k steps done.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint CarryOn(ref FusedTilesState tiles, ref float* ta, ref float* tb, ref TileAccumulators tile)
    {
        nint done = tiles.Progress;
        ta += done * 8;
        tb += done * 32;
        LoadTile(tiles.Tile, ref tile);
        return done;
    }

    // The carried tile, 16 aligned vectors in the accumulators' order (field by field: the tile stays in registers).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SaveTile(float* p, ref TileAccumulators t)
    {
        t.C00.StoreAligned(p + 0);
        t.C01.StoreAligned(p + 16);
        t.C10.StoreAligned(p + 32);
        t.C11.StoreAligned(p + 48);
        t.C20.StoreAligned(p + 64);
        t.C21.StoreAligned(p + 80);
        t.C30.StoreAligned(p + 96);
        t.C31.StoreAligned(p + 112);
        t.C40.StoreAligned(p + 128);
        t.C41.StoreAligned(p + 144);
        t.C50.StoreAligned(p + 160);
        t.C51.StoreAligned(p + 176);
        t.C60.StoreAligned(p + 192);
        t.C61.StoreAligned(p + 208);
        t.C70.StoreAligned(p + 224);
        t.C71.StoreAligned(p + 240);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTile(float* p, ref TileAccumulators t)
    {
        t.C00 = Vector512.LoadAligned(p + 0);
        t.C01 = Vector512.LoadAligned(p + 16);
        t.C10 = Vector512.LoadAligned(p + 32);
        t.C11 = Vector512.LoadAligned(p + 48);
        t.C20 = Vector512.LoadAligned(p + 64);
        t.C21 = Vector512.LoadAligned(p + 80);
        t.C30 = Vector512.LoadAligned(p + 96);
        t.C31 = Vector512.LoadAligned(p + 112);
        t.C40 = Vector512.LoadAligned(p + 128);
        t.C41 = Vector512.LoadAligned(p + 144);
        t.C50 = Vector512.LoadAligned(p + 160);
        t.C51 = Vector512.LoadAligned(p + 176);
        t.C60 = Vector512.LoadAligned(p + 192);
        t.C61 = Vector512.LoadAligned(p + 208);
        t.C70 = Vector512.LoadAligned(p + 224);
        t.C71 = Vector512.LoadAligned(p + 240);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile(float* c, nint ldc, bool add, ref TileAccumulators t)
    {
        Store(c, add, t.C00, t.C01);
        Store(c + ldc, add, t.C10, t.C11);
        Store(c + 2 * ldc, add, t.C20, t.C21);
        Store(c + 3 * ldc, add, t.C30, t.C31);
        Store(c + 4 * ldc, add, t.C40, t.C41);
        Store(c + 5 * ldc, add, t.C50, t.C51);
        Store(c + 6 * ldc, add, t.C60, t.C61);
        Store(c + 7 * ldc, add, t.C70, t.C71);
    }
}
