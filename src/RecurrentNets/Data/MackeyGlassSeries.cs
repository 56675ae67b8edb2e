namespace RecurrentNets.Data;

/// <summary>
/// The Mackey-Glass delay equation dy/dt = a·y(t-τ)/(1 + y(t-τ)^n) - b·y(t) (Mackey &amp; Glass 1977), chaotic for
/// τ &gt; 16.8; τ = 17 is the "mild" and τ = 30 the "wild" benchmark of Jaeger 2001.
/// </summary>
/// <remarks>
/// Two generators, on purpose:
/// <list type="bullet">
/// <item><see cref="Jaeger"/>: Jaeger's 2001 integration (GMD Report 148 §6.1): Euler steps of 0.1 with the delay
/// taken from 10·τ sub-steps back, one sample every 10 sub-steps (one per time unit).</item>
/// <item><see cref="ReservoirPy"/>: ReservoirPy 0.4.2's <c>mackey_glass(h=1)</c>, reproduced operation by operation
/// (its "RK4" stages collapse, at h = 1, to the Euler-like delay map x(t+1) = x(t) + 0.9215·(a·x(t-τ)/(1+x(t-τ)^n) - b·x(t));
/// the delay is τ whole samples). It is not Jaeger's series: one step per time unit instead of ten, so the
/// attractor differs and the errors of the two protocols are not comparable.</item>
/// </list>
/// Both start from a constant history (1.2 by default; ReservoirPy's own default draws the history at random) and
/// <see cref="Squash"/> maps a series into the network's range with tanh(y - 1), as Jaeger's reports do.
/// </remarks>
public static class MackeyGlassSeries
{
    /// <summary>Jaeger 2001: Euler step 1/<paramref name="subSteps"/>, one sample per time unit.</summary>
    /// <param name="length">Samples returned (after the transient).</param>
    /// <param name="tau">τ in time units (17 or 30).</param>
    /// <param name="transient">Leading samples discarded.</param>
    /// <param name="subSteps">Euler sub-steps per time unit (10: step 0.1).</param>
    /// <param name="history">The constant initial history y(t ≤ 0).</param>
    /// <returns>The raw series y (not squashed).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public static double[] Jaeger(int length, int tau = 17, int transient = 1000, int subSteps = 10, double history = 1.2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(tau, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(transient);
        ArgumentOutOfRangeException.ThrowIfLessThan(subSteps, 1);
        FiniteHistory(history);
        int delay = tau * subSteps;
        var ring = new double[delay];
        Array.Fill(ring, history);
        double y = history, dt = 1.0 / subSteps;
        int head = 0;
        var result = new double[length];
        for (int n = 0; n < transient + length; n++)
        {
            for (int s = 0; s < subSteps; s++)
            {
                // The deque of the reference code: pop y(t - τ), push y(t), step.
                double yTau = ring[head];
                ring[head] = y;
                head = head + 1 == delay ? 0 : head + 1;
                y += dt * (0.2 * yTau / (1 + Math.Pow(yTau, 10)) - 0.1 * y);
            }

            if (n >= transient)
            {
                result[n - transient] = y;
            }
        }

        return result;
    }

    /// <summary>ReservoirPy 0.4.2's <c>mackey_glass(n, tau, a, b, n, x0, h, history=constant)</c>, then the transient dropped.</summary>
    /// <param name="length">Samples returned (after the transient).</param>
    /// <param name="tau">τ.</param>
    /// <param name="transient">Leading samples discarded.</param>
    /// <param name="history">Constant history and x0.</param>
    /// <param name="a">a (0.2).</param>
    /// <param name="b">b (0.1).</param>
    /// <param name="n">The exponent n (10).</param>
    /// <param name="h">The step h (1).</param>
    /// <returns>The raw series.</returns>
    public static double[] ReservoirPy(int length, int tau = 17, int transient = 1000, double history = 1.2,
        double a = 0.2, double b = 0.1, double n = 10, double h = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(transient);
        FiniteHistory(history);
        if (!(h > 0) || !double.IsFinite(h))
        {
            throw new ArgumentOutOfRangeException(nameof(h), h, "the step h must be positive and finite");
        }

        int delay = (int)Math.Floor(tau / h);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, 1, nameof(tau));
        var ring = new double[delay];
        Array.Fill(ring, history);
        int head = 0;
        double xt = history;
        var result = new double[length];
        for (int i = 0; i < transient + length; i++)
        {
            if (i >= transient)
            {
                result[i - transient] = xt;
            }

            double xtau = ring[head];
            ring[head] = xt;
            head = head + 1 == delay ? 0 : head + 1;
            // ReservoirPy's _mg_rk4, same operation order.
            double bh = -b * h;
            double k1 = bh * xt + a * xtau / (1.0 + Math.Pow(xtau, n));
            double k2 = 2.0 * k1 + bh * k1;
            double k3 = 2.0 * k1 + bh * k2;
            double k4 = k1 + bh * k3;
            xt += (k1 + k2 + k3 + k4) / 6.0;
        }

        return result;
    }

    /// <summary>y ↦ tanh(y - 1) in place (Jaeger's squashing into [-1, 1]).</summary>
    public static double[] Squash(double[] series)
    {
        ArgumentNullException.ThrowIfNull(series);
        for (int i = 0; i < series.Length; i++)
        {
            series[i] = Math.Tanh(series[i] - 1);
        }

        return series;
    }

    /// <summary>s ↦ atanh(s) + 1, the inverse of <see cref="Squash"/> (errors in original coordinates).</summary>
    public static double Unsquash(double value) => Math.Atanh(value) + 1;

    private static void FiniteHistory(double history)
    {
        if (!double.IsFinite(history))
        {
            throw new ArgumentOutOfRangeException(nameof(history), history, "the initial history must be finite");
        }
    }
}
