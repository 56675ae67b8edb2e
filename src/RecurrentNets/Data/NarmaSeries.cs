using RecurrentNets.Init;

namespace RecurrentNets.Data;

/// <summary>
/// NARMA-n (Atiya &amp; Parlos 2000), standard form: y(t+1) = 0.3·y(t) + 0.05·y(t)·Σ_{i=0..n-1} y(t-i)
/// + 1.5·u(t-n+1)·u(t) + 0.1, u(t) ~ U[0, 0.5] i.i.d., y = 0 before step n.
/// </summary>
/// <remarks>
/// This is the definition of bench.py in the ReservoirPy baseline. ReservoirPy's own <c>datasets.narma</c> sums
/// y[t-n..t-1] and uses u[t-n], one lag off, and its defaults are NARMA-30's, not NARMA-10's.
/// </remarks>
public static class NarmaSeries
{
    /// <summary>Draws u and the target d(t) = y(t+1).</summary>
    /// <param name="length">T.</param>
    /// <param name="seed">Seed of u.</param>
    /// <param name="order">n (10).</param>
    /// <returns>u [T] and d [T] with d(t) = y(t+1).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="InvalidOperationException">The recursion diverged (possible for large n).</exception>
    public static (double[] Inputs, double[] Targets) Generate(int length, ulong seed, int order = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        var random = new SeededRandom(seed);
        var u = new double[length];
        for (int t = 0; t < length; t++)
        {
            u[t] = random.NextUniform(0, 0.5);
        }

        var y = new double[length + 1];
        for (int t = order - 1; t < length; t++)
        {
            double sum = 0;
            for (int i = 0; i < order; i++)
            {
                sum += y[t - i];
            }

            y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * sum + 1.5 * u[t - order + 1] * u[t] + 0.1;
            if (!double.IsFinite(y[t + 1]))
            {
                throw new InvalidOperationException($"NARMA-{order} diverged at step {t + 1} with seed {seed}");
            }
        }

        return (u, y[1..]);
    }
}
