using System.Diagnostics;

namespace RecurrentNets.Kernels;

/// <summary>
/// A reusable barrier for the parts of one <see cref="WorkerPool"/> job, each on its own thread: the parts of a
/// time loop split over hidden units meet here once per step. A waiter spins for a few microseconds (a step lasts
/// microseconds and the partner is on its own core), then blocks: when another process has taken the partner's core, a
/// core left idle lets the scheduler move the partner onto it, where a spinning waiter would keep it away for a whole
/// time slice (which made a batch-1 step of 3 µs take 0.7 ms on a shared machine). A part that fails calls
/// <see cref="Abort"/>, so the others leave instead of waiting forever. Allocation-free.
/// </summary>
internal sealed class SpinBarrier
{
    // How long a waiter spins before it blocks.
    private static readonly long SpinTicks = Stopwatch.Frequency / 50_000; // 20 µs

    private readonly object gate = new();
    private int parts, arrived, generation, aborted, sleepers;

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
            Interlocked.Increment(ref generation); // full fence: the reset count is seen before the release
            WakeSleepers();
            return Volatile.Read(ref aborted) == 0;
        }

        long deadline = 0;
        for (int spins = 0; !Released(seen); spins++)
        {
            if ((spins & 63) == 0)
            {
                long now = Stopwatch.GetTimestamp();
                if (deadline == 0)
                {
                    deadline = now + SpinTicks;
                }
                else if (now > deadline)
                {
                    Sleep(seen);
                    break;
                }
            }

            Thread.SpinWait(1);
        }

        return Volatile.Read(ref aborted) == 0;
    }

    /// <summary>Releases every waiter with false, now and at every later wait until the next <see cref="Reset"/>.</summary>
    public void Abort()
    {
        Interlocked.Exchange(ref aborted, 1);
        lock (gate)
        {
            Monitor.PulseAll(gate);
        }
    }

    // Whether the generation moved on or a part aborted.
    private bool Released(int seen) => Volatile.Read(ref generation) != seen || Volatile.Read(ref aborted) != 0;

    // The sleeper counts itself (full fence) before its last look at the generation, and the releaser moves the
    // generation (full fence) before it looks at the count: at least one sees the other, so no wake-up is lost.
    private void Sleep(int seen)
    {
        lock (gate)
        {
            Interlocked.Increment(ref sleepers);
            while (!Released(seen))
            {
                Monitor.Wait(gate);
            }

            Interlocked.Decrement(ref sleepers);
        }
    }

    private void WakeSleepers()
    {
        if (Volatile.Read(ref sleepers) > 0)
        {
            lock (gate)
            {
                Monitor.PulseAll(gate);
            }
        }
    }
}
