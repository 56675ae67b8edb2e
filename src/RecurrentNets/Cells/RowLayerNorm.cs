using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Cells;

/// <summary>
/// One layer normalisation of a layer-normalised cell (Ba, Kiros and Hinton 2016) over the n features of each batch row,
/// y = α ⊙ (z - μ)/√(σ² + ε) + β with μ and the biased σ² of the row (PyTorch <c>nn.LayerNorm(n, eps)</c>), and its
/// part of the cell's step cache.
/// </summary>
/// <remarks>
/// Step cache of a row, at <see cref="Offset"/>: x̂ = (z - μ)/√(σ² + ε) [n] and 1/√(σ² + ε) [1], written by the forward
/// step; dL/dy [n], written by the backward step and summed over all steps into dα = Σ dL/dy ⊙ x̂ and dβ = Σ dL/dy after
/// the backward loop (<see cref="AccumulateGradients"/>). Sums use <see cref="Reductions"/>, so the bits do not depend
/// on the vector path; the pointwise loops are scalar (no fused multiply-add, the same bits everywhere).
/// </remarks>
internal sealed class RowLayerNorm<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T epsilon;

    public RowLayerNorm(ParameterView<T> gain, ParameterView<T> bias, int offset, double epsilon)
    {
        Gain = gain;
        Bias = bias;
        Offset = offset;
        Width = gain.Length;
        this.epsilon = T.CreateTruncating(epsilon);

        // α = 1, β = 0: the identity affine map, as nn.LayerNorm starts.
        Initializers.Constant(gain.Values, 1);
    }

    /// <summary>W_hh h(t-1) (of <see cref="CellStep{T}.RecurrentInput"/>) for every row of the step, [B, G·H] in its scratch.</summary>
    public static Span<T> RecurrentProduct(in CellStep<T> step, int gateWidth)
    {
        Span<T> product = step.Scratch[..(step.BatchSize * gateWidth)];
        step.Recurrent.Forward(step.RecurrentInput, product, accumulate: false);
        return product;
    }

    /// <summary>α [n].</summary>
    public ParameterView<T> Gain { get; }

    /// <summary>β [n].</summary>
    public ParameterView<T> Bias { get; }

    /// <summary>Where this normalisation's part starts in a row of the step cache.</summary>
    public int Offset { get; }

    /// <summary>n, the features normalised together.</summary>
    public int Width { get; }

    /// <summary>The elements of a step-cache row this normalisation uses: x̂ [n], 1/σ [1], dL/dy [n].</summary>
    public int CacheWidth => 2 * Width + 1;

    /// <summary>x̂ of a step-cache row.</summary>
    public Span<T> Normalized(Span<T> cacheRow) => cacheRow.Slice(Offset, Width);

    /// <summary>
    /// y (+)= α ⊙ x̂ + β with x̂ = (z - μ)/√(σ² + ε); x̂ and 1/√(σ² + ε) go to <paramref name="cacheRow"/>.
    /// <paramref name="y"/> may be <paramref name="z"/> itself.
    /// </summary>
    public void Forward(ReadOnlySpan<T> z, Span<T> cacheRow, Span<T> y, bool accumulate)
    {
        int n = Width;
        Span<T> normalized = cacheRow.Slice(Offset, n);
        T count = T.CreateTruncating(n);
        T mean = Reductions.Sum(z) / count;
        for (int j = 0; j < n; j++)
        {
            normalized[j] = z[j] - mean;
        }

        // Two passes (mean first, then the squares of the centred values): no cancellation in σ².
        T rstd = T.One / T.Sqrt(Reductions.SumOfSquares<T>(normalized) / count + epsilon);
        for (int j = 0; j < n; j++)
        {
            normalized[j] *= rstd;
        }

        cacheRow[Offset + n] = rstd;
        Output(cacheRow, y, accumulate);
    }

    /// <summary>y (+)= α ⊙ x̂ + β from the x̂ that <see cref="Forward"/> kept in <paramref name="cacheRow"/>.</summary>
    public void Output(ReadOnlySpan<T> cacheRow, Span<T> y, bool accumulate)
    {
        ReadOnlySpan<T> normalized = cacheRow.Slice(Offset, Width), alpha = Gain.Values, beta = Bias.Values;
        for (int j = 0; j < normalized.Length; j++)
        {
            T value = alpha[j] * normalized[j] + beta[j];
            y[j] = accumulate ? y[j] + value : value;
        }
    }

    /// <summary>
    /// dz = (1/σ)·(g - mean(g) - x̂ ⊙ mean(g ⊙ x̂)), g = α ⊙ dy: the gradient through the normalisation back to z. Keeps
    /// dy in <paramref name="cacheRow"/> for <see cref="AccumulateGradients"/>. <paramref name="dz"/> may be
    /// <paramref name="dy"/> itself.
    /// </summary>
    public void Backward(ReadOnlySpan<T> dy, Span<T> cacheRow, Span<T> dz)
    {
        int n = Width;
        ReadOnlySpan<T> normalized = cacheRow.Slice(Offset, n), alpha = Gain.Values;
        T rstd = cacheRow[Offset + n];
        dy.CopyTo(cacheRow.Slice(Offset + n + 1, n));
        for (int j = 0; j < n; j++)
        {
            dz[j] = alpha[j] * dy[j];
        }

        T count = T.CreateTruncating(n);
        T meanG = Reductions.Sum<T>(dz) / count, meanGx = Reductions.Dot<T>(dz, normalized) / count;
        for (int j = 0; j < n; j++)
        {
            dz[j] = rstd * (dz[j] - meanG - normalized[j] * meanGx);
        }
    }

    /// <summary>dα += Σ_rows dy ⊙ x̂ and dβ += Σ_rows dy over the [rows, E] step caches, rows in order.</summary>
    public void AccumulateGradients(ReadOnlySpan<T> stepCache, int rows, int cacheWidth)
    {
        int n = Width;
        Span<T> dAlpha = Gain.Gradients, dBeta = Bias.Gradients;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> normalized = stepCache.Slice(r * cacheWidth + Offset, n), dy = stepCache.Slice(r * cacheWidth + Offset + n + 1, n);
            for (int j = 0; j < n; j++)
            {
                dAlpha[j] += dy[j] * normalized[j];
                dBeta[j] += dy[j];
            }
        }
    }
}
