using System.Numerics;

namespace RecurrentNets.Cells;

/// <summary>
/// The buffers of one time step that the sequence engine hands to a <see cref="RecurrentCell{T}"/>.
/// B = batchSize, H = hiddenSize, S = <see cref="RecurrentCell{T}.StateSize"/> (the width of h; H unless the cell projects), G·H = the stacked gate width, E = <see cref="RecurrentCell{T}.StepCacheWidth"/>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public readonly ref struct CellStep<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the view of one step.</summary>
    public CellStep(int batchSize, Span<T> gates, Span<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev, Span<T> hidden,
        ReadOnlySpan<T> cellPrev, Span<T> cell, Span<T> stepCache, Span<T> dHidden, Span<T> dHiddenPrev,
        Span<T> dCell, Span<T> dCellPrev, Span<T> scratch, ReadOnlySpan<T> recurrentInput = default, ReadOnlySpan<T> recurrentMask = default)
    {
        RecurrentInput = recurrentInput.IsEmpty ? hiddenPrev : recurrentInput;
        RecurrentMask = recurrentMask;
        BatchSize = batchSize;
        Gates = gates;
        RecurrentGradient = recurrentGradient;
        HiddenPrev = hiddenPrev;
        Hidden = hidden;
        CellPrev = cellPrev;
        Cell = cell;
        StepCache = stepCache;
        DHidden = dHidden;
        DHiddenPrev = dHiddenPrev;
        DCell = dCell;
        DCellPrev = dCellPrev;
        Scratch = scratch;
    }

    /// <summary>B, the number of independent sequences.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// [B, G·H]. Forward, on entry: x(t)·W_ihᵀ + b_ih (+ b_hh when the cell folds it); the cell may keep what it needs
    /// for backward here. Backward, on exit: the gradient with respect to the input projection (x(t)·W_ihᵀ + b_ih).
    /// </summary>
    public Span<T> Gates { get; }

    /// <summary>
    /// [B, G·H], backward only: on exit, the gradient with respect to the recurrent product h(t-1)·W_hhᵀ + b_hh.
    /// The same memory as <see cref="Gates"/> unless the cell asks for a separate buffer.
    /// </summary>
    public Span<T> RecurrentGradient { get; }

    /// <summary>[B, S]: h(t-1).</summary>
    public ReadOnlySpan<T> HiddenPrev { get; }

    /// <summary>
    /// [B, S]: what W_hh multiplies, h(t-1) ⊙ m under recurrent (variational) dropout with the per-sequence mask m, else
    /// h(t-1) itself. Cells use it for the recurrent product and h(t-1) for everything else.
    /// </summary>
    public ReadOnlySpan<T> RecurrentInput { get; }

    /// <summary>
    /// [B, S]: the recurrent-dropout mask m (0 or 1/(1-p), fixed across time), or empty. The gradient that reaches
    /// <see cref="RecurrentInput"/> is multiplied by it on its way to dL/dh(t-1).
    /// </summary>
    public ReadOnlySpan<T> RecurrentMask { get; }

    /// <summary>[B, S]: h(t), written by the forward step.</summary>
    public Span<T> Hidden { get; }

    /// <summary>[B, H]: C(t-1) for cells with a cell state; empty otherwise.</summary>
    public ReadOnlySpan<T> CellPrev { get; }

    /// <summary>[B, H]: C(t), written by the forward step; empty for cells without a cell state.</summary>
    public Span<T> Cell { get; }

    /// <summary>[B, E]: the cell's own per-step cache, kept from forward to backward; what backward writes here reaches
    /// <see cref="RecurrentCell{T}.AccumulateRecurrentGradients"/>.</summary>
    public Span<T> StepCache { get; }

    /// <summary>Backward, [B, S]: on entry, dL/dh(t) (all paths). The cell may overwrite it.</summary>
    public Span<T> DHidden { get; }

    /// <summary>Backward, [B, S]: on exit, dL/dh(t-1) through this step.</summary>
    public Span<T> DHiddenPrev { get; }

    /// <summary>Backward, [B, H]: on entry, dL/dC(t) from later steps; empty without a cell state.</summary>
    public Span<T> DCell { get; }

    /// <summary>Backward, [B, H]: on exit, dL/dC(t-1); empty without a cell state.</summary>
    public Span<T> DCellPrev { get; }

    /// <summary>Scratch space of at least [B, G·H] + [B, max(H, S)] elements, not kept between calls.</summary>
    public Span<T> Scratch { get; }

    /// <summary>
    /// The step's recurrent products (h(t-1)·W_hhᵀ forward, dGates·W_hh backward), run by the engine on W_hh packed once
    /// per time loop. Set by the engine; a step built by hand has none.
    /// </summary>
    public RecurrentProduct<T> Recurrent { get; init; }

    /// <summary>The first unit the step computes: 0 unless the engine split the step over units (built-in cells only).</summary>
    internal int FirstUnit => Recurrent.FirstUnit;

    /// <summary>The end of the units the step computes: H unless the engine split the step over units.</summary>
    internal int EndUnit => Recurrent.EndUnit;
}
