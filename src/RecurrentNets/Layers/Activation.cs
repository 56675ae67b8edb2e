namespace RecurrentNets.Layers;

/// <summary>The elementwise nonlinearity h = f(a) of a feed-forward layer such as <see cref="TimeDelayLayer{T}"/>.</summary>
public enum Activation
{
    /// <summary>f(a) = a (a linear layer; PyTorch's bare <c>nn.Conv1d</c>).</summary>
    Identity,

    /// <summary>f(a) = tanh(a) (Waibel et al. 1989 used a sigmoid of this shape).</summary>
    Tanh,

    /// <summary>f(a) = max(a, 0) (Kaldi's TDNN layers: affine + ReLU).</summary>
    Relu,

    /// <summary>The logistic sigmoid f(a) = 1 / (1 + e^-a).</summary>
    Sigmoid,
}
