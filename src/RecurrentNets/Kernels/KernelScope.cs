namespace RecurrentNets.Kernels;

/// <summary>
/// The calling thread's kernel policy: the most threads one kernel call may use, and the instruction-set path the GEMM
/// takes. Each public entry point that runs kernels (a model's call, a reservoir step, a trainer's fit, a stream
/// batcher's worker) enters a scope with its own <c>MaxDegreeOfParallelism</c> for the duration of the call; kernels
/// read <see cref="MaxThreads"/> and <see cref="Path"/>; the worker pool runs each part of a job under its caller's
/// values. Nothing is process-wide, so two threads (two tests) with different values never see each other's.
/// </summary>
/// <remarks>
/// <code>
/// using (KernelScope.Enter(maxThreads: 1, GemmPath.Portable)) { ... }   // restores the previous values on dispose
/// </code>
/// Nested scopes: an inner explicit value overrides the outer one, an unset one (null threads, <see cref="GemmPath.Auto"/>)
/// inherits it. Outside every scope a call may use all processors and the widest accelerated path. Results are
/// bit-identical for every thread count (every split keeps each sum's order).
/// </remarks>
internal readonly struct KernelScope : IDisposable
{
    [ThreadStatic]
    private static int threads; // 0: not set, all processors

    [ThreadStatic]
    private static GemmPath path; // Auto: the widest accelerated path

    private readonly int previousThreads;
    private readonly GemmPath previousPath;

    private KernelScope(int previousThreads, GemmPath previousPath)
    {
        this.previousThreads = previousThreads;
        this.previousPath = previousPath;
    }

    /// <summary>The most threads a kernel call on this thread may use, the caller's included: at least 1.</summary>
    public static int MaxThreads => threads > 0 ? threads : Environment.ProcessorCount;

    /// <summary>The GEMM path forced on this thread (tests), or <see cref="GemmPath.Auto"/>.</summary>
    public static GemmPath Path => path;

    /// <summary>This thread's values as set (0 threads: not set), for a worker to run a part of this thread's job under.</summary>
    internal static (int Threads, GemmPath Path) Current => (threads, path);

    /// <summary>Sets this thread's values until the scope is disposed.</summary>
    /// <param name="maxThreads">The most threads a kernel call may use (≥ 1), or null to keep the enclosing value.</param>
    /// <param name="gemmPath">The GEMM path to force, or <see cref="GemmPath.Auto"/> to keep the enclosing one.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxThreads"/> is less than 1.</exception>
    public static KernelScope Enter(int? maxThreads, GemmPath gemmPath = GemmPath.Auto)
    {
        if (maxThreads is int value)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(maxThreads));
        }

        var scope = new KernelScope(threads, path);
        if (maxThreads is int m)
        {
            threads = m;
        }

        if (gemmPath != GemmPath.Auto)
        {
            path = gemmPath;
        }

        return scope;
    }

    /// <summary>Enters values taken from <see cref="Current"/> on another thread.</summary>
    internal static KernelScope Adopt((int Threads, GemmPath Path) values) => Enter(values.Threads > 0 ? values.Threads : null, values.Path);

    /// <summary>Validates an entry point's <c>MaxDegreeOfParallelism</c>: null or at least 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int? Validate(int? maxDegreeOfParallelism, string name = "MaxDegreeOfParallelism")
    {
        if (maxDegreeOfParallelism is int value && value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1 (or null to use the calling thread's limit, all processors by default).");
        }

        return maxDegreeOfParallelism;
    }

    /// <summary>Restores the values the scope found.</summary>
    public void Dispose()
    {
        threads = previousThreads;
        path = previousPath;
    }
}
