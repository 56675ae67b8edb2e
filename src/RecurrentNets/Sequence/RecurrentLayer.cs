using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Sequence;

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
/// each over all T·B rows. The output sequence of layer l (both directions concatenated, forward first, as PyTorch; or
/// merged by <see cref="MergeMode"/>, H features, as Keras' <c>Bidirectional</c>) is the input of layer l + 1, through
/// dropout when it is set. The reverse direction reads the sequence from the
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
    private readonly LayerPass<T> pass;
    private SeededRandom dropoutRandom;
    private bool backwardReady;
    private bool usedLearnedState;
    private readonly PlanCache plans = new();
    private ConcurrentUseGuard guard;

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
    /// <param name="mergeMode">How a bidirectional layer combines its two directions (<see cref="Sequence.MergeMode"/>): concat
    /// (2H features, the default, PyTorch's only mode), sum, mul or ave (H features). Keras: <c>Bidirectional(merge_mode=...)</c>.</param>
    /// <param name="goBackwards">A one-direction stack reads the sequence from its last step to its first and returns
    /// its outputs in that order (each sequence within its own length). Keras: <c>go_backwards</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, a dropout is outside [0, 1), or
    /// <paramref name="mergeMode"/> is not a defined value.</exception>
    /// <exception cref="ArgumentException">A cell's sizes disagree with the layer's; <paramref name="mergeMode"/> is not
    /// concat on a one-direction layer; <paramref name="goBackwards"/> is set on a bidirectional layer.</exception>
    public RecurrentLayer(ParameterBlock<T>? parameters, int inputSize, int hiddenSize, int numLayers, CellFactory<T> cellFactory,
        bool bidirectional = false, double dropout = 0, bool learnInitialState = false, SeededRandom? random = null,
        double recurrentDropout = 0, MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false)
    {
        ArgumentNullException.ThrowIfNull(cellFactory);
        CheckDirectionOptions(bidirectional, mergeMode, goBackwards);
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
        MergeMode = mergeMode;
        GoBackwards = goBackwards;
        Dropout = dropout;
        dropoutRandom = random?.Fork() ?? new SeededRandom(0);
        cells = CellStack.Build(cellFactory, Parameters, numLayers, Directions, inputSize, hiddenSize, Directions == 2 && mergeMode != MergeMode.Concat);

        if (learnInitialState)
        {
            InitialHidden = Parameters.Add("initial_hidden", numLayers * Directions, StateSize);
            InitialCell = HasCellState ? Parameters.Add("initial_cell", numLayers * Directions, hiddenSize) : null;
        }

        ParameterViews = Parameters.Views.Skip(firstView).ToArray();
        pass = new LayerPass<T>(cells, numLayers, Directions, inputSize, hiddenSize, mergeMode);
    }

    /// <summary>How a built-in stack initialises its parameters once its cells are built.</summary>
    private protected enum Initialization
    {
        /// <summary>Every parameter of every cell (<see cref="InitializeUniform"/>).</summary>
        Uniform,

        /// <summary>W_ih and W_hh only (<see cref="InitializeWeights"/>).</summary>
        Weights,
    }

    // The built-in stacks' constructor: the stack as the public constructor builds it, then PyTorch's default
    // initialisation drawn from random (seed 0 when null), after the dropout source was forked from it.
    private protected RecurrentLayer(Initialization initialization, ParameterBlock<T>? parameters, int inputSize, int hiddenSize,
        int numLayers, CellFactory<T> cellFactory, bool bidirectional, double dropout, bool learnInitialState, SeededRandom? random,
        double recurrentDropout, MergeMode mergeMode, bool goBackwards)
        : this(parameters, inputSize, hiddenSize, numLayers, cellFactory, bidirectional, dropout, learnInitialState, random,
            recurrentDropout, mergeMode, goBackwards)
    {
        random ??= new SeededRandom(0);
        if (initialization == Initialization.Uniform)
        {
            InitializeUniform(random);
        }
        else
        {
            InitializeWeights(random);
        }
    }

    // Keras allows go_backwards inside Bidirectional only to build its backward layer, which this layer's reverse
    // direction already is: on a bidirectional layer the option would only swap the directions, so it is refused.
    private static void CheckDirectionOptions(bool bidirectional, MergeMode mergeMode, bool goBackwards)
    {
        if (!Enum.IsDefined(mergeMode))
        {
            throw new ArgumentOutOfRangeException(nameof(mergeMode), mergeMode, "mergeMode must be Concat, Sum, Multiply or Average.");
        }

        if (mergeMode != MergeMode.Concat && !bidirectional)
        {
            throw new ArgumentException(
                $"mergeMode {mergeMode} (Keras merge_mode '{MergeModes.ToKerasName(mergeMode)}') combines the two directions of a bidirectional layer, but bidirectional is false.",
                nameof(mergeMode));
        }

        if (goBackwards && bidirectional)
        {
            throw new ArgumentException(
                "goBackwards (Keras go_backwards) applies to a one-direction layer, but bidirectional is true: its reverse direction already reads the sequence backwards.",
                nameof(goBackwards));
        }
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

    /// <summary>H, the units of each cell (the width of C). PyTorch: <c>hidden_size</c>.</summary>
    public int HiddenSize { get; }

    /// <summary>
    /// H_out, the width of each direction's h(t): <see cref="HiddenSize"/>, or the projection size P of an LSTM with
    /// projections (PyTorch: <c>proj_size</c>).
    /// </summary>
    public int StateSize => cells[0].StateSize;

    /// <summary>L.</summary>
    public int NumLayers { get; }

    /// <summary>D: 2 when bidirectional, else 1.</summary>
    public int Directions { get; }

    /// <summary>The features of each output step: D·H_out, or H_out for a bidirectional layer whose <see cref="MergeMode"/>
    /// is not concat (H_out = <see cref="StateSize"/>).</summary>
    public int OutputSize => Directions == 2 && MergeMode != MergeMode.Concat ? StateSize : Directions * StateSize;

    /// <summary>How the two directions' outputs combine (always <see cref="MergeMode.Concat"/> on a one-direction layer).
    /// Keras: <c>merge_mode</c>.</summary>
    public MergeMode MergeMode { get; }

    /// <summary>Whether the stack reads the sequence from its last step to its first and returns its outputs in that
    /// order. Keras: <c>go_backwards</c>.</summary>
    public bool GoBackwards { get; }

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

    /// <summary>
    /// The configuration entries every layer has, with <c>model</c> = <paramref name="model"/>, then
    /// <paramref name="entries"/> (a layer type's own options).
    /// </summary>
    protected Dictionary<string, string> BaseConfiguration(string model, params ReadOnlySpan<(string Key, string Value)> entries)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var configuration = new Dictionary<string, string>(StringComparer.Ordinal)
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
            ["merge_mode"] = MergeModes.ToKerasName(MergeMode),
            ["go_backwards"] = GoBackwards ? "true" : "false",
        };
        foreach (var (key, value) in entries)
        {
            configuration[key] = value;
        }

        return configuration;
    }

    /// <summary>Whether dropout is active (PyTorch's <c>train()</c> / <c>eval()</c>). Default true.</summary>
    public bool Training { get; set; } = true;

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

    /// <summary>The learned initial h [L·D, H_out], or null.</summary>
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

    /// <summary>
    /// PyTorch's default initialisation of W_ih and W_hh only, U(-1/√H, 1/√H), drawn in parameter order; the cells' other
    /// parameters keep the values their constructors gave them (a layer-normalised cell's gains 1 and biases 0).
    /// </summary>
    protected void InitializeWeights(SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        foreach (var cell in cells)
        {
            Initializers.PyTorchRecurrentDefault(cell.WeightIH, HiddenSize, random);
            if (cell.WeightHH is not null)
            {
                Initializers.PyTorchRecurrentDefault(cell.WeightHH, HiddenSize, random);
            }
        }
    }

    /// <summary>A zero state of this stack for <paramref name="batchSize"/> sequences: h [L·D, batchSize, H_out] and, for
    /// cells with a cell state, C [L·D, batchSize, H].</summary>
    public RecurrentState<T> CreateState(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return new RecurrentState<T>(NumLayers * Directions, batchSize, StateSize, HasCellState ? HiddenSize : 0);
    }

    /// <summary>
    /// The most threads one <see cref="Forward"/> or <see cref="Backward"/> may use (its GEMMs and split time loops),
    /// the calling thread included; null (the default) takes the limit of the caller (a model or trainer that owns the
    /// layer), else the number of processors. Results are bit-identical for every value. PyTorch's
    /// <c>torch.set_num_threads</c> sets one limit for the process; this one is the layer's, as ONNX Runtime's
    /// <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    /// <summary>Whether batch-1 loops may fuse the input projection and dL/dx into the recurrent products (tests compare
    /// both ways; the bits are the same).</summary>
    internal bool FuseProducts { get; set; } = true;

    /// <summary>
    /// What <see cref="Forward"/> and <see cref="Backward"/> will run for a batch of <paramref name="batchSize"/> sequences
    /// of <paramref name="timeSteps"/> steps with the layer's current settings (<see cref="Training"/>,
    /// <see cref="WeightsFrozen"/>, <see cref="MaxDegreeOfParallelism"/>) on this CPU: the loop strategy, threads, chunking
    /// and fusion of every layer and direction. Every plan gives the same bits.
    /// </summary>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="hasSequenceLengths">Whether the call passes lengths with some shorter than T.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public ExecutionPlan Plan(int timeSteps, int batchSize, bool hasSequenceLengths = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return RecurrentPlanner.Plan(cells, Directions, Request(timeSteps, batchSize, hasSequenceLengths));
    }

    private PlanRequest Request(int timeSteps, int batchSize, bool hasSequenceLengths)
        => new(timeSteps, batchSize, MaxDegreeOfParallelism ?? KernelScope.MaxThreads, GemmDriver.ResolvePath(),
            WeightsFrozen, hasSequenceLengths, Training && RecurrentDropout > 0, FuseProducts);

    /// <summary>Runs the stack over a sequence and keeps the activations for <see cref="Backward"/>.</summary>
    /// <param name="input">x, [timeSteps, batchSize, inputSize]. It is copied for <see cref="Backward"/> (read in place
    /// on frozen weights): the caller may reuse it once the call returns.</param>
    /// <param name="output">Receives the top layer's h(t) for every step, [timeSteps, batchSize, <see cref="OutputSize"/>]
    /// (D·H_out, or H_out when two directions merge other than by concat; H_out = <see cref="StateSize"/>). With <see cref="GoBackwards"/>, step t
    /// holds the state after reading steps length-1 down to length-1-t of the input (Keras' order).</param>
    /// <param name="initialState">h(0) (and C(0)) of every layer and direction, [L·D, batchSize, H_out] (and [L·D, batchSize,
    /// hiddenSize]); when null,
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
        using var call = new CallScope(ref guard, this, MaxDegreeOfParallelism);
        (int steps, int batch) = ShapeCheck.RequireSequence(input, InputSize, "layer");
        ArgumentNullException.ThrowIfNull(output);
        if (!output.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(output, [steps, batch, OutputSize], nameof(output), "[timeSteps, batchSize, outputSize]");
        }

        CheckState(initialState, batch, nameof(initialState));
        CheckState(finalState, batch, nameof(finalState));
        PaddedSteps<T>.Validate(sequenceLengths, steps, batch);

        Parameters.Freeze();
        pass.Padding.Set(sequenceLengths, steps, batch, StateSize, HiddenSize);
        bool ring = WeightsFrozen && !pass.Padding.Active;
        pass.Begin(plans.Get(cells, Directions, Request(steps, batch, pass.Padding.Active)), steps, batch, Training && Dropout > 0, Training && RecurrentDropout > 0, Dropout, RecurrentDropout);
        pass.Ring = ring;
        pass.TakeInput(input.Data, steps * batch * InputSize, inPlace: ring && !GoBackwards, reverse: GoBackwards);
        var initial = new StateSource<T>(initialState, InitialHidden, InitialCell, StateSize, HiddenSize);
        usedLearnedState = initial.UsesLearned;
        try
        {
            pass.Forward(dropoutRandom, initial, finalState, Dropout, RecurrentDropout);
        }
        finally
        {
            pass.ReleaseInput();
        }

        pass.LayerOutput(NumLayers - 1).CopyTo(output.AsSpan());
        if (pass.Padding.Active)
        {
            pass.Padding.ZeroPaddedRows(output.AsSpan(), steps, OutputSize);
        }

        backwardReady = !ring;
    }

    /// <summary>
    /// Backpropagates through the sequence of the last <see cref="Forward"/> call and adds every parameter's gradient
    /// to <see cref="ParameterBlock{T}.Gradients"/>.
    /// </summary>
    /// <param name="dOutput">dL/d output, [timeSteps, batchSize, <see cref="OutputSize"/>].</param>
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
        using var call = new CallScope(ref guard, this, MaxDegreeOfParallelism);
        ArgumentNullException.ThrowIfNull(dOutput);
        if (WeightsFrozen)
        {
            throw new InvalidOperationException("The weights are frozen for inference (FreezeWeights); call UnfreezeWeights before training.");
        }

        if (!backwardReady)
        {
            throw new InvalidOperationException("Backward needs a Forward call first; each Forward allows one Backward (its caches are overwritten).");
        }

        int steps = pass.Steps, batch = pass.Batch;
        if (!dOutput.HasShape(steps, batch, OutputSize))
        {
            ShapeCheck.Require(dOutput, [steps, batch, OutputSize], nameof(dOutput), "[timeSteps, batchSize, outputSize] of the forward pass");
        }

        if (dInput is not null && !dInput.HasShape(steps, batch, InputSize))
        {
            ShapeCheck.Require(dInput, [steps, batch, InputSize], nameof(dInput), "[timeSteps, batchSize, inputSize] of the forward pass");
        }

        CheckState(dFinalState, batch, nameof(dFinalState));
        CheckState(dInitialState, batch, nameof(dInitialState));

        backwardReady = false;
        var sink = new StateSink<T>(dInitialState, usedLearnedState ? InitialHidden : null, usedLearnedState ? InitialCell : null, StateSize, HiddenSize);
        pass.Backward(dOutput.Data, dFinalState, dInput?.Data, sink);
        if (GoBackwards && dInput is not null)
        {
            // The stack read the input reversed: put dL/dx back in the input's order.
            pass.Padding.ReverseInPlace(dInput.AsSpan(), steps, InputSize);
        }
    }

    private void CheckState(RecurrentState<T>? state, int batch, string name)
        => state?.Require(NumLayers * Directions, batch, StateSize, HiddenSize, HasCellState, name);
}
