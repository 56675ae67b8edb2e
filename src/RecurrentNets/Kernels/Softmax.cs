using System.Numerics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// Softmax kernels (numerically stable: the row maximum is subtracted first), with <see cref="VectorMath"/>'s exp and
/// <see cref="Reductions"/>' sum, so a row gives the same bits on every vector path. Twin:
/// <c>Reference.ReferenceElementwise.SoftmaxRows</c>.
/// </summary>
public static class Softmax
{
    /// <summary>probabilities = softmax(logits) of one row.</summary>
    public static void Row<T>(ReadOnlySpan<T> logits, Span<T> probabilities)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (probabilities.Length != logits.Length || logits.IsEmpty)
        {
            throw new ArgumentException($"probabilities has {probabilities.Length} elements but logits has {logits.Length} (both must be non-empty).", nameof(probabilities));
        }

        T max = TP.Max(logits);
        TP.Subtract(logits, max, probabilities);
        VectorMath.Exp<T>(probabilities, probabilities);
        T sum = Reductions.Sum<T>(probabilities);
        TP.Divide(probabilities, sum, probabilities);
    }

    /// <summary>Softmax of each row of [rows, columns].</summary>
    public static void Rows<T>(ReadOnlySpan<T> logits, int rows, int columns, Span<T> probabilities)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (logits.Length != (long)rows * columns || probabilities.Length != logits.Length)
        {
            throw new ArgumentException($"logits ({logits.Length}) and probabilities ({probabilities.Length}) must both hold [{rows}, {columns}].", nameof(logits));
        }

        for (int r = 0; r < rows; r++)
        {
            Row(logits.Slice(r * columns, columns), probabilities.Slice(r * columns, columns));
        }
    }
}
