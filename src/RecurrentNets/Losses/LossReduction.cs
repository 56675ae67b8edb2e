namespace RecurrentNets.Losses;

/// <summary>How a loss combines its rows. PyTorch: <c>reduction</c>.</summary>
public enum LossReduction
{
    /// <summary>The mean over the counted rows (PyTorch's default).</summary>
    Mean,

    /// <summary>The sum over the rows.</summary>
    Sum,

    /// <summary>No reduction: one loss per row (per sequence for <see cref="CtcLoss{T}"/>, the only loss that takes it).
    /// PyTorch: <c>reduction='none'</c>.</summary>
    None,
}

internal static class LossReductionCheck
{
    /// <summary>Throws unless <paramref name="reduction"/> is Mean or Sum (the losses that reduce rows to one number).</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is None or undefined.</exception>
    public static void MeanOrSum(LossReduction reduction)
    {
        if (reduction is not (LossReduction.Mean or LossReduction.Sum))
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "This loss takes LossReduction.Mean or LossReduction.Sum.");
        }
    }
}
