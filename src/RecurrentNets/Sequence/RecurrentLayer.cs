using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Sequence;

/// <summary>Creates the cell of one stacked layer.</summary>
/// <param name="block">The parameter block the cell adds its parameters to.</param>
/// <param name="layer">The layer index l (0 is the bottom).</param>
/// <param name="inputSize">The cell's input width: the layer's input size for l = 0, the hidden size above.</param>
/// <param name="nameSuffix">The PyTorch parameter-name suffix, e.g. <c>_l1</c>.</param>
public delegate RecurrentCell<T> CellFactory<T>(ParameterBlock<T> block, int layer, int inputSize, string nameSuffix)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// The backprop-through-time engine: runs a stack of recurrent cells over a time-major sequence
/// [timeSteps, batchSize, inputSize], keeps every step's activations in a cache, and walks it back in reverse.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize, I = inputSize, H = hiddenSize, L = numLayers, G = gates.</para>
/// <para>
/// Per layer, the input projection of all steps is one GEMM before the loop (X[T·B, I]·W_ihᵀ); only h·W_hhᵀ stays
/// inside it. After the backward loop, dW_ih, dW_hh, the biases and dX are one GEMM (or one column sum) each over
/// all T·B rows. The output sequence of layer l is the input of layer l + 1. Gradients accumulate into the
/// parameter block's gradient storage.
/// </para>
/// <para>
/// Caches are sized on the first call for a (T, B) and reused: after that, neither <see cref="Forward"/> nor
/// <see cref="Backward"/> allocates. For truncated BPTT, call them once per window and hand the final state of one
/// window to the next as its initial state (a value: no gradient crosses the window boundary); see
/// <see cref="TruncatedBptt{T}"/>.
/// </para>
/// <para>Not thread-safe: one layer runs one sequence batch at a time.</para>
/// </remarks>
public class RecurrentLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentCell<T>[] cells;
    private readonly LayerCache[] caches;
    private T[] inputCopy = [];
    private T[] dHiddenA = [], dHiddenB = [], dCellA = [], dCellB = [], scratch = [], biasSum = [];
    private int cachedSteps, cachedBatch;
    private bool backwardReady;

    /// <summary>Builds a stack of <paramref name="numLayers"/> cells made by <paramref name="cellFactory"/>.</summary>
    /// <param name="parameters">The block the cells add their parameters to (a new one when null).</param>
    /// <param name="inputSize">I, the features of each input step. PyTorch: <c>input_size</c>.</param>
    /// <param name="hiddenSize">H, the units of every layer. PyTorch: <c>hidden_size</c>.</param>
    /// <param name="numLayers">L, the stacked layers. PyTorch: <c>num_layers</c>.</param>
    /// <param name="cellFactory">Makes the cell of each layer; a user-written cell runs in the same engine.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    /// <exception cref="ArgumentException">A cell's sizes disagree with the layer's.</exception>
    public RecurrentLayer(ParameterBlock<T>? parameters, int inputSize, int hiddenSize, int numLayers, CellFactory<T> cellFactory)
    {
        ArgumentNullException.ThrowIfNull(cellFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1);
        Parameters = parameters ?? new ParameterBlock<T>();
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        cells = new RecurrentCell<T>[numLayers];
        caches = new LayerCache[numLayers];
        for (int l = 0; l < numLayers; l++)
        {
            int cellInput = l == 0 ? inputSize : hiddenSize;
            var cell = cellFactory(Parameters, l, cellInput, $"_l{l}");
            if (cell.InputSize != cellInput || cell.HiddenSize != hiddenSize)
            {
                throw new ArgumentException(
                    $"The cell of layer {l} has inputSize {cell.InputSize} and hiddenSize {cell.HiddenSize} but the layer needs {cellInput} and {hiddenSize}.",
                    nameof(cellFactory));
            }

            if (l > 0 && cell.HasCellState != cells[0].HasCellState)
            {
                throw new ArgumentException("Every layer's cell must agree on whether it has a cell state.", nameof(cellFactory));
            }

            cells[l] = cell;
            caches[l] = new LayerCache();
        }
    }

    /// <summary>The block holding every parameter and gradient of the stack.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>L.</summary>
    public int NumLayers { get; }

    /// <summary>The cell of each layer, bottom first.</summary>
    public IReadOnlyList<RecurrentCell<T>> Cells => cells;

    /// <summary>Whether the state includes a cell state C.</summary>
    public bool HasCellState => cells[0].HasCellState;

    /// <summary>A zero state of this stack's shape for <paramref name="batchSize"/> sequences.</summary>
    public RecurrentState<T> CreateState(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return new RecurrentState<T>(NumLayers, batchSize, HiddenSize, HasCellState);
    }

    /// <summary>Runs the stack over a sequence and keeps the activations for <see cref="Backward"/>.</summary>
    /// <param name="input">x, [timeSteps, batchSize, inputSize]. It is copied: the caller may reuse it at once.</param>
    /// <param name="output">Receives the top layer's h(t) for every step, [timeSteps, batchSize, hiddenSize].</param>
    /// <param name="initialState">h(0) (and C(0)) of every layer, [numLayers, batchSize, hiddenSize]; zeros when null.</param>
    /// <param name="finalState">Receives h(T) (and C(T)) of every layer, when given. It may be the same object as
    /// <paramref name="initialState"/> (state carried in place).</param>
    /// <exception cref="ArgumentException">A shape disagrees; the message names the argument and both shapes.
    /// Nothing is written before all checks pass.</exception>
    public void Forward(Tensor<T> input, Tensor<T> output, RecurrentState<T>? initialState = null, RecurrentState<T>? finalState = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        if (input.Rank != 3)
        {
            throw new ArgumentException($"input has shape {Tensor<T>.FormatShape(input.Shape)} but a sequence [timeSteps, batchSize, inputSize] is expected.", nameof(input));
        }

        int steps = input.Size(0), batch = input.Size(1);
        if (input.Size(2) != InputSize)
        {
            throw new ArgumentException($"input has {input.Size(2)} features (shape {Tensor<T>.FormatShape(input.Shape)}) but the layer expects {InputSize} (inputSize).", nameof(input));
        }

        ShapeCheck.Require(output, [steps, batch, HiddenSize], nameof(output), "[timeSteps, batchSize, hiddenSize]");
        CheckState(initialState, batch, nameof(initialState));
        CheckState(finalState, batch, nameof(finalState));

        Parameters.Freeze();
        EnsureCapacity(steps, batch);
        int rows = steps * batch, h = HiddenSize, stateSize = batch * h;
        input.AsSpan().CopyTo(inputCopy);

        for (int l = 0; l < NumLayers; l++)
        {
            var cell = cells[l];
            var cache = caches[l];
            int gw = cell.GateWidth;
            ReadOnlySpan<T> x = l == 0 ? inputCopy.AsSpan(0, rows * InputSize) : caches[l - 1].Hidden.AsSpan(stateSize, rows * h);
            Span<T> gates = cache.Gates.AsSpan(0, rows * gw);

            // Input projection of all steps at once: gates = b + X·W_ihᵀ.
            if (cell.BiasIH is not null)
            {
                Span<T> bias = biasSum.AsSpan(0, gw);
                cell.BiasIH.Values.CopyTo(bias);
                if (cell.FoldsRecurrentBias)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(bias, cell.BiasHH!.Values, bias);
                }

                Elementwise.BroadcastRows<T>(bias, rows, gates);
                Gemm.MultiplyTransposeB(x, cell.WeightIH.Values, gates, rows, cell.InputSize, gw, accumulate: true);
            }
            else
            {
                Gemm.MultiplyTransposeB(x, cell.WeightIH.Values, gates, rows, cell.InputSize, gw);
            }

            // Initial state: the caller's, else zeros.
            Span<T> h0 = cache.Hidden.AsSpan(0, stateSize);
            Span<T> c0 = cell.HasCellState ? cache.Cell.AsSpan(0, stateSize) : default;
            if (initialState is null)
            {
                h0.Clear();
                c0.Clear();
            }
            else
            {
                initialState.Hidden.Step(l).CopyTo(h0);
                if (cell.HasCellState)
                {
                    initialState.Cell!.Step(l).CopyTo(c0);
                }
            }

            for (int t = 0; t < steps; t++)
            {
                cell.Forward(StepView(cell, cache, t, batch, backward: false));
            }

            if (finalState is not null)
            {
                cache.Hidden.AsSpan(steps * stateSize, stateSize).CopyTo(finalState.Hidden.Step(l));
                if (cell.HasCellState)
                {
                    cache.Cell.AsSpan(steps * stateSize, stateSize).CopyTo(finalState.Cell!.Step(l));
                }
            }
        }

        caches[NumLayers - 1].Hidden.AsSpan(stateSize, rows * h).CopyTo(output.AsSpan());
        cachedSteps = steps;
        cachedBatch = batch;
        backwardReady = true;
    }

    /// <summary>
    /// Backpropagates through the sequence of the last <see cref="Forward"/> call and adds every parameter's gradient
    /// to <see cref="ParameterBlock{T}.Gradients"/>.
    /// </summary>
    /// <param name="dOutput">dL/d output, [timeSteps, batchSize, hiddenSize].</param>
    /// <param name="dFinalState">dL/d h(T) (and C(T)) of every layer, when the loss reads the final state; null for none.</param>
    /// <param name="dInput">Receives (overwritten) dL/dx, [timeSteps, batchSize, inputSize], when given.</param>
    /// <param name="dInitialState">Receives (overwritten) dL/d h(0) (and C(0)), when given.</param>
    /// <exception cref="InvalidOperationException">No forward pass is waiting for its backward pass.</exception>
    /// <exception cref="ArgumentException">A shape disagrees with the forward pass.</exception>
    public void Backward(Tensor<T> dOutput, RecurrentState<T>? dFinalState = null, Tensor<T>? dInput = null, RecurrentState<T>? dInitialState = null)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (!backwardReady)
        {
            throw new InvalidOperationException("Backward needs a Forward call first; each Forward allows one Backward (its caches are overwritten).");
        }

        int steps = cachedSteps, batch = cachedBatch;
        ShapeCheck.Require(dOutput, [steps, batch, HiddenSize], nameof(dOutput), "[timeSteps, batchSize, hiddenSize] of the forward pass");
        if (dInput is not null)
        {
            ShapeCheck.Require(dInput, [steps, batch, InputSize], nameof(dInput), "[timeSteps, batchSize, inputSize] of the forward pass");
        }

        CheckState(dFinalState, batch, nameof(dFinalState));
        CheckState(dInitialState, batch, nameof(dInitialState));

        backwardReady = false;
        int rows = steps * batch, h = HiddenSize, stateSize = batch * h;
        for (int l = NumLayers - 1; l >= 0; l--)
        {
            var cell = cells[l];
            var cache = caches[l];
            int gw = cell.GateWidth;
            ReadOnlySpan<T> dOut = l == NumLayers - 1 ? dOutput.AsSpan() : cache.DOutput.AsSpan(0, rows * h);

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
                dFinalState.Hidden.Step(l).CopyTo(dh);
                if (cell.HasCellState)
                {
                    dFinalState.Cell!.Step(l).CopyTo(dc);
                }
            }

            // Reverse time loop carrying dh (and dC); each step turns its cache slot into dGates.
            for (int t = steps - 1; t >= 0; t--)
            {
                System.Numerics.Tensors.TensorPrimitives.Add<T>(dh, dOut.Slice(t * stateSize, stateSize), dh);
                var step = StepView(cell, cache, t, batch, backward: true, dh, dhNext, dc, dcNext);
                cell.Backward(step);
                var swap = dh;
                dh = dhNext;
                dhNext = swap;
                swap = dc;
                dc = dcNext;
                dcNext = swap;
            }

            if (dInitialState is not null)
            {
                dh.CopyTo(dInitialState.Hidden.Step(l));
                if (cell.HasCellState)
                {
                    dc.CopyTo(dInitialState.Cell!.Step(l));
                }
            }

            // Weight gradients over all steps at once.
            ReadOnlySpan<T> x = l == 0 ? inputCopy.AsSpan(0, rows * InputSize) : caches[l - 1].Hidden.AsSpan(stateSize, rows * h);
            ReadOnlySpan<T> dGates = cache.Gates.AsSpan(0, rows * gw);
            Gemm.MultiplyTransposeA(dGates, x, cell.WeightIH.Gradients, gw, rows, cell.InputSize, accumulate: true);
            if (cell.BiasIH is not null)
            {
                Elementwise.AddColumnSums(dGates, rows, gw, cell.BiasIH.Gradients);
            }

            ReadOnlySpan<T> dRecurrent = cell.HasSeparateRecurrentGradient ? cache.RecurrentGradient.AsSpan(0, rows * gw) : dGates;
            cell.AccumulateRecurrentGradients(dRecurrent, cache.Hidden.AsSpan(0, rows * h),
                cache.StepCache.AsSpan(0, rows * cell.StepCacheWidth), rows);

            // dX = dGates·W_ih: the output gradient of the layer below, or the caller's dInput.
            if (l > 0)
            {
                Gemm.Multiply<T>(dGates, cell.WeightIH.Values, caches[l - 1].DOutput.AsSpan(0, rows * h), rows, gw, h);
            }
            else if (dInput is not null)
            {
                Gemm.Multiply<T>(dGates, cell.WeightIH.Values, dInput.AsSpan(), rows, gw, InputSize);
            }
        }
    }

    private CellStep<T> StepView(RecurrentCell<T> cell, LayerCache cache, int t, int batch, bool backward,
        Span<T> dh = default, Span<T> dhPrev = default, Span<T> dc = default, Span<T> dcPrev = default)
    {
        int gw = cell.GateWidth, stateSize = batch * HiddenSize, e = cell.StepCacheWidth;
        Span<T> gates = cache.Gates.AsSpan(t * batch * gw, batch * gw);
        Span<T> recurrent = backward && cell.HasSeparateRecurrentGradient ? cache.RecurrentGradient.AsSpan(t * batch * gw, batch * gw) : gates;
        Span<T> cPrev = default, c = default;
        if (cell.HasCellState)
        {
            cPrev = cache.Cell.AsSpan(t * stateSize, stateSize);
            c = cache.Cell.AsSpan((t + 1) * stateSize, stateSize);
        }

        return new CellStep<T>(batch, gates, recurrent,
            cache.Hidden.AsSpan(t * stateSize, stateSize), cache.Hidden.AsSpan((t + 1) * stateSize, stateSize),
            cPrev, c, cache.StepCache.AsSpan(t * batch * e, batch * e),
            dh, dhPrev, dc, dcPrev, scratch.AsSpan(0, batch * (gw + HiddenSize)));
    }

    private void CheckState(RecurrentState<T>? state, int batch, string name)
    {
        if (state is null)
        {
            return;
        }

        // The argument names are built only on failure: the check runs on every step of a training loop.
        if (!state.Hidden.HasShape(NumLayers, batch, HiddenSize))
        {
            ShapeCheck.Require(state.Hidden, [NumLayers, batch, HiddenSize], name + ".Hidden", "[numLayers, batchSize, hiddenSize]");
        }

        if (HasCellState)
        {
            if (state.Cell is null)
            {
                throw new ArgumentException($"{name} has no cell state but the layer's cells need one.", name);
            }

            if (!state.Cell.HasShape(NumLayers, batch, HiddenSize))
            {
                ShapeCheck.Require(state.Cell, [NumLayers, batch, HiddenSize], name + ".Cell", "[numLayers, batchSize, hiddenSize]");
            }
        }
    }

    private void EnsureCapacity(int steps, int batch)
    {
        int rows = steps * batch, h = HiddenSize, stateSize = batch * h;
        int maxGate = 0;
        Grow(ref inputCopy, rows * InputSize);
        for (int l = 0; l < NumLayers; l++)
        {
            var cell = cells[l];
            var cache = caches[l];
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
            if (l < NumLayers - 1)
            {
                Grow(ref cache.DOutput, rows * h);
            }
        }

        Grow(ref dHiddenA, stateSize);
        Grow(ref dHiddenB, stateSize);
        if (HasCellState)
        {
            Grow(ref dCellA, stateSize);
            Grow(ref dCellB, stateSize);
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

    private sealed class LayerCache
    {
        public T[] Gates = [];
        public T[] RecurrentGradient = [];
        public T[] Hidden = [];
        public T[] Cell = [];
        public T[] StepCache = [];
        public T[] DOutput = [];
    }
}
