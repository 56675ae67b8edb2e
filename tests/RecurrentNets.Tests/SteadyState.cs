namespace RecurrentNets.Tests;

/// <summary>Measures what a warmed-up piece of code allocates on the calling thread.</summary>
internal static class SteadyState
{
    /// <summary>
    /// The fewest bytes any of <paramref name="windows"/> windows of <paramref name="calls"/> calls of
    /// <paramref name="body"/> allocates on this thread. The runtime's own tier-up work can allocate once on the calling
    /// thread (24 bytes seen in CI), so the property tested is that some steady-state window allocates nothing; an
    /// allocation made by every call shows in every window and still fails.
    /// </summary>
    public static long AllocatedBytes(Action<int> body, int calls, int windows = 4)
    {
        long best = long.MaxValue;
        for (int w = 0; w < windows && best != 0; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < calls; i++)
            {
                body(i);
            }

            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return best;
    }
}
