using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Cells;

/// <summary>
/// A cell's recurrent products in one time step, run by the engine: h(t-1)·W_hhᵀ forward and dGates·W_hh backward, on
/// W_hh packed once per time loop (<see cref="RecurrentCell{T}.PrepareWeights"/>). A cell calls these instead of
/// multiplying by <see cref="RecurrentCell{T}.WeightHH"/> itself; how the engine runs them (on which packed copy, walking
/// the columns in which order, computing part of another product in the same pass, over which units when the step is
/// split over threads) is the engine's business and never changes a result.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: B = batchSize, H = hiddenSize, G = the cell's gate count. A cell whose gates see different vectors (a GRU
/// in Cho's form multiplies r ⊙ h(t-1) by the candidate's block, a minimal gated unit f ⊙ h(t-1)) declares its
/// products with <see cref="RecurrentCell{T}.SplitRecurrentProduct"/>, and product p covers the gate blocks it was given
/// there. With <see cref="RecurrentWeights.Diagonal"/> weights the products are elementwise:
/// output[b, g·H + j] (+)= u[g·H + j]·input[b, j] forward and dInput[b, j] (+)= Σ_g gradient[b, g·H + j]·u[g·H + j] backward.
/// </remarks>
public readonly ref struct RecurrentProduct<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentCell<T>? cell;

    /// <summary>The plain products of <paramref name="cell"/> for a step of <paramref name="batchSize"/> rows, for a
    /// <see cref="CellStep{T}"/> built by hand (a test of a cell's step outside the engine); they read W_hh as it is unless
    /// the cell's <see cref="RecurrentCell{T}.PrepareWeights"/> packed it.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    public RecurrentProduct(RecurrentCell<T> cell, int batchSize)
        : this(cell ?? throw new ArgumentNullException(nameof(cell)), batchSize, false, null, 0, cell.HiddenSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
    }

    internal RecurrentProduct(RecurrentCell<T> cell, int batchSize, bool reverseSweep, FusedTiles<T>? fused, int firstUnit, int endUnit)
    {
        this.cell = cell;
        BatchSize = batchSize;
        ReverseSweep = reverseSweep;
        Fused = fused;
        FirstUnit = firstUnit;
        EndUnit = endUnit;
    }

    /// <summary>B, the rows of every product.</summary>
    public int BatchSize { get; }

    // Walk the packed columns last to first on every other step (a matrix larger than the cache finds the part read
    // last still there); the same bits either way.
    internal bool ReverseSweep { get; }

    // Tiles of another product that a batch-1 forward or backward product may compute in its spare cycles (Kernels/Fused).
    internal FusedTiles<T>? Fused { get; }

    // Forward products of a step split over units compute only the gate columns of units [FirstUnit, EndUnit).
    internal int FirstUnit { get; }

    internal int EndUnit { get; }

    private RecurrentCell<T> Cell => cell ?? throw new InvalidOperationException("This step has no recurrent product: the engine sets CellStep.Recurrent (a step built by hand sets it with new RecurrentProduct<T>(cell, batchSize)).");

    /// <summary>output[B, G·H] (+)= input[B, S]·W_hhᵀ: the recurrent product of every gate (the cell's only product).</summary>
    /// <param name="input">[B, S] (S = <see cref="RecurrentCell{T}.StateSize"/>), usually <see cref="CellStep{T}.RecurrentInput"/>.</param>
    /// <param name="output">[B, G·H]; added to when <paramref name="accumulate"/>, else overwritten.</param>
    /// <param name="accumulate">Add to <paramref name="output"/> instead of overwriting it.</param>
    /// <exception cref="ArgumentException">A span is too short, or the cell declared several products.</exception>
    public void Forward(ReadOnlySpan<T> input, Span<T> output, bool accumulate) => Forward(0, input, output, accumulate);

    /// <summary>
    /// output[B, n·H] (+)= input[B, S]·W_hh[g0·H .. (g0 + n)·H, :]ᵀ for product <paramref name="product"/>, which covers
    /// gate blocks [g0, g0 + n) (<see cref="RecurrentCell{T}.SplitRecurrentProduct"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="product"/> is not a declared product.</exception>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void Forward(int product, ReadOnlySpan<T> input, Span<T> output, bool accumulate)
        => Cell.RecurrentForward(this, product, input, output, accumulate);

    /// <summary>dInput[B, S] (+)= gradient[B, G·H]·W_hh: the backward product of every gate.</summary>
    /// <param name="gradient">[B, G·H]: the gradient with respect to the forward product's output.</param>
    /// <param name="dInput">[B, S]; added to when <paramref name="accumulate"/>, else overwritten.</param>
    /// <param name="accumulate">Add to <paramref name="dInput"/> instead of overwriting it.</param>
    /// <exception cref="ArgumentException">A span is too short, or the cell declared several products.</exception>
    public void Backward(ReadOnlySpan<T> gradient, Span<T> dInput, bool accumulate) => Backward(0, gradient, 0, dInput, accumulate);

    /// <summary>
    /// dInput[B, S] (+)= gradient[B, n·H]·W_hh[g0·H .. (g0 + n)·H, :] for product <paramref name="product"/>; row b of the
    /// gradient starts at b·<paramref name="gradientStride"/> (0: n·H, rows packed).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="product"/> is not a declared product, or the stride is
    /// below n·H.</exception>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void Backward(int product, ReadOnlySpan<T> gradient, int gradientStride, Span<T> dInput, bool accumulate)
        => Cell.RecurrentBackward(this, product, gradient, gradientStride, dInput, accumulate);
}
