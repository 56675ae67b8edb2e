using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace RecurrentNets.Kernels;

/// <summary>One GEMM call split into parts over disjoint tiles of C; the same object is reused by every call.</summary>
internal sealed unsafe class GemmJob
{
    /// <summary>Runs part <c>index</c> of the job (a generic instantiation chosen by the caller, so no delegate).</summary>
    public delegate*<GemmJob, int, void> Body;

    /// <summary>The whole problem; the parts only read it.</summary>
    public GemmProblem Problem;

    /// <summary>Number of parts.</summary>
    public int Parts;

    /// <summary>Split C by rows (true) or by columns (false).</summary>
    public bool SplitRows;

    /// <summary>Rows or columns per part (a multiple of the register tile).</summary>
    public int Chunk;

    /// <summary>For a packing job: NR, the width of a micro-panel.</summary>
    public int PanelWidth;

    /// <summary>For jobs other than a GEMM (the recurrent layer's batch-split time loop): the object the parts work on.</summary>
    public object? State;
}

/// <summary>
/// A persistent pool of one background thread per extra core, so that a threaded GEMM call allocates nothing and
/// creates no Task: each worker waits on its own reusable event and runs the shared cached <see cref="GemmJob"/>.
/// One caller at a time owns the pool; a concurrent caller finds it busy and runs single-threaded.
/// </summary>
internal static class GemmWorkerPool
{
    private static readonly Worker[] Workers = CreateWorkers();
    private static int busy;

    /// <summary>The job owned by whoever holds the pool.</summary>
    public static readonly GemmJob Job = new();

    /// <summary>Threads available besides the caller.</summary>
    public static int WorkerCount => Workers.Length;

    /// <summary>Takes the pool if nobody holds it.</summary>
    public static bool TryAcquire() => Interlocked.CompareExchange(ref busy, 1, 0) == 0;

    /// <summary>Gives the pool back.</summary>
    public static void Release() => Volatile.Write(ref busy, 0);

    /// <summary>Runs parts 1..Parts-1 of <see cref="Job"/> on the workers and part 0 on the caller; returns when all are done.</summary>
    public static unsafe void Run()
    {
        GemmJob job = Job;
        int helpers = job.Parts - 1;
        for (int w = 0; w < helpers; w++)
            Workers[w].Start(job, w + 1);

        ExceptionDispatchInfo? failure = null;
        try
        {
            job.Body(job, 0);
        }
        catch (Exception ex)
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }

        for (int w = 0; w < helpers; w++)
            failure ??= Workers[w].Join();
        failure?.Throw();
    }

    private static Worker[] CreateWorkers()
    {
        var workers = new Worker[Math.Max(0, Environment.ProcessorCount - 1)];
        for (int i = 0; i < workers.Length; i++)
            workers[i] = new Worker(i);
        return workers;
    }

    private sealed class Worker
    {
        // How long a worker (or a caller waiting for one) spins before it blocks: the time loop of a recurrent layer
        // calls a GEMM every few microseconds, and a blocked thread takes tens of microseconds to wake on a VM.
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs

        private readonly ManualResetEventSlim go = new(false, spinCount: 1);
        private readonly ManualResetEventSlim done = new(false, spinCount: 1);
        private GemmJob? job;
        private int part;
        private ExceptionDispatchInfo? failure;
        private int posted, completed, workerSleeping, callerSleeping;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"RecurrentNets GEMM worker {index + 1}" };
            thread.Start();
        }

        public void Start(GemmJob work, int index)
        {
            job = work;
            part = index;
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
            return failure;
        }

        private unsafe void Loop()
        {
            while (true)
            {
                AwaitFlag(ref posted, ref workerSleeping, go);
                Volatile.Write(ref posted, 0);
                try
                {
                    GemmJob work = job!;
                    work.Body(work, part);
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

/// <summary>Per-thread packing buffers, pinned (so raw pointers stay valid), 64-byte aligned, grown only when too small.</summary>
internal static unsafe class GemmBuffers<T>
    where T : unmanaged
{
    [ThreadStatic]
    private static T[]? packedA;

    [ThreadStatic]
    private static T[]? packedB;

    /// <summary>This thread's buffer for packed A, at least <paramref name="length"/> elements.</summary>
    public static T* A(int length) => Get(ref packedA, length);

    /// <summary>This thread's buffer for packed B, at least <paramref name="length"/> elements.</summary>
    public static T* B(int length) => Get(ref packedB, length);

    private static T* Get(ref T[]? array, int length)
    {
        int pad = 64 / sizeof(T);
        if (array is null || array.Length < length + pad)
            array = GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return (T*)((address + 63) & ~(nint)63);
    }
}
