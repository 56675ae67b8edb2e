using RecurrentNets.Kernels;

namespace RecurrentNets.Training;

/// <summary>A learning rate as a function of the epoch. PyTorch: <c>torch.optim.lr_scheduler</c>.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for <paramref name="epoch"/> (0-based) given the base rate.</summary>
    public abstract double RateAt(int epoch, double baseRate);

    /// <summary>The base rate throughout.</summary>
    public static LearningRateSchedule Constant { get; } = new ConstantSchedule();

    /// <summary>lr·γ^⌊epoch / stepSize⌋. PyTorch: <c>StepLR(step_size, gamma)</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">stepSize &lt; 1 or γ not in (0, 1].</exception>
    public static LearningRateSchedule Step(int stepSize, double gamma = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        if (!(gamma > 0 && gamma <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be in (0, 1].");
        }

        return new StepSchedule(stepSize, gamma);
    }

    /// <summary>
    /// η_min + (lr - η_min)·(1 + cos(π·epoch / T_max)) / 2, held at η_min after T_max.
    /// PyTorch: <c>CosineAnnealingLR(T_max, eta_min)</c> (its closed form).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">T_max &lt; 1 or η_min negative.</exception>
    public static LearningRateSchedule Cosine(int maxEpochs, double minimumRate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEpochs, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(minimumRate);
        return new CosineSchedule(maxEpochs, minimumRate);
    }

    private sealed class ConstantSchedule : LearningRateSchedule
    {
        public override double RateAt(int epoch, double baseRate) => baseRate;
    }

    private sealed class StepSchedule(int stepSize, double gamma) : LearningRateSchedule
    {
        public override double RateAt(int epoch, double baseRate) => baseRate * ScalarMath.Power(gamma, epoch / stepSize);
    }

    private sealed class CosineSchedule(int maxEpochs, double minimumRate) : LearningRateSchedule
    {
        public override double RateAt(int epoch, double baseRate) =>
            minimumRate + (baseRate - minimumRate) * (1 + ScalarMath.CosPi((double)Math.Min(epoch, maxEpochs) / maxEpochs)) / 2;
    }
}
