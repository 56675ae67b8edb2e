using RecurrentNets.Kernels;

namespace RecurrentNets.R2N2;

/// <summary>The direction of a cache replay.</summary>
public enum ReplayDirection
{
    /// <summary>From the first stored item to the last.</summary>
    Forward,

    /// <summary>From the last stored item to the first.</summary>
    Reverse,
}

/// <summary>How the cache's gate λ oscillates so that each half-cycle advances exactly one item.</summary>
public enum CachePumpMode
{
    /// <summary>Self-timed: λ toggles once the state changed and then kept every sign for m consecutive steps.</summary>
    SelfTimed,

    /// <summary>External oscillator λ_t = ½(1 + cos(π·t/H)), λ starting at 1.</summary>
    ExternalCosine,
}

/// <summary>
/// The cache of R2N2 (Cheng and Brown 2025): one population of N binary units with two Hopfield weight matrices that
/// store alternate transitions of a pattern sequence one-shot, mixed by an oscillating gate so that every half-cycle
/// advances one item ("two Hopfield networks oscillate, serve as pump"). One storage builds both a forward and a reverse
/// pair, so the same episode replays in both directions. Background: asymmetric sequence Hopfield memories
/// (Sompolinsky and Kanter 1986; Kleinfeld 1986).
/// </summary>
/// <remarks>
/// <para>N = <see cref="Size"/>, P = stored items, τ_c = 6. Dynamics:
/// u ← (1 − 1/τ_c)·u + (1/τ_c)·(λ·W⁽²⁾ + (1 − λ)·W⁽¹⁾)·sgn(u), sgn(0) = +1.</para>
/// <para>Storage: ρ = mean of all pattern entries, p^μ = ξ^μ − ρ; the j-th transition src → dst in playing order adds
/// p^dst·(p^src + p^dst)ᵀ / N to W⁽²⁾ when j is even and to W⁽¹⁾ when odd, so play always starts with λ = 1.</para>
/// <para>Capacity: about 0.08·N items (measured: N = 500 recalls P ≤ 40 with a 3-step settle test and fails from P ≈ 50);
/// <see cref="Store"/> refuses more. Stepping allocates nothing.</para>
/// </remarks>
public sealed class HopfieldSequenceCache
{
    /// <summary>The capacity rule of thumb: 0.08 items per unit.</summary>
    public const double CapacityPerUnit = 0.08;

    private readonly double[] forward1, forward2, reverse1, reverse2;
    private readonly double[] potentials, signs, field;
    private double[] active1, active2;
    private int unchanged, sinceToggle, time, itemIndex;
    private bool changedSinceToggle;
    private double lambda;

    /// <summary>Creates an empty cache of <paramref name="size"/> units.</summary>
    /// <param name="size">N.</param>
    /// <param name="pump">Self-timed (default) or external cosine.</param>
    /// <param name="settleSteps">m, the unchanged steps that count as settled (self-timed; default 3).</param>
    /// <param name="halfCycle">H, the steps per half-cycle (external; default 30).</param>
    /// <param name="tau">τ_c (default 6).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or time constant is out of range.</exception>
    public HopfieldSequenceCache(int size, CachePumpMode pump = CachePumpMode.SelfTimed, int settleSteps = 3, int halfCycle = 30, double tau = 6)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(settleSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(halfCycle, 4);
        if (!(tau >= 1) || !double.IsFinite(tau))
        {
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "tau must be finite and at least 1.");
        }

        Size = size;
        Pump = pump;
        SettleSteps = settleSteps;
        HalfCycle = halfCycle;
        Tau = tau;
        forward1 = new double[size * size];
        forward2 = new double[size * size];
        reverse1 = new double[size * size];
        reverse2 = new double[size * size];
        potentials = new double[size];
        signs = new double[size];
        field = new double[size];
        active1 = forward1;
        active2 = forward2;
        First = new double[size];
        Last = new double[size];
    }

    /// <summary>N.</summary>
    public int Size { get; }

    /// <summary>The pump.</summary>
    public CachePumpMode Pump { get; }

    /// <summary>m.</summary>
    public int SettleSteps { get; }

    /// <summary>H.</summary>
    public int HalfCycle { get; }

    /// <summary>τ_c.</summary>
    public double Tau { get; }

    /// <summary>The most items the cache accepts: ⌊0.08·N⌋.</summary>
    public int Capacity => (int)(CapacityPerUnit * Size);

    /// <summary>P, the items stored.</summary>
    public int Count { get; private set; }

    /// <summary>The unit signs sgn(u) [N] (±1): the item being held.</summary>
    public ReadOnlySpan<double> State => signs;

    /// <summary>The index in playing order of the item the replay has reached (0 = the start item).</summary>
    public int Position => itemIndex;

    /// <summary>The dynamics steps run since the replay started.</summary>
    public int StepsRun => time;

    private double[] First { get; }

    private double[] Last { get; }

    /// <summary>
    /// Stores a sequence of ±1 patterns one-shot, building the forward and the reverse matrix pairs.
    /// </summary>
    /// <param name="patterns">ξ¹ … ξᴾ, [P, N] row-major, every entry ±1.</param>
    /// <exception cref="ArgumentException">The length is not a multiple of N, P &lt; 2, an entry is not ±1, or P exceeds
    /// <see cref="Capacity"/> (the message gives the capacity and the measured failure point).</exception>
    public void Store(ReadOnlySpan<double> patterns)
    {
        int n = Size;
        int count = patterns.Length / n;
        if (patterns.Length != count * n || count < 2)
        {
            throw new ArgumentException($"patterns has {patterns.Length} values; it must be [P ≥ 2, {n}] (P items of N = {n} units).", nameof(patterns));
        }

        if (count > Capacity)
        {
            throw new ArgumentException($"Cannot store {count} items in a cache of {n} units: its capacity is about 0.08·N = {Capacity} items "
                + "(measured: N = 500 recalls 40 items and fails from about 50). Use a larger cache or a shorter episode.", nameof(patterns));
        }

        double rho = 0;
        foreach (double v in patterns)
        {
            if (v != 1 && v != -1)
            {
                throw new ArgumentException($"Cache patterns must be ±1, found {v}.", nameof(patterns));
            }

            rho += v;
        }

        rho /= patterns.Length;
        Array.Clear(forward1);
        Array.Clear(forward2);
        Array.Clear(reverse1);
        Array.Clear(reverse2);
        var source = new double[n];
        var target = new double[n];
        for (int j = 0; j < count - 1; j++)
        {
            // Forward: j → j+1; reverse: (P−1−j) → (P−2−j). Even transitions in playing order go to W⁽²⁾.
            AddTransition(patterns, j, j + 1, rho, j % 2 == 0 ? forward2 : forward1, source, target);
            AddTransition(patterns, count - 1 - j, count - 2 - j, rho, j % 2 == 0 ? reverse2 : reverse1, source, target);
        }

        patterns[..n].CopyTo(First);
        patterns[((count - 1) * n)..].CopyTo(Last);
        Count = count;
    }

    /// <summary>Starts a replay: the state is set to the first (forward) or last (reverse) stored item, λ = 1.</summary>
    /// <exception cref="InvalidOperationException">Nothing is stored.</exception>
    public void Start(ReplayDirection direction)
    {
        if (Count < 2)
        {
            throw new InvalidOperationException("The cache holds no sequence: call Store first.");
        }

        (active1, active2) = direction == ReplayDirection.Forward ? (forward1, forward2) : (reverse1, reverse2);
        (direction == ReplayDirection.Forward ? First : Last).CopyTo(potentials, 0);
        potentials.CopyTo(signs, 0);
        lambda = 1;
        time = 0;
        itemIndex = 0;
        unchanged = 0;
        sinceToggle = 0;
        changedSinceToggle = false;
    }

    /// <summary>Runs the dynamics until the next item is held; <see cref="State"/> then shows it.</summary>
    /// <returns>The steps this advance took.</returns>
    /// <exception cref="InvalidOperationException">The replay is already at the end, or the state did not settle within
    /// 100·τ_c steps (a recall failure, e.g. beyond capacity).</exception>
    public int Advance()
    {
        if (itemIndex >= Count - 1)
        {
            throw new InvalidOperationException($"The replay already reached the last of the {Count} stored items.");
        }

        int start = time;
        if (Pump == CachePumpMode.ExternalCosine)
        {
            // Item j (j ≥ 1) is held from ≈ (j − 1.5)·H to (j − 0.5)·H: read it just before it is left.
            int readTime = (int)Math.Floor((itemIndex + 0.5) * HalfCycle) - 1;
            while (time < readTime)
            {
                lambda = 0.5 * (1 + ScalarMath.CosPi((double)time / HalfCycle));
                Step();
            }
        }
        else
        {
            int limit = (int)(100 * Tau) + 10 * SettleSteps;
            while (!(changedSinceToggle && unchanged >= SettleSteps))
            {
                if (sinceToggle > limit)
                {
                    throw new InvalidOperationException($"The cache did not settle on item {itemIndex + 1} of {Count} within {limit} steps: recall failed.");
                }

                Step();
            }

            lambda = 1 - lambda;
            changedSinceToggle = false;
            unchanged = 0;
            sinceToggle = 0;
        }

        itemIndex++;
        return time - start;
    }

    /// <summary>The fraction of units whose sign equals <paramref name="pattern"/>'s (1 = identical, ≈ 0.52 by chance at 40 % density).</summary>
    public double Overlap(ReadOnlySpan<double> pattern)
    {
        int same = 0;
        for (int i = 0; i < Size; i++)
        {
            if (signs[i] == pattern[i])
            {
                same++;
            }
        }

        return (double)same / Size;
    }

    private void Step()
    {
        // u ← (1 − 1/τ)·u + (1/τ)·(λ·W⁽²⁾ + (1 − λ)·W⁽¹⁾)·sgn(u)
        if (lambda >= 1)
        {
            R2N2Kernels.MatVec(active2, signs, 1, field, accumulate: false);
        }
        else if (lambda <= 0)
        {
            R2N2Kernels.MatVec(active1, signs, 1, field, accumulate: false);
        }
        else
        {
            R2N2Kernels.MatVec(active2, signs, lambda, field, accumulate: false);
            R2N2Kernels.MatVec(active1, signs, 1 - lambda, field, accumulate: true);
        }

        R2N2Kernels.Leak(potentials, 1 - 1 / Tau, field, 1 / Tau);
        bool changed = false;
        for (int i = 0; i < Size; i++)
        {
            double s = potentials[i] >= 0 ? 1 : -1;
            if (s != signs[i])
            {
                changed = true;
                signs[i] = s;
            }
        }

        unchanged = changed ? 0 : unchanged + 1;
        changedSinceToggle |= changed;
        sinceToggle++;
        time++;
    }

    private void AddTransition(ReadOnlySpan<double> patterns, int from, int to, double rho, double[] weights, double[] source, double[] target)
    {
        int n = Size;
        for (int i = 0; i < n; i++)
        {
            target[i] = patterns[to * n + i] - rho;
            source[i] = patterns[from * n + i] - rho + target[i];
        }

        // W += p^dst·(p^src + p^dst)ᵀ / N
        R2N2Kernels.OuterAdd(target, source, 1.0 / n, weights);
    }
}
