using System.Runtime.ExceptionServices;

namespace RecurrentNets.Kernels;

/// <summary>One part of a job split over threads.</summary>
internal interface IParallelJob
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    void Run(int part, int parts);
}

/// <summary>
/// The library's worker threads, one per processor beyond the first, shared by everything that splits its work: the
/// GEMM driver, the recurrent layer's split time loops, the reservoir steps, the Gram kernel and the spectral radius.
/// Dispatching a job allocates nothing (no delegate, closure or Task): each worker waits on its own reusable event and
/// runs the job object the caller hands it, and threads start at the first job that needs them. A part runs under the
/// caller's <see cref="KernelScope"/> (its thread limit and GEMM path).
/// </summary>
/// <remarks>
/// One caller holds the pool at a time (<see cref="TryAcquire"/> ... <see cref="Release"/>). A caller that finds it held
/// (another thread's call, or a part of a job already running on the pool) runs its job on its own thread as one part,
/// which gives the same results: every job splits its work so that no sum depends on the number of parts.
/// </remarks>
internal sealed class WorkerPool
{
    private readonly Worker[] workers;
    private int busy;

    private WorkerPool(int count)
    {
        workers = new Worker[count];
        for (int w = 0; w < count; w++)
        {
            workers[w] = new Worker(w);
        }
    }

    /// <summary>The pool: one worker per processor beyond the first.</summary>
    public static WorkerPool Shared { get; } = new(Math.Max(0, Environment.ProcessorCount - 1));

    /// <summary>Threads available besides the caller.</summary>
    public int WorkerCount => workers.Length;

    /// <summary>Threads a job can use, the caller's included, under the calling thread's <see cref="KernelScope.MaxThreads"/>.</summary>
    public int MaxParts => Math.Min(workers.Length + 1, KernelScope.MaxThreads);

    /// <summary>Takes the pool if nobody holds it.</summary>
    public bool TryAcquire() => Interlocked.CompareExchange(ref busy, 1, 0) == 0;

    /// <summary>Gives the pool back.</summary>
    public void Release() => Volatile.Write(ref busy, 0);

    /// <summary>
    /// Runs <paramref name="job"/> in min(<paramref name="parts"/>, <see cref="MaxParts"/>) parts, parts 1.. on workers
    /// and part 0 on the calling thread, when the pool is free; otherwise (or for one part) as part 0 of 1 on the calling
    /// thread. Returns when all are done.
    /// </summary>
    public void Run(IParallelJob job, int parts)
    {
        parts = Math.Min(parts, MaxParts);
        if (parts > 1 && TryAcquire())
        {
            try
            {
                RunAcquired(job, parts);
            }
            finally
            {
                Release();
            }

            return;
        }

        job.Run(0, 1);
    }

    /// <summary>
    /// Runs parts 1..<paramref name="parts"/>-1 of <paramref name="job"/> on the workers and part 0 on the calling thread,
    /// which holds the pool (<see cref="TryAcquire"/>); returns when all are done. A part's exception is rethrown here
    /// (the calling thread's first) after every part has finished.
    /// </summary>
    /// <param name="job">The job; its parts read what they need from it.</param>
    /// <param name="parts">In [1, <see cref="WorkerCount"/> + 1].</param>
    public void RunAcquired(IParallelJob job, int parts)
    {
        int helpers = parts - 1;
        var scope = KernelScope.Current;
        for (int w = 0; w < helpers; w++)
        {
            workers[w].Start(job, w + 1, parts, scope);
        }

        ExceptionDispatchInfo? failure = null;
        try
        {
            job.Run(0, parts);
        }
        catch (Exception ex)
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }

        // Every worker is waited for, failed or not, so none still runs this job when the pool is given back.
        for (int w = 0; w < helpers; w++)
        {
            var workerFailure = workers[w].Join();
            failure ??= workerFailure;
        }

        failure?.Throw();
    }

    private sealed class Worker(int index)
    {
        // How long a worker (or a caller waiting for one) spins before it blocks: the time loop of a recurrent layer
        // calls a GEMM every few microseconds, and a blocked thread takes tens of microseconds to wake on a VM.
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs

        private readonly ManualResetEventSlim go = new(false, spinCount: 1);
        private readonly ManualResetEventSlim done = new(false, spinCount: 1);
        private Thread? thread;
        private IParallelJob? job;
        private int part, parts;
        private (int Threads, GemmPath Path) scope;
        private ExceptionDispatchInfo? failure;
        private int posted, completed, workerSleeping, callerSleeping;

        public void Start(IParallelJob work, int partIndex, int partCount, (int Threads, GemmPath Path) callerScope)
        {
            if (thread is null)
            {
                thread = new Thread(Loop) { IsBackground = true, Name = $"RecurrentNets worker {index + 1}" };
                thread.Start();
            }

            job = work;
            part = partIndex;
            parts = partCount;
            scope = callerScope;
            failure = null;
            Volatile.Write(ref completed, 0);
            Interlocked.Exchange(ref posted, 1); // full fence: the worker sees the job before the flag
            if (Volatile.Read(ref workerSleeping) == 1)
            {
                go.Set();
            }
        }

        public ExceptionDispatchInfo? Join()
        {
            AwaitFlag(ref completed, ref callerSleeping, done);
            job = null;
            return failure;
        }

        private void Loop()
        {
            while (true)
            {
                AwaitFlag(ref posted, ref workerSleeping, go);
                Volatile.Write(ref posted, 0);
                try
                {
                    using var callerScope = KernelScope.Adopt(scope);
                    job!.Run(part, parts);
                }
                catch (Exception ex)
                {
                    failure = ExceptionDispatchInfo.Capture(ex);
                }

                Interlocked.Exchange(ref completed, 1);
                if (Volatile.Read(ref callerSleeping) == 1)
                {
                    done.Set();
                }
            }
        }

        // Spins until flag = 1, then blocks on the event. The waiter announces its sleep with a full fence before its
        // last look at the flag, and the setter writes the flag with a full fence before its look at the announcement,
        // so at least one of them sees the other: no wake-up is lost. A stale Set only causes one more look.
        private static void AwaitFlag(ref int flag, ref int sleeping, ManualResetEventSlim wake)
        {
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref flag) == 0)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
                {
                    Thread.SpinWait(30);
                    continue;
                }

                Interlocked.Exchange(ref sleeping, 1);
                if (Volatile.Read(ref flag) == 0)
                {
                    wake.Wait();
                }

                wake.Reset();
                Volatile.Write(ref sleeping, 0);
            }
        }
    }
}
