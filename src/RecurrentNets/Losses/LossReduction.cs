namespace RecurrentNets.Losses;

/// <summary>How a loss combines its rows. PyTorch: <c>reduction</c>.</summary>
public enum LossReduction
{
    /// <summary>The mean over the counted rows (PyTorch's default).</summary>
    Mean,

    /// <summary>The sum over the rows.</summary>
    Sum,
}
