using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Kernels;

namespace RecurrentNets.Sequence;

/// <summary>How a time loop runs its steps.</summary>
public enum LoopStrategy
{
    /// <summary>One thread takes the whole batch through every step (the GEMMs inside may still use threads).</summary>
    Serial,

    /// <summary>Each thread takes its own batch rows through every step: the sequences are independent, so the threads
    /// meet once per loop. Forward only.</summary>
    BatchSplit,

    /// <summary>Each step is split over ranges of hidden units, one thread per range, and the threads meet once per step
    /// (twice backward): it serves batches too small to split by rows, and weights too large for the cache.</summary>
    UnitSplit,
}

/// <summary>How one layer and direction of a <see cref="RecurrentLayer{T}"/> runs its forward and backward loops.</summary>
/// <param name="Layer">l, 0 at the bottom.</param>
/// <param name="Direction">0 forward, 1 reverse.</param>
/// <param name="Forward">The forward loop's strategy.</param>
/// <param name="ForwardThreads">The threads of the forward loop (1 for <see cref="LoopStrategy.Serial"/>).</param>
/// <param name="ProjectionChunkSteps">Steps whose input projection x·W_ihᵀ is computed in one GEMM just before they run
/// (all T when the projected gates fit in L2 or the weights are large; fewer so a chunk stays in L2, or, off AVX-512 with
/// a W_ih of 2 MB or more, so that a chunk holds as many bytes of gates as W_ih). A batch split ignores it: each thread
/// projects its own rows of a step just before it.</param>
/// <param name="FusedProjection">Whether batch-1 recurrent products compute the coming steps' input projection in their
/// spare cycles (<c>Kernels/Fused</c>; AVX-512, float).</param>
/// <param name="Backward">The backward loop's strategy.</param>
/// <param name="BackwardThreads">The threads of the backward loop.</param>
/// <param name="FusedInputGradient">Whether batch-1 backward products compute dL/dx of finished steps in their spare
/// cycles, when dL/dx is wanted.</param>
public sealed record DirectionPlan(int Layer, int Direction, LoopStrategy Forward, int ForwardThreads, int ProjectionChunkSteps,
    bool FusedProjection, LoopStrategy Backward, int BackwardThreads, bool FusedInputGradient);

/// <summary>
/// What a <see cref="RecurrentLayer{T}"/> will run for a call (<see cref="RecurrentLayer{T}.Plan"/>): one
/// <see cref="DirectionPlan"/> per layer and direction, chosen once from the shapes, the thread budget, the CPU's vector
/// path and the layer's options. Every plan gives the same bits; a loop whose threads are busy with another call runs
/// serially instead (also the same bits).
/// </summary>
/// <param name="TimeSteps">T.</param>
/// <param name="BatchSize">B.</param>
/// <param name="MaxThreads">The thread budget the plan was made for.</param>
/// <param name="VectorPath">The GEMM's vector path: <c>Vector512</c> (AVX-512), <c>Vector256</c> (AVX2 and FMA) or <c>Portable</c> (Vector128).</param>
/// <param name="Directions">Index l·D + d.</param>
public sealed record ExecutionPlan(int TimeSteps, int BatchSize, int MaxThreads, string VectorPath, IReadOnlyList<DirectionPlan> Directions);

/// <summary>What the planner needs to know about a call besides the cells.</summary>
internal readonly record struct PlanRequest(int Steps, int Batch, int MaxThreads, GemmPath Path, bool Frozen, bool HasLengths,
    bool RecurrentDropout, bool FuseProducts);

/// <summary>
/// Turns shapes, threads, the vector path and options into an <see cref="ExecutionPlan"/>. Pure: no state, no
/// allocation but the plan, so tests can ask it directly. The thresholds are measured; docs/engine.md gives the numbers.
/// </summary>
internal static class RecurrentPlanner
{
    /// <summary>Fewest batch rows a thread takes in a batch split (one AVX-512 register tile).</summary>
    public const int MinSplitRows = 8;

    /// <summary>Fewest hidden units a thread takes in a unit split (so every range starts on a GEMM panel).</summary>
    public const int MinSplitUnits = 32;

    /// <summary>Fewest multiply-adds B·G·H·H in a step's recurrent product for a unit split: below it the meeting per
    /// step costs more than half the step saves.</summary>
    public const long MinSplitProduct = 64 * 1024;

    /// <summary>Projected gates of at most this many bytes per chunk, so a chunk stays in L2.</summary>
    public const int ProjectionChunkBytes = 256 * 1024;

    /// <summary>Off AVX-512, a W_ih of at least this many bytes (larger than the L2 of the CPUs measured) makes a chunk
    /// hold at least as many bytes of gates as W_ih, so that reading W_ih again for each chunk costs no more than the
    /// chunk itself.</summary>
    public const long LargeInputWeightBytes = 2L * 1024 * 1024;

    /// <summary>Projected gates of at most this many bytes in all are projected at once.</summary>
    public const int WholeProjectionBytes = 1024 * 1024;

    /// <summary>W_ih and W_hh of at least this many bytes together do not stay in the last-level cache: such a cell
    /// projects all steps at once and splits its forward steps over units (each thread reads only its share of W_hh).</summary>
    public const long LargeWeightsBytes = 16L * 1024 * 1024;

    /// <summary>Fewest steps for a fused loop: two blocks of <see cref="FusedTiles{T}.Rows"/>.</summary>
    public const int MinFusedSteps = 2 * 8;

    public static ExecutionPlan Plan<T>(IReadOnlyList<RecurrentCell<T>> cells, int directions, in PlanRequest request)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plans = new DirectionPlan[cells.Count];
        for (int i = 0; i < cells.Count; i++)
        {
            plans[i] = PlanDirection(cells[i], i / directions, i % directions, request);
        }

        return new ExecutionPlan(request.Steps, request.Batch, request.MaxThreads, request.Path.ToString(), plans);
    }

    private static DirectionPlan PlanDirection<T>(RecurrentCell<T> cell, int layer, int direction, in PlanRequest r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int threads = Math.Min(r.MaxThreads, 1 + WorkerPool.Shared.WorkerCount);
        int chunk = ChunkSteps(cell, r.Steps, r.Batch, r.Path);
        int unitsForward = UnitSplitThreads(cell, r, threads, backward: false);
        int rowsForward = BatchSplitThreads(cell, r, threads);

        // Forward: a batch split first; else a batch-1 loop with the projection fused, serial or split over units; else
        // chunks of projected steps, each split over units or serial.
        LoopStrategy forward = rowsForward >= 2 ? LoopStrategy.BatchSplit : unitsForward >= 2 ? LoopStrategy.UnitSplit : LoopStrategy.Serial;
        int forwardThreads = forward switch { LoopStrategy.BatchSplit => rowsForward, LoopStrategy.UnitSplit => unitsForward, _ => 1 };
        bool fusedBase = r.FuseProducts && r.Batch == 1 && r.Steps >= MinFusedSteps && FusionAvailable<T>(r.Path)
            && cell.StateSize == cell.HiddenSize;
        bool productOnOneThread = r.MaxThreads == 1 || 2.0 * cell.GateWidth * cell.HiddenSize < GemmDriver.ThreadingThreshold;
        bool fusedProjection = fusedBase && forward != LoopStrategy.BatchSplit && chunk >= r.Steps
            && RowProductFits(cell.HiddenSize, cell.GateWidth) && FusedTiles<T>.FitsShape(cell.InputSize, cell.GateWidth)
            && (forward == LoopStrategy.UnitSplit ? UnitPartsFuse(cell, unitsForward) : productOnOneThread);

        // Backward: a unit split, else serial with dL/dx fused into batch-1 products.
        int unitsBackward = UnitSplitThreads(cell, r, threads, backward: true);
        LoopStrategy backward = unitsBackward >= 2 ? LoopStrategy.UnitSplit : LoopStrategy.Serial;
        bool fusedInputGradient = fusedBase && backward == LoopStrategy.Serial && productOnOneThread
            && RowProductFits(cell.GateWidth, cell.HiddenSize) && FusedTiles<T>.FitsShape(cell.GateWidth, cell.InputSize);
        return new DirectionPlan(layer, direction, forward, forwardThreads, chunk, fusedProjection, backward,
            backward == LoopStrategy.UnitSplit ? unitsBackward : 1, fusedInputGradient);
    }

    /// <summary>
    /// Steps per chunk of the input projection: <see cref="ProjectionChunkBytes"/> of gates a chunk, measured on Zen 4's
    /// AVX-512 path. Off AVX-512, a W_ih of <see cref="LargeInputWeightBytes"/> or more raises a chunk to W_ih's bytes of
    /// gates (measured on Zen 3: LSTM (32, 512) 16 steps a chunk instead of 1, one-thread inference about 15 % faster;
    /// docs/engine.md, "The input projection's chunks off AVX-512"). The AVX-512 path keeps the chunks measured on it.
    /// </summary>
    public static unsafe int ChunkSteps<T>(RecurrentCell<T> cell, int steps, int batch, GemmPath path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long stepBytes = (long)batch * cell.GateWidth * sizeof(T);
        if (stepBytes * steps <= WholeProjectionBytes || HasLargeWeights(cell))
        {
            return Math.Max(1, steps);
        }

        long inputWeightBytes = (long)cell.GateWidth * cell.InputSize * sizeof(T);
        long chunkBytes = path != GemmPath.Vector512 && inputWeightBytes >= LargeInputWeightBytes
            ? Math.Max(ProjectionChunkBytes, inputWeightBytes) : ProjectionChunkBytes;
        return (int)Math.Clamp(chunkBytes / stepBytes, 1, Math.Max(1, steps));
    }

    /// <summary>Units a part of a unit split over <paramref name="parts"/> takes (the last may take fewer): H / parts
    /// rounded up to whole 32-column panels, so every range starts on a panel (and a cache line).</summary>
    public static int UnitsPerPart(int hiddenSize, int parts)
        => ((hiddenSize + parts - 1) / parts + Gemm.ColumnAlignment - 1) / Gemm.ColumnAlignment * Gemm.ColumnAlignment;

    /// <summary>Rows a part of a batch split over <paramref name="parts"/> takes: whole register tiles.</summary>
    public static int RowsPerPart(int batch, int parts)
        => ((batch + parts - 1) / parts + MinSplitRows - 1) / MinSplitRows * MinSplitRows;

    private static unsafe bool HasLargeWeights<T>(RecurrentCell<T> cell)
        where T : unmanaged, IFloatingPointIeee754<T>
        => (long)cell.GateWidth * (cell.InputSize + cell.StateSize) * sizeof(T) >= LargeWeightsBytes;

    private static bool PrefersUnitSplit<T>(RecurrentCell<T> cell)
        where T : unmanaged, IFloatingPointIeee754<T>
        => cell.SplitsUnits && cell.HiddenSize % Gemm.ColumnAlignment == 0 && HasLargeWeights(cell);

    private static int BatchSplitThreads<T>(RecurrentCell<T> cell, in PlanRequest r, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Math.Min(threads, r.Batch / MinSplitRows);
        bool applies = parts >= 2 && !r.RecurrentDropout && !r.HasLengths && cell.RowsAreIndependent && !PrefersUnitSplit(cell);
        return applies ? parts : 1;
    }

    private static int UnitSplitThreads<T>(RecurrentCell<T> cell, in PlanRequest r, int threads, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = cell.HiddenSize;
        if (!cell.SplitsUnits || cell.StateSize != h || r.RecurrentDropout || r.HasLengths || h % Gemm.ColumnAlignment != 0
            || (!backward && r.Batch >= 2 * MinSplitRows && !PrefersUnitSplit(cell))
            || (long)r.Batch * cell.GateWidth * h < MinSplitProduct)
        {
            return 1;
        }

        return Math.Max(1, Math.Min(threads, h / MinSplitUnits));
    }

    // Fused tiles ride on float AVX-512 products only.
    private static bool FusionAvailable<T>(GemmPath path)
        where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) && path == GemmPath.Vector512;

    // A one-row product over [k, n] carries fused tiles when it covers whole groups of four panels in one N block.
    private static bool RowProductFits(int k, int n) => k >= 1 && n <= GemmDriver.NC && n % (4 * FusedTiles<float>.PanelWidth) == 0;

    // In a fused unit split, each part's gate columns form whole groups of four panels.
    private static bool UnitPartsFuse<T>(RecurrentCell<T> cell, int parts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = cell.HiddenSize, units = UnitsPerPart(h, parts);
        for (int p = 0; p < parts; p++)
        {
            int own = Math.Clamp(h - p * units, 0, units);
            if (cell.GateCount * own / FusedTiles<T>.PanelWidth % 4 != 0)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// The plans of a layer's last few calls, reused while nothing they depend on changes, so a steady loop allocates nothing
/// (a decoder alternates between teacher-forced sequences and one-step decoding, a training loop with validation).
/// </summary>
internal sealed class PlanCache
{
    private readonly (PlanRequest Request, ExecutionPlan? Plan)[] recent = new (PlanRequest, ExecutionPlan?)[4];
    private int next;

    public ExecutionPlan Get<T>(IReadOnlyList<RecurrentCell<T>> cells, int directions, in PlanRequest request)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var (known, plan) in recent)
        {
            if (plan is not null && known == request)
            {
                return plan;
            }
        }

        var made = RecurrentPlanner.Plan(cells, directions, request);
        recent[next] = (request, made);
        next = (next + 1) % recent.Length;
        return made;
    }
}
