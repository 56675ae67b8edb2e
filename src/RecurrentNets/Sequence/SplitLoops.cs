using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Kernels;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Sequence;

/// <summary>
/// The time loops split over the worker pool: by batch rows (forward) or by hidden units (forward and backward). Each
/// part gives its rows or units the bits of <see cref="SerialLoop"/>: the products compute every row and column the
/// same way whatever the split, and the pointwise kernels work element by element. A loop that finds the pool busy
/// (another call holds it) returns false and the caller runs the serial loop.
/// </summary>
internal static class SplitLoops
{
    /// <summary>
    /// The whole forward loop with each thread taking its own batch rows through every step, each step's input projection
    /// of those rows first: the B sequences are independent, so the threads meet once per loop instead of twice per step.
    /// </summary>
    public static unsafe bool ForwardBatchSplit<T>(LayerPass<T> pass, int index, int layer, int parts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var job = pass.Split;
        job.Rows = RecurrentPlanner.RowsPerPart(pass.Batch, parts);
        job.Layer = layer;
        return Run(pass, index, 0, pass.Steps, parts, &BatchPart<T>);
    }

    /// <summary>Steps [first, first + count) of the forward loop in reading order, each split over units (the chunk's
    /// input projection is done).</summary>
    public static unsafe bool ForwardUnitSplit<T>(LayerPass<T> pass, int index, int first, int count, int parts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        pass.Split.Units = RecurrentPlanner.UnitsPerPart(pass.HiddenSize, parts);
        pass.Split.Barrier.Reset(parts);
        return Run(pass, index, first, count, parts, &ForwardUnitsPart<T>);
    }

    /// <summary>
    /// The whole backward loop split over units: per step, each part adds the output gradient and runs the pointwise step
    /// on its units, the parts meet (every unit's gate gradients are then written), and each computes its units' columns
    /// of dL/dh(t-1) = dGates·W_hh.
    /// </summary>
    public static unsafe bool BackwardUnitSplit<T>(LayerPass<T> pass, int index, T[] dOut, int parts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        pass.Split.Units = RecurrentPlanner.UnitsPerPart(pass.HiddenSize, parts);
        pass.Split.Barrier.Reset(parts);
        pass.Split.DOut = dOut;
        return Run(pass, index, 0, pass.Steps, parts, &BackwardUnitsPart<T>);
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="parts"/> threads of the pool with the loop's arguments in
    /// the pass's <see cref="SplitJob{T}"/>; false when the pool is busy.</summary>
    public static unsafe bool Run<T>(LayerPass<T> pass, int index, int first, int count, int parts, delegate*<GemmJob, int, void> body)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!WorkerPool.Shared.TryAcquire())
        {
            return false;
        }

        var split = pass.Split;
        try
        {
            (split.Index, split.First, split.Count) = (index, first, count);
            GemmJob job = GemmJob.Shared;
            job.State = pass;
            job.Body = body;
            WorkerPool.Shared.RunAcquired(job, parts);
        }
        finally
        {
            GemmJob.Shared.State = null;
            split.DOut = null;
            WorkerPool.Shared.Release();
        }

        return true;
    }

    // Rows [part·Rows, ..) of the batch through the steps; GEMMs inside find the pool busy and stay on this thread.
    private static void BatchPart<T>(GemmJob job, int part)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var pass = (LayerPass<T>)job.State!;
        var split = pass.Split;
        var cell = pass.Cells[split.Index];
        var cache = pass.Caches[split.Index];
        int batch = pass.Batch, steps = pass.Steps, direction = split.Index % pass.Directions;
        int b0 = part * split.Rows, rows = Math.Min(split.Rows, batch - b0);
        if (rows <= 0)
        {
            return;
        }

        int gw = cell.GateWidth, h = pass.HiddenSize, s = pass.StateSize, e = cell.StepCacheWidth, w = DirectionCache<T>.ScratchWidth(cell);
        Span<T> partScratch = pass.Scratch.AsSpan(b0 * w, rows * w);
        ReadOnlySpan<T> x = pass.LayerInput(split.Layer);
        Span<T> allGates = cache.Gates.AsSpan(0, steps * batch * gw);
        for (int step = split.First; step < split.First + split.Count; step++)
        {
            int t = direction == 0 ? step : steps - 1 - step;

            // On frozen weights each thread's rows of every step use the first step's slot (see DirectionCache.Ring).
            int gateSlot = cache.Ring ? 0 : t;
            pass.ProjectInputs(cell, x, allGates, t * batch + b0, gateSlot * batch + b0, rows);
            var whole = cache.Step(cell, t, batch, direction, backward: false, default, pass.Scratch.AsSpan(), gateSlot: gateSlot);
            Span<T> gates = whole.Gates.Slice(b0 * gw, rows * gw);
            cell.Forward(new CellStep<T>(rows, gates, gates, whole.HiddenPrev.Slice(b0 * s, rows * s), whole.Hidden.Slice(b0 * s, rows * s),
                cell.HasCellState ? whole.CellPrev.Slice(b0 * h, rows * h) : default, cell.HasCellState ? whole.Cell.Slice(b0 * h, rows * h) : default,
                whole.StepCache.Slice(b0 * e, rows * e), default, default, default, default, partScratch)
            {
                Recurrent = new RecurrentProduct<T>(cell, rows, false, null, 0, h),
            });
        }
    }

    // Units [part·Units, ..) through the chunk's forward steps; every part meets the others after each step, even one
    // left without units, so the barrier counts all of them.
    private static void ForwardUnitsPart<T>(GemmJob job, int part)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var pass = (LayerPass<T>)job.State!;
        var split = pass.Split;
        var (u0, u1) = split.UnitRange(part, pass.HiddenSize);
        try
        {
            if (split.FusedParts)
            {
                FusedLoops.ForwardUnitsPart(pass, part, u0, u1);
                return;
            }

            var cell = pass.Cells[split.Index];
            int direction = split.Index % pass.Directions;
            for (int s = split.First; s < split.First + split.Count; s++)
            {
                int t = direction == 0 ? s : pass.Steps - 1 - s;
                if (u0 < u1)
                {
                    cell.Forward(pass.Caches[split.Index].Step(cell, t, pass.Batch, direction, backward: false, default, pass.Scratch.AsSpan(),
                        firstUnit: u0, endUnit: u1));
                }

                if (!split.Barrier.SignalAndWait())
                {
                    return;
                }
            }
        }
        catch
        {
            split.Barrier.Abort();
            throw;
        }
    }

    // Units [part·Units, ..) through the whole backward loop; buffers swap as in the serial loop.
    private static void BackwardUnitsPart<T>(GemmJob job, int part)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var pass = (LayerPass<T>)job.State!;
        var split = pass.Split;
        var cell = pass.Cells[split.Index];
        var (u0, u1) = split.UnitRange(part, pass.HiddenSize);
        int batch = pass.Batch, stateSize = batch * pass.HiddenSize, direction = split.Index % pass.Directions;
        Span<T> dh = pass.DHiddenA.AsSpan(0, stateSize), dhNext = pass.DHiddenB.AsSpan(0, stateSize);
        Span<T> dc = cell.HasCellState ? pass.DCellA.AsSpan(0, stateSize) : default;
        Span<T> dcNext = cell.HasCellState ? pass.DCellB.AsSpan(0, stateSize) : default;
        ReadOnlySpan<T> dOut = split.DOut;
        try
        {
            for (int s = pass.Steps - 1; s >= 0; s--)
            {
                int t = direction == 0 ? s : pass.Steps - 1 - s;
                var step = pass.Caches[split.Index].Step(cell, t, batch, direction, backward: true, new StepGradients<T>(dh, dhNext, dc, dcNext),
                    pass.Scratch.AsSpan(), firstUnit: Math.Min(u0, u1), endUnit: u1);
                if (u0 < u1)
                {
                    pass.AddOutputGradient(dOut, t, direction, dh, u0, u1);
                    cell.BackwardUnitsPointwise(step, u0, u1);
                }

                if (!split.Barrier.SignalAndWait())
                {
                    return;
                }

                if (u0 < u1)
                {
                    cell.BackwardUnitsProduct(step);
                }

                SerialLoop.Swap(ref dh, ref dhNext);
                SerialLoop.Swap(ref dc, ref dcNext);
            }
        }
        catch
        {
            split.Barrier.Abort();
            throw;
        }
    }
}

/// <summary>The arguments every part of a split loop reads, set before the parts start (no allocation per loop).</summary>
internal sealed class SplitJob<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The parts meet here once per step in a unit split.</summary>
    public readonly SpinBarrier Barrier = new();

    public int Index, First, Count, Layer, Rows, Units;

    /// <summary>dL/d output of the layer being backpropagated.</summary>
    public T[]? DOut;

    /// <summary>Each part's fused tiles, and whether the current unit split uses them (<see cref="FusedLoops"/>).</summary>
    public FusedTiles<T>[] Fused = [];

    public bool FusedParts;

    /// <summary>Units [u0, u1) of a part (empty for a part left without units).</summary>
    public (int First, int End) UnitRange(int part, int hidden)
    {
        int u0 = Math.Min(part * Units, hidden);
        return (u0, Math.Min(u0 + Units, hidden));
    }
}
