using System.Numerics;
using RecurrentNets.Parameters;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Optimizers;

/// <summary>
/// Stochastic gradient descent with momentum (the course's delta rule when momentum is 0). PyTorch: <c>torch.optim.SGD</c>:
/// g ← g + λp; v ← μv + g (v = g on the first step); p ← p - lr·(Nesterov ? g + μv : v).
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Sgd<T> : Optimizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] velocity;
    private readonly T[] work;

    /// <summary>Creates the optimiser.</summary>
    /// <param name="parameters">The block to update.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="momentum">μ in [0, 1). PyTorch: <c>momentum</c>.</param>
    /// <param name="weightDecay">λ ≥ 0 (L2 penalty). PyTorch: <c>weight_decay</c>.</param>
    /// <param name="nesterov">Nesterov momentum. PyTorch: <c>nesterov</c>.</param>
    public Sgd(ParameterBlock<T> parameters, double learningRate, double momentum = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1).");
        }

        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weightDecay must be finite and non-negative.");
        }

        if (nesterov && momentum == 0)
        {
            throw new ArgumentException("Nesterov momentum needs momentum > 0.", nameof(nesterov));
        }

        Momentum = momentum;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        velocity = momentum > 0 ? new T[parameters.Length] : [];
        work = weightDecay > 0 || nesterov ? new T[parameters.Length] : [];
    }

    /// <summary>μ.</summary>
    public double Momentum { get; }

    /// <summary>λ.</summary>
    public double WeightDecay { get; }

    /// <summary>Whether the momentum is Nesterov's.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, T[] Buffer)> StateBuffers => velocity.Length == 0 ? [] : [("momentum_buffer", velocity)];

    /// <summary>The momentum buffer (empty without momentum), for checkpoints.</summary>
    public Span<T> Velocity => velocity;

    /// <inheritdoc/>
    public override void Step()
    {
        ThrowIfNonFiniteGradients();
        Span<T> p = Parameters.Values, g = Parameters.Gradients;
        ReadOnlySpan<T> grad = g;
        if (WeightDecay > 0)
        {
            TP.MultiplyAdd(p, T.CreateTruncating(WeightDecay), g, work);
            grad = work;
        }

        T lr = T.CreateTruncating(-LearningRate);
        if (Momentum > 0)
        {
            T mu = T.CreateTruncating(Momentum);
            if (StepCount == 0)
            {
                grad.CopyTo(velocity);
            }
            else
            {
                TP.MultiplyAdd(velocity, mu, grad, velocity);
            }

            if (Nesterov)
            {
                TP.MultiplyAdd(velocity, mu, grad, work);
                TP.MultiplyAdd(work, lr, p, p);
            }
            else
            {
                TP.MultiplyAdd(velocity, lr, p, p);
            }
        }
        else
        {
            TP.MultiplyAdd(grad, lr, p, p);
        }

        StepCount++;
    }
}
