using System.Numerics;
using RecurrentNets.Losses;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// Perplexity, exp of the mean cross-entropy per counted row: the language-modelling metric (Mikolov et al. 2010).
/// torchmetrics: <c>text.Perplexity</c> (with <c>ignore_index</c>); equals <c>exp(nn.CrossEntropyLoss()(...))</c> over the epoch.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Rows count as for <see cref="CrossEntropy{T}"/>, whose loss it reads (class targets or soft targets). Accumulates the
/// summed cross-entropy and the counted rows in double over the batches, so the epoch value is exp(Σ loss / Σ rows)
/// over all their rows at once, not a mean of per-batch perplexities. Allocates nothing after its first update.
/// </remarks>
public sealed class Perplexity<T> : IMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CrossEntropy<T> loss = new();
    private double sum;
    private long counted;

    /// <inheritdoc/>
    /// <value><c>perplexity</c>.</value>
    public string Name => "perplexity";

    /// <inheritdoc/>
    /// <value>False.</value>
    public bool HigherIsBetter => false;

    /// <inheritdoc/>
    public double Result => counted == 0 ? double.NaN : Math.Exp(sum / counted);

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
