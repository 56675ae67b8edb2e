using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Parameters;

namespace RecurrentNets.Layers;

/// <summary>
/// A lookup table from token indices to vectors: y[n] = W[index[n]]. PyTorch: <c>torch.nn.Embedding</c>
/// (weights from N(0, 1), an optional <c>padding_idx</c> whose row is zero and receives no gradient).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>Legend: N = indices looked up, V = numEmbeddings, E = embeddingDim. Parameter: <c>{name}.weight [V, E]</c>.</remarks>
public sealed class Embedding<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds the table to <paramref name="parameters"/> (a new block when null).</summary>
    /// <param name="numEmbeddings">V, the vocabulary size. PyTorch: <c>num_embeddings</c>.</param>
    /// <param name="embeddingDim">E. PyTorch: <c>embedding_dim</c>.</param>
    /// <param name="paddingIndex">A row kept at zero with no gradient (PyTorch <c>padding_idx</c>), or null.</param>
    /// <param name="random">The initialisation source; seed 0 when null.</param>
    /// <param name="parameters">The block to add the table to.</param>
    /// <param name="name">The module name used as the parameter-name prefix.</param>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIndex = null, SeededRandom? random = null,
        ParameterBlock<T>? parameters = null, string name = "embedding")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numEmbeddings, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingDim, 1);
        if (paddingIndex is int p && (p < 0 || p >= numEmbeddings))
        {
            throw new ArgumentOutOfRangeException(nameof(paddingIndex), p, $"paddingIndex must be in [0, {numEmbeddings}).");
        }

        Parameters = parameters ?? new ParameterBlock<T>();
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        PaddingIndex = paddingIndex;
        Weight = Parameters.Add(name + ".weight", numEmbeddings, embeddingDim);
        random ??= new SeededRandom(0);
        Span<T> w = Weight.Values;
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = T.CreateTruncating(random.NextNormal());
        }

        if (paddingIndex is int pad)
        {
            w.Slice(pad * embeddingDim, embeddingDim).Clear();
        }
    }

    /// <summary>The block holding the table.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>V.</summary>
    public int NumEmbeddings { get; }

    /// <summary>E.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The padding row, or null.</summary>
    public int? PaddingIndex { get; }

    /// <summary>W [V, E]. PyTorch: <c>weight</c>.</summary>
    public ParameterView<T> Weight { get; }

    /// <summary>output[n, :] = W[indices[n], :].</summary>
    /// <param name="indices">[N], each in [0, V).</param>
    /// <param name="output">[N, E] (overwritten).</param>
    /// <exception cref="ArgumentException">The output length is not N·E.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, V); nothing is written.</exception>
    public void Forward(ReadOnlySpan<int> indices, Span<T> output)
    {
        Check(indices, output.Length, nameof(output));
        ReadOnlySpan<T> w = Weight.Values;
        int e = EmbeddingDim;
        for (int n = 0; n < indices.Length; n++)
        {
            w.Slice(indices[n] * e, e).CopyTo(output.Slice(n * e, e));
        }
    }

    /// <summary>Adds dL/dW[indices[n]] += dOutput[n] (rows in order; the padding row gets nothing).</summary>
    /// <param name="indices">[N] of the forward pass.</param>
    /// <param name="dOutput">[N, E].</param>
    public void Backward(ReadOnlySpan<int> indices, ReadOnlySpan<T> dOutput)
    {
        Check(indices, dOutput.Length, nameof(dOutput));
        Parameters.Freeze();
        Span<T> g = Weight.Gradients;
        int e = EmbeddingDim;
        for (int n = 0; n < indices.Length; n++)
        {
            if (indices[n] == PaddingIndex)
            {
                continue;
            }

            Span<T> row = g.Slice(indices[n] * e, e);
            System.Numerics.Tensors.TensorPrimitives.Add(row, dOutput.Slice(n * e, e), row);
        }
    }

    private void Check(ReadOnlySpan<int> indices, int length, string name)
    {
        if (length != (long)indices.Length * EmbeddingDim)
        {
            throw new ArgumentException($"{name} has {length} elements but {indices.Length} indices of {EmbeddingDim} features need {(long)indices.Length * EmbeddingDim}.", name);
        }

        for (int n = 0; n < indices.Length; n++)
        {
            if ((uint)indices[n] >= (uint)NumEmbeddings)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), indices[n], $"Index {n} is {indices[n]}, outside [0, {NumEmbeddings}) (numEmbeddings).");
            }
        }
    }
}
