using System.Diagnostics;
using System.Numerics;
using System.Threading.Tasks.Sources;
using RecurrentNets.Models;

namespace RecurrentNets.Serving;

/// <summary>
/// Serves many streams of one <see cref="FrozenModel{T}"/> at once: each stream sends one step at a time, and the pending
/// steps of different streams are coalesced into one batched step, which costs little more than a single one (a step at
/// batch 1 is bound by reading the weights). In-process, the role of Triton's sequence batcher. Legend: I = the model's
/// input size, O = its output size.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para><b>Streams.</b> <see cref="OpenStream"/> gives a stream whose state lives in a slab the batcher owns;
/// <see cref="StepAsync(BatchedStream{T}, ReadOnlySpan{T}, CancellationToken)"/> returns that stream's output for that
/// step; <see cref="CloseStream"/> (or disposing the stream) frees its slot for a later stream. A stream's steps run in
/// the order of the calls, one per batch.</para>
/// <para><b>Bits.</b> Every stream's outputs are bit-identical to running that stream alone on the frozen model
/// (<see cref="FrozenModel{T}.Step(ModelStream{T}, ReadOnlySpan{T}, Span{T})"/>), whatever else was batched with it and
/// whatever the batch size: the frozen model's kernels compute each row the same way for any number of rows.</para>
/// <para><b>Batching.</b> A worker thread takes up to <see cref="StreamBatcherOptions.MaxBatchSize"/> streams with a
/// pending step, waiting at most <see cref="StreamBatcherOptions.MaxWait"/> after the oldest one for more to arrive. With
/// one worker (the default) the batched step's products use the library's worker threads; with
/// <see cref="StreamBatcherOptions.Workers"/> above one, each worker runs its batches on its own thread, one worker
/// gathers a batch at a time, and a worker that finds others idle takes only its share of the ready streams, so the
/// batches run side by side.</para>
/// <para><b>Cancellation.</b> A step cancelled before its batch starts is removed: the stream is not stepped, and the
/// task is cancelled. Once its batch has started, the step completes and its output is returned.</para>
/// <para><b>A new model.</b> <see cref="ReplaceModel"/> serves streams opened after it with the new model; streams opened
/// before finish on the model they opened on. One batched step never mixes models.</para>
/// <para><b>Shutdown.</b> <see cref="ShutdownAsync"/> (and <see cref="DisposeAsync"/>) refuses new steps, then runs every
/// pending one (drain) or cancels them; no step is dropped without its task completing.</para>
/// </remarks>
public sealed class StreamBatcher<T> : IAsyncDisposable, IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly object gate = new();
    private readonly StreamBatcherOptions options;
    private readonly Queue<BatchedStream<T>> ready = new();
    private readonly Queue<Request> waiting = new();
    private readonly Worker[] workers;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long maxWaitTicks;
    internal static long IdleSpinTicks = Stopwatch.Frequency / 20_000; // 50 µs
    private int liveWorkers;
    private bool filling;
    private int sleepingWorkers;
    private Generation current;
    private int admitted;
    private int openStreams;
    private long nextId;
    private bool stopping;
    private bool drain;
    private long batches, steps;

    /// <summary>Creates a batcher and starts its worker threads.</summary>
    /// <param name="model">The model to serve.</param>
    /// <param name="options">The batching and queueing options, or null for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it).</exception>
    /// <exception cref="NotSupportedException">The model cannot run as streams (a bidirectional layer).</exception>
    public StreamBatcher(FrozenModel<T> model, StreamBatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.EnsureCanStream();
        this.options = options ?? new StreamBatcherOptions();
        this.options.Validate();
        maxWaitTicks = (long)(this.options.MaxWait.TotalSeconds * Stopwatch.Frequency);
        current = new Generation(model);
        workers = new Worker[this.options.Workers];
        liveWorkers = workers.Length;
        for (int i = 0; i < workers.Length; i++)
        {
            var worker = workers[i] = new Worker();
            var thread = new Thread(() => Run(worker))
            {
                IsBackground = true,
                Name = workers.Length == 1 ? "RecurrentNets stream batcher" : $"RecurrentNets stream batcher {i + 1}",
            };
            thread.Start();
        }
    }

    /// <summary>The model new streams open on.</summary>
    public FrozenModel<T> Model => current.Model;

    /// <summary>The options.</summary>
    public StreamBatcherOptions Options => options;

    /// <summary>The streams open now.</summary>
    public int OpenStreamCount => Volatile.Read(ref openStreams);

    /// <summary>Steps admitted and not yet in a batch.</summary>
    public int PendingSteps => Volatile.Read(ref admitted);

    /// <summary>The batched steps run so far.</summary>
    public long BatchesRun => Interlocked.Read(ref batches);

    /// <summary>The stream steps run so far (their mean per batch is <see cref="StepsRun"/> / <see cref="BatchesRun"/>).</summary>
    public long StepsRun => Interlocked.Read(ref steps);

    /// <summary>Where the workers' time went so far, summed over the workers (for benchmarks; read without a lock).</summary>
    internal WorkerTimes Times
    {
        get
        {
            var sum = default(WorkerTimes);
            foreach (var worker in workers)
            {
                sum += worker.Times;
            }

            return sum;
        }
    }

    /// <summary>Opens a stream at the model's initial state.</summary>
    /// <exception cref="ObjectDisposedException">The batcher is shut down.</exception>
    public BatchedStream<T> OpenStream()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(stopping, this);
            var generation = current;
            int slot = generation.Rent();
            generation.Model.InitialState(generation.Slot(slot));
            openStreams++;
            return new BatchedStream<T>(this, generation, slot, ++nextId);
        }
    }

    /// <summary>
    /// Queues one step of features for a stream and returns its output once the step has run in a batch.
    /// </summary>
    /// <param name="stream">An open stream of this batcher.</param>
    /// <param name="input">x(t), [I]; copied before the call returns.</param>
    /// <param name="cancellationToken">Cancels the step while it waits for a batch.</param>
    /// <returns>y(t), [O], a new array.</returns>
    /// <exception cref="ArgumentException">The input length is not I, it holds NaN or ±∞, the model reads tokens, or the
    /// stream belongs to another batcher. Nothing is queued.</exception>
    /// <exception cref="InvalidOperationException">The stream is closed.</exception>
    /// <exception cref="QueueFullException">The queue is full and <see cref="QueueFullMode.Fail"/> is set.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is shut down.</exception>
    public Task<T[]> StepAsync(BatchedStream<T> stream, ReadOnlySpan<T> input, CancellationToken cancellationToken = default)
    {
        CheckFeatures(stream, input);
        var request = new Request(stream, input.ToArray(), 0);
        Enqueue(request, cancellationToken);
        return request.Completion!.Task;
    }

    /// <summary>
    /// As <see cref="StepAsync(BatchedStream{T}, ReadOnlySpan{T}, CancellationToken)"/>, writing the output into a buffer
    /// of the caller's and allocating nothing after the stream's first step (the step's task source is kept by the stream
    /// and reused). One such step per stream at a time: await it before the next.
    /// </summary>
    /// <param name="stream">An open stream of this batcher.</param>
    /// <param name="input">x(t), [I]; copied before the call returns.</param>
    /// <param name="output">Receives y(t), [O], when the step has run; not touched if it fails or is cancelled.</param>
    /// <param name="cancellationToken">Cancels the step while it waits for a batch.</param>
    /// <exception cref="ArgumentException">As the other overload, or <paramref name="output"/> is not [O].</exception>
    /// <exception cref="InvalidOperationException">The stream is closed, or its previous step of this kind has not been awaited.</exception>
    /// <exception cref="QueueFullException">The queue is full and <see cref="QueueFullMode.Fail"/> is set.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is shut down.</exception>
    public ValueTask StepAsync(BatchedStream<T> stream, ReadOnlySpan<T> input, Memory<T> output, CancellationToken cancellationToken = default)
    {
        CheckFeatures(stream, input);
        var request = stream.Reuse(output, nameof(output));
        input.CopyTo(request.Input);
        return Start(request, cancellationToken);
    }

    /// <summary>As <see cref="StepAsync(BatchedStream{T}, int, CancellationToken)"/>, writing the output into a buffer of the
    /// caller's; see <see cref="StepAsync(BatchedStream{T}, ReadOnlySpan{T}, Memory{T}, CancellationToken)"/>.</summary>
    /// <param name="stream">An open stream of this batcher.</param>
    /// <param name="token">The token, in [0, vocabulary size).</param>
    /// <param name="output">Receives y(t), [O], when the step has run.</param>
    /// <param name="cancellationToken">Cancels the step while it waits for a batch.</param>
    /// <exception cref="ArgumentOutOfRangeException">The token is outside the vocabulary.</exception>
    /// <exception cref="ArgumentException">The model reads features, the stream belongs to another batcher, or <paramref name="output"/> is not [O].</exception>
    /// <exception cref="InvalidOperationException">The stream is closed, or its previous step of this kind has not been awaited.</exception>
    /// <exception cref="QueueFullException">The queue is full and <see cref="QueueFullMode.Fail"/> is set.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is shut down.</exception>
    public ValueTask StepAsync(BatchedStream<T> stream, int token, Memory<T> output, CancellationToken cancellationToken = default)
    {
        CheckToken(stream, token);
        var request = stream.Reuse(output, nameof(output));
        request.Token = token;
        return Start(request, cancellationToken);
    }

    // Queues a stream's reusable request; on a refusal the stream may use it again at once.
    private ValueTask Start(Request request, CancellationToken cancellationToken)
    {
        var task = request.Begin();
        try
        {
            Enqueue(request, cancellationToken);
        }
        catch
        {
            request.Release();
            throw;
        }

        return task;
    }

    private void CheckFeatures(BatchedStream<T> stream, ReadOnlySpan<T> input)
    {
        CheckStream(stream);
        var model = stream.Generation.Model;
        if (model.TokenInput)
        {
            throw new ArgumentException("The model reads tokens: step it with StepAsync(stream, int token).", nameof(input));
        }

        if (input.Length != model.InputSize)
        {
            throw new ArgumentException($"input has {input.Length} values but the model reads {model.InputSize} per step (inputSize).", nameof(input));
        }

        if (options.RejectNonFiniteInput)
        {
            for (int i = 0; i < input.Length; i++)
            {
                if (!T.IsFinite(input[i]))
                {
                    throw new ArgumentException($"input[{i}] is {input[i]}: a step's input must be finite.", nameof(input));
                }
            }
        }
    }

    /// <summary>Queues one token for a stream; see <see cref="StepAsync(BatchedStream{T}, ReadOnlySpan{T}, CancellationToken)"/>.</summary>
    /// <param name="stream">An open stream of this batcher.</param>
    /// <param name="token">The token, in [0, vocabulary size).</param>
    /// <param name="cancellationToken">Cancels the step while it waits for a batch.</param>
    /// <returns>y(t), [O], a new array.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The token is outside the vocabulary.</exception>
    /// <exception cref="ArgumentException">The model reads features, or the stream belongs to another batcher.</exception>
    /// <exception cref="InvalidOperationException">The stream is closed.</exception>
    /// <exception cref="QueueFullException">The queue is full and <see cref="QueueFullMode.Fail"/> is set.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is shut down.</exception>
    public Task<T[]> StepAsync(BatchedStream<T> stream, int token, CancellationToken cancellationToken = default)
    {
        CheckToken(stream, token);
        var request = new Request(stream, null, token);
        Enqueue(request, cancellationToken);
        return request.Completion!.Task;
    }

    private void CheckToken(BatchedStream<T> stream, int token)
    {
        CheckStream(stream);
        var model = stream.Generation.Model;
        if (!model.TokenInput)
        {
            throw new ArgumentException("The model reads features: step it with StepAsync(stream, ReadOnlySpan<T>).", nameof(token));
        }

        if ((uint)token >= (uint)model.InputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, $"The token is outside the vocabulary [0, {model.InputSize}).");
        }
    }

    /// <summary>
    /// Closes a stream: its steps still pending fail with <see cref="InvalidOperationException"/>, a step already in a
    /// batch completes, and its slot is reused by a later stream. Closing twice does nothing.
    /// </summary>
    /// <param name="stream">A stream of this batcher.</param>
    /// <exception cref="ArgumentException">The stream belongs to another batcher.</exception>
    public void CloseStream(BatchedStream<T> stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Batcher != this)
        {
            throw new ArgumentException("The stream belongs to another batcher.", nameof(stream));
        }

        List<Request>? failed = null;
        lock (gate)
        {
            if (stream.Closed)
            {
                return;
            }

            stream.Closed = true;
            openStreams--;
            while (stream.Pending.TryDequeue(out var request))
            {
                if (request.State is RequestState.Queued or RequestState.Waiting)
                {
                    if (request.State == RequestState.Queued)
                    {
                        admitted--;
                    }

                    request.State = RequestState.Failed;
                    (failed ??= []).Add(request);
                }
            }

            if (!stream.Running)
            {
                stream.Generation.Return(stream.Slot);
            }

            AdmitWaiting();
            Monitor.PulseAll(gate);
        }

        if (failed is not null)
        {
            foreach (var request in failed)
            {
                request.Fail(new InvalidOperationException($"Stream {stream.Id} was closed before this step ran."));
            }
        }
    }

    /// <summary>
    /// Serves streams opened from now on with <paramref name="model"/> (a new checkpoint, loaded and frozen); streams open
    /// now finish on the model they opened on, and no batched step mixes the two.
    /// </summary>
    /// <param name="model">The new model, with the same input kind and sizes.</param>
    /// <exception cref="ArgumentException">The model reads another input or writes another output size.</exception>
    /// <exception cref="NotSupportedException">The model cannot run as streams.</exception>
    public void ReplaceModel(FrozenModel<T> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.EnsureCanStream();
        var old = current.Model;
        if (model.TokenInput != old.TokenInput || model.InputSize != old.InputSize || model.OutputSize != old.OutputSize)
        {
            throw new ArgumentException($"The new model reads {Describe(model)} but the served one reads {Describe(old)}: clients could not use it.", nameof(model));
        }

        lock (gate)
        {
            ObjectDisposedException.ThrowIf(stopping, this);
            current = new Generation(model);
        }

        static string Describe(FrozenModel<T> m) => $"{(m.TokenInput ? "tokens of a vocabulary of" : "features of size")} {m.InputSize} and writes {m.OutputSize}";
    }

    /// <summary>
    /// Refuses new streams and steps, then runs every pending step (<paramref name="drain"/>) or cancels them, and stops
    /// the worker threads. Completes when every worker has stopped.
    /// </summary>
    /// <param name="drain">Run the pending steps (true, the default) or cancel them.</param>
    public Task ShutdownAsync(bool drain = true)
    {
        List<Request>? cancelled = null;
        lock (gate)
        {
            if (!stopping)
            {
                stopping = true;
                this.drain = drain;
                if (!drain)
                {
                    cancelled = [.. waiting];
                    waiting.Clear();
                    foreach (var stream in ready)
                    {
                        foreach (var request in stream.Pending)
                        {
                            if (request.State == RequestState.Queued)
                            {
                                admitted--;
                                cancelled.Add(request);
                            }
                        }

                        stream.Pending.Clear();
                    }

                    ready.Clear();
                    foreach (var request in cancelled)
                    {
                        request.State = RequestState.Failed;
                    }
                }

                Monitor.PulseAll(gate);
            }
        }

        if (cancelled is not null)
        {
            foreach (var request in cancelled)
            {
                request.Cancel(new OperationCanceledException("The batcher shut down before this step ran."));
            }
        }

        return stopped.Task;
    }

    /// <summary>Shuts down, draining the pending steps (<see cref="ShutdownAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(ShutdownAsync());

    /// <summary>Shuts down, draining the pending steps, and waits for the worker to stop.</summary>
    public void Dispose() => ShutdownAsync().GetAwaiter().GetResult();

    private void CheckStream(BatchedStream<T> stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Batcher != this)
        {
            throw new ArgumentException("The stream belongs to another batcher.", nameof(stream));
        }
    }

    private void Enqueue(Request request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = request.Stream;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(stopping, this);
            if (stream.Closed)
            {
                throw new InvalidOperationException($"Stream {stream.Id} is closed: open a new one.");
            }

            if (admitted >= options.QueueCapacity || waiting.Count > 0)
            {
                if (options.QueueFullMode == QueueFullMode.Fail)
                {
                    throw new QueueFullException($"The batcher's queue is full ({options.QueueCapacity} steps pending, QueueCapacity): try again later.");
                }

                request.State = RequestState.Waiting;
                waiting.Enqueue(request);
                stream.Pending.Enqueue(request);
            }
            else
            {
                Admit(request);
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            request.Cancellation = cancellationToken;
            request.Registration = cancellationToken.Register(static state => ((Request)state!).Owner.CancelRequest((Request)state!), request);
        }
    }

    // Under the lock: the request counts as pending and its stream becomes ready.
    private void Admit(Request request)
    {
        var stream = request.Stream;
        if (request.State != RequestState.Waiting)
        {
            stream.Pending.Enqueue(request);
        }

        request.State = RequestState.Queued;
        admitted++;
        if (!stream.Running && !stream.InReady)
        {
            stream.InReady = true;
            bool wasEmpty = ready.Count == 0;
            if (wasEmpty)
            {
                oldestReady = Stopwatch.GetTimestamp();
            }

            ready.Enqueue(stream);

            // A worker sleeps only while nothing is ready or another one gathers a batch (which wakes the others when
            // it has taken it): only the first ready stream needs to wake it.
            if (wasEmpty && sleepingWorkers > 0)
            {
                Monitor.PulseAll(gate);
            }
        }
    }

    private long oldestReady;

    private void CancelRequest(Request request)
    {
        lock (gate)
        {
            if (request.State is not (RequestState.Queued or RequestState.Waiting))
            {
                return;
            }

            if (request.State == RequestState.Queued)
            {
                admitted--;
                AdmitWaiting();
            }

            // Left in its queues, skipped when reached.
            request.State = RequestState.Failed;
        }

        request.Cancel(new OperationCanceledException("The step was cancelled before its batch started; the stream was not stepped.", request.Cancellation));
    }

    // Under the lock: admits waiting requests in call order while there is room.
    private void AdmitWaiting()
    {
        while (admitted < options.QueueCapacity && waiting.TryDequeue(out var request))
        {
            if (request.State == RequestState.Waiting)
            {
                Admit(request);
            }
        }
    }

    private void Run(Worker worker)
    {
        try
        {
            while (true)
            {
                Generation? generation;
                long t0 = Stopwatch.GetTimestamp();
                if (IdleSpinTicks > 0)
                {
                    // A closed-loop client sends its next step a few microseconds after its result; waking a blocked
                    // thread takes longer than that (tens of µs on a VM), so look for a while before blocking, yielding
                    // the core to any thread that can run (the continuations that will send those steps).
                    long until = t0 + IdleSpinTicks;
                    while (Volatile.Read(ref admitted) == 0 && !Volatile.Read(ref stopping) && Stopwatch.GetTimestamp() < until)
                    {
                        if (!Thread.Yield())
                        {
                            Thread.SpinWait(20);
                        }
                    }
                }

                lock (gate)
                {
                    // One worker at a time gathers a batch; the others wait for it to have taken its batch.
                    while (ready.Count == 0 || filling)
                    {
                        if (ready.Count == 0 && stopping && (!drain || (admitted == 0 && waiting.Count == 0)))
                        {
                            return;
                        }

                        sleepingWorkers++;
                        Monitor.Wait(gate);
                        sleepingWorkers--;
                    }

                    filling = true;
                }

                long t1 = Stopwatch.GetTimestamp();
                WaitForBatch();
                long t2 = Stopwatch.GetTimestamp();
                lock (gate)
                {
                    generation = TakeBatch(worker);
                    filling = false;
                    if (workers.Length > 1)
                    {
                        Monitor.PulseAll(gate);
                    }
                }

                long t3 = Stopwatch.GetTimestamp();
                worker.Times.Idle += t1 - t0;
                worker.Times.Fill += t2 - t1;
                worker.Times.Take += t3 - t2;
                if (generation is not null)
                {
                    RunBatch(worker, generation);
                }
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref liveWorkers) == 0)
            {
                stopped.TrySetResult();
            }
            else
            {
                lock (gate)
                {
                    Monitor.PulseAll(gate);
                }
            }
        }
    }

    // Lets more streams join while the batch is not full and the oldest pending step has waited less than MaxWait (and
    // stops when every pending step was cancelled). Spins, yielding the core: MaxWait is microseconds, below a timer's grain.
    private void WaitForBatch()
    {
        if (maxWaitTicks == 0)
        {
            return;
        }

        long deadline;
        lock (gate)
        {
            deadline = oldestReady + maxWaitTicks;
        }

        var spin = new SpinWait();
        while (Volatile.Read(ref admitted) is > 0 and var pending && pending < options.MaxBatchSize
            && Stopwatch.GetTimestamp() < deadline && !Volatile.Read(ref stopping))
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    // Under the lock: up to MaxBatchSize ready streams of one model, each with its next step; null when none is left.
    private Generation? TakeBatch(Worker worker)
    {
        var batch = worker.Batch;
        var running = worker.Running;
        batch.Clear();
        running.Clear();
        Generation? generation = null;
        int count = ready.Count;

        // With workers idle, a share of the ready streams: the batches run side by side.
        int limit = Math.Min(options.MaxBatchSize, (count + sleepingWorkers) / (1 + sleepingWorkers));
        for (int i = 0; i < count && batch.Count < limit; i++)
        {
            var stream = ready.Dequeue();
            if (generation is not null && stream.Generation != generation)
            {
                ready.Enqueue(stream);
                continue;
            }

            stream.InReady = false;
            Request? next = null;
            while (stream.Pending.TryPeek(out var request))
            {
                if (request.State == RequestState.Queued)
                {
                    next = stream.Pending.Dequeue();
                    break;
                }

                if (request.State == RequestState.Waiting)
                {
                    break;
                }

                stream.Pending.Dequeue();
            }

            if (next is null)
            {
                continue;
            }

            generation ??= stream.Generation;
            next.State = RequestState.Running;
            admitted--;
            stream.Running = true;
            batch.Add(stream);
            running.Add(next);
        }

        // Streams left in the queue keep their (older) time: the next batch does not wait for them again.
        AdmitWaiting();
        return generation;
    }

    private void RunBatch(Worker worker, Generation generation)
    {
        var model = generation.Model;
        var batch = worker.Batch;
        var running = worker.Running;
        int rows = batch.Count, stateSize = model.StateSize, inputSize = model.InputSize, outputSize = model.OutputSize;
        Grow(ref worker.States, rows * stateSize);
        Grow(ref worker.Outputs, rows * outputSize);
        Grow(ref worker.Counts, rows);
        T[] states = worker.States, outputs = worker.Outputs;
        int[] counts = worker.Counts;
        long t0 = Stopwatch.GetTimestamp(), t1 = t0, t2 = t0, t3 = t0;
        Exception? failure = null;
        var work = model.RentWorkspace();
        try
        {
            work.Ensure(1, rows);
            for (int r = 0; r < rows; r++)
            {
                var stream = batch[r];
                var request = running[r];
                generation.Slot(stream.Slot).CopyTo(states.AsSpan(r * stateSize, stateSize));
                if (request.Input is { } input)
                {
                    input.CopyTo(work.Input.AsSpan(r * inputSize, inputSize));
                }
                else
                {
                    work.Tokens[r] = request.Token;
                }

                counts[r] = stream.Steps + 1;
            }

            t1 = Stopwatch.GetTimestamp();

            // With several workers each runs its batched steps on its own thread (the workers are the parallelism);
            // one worker uses the threads the model allows.
            using (Kernels.KernelScope.Enter(workers.Length > 1 ? 1 : model.MaxDegreeOfParallelism))
            {
                model.StepRows(work, rows, outputs.AsSpan(0, rows * outputSize), states.AsSpan(0, rows * stateSize), counts.AsSpan(0, rows), tokens: model.TokenInput);
            }

            t2 = Stopwatch.GetTimestamp();
            for (int r = 0; r < rows; r++)
            {
                states.AsSpan(r * stateSize, stateSize).CopyTo(generation.Slot(batch[r].Slot));
                batch[r].Steps++;
            }

            t3 = Stopwatch.GetTimestamp();
        }
        catch (Exception e)
        {
            // The states were not written back: every stream of the batch is as it was before.
            failure = e;
        }
        finally
        {
            model.ReturnWorkspace(work);
        }

        bool requeued = false;
        lock (gate)
        {
            foreach (var stream in batch)
            {
                stream.Running = false;
                if (stream.Closed)
                {
                    generation.Return(stream.Slot);
                }
                else if (stream.Pending.Count > 0 && !stream.InReady)
                {
                    stream.InReady = true;
                    if (ready.Count == 0)
                    {
                        oldestReady = Stopwatch.GetTimestamp();
                    }

                    ready.Enqueue(stream);
                    requeued = true;
                }
            }

            batches++;
            steps += rows;
            if (workers.Length > 1 && (requeued || stopping))
            {
                // Another worker may be waiting for ready streams, or for the last batch to end before it stops.
                Monitor.PulseAll(gate);
            }
        }

        long t4 = Stopwatch.GetTimestamp();

        for (int r = 0; r < rows; r++)
        {
            var request = running[r];
            if (failure is null)
            {
                request.Complete(outputs.AsSpan(r * outputSize, outputSize));
            }
            else
            {
                request.Fail(failure);
            }
        }

        long t5 = Stopwatch.GetTimestamp();
        worker.Times.Gather += t1 - t0;
        worker.Times.Step += t2 - t1;
        worker.Times.Scatter += t3 - t2;
        worker.Times.Requeue += t4 - t3;
        worker.Times.Complete += t5 - t4;
    }

    private static void Grow<TItem>(ref TItem[] array, int length)
    {
        if (array.Length < length)
        {
            array = new TItem[Math.Max(length, 2 * array.Length)];
        }
    }

    /// <summary>Stopwatch ticks a worker spent: blocked with nothing ready, waiting for a batch to fill, taking it, copying
    /// the inputs and states in, in the batched step, copying the states out, requeueing the streams, completing the tasks.</summary>
    internal struct WorkerTimes
    {
        public long Idle, Fill, Take, Gather, Step, Scatter, Requeue, Complete;

        public static WorkerTimes operator +(WorkerTimes a, WorkerTimes b) => new()
        {
            Idle = a.Idle + b.Idle,
            Fill = a.Fill + b.Fill,
            Take = a.Take + b.Take,
            Gather = a.Gather + b.Gather,
            Step = a.Step + b.Step,
            Scatter = a.Scatter + b.Scatter,
            Requeue = a.Requeue + b.Requeue,
            Complete = a.Complete + b.Complete,
        };

        public static WorkerTimes operator -(WorkerTimes a, WorkerTimes b) => new()
        {
            Idle = a.Idle - b.Idle,
            Fill = a.Fill - b.Fill,
            Take = a.Take - b.Take,
            Gather = a.Gather - b.Gather,
            Step = a.Step - b.Step,
            Scatter = a.Scatter - b.Scatter,
            Requeue = a.Requeue - b.Requeue,
            Complete = a.Complete - b.Complete,
        };
    }

    /// <summary>One worker thread's batch and buffers.</summary>
    private sealed class Worker
    {
        public readonly List<BatchedStream<T>> Batch = [];
        public readonly List<Request> Running = [];
        public T[] States = [];
        public T[] Outputs = [];
        public int[] Counts = [];
        public WorkerTimes Times;
    }

    internal enum RequestState
    {
        New,
        Waiting,
        Queued,
        Running,
        Failed,
    }

    /// <summary>
    /// One step of a stream: a task-returning one (a new request per step), or the stream's reusable one, which is its
    /// own <see cref="IValueTaskSource"/> and writes into the caller's output buffer.
    /// </summary>
    internal sealed class Request : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> core = new() { RunContinuationsAsynchronously = true };
        private int inFlight;

        public Request(BatchedStream<T> stream, T[]? input, int token)
        {
            Stream = stream;
            Input = input;
            Token = token;
            Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // The stream's reusable request (no task completion source).
        public Request(BatchedStream<T> stream, int inputSize)
        {
            Stream = stream;
            Input = inputSize > 0 ? new T[inputSize] : null;
        }

        public TaskCompletionSource<T[]>? Completion { get; }

        public BatchedStream<T> Stream { get; }

        public StreamBatcher<T> Owner => Stream.Batcher;

        public T[]? Input { get; }

        public int Token { get; set; }

        public Memory<T> Output { get; set; }

        public RequestState State { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public CancellationToken Cancellation { get; set; }

        /// <summary>Takes the reusable request for one step; false while the previous one has not been awaited.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref inFlight, 1, 0) == 0;

        /// <summary>Resets it for a new step and returns the step's task.</summary>
        public ValueTask Begin()
        {
            State = RequestState.New;
            Registration = default;
            Cancellation = default;
            core.Reset();
            return new ValueTask(this, core.Version);
        }

        /// <summary>Gives the reusable request back (after its result was read, or when it was refused).</summary>
        public void Release()
        {
            Output = default;
            Volatile.Write(ref inFlight, 0);
        }

        public void Complete(ReadOnlySpan<T> output)
        {
            Registration.Dispose();
            if (Completion is not null)
            {
                Completion.TrySetResult(output.ToArray());
                return;
            }

            output.CopyTo(Output.Span);
            core.SetResult(true);
        }

        public void Fail(Exception e)
        {
            Registration.Dispose();
            if (Completion is not null)
                Completion.TrySetException(e);
            else
                core.SetException(e);
        }

        public void Cancel(OperationCanceledException e)
        {
            if (Completion is not null)
                Completion.TrySetCanceled(e.CancellationToken);
            else
                core.SetException(e);
        }

        void IValueTaskSource.GetResult(short token)
        {
            try
            {
                core.GetResult(token);
            }
            finally
            {
                Release();
            }
        }

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => core.OnCompleted(continuation, state, token, flags);
    }

    /// <summary>The streams of one model: their states in a slab of fixed chunks (never moved), and the free slots.</summary>
    internal sealed class Generation(FrozenModel<T> model)
    {
        private const int ChunkSlots = 256;
        private readonly List<T[]> chunks = [];
        private readonly Stack<int> free = new();
        private int used;

        public FrozenModel<T> Model { get; } = model;

        public int Rent()
        {
            if (free.TryPop(out int slot))
            {
                return slot;
            }

            slot = used++;
            if (slot / ChunkSlots >= chunks.Count)
            {
                chunks.Add(new T[ChunkSlots * Math.Max(1, Model.StateSize)]);
            }

            return slot;
        }

        public void Return(int slot) => free.Push(slot);

        public Span<T> Slot(int slot)
        {
            int size = Model.StateSize;
            return chunks[slot / ChunkSlots].AsSpan(slot % ChunkSlots * size, size);
        }
    }
}

/// <summary>One stream of a <see cref="StreamBatcher{T}"/>: opened by <see cref="StreamBatcher{T}.OpenStream"/>, stepped by
/// <see cref="StepAsync(ReadOnlySpan{T}, CancellationToken)"/>, closed by <see cref="Dispose"/>.</summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class BatchedStream<T> : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    internal BatchedStream(StreamBatcher<T> batcher, StreamBatcher<T>.Generation generation, int slot, long id)
    {
        Batcher = batcher;
        Generation = generation;
        Slot = slot;
        Id = id;
    }

    /// <summary>A number unique among the batcher's streams.</summary>
    public long Id { get; }

    /// <summary>The model this stream runs on (the batcher's model when it was opened).</summary>
    public FrozenModel<T> Model => Generation.Model;

    /// <summary>The steps this stream has taken.</summary>
    public int Steps { get; internal set; }

    /// <summary>Whether the stream is closed.</summary>
    public bool IsClosed => Closed;

    internal StreamBatcher<T> Batcher { get; }

    internal StreamBatcher<T>.Generation Generation { get; }

    internal int Slot { get; }

    internal Queue<StreamBatcher<T>.Request> Pending { get; } = new();

    private StreamBatcher<T>.Request? reusable;

    // The stream's reusable request, taken for one step writing into output.
    internal StreamBatcher<T>.Request Reuse(Memory<T> output, string paramName)
    {
        var model = Generation.Model;
        if (output.Length != model.OutputSize)
        {
            throw new ArgumentException($"{paramName} has {output.Length} values but the model writes {model.OutputSize} (outputSize).", paramName);
        }

        if (reusable is null)
        {
            Interlocked.CompareExchange(ref reusable, new StreamBatcher<T>.Request(this, model.TokenInput ? 0 : model.InputSize), null);
        }

        if (!reusable.TryTake())
        {
            throw new InvalidOperationException($"Stream {Id}'s previous StepAsync(..., output) has not been awaited: await each such step before the next (or use the overloads that return Task<T[]>, which may be pipelined).");
        }

        reusable.Output = output;
        return reusable;
    }

    internal bool Running { get; set; }

    internal bool InReady { get; set; }

    internal bool Closed { get; set; }

    /// <summary>Steps the stream; see <see cref="StreamBatcher{T}.StepAsync(BatchedStream{T}, ReadOnlySpan{T}, CancellationToken)"/>.</summary>
    public Task<T[]> StepAsync(ReadOnlySpan<T> input, CancellationToken cancellationToken = default) => Batcher.StepAsync(this, input, cancellationToken);

    /// <summary>Steps the stream with a token; see <see cref="StreamBatcher{T}.StepAsync(BatchedStream{T}, int, CancellationToken)"/>.</summary>
    public Task<T[]> StepAsync(int token, CancellationToken cancellationToken = default) => Batcher.StepAsync(this, token, cancellationToken);

    /// <summary>Steps the stream into a buffer of the caller's, allocating nothing; see
    /// <see cref="StreamBatcher{T}.StepAsync(BatchedStream{T}, ReadOnlySpan{T}, Memory{T}, CancellationToken)"/>.</summary>
    public ValueTask StepAsync(ReadOnlySpan<T> input, Memory<T> output, CancellationToken cancellationToken = default)
        => Batcher.StepAsync(this, input, output, cancellationToken);

    /// <summary>Steps the stream with a token into a buffer of the caller's; see
    /// <see cref="StreamBatcher{T}.StepAsync(BatchedStream{T}, int, Memory{T}, CancellationToken)"/>.</summary>
    public ValueTask StepAsync(int token, Memory<T> output, CancellationToken cancellationToken = default)
        => Batcher.StepAsync(this, token, output, cancellationToken);

    /// <summary>Closes the stream (<see cref="StreamBatcher{T}.CloseStream"/>).</summary>
    public void Dispose() => Batcher.CloseStream(this);
}
