namespace RecurrentNets.Kernels;

/// <summary>
/// A range of hidden units [first, first + count) that a pointwise kernel computes in every batch row, so that threads
/// may each take a range of units of one step (the buffers keep their whole-step layout).
/// </summary>
internal static class UnitWindow
{
    /// <summary>Throws unless [first, first + count) lies within [0, hiddenSize).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The window reaches outside the units.</exception>
    public static void Check(int first, int count, int hiddenSize)
    {
        if (first < 0 || count < 0 || (long)first + count > hiddenSize)
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"Units [{first}, {(long)first + count}) are outside [0, {hiddenSize}).");
        }
    }
}
