using RecurrentNets.Kernels;

namespace RecurrentNets.Sequence;

/// <summary>
/// Turns a second thread's call into an object that runs one call at a time (its buffers hold the call's activations)
/// into an <see cref="InvalidOperationException"/> instead of a hang or wrong results. The thread inside may call in
/// again (a model's training step runs its own forward pass). One interlocked compare-exchange per call.
/// </summary>
internal struct ConcurrentUseGuard
{
    private int owner;
    private int depth;

    /// <summary>Marks the calling thread as inside <paramref name="target"/>.</summary>
    /// <exception cref="InvalidOperationException">Another thread is inside.</exception>
    public void Enter(object target)
    {
        int id = Environment.CurrentManagedThreadId;
        int previous = Interlocked.CompareExchange(ref owner, id, 0);
        if (previous != 0 && previous != id)
        {
            throw new InvalidOperationException(
                $"This {Describe(target.GetType())} is already running a call on another thread. A layer or a model runs one call at a time, " +
                "because its buffers hold that call's activations: give each thread its own instance.");
        }

        depth++;
    }

    /// <summary>Leaves; the last exit frees the object for any thread.</summary>
    public void Exit()
    {
        if (--depth == 0)
        {
            Volatile.Write(ref owner, 0);
        }
    }

    private static string Describe(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(a => a == typeof(float) ? "float" : a == typeof(double) ? "double" : a.Name))}>"
        : type.Name;
}

/// <summary>
/// One call of a layer or model: its <see cref="ConcurrentUseGuard"/> entered and the object's thread limit in force
/// until <see cref="Dispose"/> (<c>using var call = new CallScope(ref guard, this, MaxDegreeOfParallelism);</c>).
/// </summary>
internal ref struct CallScope
{
    private readonly ref ConcurrentUseGuard guard;
    private readonly KernelScope kernels;

    /// <summary>Enters <paramref name="guard"/> for <paramref name="target"/>, then a kernel scope of
    /// <paramref name="maxThreads"/>.</summary>
    /// <exception cref="InvalidOperationException">Another thread is inside <paramref name="target"/>.</exception>
    public CallScope(ref ConcurrentUseGuard guard, object target, int? maxThreads)
    {
        guard.Enter(target);
        this.guard = ref guard;
        kernels = KernelScope.Enter(maxThreads);
    }

    /// <summary>Restores the thread limit and leaves the guard.</summary>
    public readonly void Dispose()
    {
        kernels.Dispose();
        guard.Exit();
    }
}
