using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2;

/// <summary>
/// Stores an episode of task vectors in a <see cref="HopfieldSequenceCache"/> and replays it forward and in reverse
/// (Cheng and Brown 2025). Task vectors map to cache patterns through a random ±1 key per time step (pattern separation,
/// so repeated items such as "a a a" stay distinct), and back through a one-shot linear read-out R = X·K⁺ (MathNet
/// pseudo-inverse). By default the cache state is first cleaned up by a winner-take-all layer whose one-shot weights are
/// the keys (x̂ = R·k_w, w = argmax_t k_t·sgn(u)), so a few flipped units do not perturb the replayed vectors and the
/// reverse sweep sees exactly the inputs of the forward replay; <see cref="CleanUp"/> = false applies R to sgn(u) directly.
/// </summary>
/// <remarks>N = cache units, L = items, n_x = features. Storing allocates (keys, read-out); replaying does not.</remarks>
public sealed class CacheReplay : IReplaySource
{
    private readonly SeededRandom random;
    private readonly double keyDensity;
    private double[] keys = [], readout = [], overlaps = [];
    private bool started, reverse;

    /// <summary>Creates an empty replay on <paramref name="cache"/>.</summary>
    /// <param name="cache">The cache (N units).</param>
    /// <param name="itemSize">n_x.</param>
    /// <param name="random">The source of the keys.</param>
    /// <param name="keyDensity">The fraction of +1 units in a key (default 0.4, the authors' demo).</param>
    public CacheReplay(HopfieldSequenceCache cache, int itemSize, SeededRandom random, double keyDensity = 0.4)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(itemSize, 1);
        if (!(keyDensity > 0 && keyDensity < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(keyDensity), keyDensity, "keyDensity must be in (0, 1).");
        }

        Cache = cache;
        ItemSize = itemSize;
        this.random = random;
        this.keyDensity = keyDensity;
    }

    /// <summary>The cache.</summary>
    public HopfieldSequenceCache Cache { get; }

    /// <inheritdoc/>
    public int Length { get; private set; }

    /// <inheritdoc/>
    public int ItemSize { get; }

    /// <summary>Whether the cache state is cleaned up to the nearest stored key before the read-out (default true).</summary>
    public bool CleanUp { get; set; } = true;

    /// <summary>The fraction of units that agreed with the best-matching key at the last read (1 = perfect recall).</summary>
    public double LastOverlap { get; private set; }

    /// <summary>The time step of the best-matching key at the last read.</summary>
    public int LastIndex { get; private set; }

    /// <summary>The keys of the stored episode, [L, N] (±1).</summary>
    public ReadOnlySpan<double> Keys => keys;

    /// <summary>
    /// One-shot storage of <paramref name="sequence"/> [L, n_x]: draws a key per time step, stores the key chain in both
    /// directions, and fits the read-out.
    /// </summary>
    /// <exception cref="ArgumentException">The shape is wrong, or L exceeds the cache's capacity.</exception>
    public void Store(Tensor<double> sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Rank != 2 || sequence.Size(1) != ItemSize || sequence.Size(0) < 2)
        {
            throw new ArgumentException($"sequence has shape {Tensor<double>.FormatShape(sequence.Shape)} but [length ≥ 2, {ItemSize}] is expected.", nameof(sequence));
        }

        int length = sequence.Size(0), n = Cache.Size;
        if (length > Cache.Capacity)
        {
            throw new ArgumentException($"An episode of {length} items does not fit a cache of {n} units (capacity ≈ 0.08·N = {Cache.Capacity} items).", nameof(sequence));
        }

        keys = new double[length * n];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = random.NextDouble() < keyDensity ? 1 : -1;
        }

        Cache.Store(keys);

        // R [n_x, N] = X [n_x, L] · K⁺ [L, N], with K [N, L] holding the keys as columns.
        var k = Matrix<double>.Build.Dense(n, length, (i, t) => keys[t * n + i]);
        var x = Matrix<double>.Build.Dense(ItemSize, length, (f, t) => sequence.Data[t * ItemSize + f]);
        var r = x * k.PseudoInverse();
        readout = new double[ItemSize * n];
        for (int f = 0; f < ItemSize; f++)
        {
            for (int i = 0; i < n; i++)
            {
                readout[f * n + i] = r[f, i];
            }
        }

        overlaps = new double[length];
        Length = length;
    }

    /// <inheritdoc/>
    public void StartForward()
    {
        Cache.Start(ReplayDirection.Forward);
        started = false;
        reverse = false;
    }

    /// <inheritdoc/>
    public void NextForward(Span<double> item) => Next(item);

    /// <inheritdoc/>
    public void StartReverse()
    {
        Cache.Start(ReplayDirection.Reverse);
        started = false;
        reverse = true;
    }

    /// <inheritdoc/>
    public void NextReverse(Span<double> item) => Next(item);

    /// <summary>Decodes the cache's current state into a task vector x̂ = R·sgn(u) [n_x].</summary>
    public void Decode(Span<double> item)
    {
        int n = Cache.Size;
        R2N2Kernels.MatVec(keys, Cache.State, 1, overlaps, accumulate: false);
        int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<double>(overlaps);
        LastIndex = best;
        LastOverlap = (overlaps[best] + n) / (2.0 * n);
        ReadOnlySpan<double> source = CleanUp ? keys.AsSpan(best * n, n) : Cache.State;
        R2N2Kernels.MatVec(readout, source, 1, item, accumulate: false);
    }

    private void Next(Span<double> item)
    {
        if (started)
        {
            Cache.Advance();
        }

        started = true;
        Decode(item);
        int expected = reverse ? Length - 1 - Cache.Position : Cache.Position;
        if (LastIndex != expected)
        {
            throw new CacheRecallException($"The cache replayed item {LastIndex} (overlap {LastOverlap:F3}) where item {expected} of {Length} was due: recall failed. A larger cache (N ≳ 500 for 10-item episodes) makes this rarer.");
        }
    }
}

/// <summary>The cache replayed an item out of order (a recall failure): never passed on silently.</summary>
public sealed class CacheRecallException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public CacheRecallException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public CacheRecallException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CacheRecallException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
