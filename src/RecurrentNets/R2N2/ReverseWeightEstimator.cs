using MathNet.Numerics.LinearAlgebra;

namespace RecurrentNets.R2N2;

/// <summary>
/// Learns the reverse weights V of one group from forward activity by least squares (the authors' reverse-replay demo,
/// Cheng and Brown 2025): each unit fits V_i·r + c_i ≈ −I_i over the recorded steps, where r is the presynaptic rate vector
/// and I_i the unit's recurrent input current; the intercept c_i is discarded. On noise-free data this recovers V = −W
/// once n + 1 independent samples exist. Solved by MathNet's QR decomposition.
/// </summary>
public sealed class ReverseWeightEstimator
{
    private readonly int n;
    private readonly List<double> rates = [], currents = [];

    /// <summary>Creates an estimator for a group of <paramref name="groupSize"/> units fed by as many presynaptic units.</summary>
    public ReverseWeightEstimator(int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        n = groupSize;
    }

    /// <summary>The recorded steps.</summary>
    public int Count => rates.Count / n;

    /// <summary>Forgets all samples.</summary>
    public void Clear()
    {
        rates.Clear();
        currents.Clear();
    }

    /// <summary>Records one step: presynaptic rates r [n] and the recurrent currents I = W·r [n].</summary>
    public void Add(ReadOnlySpan<double> rate, ReadOnlySpan<double> current)
    {
        foreach (double v in rate)
        {
            rates.Add(v);
        }

        foreach (double v in current)
        {
            currents.Add(v);
        }
    }

    /// <summary>Writes the least-squares V [n, n] (row i = unit i's reverse synapses).</summary>
    /// <exception cref="InvalidOperationException">Fewer than n + 1 samples.</exception>
    public void Fit(Span<double> reverseWeights)
    {
        int samples = Count;
        if (samples < n + 1)
        {
            throw new InvalidOperationException($"A least-squares fit of {n} reverse weights and an intercept per unit needs at least {n + 1} recorded steps, not {samples}.");
        }

        // X [S, n+1] = [r, 1],  Y [S, n] = −I;  solve X·Θ = Y;  V = Θ[0..n)ᵀ.
        var x = Matrix<double>.Build.Dense(samples, n + 1, (s, j) => j < n ? rates[s * n + j] : 1.0);
        var y = Matrix<double>.Build.Dense(samples, n, (s, i) => -currents[s * n + i]);
        var theta = x.QR().Solve(y);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                reverseWeights[i * n + j] = theta[j, i];
            }
        }
    }
}
