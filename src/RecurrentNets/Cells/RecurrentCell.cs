using System.Numerics;
using RecurrentNets.Kernels;
using System.Numerics.Tensors;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// One time step of a recurrent network. The time loop, caches, truncation and stacking belong to the engine
/// (<see cref="Sequence.RecurrentLayer{T}"/>); a cell only maps (x(t) projection, state(t-1)) to state(t) and back.
/// A cell holds parameters but no hidden state: the state is a value the engine passes in and gets back.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: B = batchSize, I = inputSize, H = hiddenSize, G = <see cref="GateCount"/>, S = <see cref="StateSize"/> (the
/// width of h: H, or P for an LSTM with projections).
/// Parameters follow PyTorch's layout and names: <c>weight_ih_lK [G·H, I]</c>, <c>weight_hh_lK [G·H, S]</c>,
/// <c>bias_ih_lK [G·H]</c>, <c>bias_hh_lK [G·H]</c>. The engine computes x·W_ihᵀ + b_ih for all steps in one GEMM
/// before the loop, and dW_ih, db_ih and dx in one GEMM each after it; the cell does the per-step recurrent work.
/// Write a custom cell by deriving from this class: the engine gives it stacking, truncation and caches.
/// </remarks>
public abstract class RecurrentCell<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<ParameterView<T>> parameters = [];

    // W_ih packed for the input projection and for dL/dx; they share memory (a training pass needs one at a time).
    private readonly PackedMatrix<T> packedInput, packedInputBackward;

    // The recurrent products, one unless the cell splits them (SplitRecurrentProduct).
    private ProductBlock[] products;
    private bool weightsFrozen;

    /// <summary>Adds the cell's parameters to <paramref name="block"/>.</summary>
    /// <param name="block">The block that stores the parameters.</param>
    /// <param name="inputSize">I, the features of x(t). PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H, the units. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="gateCount">G, the stacked gate blocks (1 for Elman, 4 for LSTM, 3 for GRU).</param>
    /// <param name="bias">Whether the cell has the two bias vectors. PyTorch: <c>bias</c>.</param>
    /// <param name="nameSuffix">The PyTorch parameter-name suffix, e.g. <c>_l0</c> or <c>_l1_reverse</c>.</param>
    /// <param name="recurrentWeights">The shape of W_hh: [G·H, S] (the default), [G·H] for a diagonal one, or none.</param>
    /// <param name="stateSize">S, the width of h(t) when the cell maps its H units to a narrower output (an LSTM with
    /// projections: PyTorch's <c>proj_size</c>); 0 (the default) for S = H.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, <paramref name="stateSize"/> is negative, or
    /// <paramref name="recurrentWeights"/> is not a defined value.</exception>
    /// <exception cref="ArgumentException">A diagonal W_hh with S ≠ H.</exception>
    protected RecurrentCell(ParameterBlock<T> block, int inputSize, int hiddenSize, int gateCount, bool bias, string nameSuffix,
        RecurrentWeights recurrentWeights = RecurrentWeights.Full, int stateSize = 0)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gateCount, 1);
        if (!Enum.IsDefined(recurrentWeights))
        {
            throw new ArgumentOutOfRangeException(nameof(recurrentWeights), recurrentWeights, "recurrentWeights must be Full, Diagonal or None.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(stateSize);
        int s = stateSize == 0 ? hiddenSize : stateSize;
        if (recurrentWeights == RecurrentWeights.Diagonal && s != hiddenSize)
        {
            throw new ArgumentException(
                $"A diagonal W_hh pairs unit j with unit j of h(t-1), so it needs stateSize = hiddenSize, but got {s} and {hiddenSize}.", nameof(stateSize));
        }

        packedInput = new PackedMatrix<T>();
        packedInputBackward = new PackedMatrix<T>(packedInput);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        StateSize = s;
        GateCount = gateCount;
        RecurrentWeightShape = recurrentWeights;
        products = [new ProductBlock(0, gateCount)];
        WeightIH = AddParameter(block, "weight_ih" + nameSuffix, gateCount * hiddenSize, inputSize);
        WeightHH = recurrentWeights switch
        {
            RecurrentWeights.Full => AddParameter(block, "weight_hh" + nameSuffix, gateCount * hiddenSize, s),
            RecurrentWeights.Diagonal => AddParameter(block, "weight_hh" + nameSuffix, gateCount * hiddenSize),
            _ => null,
        };
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

    /// <summary>H, the hidden units (the width of each gate block and of the cell state C).</summary>
    public int HiddenSize { get; }

    /// <summary>
    /// S, the width of h(t): the cell's output and what W_hh multiplies. H, unless the cell projects its units to a
    /// narrower output (PyTorch's H_out: <c>proj_size</c> when it is positive).
    /// </summary>
    public int StateSize { get; }

    /// <summary>G, the number of stacked gate blocks.</summary>
    public int GateCount { get; }

    /// <summary>G·H, the width of the stacked gates.</summary>
    public int GateWidth => GateCount * HiddenSize;

    /// <summary>The shape of <see cref="WeightHH"/>.</summary>
    public RecurrentWeights RecurrentWeightShape { get; }

    /// <summary>W_ih [G·H, I]. PyTorch: <c>weight_ih_lK</c>.</summary>
    public ParameterView<T> WeightIH { get; }

    /// <summary>W_hh: [G·H, S] (PyTorch: <c>weight_hh_lK</c>), [G·H] when diagonal, null when the cell has none
    /// (<see cref="RecurrentWeightShape"/>).</summary>
    public ParameterView<T>? WeightHH { get; }

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
    /// Whether <see cref="Forward"/> may run at the same time on disjoint batch rows of one step, so the engine may split
    /// its forward time loop over threads by batch rows (each thread takes its rows through every step). True when the
    /// step reads and writes only the <see cref="CellStep{T}"/> buffers and the cell's parameters, row by row, and keeps
    /// no buffer of its own. The default is false (one thread); the built-in cells return true. Results are the same bits
    /// either way.
    /// </summary>
    public virtual bool RowsAreIndependent => false;

    /// <summary>E, the elements per batch row the cell keeps from forward to backward besides gates and states.</summary>
    public virtual int StepCacheWidth => 0;

    /// <summary>The number of recurrent products (1 unless <see cref="SplitRecurrentProduct"/> split them).</summary>
    public int RecurrentProductCount => products.Length;

    /// <summary>
    /// Splits the recurrent product into products over consecutive gate blocks, for a cell whose gates multiply W_hh by
    /// different vectors (GRU in Cho's form: r and z see h(t-1), n sees r ⊙ h(t-1); a minimal gated unit likewise): product
    /// p covers the next <paramref name="gatesPerProduct"/>[p] gate blocks, and the cell calls
    /// <see cref="RecurrentProduct{T}.Forward(int, ReadOnlySpan{T}, Span{T}, bool)"/> with p. Call it in the constructor.
    /// </summary>
    /// <exception cref="ArgumentException">The counts are not positive or do not add up to <see cref="GateCount"/>.</exception>
    protected void SplitRecurrentProduct(params int[] gatesPerProduct)
    {
        ArgumentNullException.ThrowIfNull(gatesPerProduct);
        if (gatesPerProduct.Length == 0 || gatesPerProduct.Any(n => n < 1) || gatesPerProduct.Sum() != GateCount)
        {
            throw new ArgumentException(
                $"The products must cover the {GateCount} gate blocks with at least one each, but got [{string.Join(", ", gatesPerProduct)}].",
                nameof(gatesPerProduct));
        }

        var split = new ProductBlock[gatesPerProduct.Length];
        for (int p = 0, first = 0; p < split.Length; first += gatesPerProduct[p], p++)
        {
            split[p] = new ProductBlock(first, gatesPerProduct[p]);
        }

        products = split;
    }

    /// <summary>
    /// Called by the engine once before each forward time loop (<paramref name="backward"/> false) and once before each
    /// backward time loop (true). The weights do not change during a loop, so the base packs W_hh here once for all the
    /// steps' <see cref="RecurrentProduct{T}"/> calls. Overrides call the base.
    /// </summary>
    /// <param name="backward">Whether the coming loop is the backward one.</param>
    public virtual void PrepareWeights(bool backward)
    {
        if (RecurrentWeightShape != RecurrentWeights.Full)
        {
            return;
        }

        int h = HiddenSize, s = StateSize;
        foreach (var product in products)
        {
            int n = product.GateCount * h;
            ReadOnlySpan<T> rows = WeightHH!.Values.Slice(product.FirstGate * h * s, n * s);
            if (backward)
            {
                Gemm.Pack(false, n, s, rows, s, product.Backward);
            }
            else if (!weightsFrozen || !product.Forward.IsPacked)
            {
                Gemm.Pack(true, s, n, rows, s, product.Forward);
            }
        }
    }

    /// <summary>
    /// Called by the engine after each time loop: what <see cref="PrepareWeights"/> prepared may go stale from here on
    /// (an optimizer step changes the weights), so steps called outside the engine's loops read the weights directly.
    /// Overrides call the base.
    /// </summary>
    public virtual void ReleaseWeights()
    {
        foreach (var product in products)
        {
            if (!weightsFrozen)
            {
                product.Forward.Invalidate();
            }

            product.Backward.Invalidate();
        }
    }

    /// <summary>W_ihᵀ packed for the engine's input projection x·W_ihᵀ (by <see cref="PackInputWeights"/>).</summary>
    internal PackedMatrix<T> PackedInputWeights => packedInput;

    /// <summary>W_hhᵀ packed for the forward product h·W_hhᵀ of the one product (while <see cref="PrepareWeights"/> keeps one).</summary>
    internal PackedMatrix<T> PackedRecurrentWeights => products[0].Forward;

    /// <summary>W_hh packed for the backward product dGates·W_hh of the one product (while <see cref="PrepareWeights"/> keeps one).</summary>
    internal PackedMatrix<T> PackedRecurrentWeightsBackward => products[0].Backward;

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
    internal virtual void FreezeWeights(bool frozen)
    {
        weightsFrozen = false;
        packedInput.Invalidate();
        foreach (var product in products)
        {
            product.Forward.Invalidate();
            product.Backward.Invalidate();
        }

        if (frozen)
        {
            PackInputWeights();
            PrepareWeights(backward: false);
            weightsFrozen = true;
        }
    }

    // RecurrentProduct.Forward: output[B, n·H] (+)= input[B, S]·W_hh[rows of product p]ᵀ, or the units' columns of it.
    internal void RecurrentForward(in RecurrentProduct<T> step, int product, ReadOnlySpan<T> input, Span<T> output, bool accumulate)
    {
        var block = Product(product);
        int b = step.BatchSize, h = HiddenSize, s = StateSize, n = block.GateCount * h;
        CheckLength(input, b * s, nameof(input), "[batchSize, stateSize]");
        CheckLength(output, b * n, nameof(output), "[batchSize, gates·hiddenSize] of the product");
        int first = step.FirstUnit, end = step.EndUnit;
        bool whole = first == 0 && end == h;
        switch (RecurrentWeightShape)
        {
            case RecurrentWeights.None:
                throw new InvalidOperationException("The cell has no recurrent weights (RecurrentWeights.None): it has no recurrent product.");
            case RecurrentWeights.Diagonal:
                DiagonalForward(block, b, input, output, accumulate, first, end);
                return;
        }

        if (!block.Forward.IsPacked)
        {
            Gemm.Compute(false, true, b, n, s, input, s, WeightHH!.Values[(block.FirstGate * h * s)..], s, output, n, accumulate);
        }
        else if (b == 1 && step.Fused is { Pending: true } fused)
        {
            if (whole)
            {
                FusedGemm.ComputeRow(n, s, input, block.Forward, output, accumulate, step.ReverseSweep, fused);
                return;
            }

            // The units' columns of every gate block, as whole panels (the engine fuses only whole panels of them).
            Span<int> panels = stackalloc int[n / FusedTiles<T>.PanelWidth + block.GateCount];
            int count = FusedTiles<T>.UnitPanels(panels, block.GateCount, h, first, end);
            FusedGemm.ComputeRow(n, s, input, block.Forward, output, accumulate, step.ReverseSweep, fused, panels[..count]);
        }
        else if (whole)
        {
            Gemm.Compute(false, b, n, s, input, s, block.Forward, output, n, accumulate, step.ReverseSweep);
        }
        else
        {
            // The units' columns of every gate block, with h(t-1) packed once for all of them.
            Gemm.ComputeColumnGroups(b, n, s, input, s, block.Forward, output, n, accumulate, first, end, block.GateCount, h, step.ReverseSweep);
        }
    }

    // RecurrentProduct.Backward: dInput[B, S] (+)= gradient[B, n·H]·W_hh[rows of product p], or the units' columns of it.
    internal void RecurrentBackward(in RecurrentProduct<T> step, int product, ReadOnlySpan<T> gradient, int stride, Span<T> dInput, bool accumulate)
    {
        var block = Product(product);
        int b = step.BatchSize, h = HiddenSize, s = StateSize, n = block.GateCount * h;
        if (stride == 0)
        {
            stride = n;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(stride, n, nameof(stride));
        CheckLength(gradient, (b - 1) * stride + n, nameof(gradient), "[batchSize, gates·hiddenSize] of the product");
        CheckLength(dInput, b * s, nameof(dInput), "[batchSize, stateSize]");
        int first = step.FirstUnit, end = step.EndUnit;
        switch (RecurrentWeightShape)
        {
            case RecurrentWeights.None:
                throw new InvalidOperationException("The cell has no recurrent weights (RecurrentWeights.None): it has no recurrent product.");
            case RecurrentWeights.Diagonal:
                DiagonalBackward(block, b, gradient, stride, dInput, accumulate, first, end);
                return;
        }

        if (!block.Backward.IsPacked)
        {
            Gemm.Compute(false, false, b, s, n, gradient, stride, WeightHH!.Values[(block.FirstGate * h * s)..], s, dInput, s, accumulate);
        }
        else if (first != 0 || end != h)
        {
            // Split over units only when S = H (RecurrentPlanner): the units are h(t-1)'s columns.
            Gemm.ComputeColumns(b, s, n, gradient, stride, block.Backward, dInput, s, accumulate, first, end, step.ReverseSweep);
        }
        else if (b == 1 && stride == n && step.Fused is { Pending: true } fused)
        {
            FusedGemm.ComputeRow(s, n, gradient, block.Backward, dInput, accumulate, step.ReverseSweep, fused);
        }
        else
        {
            Gemm.Compute(false, b, s, n, gradient, stride, block.Backward, dInput, s, accumulate, step.ReverseSweep);
        }
    }

    private void DiagonalForward(ProductBlock block, int batch, ReadOnlySpan<T> input, Span<T> output, bool accumulate, int first, int end)
    {
        int h = HiddenSize, n = block.GateCount * h, count = end - first;
        ReadOnlySpan<T> u = WeightHH!.Values;
        for (int r = 0; r < batch; r++)
        {
            ReadOnlySpan<T> x = input.Slice(r * h + first, count);
            for (int g = 0; g < block.GateCount; g++)
            {
                ReadOnlySpan<T> ug = u.Slice((block.FirstGate + g) * h + first, count);
                Span<T> o = output.Slice(r * n + g * h + first, count);
                if (accumulate)
                    TensorPrimitives.MultiplyAdd(ug, x, o, o);
                else
                    TensorPrimitives.Multiply(ug, x, o);
            }
        }
    }

    private void DiagonalBackward(ProductBlock block, int batch, ReadOnlySpan<T> gradient, int stride, Span<T> dInput, bool accumulate, int first, int end)
    {
        int h = HiddenSize, count = end - first;
        ReadOnlySpan<T> u = WeightHH!.Values;
        for (int r = 0; r < batch; r++)
        {
            Span<T> d = dInput.Slice(r * h + first, count);
            if (!accumulate)
            {
                d.Clear();
            }

            for (int g = 0; g < block.GateCount; g++)
            {
                TensorPrimitives.MultiplyAdd(gradient.Slice(r * stride + g * h + first, count), u.Slice((block.FirstGate + g) * h + first, count), d, d);
            }
        }
    }

    private ProductBlock Product(int product)
    {
        if ((uint)product >= (uint)products.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(product), product, $"The cell has {products.Length} recurrent product(s) (SplitRecurrentProduct).");
        }

        return products[product];
    }

    private static void CheckLength(ReadOnlySpan<T> span, int needed, string name, string shape)
    {
        if (span.Length < needed)
        {
            throw new ArgumentException($"{name} has {span.Length} elements but the product needs {needed} ({shape}).", name);
        }
    }

    /// <summary>
    /// Whether the engine may split this cell's steps over ranges of hidden units, one thread per range (the built-in
    /// cells in float, when each range's products and pointwise work give the bits of the whole step). Such a cell's
    /// <see cref="Forward"/> computes only the units of the step's window (<see cref="CellStep{T}.FirstUnit"/>, <see cref="CellStep{T}.EndUnit"/>),
    /// and it implements <see cref="BackwardUnitsPointwise"/> and <see cref="BackwardUnitsProduct"/>.
    /// </summary>
    internal virtual bool SplitsUnits => false;

    /// <summary>
    /// The pointwise part of <see cref="Backward"/> on units [<paramref name="first"/>, <paramref name="end"/>): the
    /// gate gradients of those units (and their part of dL/dh(t-1), dL/dC(t-1)), from their dL/dh(t) and dL/dC(t).
    /// </summary>
    internal virtual void BackwardUnitsPointwise(in CellStep<T> step, int first, int end) => throw new NotSupportedException();

    /// <summary>
    /// The recurrent product of <see cref="Backward"/> on the step's units of dL/dh(t-1): it reads the gate gradients of
    /// every unit, so it runs after every range's <see cref="BackwardUnitsPointwise"/> of the step.
    /// </summary>
    internal virtual void BackwardUnitsProduct(in CellStep<T> step) => throw new NotSupportedException();

    /// <summary>gradient ⊙ m when recurrent dropout is on (a gradient with respect to the recurrent input becomes one with respect to h(t-1)).</summary>
    protected static void ApplyRecurrentMask(in CellStep<T> step, Span<T> gradient)
    {
        if (!step.RecurrentMask.IsEmpty)
        {
            TensorPrimitives.Multiply(gradient, step.RecurrentMask, gradient);
        }
    }

    /// <summary>
    /// dL/dh(t-1) += (gradient·W_hh[rows of product p]) ⊙ m: a gradient of product <paramref name="product"/>'s output on its
    /// way to h(t-1), through the recurrent-dropout mask m when there is one (<paramref name="scratch"/> needs [B, S] then).
    /// </summary>
    protected static void AddRecurrentGradient(in CellStep<T> step, int product, ReadOnlySpan<T> gradient, int gradientStride, Span<T> scratch)
    {
        if (step.RecurrentMask.IsEmpty)
        {
            step.Recurrent.Backward(product, gradient, gradientStride, step.DHiddenPrev, accumulate: true);
            return;
        }

        Span<T> result = scratch[..step.DHiddenPrev.Length];
        step.Recurrent.Backward(product, gradient, gradientStride, result, accumulate: false);
        TensorPrimitives.MultiplyAdd(result, step.RecurrentMask, step.DHiddenPrev, step.DHiddenPrev);
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
    /// all T·B rows. Cells whose recurrent product does not take h(t-1) as is override this, and so do cells with
    /// parameters of their own whose gradients are sums over the steps (they call the base).
    /// </summary>
    /// <param name="recurrentGradient">[T·B, G·H]: dRecurrent of every step.</param>
    /// <param name="hiddenPrev">[T·B, S]: h(t-1) of every step.</param>
    /// <param name="stepCache">[T·B, E]: the per-step caches as the backward steps left them (a cell may write there in
    /// <see cref="Backward"/> what the gradients of its other parameters need, and form those here: a layer-normalised cell
    /// keeps dL/dy of each normalisation for its gains and biases).</param>
    /// <param name="rows">T·B.</param>
    public virtual void AccumulateRecurrentGradients(ReadOnlySpan<T> recurrentGradient, ReadOnlySpan<T> hiddenPrev,
        ReadOnlySpan<T> stepCache, int rows)
    {
        int h = HiddenSize, gw = GateWidth;
        if (RecurrentWeightShape == RecurrentWeights.Full)
        {
            Gemm.MultiplyTransposeA(recurrentGradient, hiddenPrev, WeightHH!.Gradients, gw, rows, StateSize, accumulate: true);
        }
        else if (RecurrentWeightShape == RecurrentWeights.Diagonal)
        {
            // du[g·H + j] += Σ_rows dRecurrent[row, g·H + j]·h(t-1)[row, j].
            Span<T> du = WeightHH!.Gradients;
            for (int r = 0; r < rows; r++)
            {
                for (int g = 0; g < GateCount; g++)
                {
                    Span<T> d = du.Slice(g * h, h);
                    TensorPrimitives.MultiplyAdd(recurrentGradient.Slice(r * gw + g * h, h), hiddenPrev.Slice(r * h, h), d, d);
                }
            }
        }

        if (BiasHH is not null)
        {
            Elementwise.AddColumnSums(recurrentGradient, rows, gw, BiasHH.Gradients);
        }
    }

    // One recurrent product's gate blocks and its packed W_hh (forward and backward share memory).
    private sealed class ProductBlock
    {
        public ProductBlock(int firstGate, int gateCount)
        {
            FirstGate = firstGate;
            GateCount = gateCount;
            Forward = new PackedMatrix<T>();
            Backward = new PackedMatrix<T>(Forward);
        }

        public int FirstGate { get; }

        public int GateCount { get; }

        public PackedMatrix<T> Forward { get; }

        public PackedMatrix<T> Backward { get; }
    }
}
