namespace RecurrentNets.Kernels;

/// <summary>Process-wide settings of the compute kernels.</summary>
public static class KernelOptions
{
    private static int maxDegreeOfParallelism = Environment.ProcessorCount;

    [ThreadStatic]
    private static int threadLimit;

    /// <summary>
    /// The largest number of threads one kernel call may use (default: the number of processors). 1 runs every
    /// kernel on the calling thread. Results are bit-identical for every value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int MaxDegreeOfParallelism
    {
        get => threadLimit > 0 ? Math.Min(threadLimit, maxDegreeOfParallelism) : maxDegreeOfParallelism;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            maxDegreeOfParallelism = value;
        }
    }

    /// <summary>A cap on <see cref="MaxDegreeOfParallelism"/> for the calling thread only (0: none): a thread that is one of
    /// several running kernels side by side (a stream batcher's workers) sets 1.</summary>
    internal static int ThreadLimit
    {
        get => threadLimit;
        set => threadLimit = value;
    }
}
