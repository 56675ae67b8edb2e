namespace RecurrentNets.Reservoirs;

/// <summary>The activation f of reservoir units.</summary>
public enum ReservoirActivation
{
    /// <summary>tanh, the default of Jaeger's ESN.</summary>
    Tanh,

    /// <summary>f(a) = a: a linear reservoir (memory-capacity studies).</summary>
    Identity,

    /// <summary>The logistic sigmoid 1 / (1 + e^-a).</summary>
    Sigmoid,

    /// <summary>max(a, 0).</summary>
    Relu,
}
