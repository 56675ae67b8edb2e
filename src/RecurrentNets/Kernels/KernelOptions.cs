namespace RecurrentNets.Kernels;

/// <summary>Process-wide settings of the compute kernels.</summary>
public static class KernelOptions
{
    private static int maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The largest number of threads one kernel call may use (default: the number of processors). 1 runs every
    /// kernel on the calling thread. Results are bit-identical for every value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int MaxDegreeOfParallelism
    {
        get => maxDegreeOfParallelism;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            maxDegreeOfParallelism = value;
        }
    }
}
