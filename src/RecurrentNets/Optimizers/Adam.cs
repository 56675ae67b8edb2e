using System.Numerics;
using RecurrentNets.Parameters;
using TP = System.Numerics.Tensors.TensorPrimitives;
using RecurrentNets.Kernels;

namespace RecurrentNets.Optimizers;

/// <summary>
/// Adam (Kingma and Ba 2015). PyTorch: <c>torch.optim.Adam</c> (and <c>AdamW</c> with decoupled weight decay):
/// m ← β1·m + (1-β1)·g, v ← β2·v + (1-β2)·g², p ← p - lr·(m / (1-β1ᵗ)) / (√(v / (1-β2ᵗ)) + ε).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Adam<T> : Optimizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] m, v, work;

    /// <summary>Creates the optimiser.</summary>
    /// <param name="parameters">The block to update.</param>
    /// <param name="learningRate">lr (PyTorch's default 1e-3).</param>
    /// <param name="beta1">β1 in [0, 1). PyTorch: <c>betas[0]</c>.</param>
    /// <param name="beta2">β2 in [0, 1). PyTorch: <c>betas[1]</c>.</param>
    /// <param name="epsilon">ε &gt; 0, finite. PyTorch: <c>eps</c>.</param>
    /// <param name="weightDecay">λ ≥ 0. PyTorch: <c>weight_decay</c>.</param>
    /// <param name="decoupledWeightDecay">AdamW: p ← p(1 - lr·λ) instead of adding λp to the gradient.</param>
    public Adam(ParameterBlock<T> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, double weightDecay = 0, bool decoupledWeightDecay = false)
        : base(parameters, learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        }

        if (!(beta2 >= 0 && beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        }

        if (!(epsilon > 0) || !double.IsFinite(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive and finite.");
        }

        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weightDecay must be finite and non-negative.");
        }

        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        DecoupledWeightDecay = decoupledWeightDecay;
        m = new T[parameters.Length];
        v = new T[parameters.Length];
        work = new T[parameters.Length];
    }

    /// <summary>β1.</summary>
    public double Beta1 { get; }

    /// <summary>β2.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>λ.</summary>
    public double WeightDecay { get; }

    /// <summary>Whether the weight decay is AdamW's.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, T[] Buffer)> StateBuffers => [("exp_avg", m), ("exp_avg_sq", v)];

    /// <summary>The first-moment estimate m, for checkpoints.</summary>
    public Span<T> FirstMoment => m;

    /// <summary>The second-moment estimate v, for checkpoints.</summary>
    public Span<T> SecondMoment => v;

    /// <inheritdoc/>
    public override void Step()
    {
        ThrowIfNonFiniteGradients();
        Span<T> p = Parameters.Values;
        ReadOnlySpan<T> g = Parameters.Gradients;
        long t = StepCount + 1;
        if (WeightDecay > 0)
        {
            if (DecoupledWeightDecay)
            {
                TP.Multiply(p, T.CreateTruncating(1 - LearningRate * WeightDecay), p);
            }
            else
            {
                TP.MultiplyAdd(p, T.CreateTruncating(WeightDecay), g, work);
                g = work;
            }
        }

        // m ← β1·m + (1-β1)·g
        TP.Multiply(m, T.CreateTruncating(Beta1), m);
        TP.MultiplyAdd(g, T.CreateTruncating(1 - Beta1), m, m);

        // v ← β2·v + (1-β2)·g²   (work may hold g: square in place after its last use)
        TP.Multiply(v, T.CreateTruncating(Beta2), v);
        TP.Multiply(g, g, work);
        TP.MultiplyAdd(work, T.CreateTruncating(1 - Beta2), v, v);

        // p ← p - (lr / bc1) · m / (√v / √bc2 + ε)
        // β^t by repeated squaring: the C library's pow rounds differently on CPUs with and without FMA.
        double bc1 = 1 - ScalarMath.Power(Beta1, t), bc2 = 1 - ScalarMath.Power(Beta2, t);
        TP.Sqrt<T>(v, work);
        TP.Multiply(work, T.CreateTruncating(1 / Math.Sqrt(bc2)), work);
        TP.Add(work, T.CreateTruncating(Epsilon), work);
        TP.Divide(m, work, work);
        TP.MultiplyAdd(work, T.CreateTruncating(-LearningRate / bc1), p, p);
        StepCount = t;
    }
}
