using RecurrentNets.Parameters;

namespace RecurrentNets.Diagnostics;

/// <summary>The comparison of an analytic gradient with central finite differences for one named block of values.</summary>
/// <param name="Name">The parameter or input checked.</param>
/// <param name="Count">The number of values checked.</param>
/// <param name="MaxRelativeError">max |a - n| / max(|a|, |n|, minimumScale) over the values.</param>
/// <param name="MaxAbsoluteError">max |a - n|.</param>
/// <param name="WorstIndex">The index with the largest relative error.</param>
/// <param name="Analytic">The analytic gradient at <paramref name="WorstIndex"/>.</param>
/// <param name="Numeric">The finite-difference gradient at <paramref name="WorstIndex"/>.</param>
public readonly record struct GradientCheckResult(string Name, int Count, double MaxRelativeError, double MaxAbsoluteError,
    int WorstIndex, double Analytic, double Numeric)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {Count} values, max relative error {MaxRelativeError:E2} (at {WorstIndex}: analytic {Analytic:G10}, numeric {Numeric:G10})";
}

/// <summary>
/// Checks analytic gradients against central finite differences in double precision, as
/// <c>torch.autograd.gradcheck</c> does: n_i = (L(v + h·e_i) - L(v - h·e_i)) / 2h for every value v_i.
/// Use it to test a custom cell or layer.
/// </summary>
public static class GradientCheck
{
    /// <summary>Compares <paramref name="analytic"/> with finite differences of <paramref name="loss"/> over <paramref name="values"/>.</summary>
    /// <param name="name">A label for the result.</param>
    /// <param name="values">The values to perturb (restored afterwards); <paramref name="loss"/> must read them.</param>
    /// <param name="analytic">dL/dvalues computed analytically, the same length.</param>
    /// <param name="loss">Evaluates L at the current values.</param>
    /// <param name="step">h.</param>
    /// <param name="minimumScale">The floor of the relative error's denominator, so gradients near zero are compared absolutely.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static GradientCheckResult Compare(string name, double[] values, ReadOnlySpan<double> analytic, Func<double> loss,
        double step = 1e-5, double minimumScale = 1e-3)
        => Compare(name, values, 0, values?.Length ?? 0, analytic, loss, step, minimumScale);

    /// <summary>Compares the analytic gradient of values[offset .. offset + count) with finite differences.</summary>
    /// <exception cref="ArgumentException">The range or the lengths disagree.</exception>
    public static GradientCheckResult Compare(string name, double[] values, int offset, int count, ReadOnlySpan<double> analytic,
        Func<double> loss, double step = 1e-5, double minimumScale = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(loss);
        if (offset < 0 || count < 0 || offset + count > values.Length)
        {
            throw new ArgumentException($"The range [{offset}, {offset + count}) lies outside values of length {values.Length}.", nameof(count));
        }

        if (analytic.Length != count)
        {
            throw new ArgumentException($"analytic has {analytic.Length} elements but {count} values are checked.", nameof(analytic));
        }

        if (!(step > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "step must be positive.");
        }

        double maxRel = 0, maxAbs = 0, worstA = 0, worstN = 0;
        int worst = -1;
        for (int i = 0; i < count; i++)
        {
            int k = offset + i;
            double original = values[k];
            values[k] = original + step;
            double plus = loss();
            values[k] = original - step;
            double minus = loss();
            values[k] = original;
            double numeric = (plus - minus) / (2 * step);
            double a = analytic[i];
            double abs = Math.Abs(a - numeric);
            double rel = abs / Math.Max(Math.Max(Math.Abs(a), Math.Abs(numeric)), minimumScale);
            if (double.IsNaN(rel))
            {
                rel = double.PositiveInfinity;
            }

            maxAbs = Math.Max(maxAbs, abs);
            if (rel > maxRel || worst < 0)
            {
                maxRel = rel;
                worst = i;
                worstA = a;
                worstN = numeric;
            }
        }

        return new GradientCheckResult(name, count, maxRel, maxAbs, worst, worstA, worstN);
    }

    /// <summary>
    /// Checks every parameter of a block: runs <paramref name="lossAndBackward"/> once on zeroed gradients to get the
    /// analytic gradients, then perturbs each value and calls it again for the loss. The block's gradients hold the
    /// analytic gradients afterwards.
    /// </summary>
    /// <param name="parameters">The block to check.</param>
    /// <param name="lossAndBackward">Runs the forward pass, accumulates gradients into the block, and returns L.</param>
    /// <param name="step">h.</param>
    /// <param name="minimumScale">The floor of the relative error's denominator.</param>
    /// <returns>One result per parameter view.</returns>
    public static IReadOnlyList<GradientCheckResult> CheckParameters(ParameterBlock<double> parameters, Func<double> lossAndBackward,
        double step = 1e-5, double minimumScale = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(lossAndBackward);
        parameters.ZeroGradients();
        lossAndBackward();
        double[] analytic = (double[])parameters.Gradients.Clone();
        var results = new List<GradientCheckResult>();
        foreach (var view in parameters.Views)
        {
            results.Add(Compare(view.Name, parameters.Values, view.Offset, view.Length,
                analytic.AsSpan(view.Offset, view.Length), lossAndBackward, step, minimumScale));
        }

        analytic.CopyTo(parameters.Gradients, 0);
        return results;
    }
}
