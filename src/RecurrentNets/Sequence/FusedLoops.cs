using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Kernels;

namespace RecurrentNets.Sequence;

/// <summary>
/// Batch-1 loops whose recurrent products compute tiles of another product in their spare cycles (Kernels/Fused): a
/// one-row product h·W_hhᵀ streams W_hh and leaves half the core's multiply-adds idle. Forward, the tiles are the input
/// projection of the next block of eight steps; backward, dL/dx of the last finished block. The same bits as
/// <see cref="SerialLoop"/> (the tiles run the micro-kernel's operations); docs/engine.md gives the measured gains.
/// </summary>
internal static class FusedLoops
{
    private const int Block = FusedTiles<float>.Rows;

    /// <summary>
    /// The forward loop on this thread: the first block's projection before the loop, then while the steps of block i
    /// run, their products compute block i + 1's projection; what a block's steps leave is finished after them, and a
    /// last partial block is projected plainly. False (nothing done) when the packed weights are not on the fused path.
    /// </summary>
    public static bool ForwardSerial<T>(LayerPass<T> pass, int index, ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cell = pass.Cells[index];
        var cache = pass.Caches[index];
        if (!FusedTiles<T>.IsSupported(cell.PackedRecurrentWeights, cell.PackedInputWeights))
        {
            return false;
        }

        var fused = pass.Fused ??= new FusedTiles<T>();
        int steps = pass.Steps, direction = index % pass.Directions, gw = cell.GateWidth;
        int blocks = (steps + Block - 1) / Block;
        cache.GatesBase = 0;
        var (first0, count0) = BlockOf(0, steps, direction);
        pass.ProjectInputs(cell, x, cache.Gates.AsSpan(), first0, first0, count0);
        try
        {
            for (int i = 0; i < blocks; i++)
            {
                if (i + 1 < blocks)
                {
                    var (next, count) = BlockOf(i + 1, steps, direction);
                    if (count == Block)
                    {
                        bool bias = cell.BiasIH is not null;
                        if (bias)
                        {
                            Elementwise.BroadcastRows<T>(pass.BiasSum.AsSpan(0, gw), Block, cache.Gates.AsSpan(next * gw, Block * gw));
                        }

                        fused.Start(x.Slice(next * cell.InputSize, Block * cell.InputSize), cell.PackedInputWeights, cache.Gates.Array!,
                            cache.Gates.Offset + next * gw, gw, bias);
                    }
                    else
                    {
                        pass.ProjectInputs(cell, x, cache.Gates.AsSpan(), next, next, count);
                    }
                }

                var (first, stepCount) = BlockOf(i, steps, direction);
                for (int s = 0; s < stepCount; s++)
                {
                    pass.ForwardStep(index, direction == 0 ? first + s : first + stepCount - 1 - s, fused);
                }

                fused.Finish();
            }
        }
        finally
        {
            fused.Clear();
        }

        return true;
    }

    /// <summary>
    /// The forward loop split over units with each part's products computing that part's gate columns of the next
    /// block's projection: a part's columns are read only by its own steps, so the parts still meet once per step. False
    /// (nothing done) when the packed weights are not on the fused path; when the pool is busy, the plain serial loop.
    /// </summary>
    public static unsafe bool ForwardUnitSplit<T>(LayerPass<T> pass, int index, int layer, ReadOnlySpan<T> x, int parts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cell = pass.Cells[index];
        var cache = pass.Caches[index];
        if (!FusedTiles<T>.IsSupported(cell.PackedRecurrentWeights, cell.PackedInputWeights))
        {
            return false;
        }

        var split = pass.Split;
        if (split.Fused.Length < parts)
        {
            Array.Resize(ref split.Fused, parts);
        }

        for (int p = 0; p < parts; p++)
        {
            split.Fused[p] ??= new FusedTiles<T>();
        }

        int steps = pass.Steps, direction = index % pass.Directions;
        cache.GatesBase = 0;
        var (first0, count0) = BlockOf(0, steps, direction);
        pass.ProjectInputs(cell, x, cache.Gates.AsSpan(), first0, first0, count0);
        split.FusedParts = true;
        split.Layer = layer;
        try
        {
            if (SplitLoops.ForwardUnitSplit(pass, index, 0, steps, parts))
            {
                return true;
            }
        }
        finally
        {
            split.FusedParts = false;
            foreach (var fused in split.Fused)
            {
                fused?.Clear();
            }
        }

        // The pool was busy: the rest of the projection, then the plain loop.
        int rest = steps - count0, restFirst = direction == 0 ? count0 : 0;
        pass.ProjectInputs(cell, x, cache.Gates.AsSpan(), restFirst, restFirst, rest);
        for (int s = 0; s < steps; s++)
        {
            pass.ForwardStep(index, direction == 0 ? s : steps - 1 - s);
        }

        return true;
    }

    /// <summary>A part of <see cref="ForwardUnitSplit"/>: block by block, its columns of the next block's projection ride
    /// on its steps' products.</summary>
    public static void ForwardUnitsPart<T>(LayerPass<T> pass, int part, int u0, int u1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var split = pass.Split;
        var cell = pass.Cells[split.Index];
        var cache = pass.Caches[split.Index];
        int steps = pass.Steps, direction = split.Index % pass.Directions;
        var fused = split.Fused[part];
        Span<int> panels = stackalloc int[cell.GateWidth / FusedTiles<T>.PanelWidth + cell.GateCount];
        panels = panels[..FusedTiles<T>.UnitPanels(panels, cell.GateCount, pass.HiddenSize, u0, u1)];
        ReadOnlySpan<T> x = pass.LayerInput(split.Layer);
        int blocks = (steps + Block - 1) / Block;
        for (int i = 0; i < blocks; i++)
        {
            if (u0 < u1 && i + 1 < blocks)
            {
                var (next, count) = BlockOf(i + 1, steps, direction);
                ProjectOwnColumns(pass, cell, x, fused, panels, next, count, u0, u1);
            }

            var (first, stepCount) = BlockOf(i, steps, direction);
            for (int s = 0; s < stepCount; s++)
            {
                int t = direction == 0 ? first + s : first + stepCount - 1 - s;
                if (u0 < u1)
                {
                    cell.Forward(cache.Step(cell, t, pass.Batch, direction, backward: false, default, pass.Scratch.AsSpan(), fused, u0, u1));
                }

                if (!split.Barrier.SignalAndWait())
                {
                    return;
                }
            }

            fused.Finish();
        }
    }

    /// <summary>Packs W_ih for dL/dx and returns the loop's fused tiles, or null when the weights are not on the fused path.</summary>
    public static FusedTiles<T>? StartInputGradient<T>(LayerPass<T> pass, RecurrentCell<T> cell)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!FusedTiles<T>.CanCarry(cell.PackedRecurrentWeightsBackward))
        {
            return null;
        }

        cell.PackInputWeightsBackward();
        return FusedTiles<T>.IsSupported(cell.PackedRecurrentWeightsBackward, cell.PackedInputWeightsBackward) ? pass.Fused ??= new FusedTiles<T>() : null;
    }

    /// <summary>After backward step t closes a block of eight steps: finishes the previous block's dL/dx and starts this one's.</summary>
    public static void NextInputGradientBlock<T>(LayerPass<T> pass, int index, FusedTiles<T> fused, T[] dX, int t)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cell = pass.Cells[index];
        int direction = index % pass.Directions, gw = cell.GateWidth;

        // Steps [t, t + 8) forward, [t - 7, t] reverse: the block the finished steps fill.
        int first = direction == 0 ? t : t - Block + 1;
        fused.Finish();
        fused.Start(pass.Caches[index].Gates.AsSpan(first * gw, Block * gw), cell.PackedInputWeightsBackward, dX, first * cell.InputSize,
            cell.InputSize, accumulate: direction > 0);
    }

    // Block i of eight steps in reading order: rows [8i, 8i + 8) forward, counted from the end backward; the partial
    // block is read last either way.
    private static (int First, int Count) BlockOf(int i, int steps, int direction)
        => direction == 0
            ? (i * Block, Math.Min(Block, steps - i * Block))
            : (Math.Max(0, steps - (i + 1) * Block), Math.Min(Block, steps - i * Block));

    // A part's own columns of the projection rows [first, first + count): b, then x·W_ihᵀ for a partial block; b and
    // started tiles for a whole one.
    private static void ProjectOwnColumns<T>(LayerPass<T> pass, RecurrentCell<T> cell, ReadOnlySpan<T> x, FusedTiles<T> fused,
        ReadOnlySpan<int> panels, int first, int count, int u0, int u1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int gw = cell.GateWidth, h = pass.HiddenSize, inputSize = cell.InputSize;
        var gates = pass.Caches[pass.Split.Index].Gates;
        bool bias = cell.BiasIH is not null;
        Span<T> rows = gates.AsSpan(first * gw, count * gw);
        for (int g = 0; bias && g < cell.GateCount; g++)
        {
            ReadOnlySpan<T> b = pass.BiasSum.AsSpan(g * h + u0, u1 - u0);
            for (int r = 0; r < count; r++)
            {
                b.CopyTo(rows.Slice(r * gw + g * h + u0, u1 - u0));
            }
        }

        ReadOnlySpan<T> xs = x.Slice(first * inputSize, count * inputSize);
        if (count == Block)
        {
            fused.Start(xs, cell.PackedInputWeights, gates.Array!, gates.Offset + first * gw, gw, bias, panels);
            return;
        }

        Gemm.ComputeColumnGroups(count, gw, inputSize, xs, inputSize, cell.PackedInputWeights, rows, gw, bias, u0, u1, cell.GateCount, h);
    }
}
