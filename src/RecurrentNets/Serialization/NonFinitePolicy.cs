using System.Diagnostics;
using System.Numerics;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Serialization;

/// <summary>What loading a checkpoint does with tensors that hold NaN or ±Inf.</summary>
/// <remarks>
/// PyTorch (<c>torch.load</c>, <c>safetensors.torch.load_file</c>, <c>load_state_dict</c>) loads such tensors
/// silently; that is <see cref="Allow"/>. The default here is <see cref="Warn"/>: the values load as PyTorch users expect,
/// but a warning naming each tensor goes to <see cref="Trace"/> (<c>Trace.TraceWarning</c>; add a
/// <see cref="TraceListener"/> to see it), because a NaN weight otherwise surfaces only as NaN outputs much later.
/// <see cref="Refuse"/> makes it an error.
/// </remarks>
public enum NonFinitePolicy
{
    /// <summary>Load with a <see cref="Trace.TraceWarning(string)"/> naming the file and each tensor (the default).</summary>
    Warn,

    /// <summary>Throw <see cref="InvalidDataException"/> naming the file and the first such tensor; nothing is loaded.</summary>
    Refuse,

    /// <summary>Load silently, as PyTorch does.</summary>
    Allow,
}

/// <summary>Applies a <see cref="NonFinitePolicy"/> to the tensors of a checkpoint before they are loaded.</summary>
internal static class NonFiniteCheck
{
    /// <summary>Warns about, or refuses, the tensors of <paramref name="tensors"/> that hold NaN or ±Inf.</summary>
    /// <exception cref="InvalidDataException"><paramref name="policy"/> is <see cref="NonFinitePolicy.Refuse"/> and a
    /// tensor holds NaN or ±Inf.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="policy"/> is not a defined value.</exception>
    public static void Apply<T>(string path, IEnumerable<(string Name, int[] Shape, T[] Values)> tensors, NonFinitePolicy policy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Enum.IsDefined(policy))
        {
            throw new ArgumentOutOfRangeException(nameof(policy), policy, "the policy must be Warn, Refuse or Allow");
        }

        if (policy == NonFinitePolicy.Allow)
        {
            return;
        }

        foreach (var (name, shape, values) in tensors)
        {
            if (TP.IsFiniteAll<T>(values))
            {
                continue;
            }

            int nan = 0, infinite = 0, first = -1;
            for (int i = 0; i < values.Length; i++)
            {
                if (!T.IsFinite(values[i]))
                {
                    first = first < 0 ? i : first;
                    nan += T.IsNaN(values[i]) ? 1 : 0;
                    infinite += T.IsInfinity(values[i]) ? 1 : 0;
                }
            }

            string what = $"{path}: '{name}' {Tensor<T>.FormatShape(shape)} holds {nan} NaN and {infinite} infinite value(s) (the first at element {first})";
            if (policy == NonFinitePolicy.Refuse)
            {
                throw new InvalidDataException($"{what}; it was refused (NonFinitePolicy.Refuse) and nothing was loaded. The model was probably saved after its training diverged.");
            }

            Trace.TraceWarning($"{what}; loaded anyway (NonFinitePolicy.Warn). The model was probably saved after its training diverged.");
        }
    }
}
