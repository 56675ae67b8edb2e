using System.Numerics;
using RecurrentNets.Parameters;

namespace RecurrentNets.Optimizers;

/// <summary>
/// Updates every parameter of a <see cref="ParameterBlock{T}"/> from its gradient, as one pass over the flat block.
/// PyTorch: <c>torch.optim.Optimizer</c>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public abstract class Optimizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private double learningRate;

    /// <summary>Binds the optimiser to <paramref name="parameters"/> and freezes its layout.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate is negative or not finite.</exception>
    protected Optimizer(ParameterBlock<T> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!double.IsFinite(learningRate) || learningRate < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be finite and non-negative.");
        }

        Parameters = parameters;
        parameters.Freeze();
        LearningRate = learningRate;
    }

    /// <summary>The block being optimised.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>The step size. PyTorch: <c>lr</c>. May be changed between steps (schedules).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public double LearningRate
    {
        get => learningRate;
        set
        {
            if (!double.IsFinite(value) || value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be finite and non-negative.");
            }

            learningRate = value;
        }
    }

    /// <summary>The number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; protected set; }

    /// <summary>
    /// The optimiser's state buffers by name (e.g. Adam's <c>exp_avg</c> and <c>exp_avg_sq</c>, PyTorch's names), each as
    /// long as the parameter block; saved and restored by <see cref="Serialization.Checkpoint"/> so training resumes exactly.
    /// </summary>
    public abstract IReadOnlyList<(string Name, T[] Buffer)> StateBuffers { get; }

    /// <summary>Restores the step count of a checkpoint (the buffers are restored through <see cref="StateBuffers"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is negative.</exception>
    public void RestoreStepCount(long stepCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        StepCount = stepCount;
    }

    /// <summary>
    /// Applies one update from the current gradients. Does not zero them. The built-in optimisers first check that every
    /// gradient is finite and refuse the step otherwise (PyTorch's optimisers do not check).
    /// </summary>
    /// <exception cref="NonFiniteGradientException">A gradient is NaN or ±Inf (built-in optimisers): nothing was changed,
    /// not the parameters, not the state, not <see cref="StepCount"/>; the message names the parameter view.</exception>
    public abstract void Step();

    /// <summary>
    /// Throws when a gradient is NaN or ±Inf; call it first in <see cref="Step"/>, before anything is written. One
    /// vectorised pass over the gradient block (<c>TensorPrimitives.IsFiniteAll</c>), no allocation.
    /// </summary>
    /// <exception cref="NonFiniteGradientException">A gradient is NaN or ±Inf; the message names the first such view.</exception>
    protected void ThrowIfNonFiniteGradients() => NonFiniteGradientException.ThrowIfAny(Parameters, "the optimiser step");

    /// <summary>Sets every gradient to zero. PyTorch: <c>zero_grad</c>.</summary>
    public void ZeroGradients() => Parameters.ZeroGradients();
}
