namespace RecurrentNets.Benchmarks;

/// <summary>The median the timing commands report.</summary>
internal static class Medians
{
    /// <summary>The middle value of an odd count, the mean of the middle two of an even one; NaN when there are none.</summary>
    public static double Of(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
    }
}
