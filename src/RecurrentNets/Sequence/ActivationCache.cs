using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Kernels;

namespace RecurrentNets.Sequence;

/// <summary>
/// What one layer and direction keeps from its forward loop for its backward loop, time-major: the gates of every step
/// (the cell turns them into gate gradients going back), h(0..T) ([B, S] each) and C(0..T) ([B, H] each) in T + 1 slots,
/// the cell's own step cache,
/// and under recurrent dropout the mask and h(t-1) ⊙ m of every step.
/// </summary>
/// <remarks>
/// Slots: the forward direction reads state slot t and writes t + 1; the reverse one reads t + 1 and writes t, so slot 0
/// holds the reverse direction's final state. On frozen weights (<see cref="Ring"/>) nothing is kept for a backward pass:
/// a step's gates and cache go to its place in the current chunk of projected steps and C alternates between two slots,
/// so the buffers stay in cache instead of streaming T steps of them through memory (docs/engine.md gives the gain).
/// </remarks>
internal sealed class DirectionCache<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    // Written by both threads of a split loop in neighbouring ranges: cache-line aligned (see AlignedArray).
    public AlignedArray<T> Gates;
    public AlignedArray<T> RecurrentGradient;
    public AlignedArray<T> Hidden;
    public AlignedArray<T> Cell;
    public AlignedArray<T> StepCache;
    public T[] RecurrentMask = [];
    public T[] RecurrentInputs = [];

    /// <summary>Whether gates and caches reuse a chunk's slots and C two slots (frozen weights, no sequence lengths).</summary>
    public bool Ring { get; set; }

    /// <summary>Whether this pass runs recurrent dropout: W_hh sees h(t-1) ⊙ m, kept per step.</summary>
    public bool RecurrentDropout { get; set; }

    /// <summary>On <see cref="Ring"/>: the first step of the current chunk of projected steps (its gates are at slot 0).</summary>
    public int GatesBase { get; set; }

    /// <summary>B·S: the elements of one slot of h.</summary>
    public int HiddenSlotSize { get; private set; }

    /// <summary>B·H: the elements of one slot of C.</summary>
    public int CellSlotSize { get; private set; }

    /// <summary>Grows the buffers for (steps, batch) of <paramref name="cell"/>; allocates only when they grow.</summary>
    public void EnsureCapacity(RecurrentCell<T> cell, int steps, int batch, bool recurrentDropout)
    {
        int rows = steps * batch, stateSize = batch * cell.StateSize, gw = cell.GateWidth;
        HiddenSlotSize = stateSize;
        CellSlotSize = batch * cell.HiddenSize;
        Buffers.Grow(ref Gates, rows * gw);
        Buffers.Grow(ref Hidden, (steps + 1) * stateSize);
        if (cell.HasCellState)
        {
            Buffers.Grow(ref Cell, (steps + 1) * CellSlotSize);
        }

        if (cell.HasSeparateRecurrentGradient)
        {
            Buffers.Grow(ref RecurrentGradient, rows * gw);
        }

        Buffers.Grow(ref StepCache, rows * cell.StepCacheWidth);
        if (recurrentDropout)
        {
            Buffers.Grow(ref RecurrentMask, stateSize);
            Buffers.Grow(ref RecurrentInputs, rows * cell.StateSize);
        }
    }

    /// <summary>h in state slot <paramref name="slot"/>, [B, S].</summary>
    public Span<T> HiddenSlot(int slot) => Hidden.AsSpan(slot * HiddenSlotSize, HiddenSlotSize);

    /// <summary>C in state slot <paramref name="slot"/>, [B, H] (one of two slots on <see cref="Ring"/>).</summary>
    public Span<T> CellSlot(int slot) => Cell.AsSpan((Ring ? slot & 1 : slot) * CellSlotSize, CellSlotSize);

    /// <summary>The scratch elements per batch row a step of <paramref name="cell"/> gets: G·H + max(H, S).</summary>
    public static int ScratchWidth(RecurrentCell<T> cell) => cell.GateWidth + Math.Max(cell.HiddenSize, cell.StateSize);

    /// <summary>
    /// The buffers of step <paramref name="t"/> in <paramref name="direction"/> for <paramref name="cell"/>. The gates' and
    /// step cache's slot is t, or t's place in the current chunk on <see cref="Ring"/> (forward), or
    /// <paramref name="gateSlot"/> when given.
    /// </summary>
    public CellStep<T> Step(RecurrentCell<T> cell, int t, int batch, int direction, bool backward, in StepGradients<T> gradients, Span<T> scratch,
        FusedTiles<T>? fused = null, int firstUnit = 0, int endUnit = -1, int gateSlot = -1)
    {
        int gw = cell.GateWidth, h = cell.HiddenSize, stateSize = batch * cell.StateSize, e = cell.StepCacheWidth;
        int prevSlot = direction == 0 ? t : t + 1, slot = direction == 0 ? t + 1 : t;
        if (gateSlot < 0)
        {
            gateSlot = !backward && Ring ? t - GatesBase : t;
        }

        Span<T> gates = Gates.AsSpan(gateSlot * batch * gw, batch * gw);
        Span<T> recurrent = backward && cell.HasSeparateRecurrentGradient ? RecurrentGradient.AsSpan(t * batch * gw, batch * gw) : gates;
        Span<T> cPrev = default, c = default;
        if (cell.HasCellState)
        {
            cPrev = CellSlot(prevSlot);
            c = CellSlot(slot);
        }

        ReadOnlySpan<T> recurrentInput = default, mask = default;
        if (RecurrentDropout)
        {
            recurrentInput = RecurrentInputs.AsSpan(t * stateSize, stateSize);
            mask = RecurrentMask.AsSpan(0, stateSize);
        }

        bool reverseSweep = (t & 1) == 1;
        return new CellStep<T>(batch, gates, recurrent, HiddenSlot(prevSlot), HiddenSlot(slot), cPrev, c,
            StepCache.AsSpan(gateSlot * batch * e, batch * e), gradients.DHidden, gradients.DHiddenPrev, gradients.DCell, gradients.DCellPrev,
            scratch[..(batch * ScratchWidth(cell))], recurrentInput, mask)
        {
            Recurrent = new RecurrentProduct<T>(cell, batch, reverseSweep, fused, firstUnit, endUnit < 0 ? h : endUnit),
        };
    }
}

/// <summary>The gradient buffers of one backward step (all empty for a forward step).</summary>
internal readonly ref struct StepGradients<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public StepGradients(Span<T> dHidden, Span<T> dHiddenPrev, Span<T> dCell, Span<T> dCellPrev)
    {
        DHidden = dHidden;
        DHiddenPrev = dHiddenPrev;
        DCell = dCell;
        DCellPrev = dCellPrev;
    }

    public Span<T> DHidden { get; }

    public Span<T> DHiddenPrev { get; }

    public Span<T> DCell { get; }

    public Span<T> DCellPrev { get; }
}

/// <summary>Buffers that grow to the largest (steps, batch) seen and are reused after that.</summary>
internal static class Buffers
{
    public static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }
    }

    public static void Grow<T>(ref AlignedArray<T> buffer, int length)
        where T : unmanaged
    {
        if (buffer.Length < length)
        {
            buffer = AlignedArray<T>.Allocate(length);
        }
    }
}
