using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Sequence;

/// <summary>Creates the cell of one stacked layer and direction.</summary>
/// <param name="block">The parameter block the cell adds its parameters to.</param>
/// <param name="layer">The layer index l (0 is the bottom).</param>
/// <param name="inputSize">The cell's input width: the layer's input size for l = 0, D·H above.</param>
/// <param name="nameSuffix">The PyTorch parameter-name suffix, e.g. <c>_l1</c> or <c>_l1_reverse</c>.</param>
public delegate RecurrentCell<T> CellFactory<T>(ParameterBlock<T> block, int layer, int inputSize, string nameSuffix)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// The backprop-through-time engine: runs a stack of recurrent cells (optionally bidirectional) over a time-major
/// sequence [timeSteps, batchSize, inputSize], keeps every step's activations in a cache, and walks it back in reverse.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize, I = inputSize, H = hiddenSize, L = numLayers, D = directions (1 or 2),
/// G = gates.</para>
/// <para>
/// Per layer and direction, the input projection of all steps is one GEMM before the loop (X[T·B, I]·W_ihᵀ); only
/// h·W_hhᵀ stays inside it. After the backward loop, dW_ih, dW_hh, the biases and dX are one GEMM (or one column sum)
/// each over all T·B rows. The output sequence of layer l (both directions concatenated, forward first, as PyTorch)
/// is the input of layer l + 1, through dropout when it is set. The reverse direction reads the sequence from the
/// last step to the first, and its output at step t is aligned with input step t. Gradients accumulate into the
/// parameter block's gradient storage.
/// </para>
/// <para>
/// Caches are sized on the first call for a (T, B) and reused: after that, neither <see cref="Forward"/> nor
/// <see cref="Backward"/> allocates. For truncated BPTT, call them once per window and hand the final state of one
/// window to the next as its initial state (a value: no gradient crosses the window boundary); see
/// <see cref="TruncatedBptt{T}"/>.
/// </para>
/// <para>One layer runs one call at a time: a call from a second thread while one runs throws
/// <see cref="InvalidOperationException"/>. To serve a model from many threads, use <see cref="Models.FrozenModel{T}"/>.</para>
/// </remarks>
public class RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentCell<T>[] cells;
    private readonly LayerCache[] caches;
    private readonly T[][] outputs, dOutputs, masks;
    private SeededRandom dropoutRandom;
    private T[] inputCopy = [];

    // The first layer's input for this forward pass: the copy kept for Backward, or the caller's tensor on frozen weights.
    private T[] layerInput = [];
    private T[] savedDHidden = [], savedDCell = [], biasSum = [];

    // Written by both threads of a split loop in neighbouring ranges: cache-line aligned (see AlignedArray).
    private AlignedArray<T> dHiddenA, dHiddenB, dCellA, dCellB, scratch;
    private int[] lengths = [];
    private bool hasLengths;
    private int cachedSteps, cachedBatch, currentBatch;
    private bool backwardReady, usedLearnedState, droppedOut, recurrentDropped;

    // Frozen forward passes keep nothing for Backward (it throws on frozen weights, and thawing discards the pass), so
    // each step's gates and cache go to the start of their buffers (gatesBase: the first step of the current chunk of
    // projected steps) and the cell state alternates between two slots: the buffers stay in cache instead of streaming
    // T steps of them through memory (LSTM (32, 128), two threads: about 5 %).
    private bool ringCaches;
    private ConcurrentUseGuard guard;
    private int gatesBase;

    /// <summary>Builds a stack of <paramref name="numLayers"/> layers of cells made by <paramref name="cellFactory"/>.</summary>
    /// <param name="parameters">The block the cells add their parameters to (a new one when null).</param>
    /// <param name="inputSize">I, the features of each input step. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H, the units of every layer and direction. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L, the stacked layers. PyTorch: <c>num_layers</c>.</param>
    /// <param name="cellFactory">Makes the cell of each layer and direction; a user-written cell runs in the same engine.</param>
    /// <param name="bidirectional">Add a reverse-direction cell to every layer. PyTorch: <c>bidirectional</c>.</param>
    /// <param name="dropout">The probability of zeroing an output of every layer but the last, while <see cref="Training"/>.
    /// PyTorch: <c>dropout</c>. With one layer it has no effect; as PyTorch warns, a <c>Trace.TraceWarning</c> says so.</param>
    /// <param name="learnInitialState">Add parameters <c>initial_hidden</c> (and <c>initial_cell</c>) [L·D, H], used, broadcast
    /// over the batch, when no initial state is passed.</param>
    /// <param name="random">The source of dropout masks; seed 0 when null.</param>
    /// <param name="recurrentDropout">Variational dropout on the recurrent connections (Gal and Ghahramani 2016): W_hh
    /// sees h(t-1) ⊙ m with one mask m per sequence and unit, drawn per forward pass and kept across time steps, while
    /// <see cref="Training"/>. Keras: <c>recurrent_dropout</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1 or a dropout is outside [0, 1).</exception>
    /// <exception cref="ArgumentException">A cell's sizes disagree with the layer's.</exception>
    public RecurrentLayer(ParameterBlock<T>? parameters, int inputSize, int hiddenSize, int numLayers, CellFactory<T> cellFactory,
        bool bidirectional = false, double dropout = 0, bool learnInitialState = false, SeededRandom? random = null,
        double recurrentDropout = 0)
    {
        ArgumentNullException.ThrowIfNull(cellFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1);
        if (!(dropout >= 0 && dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout must be in [0, 1).");
        }

        if (!(recurrentDropout >= 0 && recurrentDropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(recurrentDropout), recurrentDropout, "recurrentDropout must be in [0, 1).");
        }

        if (dropout > 0 && numLayers == 1)
        {
            // PyTorch's UserWarning, as a trace warning: the value is kept (and saved), but it does nothing.
            System.Diagnostics.Trace.TraceWarning(
                $"dropout adds dropout after all but the last recurrent layer, so a non-zero dropout ({dropout}) expects numLayers greater than 1, but got numLayers = 1: it has no effect.");
        }

        RecurrentDropout = recurrentDropout;
        Parameters = parameters ?? new ParameterBlock<T>();
        ParameterPrefix = Parameters.NamePrefix;
        int firstView = Parameters.Views.Count;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        Directions = bidirectional ? 2 : 1;
        Dropout = dropout;
        dropoutRandom = random?.Fork() ?? new SeededRandom(0);
        cells = new RecurrentCell<T>[numLayers * Directions];
        caches = new LayerCache[cells.Length];
        outputs = new T[numLayers][];
        dOutputs = new T[numLayers][];
        masks = new T[numLayers][];
        for (int l = 0; l < numLayers; l++)
        {
            outputs[l] = dOutputs[l] = masks[l] = [];
            int cellInput = l == 0 ? inputSize : Directions * hiddenSize;
            for (int d = 0; d < Directions; d++)
            {
                var cell = cellFactory(Parameters, l, cellInput, d == 0 ? $"_l{l}" : $"_l{l}_reverse");
                if (cell.InputSize != cellInput || cell.HiddenSize != hiddenSize)
                {
                    throw new ArgumentException(
                        $"The cell of layer {l} has inputSize {cell.InputSize} and hiddenSize {cell.HiddenSize} but the layer needs {cellInput} and {hiddenSize}.",
                        nameof(cellFactory));
                }

                if (cells[0] is not null && cell.HasCellState != cells[0].HasCellState)
                {
                    throw new ArgumentException("Every cell must agree on whether it has a cell state.", nameof(cellFactory));
                }

                cells[l * Directions + d] = cell;
                caches[l * Directions + d] = new LayerCache();
            }
        }

        if (learnInitialState)
        {
            InitialHidden = Parameters.Add("initial_hidden", numLayers * Directions, hiddenSize);
            InitialCell = HasCellState ? Parameters.Add("initial_cell", numLayers * Directions, hiddenSize) : null;
        }

        ParameterViews = Parameters.Views.Skip(firstView).ToArray();
    }

    /// <summary>
    /// The parameters this layer added to <see cref="Parameters"/>, in order (the block may hold other layers' too,
    /// e.g. a head's). Their names start with <see cref="ParameterPrefix"/>.
    /// </summary>
    public IReadOnlyList<ParameterView<T>> ParameterViews { get; }

    /// <summary>The block's <see cref="ParameterBlock{T}.NamePrefix"/> when the layer was built (e.g. <c>rnn.</c> inside a
    /// model; empty for a layer built on its own).</summary>
    public string ParameterPrefix { get; }

    /// <summary>The block holding every parameter and gradient of the stack.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>L.</summary>
    public int NumLayers { get; }

    /// <summary>D: 2 when bidirectional, else 1.</summary>
    public int Directions { get; }

    /// <summary>D·H, the features of each output step.</summary>
    public int OutputSize => Directions * HiddenSize;

    /// <summary>The dropout probability between layers.</summary>
    public double Dropout { get; }

    /// <summary>The recurrent (variational) dropout probability.</summary>
    public double RecurrentDropout { get; }

    /// <summary>
    /// The layer's configuration as strings in PyTorch's argument names (<c>input_size</c>, <c>hidden_size</c>,
    /// <c>num_layers</c>, <c>bidirectional</c>, <c>dropout</c>, <c>bias</c>, ...), with <c>model</c> naming the layer
    /// type; <see cref="Serialization.Checkpoint"/> stores it in a checkpoint's metadata and rebuilds the layer from it.
    /// </summary>
    public virtual IReadOnlyDictionary<string, string> Configuration => BaseConfiguration("custom");

    /// <summary>The configuration entries every layer has, with <c>model</c> = <paramref name="model"/>.</summary>
    protected Dictionary<string, string> BaseConfiguration(string model)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["model"] = model,
            ["dtype"] = typeof(T) == typeof(float) ? "float32" : "float64",
            ["input_size"] = InputSize.ToString(inv),
            ["hidden_size"] = HiddenSize.ToString(inv),
            ["num_layers"] = NumLayers.ToString(inv),
            ["bias"] = cells[0].BiasIH is null ? "false" : "true",
            ["bidirectional"] = Directions == 2 ? "true" : "false",
            ["dropout"] = Dropout.ToString("R", inv),
            ["recurrent_dropout"] = RecurrentDropout.ToString("R", inv),
            ["learn_initial_state"] = InitialHidden is null ? "false" : "true",
        };
    }

    /// <summary>Whether dropout is active (PyTorch's <c>train()</c> / <c>eval()</c>). Default true.</summary>
    public bool Training { get; set; } = true;

    /// <summary>
    /// The most threads one <see cref="Forward"/> or <see cref="Backward"/> may use (its GEMMs and split time loops),
    /// the calling thread included; null (the default) takes the limit of the caller (a model or trainer that owns the
    /// layer), else the number of processors. Results are bit-identical for every value. PyTorch's
    /// <c>torch.set_num_threads</c> sets one limit for the process; this one is the layer's, as ONNX Runtime's
    /// <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    /// <summary>Whether the weights are frozen for inference (<see cref="FreezeWeights"/>).</summary>
    public bool WeightsFrozen { get; private set; }

    /// <summary>
    /// Freezes the weights for inference, as ONNX Runtime does when it builds a session: every cell's W_ih and W_hh are
    /// packed for the kernels once, now, and each later <see cref="Forward"/> reuses the packed copies instead of packing
    /// them again (at batch 1 packing is 4-20 % of a forward pass). Until <see cref="UnfreezeWeights"/>, the layer runs
    /// W_ih and W_hh as they are at this call: later writes to them (an optimizer step, a load, a direct write) are not
    /// seen, while biases, peepholes and learned initial states are still read at each call; <see cref="Backward"/>
    /// throws, and a forward pass on frozen weights keeps no activations for it (its gates, step caches and cell states
    /// reuse a few slots that stay in cache, and the input is read in place, not copied), so training after
    /// <see cref="UnfreezeWeights"/> starts with a new forward pass. Freeze again after changing the weights. Costs
    /// memory for one packed copy of W_ih and W_hh per cell.
    /// </summary>
    public void FreezeWeights()
    {
        Parameters.Freeze();
        foreach (var cell in cells)
        {
            cell.FreezeWeights(true);
        }

        WeightsFrozen = true;
        backwardReady = false;
    }

    /// <summary>Ends <see cref="FreezeWeights"/>: each forward pass packs the current weights again; training is allowed.</summary>
    public void UnfreezeWeights()
    {
        foreach (var cell in cells)
        {
            cell.FreezeWeights(false);
        }

        WeightsFrozen = false;
        backwardReady = false;
    }

    /// <summary>Restarts the dropout masks from <paramref name="seed"/> (to repeat a forward pass exactly, e.g. in a gradient check).</summary>
    public void ReseedDropout(ulong seed) => dropoutRandom = new SeededRandom(seed);

    /// <summary>The learned initial h [L·D, H], or null.</summary>
    public ParameterView<T>? InitialHidden { get; }

    /// <summary>The learned initial C [L·D, H], or null.</summary>
    public ParameterView<T>? InitialCell { get; }

    /// <summary>The cell of each layer and direction, index l·D + d, bottom first.</summary>
    public IReadOnlyList<RecurrentCell<T>> Cells => cells;

    /// <summary>Whether the state includes a cell state C.</summary>
    public bool HasCellState => cells[0].HasCellState;

    /// <summary>
    /// PyTorch's default initialisation: every parameter of every cell from U(-1/√H, 1/√H), drawn in parameter order.
    /// The learned initial state, if any, stays zero.
    /// </summary>
    protected void InitializeUniform(SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        foreach (var cell in cells)
        {
            foreach (var view in cell.Parameters)
            {
                Initializers.PyTorchRecurrentDefault(view, HiddenSize, random);
            }
        }
    }

    /// <summary>A zero state [L·D, batchSize, H] of this stack for <paramref name="batchSize"/> sequences.</summary>
    public RecurrentState<T> CreateState(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return new RecurrentState<T>(NumLayers * Directions, batchSize, HiddenSize, HasCellState);
    }

    /// <summary>Runs the stack over a sequence and keeps the activations for <see cref="Backward"/>.</summary>
    /// <param name="input">x, [timeSteps, batchSize, inputSize]. It is copied for <see cref="Backward"/> (read in place
    /// on frozen weights): the caller may reuse it once the call returns.</param>
    /// <param name="output">Receives the top layer's h(t) for every step, [timeSteps, batchSize, D·hiddenSize].</param>
    /// <param name="initialState">h(0) (and C(0)) of every layer and direction, [L·D, batchSize, hiddenSize]; when null,
    /// the learned initial state if there is one, else zeros.</param>
    /// <param name="finalState">Receives h(T) (and C(T)) of every layer and direction, when given (for the reverse
    /// direction, its state after reading step 0). It may be the same object as <paramref name="initialState"/>.</param>
    /// <param name="sequenceLengths">For a batch of sequences of different lengths, padded to timeSteps: the length of
    /// each, [batchSize], each in [1, timeSteps], in any order (PyTorch's packed sequences, ONNX's
    /// <c>sequence_lens</c>). Outputs past a sequence's end are zero, its final state is the state after its last step
    /// (the reverse direction starts at its last step), and its gradients are those of running it alone. Empty for
    /// sequences that all have timeSteps steps.</param>
    /// <exception cref="ArgumentException">A shape disagrees; the message names the argument and both shapes.
    /// Nothing is written before all checks pass.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A sequence length is outside [1, timeSteps].</exception>
    /// <exception cref="InvalidOperationException">Another thread is running a call of this layer.</exception>
    public void Forward(Tensor<T> input, Tensor<T> output, RecurrentState<T>? initialState = null, RecurrentState<T>? finalState = null,
        ReadOnlySpan<int> sequenceLengths = default)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        guard.Enter(this);
        try
        {
            ForwardCore(input, output, initialState, finalState, sequenceLengths);
        }
        finally
        {
            guard.Exit();
        }
    }

    private void ForwardCore(Tensor<T> input, Tensor<T> output, RecurrentState<T>? initialState, RecurrentState<T>? finalState,
        ReadOnlySpan<int> sequenceLengths)
    {
        (int steps, int batch) = ShapeCheck.RequireSequence(input, InputSize, "layer");
        ArgumentNullException.ThrowIfNull(output);

        if (!output.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(output, [steps, batch, OutputSize], nameof(output), "[timeSteps, batchSize, directions·hiddenSize]");
        }

        CheckState(initialState, batch, nameof(initialState));
        CheckState(finalState, batch, nameof(finalState));
        CheckLengths(sequenceLengths, steps, batch);

        Parameters.Freeze();
        EnsureCapacity(steps, batch);
        hasLengths = false;
        foreach (int length in sequenceLengths)
        {
            hasLengths |= length < steps;
        }

        sequenceLengths.CopyTo(lengths);
        int rows = steps * batch, stateSize = batch * HiddenSize;
        ringCaches = WeightsFrozen && !hasLengths;
        if (ringCaches)
        {
            layerInput = input.Data;
        }
        else
        {
            input.AsSpan().CopyTo(inputCopy);
            layerInput = inputCopy;
        }

        usedLearnedState = initialState is null && InitialHidden is not null;
        droppedOut = Training && Dropout > 0;
        recurrentDropped = Training && RecurrentDropout > 0;

        for (int l = 0; l < NumLayers; l++)
        {
            ReadOnlySpan<T> x = LayerInput(l, rows);
            for (int d = 0; d < Directions; d++)
            {
                int index = l * Directions + d;
                var cell = cells[index];
                var cache = caches[index];
                Span<T> gates = cache.Gates.AsSpan(0, rows * cell.GateWidth);
                int chunk = PrepareProjection(cell, batch, steps);

                // Initial state: the caller's, the learned one, or zeros; in slot 0 (forward) or slot T (reverse).
                int first = d == 0 ? 0 : steps;
                Span<T> h0 = cache.Hidden.AsSpan(first * stateSize, stateSize);
                Span<T> c0 = cell.HasCellState ? cache.Cell.AsSpan(CellSlot(first) * stateSize, stateSize) : default;
                LoadInitialState(initialState, index, batch, h0, c0);
                if (recurrentDropped)
                {
                    DrawMask(cache.RecurrentMask.AsSpan(0, stateSize), RecurrentDropout);
                }

                cell.PrepareWeights(backward: false);
                try
                {
                    // Split over batch rows, each thread projects its own rows of each step just before the step, so
                    // the whole loop is one meeting of the threads; otherwise chunks of steps are projected ahead.
                    splitLayer = l;
                    bool done = RunStepsSplit(cell, cache, steps, batch, d) || RunStepsHosted(cell, cache, x, chunk, steps, batch, d)
                        || RunUnitsHosted(cell, cache, x, chunk, steps, batch, d);
                    for (int s0 = 0; !done && s0 < steps; s0 += chunk)
                    {
                        // The next chunk of steps in reading order, projected just before use (still in L2).
                        int count = Math.Min(chunk, steps - s0);
                        int tFirst = d == 0 ? s0 : steps - s0 - count;
                        gatesBase = ringCaches ? tFirst : 0;
                        ProjectInputs(cell, x, gates, tFirst * batch, (tFirst - gatesBase) * batch, count * batch);
                        if (!RunUnitsSplit(cell, cache, s0, count, steps, batch, d, backward: false))
                        {
                            for (int s = s0; s < s0 + count; s++)
                            {
                                ForwardStep(cell, cache, d == 0 ? s : steps - 1 - s, batch, d);
                            }
                        }
                    }
                }
                finally
                {
                    productGuest?.Clear();
                    cell.ReleaseWeights();
                }

                if (finalState is not null)
                {
                    int last = d == 0 ? steps : 0;
                    cache.Hidden.AsSpan(last * stateSize, stateSize).CopyTo(finalState.Hidden.Step(index));
                    if (cell.HasCellState)
                    {
                        cache.Cell.AsSpan(CellSlot(last) * stateSize, stateSize).CopyTo(finalState.Cell!.Step(index));
                    }
                }
            }

            if (Directions == 2)
            {
                Interleave(l, steps, batch);
            }

            if (droppedOut && l < NumLayers - 1)
            {
                ApplyDropout(l, rows);
            }
        }

        LayerOutput(NumLayers - 1, rows).CopyTo(output.AsSpan());
        if (hasLengths)
        {
            ZeroPaddedRows(output.AsSpan(), steps, batch, OutputSize);
        }

        cachedSteps = steps;
        cachedBatch = batch;
        backwardReady = !ringCaches;
        layerInput = inputCopy; // Backward reads the copy; the caller's tensor is not held past the call.
    }

    /// <summary>
    /// Backpropagates through the sequence of the last <see cref="Forward"/> call and adds every parameter's gradient
    /// to <see cref="ParameterBlock{T}.Gradients"/>.
    /// </summary>
    /// <param name="dOutput">dL/d output, [timeSteps, batchSize, D·hiddenSize].</param>
    /// <param name="dFinalState">dL/d h(T) (and C(T)) of every layer and direction, when the loss reads the final state;
    /// null for none.</param>
    /// <param name="dInput">Receives (overwritten) dL/dx, [timeSteps, batchSize, inputSize], when given.</param>
    /// <param name="dInitialState">Receives (overwritten) dL/d h(0) (and C(0)), when given.</param>
    /// <exception cref="InvalidOperationException">No forward pass is waiting for its backward pass, or the weights are
    /// frozen (<see cref="FreezeWeights"/>).</exception>
    /// <exception cref="ArgumentException">A shape disagrees with the forward pass.</exception>
    /// <exception cref="InvalidOperationException">Another thread is running a call of this layer.</exception>
    public void Backward(Tensor<T> dOutput, RecurrentState<T>? dFinalState = null, Tensor<T>? dInput = null, RecurrentState<T>? dInitialState = null)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        guard.Enter(this);
        try
        {
            BackwardCore(dOutput, dFinalState, dInput, dInitialState);
        }
        finally
        {
            guard.Exit();
        }
    }

    private void BackwardCore(Tensor<T> dOutput, RecurrentState<T>? dFinalState, Tensor<T>? dInput, RecurrentState<T>? dInitialState)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (WeightsFrozen)
        {
            throw new InvalidOperationException("The weights are frozen for inference (FreezeWeights); call UnfreezeWeights before training.");
        }

        if (!backwardReady)
        {
            throw new InvalidOperationException("Backward needs a Forward call first; each Forward allows one Backward (its caches are overwritten).");
        }

        int steps = cachedSteps, batch = cachedBatch;
        if (!dOutput.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(dOutput, [steps, batch, OutputSize], nameof(dOutput), "[timeSteps, batchSize, directions·hiddenSize] of the forward pass");
        }

        if (dInput is not null && !dInput.HasShape(steps, batch, InputSize))
        {
            ShapeCheck.Require(dInput, [steps, batch, InputSize], nameof(dInput), "[timeSteps, batchSize, inputSize] of the forward pass");
        }

        CheckState(dFinalState, batch, nameof(dFinalState));
        CheckState(dInitialState, batch, nameof(dInitialState));

        backwardReady = false;
        int rows = steps * batch, h = HiddenSize, stateSize = batch * h, width = OutputSize;
        for (int l = NumLayers - 1; l >= 0; l--)
        {
            ReadOnlySpan<T> dOut = l == NumLayers - 1 ? dOutput.AsSpan() : dOutputs[l].AsSpan(0, rows * width);
            ReadOnlySpan<T> x = LayerInput(l, rows);
            Span<T> dX = l > 0 ? dOutputs[l - 1].AsSpan(0, rows * width) : dInput is null ? default : dInput.AsSpan();
            for (int d = 0; d < Directions; d++)
            {
                int index = l * Directions + d;
                var cell = cells[index];
                var cache = caches[index];
                int gw = cell.GateWidth;

                Span<T> dh = dHiddenA.AsSpan(0, stateSize), dhNext = dHiddenB.AsSpan(0, stateSize);
                Span<T> dc = cell.HasCellState ? dCellA.AsSpan(0, stateSize) : default;
                Span<T> dcNext = cell.HasCellState ? dCellB.AsSpan(0, stateSize) : default;
                if (dFinalState is null)
                {
                    dh.Clear();
                    dc.Clear();
                }
                else
                {
                    dFinalState.Hidden.Step(index).CopyTo(dh);
                    if (cell.HasCellState)
                    {
                        dFinalState.Cell!.Step(index).CopyTo(dc);
                    }
                }

                // Walk the direction's steps in reverse, carrying dh (and dC); each step turns its cache slot into dGates.
                cell.PrepareWeights(backward: true);
                bool hostedDx = false;
                try
                {
                    splitDOut = l == NumLayers - 1 ? dOutput.Data : dOutputs[l];
                    bool split = RunUnitsSplit(cell, cache, 0, steps, steps, batch, d, backward: true);
                    if (split && steps % 2 == 1)
                    {
                        // Every part swapped its buffers once per step: after an odd number of steps dh(0) is in B.
                        Swap(ref dh, ref dhNext);
                        Swap(ref dc, ref dcNext);
                    }

                    // Batch 1 on this thread: dL/dx of each finished block of eight steps rides on the later steps' products.
                    T[]? dXArray = l > 0 ? dOutputs[l - 1] : dInput?.Data;
                    bool hostsDx = !split && dXArray is not null && HostsBackward(cell, batch, steps);
                    hostedDx = hostsDx;
                    for (int s = split ? -1 : steps - 1; s >= 0; s--)
                    {
                        int t = d == 0 ? s : steps - 1 - s;
                        if (hasLengths)
                        {
                            // A padded step is the identity on the state and its output is a constant zero: hold the
                            // carried gradient, feed the cell zeros (so its gate gradients are zero), pass it on after.
                            HoldPaddedGradients(t, batch, dh, dc);
                            AddOutputGradient(dOut, t, batch, d, dh);
                            HoldPaddedGradients(t, batch, dh, default, save: false);
                        }
                        else
                        {
                            AddOutputGradient(dOut, t, batch, d, dh);
                        }

                        cell.Backward(StepView(cell, cache, t, batch, d, backward: true, dh, dhNext, dc, dcNext, guest: hostsDx ? productGuest : null));
                        if (hasLengths)
                        {
                            ReleasePaddedGradients(t, batch, dhNext, dcNext);
                        }
                        Swap(ref dh, ref dhNext);
                        Swap(ref dc, ref dcNext);
                        if (hostsDx && (steps - s) % GemmGuest<T>.Rows == 0)
                        {
                            // Steps [s - 7, s] of this direction's reading order are done: the block they fill.
                            int first = d == 0 ? t : t - GemmGuest<T>.Rows + 1;
                            productGuest!.Finish();
                            productGuest.Start(cache.Gates.AsSpan(first * gw, GemmGuest<T>.Rows * gw), cell.PackedInputWeightsBackward,
                                dXArray!, first * cell.InputSize, cell.InputSize, accumulate: d > 0);
                        }
                    }

                    if (hostsDx)
                    {
                        productGuest!.Finish();
                    }
                }
                finally
                {
                    splitDOut = null;
                    productGuest?.Clear();
                    cell.ReleaseWeights();
                }

                StoreInitialStateGradient(dInitialState, index, batch, dh, dc);

                // Weight gradients over all steps at once.
                ReadOnlySpan<T> dGates = cache.Gates.AsSpan(0, rows * gw);
                Gemm.MultiplyTransposeA(dGates, x, cell.WeightIH.Gradients, gw, rows, cell.InputSize, accumulate: true);
                if (cell.BiasIH is not null)
                {
                    Elementwise.AddColumnSums(dGates, rows, gw, cell.BiasIH.Gradients);
                }

                ReadOnlySpan<T> dRecurrent = cell.HasSeparateRecurrentGradient ? cache.RecurrentGradient.AsSpan(0, rows * gw) : dGates;
                int hiddenPrevSlot = d == 0 ? 0 : 1;
                cell.AccumulateRecurrentGradients(dRecurrent,
                    recurrentDropped ? cache.RecurrentInputs.AsSpan(0, rows * h) : cache.Hidden.AsSpan(hiddenPrevSlot * stateSize, rows * h),
                    cache.StepCache.AsSpan(0, rows * cell.StepCacheWidth), rows);

                // dX = Σ_d dGates_d·W_ih_d: the output gradient of the layer below, or the caller's dInput (less the rows
                // the backward loop's products carried: all but the partial block read last).
                if (!dX.IsEmpty)
                {
                    int done = hostedDx ? steps / GemmGuest<T>.Rows * GemmGuest<T>.Rows : 0, left = rows - done, start = d == 0 ? 0 : done;
                    if (left > 0)
                    {
                        Gemm.Multiply<T>(dGates.Slice(start * gw, left * gw), cell.WeightIH.Values, dX.Slice(start * cell.InputSize, left * cell.InputSize),
                            left, gw, cell.InputSize, accumulate: d > 0);
                    }
                }
            }

            if (l > 0 && droppedOut)
            {
                TP.Multiply<T>(dX, masks[l - 1].AsSpan(0, rows * width), dX);
            }
        }
    }

    // The gradient buffers of steps t and t-1 trade places after each backward step.
    private static void Swap(ref Span<T> current, ref Span<T> next)
    {
        var swap = current;
        current = next;
        next = swap;
    }

    private void CheckLengths(ReadOnlySpan<int> sequenceLengths, int steps, int batch)
    {
        if (sequenceLengths.IsEmpty)
        {
            return;
        }

        if (sequenceLengths.Length != batch)
        {
            throw new ArgumentException($"sequenceLengths has {sequenceLengths.Length} entries but the batch has {batch} sequences.", nameof(sequenceLengths));
        }

        for (int b = 0; b < batch; b++)
        {
            if (sequenceLengths[b] < 1 || sequenceLengths[b] > steps)
            {
                throw new ArgumentOutOfRangeException(nameof(sequenceLengths), sequenceLengths[b],
                    $"Sequence {b} has length {sequenceLengths[b]}, outside [1, {steps}] (timeSteps).");
            }
        }
    }

    // Rows past their sequence's end keep the previous state: h(t) = h(t-1), C(t) = C(t-1).
    private void CarryPaddedState(RecurrentCell<T> cell, LayerCache cache, int t, int batch, int direction)
    {
        int h = HiddenSize, stateSize = batch * h;
        int prevSlot = direction == 0 ? t : t + 1, slot = direction == 0 ? t + 1 : t;
        for (int b = 0; b < batch; b++)
        {
            if (t < lengths[b])
            {
                continue;
            }

            cache.Hidden.AsSpan(prevSlot * stateSize + b * h, h).CopyTo(cache.Hidden.AsSpan(slot * stateSize + b * h, h));
            if (cell.HasCellState)
            {
                cache.Cell.AsSpan(prevSlot * stateSize + b * h, h).CopyTo(cache.Cell.AsSpan(slot * stateSize + b * h, h));
            }
        }
    }

    private void ZeroPaddedRows(Span<T> sequence, int steps, int batch, int width)
    {
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                if (t >= lengths[b])
                {
                    sequence.Slice((t * batch + b) * width, width).Clear();
                }
            }
        }
    }

    private void HoldPaddedGradients(int t, int batch, Span<T> dh, Span<T> dc, bool save = true)
    {
        int h = HiddenSize;
        for (int b = 0; b < batch; b++)
        {
            if (t < lengths[b])
            {
                continue;
            }

            if (save)
            {
                dh.Slice(b * h, h).CopyTo(savedDHidden.AsSpan(b * h, h));
            }

            dh.Slice(b * h, h).Clear();
            if (!dc.IsEmpty)
            {
                dc.Slice(b * h, h).CopyTo(savedDCell.AsSpan(b * h, h));
                dc.Slice(b * h, h).Clear();
            }
        }
    }

    private void ReleasePaddedGradients(int t, int batch, Span<T> dhPrev, Span<T> dcPrev)
    {
        int h = HiddenSize;
        for (int b = 0; b < batch; b++)
        {
            if (t < lengths[b])
            {
                continue;
            }

            savedDHidden.AsSpan(b * h, h).CopyTo(dhPrev.Slice(b * h, h));
            if (!dcPrev.IsEmpty)
            {
                savedDCell.AsSpan(b * h, h).CopyTo(dcPrev.Slice(b * h, h));
            }
        }
    }

    private ReadOnlySpan<T> LayerInput(int layer, int rows)
    {
        if (layer == 0)
        {
            return layerInput.AsSpan(0, rows * InputSize);
        }

        // Dropout writes its result in place over the lower layer's output buffer.
        return LayerOutput(layer - 1, rows);
    }

    private Span<T> LayerOutput(int layer, int rows)
    {
        // A unidirectional layer that is not dropped out reads straight from its hidden cache (slots 1..T).
        if (Directions == 1 && !(droppedOut && layer < NumLayers - 1))
        {
            return caches[layer].Hidden.AsSpan(CurrentStateSize, rows * HiddenSize);
        }

        return outputs[layer].AsSpan(0, rows * OutputSize);
    }

    // B·H of the current forward pass: the offset of slot 1 in the hidden caches.
    private int CurrentStateSize => currentBatch * HiddenSize;

    /// <summary>
    /// Gates of at most this many bytes are projected at once: x·W_ihᵀ for all T·B rows at (B, H) = (32, 128) fills a
    /// 6.5 MB cache that the time loop then reads back from memory (12 µs a step for the bias broadcast and the
    /// projection's read of it, 10 µs for the recurrent product's); a chunk of steps projected just before use stays in the 1 MB L2
    /// (256 KB chunks measured a little faster than 512 KB and 1 MB ones at (32, 128) and (32, 512)).
    /// </summary>
    private const int ProjectionChunkBytes = 256 * 1024;

    /// <summary>Gates of at most this many bytes in all (B = 1: 800 KB at H = 512) are projected at once.</summary>
    private const int WholeProjectionBytes = 1024 * 1024;

    /// <summary>
    /// Weights W_ih and W_hh of at least this many bytes together are "large": they do not stay in a last-level cache of
    /// 16 to 32 MB beside everything else, so a loop that reads both at every step streams them from memory. For such a
    /// cell the forward pass projects all steps in one GEMM before the loop (reading W_ih once), and the loop splits
    /// each step over units (each thread reads only its share of W_hh) rather than over batch rows (each thread would
    /// read all of both). At (B, H) = (64, 1024), 32 MB of float weights, two threads: LSTM inference 604 -> 556 ms, GRU
    /// 495 -> 420 ms; one thread (whole projection only): 1080 -> 1056 ms and 799 -> 777 ms. At H = 512 (8 MB) the
    /// chunked projection and the batch split stay faster (LSTM (32, 512): 67 against 77 ms).
    /// </summary>
    private const long LargeWeightsBytes = 16L * 1024 * 1024;

    private static unsafe bool HasLargeWeights(RecurrentCell<T> cell)
        => (long)cell.GateWidth * (cell.InputSize + cell.HiddenSize) * sizeof(T) >= LargeWeightsBytes;

    // Before a cell's time loop: b = b_ih (+ b_hh when the cell folds it) and W_ih packed once for all the chunked
    // projections (a prepacked product gives the same bits whatever the chunk's rows). Returns the steps per chunk.
    private unsafe int PrepareProjection(RecurrentCell<T> cell, int batch, int steps)
    {
        int gw = cell.GateWidth;
        if (cell.BiasIH is not null)
        {
            Span<T> bias = biasSum.AsSpan(0, gw);
            cell.BiasIH.Values.CopyTo(bias);
            if (cell.FoldsRecurrentBias)
            {
                TP.Add(bias, cell.BiasHH!.Values, bias);
            }
        }

        cell.PackInputWeights();

        // Gates that fit in L2 whole are projected at once: chunks would only stream W_ih again. So are large weights'.
        long stepBytes = (long)batch * gw * sizeof(T);
        if (stepBytes * steps <= WholeProjectionBytes || HasLargeWeights(cell))
        {
            return Math.Max(1, steps);
        }

        return (int)Math.Clamp(ProjectionChunkBytes / stepBytes, 1, Math.Max(1, steps));
    }

    // One forward step of the loop on the calling thread.
    private void ForwardStep(RecurrentCell<T> cell, LayerCache cache, int t, int batch, int direction, GemmGuest<T>? guest = null)
    {
        int stateSize = batch * HiddenSize;
        if (recurrentDropped)
        {
            // W_hh sees h(t-1) ⊙ m; keep it for the backward pass and the weight gradient.
            int prevSlot = direction == 0 ? t : t + 1;
            TP.Multiply<T>(cache.Hidden.AsSpan(prevSlot * stateSize, stateSize), cache.RecurrentMask.AsSpan(0, stateSize),
                cache.RecurrentInputs.AsSpan(t * stateSize, stateSize));
        }

        cell.Forward(StepView(cell, cache, t, batch, direction, backward: false, guest: guest));
        if (hasLengths)
        {
            CarryPaddedState(cell, cache, t, batch, direction);
        }
    }

    // The rows of another product computed by the recurrent products of batch-1 steps: forward, the input projection of
    // coming steps; backward, dL/dx of finished ones.
    private GemmGuest<T>? productGuest;

    /// <summary>Whether batch-1 loops let the recurrent products carry the input projection and dL/dx (tests compare both ways).</summary>
    internal static bool HostsProjection { get; set; } = true;

    /// <summary>How many forward loops have run hosted (tests check that theirs did).</summary>
    internal static long HostedLoops;

    /// <summary>How many backward loops have carried dL/dx.</summary>
    internal static long HostedBackwardLoops;

    // Whether this batch-1 backward loop (on this thread, no unit split) lets its products dGates·W_hh carry dL/dx; packs
    // W_ih for it when so.
    private bool HostsBackward(RecurrentCell<T> cell, int batch, int steps)
    {
        int gw = cell.GateWidth;
        bool oneThread = KernelScope.MaxThreads == 1 || 2.0 * gw * HiddenSize < GemmDriver.ThreadingThreshold;
        if (!HostsProjection || batch != 1 || steps < 2 * GemmGuest<T>.Rows || !oneThread
            || !GemmGuest<T>.CanHost(cell.PackedRecurrentWeightsBackward) || !GemmGuest<T>.FitsShape(gw, cell.InputSize))
        {
            return false;
        }

        cell.PackInputWeightsBackward();
        if (!GemmGuest<T>.IsSupported(cell.PackedRecurrentWeightsBackward, cell.PackedInputWeightsBackward))
        {
            return false;
        }

        productGuest ??= new GemmGuest<T>();
        Interlocked.Increment(ref HostedBackwardLoops);
        return true;
    }

    /// <summary>
    /// Runs the whole forward loop of a batch-1 sequence with the input projection carried by the recurrent products: the
    /// projection of the steps' first block of eight is computed before the loop, and while the steps of one block run,
    /// each step's product h(t-1)·W_hhᵀ computes panels of the next block's rows x·W_ihᵀ (<see cref="GemmGuest{T}"/>);
    /// what a block's steps leave is finished after them, a last partial block is projected plainly. A one-row product
    /// streams W_hh and leaves the core's multiply-adds half idle, which the projection's tiles use: LSTM inference at
    /// (B, H) = (1, 128), one thread, 0.40 -> 0.33 ms. The same bits as projecting all steps first. Returns false
    /// (nothing done) unless the batch is 1, the projection is whole (one chunk), the recurrent product runs on this
    /// thread (one thread, or a product too small to split and no unit split), and both packed weights are on the path
    /// a guest rides (<see cref="GemmGuest{T}.IsSupported"/>).
    /// </summary>
    private bool RunStepsHosted(RecurrentCell<T> cell, LayerCache cache, ReadOnlySpan<T> x, int chunk, int steps, int batch, int direction)
    {
        const int block = GemmGuest<T>.Rows;
        int gw = cell.GateWidth, inputSize = cell.InputSize;
        bool oneThread = KernelScope.MaxThreads == 1
            || (2.0 * gw * HiddenSize < GemmDriver.ThreadingThreshold && UnitSplitParts(cell, batch, backward: false) < 2);
        if (!HostsProjection || batch != 1 || chunk < steps || steps < 2 * block || !oneThread
            || !GemmGuest<T>.IsSupported(cell.PackedRecurrentWeights, cell.PackedInputWeights))
        {
            return false;
        }

        Interlocked.Increment(ref HostedLoops);
        var guest = productGuest ??= new GemmGuest<T>();
        bool bias = cell.BiasIH is not null;
        int blocks = (steps + block - 1) / block;
        gatesBase = 0;

        var (first0, count0) = HostedBlock(0, steps, direction);
        ProjectInputs(cell, x, cache.Gates.AsSpan(), first0, first0, count0);
        for (int i = 0; i < blocks; i++)
        {
            if (i + 1 < blocks)
            {
                var (next, count) = HostedBlock(i + 1, steps, direction);
                if (count == block)
                {
                    Span<T> rows = cache.Gates.AsSpan(next * gw, block * gw);
                    if (bias)
                    {
                        Elementwise.BroadcastRows<T>(biasSum.AsSpan(0, gw), block, rows);
                    }

                    guest.Start(x.Slice(next * inputSize, block * inputSize), cell.PackedInputWeights, cache.Gates.Array!, cache.Gates.Offset + next * gw, gw, bias);
                }
                else
                {
                    ProjectInputs(cell, x, cache.Gates.AsSpan(), next, next, count);
                }
            }

            var (first, stepCount) = HostedBlock(i, steps, direction);
            for (int s = 0; s < stepCount; s++)
            {
                ForwardStep(cell, cache, direction == 0 ? first + s : first + stepCount - 1 - s, batch, direction, guest);
            }

            guest.Finish();
        }

        return true;
    }

    // Block i of eight steps in reading order: rows [8i, 8i + 8) forward, counted from the end backward; the partial block
    // is read last either way.
    private static (int First, int Count) HostedBlock(int i, int steps, int direction)
    {
        const int block = GemmGuest<T>.Rows;
        return direction == 0
            ? (i * block, Math.Min(block, steps - i * block))
            : (Math.Max(0, steps - (i + 1) * block), Math.Min(block, steps - i * block));
    }

    // Each unit-split part's guest (the projection of its own gate columns).
    private GemmGuest<T>[] unitGuests = [];

    // Whether the parts of the unit split carry their columns of the input projection (RunUnitsHosted).
    private bool unitsHosted;

    /// <summary>
    /// The unit split of a batch-1 forward loop (<see cref="RunUnitsSplit"/>) with each part's recurrent products
    /// carrying that part's gate columns of the next block's input projection, as <see cref="RunStepsHosted"/> does on
    /// one thread: a part's projection columns are read only by its own steps, so the parts still meet once per step.
    /// The same bits. Returns false (nothing done) when the unit split or the guest does not apply.
    /// </summary>
    private bool RunUnitsHosted(RecurrentCell<T> cell, LayerCache cache, ReadOnlySpan<T> x, int chunk, int steps, int batch, int direction)
    {
        int h = HiddenSize, parts = UnitSplitParts(cell, batch, backward: false);
        if (!HostsProjection || batch != 1 || chunk < steps || steps < 2 * GemmGuest<T>.Rows || parts < 2
            || !GemmGuest<T>.IsSupported(cell.PackedRecurrentWeights, cell.PackedInputWeights))
        {
            return false;
        }

        // Every part's columns must form whole groups of four panels (as RunUnitsSplit will size them).
        int units = SplitUnitWidth(parts);
        for (int p = 0; p < parts; p++)
        {
            int own = Math.Clamp(h - p * units, 0, units);
            if (cell.GateCount * own / GemmGuest<T>.PanelWidth % 4 != 0)
            {
                return false;
            }
        }

        if (unitGuests.Length < parts)
        {
            Array.Resize(ref unitGuests, parts);
        }

        for (int p = 0; p < parts; p++)
        {
            unitGuests[p] ??= new GemmGuest<T>();
        }

        gatesBase = 0;
        var (first0, count0) = HostedBlock(0, steps, direction);
        ProjectInputs(cell, x, cache.Gates.AsSpan(), first0, first0, count0);
        unitsHosted = true;
        try
        {
            if (RunUnitsSplit(cell, cache, 0, steps, steps, batch, direction, backward: false))
            {
                Interlocked.Increment(ref HostedLoops);
                return true;
            }
        }
        finally
        {
            unitsHosted = false;
            foreach (var guest in unitGuests)
            {
                guest?.Clear();
            }
        }

        // The pool was busy: the rest of the projection, then the plain loop.
        int rest = steps - count0, restFirst = direction == 0 ? count0 : 0;
        ProjectInputs(cell, x, cache.Gates.AsSpan(), restFirst, restFirst, rest);
        for (int s = 0; s < steps; s++)
        {
            ForwardStep(cell, cache, direction == 0 ? s : steps - 1 - s, batch, direction);
        }

        return true;
    }

    // A hosted unit-split part's own columns of the projection rows [first, first + count): b, then x·W_ihᵀ for a partial
    // block; b and a started guest for a whole one.
    private void ProjectOwnColumns(RecurrentCell<T> cell, ReadOnlySpan<T> x, GemmGuest<T> guest, ReadOnlySpan<int> panels, int first, int count, int u0, int u1)
    {
        int gw = cell.GateWidth, h = HiddenSize, inputSize = cell.InputSize;
        bool bias = cell.BiasIH is not null;
        Span<T> rows = splitCache!.Gates.AsSpan(first * gw, count * gw);
        for (int g = 0; bias && g < cell.GateCount; g++)
        {
            ReadOnlySpan<T> b = biasSum.AsSpan(g * h + u0, u1 - u0);
            for (int r = 0; r < count; r++)
            {
                b.CopyTo(rows.Slice(r * gw + g * h + u0, u1 - u0));
            }
        }

        ReadOnlySpan<T> xs = x.Slice(first * inputSize, count * inputSize);
        if (count == GemmGuest<T>.Rows)
        {
            guest.Start(xs, cell.PackedInputWeights, splitCache.Gates.Array!, splitCache.Gates.Offset + first * gw, gw, bias, panels);
            return;
        }

        for (int g = 0; g < cell.GateCount; g++)
        {
            Gemm.ComputeColumns(count, gw, inputSize, xs, inputSize, cell.PackedInputWeights, rows, gw, bias, g * h + u0, g * h + u1);
        }
    }

    /// <summary>Fewest batch rows a thread takes when the time loop is split over the batch (one AVX-512 register tile).</summary>
    private const int MinSplitRows = 8;

    // The split loop's arguments, read by every part (set before the parts start, so no allocation per chunk).
    private RecurrentCell<T>? splitCell;
    private LayerCache? splitCache;
    private int splitFirst, splitCount, splitSteps, splitBatch, splitDirection, splitRows, splitLayer;

    /// <summary>
    /// Runs the whole forward time loop with the batch split over the GEMM worker pool, each thread
    /// taking its own rows through every step: the B sequences are independent, so the threads meet once per loop
    /// instead of twice per step, and the pointwise work is split too. The products and the pointwise kernels give
    /// every row the same bits as the whole-batch loop. Returns false (nothing done) when the split does not apply:
    /// one thread, too few rows, recurrent dropout or sequence lengths (both handled on the whole batch), a cell that
    /// does not allow it (<see cref="RecurrentCell{T}.ForwardRowsConcurrently"/>), or a busy pool.
    /// </summary>
    private unsafe bool RunStepsSplit(RecurrentCell<T> cell, LayerCache cache, int steps, int batch, int direction)
    {
        int parts = Math.Min(WorkerPool.Shared.MaxParts, batch / MinSplitRows);
        if (parts < 2 || recurrentDropped || hasLengths || !cell.ForwardRowsConcurrently || PrefersUnitSplit(cell)
            || !WorkerPool.Shared.TryAcquire())
        {
            return false;
        }

        splitRows = ((batch + parts - 1) / parts + MinSplitRows - 1) / MinSplitRows * MinSplitRows;
        RunOnPool(cell, cache, 0, steps, steps, batch, direction, parts, &RunStepsPart);
        return true;
    }

    // Runs body on parts threads of the GEMM worker pool (acquired by the caller, released here), with the loop's
    // arguments in the split fields every part reads.
    private unsafe void RunOnPool(RecurrentCell<T> cell, LayerCache cache, int first, int count, int steps, int batch, int direction, int parts,
        delegate*<GemmJob, int, void> body)
    {
        try
        {
            splitCell = cell;
            splitCache = cache;
            (splitFirst, splitCount, splitSteps, splitBatch, splitDirection) = (first, count, steps, batch, direction);
            GemmJob job = GemmJob.Shared;
            job.State = this;
            job.Body = body;
            WorkerPool.Shared.RunAcquired(job, parts);
        }
        finally
        {
            GemmJob.Shared.State = null;
            splitCell = null;
            splitCache = null;
            WorkerPool.Shared.Release();
        }
    }

    private static void RunStepsPart(GemmJob job, int part) => ((RecurrentLayer<T>)job.State!).RunStepsPart(part);

    // Rows [part·splitRows, ..) of the batch through the steps, each step's input projection of those rows first (the
    // same bits as the whole-batch projection); GEMMs inside find the pool busy and stay on this thread.
    private void RunStepsPart(int part)
    {
        var cell = splitCell!;
        int b0 = part * splitRows, rows = Math.Min(splitRows, splitBatch - b0);
        if (rows <= 0)
        {
            return;
        }

        int gw = cell.GateWidth, h = HiddenSize, e = cell.StepCacheWidth;
        Span<T> partScratch = scratch.AsSpan(b0 * (gw + h), rows * (gw + h));
        ReadOnlySpan<T> x = LayerInput(splitLayer, splitSteps * splitBatch);
        Span<T> allGates = splitCache!.Gates.AsSpan(0, splitSteps * splitBatch * gw);
        for (int s = splitFirst; s < splitFirst + splitCount; s++)
        {
            int t = splitDirection == 0 ? s : splitSteps - 1 - s;
            // On frozen weights each thread's rows of every step use the first step's slot (see ringCaches).
            int gateSlot = ringCaches ? 0 : t;
            ProjectInputs(cell, x, allGates, t * splitBatch + b0, gateSlot * splitBatch + b0, rows);
            var whole = StepView(cell, splitCache!, t, splitBatch, splitDirection, backward: false, gateSlot: gateSlot);
            Span<T> gates = whole.Gates.Slice(b0 * gw, rows * gw);
            cell.Forward(new CellStep<T>(rows, gates, gates, whole.HiddenPrev.Slice(b0 * h, rows * h), whole.Hidden.Slice(b0 * h, rows * h),
                cell.HasCellState ? whole.CellPrev.Slice(b0 * h, rows * h) : default, cell.HasCellState ? whole.Cell.Slice(b0 * h, rows * h) : default,
                whole.StepCache.Slice(b0 * e, rows * e), default, default, default, default, partScratch));
        }
    }

    /// <summary>Fewest hidden units a thread takes when a step is split over units (so every range starts on a GEMM panel).</summary>
    private const int MinSplitUnits = 32;

    /// <summary>
    /// Fewest multiply-adds B·G·H·H in a step's recurrent product for the unit split: below it the meeting per step costs
    /// more than half the step saves (Elman at (B, H) = (1, 128), 16 K, ran slower on two threads than on one; the LSTM
    /// at (1, 128), 64 K, gains a third).
    /// </summary>
    private const long MinSplitProduct = 64 * 1024;

    // The unit split's state, read by every part: the barrier the parts meet at once per step, the units each takes,
    // and dL/d output of the layer being backpropagated.
    private readonly SpinBarrier unitBarrier = new();
    private int splitUnits;
    private T[]? splitDOut;

    /// <summary>
    /// Runs steps [first, first + count) of the forward time loop, or the whole backward loop, with each step split over
    /// ranges of hidden units, one thread per range: a thread computes its units' gate columns of the recurrent product
    /// (reading all of h(t-1)) and their pointwise step, and the threads meet once per step (backward: between the
    /// pointwise step and the product dL/dh(t-1) = dGates·W_hh, whose columns are again split by unit). It serves small
    /// batches, which the batch split cannot divide (batch 1 above all), the forward loop of large weights at any batch
    /// (<see cref="LargeWeightsBytes"/>), and the backward loop at any batch. Each unit
    /// gets the bits of the whole-step loop. Returns false (nothing done) when the split does not apply: one thread, a
    /// cell that does not split (<see cref="RecurrentCell{T}.SplitsUnits"/>: double, GRU in Cho's form, custom cells), H
    /// not a multiple of 32 or below 64, recurrent dropout or sequence lengths, or a busy pool.
    /// </summary>
    private unsafe bool RunUnitsSplit(RecurrentCell<T> cell, LayerCache cache, int first, int count, int steps, int batch, int direction, bool backward)
    {
        int h = HiddenSize, parts = UnitSplitParts(cell, batch, backward);
        if (parts < 2 || !WorkerPool.Shared.TryAcquire())
        {
            return false;
        }

        splitUnits = SplitUnitWidth(parts);
        unitBarrier.Reset(parts);
        RunOnPool(cell, cache, first, count, steps, batch, direction, parts, backward ? &RunBackwardUnitsPart : &RunForwardUnitsPart);
        return true;
    }

    // Units a part of a unit split over this many parts takes (the last may take fewer): H / parts rounded up to whole
    // 32-column panels, so every range starts on a panel (and a cache line).
    private int SplitUnitWidth(int parts)
        => ((HiddenSize + parts - 1) / parts + Gemm.ColumnAlignment - 1) / Gemm.ColumnAlignment * Gemm.ColumnAlignment;

    // The threads a unit split of this loop would take, 0 or 1 when it does not apply (RunUnitsSplit).
    private int UnitSplitParts(RecurrentCell<T> cell, int batch, bool backward)
    {
        int h = HiddenSize;
        if (!cell.SplitsUnits || recurrentDropped || hasLengths || h % Gemm.ColumnAlignment != 0
            || (!backward && batch >= 2 * MinSplitRows && !PrefersUnitSplit(cell))
            || (long)batch * cell.GateWidth * h < MinSplitProduct)
        {
            return 0;
        }

        return Math.Min(WorkerPool.Shared.MaxParts, h / MinSplitUnits);
    }

    // Large weights split the forward loop over units at any batch (see LargeWeightsBytes), when the cell splits at all.
    private bool PrefersUnitSplit(RecurrentCell<T> cell)
        => cell.SplitsUnits && HiddenSize % Gemm.ColumnAlignment == 0 && HasLargeWeights(cell);

    private static void RunForwardUnitsPart(GemmJob job, int part) => ((RecurrentLayer<T>)job.State!).ForwardUnitsPart(part);

    private static void RunBackwardUnitsPart(GemmJob job, int part) => ((RecurrentLayer<T>)job.State!).BackwardUnitsPart(part);

    // Units [part·splitUnits, ..) through the chunk's forward steps; every part meets the others after each step, even
    // one left without units, so the barrier counts all of them.
    private void ForwardUnitsPart(int part)
    {
        var cell = splitCell!;
        int u0 = Math.Min(part * splitUnits, HiddenSize), u1 = Math.Min(u0 + splitUnits, HiddenSize);
        try
        {
            if (unitsHosted)
            {
                ForwardUnitsPartHosted(cell, part, u0, u1);
                return;
            }

            for (int s = splitFirst; s < splitFirst + splitCount; s++)
            {
                int t = splitDirection == 0 ? s : splitSteps - 1 - s;
                if (u0 < u1)
                {
                    cell.ForwardUnits(StepView(cell, splitCache!, t, splitBatch, splitDirection, backward: false), u0, u1);
                }

                if (!unitBarrier.SignalAndWait())
                {
                    return;
                }
            }
        }
        catch
        {
            unitBarrier.Abort();
            throw;
        }
    }

    // A hosted part (RunUnitsHosted): block by block, its columns of the next block's projection ride on its steps.
    private void ForwardUnitsPartHosted(RecurrentCell<T> cell, int part, int u0, int u1)
    {
        int steps = splitSteps, direction = splitDirection;
        GemmGuest<T> guest = unitGuests[part];
        Span<int> panels = stackalloc int[cell.GateWidth / GemmGuest<T>.PanelWidth + cell.GateCount];
        panels = panels[..GemmGuest<T>.UnitPanels(panels, cell.GateCount, HiddenSize, u0, u1)];

        ReadOnlySpan<T> x = LayerInput(splitLayer, steps * splitBatch);
        int blocks = (steps + GemmGuest<T>.Rows - 1) / GemmGuest<T>.Rows;
        for (int i = 0; i < blocks; i++)
        {
            if (u0 < u1 && i + 1 < blocks)
            {
                var (next, count) = HostedBlock(i + 1, steps, direction);
                ProjectOwnColumns(cell, x, guest, panels, next, count, u0, u1);
            }

            var (first, stepCount) = HostedBlock(i, steps, direction);
            for (int s = 0; s < stepCount; s++)
            {
                int t = direction == 0 ? first + s : first + stepCount - 1 - s;
                if (u0 < u1)
                {
                    cell.ForwardUnits(StepView(cell, splitCache!, t, splitBatch, direction, backward: false, guest: guest), u0, u1);
                }

                if (!unitBarrier.SignalAndWait())
                {
                    return;
                }
            }

            guest.Finish();
        }
    }

    // Units [part·splitUnits, ..) through the whole backward loop: per step, dh(t) += dL/d output(t) and the pointwise
    // step on this part's units, the meeting (every unit's gate gradients are then written), and this part's columns
    // of dL/dh(t-1). Buffers swap as in the whole-batch loop.
    private void BackwardUnitsPart(int part)
    {
        var cell = splitCell!;
        int u0 = Math.Min(part * splitUnits, HiddenSize), u1 = Math.Min(u0 + splitUnits, HiddenSize);
        int batch = splitBatch, h = HiddenSize, stateSize = batch * h, width = OutputSize;
        Span<T> dh = dHiddenA.AsSpan(0, stateSize), dhNext = dHiddenB.AsSpan(0, stateSize);
        Span<T> dc = cell.HasCellState ? dCellA.AsSpan(0, stateSize) : default;
        Span<T> dcNext = cell.HasCellState ? dCellB.AsSpan(0, stateSize) : default;
        ReadOnlySpan<T> dOut = splitDOut;
        try
        {
            for (int s = splitSteps - 1; s >= 0; s--)
            {
                int t = splitDirection == 0 ? s : splitSteps - 1 - s;
                var step = StepView(cell, splitCache!, t, batch, splitDirection, backward: true, dh, dhNext, dc, dcNext);
                if (u0 < u1)
                {
                    for (int b = 0; b < batch; b++)
                    {
                        Span<T> row = dh.Slice(b * h + u0, u1 - u0);
                        TP.Add<T>(row, dOut.Slice((t * batch + b) * width + splitDirection * h + u0, u1 - u0), row);
                    }

                    cell.BackwardUnitsPointwise(step, u0, u1);
                }

                if (!unitBarrier.SignalAndWait())
                {
                    return;
                }

                if (u0 < u1)
                {
                    cell.BackwardUnitsProduct(step, u0, u1);
                }

                Swap(ref dh, ref dhNext);
                Swap(ref dc, ref dcNext);
            }
        }
        catch
        {
            unitBarrier.Abort();
            throw;
        }
    }

    // gates[rows gateRow .. gateRow + count) = b + X·W_ihᵀ on rows [first, first + count) of X.
    private void ProjectInputs(RecurrentCell<T> cell, ReadOnlySpan<T> x, Span<T> gates, int first, int gateRow, int count)
    {
        int gw = cell.GateWidth, inputSize = cell.InputSize;
        ReadOnlySpan<T> xs = x.Slice(first * inputSize, count * inputSize);
        Span<T> g = gates.Slice(gateRow * gw, count * gw);
        bool bias = cell.BiasIH is not null;
        if (bias)
        {
            Elementwise.BroadcastRows<T>(biasSum.AsSpan(0, gw), count, g);
        }

        Gemm.Compute(false, count, gw, inputSize, xs, inputSize, cell.PackedInputWeights, g, gw, accumulate: bias);
    }

    private void LoadInitialState(RecurrentState<T>? initialState, int index, int batch, Span<T> h0, Span<T> c0)
    {
        int h = HiddenSize;
        if (initialState is not null)
        {
            initialState.Hidden.Step(index).CopyTo(h0);
            if (!c0.IsEmpty)
            {
                initialState.Cell!.Step(index).CopyTo(c0);
            }
        }
        else if (InitialHidden is not null)
        {
            for (int b = 0; b < batch; b++)
            {
                InitialHidden.Values.Slice(index * h, h).CopyTo(h0.Slice(b * h, h));
                if (!c0.IsEmpty)
                {
                    InitialCell!.Values.Slice(index * h, h).CopyTo(c0.Slice(b * h, h));
                }
            }
        }
        else
        {
            h0.Clear();
            c0.Clear();
        }
    }

    private void StoreInitialStateGradient(RecurrentState<T>? dInitialState, int index, int batch, ReadOnlySpan<T> dh, ReadOnlySpan<T> dc)
    {
        int h = HiddenSize;
        if (dInitialState is not null)
        {
            dh.CopyTo(dInitialState.Hidden.Step(index));
            if (!dc.IsEmpty)
            {
                dc.CopyTo(dInitialState.Cell!.Step(index));
            }
        }

        if (usedLearnedState)
        {
            // The learned state was broadcast over the batch: its gradient is the sum over batch rows.
            Elementwise.AddColumnSums(dh, batch, h, InitialHidden!.Gradients.Slice(index * h, h));
            if (!dc.IsEmpty)
            {
                Elementwise.AddColumnSums(dc, batch, h, InitialCell!.Gradients.Slice(index * h, h));
            }
        }
    }

    // dh += dL/d output(t) of direction d (columns d·H .. (d+1)·H of each row).
    private void AddOutputGradient(ReadOnlySpan<T> dOut, int t, int batch, int direction, Span<T> dh)
    {
        int h = HiddenSize, width = OutputSize;
        if (Directions == 1)
        {
            TP.Add<T>(dh, dOut.Slice(t * batch * h, batch * h), dh);
            return;
        }

        for (int b = 0; b < batch; b++)
        {
            Span<T> row = dh.Slice(b * h, h);
            TP.Add<T>(row, dOut.Slice((t * batch + b) * width + direction * h, h), row);
        }
    }

    // outputs[l][t, b, d·H .. (d+1)·H] = h_d(t) for both directions.
    private void Interleave(int layer, int steps, int batch)
    {
        int h = HiddenSize, width = OutputSize, stateSize = batch * h;
        Span<T> output = outputs[layer];
        for (int d = 0; d < 2; d++)
        {
            AlignedArray<T> hidden = caches[layer * 2 + d].Hidden;
            for (int t = 0; t < steps; t++)
            {
                int slot = d == 0 ? t + 1 : t;
                for (int b = 0; b < batch; b++)
                {
                    hidden.AsSpan(slot * stateSize + b * h, h).CopyTo(output.Slice((t * batch + b) * width + d * h, h));
                }
            }
        }
    }

    // Inverted dropout: keep with probability 1 - p and scale by 1 / (1 - p).
    private void DrawMask(Span<T> mask, double probability)
    {
        T keep = T.CreateTruncating(1 / (1 - probability));
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = dropoutRandom.NextDouble() < probability ? T.Zero : keep;
        }
    }

    // Dropout on the output of layer l.
    private void ApplyDropout(int layer, int rows)
    {
        int count = rows * OutputSize;
        Span<T> mask = masks[layer].AsSpan(0, count);
        DrawMask(mask, Dropout);

        Span<T> output = outputs[layer].AsSpan(0, count);
        if (Directions == 1)
        {
            caches[layer].Hidden.AsSpan(CurrentStateSize, count).CopyTo(output);
        }

        TP.Multiply<T>(output, mask, output);
    }

    private CellStep<T> StepView(RecurrentCell<T> cell, LayerCache cache, int t, int batch, int direction, bool backward,
        Span<T> dh = default, Span<T> dhPrev = default, Span<T> dc = default, Span<T> dcPrev = default, int gateSlot = -1,
        GemmGuest<T>? guest = null)
    {
        int gw = cell.GateWidth, stateSize = batch * HiddenSize, e = cell.StepCacheWidth;

        // Hidden-state slots: the forward direction reads slot t and writes t + 1; the reverse one reads t + 1 and writes t.
        // The gates' and step cache's slot is t, or t's place in the current chunk on frozen weights (ringCaches).
        int prevSlot = direction == 0 ? t : t + 1, slot = direction == 0 ? t + 1 : t;
        if (gateSlot < 0)
        {
            gateSlot = !backward && ringCaches ? t - gatesBase : t;
        }

        Span<T> gates = cache.Gates.AsSpan(gateSlot * batch * gw, batch * gw);
        Span<T> recurrent = backward && cell.HasSeparateRecurrentGradient ? cache.RecurrentGradient.AsSpan(t * batch * gw, batch * gw) : gates;
        Span<T> cPrev = default, c = default;
        if (cell.HasCellState)
        {
            cPrev = cache.Cell.AsSpan(CellSlot(prevSlot) * stateSize, stateSize);
            c = cache.Cell.AsSpan(CellSlot(slot) * stateSize, stateSize);
        }

        ReadOnlySpan<T> recurrentInput = default, mask = default;
        if (recurrentDropped)
        {
            recurrentInput = cache.RecurrentInputs.AsSpan(t * stateSize, stateSize);
            mask = cache.RecurrentMask.AsSpan(0, stateSize);
        }

        return new CellStep<T>(batch, gates, recurrent,
            cache.Hidden.AsSpan(prevSlot * stateSize, stateSize), cache.Hidden.AsSpan(slot * stateSize, stateSize),
            cPrev, c, cache.StepCache.AsSpan(gateSlot * batch * e, batch * e),
            dh, dhPrev, dc, dcPrev, scratch.AsSpan(0, batch * (gw + HiddenSize)), recurrentInput, mask)
        {
            ReverseSweep = (t & 1) == 1,
            Guest = guest,
        };
    }

    // The slot of C for hidden-state slot s: s, or s mod 2 on frozen weights (ringCaches).
    private int CellSlot(int slot) => ringCaches ? slot & 1 : slot;

    private void CheckState(RecurrentState<T>? state, int batch, string name)
    {
        if (state is null)
        {
            return;
        }

        int layers = NumLayers * Directions;

        // The argument names are built only on failure: the check runs on every step of a training loop.
        if (!state.Hidden.HasShape(layers, batch, HiddenSize))
        {
            ShapeCheck.Require(state.Hidden, [layers, batch, HiddenSize], name + ".Hidden", "[numLayers·directions, batchSize, hiddenSize]");
        }

        if (HasCellState)
        {
            if (state.Cell is null)
            {
                throw new ArgumentException($"{name} has no cell state but the layer's cells need one.", name);
            }

            if (!state.Cell.HasShape(layers, batch, HiddenSize))
            {
                ShapeCheck.Require(state.Cell, [layers, batch, HiddenSize], name + ".Cell", "[numLayers·directions, batchSize, hiddenSize]");
            }
        }
    }

    private void EnsureCapacity(int steps, int batch)
    {
        currentBatch = batch;
        int rows = steps * batch, h = HiddenSize, stateSize = batch * h, width = OutputSize;
        int maxGate = 0;
        Grow(ref inputCopy, rows * InputSize);
        for (int i = 0; i < cells.Length; i++)
        {
            var cell = cells[i];
            var cache = caches[i];
            int gw = cell.GateWidth;
            maxGate = Math.Max(maxGate, gw);
            Grow(ref cache.Gates, rows * gw);
            Grow(ref cache.Hidden, (steps + 1) * stateSize);
            if (cell.HasCellState)
            {
                Grow(ref cache.Cell, (steps + 1) * stateSize);
            }

            if (cell.HasSeparateRecurrentGradient)
            {
                Grow(ref cache.RecurrentGradient, rows * gw);
            }

            Grow(ref cache.StepCache, rows * cell.StepCacheWidth);
            if (RecurrentDropout > 0)
            {
                Grow(ref cache.RecurrentMask, stateSize);
                Grow(ref cache.RecurrentInputs, rows * h);
            }
        }

        for (int l = 0; l < NumLayers; l++)
        {
            bool last = l == NumLayers - 1;
            if (Directions == 2 || (!last && Dropout > 0))
            {
                Grow(ref outputs[l], rows * width);
            }

            if (!last)
            {
                Grow(ref dOutputs[l], rows * width);
                if (Dropout > 0)
                {
                    Grow(ref masks[l], rows * width);
                }
            }
        }

        Grow(ref dHiddenA, stateSize);
        Grow(ref dHiddenB, stateSize);
        Grow(ref savedDHidden, stateSize);
        if (lengths.Length < batch)
        {
            lengths = new int[batch];
        }

        if (HasCellState)
        {
            Grow(ref dCellA, stateSize);
            Grow(ref dCellB, stateSize);
            Grow(ref savedDCell, stateSize);
        }

        Grow(ref scratch, batch * (maxGate + h));
        Grow(ref biasSum, maxGate);
    }

    private static void Grow(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }
    }

    private static void Grow(ref AlignedArray<T> buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = AlignedArray<T>.Allocate(length);
        }
    }

    private sealed class LayerCache
    {
        // Written by both threads of a split loop in neighbouring ranges: cache-line aligned (see AlignedArray).
        public AlignedArray<T> Gates;
        public AlignedArray<T> RecurrentGradient;
        public AlignedArray<T> Hidden;
        public AlignedArray<T> Cell;
        public AlignedArray<T> StepCache;
        public T[] RecurrentMask = [];
        public T[] RecurrentInputs = [];
    }
}
