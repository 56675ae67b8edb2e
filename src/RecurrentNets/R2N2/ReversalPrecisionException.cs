namespace RecurrentNets.R2N2;

/// <summary>
/// A reverse run could not reconstruct the forward activity: the reconstructed state misses the true one by more than
/// the tolerance. Reversal amplifies rounding error ≈ 1.2–1.3× per step at τ = 10, so float32 or too many steps lose the
/// past (MacKay et al. 2018; spec §7.2).
/// </summary>
public sealed class ReversalPrecisionException : Exception
{
    /// <summary>Creates the exception with the measured error.</summary>
    public ReversalPrecisionException(string message, double reconstructionError, int steps)
        : base(message)
    {
        ReconstructionError = reconstructionError;
        Steps = steps;
    }

    /// <summary>Creates the exception.</summary>
    public ReversalPrecisionException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReversalPrecisionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReversalPrecisionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The measured max |ŝ₀ − s₀|.</summary>
    public double ReconstructionError { get; }

    /// <summary>The reverse steps run.</summary>
    public int Steps { get; }
}
