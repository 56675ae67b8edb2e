using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// One time step of a recurrent network. The time loop, caches, truncation and stacking belong to the engine
/// (<see cref="Sequence.RecurrentLayer{T}"/>); a cell only maps (x(t) projection, state(t-1)) to state(t) and back.
/// A cell holds parameters but no hidden state: the state is a value the engine passes in and gets back.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: B = batchSize, I = inputSize, H = hiddenSize, G = <see cref="GateCount"/>.
/// Parameters follow PyTorch's layout and names: <c>weight_ih_lK [G·H, I]</c>, <c>weight_hh_lK [G·H, H]</c>,
/// <c>bias_ih_lK [G·H]</c>, <c>bias_hh_lK [G·H]</c>. The engine computes x·W_ihᵀ + b_ih for all steps in one GEMM
/// before the loop, and dW_ih, db_ih and dx in one GEMM each after it; the cell does the per-step recurrent work.
/// Write a custom cell by deriving from this class: the engine gives it stacking, truncation and caches.
/// </remarks>
public abstract class RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<ParameterView<T>> parameters = [];
    // A training pass packs W_hh for its forward loop, then again for its backward loop, and W_ih likewise: each pair
    // shares its memory (packing one drops the other; frozen weights keep the forward ones, and frozen weights never
    // run backward).
    private readonly PackedMatrix<T> packedForward, packedBackward, packedInput, packedInputBackward;
    private bool weightsFrozen;

    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I, the features of x(t). PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H, the units. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="gateCount">G, the stacked gate blocks (1 for Elman, 4 for LSTM, 3 for GRU).</param>
    /// <param name="bias">Whether the cell has the two bias vectors. PyTorch: <c>bias</c>.</param>
    /// <param name="nameSuffix">The PyTorch parameter-name suffix, e.g. <c>_l0</c> or <c>_l1_reverse</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    protected RecurrentCell(ParameterBlock<T> block, int inputSize, int hiddenSize, int gateCount, bool bias, string nameSuffix)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gateCount, 1);
        packedForward = new PackedMatrix<T>();
        packedBackward = new PackedMatrix<T>(packedForward);
        packedInput = new PackedMatrix<T>();
        packedInputBackward = new PackedMatrix<T>(packedInput);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        GateCount = gateCount;
        WeightIH = AddParameter(block, "weight_ih" + nameSuffix, gateCount * hiddenSize, inputSize);
        WeightHH = AddParameter(block, "weight_hh" + nameSuffix, gateCount * hiddenSize, hiddenSize);
        if (bias)
        {
            BiasIH = AddParameter(block, "bias_ih" + nameSuffix, gateCount * hiddenSize);
            BiasHH = AddParameter(block, "bias_hh" + nameSuffix, gateCount * hiddenSize);
        }
    }

    /// <summary>Every parameter of the cell, in the order it was added (PyTorch's <c>state_dict</c> order).</summary>
    public IReadOnlyList<ParameterView<T>> Parameters => parameters;

    /// <summary>I, the features of x(t).</summary>
    public int InputSize { get; }

    /// <summary>H, the hidden units.</summary>
    public int HiddenSize { get; }

    /// <summary>G, the number of stacked gate blocks.</summary>
    public int GateCount { get; }

    /// <summary>G·H, the width of the stacked gates.</summary>
    public int GateWidth => GateCount * HiddenSize;

    /// <summary>W_ih [G·H, I]. PyTorch: <c>weight_ih_lK</c>.</summary>
    public ParameterView<T> WeightIH { get; }

    /// <summary>W_hh [G·H, H]. PyTorch: <c>weight_hh_lK</c>.</summary>
    public ParameterView<T> WeightHH { get; }

    /// <summary>b_ih [G·H], or null without biases. PyTorch: <c>bias_ih_lK</c>.</summary>
    public ParameterView<T>? BiasIH { get; }

    /// <summary>b_hh [G·H], or null without biases. PyTorch: <c>bias_hh_lK</c>.</summary>
    public ParameterView<T>? BiasHH { get; }

    /// <summary>Whether the state has a cell vector C besides h (LSTM).</summary>
    public virtual bool HasCellState => false;

    /// <summary>
    /// Whether b_hh simply adds to the pre-activations, so the engine may add it with b_ih in the input projection
    /// (true for Elman and LSTM; false for GRU, whose b_hn sits inside r·(W_hn h + b_hn)).
    /// </summary>
    public virtual bool FoldsRecurrentBias => true;

    /// <summary>
    /// Whether the gradient of the recurrent product differs from that of the input projection
    /// (<see cref="CellStep{T}.RecurrentGradient"/> then gets its own buffer).
    /// </summary>
    public virtual bool HasSeparateRecurrentGradient => false;

    /// <summary>
    /// Whether concurrent <see cref="Forward"/> calls on disjoint batch rows of one step are safe, so the engine may
    /// split its time loop over threads. True for the built-in cells, whose steps touch only the step's buffers; a
    /// derived cell outside this library is run on one thread (it may keep buffers of its own).
    /// </summary>
    internal virtual bool ForwardRowsConcurrently => false;

    /// <summary>E, the elements per batch row the cell keeps from forward to backward besides gates and states.</summary>
    public virtual int StepCacheWidth => 0;

    /// <summary>
    /// Called by the engine once before each forward time loop (<paramref name="backward"/> false) and once before each
    /// backward time loop (true). The weights do not change during a loop, so a cell may prepare them here for all its
    /// steps (the built-in cells pack W_hh once instead of at every step). The default does nothing.
    /// </summary>
    /// <param name="backward">Whether the coming loop is the backward one.</param>
    public virtual void PrepareWeights(bool backward)
    {
    }

    /// <summary>
    /// Called by the engine after each time loop: what <see cref="PrepareWeights"/> prepared may go stale from here on
    /// (an optimizer step changes the weights), so steps called outside the engine's loops read the weights directly.
    /// Overrides call the base.
    /// </summary>
    public virtual void ReleaseWeights()
    {
        if (!weightsFrozen)
        {
            packedForward.Invalidate();
        }

        packedBackward.Invalidate();
    }

    /// <summary>W_ihᵀ packed for the engine's input projection x·W_ihᵀ (by <see cref="PackInputWeights"/>).</summary>
    internal PackedMatrix<T> PackedInputWeights => packedInput;

    /// <summary>W_hhᵀ packed for the forward product h·W_hhᵀ (while <see cref="PrepareWeights"/> keeps one).</summary>
    internal PackedMatrix<T> PackedRecurrentWeights => packedForward;

    /// <summary>W_hh packed for the backward product dGates·W_hh (while <see cref="PrepareWeights"/> keeps one).</summary>
    internal PackedMatrix<T> PackedRecurrentWeightsBackward => packedBackward;

    /// <summary>W_ih packed for dL/dx = dGates·W_ih (by <see cref="PackInputWeightsBackward"/>).</summary>
    internal PackedMatrix<T> PackedInputWeightsBackward => packedInputBackward;

    /// <summary>Packs W_ih for dL/dx = dGates·W_ih.</summary>
    internal void PackInputWeightsBackward() => Gemm.Pack(false, GateWidth, InputSize, WeightIH.Values, InputSize, packedInputBackward);

    /// <summary>Packs W_ih for the input projection, unless the weights are frozen and packed already.</summary>
    internal void PackInputWeights()
    {
        if (!weightsFrozen || !packedInput.IsPacked)
        {
            Gemm.Pack(true, InputSize, GateWidth, WeightIH.Values, InputSize, packedInput);
        }
    }

    /// <summary>
    /// Freezes (or thaws) the weights for inference: frozen, W_ih and W_hh are packed once, here, and every later forward
    /// loop reuses those packed copies instead of packing again (later writes to the parameters are not seen until the
    /// weights are thawed). The engine calls it; see <see cref="Sequence.RecurrentLayer{T}.FreezeWeights"/>.
    /// </summary>
    internal void FreezeWeights(bool frozen)
    {
        weightsFrozen = false;
        packedForward.Invalidate();
        packedBackward.Invalidate();
        packedInput.Invalidate();
        if (frozen)
        {
            PackInputWeights();
            PrepareWeights(backward: false);
            weightsFrozen = true;
        }
    }

    /// <summary>Packs W_hh for the forward product h·W_hhᵀ (kept while the weights are frozen), or for the backward product dGates·W_hh.</summary>
    private protected void PackRecurrentWeights(bool backward)
    {
        if (backward)
            Gemm.Pack(false, GateWidth, HiddenSize, WeightHH.Values, HiddenSize, packedBackward);
        else if (!weightsFrozen || !packedForward.IsPacked)
            Gemm.Pack(true, HiddenSize, GateWidth, WeightHH.Values, HiddenSize, packedForward);
    }

    /// <summary>output[B, G·H] (+)= input[B, H]·W_hhᵀ, on the packed W_hh while one is prepared.</summary>
    private protected void MultiplyByRecurrentWeightsTransposed(ReadOnlySpan<T> input, Span<T> output, int batch, bool accumulate, bool reverse = false,
        GemmGuest<T>? guest = null)
    {
        int h = HiddenSize, gw = GateWidth;
        if (packedForward.IsPacked && batch == 1 && guest is { Pending: true })
            Gemm.ComputeRowWithGuest(gw, h, input, packedForward, output, accumulate, reverse, guest);
        else if (packedForward.IsPacked)
            Gemm.Compute(false, batch, gw, h, input, h, packedForward, output, gw, accumulate, reverse);
        else
            Gemm.Compute(false, true, batch, gw, h, input, h, WeightHH.Values, h, output, gw, accumulate);
    }

    /// <summary>output[B, H] (+)= gradient[B, G·H]·W_hh, on the packed W_hh while one is prepared.</summary>
    private protected void MultiplyByRecurrentWeights(ReadOnlySpan<T> gradient, Span<T> output, int batch, bool accumulate, bool reverse = false,
        GemmGuest<T>? guest = null)
    {
        int h = HiddenSize, gw = GateWidth;
        if (packedBackward.IsPacked && batch == 1 && guest is { Pending: true })
            Gemm.ComputeRowWithGuest(h, gw, gradient, packedBackward, output, accumulate, reverse, guest);
        else if (packedBackward.IsPacked)
            Gemm.Compute(false, batch, h, gw, gradient, gw, packedBackward, output, h, accumulate, reverse);
        else
            Gemm.Compute(false, false, batch, h, gw, gradient, gw, WeightHH.Values, h, output, h, accumulate);
    }

    /// <summary>
    /// Whether the engine may split this cell's steps over ranges of hidden units, one thread per range (the built-in
    /// cells in float, when each range's products and pointwise work give the bits of the whole step). A cell that
    /// returns true implements <see cref="ForwardUnits"/>, <see cref="BackwardUnitsPointwise"/> and
    /// <see cref="BackwardUnitsProduct"/>.
    /// </summary>
    internal virtual bool SplitsUnits => false;

    /// <summary>
    /// <see cref="Forward"/> on units [<paramref name="first"/>, <paramref name="end"/>) of every batch row: their gates'
    /// recurrent products (which read all of h(t-1)) and their pointwise step. Ranges start at multiples of
    /// <see cref="Gemm.ColumnAlignment"/>; concurrent calls on disjoint ranges of one step are safe.
    /// </summary>
    internal virtual void ForwardUnits(in CellStep<T> step, int first, int end) => throw new NotSupportedException();

    /// <summary>
    /// The pointwise part of <see cref="Backward"/> on units [<paramref name="first"/>, <paramref name="end"/>): the
    /// gate gradients of those units (and their part of dL/dh(t-1), dL/dC(t-1)), from their dL/dh(t) and dL/dC(t).
    /// </summary>
    internal virtual void BackwardUnitsPointwise(in CellStep<T> step, int first, int end) => throw new NotSupportedException();

    /// <summary>
    /// The recurrent product of <see cref="Backward"/> on units [<paramref name="first"/>, <paramref name="end"/>) of
    /// dL/dh(t-1): it reads the gate gradients of every unit, so it runs after every range's
    /// <see cref="BackwardUnitsPointwise"/> of the step.
    /// </summary>
    internal virtual void BackwardUnitsProduct(in CellStep<T> step, int first, int end) => throw new NotSupportedException();

    /// <summary>The gate columns of units [first, end) of output[B, G·H] (+)= input[B, H]·W_hhᵀ, on the packed W_hh.</summary>
    private protected void MultiplyUnitsByRecurrentWeightsTransposed(ReadOnlySpan<T> input, Span<T> output, int batch, int first, int end,
        bool accumulate, bool reverse = false, GemmGuest<T>? guest = null)
    {
        int h = HiddenSize, gw = GateWidth;
        if (packedForward.IsPacked && batch == 1 && guest is { Pending: true })
        {
            // The units' columns of every gate block, as 32-column panels (the engine hosts only whole panels of them).
            Span<int> panels = stackalloc int[gw / GemmGuest<T>.PanelWidth + GateCount];
            int count = GemmGuest<T>.UnitPanels(panels, GateCount, h, first, end);
            Gemm.ComputeRowWithGuest(gw, h, input, packedForward, output, accumulate, reverse, guest, panels[..count]);
            return;
        }

        for (int i = 0; i < GateCount; i++)
        {
            int g = reverse ? GateCount - 1 - i : i;
            Gemm.ComputeColumns(batch, gw, h, input, h, packedForward, output, gw, accumulate, g * h + first, g * h + end, reverse);
        }
    }

    /// <summary>Columns [first, end) of output[B, H] (+)= gradient[B, G·H]·W_hh, on the packed W_hh.</summary>
    private protected void MultiplyUnitsByRecurrentWeights(ReadOnlySpan<T> gradient, Span<T> output, int batch, int first, int end,
        bool accumulate, bool reverse = false)
        => Gemm.ComputeColumns(batch, HiddenSize, GateWidth, gradient, GateWidth, packedBackward, output, HiddenSize, accumulate, first, end, reverse);

    /// <summary>gradient ⊙ m when recurrent dropout is on (a gradient with respect to the recurrent input becomes one with respect to h(t-1)).</summary>
    protected static void ApplyRecurrentMask(in CellStep<T> step, Span<T> gradient)
    {
        if (!step.RecurrentMask.IsEmpty)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradient, step.RecurrentMask, gradient);
        }
    }

    /// <summary>
    /// dL/dh(t-1) += (a·b) ⊙ m: the recurrent path of a gradient, through the recurrent-dropout mask when there is one.
    /// <paramref name="scratch"/> needs [B, H] when a mask is present.
    /// </summary>
    protected static void AddThroughRecurrentMask(in CellStep<T> step, bool transposeA, bool transposeB, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> scratch)
    {
        int rows = step.BatchSize, h = step.DHiddenPrev.Length / Math.Max(1, rows);
        if (step.RecurrentMask.IsEmpty)
        {
            Gemm.Compute(transposeA, transposeB, rows, h, k, a, lda, b, ldb, step.DHiddenPrev, h, accumulate: true);
            return;
        }

        Span<T> product = scratch[..(rows * h)];
        Gemm.Compute(transposeA, transposeB, rows, h, k, a, lda, b, ldb, product, h, accumulate: false);
        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(product, step.RecurrentMask, step.DHiddenPrev, step.DHiddenPrev);
    }

    /// <summary>Adds a parameter of the cell to <paramref name="block"/> and to <see cref="Parameters"/>.</summary>
    protected ParameterView<T> AddParameter(ParameterBlock<T> block, string name, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(block);
        var view = block.Add(name, shape);
        parameters.Add(view);
        return view;
    }

    /// <summary>One forward step: state(t) from the input projection in <see cref="CellStep{T}.Gates"/> and state(t-1).</summary>
    public abstract void Forward(in CellStep<T> step);

    /// <summary>
    /// One backward step: from dL/dstate(t) and what the forward step kept, write the gradients of the input
    /// projection (<see cref="CellStep{T}.Gates"/>), of the recurrent product (<see cref="CellStep{T}.RecurrentGradient"/>),
    /// and of state(t-1). Weight gradients are not touched here: the engine forms them over all steps at once.
    /// </summary>
    public abstract void Backward(in CellStep<T> step);

    /// <summary>
    /// After the backward loop: dW_hh += Σ_t dRecurrent(t)ᵀ·h(t-1) and db_hh += Σ_t dRecurrent(t), as one GEMM over
    /// all T·B rows. Cells whose recurrent product does not take h(t-1) as is override this.
    /// </summary>
    /// <param name="recurrentGradient">[T·B, G·H]: dRecurrent of every step.</param>
    /// <param name="hiddenPrev">[T·B, H]: h(t-1) of every step.</param>
    /// <param name="stepCache">[T·B, E]: the per-step caches.</param>
    /// <param name="rows">T·B.</param>
    public virtual void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> stepCache, int rows)
    {
        Gemm.MultiplyTransposeA(recurrentGradient, hiddenPrev, WeightHH.Gradients, GateWidth, rows, HiddenSize, accumulate: true);
        if (BiasHH is not null)
        {
            Elementwise.AddColumnSums(recurrentGradient, rows, GateWidth, BiasHH.Gradients);
        }
    }
}
