using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Sequence;

/// <summary>
/// One forward pass of a <see cref="RecurrentLayer{T}"/> and its backward pass: the stack of layers and directions,
/// each direction's loop run by the executor its <see cref="DirectionPlan"/> names (<see cref="SerialLoop"/>,
/// <see cref="SplitLoops"/>, <see cref="FusedLoops"/>), and what happens between loops: initial and final states,
/// interleaving or merging both directions' outputs (<see cref="MergeMode"/>), dropout between layers, and the weight
/// gradients over all steps at once.
/// Owns the buffers; sized once per (T, B) and reused.
/// </summary>
internal sealed class LayerPass<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][] outputs, dOutputs, masks;
    private T[] inputCopy = [];

    // dL/dh_d of a merged layer for one direction, [T·B, H] (ave: shared by both; mul: one direction at a time).
    private T[] mergeGradient = [];

    public LayerPass(RecurrentCell<T>[] cells, int numLayers, int directions, int inputSize, int hiddenSize, MergeMode mergeMode)
    {
        Merge = directions == 2 ? mergeMode : MergeMode.Concat;
        Cells = cells;
        NumLayers = numLayers;
        Directions = directions;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        StateSize = cells[0].StateSize;
        Caches = new DirectionCache<T>[cells.Length];
        for (int i = 0; i < cells.Length; i++)
        {
            Caches[i] = new DirectionCache<T>();
        }

        outputs = new T[numLayers][];
        dOutputs = new T[numLayers][];
        masks = new T[numLayers][];
        for (int l = 0; l < numLayers; l++)
        {
            outputs[l] = dOutputs[l] = masks[l] = [];
        }
    }

    public RecurrentCell<T>[] Cells { get; }

    public DirectionCache<T>[] Caches { get; }

    public int NumLayers { get; }

    public int Directions { get; }

    public int InputSize { get; }

    /// <summary>H, the units of every cell (the width of C).</summary>
    public int HiddenSize { get; }

    /// <summary>S, the width of h of every cell (H, or P with projections).</summary>
    public int StateSize { get; }

    /// <summary>How a bidirectional layer's directions combine (<see cref="MergeMode.Concat"/> on one direction).</summary>
    public MergeMode Merge { get; }

    /// <summary>Whether each output row of a layer holds one H-wide block that each direction's gradient reads at column 0
    /// (one direction, or two merged), rather than the direction's half of a concatenated row.</summary>
    private bool OwnColumns => Directions == 1 || Merge != MergeMode.Concat;

    public int OutputSize => Directions == 2 && Merge == MergeMode.Concat ? 2 * StateSize : StateSize;

    public PaddedSteps<T> Padding { get; } = new();

    /// <summary>The plan of the current pass.</summary>
    public ExecutionPlan Plan { get; private set; } = null!;

    public int Steps { get; private set; }

    public int Batch { get; private set; }

    public bool DroppedOut { get; private set; }

    public bool RecurrentDropped { get; private set; }

    /// <summary>The arguments of a split loop's parts.</summary>
    public SplitJob<T> Split { get; } = new();

    /// <summary>The fused tiles of a loop on this thread (<see cref="FusedLoops"/>), made on first use.</summary>
    public FusedTiles<T>? Fused;

    // b_ih (+ b_hh when the cell folds it) of the direction being run.
    public T[] BiasSum = [];

    // dh and dC of steps t and t-1, swapped after each backward step; written by both threads of a split loop.
    public AlignedArray<T> DHiddenA, DHiddenB, DCellA, DCellB, Scratch;

    // The first layer's input for this pass: the copy kept for Backward, or the caller's array on frozen weights.
    private T[] layerInput = [];

    /// <summary>Sizes every buffer for (steps, batch) and takes the pass's plan and flags.</summary>
    public void Begin(ExecutionPlan plan, int steps, int batch, bool droppedOut, bool recurrentDropped, double dropout, double recurrentDropout)
    {
        Plan = plan;
        Steps = steps;
        Batch = batch;
        DroppedOut = droppedOut;
        RecurrentDropped = recurrentDropped;
        int rows = steps * batch, stateSize = batch * StateSize, width = OutputSize, maxGate = 0, scratch = 0;
        Buffers.Grow(ref inputCopy, rows * InputSize);
        for (int i = 0; i < Cells.Length; i++)
        {
            Caches[i].EnsureCapacity(Cells[i], steps, batch, recurrentDropout > 0);
            maxGate = Math.Max(maxGate, Cells[i].GateWidth);
            scratch = Math.Max(scratch, DirectionCache<T>.ScratchWidth(Cells[i]));
        }

        for (int l = 0; l < NumLayers; l++)
        {
            bool last = l == NumLayers - 1;
            if (Directions == 2 || (!last && dropout > 0))
            {
                Buffers.Grow(ref outputs[l], rows * width);
            }

            if (!last)
            {
                Buffers.Grow(ref dOutputs[l], rows * width);
                if (dropout > 0)
                {
                    Buffers.Grow(ref masks[l], rows * width);
                }
            }
        }

        Buffers.Grow(ref DHiddenA, stateSize);
        Buffers.Grow(ref DHiddenB, stateSize);
        if (Cells[0].HasCellState)
        {
            Buffers.Grow(ref DCellA, batch * HiddenSize);
            Buffers.Grow(ref DCellB, batch * HiddenSize);
        }

        Buffers.Grow(ref Scratch, batch * scratch);
        if (Merge is MergeMode.Average or MergeMode.Multiply)
        {
            Buffers.Grow(ref mergeGradient, rows * StateSize);
        }

        Buffers.Grow(ref BiasSum, maxGate);
    }

    /// <summary>Takes the first layer's input: read in place on frozen weights (nothing is kept), else copied for Backward;
    /// with <paramref name="reverse"/>, each sequence's steps in reverse order (<c>go_backwards</c>).</summary>
    public void TakeInput(T[] input, int length, bool inPlace, bool reverse)
    {
        if (inPlace)
        {
            layerInput = input;
            return;
        }

        if (reverse)
        {
            Padding.Reverse(input.AsSpan(0, length), inputCopy, Steps, InputSize);
            layerInput = inputCopy;
            return;
        }

        input.AsSpan(0, length).CopyTo(inputCopy);
        layerInput = inputCopy;
    }

    /// <summary>After the forward pass: Backward reads the copy; the caller's array is not held past the call.</summary>
    public void ReleaseInput() => layerInput = inputCopy;

    /// <summary>The input of layer <paramref name="layer"/>, [T·B, I or the output width].</summary>
    public ReadOnlySpan<T> LayerInput(int layer)
    {
        int rows = Steps * Batch;
        return layer == 0 ? layerInput.AsSpan(0, rows * InputSize) : LayerOutput(layer - 1);
    }

    /// <summary>The output of layer <paramref name="layer"/>, [T·B, <see cref="OutputSize"/>] (D·H, or H merged; after dropout,
    /// which writes in place).</summary>
    public Span<T> LayerOutput(int layer)
    {
        int rows = Steps * Batch;

        // A unidirectional layer that is not dropped out reads straight from its hidden cache (slots 1..T).
        if (Directions == 1 && !(DroppedOut && layer < NumLayers - 1))
        {
            return Caches[layer].Hidden.AsSpan(Batch * StateSize, rows * StateSize);
        }

        return outputs[layer].AsSpan(0, rows * OutputSize);
    }

    /// <summary>The gradient buffer of layer <paramref name="layer"/>'s output (every layer but the top one).</summary>
    public T[] OutputGradient(int layer) => dOutputs[layer];

    /// <summary>The whole stack forward, layer by layer, both directions of each.</summary>
    public void Forward(SeededRandom random, in StateSource<T> initial, RecurrentState<T>? finalState, double dropout, double recurrentDropout)
    {
        int stateSize = Batch * StateSize;
        for (int l = 0; l < NumLayers; l++)
        {
            for (int d = 0; d < Directions; d++)
            {
                int index = l * Directions + d;
                var cell = Cells[index];
                var cache = Caches[index];
                cache.Ring = Ring;
                cache.RecurrentDropout = RecurrentDropped;

                // Initial state: the caller's, the learned one, or zeros; in slot 0 (forward) or slot T (reverse).
                int first = d == 0 ? 0 : Steps;
                initial.Load(index, Batch, cache.HiddenSlot(first), cell.HasCellState ? cache.CellSlot(first) : default);
                if (RecurrentDropped)
                {
                    DrawMask(cache.RecurrentMask.AsSpan(0, stateSize), recurrentDropout, random);
                }

                PrepareBias(cell);
                cell.PackInputWeights();
                cell.PrepareWeights(backward: false);
                try
                {
                    RunForward(index, l, d);
                }
                finally
                {
                    cell.ReleaseWeights();
                }

                if (finalState is not null)
                {
                    int last = d == 0 ? Steps : 0;
                    cache.HiddenSlot(last).CopyTo(finalState.Hidden.Step(index));
                    if (cell.HasCellState)
                    {
                        cache.CellSlot(last).CopyTo(finalState.Cell!.Step(index));
                    }
                }
            }

            if (Directions == 2)
            {
                if (Merge == MergeMode.Concat)
                {
                    Interleave(l);
                }
                else
                {
                    MergeOutputs(l);
                }
            }

            if (DroppedOut && l < NumLayers - 1)
            {
                ApplyDropout(l, dropout, random);
            }
        }
    }

    /// <summary>Whether this pass keeps nothing for Backward (frozen weights, no sequence lengths).</summary>
    public bool Ring { get; set; }

    // Runs direction index's forward loop by its plan; an executor that finds the threads busy falls through to the next.
    private void RunForward(int index, int layer, int direction)
    {
        var plan = Plan.Directions[index];
        ReadOnlySpan<T> x = LayerInput(layer);
        bool done = plan.Forward switch
        {
            LoopStrategy.BatchSplit => SplitLoops.ForwardBatchSplit(this, index, layer, plan.ForwardThreads),
            LoopStrategy.UnitSplit when plan.FusedProjection => FusedLoops.ForwardUnitSplit(this, index, layer, x, plan.ForwardThreads),
            _ when plan.FusedProjection => FusedLoops.ForwardSerial(this, index, x),
            _ => false,
        };

        if (!done)
        {
            SerialLoop.Forward(this, index, x, plan.ProjectionChunkSteps, plan.Forward == LoopStrategy.UnitSplit ? plan.ForwardThreads : 1);
        }
    }

    /// <summary>The whole stack backward, top layer first, and every weight gradient.</summary>
    public void Backward(T[] dOutput, RecurrentState<T>? dFinalState, T[]? dInput, in StateSink<T> dInitial)
    {
        int rows = Steps * Batch, width = OutputSize, stateSize = Batch * StateSize;
        for (int l = NumLayers - 1; l >= 0; l--)
        {
            T[] dOut = l == NumLayers - 1 ? dOutput : dOutputs[l];
            T[]? dX = l > 0 ? dOutputs[l - 1] : dInput;
            for (int d = 0; d < Directions; d++)
            {
                int index = l * Directions + d;
                var cell = Cells[index];
                var plan = Plan.Directions[index];
                Caches[index].Ring = false;
                LoadFinalGradient(index, dFinalState);
                cell.PrepareWeights(backward: true);
                int fusedRows = 0;
                try
                {
                    T[] dOutD = DirectionGradient(dOut, l, d);
                    if (plan.Backward != LoopStrategy.UnitSplit || !SplitLoops.BackwardUnitSplit(this, index, dOutD, plan.BackwardThreads))
                    {
                        fusedRows = SerialLoop.Backward(this, index, dOutD, plan.FusedInputGradient ? dX : null);
                    }
                }
                finally
                {
                    cell.ReleaseWeights();
                }

                // Every loop swaps dh(t) and dh(t-1) once per step: after an odd number of steps dh(0) is in B.
                bool inB = Steps % 2 == 1;
                dInitial.Store(index, Batch, (inB ? DHiddenB : DHiddenA).AsSpan(0, stateSize),
                    cell.HasCellState ? (inB ? DCellB : DCellA).AsSpan(0, Batch * HiddenSize) : default);
                WeightGradients(index, layer: l, dX, fusedRows);
            }

            if (l > 0 && DroppedOut)
            {
                Span<T> below = dOutputs[l - 1].AsSpan(0, rows * width);
                TP.Multiply<T>(below, masks[l - 1].AsSpan(0, rows * width), below);
            }
        }
    }

    // dh(T) and dC(T) of direction index: the caller's, or zero.
    private void LoadFinalGradient(int index, RecurrentState<T>? dFinalState)
    {
        int stateSize = Batch * StateSize;
        Span<T> dh = DHiddenA.AsSpan(0, stateSize);
        Span<T> dc = Cells[index].HasCellState ? DCellA.AsSpan(0, Batch * HiddenSize) : default;
        if (dFinalState is null)
        {
            dh.Clear();
            dc.Clear();
            return;
        }

        dFinalState.Hidden.Step(index).CopyTo(dh);
        if (!dc.IsEmpty)
        {
            dFinalState.Cell!.Step(index).CopyTo(dc);
        }
    }

    /// <summary>dh += dL/d output(t) of direction d (columns d·H .. (d+1)·H of each row of a concatenated output; the whole
    /// row of one direction's or a merged layer's direction gradient), units [u0, u1) (all when u1 is negative).</summary>
    public void AddOutputGradient(ReadOnlySpan<T> dOut, int t, int direction, Span<T> dh, int u0 = 0, int u1 = -1)
    {
        int h = StateSize, batch = Batch;
        bool own = OwnColumns;
        if (u1 < 0 && own)
        {
            TP.Add<T>(dh, dOut.Slice(t * batch * h, batch * h), dh);
            return;
        }

        int width = own ? h : 2 * h, first = own ? u0 : direction * h + u0;
        u1 = u1 < 0 ? h : u1;
        for (int b = 0; b < batch; b++)
        {
            Span<T> row = dh.Slice(b * h + u0, u1 - u0);
            TP.Add<T>(row, dOut.Slice((t * batch + b) * width + first, u1 - u0), row);
        }
    }

    // The gradient direction d of layer l reads: dOut itself (one direction, concat, sum), dOut / 2 (ave, made once for
    // both directions), or dOut ⊙ the other direction's h (mul: ∂(h_f ⊙ h_r)/∂h_f = h_r).
    private T[] DirectionGradient(T[] dOut, int layer, int direction)
    {
        int count = Steps * Batch * StateSize;
        switch (Merge)
        {
            case MergeMode.Average:
                if (direction == 0)
                {
                    TP.Multiply(dOut.AsSpan(0, count), T.CreateTruncating(0.5), mergeGradient.AsSpan(0, count));
                }

                return mergeGradient;
            case MergeMode.Multiply:
                TP.Multiply<T>(dOut.AsSpan(0, count), MergedHidden(layer, 1 - direction), mergeGradient.AsSpan(0, count));
                return mergeGradient;
            default:
                return dOut;
        }
    }

    // h_d(t) of layer l for t = 0..T-1, [T·B, H]: slots 1..T forward, 0..T-1 reverse (each aligned with input step t).
    private ReadOnlySpan<T> MergedHidden(int layer, int direction)
    {
        int stateSize = Batch * StateSize;
        return Caches[layer * 2 + direction].Hidden.AsSpan(direction == 0 ? stateSize : 0, Steps * stateSize);
    }

    // outputs[l][t, b] = h_f(t) + h_r(t), h_f(t) ⊙ h_r(t) or (h_f(t) + h_r(t)) · ½: one vector pass over all steps.
    private void MergeOutputs(int layer)
    {
        Span<T> output = outputs[layer].AsSpan(0, Steps * Batch * StateSize);
        ReadOnlySpan<T> forward = MergedHidden(layer, 0), reverse = MergedHidden(layer, 1);
        if (Merge == MergeMode.Multiply)
        {
            TP.Multiply(forward, reverse, output);
            return;
        }

        TP.Add(forward, reverse, output);
        if (Merge == MergeMode.Average)
        {
            TP.Multiply(output, T.CreateTruncating(0.5), output);
        }
    }

    // After a direction's backward loop: dW_ih, db_ih, dW_hh, db_hh over all steps at once, and dX += dGates·W_ih (less the
    // rows the loop's fused products computed: the first fusedRows in reading order).
    private void WeightGradients(int index, int layer, T[]? dX, int fusedRows)
    {
        var cell = Cells[index];
        var cache = Caches[index];
        int rows = Steps * Batch, gw = cell.GateWidth, h = StateSize, direction = index % Directions;
        ReadOnlySpan<T> x = LayerInput(layer);
        ReadOnlySpan<T> dGates = cache.Gates.AsSpan(0, rows * gw);
        Gemm.MultiplyTransposeA(dGates, x, cell.WeightIH.Gradients, gw, rows, cell.InputSize, accumulate: true);
        if (cell.BiasIH is not null)
        {
            Elementwise.AddColumnSums(dGates, rows, gw, cell.BiasIH.Gradients);
        }

        ReadOnlySpan<T> dRecurrent = cell.HasSeparateRecurrentGradient ? cache.RecurrentGradient.AsSpan(0, rows * gw) : dGates;
        int stateSize = Batch * h, hiddenPrevSlot = direction == 0 ? 0 : 1;
        cell.AccumulateRecurrentGradients(dRecurrent,
            RecurrentDropped ? cache.RecurrentInputs.AsSpan(0, rows * h) : cache.Hidden.AsSpan(hiddenPrevSlot * stateSize, rows * h),
            cache.StepCache.AsSpan(0, rows * cell.StepCacheWidth), rows);

        if (dX is not null)
        {
            int left = rows - fusedRows, start = direction == 0 ? 0 : fusedRows, inputSize = cell.InputSize;
            if (left > 0)
            {
                Gemm.Multiply<T>(dGates.Slice(start * gw, left * gw), cell.WeightIH.Values, dX.AsSpan(start * inputSize, left * inputSize),
                    left, gw, inputSize, accumulate: direction > 0);
            }
        }
    }

    /// <summary>b = b_ih (+ b_hh when the cell folds it) of <paramref name="cell"/>, for its input projections.</summary>
    private void PrepareBias(RecurrentCell<T> cell)
    {
        if (cell.BiasIH is null)
        {
            return;
        }

        Span<T> bias = BiasSum.AsSpan(0, cell.GateWidth);
        cell.BiasIH.Values.CopyTo(bias);
        if (cell.FoldsRecurrentBias)
        {
            TP.Add(bias, cell.BiasHH!.Values, bias);
        }
    }

    /// <summary>gates[rows gateRow .. gateRow + count) = b + X·W_ihᵀ on rows [first, first + count) of X.</summary>
    public void ProjectInputs(RecurrentCell<T> cell, ReadOnlySpan<T> x, Span<T> gates, int first, int gateRow, int count)
    {
        int gw = cell.GateWidth, inputSize = cell.InputSize;
        ReadOnlySpan<T> xs = x.Slice(first * inputSize, count * inputSize);
        Span<T> g = gates.Slice(gateRow * gw, count * gw);
        bool bias = cell.BiasIH is not null;
        if (bias)
        {
            Elementwise.BroadcastRows<T>(BiasSum.AsSpan(0, gw), count, g);
        }

        Gemm.Compute(false, count, gw, inputSize, xs, inputSize, cell.PackedInputWeights, g, gw, accumulate: bias);
    }

    /// <summary>One forward step of direction <paramref name="index"/> on the calling thread.</summary>
    public void ForwardStep(int index, int t, FusedTiles<T>? fused = null)
    {
        var cell = Cells[index];
        var cache = Caches[index];
        int direction = index % Directions, stateSize = Batch * StateSize;
        if (RecurrentDropped)
        {
            // W_hh sees h(t-1) ⊙ m; keep it for the backward pass and the weight gradient.
            int prevSlot = direction == 0 ? t : t + 1;
            TP.Multiply<T>(cache.HiddenSlot(prevSlot), cache.RecurrentMask.AsSpan(0, stateSize),
                cache.RecurrentInputs.AsSpan(t * stateSize, stateSize));
        }

        cell.Forward(cache.Step(cell, t, Batch, direction, backward: false, default, Scratch.AsSpan(), fused));
        if (Padding.Active)
        {
            Padding.CarryState(cache, cell.HasCellState, t, direction);
        }
    }

    // outputs[l][t, b, d·H .. (d+1)·H] = h_d(t) for both directions.
    private void Interleave(int layer)
    {
        int h = StateSize, width = OutputSize, stateSize = Batch * h;
        Span<T> output = outputs[layer];
        for (int d = 0; d < 2; d++)
        {
            var cache = Caches[layer * 2 + d];
            for (int t = 0; t < Steps; t++)
            {
                Span<T> hidden = cache.HiddenSlot(d == 0 ? t + 1 : t);
                for (int b = 0; b < Batch; b++)
                {
                    hidden.Slice(b * h, h).CopyTo(output.Slice((t * Batch + b) * width + d * h, h));
                }
            }
        }
    }

    // Inverted dropout: keep with probability 1 - p and scale by 1 / (1 - p).
    private static void DrawMask(Span<T> mask, double probability, SeededRandom random)
    {
        T keep = T.CreateTruncating(1 / (1 - probability));
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = random.NextDouble() < probability ? T.Zero : keep;
        }
    }

    // Dropout on the output of layer l.
    private void ApplyDropout(int layer, double dropout, SeededRandom random)
    {
        int count = Steps * Batch * OutputSize;
        Span<T> mask = masks[layer].AsSpan(0, count);
        DrawMask(mask, dropout, random);

        Span<T> output = outputs[layer].AsSpan(0, count);
        if (Directions == 1)
        {
            Caches[layer].Hidden.AsSpan(Batch * StateSize, count).CopyTo(output);
        }

        TP.Multiply<T>(output, mask, output);
    }
}
