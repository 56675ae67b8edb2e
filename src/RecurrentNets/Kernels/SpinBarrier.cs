namespace RecurrentNets.Kernels;

/// <summary>
/// A reusable barrier for the parts of one <see cref="GemmWorkerPool"/> job, each on its own thread: the parts of a
/// time loop split over hidden units meet here once per step. Waiters spin (yielding now and then, never sleeping), since
/// a step lasts microseconds. A part that fails calls <see cref="Abort"/>, so the others leave instead of waiting forever.
/// </summary>
internal sealed class SpinBarrier
{
    // About 50 µs of pause instructions before the back-off starts yielding.
    private const int TightSpins = 20_000;

    private int parts, arrived, generation, aborted;

    /// <summary>Arms the barrier for <paramref name="count"/> parts (call before the parts start).</summary>
    public void Reset(int count)
    {
        parts = count;
        arrived = 0;
        Volatile.Write(ref aborted, 0);
    }

    /// <summary>Waits until every part has arrived; false when a part aborted (the caller then stops).</summary>
    public bool SignalAndWait()
    {
        int seen = Volatile.Read(ref generation);
        if (Interlocked.Increment(ref arrived) == parts)
        {
            arrived = 0;
            Interlocked.Increment(ref generation); // full fence: the reset of the count is seen before the release
            return Volatile.Read(ref aborted) == 0;
        }

        // A tight spin first (the partner is on its own core, a step away), then SpinWait's back-off, which yields the
        // core now and then in case the partner is waiting for it (more threads than cores).
        var spinner = new SpinWait();
        for (int spins = 0; Volatile.Read(ref generation) == seen; spins++)
        {
            if (Volatile.Read(ref aborted) != 0)
            {
                return false;
            }

            if (spins < TightSpins)
            {
                Thread.SpinWait(1);
            }
            else
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        return Volatile.Read(ref aborted) == 0;
    }

    /// <summary>Releases every waiter with false, now and at every later wait until the next <see cref="Reset"/>.</summary>
    public void Abort() => Interlocked.Exchange(ref aborted, 1);
}
