namespace RecurrentNets.Kernels;

/// <summary>One part of a job split over threads.</summary>
internal interface IParallelJob
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    void Run(int part, int parts);
}

/// <summary>
/// Persistent worker threads for kernels that run once per time step: unlike Parallel.For, dispatching a job
/// allocates nothing (no delegate, closure or task), so a reservoir step stays at 0 bytes.
/// </summary>
internal sealed class WorkerPool
{
    private readonly SemaphoreSlim[] start;
    private readonly ManualResetEventSlim done = new(false);
    private readonly Lock gate = new();
    private IParallelJob? job;
    private int parts;
    private int pending;
    private Exception? failure;

    private WorkerPool(int workers)
    {
        start = new SemaphoreSlim[workers];
        for (int w = 0; w < workers; w++)
        {
            start[w] = new SemaphoreSlim(0);
            int id = w;
            var thread = new Thread(() => Work(id)) { IsBackground = true, Name = $"RecurrentNets worker {w + 1}" };
            thread.Start();
        }
    }

    /// <summary>The shared pool: one worker per processor beyond the first.</summary>
    public static WorkerPool Shared { get; } = new(Math.Max(0, Environment.ProcessorCount - 1));

    /// <summary>Threads a job can use, the caller's included, under <see cref="KernelOptions.MaxDegreeOfParallelism"/>.</summary>
    public int MaxParts => Math.Min(start.Length + 1, KernelOptions.MaxDegreeOfParallelism);

    /// <summary>Runs parts 1.. on workers and part 0 on the calling thread; returns when all are done.</summary>
    public void Run(IParallelJob work, int partCount)
    {
        partCount = Math.Min(partCount, MaxParts);
        if (partCount <= 1)
        {
            work.Run(0, 1);
            return;
        }

        lock (gate)
        {
            job = work;
            parts = partCount;
            failure = null;
            pending = partCount - 1;
            done.Reset();
            for (int w = 0; w < partCount - 1; w++)
            {
                start[w].Release();
            }

            try
            {
                work.Run(0, partCount);
            }
            finally
            {
                done.Wait();
                job = null;
            }

            if (failure is not null)
            {
                throw new AggregateException("a kernel worker failed", failure);
            }
        }
    }

    private void Work(int id)
    {
        while (true)
        {
            start[id].Wait();
            try
            {
                job!.Run(id + 1, parts);
            }
#pragma warning disable CA1031 // rethrown on the calling thread
            catch (Exception e)
            {
                failure = e;
            }
#pragma warning restore CA1031
            finally
            {
                if (Interlocked.Decrement(ref pending) == 0)
                {
                    done.Set();
                }
            }
        }
    }
}
