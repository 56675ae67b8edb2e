using System.Numerics;
using RecurrentNets.Init;
using TP = System.Numerics.Tensors.TensorPrimitives;
using RecurrentNets.Kernels;

namespace RecurrentNets.R2N2;

/// <summary>
/// Measures how far back a consolidator can be run (Cheng and Brown 2025; MacKay et al. 2018 on the finite-precision limit
/// of reversible RNNs): runs it forward in precision T while keeping the true states, then backwards with V = −W in the
/// same precision, and reports the reconstruction error after every reverse step. Reversal amplifies rounding error by
/// ≈ 1.2–1.3× per step at τ = 10 (spec §7.2: in double, error &gt; 1e-6 after ≈ 110–130 steps; in float after ≈ 10).
/// </summary>
public static class ReversalProbe
{
    /// <summary>
    /// Forward <paramref name="steps"/> steps on random inputs U[0, 0.5] from a random ±0.2 state, then back: element k
    /// of the result is max |ŝ − s| after k + 1 reverse steps (in T; NaN or ∞ when the reversal blew up).
    /// </summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    public static double[] Measure<T>(R2N2Consolidator network, int steps, ulong seed = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        int n = network.GroupSize, nx = network.InputSize;
        var random = new SeededRandom(seed);
        T[] wBA = Cast<T>(network.WeightBA.Values), wAB = Cast<T>(network.WeightAB.Values), wIn = Cast<T>(network.WeightIn.Values);
        T c = T.CreateTruncating(1 - 1 / network.Options.Tau), d = T.CreateTruncating(1 / network.Options.Tau);
        var inputs = new T[steps * nx];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = T.CreateTruncating(random.NextUniform(0, 0.5));
        }

        // States s_0 … s_steps, [steps + 1, 2n]: a then b.
        var states = new T[(steps + 1) * 2 * n];
        for (int i = 0; i < 2 * n; i++)
        {
            states[i] = T.CreateTruncating(random.NextDouble() < 0.5 ? -0.2 : 0.2);
        }

        var a = new T[n];
        var b = new T[n];
        var ta = new T[n];
        var tb = new T[n];
        states.AsSpan(0, n).CopyTo(a);
        states.AsSpan(n, n).CopyTo(b);
        for (int t = 0; t < steps; t++)
        {
            var x = inputs.AsSpan(t * nx, nx);
            VectorMath.Tanh<T>(b, tb);
            for (int i = 0; i < n; i++)
            {
                a[i] = c * a[i] + d * (Reductions.Dot<T>(wBA.AsSpan(i * n, n), tb) + Reductions.Dot<T>(wIn.AsSpan(i * nx, nx), x));
            }

            VectorMath.Tanh<T>(a, ta);
            for (int i = 0; i < n; i++)
            {
                b[i] = c * b[i] + d * Reductions.Dot<T>(wAB.AsSpan(i * n, n), ta);
            }

            a.CopyTo(states.AsSpan((t + 1) * 2 * n, n));
            b.CopyTo(states.AsSpan((t + 1) * 2 * n + n, n));
        }

        var errors = new double[steps];
        for (int t = steps; t >= 1; t--)
        {
            // b_{t−1} = (b_t − d·W_AB·tanh(a_t)) / c;  a_{t−1} = (a_t − d·W_BA·tanh(b_{t−1}) − d·W_in·x) / c
            var x = inputs.AsSpan((t - 1) * nx, nx);
            VectorMath.Tanh<T>(a, ta);
            for (int i = 0; i < n; i++)
            {
                b[i] = (b[i] - d * Reductions.Dot<T>(wAB.AsSpan(i * n, n), ta)) / c;
            }

            VectorMath.Tanh<T>(b, tb);
            for (int i = 0; i < n; i++)
            {
                a[i] = (a[i] - d * Reductions.Dot<T>(wBA.AsSpan(i * n, n), tb) - d * Reductions.Dot<T>(wIn.AsSpan(i * nx, nx), x)) / c;
            }

            double max = 0;
            var truth = states.AsSpan((t - 1) * 2 * n, 2 * n);
            for (int i = 0; i < n; i++)
            {
                max = Math.Max(max, Math.Abs(double.CreateTruncating(a[i] - truth[i])));
                max = Math.Max(max, Math.Abs(double.CreateTruncating(b[i] - truth[n + i])));
            }

            errors[steps - t] = max;
        }

        return errors;
    }

    /// <summary>
    /// Refuses a reversal that precision T cannot carry: measures <see cref="Measure{T}"/> over <paramref name="steps"/>
    /// steps and throws when the final error exceeds <paramref name="tolerance"/>.
    /// </summary>
    /// <returns>The measured final reconstruction error.</returns>
    /// <exception cref="ReversalPrecisionException">The measured error is above the tolerance (or not finite); the message
    /// gives it, the precision, and the largest safe number of steps measured.</exception>
    public static double EnsureReversible<T>(R2N2Consolidator network, int steps, double tolerance = 1e-6, ulong seed = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var errors = Measure<T>(network, steps, seed);
        double final = errors[^1];
        if (!(final <= tolerance))
        {
            int safe = 0;
            while (safe < errors.Length && errors[safe] <= tolerance)
            {
                safe++;
            }

            throw new ReversalPrecisionException(
                $"Running this consolidator back {steps} steps in {typeof(T).Name} reconstructs the states with max error {final:G3} (tolerance {tolerance:G3}); "
                + $"only {safe} reverse steps stay within it. Reversal amplifies rounding ≈ 1.2–1.3× per step at τ = 10: use double and episodes of ≲ 10·τ steps.",
                final, steps);
        }

        return final;
    }

    private static T[] Cast<T>(ReadOnlySpan<double> values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = new T[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = T.CreateTruncating(values[i]);
        }

        return result;
    }
}
