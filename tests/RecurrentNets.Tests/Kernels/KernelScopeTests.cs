using RecurrentNets.Kernels;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// <see cref="KernelScope"/>, the per-thread kernel policy that replaced the process-wide KernelOptions and
/// GemmDriver.ForcedPath, and <see cref="WorkerPool"/>, the one pool every kernel shares. In the GEMM collection: these
/// tests need the pool to themselves.
/// </summary>
[Collection(GemmCollection.Name)]
public sealed class KernelScopeTests
{
    [Fact]
    public void AScopeSetsTheCallingThreadsValuesAndDisposeRestoresThem()
    {
        Assert.Equal(Environment.ProcessorCount, KernelScope.MaxThreads);
        Assert.Equal(GemmPath.Auto, KernelScope.Path);
        using (KernelScope.Enter(3, GemmPath.Portable))
        {
            Assert.Equal(3, KernelScope.MaxThreads);
            Assert.Equal(GemmPath.Portable, KernelScope.Path);

            // Nested: an explicit value overrides, an unset one (null, Auto) inherits.
            using (KernelScope.Enter(null, GemmPath.Vector256))
            {
                Assert.Equal(3, KernelScope.MaxThreads);
                Assert.Equal(GemmPath.Vector256, KernelScope.Path);
                using (KernelScope.Enter(1))
                {
                    Assert.Equal(1, KernelScope.MaxThreads);
                    Assert.Equal(GemmPath.Vector256, KernelScope.Path);
                }

                Assert.Equal(3, KernelScope.MaxThreads);
            }

            Assert.Equal(GemmPath.Portable, KernelScope.Path);
        }

        Assert.Equal(Environment.ProcessorCount, KernelScope.MaxThreads);
        Assert.Equal(GemmPath.Auto, KernelScope.Path);
    }

    [Fact]
    public void AnotherThreadDoesNotSeeTheScope()
    {
        using var scope = KernelScope.Enter(1, GemmPath.Portable);
        (int, GemmPath) seen = default;
        var thread = new Thread(() => seen = (KernelScope.MaxThreads, KernelScope.Path));
        thread.Start();
        thread.Join();
        Assert.Equal((Environment.ProcessorCount, GemmPath.Auto), seen);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void ALimitBelowOneIsRefused(int threads)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => KernelScope.Enter(threads));
        Assert.Equal("maxThreads", error.ParamName);
        Assert.Equal(Environment.ProcessorCount, KernelScope.MaxThreads);
    }

    [Fact]
    public void EveryPartOfAJobRunsUnderTheCallersScope()
    {
        var job = new Recorder(parts => { });
        using (KernelScope.Enter(2, GemmPath.Portable))
        {
            WorkerPool.Shared.Run(job, 2);
        }

        Assert.Equal(Math.Min(2, 1 + WorkerPool.Shared.WorkerCount), job.Parts);
        Assert.All(job.Seen.Take(job.Parts), s => Assert.Equal((2, GemmPath.Portable), s));

        // And a worker keeps nothing of it for the next job.
        job = new Recorder(parts => { });
        WorkerPool.Shared.Run(job, 2);
        Assert.All(job.Seen.Take(job.Parts), s => Assert.Equal((Environment.ProcessorCount, GemmPath.Auto), s));
    }

    [Fact]
    public void ThePoolUsesNoMoreThreadsThanTheScopeAllows()
    {
        var job = new Recorder(parts => { });
        using (KernelScope.Enter(1))
        {
            WorkerPool.Shared.Run(job, 8);
        }

        Assert.Equal(1, job.Parts);
    }

    [Fact]
    public void AFailedPartReachesTheCallerAfterEveryPartHasFinishedAndThePoolIsFreeAgain()
    {
        if (WorkerPool.Shared.WorkerCount == 0)
        {
            return; // one processor: no worker to fail
        }

        // The caller's part fails at once while the worker's is still running: Run returns only after the worker is done.
        int finished = 0;
        var job = new Recorder(part =>
        {
            if (part == 0)
            {
                throw new InvalidOperationException("part 0 failed");
            }

            Thread.Sleep(50);
            Interlocked.Increment(ref finished);
        });
        var error = Assert.Throws<InvalidOperationException>(() => WorkerPool.Shared.Run(job, 2));
        Assert.Equal("part 0 failed", error.Message);
        Assert.Equal(1, Volatile.Read(ref finished));

        // A worker's failure reaches the caller too.
        var failing = new Recorder(part =>
        {
            if (part == 1)
            {
                throw new InvalidOperationException("part 1 failed");
            }
        });
        Assert.Equal("part 1 failed", Assert.Throws<InvalidOperationException>(() => WorkerPool.Shared.Run(failing, 2)).Message);
        Assert.True(WorkerPool.Shared.TryAcquire(), "the pool is still held after a failed job");
        WorkerPool.Shared.Release();

        var next = new Recorder(parts => { });
        WorkerPool.Shared.Run(next, 2);
        Assert.Equal(2, next.Parts);
    }

    [Fact]
    public void AJobStartedInsideAPartOrWhileThePoolIsHeldRunsAsOnePartOnItsThread()
    {
        var inner = new Recorder(parts => { });
        int innerThread = 0;
        var outer = new Recorder(part =>
        {
            if (part == 0)
            {
                innerThread = Environment.CurrentManagedThreadId;
                WorkerPool.Shared.Run(inner, 2); // the pool is held by this job: no deadlock, one part here
            }
        });
        WorkerPool.Shared.Run(outer, 2);
        Assert.Equal(1, inner.Parts);
        Assert.Equal(innerThread, inner.Threads[0]);

        Assert.True(WorkerPool.Shared.TryAcquire());
        try
        {
            var held = new Recorder(parts => { });
            WorkerPool.Shared.Run(held, 2);
            Assert.Equal(1, held.Parts);
            Assert.Equal(Environment.CurrentManagedThreadId, held.Threads[0]);
        }
        finally
        {
            WorkerPool.Shared.Release();
        }
    }

    /// <summary>Records each part's thread, part count and kernel scope.</summary>
    private sealed class Recorder(Action<int> body) : IParallelJob
    {
        public (int Threads, GemmPath Path)[] Seen { get; } = new (int, GemmPath)[64];

        public int[] Threads { get; } = new int[64];

        public int Parts { get; private set; }

        public void Run(int part, int parts)
        {
            Parts = parts;
            Seen[part] = (KernelScope.MaxThreads, KernelScope.Path);
            Threads[part] = Environment.CurrentManagedThreadId;
            body(part);
        }
    }
}
