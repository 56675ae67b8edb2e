using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Sequence;

/// <summary>
/// The time loops of one layer and direction on the calling thread: the readable specification of backpropagation
/// through time that the other executors (<see cref="SplitLoops"/>, <see cref="FusedLoops"/>) reproduce bit for bit.
/// </summary>
/// <remarks>
/// Forward, for s = 0..T-1 in reading order (t = s forward, T-1-s reverse): gates(t) = b + x(t)·W_ihᵀ, projected a chunk
/// of steps at a time just before they run, then the cell's step state(t-1) → state(t). Backward, for s = T-1..0: dh(t)
/// += dL/d output(t), then the cell's step turns gates(t) into dGates(t) and gives dh(t-1) (and dC(t-1)); the buffers of
/// t and t-1 trade places. The weight gradients are one GEMM each after the loop (<see cref="LayerPass{T}"/>).
/// </remarks>
internal static class SerialLoop
{
    /// <summary>The forward loop of direction <paramref name="index"/>, chunk by chunk; each chunk's steps are split over
    /// units when <paramref name="unitThreads"/> ≥ 2 and the threads are free.</summary>
    public static void Forward<T>(LayerPass<T> pass, int index, ReadOnlySpan<T> x, int chunk, int unitThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cell = pass.Cells[index];
        var cache = pass.Caches[index];
        int steps = pass.Steps, batch = pass.Batch, direction = index % pass.Directions;
        Span<T> gates = cache.Gates.AsSpan(0, steps * batch * cell.GateWidth);
        for (int s0 = 0; s0 < steps; s0 += chunk)
        {
            // The next chunk of steps in reading order, projected just before use (still in L2).
            int count = Math.Min(chunk, steps - s0);
            int tFirst = direction == 0 ? s0 : steps - s0 - count;
            cache.GatesBase = cache.Ring ? tFirst : 0;
            pass.ProjectInputs(cell, x, gates, tFirst * batch, (tFirst - cache.GatesBase) * batch, count * batch);
            if (unitThreads >= 2 && SplitLoops.ForwardUnitSplit(pass, index, s0, count, unitThreads))
            {
                continue;
            }

            for (int s = s0; s < s0 + count; s++)
            {
                pass.ForwardStep(index, direction == 0 ? s : steps - 1 - s);
            }
        }
    }

    /// <summary>
    /// The backward loop of direction <paramref name="index"/>, from dh(T) in the pass's first gradient buffers. With
    /// <paramref name="fusedDx"/> (batch 1, planned), the products of later steps compute dL/dx of each finished block of
    /// steps into it; returns how many rows of dL/dx they computed (the rest is one GEMM after the loop).
    /// </summary>
    public static int Backward<T>(LayerPass<T> pass, int index, T[] dOut, T[]? fusedDx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cell = pass.Cells[index];
        var cache = pass.Caches[index];
        var padding = pass.Padding;
        int steps = pass.Steps, batch = pass.Batch, stateSize = batch * pass.StateSize, cellSize = batch * pass.HiddenSize;
        int direction = index % pass.Directions;
        Span<T> dh = pass.DHiddenA.AsSpan(0, stateSize), dhNext = pass.DHiddenB.AsSpan(0, stateSize);
        Span<T> dc = cell.HasCellState ? pass.DCellA.AsSpan(0, cellSize) : default;
        Span<T> dcNext = cell.HasCellState ? pass.DCellB.AsSpan(0, cellSize) : default;
        var fused = fusedDx is null ? null : FusedLoops.StartInputGradient(pass, cell);
        try
        {
            for (int s = steps - 1; s >= 0; s--)
            {
                int t = direction == 0 ? s : steps - 1 - s;
                if (padding.Active)
                {
                    // A padded step is the identity on the state and its output is a constant zero: hold the carried
                    // gradient, feed the cell zeros (so its gate gradients are zero), pass it on after.
                    padding.HoldGradients(t, dh, dc, save: true);
                    pass.AddOutputGradient(dOut, t, direction, dh);
                    padding.HoldGradients(t, dh, default, save: false);
                }
                else
                {
                    pass.AddOutputGradient(dOut, t, direction, dh);
                }

                cell.Backward(cache.Step(cell, t, batch, direction, backward: true, new StepGradients<T>(dh, dhNext, dc, dcNext), pass.Scratch.AsSpan(), fused));
                if (padding.Active)
                {
                    padding.ReleaseGradients(t, dhNext, dcNext);
                }

                Swap(ref dh, ref dhNext);
                Swap(ref dc, ref dcNext);
                if (fused is not null && (steps - s) % FusedTiles<T>.Rows == 0)
                {
                    FusedLoops.NextInputGradientBlock(pass, index, fused, fusedDx!, t);
                }
            }

            fused?.Finish();
            return fused is null ? 0 : steps / FusedTiles<T>.Rows * FusedTiles<T>.Rows * batch;
        }
        finally
        {
            fused?.Clear();
        }
    }

    /// <summary>The gradient buffers of steps t and t-1 trade places after each backward step.</summary>
    public static void Swap<T>(ref Span<T> current, ref Span<T> next)
    {
        var swap = current;
        current = next;
        next = swap;
    }
}
