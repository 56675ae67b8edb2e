using System.Numerics;
using RecurrentNets.Losses;
using RecurrentNets.Tensors;
using RecurrentNets.Kernels;

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
public sealed class Perplexity<T> : AccumulatedMetric<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CrossEntropy<T> loss = new();

    /// <inheritdoc/>
    /// <value><c>perplexity</c>.</value>
    public override string Name => "perplexity";

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
    protected override double Finish(double mean) => ScalarMath.Exp(mean);
}
