namespace RecurrentNets.Serving;

/// <summary>What <see cref="StreamBatcher{T}.StepAsync(BatchedStream{T}, ReadOnlySpan{T}, CancellationToken)"/> does when
/// <see cref="StreamBatcherOptions.QueueCapacity"/> steps are already pending.</summary>
public enum QueueFullMode
{
    /// <summary>The step waits (asynchronously, in call order) until a batch takes pending steps and frees room.</summary>
    Wait,

    /// <summary>The call throws <see cref="QueueFullException"/> at once (a service answers 503 and the client retries).</summary>
    Fail,
}

/// <summary>The options of a <see cref="StreamBatcher{T}"/>. Triton's sequence batcher names: <c>max_batch_size</c>,
/// <c>max_queue_delay_microseconds</c>, <c>max_queue_size</c>.</summary>
public sealed record StreamBatcherOptions
{
    /// <summary>The most streams stepped in one batched step (default 256). Larger batches use the cores better and wait longer.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// How long the oldest pending step may wait for others to join its batch before a batch smaller than
    /// <see cref="MaxBatchSize"/> runs (default zero: whatever is pending runs at once). Steps that arrive while a batch
    /// runs join the next one anyway, so batches grow with the load without waiting: in the serve benchmark zero was the
    /// fastest setting at 1 to 1,000 closed-loop streams, and 100 µs cut one stream's throughput fivefold
    /// (docs/serving.md). A wait helps when steps arrive spread out and a bigger batch matters more than latency.
    /// </summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// The threads that run batched steps (default 1). With one, a batched step's products use the library's worker
    /// threads, up to the model's <see cref="Models.FrozenModel{T}.MaxDegreeOfParallelism"/> (all processors when null);
    /// with more, each runs its own batches on its own thread alone, so that batches of different streams run side by
    /// side with no meeting of threads inside a step.
    /// </summary>
    public int Workers { get; init; } = 1;

    /// <summary>The most steps pending (admitted, not yet in a batch) over all streams (default 65,536).</summary>
    public int QueueCapacity { get; init; } = 65_536;

    /// <summary>What a step does when the queue is full (default <see cref="QueueFullMode.Wait"/>).</summary>
    public QueueFullMode QueueFullMode { get; init; } = QueueFullMode.Wait;

    /// <summary>Whether a step whose input holds NaN or ±∞ is refused with <see cref="ArgumentException"/> (default true).</summary>
    public bool RejectNonFiniteInput { get; init; } = true;

    internal void Validate()
    {
        if (MaxBatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "MaxBatchSize must be at least 1.");
        }

        if (MaxWait < TimeSpan.Zero || MaxWait > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWait), MaxWait, "MaxWait must lie in [0, 10 s].");
        }

        if (Workers < 1 || Workers > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "Workers must lie in [1, 256].");
        }

        if (QueueCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "QueueCapacity must be at least 1.");
        }

        if (!Enum.IsDefined(QueueFullMode))
        {
            throw new ArgumentOutOfRangeException(nameof(QueueFullMode), QueueFullMode, "QueueFullMode must be Wait or Fail.");
        }
    }
}

/// <summary>Thrown by a step when the batcher's queue is full and <see cref="StreamBatcherOptions.QueueFullMode"/> is
/// <see cref="QueueFullMode.Fail"/>. Nothing was queued; the stream is as it was.</summary>
public sealed class QueueFullException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public QueueFullException(string message)
        : base(message)
    {
    }
}
