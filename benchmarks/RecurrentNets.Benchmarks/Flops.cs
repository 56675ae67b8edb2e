namespace RecurrentNets.Benchmarks;

/// <summary>A benchmark parameter that knows the floating-point operations of one call (for the GFLOP/s column).</summary>
public interface IFlopCount
{
    /// <summary>FLOPs of the forward pass of one call.</summary>
    double ForwardFlops { get; }
}

/// <summary>The call does this multiple of the parameter's forward FLOPs (training = 3: forward + backward).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FlopsFactorAttribute(double factor) : Attribute
{
    public double Factor { get; } = factor;
}
