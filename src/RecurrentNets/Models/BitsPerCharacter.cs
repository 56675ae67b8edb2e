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
public sealed class BitsPerCharacter<T> : AccumulatedMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CrossEntropy<T> loss = new();

    /// <inheritdoc/>
    /// <value><c>bits_per_char</c>.</value>
    public override string Name => "bits_per_char";

    /// <inheritdoc/>
    /// <value>False.</value>
    public override bool HigherIsBetter => false;

    /// <inheritdoc/>
    protected override (double Sum, long Count) Measure(Tensor<T> output, SequenceBatch<T> batch)
    {
        double sum = loss.Evaluate(output, batch, null, LossReduction.Sum, out int rows);
        return (sum, rows);
    }

    /// <inheritdoc/>
    protected override double Finish(double mean) => mean / 0.6931471805599453;   // ln 2
}
