using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

/// <summary>
/// A read-only snapshot of a <see cref="SequenceModel{T}"/> for serving: weights copied and packed once, shared by every
/// caller, and every method safe to call from any number of threads at once (ONNX Runtime's <c>InferenceSession</c>,
/// ML.NET's <c>PredictionEnginePool</c>). Create one with <see cref="SequenceModel{T}.Freeze"/> or <see cref="Load"/>.
/// Legend: T = steps, B = batch, I = <see cref="InputSize"/>, O = <see cref="OutputSize"/>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Two ways to run it: <see cref="Predict(SequenceBatch{T})"/> on whole sequences, and streams
/// (<see cref="CreateStream"/>, <see cref="Step(ModelStream{T}, ReadOnlySpan{T}, Span{T})"/>) that feed one step at a time
/// and keep their own state, for a service where each client sends its steps as they come. Each call takes a workspace
/// from a pool and returns it, so after warm-up a call allocates nothing (but <see cref="Predict(SequenceBatch{T})"/>'s
/// result tensor).</para>
/// <para>Every product runs on the packed weights, whose kernels compute each output row with the same operations in the
/// same order whatever the number of rows and threads. So the output of one sequence has the same bits whether it runs
/// alone, in a batch of any size, step by step in a stream, or in a <see cref="Serving.StreamBatcher{T}"/> beside other
/// streams, on any thread. It agrees with the source model's <see cref="SequenceModel{T}.Predict(SequenceBatch{T})"/> to
/// rounding (the engine may take other kernel paths for small batches).</para>
/// <para>The snapshot does not follow the source model: train it further and freeze again. Dropout is off. Custom layers,
/// time-delay layers and cells written outside this library are not supported (they may keep buffers of their own);
/// bidirectional layers run in <see cref="Predict(SequenceBatch{T})"/> but not in streams.</para>
/// </remarks>
public sealed class FrozenModel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SequenceModel<T> model;
    private readonly FrozenOp[] ops;
    private readonly Embedding<T>? embedding;
    private readonly bool oneHot;
    private readonly Pool pool;
    private readonly int maxWidth;
    private readonly int maxGateWidth;
    private readonly int maxHidden;
    private readonly int maxStepCache;
    private readonly int maxSlots = 1;
    private int maxThreads; // 0: null

    internal FrozenModel(SequenceModel<T> source)
    {
        if (source.Layers.Count == 0)
        {
            throw new InvalidOperationException("The model has no layer: Add one first.");
        }

        // A private copy of the architecture and the weights: the source may train on while this one serves.
        model = new SequenceModel<T>(source.InputSize, source.Seed);
        int offset = source.TokenInput ? 1 : 0;
        var architecture = source.Architecture;
        for (int i = 0; i < architecture.Count; i++)
        {
            var spec = architecture[i];
            if (spec is CustomSpec or TimeDelaySpec)
            {
                throw new NotSupportedException($"Layer {i - offset} ('{spec.Name}') is a {(spec is CustomSpec ? "custom" : "time-delay")} layer: a frozen model runs only the built-in embedding, recurrent, dropout, linear and reduction layers.");
            }

            model.Add(spec);
        }

        model.Parameters.CopyFrom(source.Parameters);
        foreach (var (key, value) in source.Metadata)
        {
            model.Metadata[key] = value;
        }

        model.Training = false;
        embedding = model.Embedding;
        oneHot = model.TokenInput && embedding is null;
        maxWidth = model.Embedding?.EmbeddingDim ?? model.InputSize;
        var list = new List<FrozenOp>();
        int stateSize = 0;
        foreach (var layer in model.Layers)
        {
            maxWidth = Math.Max(maxWidth, layer.OutputSize);
            switch (layer)
            {
                case RecurrentAdapter<T> recurrent:
                    var op = new RecurrentOp(recurrent.Layer, stateSize);
                    if (op.Layer.Cells.Any(c => !c.RowsAreIndependent))
                    {
                        throw new NotSupportedException("A recurrent layer has a cell written outside this library: a frozen model runs only the built-in LSTM, GRU and RNN cells.");
                    }

                    stateSize += op.StateSize;
                    maxGateWidth = Math.Max(maxGateWidth, op.Layer.Cells.Max(c => c.GateWidth));
                    maxHidden = Math.Max(maxHidden, op.Layer.HiddenSize);
                    maxStepCache = Math.Max(maxStepCache, op.Layer.Cells.Max(c => c.StepCacheWidth));
                    maxSlots = Math.Max(maxSlots, op.Layer.NumLayers * op.Layer.Directions);
                    list.Add(op);
                    CanStream &= op.Layer.Directions == 1 && !op.Layer.GoBackwards;
                    break;
                case LinearAdapter<T> linear:
                    list.Add(new LinearOp(linear.Linear));
                    break;
                case ReduceAdapter<T> reduce:
                    var r = new ReduceOp(reduce.InputSize, reduce.Reduction, reduce.Directions, stateSize);
                    stateSize += r.StateSize;
                    list.Add(r);
                    break;
                case DropoutAdapter<T>:
                    break;
                default:
                    throw new NotSupportedException($"A frozen model cannot run a {layer.GetType().Name}.");
            }
        }

        ops = [.. list];
        StateSize = stateSize;
        pool = new Pool(this);
        MaxDegreeOfParallelism = source.MaxDegreeOfParallelism;
    }

    /// <summary>
    /// The most threads one call (<see cref="Predict(SequenceBatch{T})"/>, <see cref="Step(ModelStream{T}, ReadOnlySpan{T}, Span{T})"/>)
    /// may use, the calling thread included; null takes the limit of the calling thread (all processors unless an
    /// enclosing call set one). <see cref="SequenceModel{T}.Freeze"/> copies the source model's value; a
    /// <see cref="Serving.StreamBatcher{T}"/> with one worker uses it for its batches. The bits of every output are the
    /// same for every value. ONNX Runtime: <c>SessionOptions.intra_op_num_threads</c>, a session's limit (PyTorch's
    /// <c>torch.set_num_threads</c> is the process's).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism
    {
        get => Volatile.Read(ref maxThreads) is int n and > 0 ? n : null;
        set => Volatile.Write(ref maxThreads, KernelScope.Validate(value) ?? 0);
    }

    /// <summary>Features per step, or the vocabulary size when the model reads tokens.</summary>
    public int InputSize => model.InputSize;

    /// <summary>O, the outputs per step (or per sequence after a reduction).</summary>
    public int OutputSize => model.OutputSize;

    /// <summary>Whether the model reads tokens (its first layer is an embedding or a one-hot encoding).</summary>
    public bool TokenInput => model.TokenInput;

    /// <summary>Whether the model reduces time (<see cref="Layer.LastStep"/>, <see cref="Layer.MeanOverTime"/>): one output per sequence.</summary>
    public bool ReducesTime => model.ReducesTime;

    /// <summary>Whether the model can run as streams (no bidirectional layer).</summary>
    public bool CanStream { get; } = true;

    /// <summary>The source model's metadata, as it was when frozen.</summary>
    public IReadOnlyDictionary<string, string> Metadata => model.Metadata.AsReadOnly();

    /// <summary>The vocabulary of the source model, or null.</summary>
    public Data.Vocabulary? Vocabulary => model.Vocabulary;

    /// <summary>The normalizer of the source model, or null.</summary>
    public Data.Normalizer<T>? Normalizer => model.Normalizer;

    /// <summary>The values of one stream's state: every recurrent layer's h (and C), and the running sums of a mean.</summary>
    internal int StateSize { get; }

    /// <summary>Loads a model saved by <see cref="SequenceModel{T}.Save"/> and freezes it.</summary>
    /// <param name="path">The safetensors file.</param>
    /// <exception cref="InvalidDataException">As <see cref="SequenceModel{T}.Load"/>.</exception>
    /// <exception cref="NotSupportedException">The model has a layer a frozen model cannot run.</exception>
    public static FrozenModel<T> Load(string path) => SequenceModel<T>.Load(path).Freeze();

    /// <summary>
    /// The model's output on a batch (dropout off), computed on a pooled workspace: thread-safe. The same values as
    /// <see cref="SequenceModel{T}.Predict(SequenceBatch{T})"/> to rounding, the same bits on every call and thread.
    /// </summary>
    /// <param name="batch">Features [T, B, I] or tokens, and the lengths. Only read.</param>
    /// <returns>A new tensor [T', B, O] (T' = 1 when the model reduces time). Steps past a sequence's length are zero.</returns>
    /// <exception cref="ArgumentException">The batch does not fit the model (the message names both sizes).</exception>
    public Tensor<T> Predict(SequenceBatch<T> batch)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        model.CheckBatch(batch);
        var output = new Tensor<T>(ReducesTime ? 1 : batch.Steps, batch.BatchSize, OutputSize);
        PredictCore(batch, output.AsSpan());
        return output;
    }

    /// <summary>As <see cref="Predict(SequenceBatch{T})"/>, into a buffer of the caller's: allocates nothing after warm-up.</summary>
    /// <param name="batch">Features [T, B, I] or tokens, and the lengths. Only read.</param>
    /// <param name="output">Receives [T', B, O] (T' = 1 when the model reduces time).</param>
    /// <exception cref="ArgumentException">The batch does not fit the model, or <paramref name="output"/> has another length.</exception>
    public void Predict(SequenceBatch<T> batch, Span<T> output)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        model.CheckBatch(batch);
        int needed = (ReducesTime ? 1 : batch.Steps) * batch.BatchSize * OutputSize;
        if (output.Length != needed)
        {
            throw new ArgumentException($"output has {output.Length} values but [{(ReducesTime ? 1 : batch.Steps)}, {batch.BatchSize}, {OutputSize}] needs {needed}.", nameof(output));
        }

        PredictCore(batch, output);
    }

    /// <summary>A new stream at the initial state (the learned one when a layer has it, else zeros).</summary>
    /// <exception cref="NotSupportedException">The model has a bidirectional layer (<see cref="CanStream"/> is false).</exception>
    public ModelStream<T> CreateStream()
    {
        EnsureCanStream();
        var stream = new ModelStream<T>(this);
        InitialState(stream.State);
        return stream;
    }

    /// <summary>
    /// Feeds one step of features to a stream and writes the output: the output the model gives at that step of the
    /// whole sequence the stream has read so far, bit for bit. Thread-safe across streams; one stream takes one call at a
    /// time.
    /// </summary>
    /// <param name="stream">A stream of this model.</param>
    /// <param name="features">x(t), [I].</param>
    /// <param name="output">Receives y(t), [O].</param>
    /// <exception cref="ArgumentException">A length disagrees, the stream belongs to another model, or the model reads tokens.</exception>
    /// <exception cref="InvalidOperationException">Another thread is stepping the same stream.</exception>
    public void Step(ModelStream<T> stream, ReadOnlySpan<T> features, Span<T> output)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckStream(stream, output);
        if (TokenInput)
        {
            throw new ArgumentException("The model reads tokens: step it with Step(stream, int, output).", nameof(features));
        }

        if (features.Length != InputSize)
        {
            throw new ArgumentException($"features has {features.Length} values but the model reads {InputSize} (inputSize).", nameof(features));
        }

        stream.Enter();
        var work = pool.Rent();
        try
        {
            work.Ensure(1, 1);
            features.CopyTo(work.Input.AsSpan(0, InputSize));
            StepRows(work, 1, output, stream.State, stream.Steps + 1);
            stream.Steps++;
        }
        finally
        {
            pool.Return(work);
            stream.Exit();
        }
    }

    /// <summary>Feeds one token to a stream; see <see cref="Step(ModelStream{T}, ReadOnlySpan{T}, Span{T})"/>.</summary>
    /// <param name="stream">A stream of this model.</param>
    /// <param name="token">The token, in [0, vocabulary size).</param>
    /// <param name="output">Receives y(t), [O].</param>
    /// <exception cref="ArgumentException">The token is outside the vocabulary, a length disagrees, or the model reads features.</exception>
    /// <exception cref="InvalidOperationException">Another thread is stepping the same stream.</exception>
    public void Step(ModelStream<T> stream, int token, Span<T> output)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckStream(stream, output);
        if (!TokenInput)
        {
            throw new ArgumentException("The model reads features: step it with Step(stream, ReadOnlySpan<T>, output).", nameof(token));
        }

        if ((uint)token >= (uint)InputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, $"The token is outside the vocabulary [0, {InputSize}).");
        }

        stream.Enter();
        var work = pool.Rent();
        try
        {
            work.Ensure(1, 1);
            work.Tokens[0] = token;
            StepRows(work, 1, output, stream.State, stream.Steps + 1, tokens: true);
            stream.Steps++;
        }
        finally
        {
            pool.Return(work);
            stream.Exit();
        }
    }

    /// <summary>Puts a stream back at the initial state.</summary>
    /// <exception cref="ArgumentException">The stream belongs to another model.</exception>
    public void Reset(ModelStream<T> stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Model != this)
        {
            throw new ArgumentException("The stream belongs to another model.", nameof(stream));
        }

        stream.Enter();
        try
        {
            InitialState(stream.State);
            stream.Steps = 0;
        }
        finally
        {
            stream.Exit();
        }
    }

    internal void EnsureCanStream()
    {
        if (!CanStream)
        {
            throw new NotSupportedException("The model has a bidirectional or goBackwards layer: it needs the whole sequence and cannot run as streams.");
        }
    }

    /// <summary>Writes the initial state of one stream into <paramref name="state"/> [StateSize].</summary>
    internal void InitialState(Span<T> state)
    {
        state.Clear();
        foreach (var op in ops)
        {
            if (op is RecurrentOp r)
            {
                r.InitialState(state.Slice(r.StateOffset, r.StateSize));
            }
        }
    }

    /// <summary>Takes a workspace from the pool (call <see cref="Workspace.Ensure"/> before filling its input).</summary>
    internal Workspace RentWorkspace() => pool.Rent();

    internal void ReturnWorkspace(Workspace work) => pool.Return(work);

    /// <summary>
    /// One step of <paramref name="rows"/> streams: the input rows are in <paramref name="work"/> (features in
    /// <see cref="Workspace.Input"/> [R, I], or tokens in <see cref="Workspace.Tokens"/> when <paramref name="tokens"/>),
    /// the states [R, StateSize] in <paramref name="states"/> (read and overwritten), the step counts (after this step)
    /// in <paramref name="counts"/> (one per row, or one for all). Writes [R, O] to <paramref name="output"/>.
    /// </summary>
    internal void StepRows(Workspace work, int rows, Span<T> output, Span<T> states, ReadOnlySpan<int> counts, bool tokens = false)
    {
        work.Ensure(1, rows);
        Span<T> x = work.A.AsSpan(0, rows * maxWidth);
        int width = Embed(work, rows, tokens, x);
        bool inA = true;
        foreach (var op in ops)
        {
            Span<T> y = (inA ? work.B : work.A).AsSpan(0, rows * op.OutputSize);
            Span<T> xs = (inA ? work.A : work.B).AsSpan(0, rows * width);
            switch (op)
            {
                case RecurrentOp r:
                    r.GatherState(states, rows, StateSize, work);
                    r.Run(work, xs, 1, rows, default, y);
                    r.ScatterState(states, rows, StateSize, work);
                    break;
                case LinearOp linear:
                    linear.Run(xs, rows, y);
                    break;
                case ReduceOp reduce:
                    reduce.Step(xs, rows, y, states, StateSize, counts);
                    break;
            }

            width = op.OutputSize;
            inA = !inA;
        }

        (inA ? work.A : work.B).AsSpan(0, rows * width).CopyTo(output);
    }

    private void StepRows(Workspace work, int rows, Span<T> output, T[] state, int count, bool tokens = false)
    {
        work.Count[0] = count;
        StepRows(work, rows, output, state, work.Count.AsSpan(0, 1), tokens);
    }

    // Writes the first layer's input [rows, width] into x from the workspace's features or tokens; returns the width.
    private int Embed(Workspace work, int rows, bool tokens, Span<T> x)
    {
        if (!tokens)
        {
            work.Input.AsSpan(0, rows * InputSize).CopyTo(x);
            return InputSize;
        }

        ReadOnlySpan<int> ids = work.Tokens.AsSpan(0, rows);
        if (embedding is not null)
        {
            embedding.Forward(ids, x[..(rows * embedding.EmbeddingDim)]);
            return embedding.EmbeddingDim;
        }

        x[..(rows * InputSize)].Clear();
        for (int r = 0; r < rows; r++)
        {
            x[r * InputSize + ids[r]] = T.One;
        }

        return InputSize;
    }

    private void PredictCore(SequenceBatch<T> batch, Span<T> output)
    {
        int steps = batch.Steps, rows = batch.BatchSize, n = steps * rows;
        var work = pool.Rent();
        try
        {
            work.Ensure(steps, rows);
            Span<T> x = work.A.AsSpan(0, n * maxWidth);
            int width;
            if (batch.Tokens is int[] tokens)
            {
                if (embedding is not null)
                {
                    width = embedding.EmbeddingDim;
                    embedding.Forward(tokens, x[..(n * width)]);
                }
                else
                {
                    width = InputSize;
                    x[..(n * width)].Clear();
                    for (int i = 0; i < n; i++)
                    {
                        x[i * width + tokens[i]] = T.One;
                    }
                }
            }
            else
            {
                width = InputSize;
                batch.Features!.AsSpan().CopyTo(x);
            }

            ReadOnlySpan<int> lengths = RecurrentAdapter<T>.AllFull(batch.Lengths, steps) ? default : batch.Lengths;
            bool inA = true;
            foreach (var op in ops)
            {
                Span<T> xs = (inA ? work.A : work.B).AsSpan(0, n * width);
                switch (op)
                {
                    case RecurrentOp r:
                        Span<T> y = (inA ? work.B : work.A).AsSpan(0, n * op.OutputSize);
                        r.LoadInitialState(rows, work);
                        r.Run(work, xs, steps, rows, lengths, y);
                        break;
                    case LinearOp linear:
                        linear.Run(xs, n, (inA ? work.B : work.A).AsSpan(0, n * op.OutputSize));
                        break;
                    case ReduceOp reduce:
                        reduce.Reduce(xs, steps, rows, batch.Lengths, (inA ? work.B : work.A).AsSpan(0, rows * op.OutputSize));
                        steps = 1;
                        n = rows;
                        lengths = default;
                        break;
                }

                width = op.OutputSize;
                inA = !inA;
            }

            (inA ? work.A : work.B).AsSpan(0, n * width).CopyTo(output);
        }
        finally
        {
            pool.Return(work);
        }
    }

    private void CheckStream(ModelStream<T> stream, Span<T> output)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Model != this)
        {
            throw new ArgumentException("The stream belongs to another model: create it with this model's CreateStream.", nameof(stream));
        }

        if (output.Length != OutputSize)
        {
            throw new ArgumentException($"output has {output.Length} values but the model writes {OutputSize} (outputSize).", nameof(output));
        }
    }

    /// <summary>The buffers of one call, grown as needed and reused (kept in a pool).</summary>
    internal sealed class Workspace(FrozenModel<T> owner)
    {
        /// <summary>Ping-pong activations [T·B, widest layer].</summary>
        public T[] A = [];

        /// <inheritdoc cref="A"/>
        public T[] B = [];

        /// <summary>The input rows of a stream step [B, I] (filled by the caller).</summary>
        public T[] Input = [];

        /// <summary>The tokens of a stream step [B] (filled by the caller).</summary>
        public int[] Tokens = [];

        /// <summary>The step count of each row after the step [B].</summary>
        public int[] Count = new int[1];

        /// <summary>All the steps' gates [T·B, G·H].</summary>
        public T[] Gates = [];

        /// <summary>The output of a stacked layer below the top one [T·B, D·H], and the next one's while it runs.</summary>
        public T[] Below = [], LayerOutput = [];

        /// <summary>State, for each layer and direction: h [L·D, B, S] and C [L·D, B, H].</summary>
        public T[] Hidden = [], Cell = [];

        /// <summary>One step's new h, new C [B, H], step cache [B, E] and scratch [B, G·H + H].</summary>
        public T[] NewHidden = [], NewCell = [], StepCache = [], Scratch = [];

        /// <summary>Grows the buffers for a call of T steps and B rows (never shrinks).</summary>
        public void Ensure(int t, int b)
        {
            int n = t * b, h = Math.Max(1, owner.maxHidden), gw = Math.Max(1, owner.maxGateWidth);
            Grow(ref A, n * owner.maxWidth);
            Grow(ref B, n * owner.maxWidth);
            Grow(ref Input, b * owner.InputSize);
            Grow(ref Tokens, b);
            Grow(ref Count, b);
            Grow(ref Gates, n * gw);
            Grow(ref Below, n * owner.maxWidth);
            Grow(ref LayerOutput, n * owner.maxWidth);
            Grow(ref Hidden, owner.maxSlots * b * h);
            Grow(ref Cell, owner.maxSlots * b * h);
            Grow(ref NewHidden, b * h);
            Grow(ref NewCell, b * h);
            Grow(ref StepCache, b * owner.maxStepCache);
            Grow(ref Scratch, b * (gw + h));
        }

        private static void Grow<TItem>(ref TItem[] array, int length)
        {
            if (array.Length < length)
            {
                array = new TItem[length];
            }
        }
    }

    // A lock-free pool: a few slots taken and returned with Interlocked; a call finding none creates a workspace.
    private sealed class Pool(FrozenModel<T> owner)
    {
        private readonly Workspace?[] slots = new Workspace?[Math.Max(4, 2 * Environment.ProcessorCount)];

        public Workspace Rent()
        {
            for (int i = 0; i < slots.Length; i++)
            {
                var work = Interlocked.Exchange(ref slots[i], null);
                if (work is not null)
                {
                    return work;
                }
            }

            return new Workspace(owner);
        }

        public void Return(Workspace work)
        {
            for (int i = 0; i < slots.Length; i++)
            {
                if (Interlocked.CompareExchange(ref slots[i], work, null) is null)
                {
                    return;
                }
            }
        }
    }

    private abstract class FrozenOp
    {
        public abstract int OutputSize { get; }
    }

    /// <summary>A recurrent stack on packed weights (frozen once).</summary>
    private sealed class RecurrentOp : FrozenOp
    {
        private readonly T[][] biasSums;

        public RecurrentOp(RecurrentLayer<T> layer, int stateOffset)
        {
            Layer = layer;
            layer.Training = false;
            layer.FreezeWeights();
            StateOffset = stateOffset;
            int slots = layer.NumLayers * layer.Directions;
            StateSize = slots * (layer.StateSize + (layer.HasCellState ? layer.HiddenSize : 0));
            biasSums = new T[layer.Cells.Count][];
            for (int k = 0; k < layer.Cells.Count; k++)
            {
                var cell = layer.Cells[k];
                if (cell.BiasIH is not null)
                {
                    // b = b_ih (+ b_hh when the cell folds it), as the engine adds it before the input projection.
                    var bias = cell.BiasIH.Values.ToArray();
                    if (cell.FoldsRecurrentBias)
                    {
                        TP.Add(bias, cell.BiasHH!.Values, bias);
                    }

                    biasSums[k] = bias;
                }
            }
        }

        public RecurrentLayer<T> Layer { get; }

        public int StateOffset { get; }

        public int StateSize { get; }

        public override int OutputSize => Layer.OutputSize;

        /// <summary>One stream's initial state [StateSize]: h [S] of each layer, then C [H] of each layer.</summary>
        public void InitialState(Span<T> state)
        {
            int s = Layer.StateSize, c = Layer.HiddenSize, slots = Layer.NumLayers * Layer.Directions;
            state.Clear();
            Layer.InitialHidden?.Values.CopyTo(state[..(slots * s)]);
            if (Layer.HasCellState)
            {
                Layer.InitialCell?.Values.CopyTo(state.Slice(slots * s, slots * c));
            }
        }

        /// <summary>Every row's initial state into the workspace's h [L·D, B, S] and C [L·D, B, H].</summary>
        public void LoadInitialState(int rows, Workspace work)
        {
            int s = Layer.StateSize, c = Layer.HiddenSize, slots = Layer.NumLayers * Layer.Directions;
            for (int k = 0; k < slots; k++)
            {
                for (int b = 0; b < rows; b++)
                {
                    Span<T> hr = work.Hidden.AsSpan((k * rows + b) * s, s), cr = work.Cell.AsSpan((k * rows + b) * c, c);
                    if (Layer.InitialHidden is { } h0)
                        h0.Values.Slice(k * s, s).CopyTo(hr);
                    else
                        hr.Clear();
                    if (Layer.InitialCell is { } c0)
                        c0.Values.Slice(k * c, c).CopyTo(cr);
                    else
                        cr.Clear();
                }
            }
        }

        /// <summary>Rows' states [B, StateSize] (this op's part) into the workspace's h [L, B, S] and C [L, B, H].</summary>
        public void GatherState(Span<T> states, int rows, int stride, Workspace work) => MoveState(states, rows, stride, work, gather: true);

        /// <summary>The workspace's h and C back into the rows' states.</summary>
        public void ScatterState(Span<T> states, int rows, int stride, Workspace work) => MoveState(states, rows, stride, work, gather: false);

        private void MoveState(Span<T> states, int rows, int stride, Workspace work, bool gather)
        {
            int s = Layer.StateSize, c = Layer.HiddenSize, slots = Layer.NumLayers;
            bool hasCell = Layer.HasCellState;
            for (int b = 0; b < rows; b++)
            {
                Span<T> row = states.Slice(b * stride + StateOffset, StateSize);
                for (int k = 0; k < slots; k++)
                {
                    Move(row.Slice(k * s, s), work.Hidden.AsSpan((k * rows + b) * s, s), gather);
                    if (hasCell)
                    {
                        Move(row.Slice(slots * s + k * c, c), work.Cell.AsSpan((k * rows + b) * c, c), gather);
                    }
                }
            }
        }

        private static void Move(Span<T> stream, Span<T> workspace, bool gather)
        {
            if (gather)
                stream.CopyTo(workspace);
            else
                workspace.CopyTo(stream);
        }

        /// <summary>
        /// The stack over T steps of B rows from the state in the workspace (left there at the end): x [T, B, I] to
        /// y [T, B, D·H] (H when the directions merge). Past its length a row's output is zero and its state is kept. A
        /// goBackwards stack reads each row's steps reversed within its length (copied to Below first).
        /// </summary>
        public void Run(Workspace work, ReadOnlySpan<T> x, int steps, int rows, ReadOnlySpan<int> lengths, Span<T> y)
        {
            int directions = Layer.Directions, width = Layer.OutputSize, n = steps * rows;
            if (Layer.GoBackwards)
            {
                Span<T> reversed = work.Below.AsSpan(0, n * Layer.InputSize);
                PaddedSteps<T>.Reverse(x, reversed, steps, rows, Layer.InputSize, lengths);
                x = reversed;
            }

            for (int l = 0; l < Layer.NumLayers; l++)
            {
                // Layer l reads x (l = 0) or the layer below (in Below); the top layer writes y, the others LayerOutput,
                // copied to Below once both directions have read Below.
                ReadOnlySpan<T> input = l == 0 ? x : work.Below.AsSpan(0, n * width);
                int inputSize = l == 0 ? Layer.InputSize : width;
                bool top = l == Layer.NumLayers - 1;
                Span<T> output = top ? y : work.LayerOutput.AsSpan(0, n * width);
                for (int d = 0; d < directions; d++)
                {
                    int k = l * directions + d;
                    var cell = Layer.Cells[k];
                    int gw = cell.GateWidth;
                    Span<T> gates = work.Gates.AsSpan(0, n * gw);
                    if (biasSums[k] is { } bias)
                    {
                        Elementwise.BroadcastRows<T>(bias, n, gates);
                    }

                    Gemm.Compute(false, n, gw, inputSize, input, inputSize, cell.PackedInputWeights, gates, gw, accumulate: biasSums[k] is not null);
                    Sweep(work, cell, k, d, steps, rows, lengths, gates, output, width);
                }

                if (!top)
                {
                    output.CopyTo(work.Below.AsSpan(0, n * width));
                }
            }
        }

        private void Sweep(Workspace work, RecurrentCell<T> cell, int k, int direction, int steps, int rows, ReadOnlySpan<int> lengths,
            Span<T> gates, Span<T> output, int width)
        {
            int h = cell.StateSize, c = cell.HiddenSize, gw = cell.GateWidth, state = rows * h, cells = rows * c;
            Span<T> hidden = work.Hidden.AsSpan(k * state, state), cellState = work.Cell.AsSpan(k * cells, cells);
            Span<T> newHidden = work.NewHidden.AsSpan(0, state), newCell = work.NewCell.AsSpan(0, cells);
            bool hasCell = cell.HasCellState;
            var merge = direction == 1 ? Layer.MergeMode : MergeMode.Concat;
            int column = merge == MergeMode.Concat ? direction * h : 0;
            for (int s = 0; s < steps; s++)
            {
                int t = direction == 0 ? s : steps - 1 - s;
                var step = new CellStep<T>(rows, gates.Slice(t * rows * gw, rows * gw), default, hidden, newHidden,
                    hasCell ? cellState : default, hasCell ? newCell : default, work.StepCache.AsSpan(0, rows * cell.StepCacheWidth),
                    default, default, default, default, work.Scratch.AsSpan(0, rows * (gw + c)))
                {
                    Recurrent = new RecurrentProduct<T>(cell, rows),
                };
                cell.Forward(step);
                for (int b = 0; b < rows; b++)
                {
                    Span<T> yr = output.Slice((t * rows + b) * width + column, h);
                    if (!lengths.IsEmpty && t >= lengths[b])
                    {
                        // Padding: no output, the state stays (the reverse direction starts at the last valid step).
                        yr.Clear();
                        continue;
                    }

                    newHidden.Slice(b * h, h).CopyTo(hidden.Slice(b * h, h));
                    if (hasCell)
                    {
                        newCell.Slice(b * c, c).CopyTo(cellState.Slice(b * c, c));
                    }

                    Merge(merge, hidden.Slice(b * h, h), yr);
                }
            }
        }

        // The reverse direction's h_r(t) into y(t), which holds h_f(t) when the directions merge (the engine's operations in
        // the engine's order, so the bits agree): concat copies it into its own columns.
        private static void Merge(MergeMode merge, ReadOnlySpan<T> hr, Span<T> y)
        {
            switch (merge)
            {
                case MergeMode.Concat:
                    hr.CopyTo(y);
                    break;
                case MergeMode.Multiply:
                    TP.Multiply(y, hr, y);
                    break;
                default:
                    TP.Add(y, hr, y);
                    if (merge == MergeMode.Average)
                    {
                        TP.Multiply(y, T.CreateTruncating(0.5), y);
                    }

                    break;
            }
        }
    }

    /// <summary>y = x·Wᵀ + b on W packed once.</summary>
    private sealed class LinearOp : FrozenOp
    {
        private readonly PackedMatrix<T> packed = new();
        private readonly T[]? bias;
        private readonly int inputSize, outputSize;

        public LinearOp(Linear<T> linear)
        {
            inputSize = linear.InFeatures;
            outputSize = linear.OutFeatures;
            Gemm.Pack<T>(transposeB: true, inputSize, outputSize, linear.Weight.Values, inputSize, packed);
            bias = linear.Bias?.Values.ToArray();
        }

        public override int OutputSize => outputSize;

        public void Run(ReadOnlySpan<T> x, int rows, Span<T> y)
        {
            if (bias is not null)
            {
                Elementwise.BroadcastRows<T>(bias, rows, y);
            }

            Gemm.Compute<T>(false, rows, outputSize, inputSize, x, inputSize, packed, y, outputSize, accumulate: bias is not null);
        }
    }

    /// <summary>The last valid step or the mean over time; a stream keeps the running sum of a mean in its state.</summary>
    private sealed class ReduceOp(int size, Reduction reduction, int directions, int stateOffset) : FrozenOp
    {
        public override int OutputSize => size;

        public int StateSize => reduction == Reduction.Mean ? size : 0;

        public void Reduce(ReadOnlySpan<T> x, int steps, int rows, ReadOnlySpan<int> lengths, Span<T> y)
        {
            for (int b = 0; b < rows; b++)
            {
                Span<T> yr = y.Slice(b * size, size);
                int length = lengths[b];
                if (reduction == Reduction.Mean)
                {
                    yr.Clear();
                    for (int t = 0; t < length; t++)
                    {
                        TP.Add(yr, x.Slice((t * rows + b) * size, size), yr);
                    }

                    TP.Multiply(yr, T.One / T.CreateTruncating(length), yr);
                }
                else
                {
                    int half = size / directions;
                    x.Slice(((length - 1) * rows + b) * size, half).CopyTo(yr);
                    x.Slice(b * size + half, size - half).CopyTo(yr[half..]);
                }
            }
        }

        public void Step(ReadOnlySpan<T> x, int rows, Span<T> y, Span<T> states, int stride, ReadOnlySpan<int> counts)
        {
            if (reduction != Reduction.Mean)
            {
                x[..(rows * size)].CopyTo(y);
                return;
            }

            for (int b = 0; b < rows; b++)
            {
                Span<T> sum = states.Slice(b * stride + stateOffset, size);
                TP.Add(sum, x.Slice(b * size, size), sum);
                int count = counts.Length == 1 ? counts[0] : counts[b];
                TP.Multiply(sum, T.One / T.CreateTruncating(count), y.Slice(b * size, size));
            }
        }
    }
}

/// <summary>
/// One stream of a <see cref="FrozenModel{T}"/>: the state it has reached and the steps it has taken. Create it with
/// <see cref="FrozenModel{T}.CreateStream"/>; step it with <see cref="FrozenModel{T}.Step(ModelStream{T}, ReadOnlySpan{T}, Span{T})"/>.
/// Streams are independent: many threads may each step their own at once, but one stream takes one call at a time.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class ModelStream<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private int busy;

    internal ModelStream(FrozenModel<T> model)
    {
        Model = model;
        State = new T[model.StateSize];
    }

    /// <summary>The model the stream runs on.</summary>
    public FrozenModel<T> Model { get; }

    /// <summary>The steps taken since the stream was created or reset.</summary>
    public int Steps { get; internal set; }

    internal T[] State { get; }

    internal void Enter()
    {
        if (Interlocked.Exchange(ref busy, 1) != 0)
        {
            throw new InvalidOperationException("This stream is being stepped by another thread: a stream takes one call at a time (create one stream per sequence).");
        }
    }

    internal void Exit() => Volatile.Write(ref busy, 0);
}
