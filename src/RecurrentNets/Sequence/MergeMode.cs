namespace RecurrentNets.Sequence;

/// <summary>
/// How a bidirectional <see cref="RecurrentLayer{T}"/> combines its forward output h_f(t) and reverse output h_r(t) (both
/// aligned with input step t) into its output y(t). Keras: <c>Bidirectional(merge_mode=...)</c>; PyTorch has only
/// <see cref="Concat"/>.
/// </summary>
/// <remarks>
/// In a stack (numLayers ≥ 2) every layer merges, and the layer above reads the merged output, as a stack of Keras
/// <c>Bidirectional</c> layers does: its W_ih is [G·H, H] instead of [G·H, 2H] for all but <see cref="Concat"/>. The
/// final state h_n (and c_n) stays per direction, [L·2, B, H], as PyTorch's.
/// </remarks>
public enum MergeMode
{
    /// <summary>y(t) = [h_f(t), h_r(t)], 2H features, forward first (PyTorch's layout; the default). Keras: <c>concat</c>.</summary>
    Concat,

    /// <summary>y(t) = h_f(t) + h_r(t), H features. Keras: <c>sum</c>.</summary>
    Sum,

    /// <summary>y(t) = h_f(t) ⊙ h_r(t), H features. Keras: <c>mul</c>.</summary>
    Multiply,

    /// <summary>y(t) = (h_f(t) + h_r(t)) / 2, H features. Keras: <c>ave</c>.</summary>
    Average,
}

/// <summary>The Keras names of <see cref="MergeMode"/> (<c>concat</c>, <c>sum</c>, <c>mul</c>, <c>ave</c>), as checkpoints
/// store them.</summary>
public static class MergeModes
{
    /// <summary>The Keras name of <paramref name="mode"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not a defined value.</exception>
    public static string ToKerasName(MergeMode mode) => mode switch
    {
        MergeMode.Concat => "concat",
        MergeMode.Sum => "sum",
        MergeMode.Multiply => "mul",
        MergeMode.Average => "ave",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "mergeMode must be Concat, Sum, Multiply or Average."),
    };

    /// <summary>The mode a Keras name stands for: <c>concat</c>, <c>sum</c>, <c>mul</c> or <c>ave</c>.</summary>
    /// <exception cref="FormatException"><paramref name="name"/> is none of them; the message names it and the four.</exception>
    public static MergeMode Parse(string? name) => name switch
    {
        "concat" => MergeMode.Concat,
        "sum" => MergeMode.Sum,
        "mul" => MergeMode.Multiply,
        "ave" => MergeMode.Average,
        _ => throw new FormatException($"merge_mode '{name}' is not one of concat, sum, mul, ave (Keras' merge modes)."),
    };
}
