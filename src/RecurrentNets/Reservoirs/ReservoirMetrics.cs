using System.Numerics;

namespace RecurrentNets.Reservoirs;

/// <summary>The outcome of a free run compared with the truth, divergence included (never hidden by an average).</summary>
/// <param name="Nrmse">RMSE over the whole run divided by σ.</param>
/// <param name="ErrorsOverSigma">|prediction - truth| / σ at each step k = 1..K (index k - 1).</param>
/// <param name="DivergenceStep">The first step k (1-based) where |error| exceeds σ, or null if it never does.</param>
public sealed record FreeRunReport(double Nrmse, double[] ErrorsOverSigma, int? DivergenceStep)
{
    /// <summary>Whether the error ever exceeded the signal's standard deviation.</summary>
    public bool Diverged => DivergenceStep is not null;

    /// <summary>|error| / σ at step k (1-based).</summary>
    public double At(int step) => ErrorsOverSigma[step - 1];

    /// <inheritdoc/>
    public override string ToString() => Diverged
        ? $"diverged at step {DivergenceStep} (NRMSE {Nrmse:E3} over {ErrorsOverSigma.Length} steps)"
        : $"NRMSE {Nrmse:E3} over {ErrorsOverSigma.Length} steps, no divergence";
}

/// <summary>Error measures and the memory capacity of reservoirs.</summary>
public static class ReservoirMetrics
{
    /// <summary>Population standard deviation.</summary>
    public static double StandardDeviation(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("no values", nameof(values));
        }

        double mean = 0;
        foreach (var v in values)
        {
            mean += v;
        }

        mean /= values.Length;
        double ss = 0;
        foreach (var v in values)
        {
            ss += (v - mean) * (v - mean);
        }

        return Math.Sqrt(ss / values.Length);
    }

    /// <summary>NRMSE = sqrt(mean (p - t)²) / σ, σ the standard deviation of <paramref name="truth"/> unless given.</summary>
    /// <exception cref="ArgumentException">The lengths differ or are zero.</exception>
    public static double Nrmse(ReadOnlySpan<double> predictions, ReadOnlySpan<double> truth, double? sigma = null)
    {
        if (predictions.Length != truth.Length || truth.IsEmpty)
        {
            throw new ArgumentException($"predictions has {predictions.Length} values and truth {truth.Length}; they must match and be non-empty", nameof(predictions));
        }

        double ss = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            double e = predictions[i] - truth[i];
            ss += e * e;
        }

        return Math.Sqrt(ss / truth.Length) / (sigma ?? StandardDeviation(truth));
    }

    /// <summary>Compares a free run with the truth step by step.</summary>
    /// <param name="predictions">The free run, step 1 first.</param>
    /// <param name="truth">The truth at the same steps.</param>
    /// <param name="sigma">σ of the signal (of the whole series, as in Jaeger's NRMSE84).</param>
    public static FreeRunReport FreeRun(ReadOnlySpan<double> predictions, ReadOnlySpan<double> truth, double sigma)
    {
        double nrmse = Nrmse(predictions, truth, sigma);
        var e = new double[truth.Length];
        int? first = null;
        for (int i = 0; i < e.Length; i++)
        {
            e[i] = Math.Abs(predictions[i] - truth[i]) / sigma;
            if (first is null && !(e[i] <= 1))
            {
                first = i + 1;
            }
        }

        return new FreeRunReport(nrmse, e, first);
    }

    /// <summary>Squared Pearson correlation r²(a, b) (0 when either is constant).</summary>
    public static double SquaredCorrelation(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length || a.IsEmpty)
        {
            throw new ArgumentException("the series must have the same non-zero length", nameof(a));
        }

        double ma = 0, mb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            ma += a[i];
            mb += b[i];
        }

        ma /= a.Length;
        mb /= a.Length;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }

        return saa == 0 || sbb == 0 ? 0 : sab * sab / (saa * sbb);
    }

    /// <summary>
    /// Memory capacity (Jaeger 2002): MC = Σ_{k=1..K} r²(u(t-k), y_k(t)), one ridge readout (with intercept) per delay k
    /// trained on the states to reconstruct u(t-k). The states are driven by <paramref name="inputs"/> from a zero
    /// state; rows t in [K, T - test) train and the last <paramref name="testLength"/> rows test (ReservoirPy's
    /// protocol: warmup = K, the squared correlations summed on the test part).
    /// </summary>
    /// <param name="reservoir">A reservoir with one input and no feedback.</param>
    /// <param name="inputs">u [T], i.i.d. (ReservoirPy: U[-0.8, 0.8]).</param>
    /// <param name="maxDelay">K.</param>
    /// <param name="testLength">Test rows at the end.</param>
    /// <param name="ridge">λ of the readouts.</param>
    /// <returns>r² per delay k = 1..K (index k - 1); their sum is MC.</returns>
    /// <exception cref="ArgumentException">The reservoir is not single-input, or the lengths leave no training rows.</exception>
    public static double[] MemoryCapacity<T>(IReservoir<T> reservoir, ReadOnlySpan<double> inputs, int maxDelay, int testLength, double ridge)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(reservoir);
        if (reservoir.Inputs != 1 || reservoir.FeedbackSize != 0)
        {
            throw new ArgumentException($"memory capacity needs one input and no feedback, not {reservoir.Inputs} inputs and {reservoir.FeedbackSize} fed-back outputs", nameof(reservoir));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(testLength, 2);
        int steps = inputs.Length;
        if (steps - testLength <= maxDelay)
        {
            throw new ArgumentException($"{steps} steps leave no training rows after {maxDelay} warm-up steps (maxDelay) and {testLength} test steps", nameof(inputs));
        }

        int n = reservoir.Units;
        var readout = new RidgeReadout<T>(n, maxDelay, ridge);
        var x = new T[n];
        var next = new T[n];
        var drive = new T[1];
        var targets = new T[maxDelay];
        var testStates = new T[(long)testLength * n];
        int trainEnd = steps - testLength;
        for (int t = 0; t < steps; t++)
        {
            drive[0] = T.CreateTruncating(inputs[t]);
            reservoir.Step(x, drive, next);
            (x, next) = (next, x);
            if (t >= maxDelay && t < trainEnd)
            {
                for (int k = 1; k <= maxDelay; k++)
                {
                    targets[k - 1] = T.CreateTruncating(inputs[t - k]);
                }

                readout.Accumulate(x, targets);
            }
            else if (t >= trainEnd)
            {
                x.CopyTo(testStates.AsSpan((t - trainEnd) * n, n));
            }
        }

        readout.Fit();
        var predictions = new double[maxDelay * testLength];
        var y = new T[maxDelay];
        for (int r = 0; r < testLength; r++)
        {
            readout.Predict(testStates.AsSpan(r * n, n), y);
            for (int k = 0; k < maxDelay; k++)
            {
                predictions[k * testLength + r] = double.CreateTruncating(y[k]);
            }
        }

        var r2 = new double[maxDelay];
        for (int k = 1; k <= maxDelay; k++)
        {
            r2[k - 1] = SquaredCorrelation(predictions.AsSpan((k - 1) * testLength, testLength), inputs.Slice(trainEnd - k, testLength));
        }

        return r2;
    }
}
