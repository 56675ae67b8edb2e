using System.Numerics;
using RecurrentNets.Losses;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// Bits per character, the mean cross-entropy per counted row in bits (nats / ln 2): the character-level
/// language-modelling metric (Graves 2013). No PyTorch or Keras class; <c>nn.CrossEntropyLoss()(...) / math.log(2)</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Rows count as for <see cref="CrossEntropy{T}"/>, whose loss it reads (class targets or soft targets). Accumulates the
/// summed cross-entropy and the counted rows in double over the batches, so the epoch value is Σ loss / (Σ rows · ln 2)
/// over all their rows at once. Allocates nothing after its first update.
/// </remarks>
public sealed class BitsPerCharacter<T> : IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CrossEntropy<T> loss = new();
    private double sum;
    private long counted;

    /// <inheritdoc/>
    /// <value><c>bits_per_char</c>.</value>
    public string Name => "bits_per_char";

    /// <inheritdoc/>
    /// <value>False.</value>
    public bool HigherIsBetter => false;

    /// <inheritdoc/>
    public double Result => counted == 0 ? double.NaN : sum / counted / Math.Log(2);

    /// <inheritdoc/>
    public void Reset()
    {
        sum = 0;
        counted = 0;
    }

    /// <summary>Adds a batch: the cross-entropy of the logits <paramref name="output"/> [T', B, O] against the batch's targets.</summary>
    /// <param name="output">Logits, [T', B, O].</param>
    /// <param name="batch">Class targets (-1 ignores a row) or class probabilities, and the lengths.</param>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> or <paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">As <see cref="CrossEntropy{T}.Compute"/>.</exception>
    public void Update(Tensor<T> output, SequenceBatch<T> batch)
    {
        sum += loss.Evaluate(output, batch, null, LossReduction.Sum, out int rows);
        counted += rows;
    }
}
