namespace RecurrentNets;

/// <summary>
/// An elementwise nonlinearity h = f(a): of an Elman cell (PyTorch's <c>nonlinearity</c>, which accepts only
/// <see cref="Tanh"/> and <see cref="Relu"/>), of a time-delay layer, and of reservoir units.
/// </summary>
/// <remarks>
/// The names are those checkpoints store (a model's architecture JSON writes the member name, a layer checkpoint the
/// lower-case PyTorch value <c>"tanh"</c> / <c>"relu"</c>) and those of ONNX's operators (<c>Tanh</c>, <c>Relu</c>,
/// <c>Sigmoid</c>; <see cref="Identity"/> is no operator). The default value is <see cref="Tanh"/>.
/// </remarks>
public enum Activation
{
    /// <summary>f(a) = tanh(a): PyTorch's default for <c>nn.RNN</c>, Jaeger's ESN units (Waibel et al. 1989 used a
    /// sigmoid of this shape in the time-delay network).</summary>
    Tanh = 0,

    /// <summary>f(a) = max(a, 0) (Le et al. 2015's IRNN uses it with identity initialisation; Kaldi's TDNN layers are
    /// affine + ReLU).</summary>
    Relu = 1,

    /// <summary>The logistic sigmoid f(a) = 1 / (1 + e^-a).</summary>
    Sigmoid = 2,

    /// <summary>f(a) = a: a linear layer (PyTorch's bare <c>nn.Conv1d</c>) or a linear reservoir (memory-capacity
    /// studies).</summary>
    Identity = 3,
}
