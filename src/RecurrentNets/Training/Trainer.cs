using System.Diagnostics;
using System.Numerics;
using RecurrentNets.Optimizers;

namespace RecurrentNets.Training;

/// <summary>What a <see cref="Trainer{T}"/> runs: one training step at a time, and an optional validation.</summary>
public interface ITrainingTask
{
    /// <summary>The steps (batches) in one epoch.</summary>
    int StepsPerEpoch { get; }

    /// <summary>
    /// Runs forward and backward for one batch, adding the gradients to the parameter block (the trainer zeroes them
    /// before and clips and steps after), and returns the batch's loss.
    /// </summary>
    double TrainStep(int epoch, int step);

    /// <summary>A validation metric after an epoch (lower is better), or null when there is none.</summary>
    double? Validate(int epoch);

    /// <summary>
    /// Switches the model between training (dropout on) and evaluation: the trainer calls it with true before an
    /// epoch's steps and with false before <see cref="Validate"/> (PyTorch's <c>model.train()</c> / <c>model.eval()</c>).
    /// The default does nothing.
    /// </summary>
    void SetTraining(bool training)
    {
    }
}

/// <summary>Why <see cref="Trainer{T}.Fit"/> returned.</summary>
public enum StopReason
{
    /// <summary>Every epoch ran.</summary>
    Completed,

    /// <summary>The validation metric stopped improving (<see cref="TrainerOptions.EarlyStoppingPatience"/>).</summary>
    EarlyStopping,

    /// <summary>A step gave a NaN or infinite loss, or the optimiser refused its gradients
    /// (<see cref="NonFiniteGradientException"/>, thrown by <see cref="Sgd{T}"/> and <see cref="Adam{T}"/> before they
    /// write anything); it was not applied, and the weights are those after the step before (Keras <c>TerminateOnNaN</c>).</summary>
    NonFinite,
}

/// <summary>Where a training run stands after an epoch: what <see cref="TrainerOptions.Resume"/> continues from.</summary>
/// <param name="NextEpoch">The epoch to run next (0-based).</param>
/// <param name="Steps">Steps taken so far.</param>
/// <param name="BaseLearningRate">The optimiser's rate before any schedule.</param>
/// <param name="Best">The best validation metric so far, or null.</param>
/// <param name="SinceBest">Epochs since the best one.</param>
/// <param name="EpochLosses">The mean training loss of each epoch so far.</param>
/// <param name="Validations">The validation metric of each epoch so far.</param>
/// <param name="BestWeights">A copy of the parameters at the best epoch (<see cref="TrainerOptions.RestoreBestWeights"/>),
/// a <c>T[]</c>, or null.</param>
public sealed record TrainerState(int NextEpoch, long Steps, double BaseLearningRate, double? Best, int SinceBest,
    IReadOnlyList<double> EpochLosses, IReadOnlyList<double> Validations, Array? BestWeights);

/// <summary>A progress report, sent after every step.</summary>
/// <param name="Epoch">The 0-based epoch.</param>
/// <param name="Step">The 1-based step within the epoch.</param>
/// <param name="StepsPerEpoch">Steps in an epoch.</param>
/// <param name="Loss">The step's loss.</param>
/// <param name="AverageLoss">The mean loss of the epoch so far.</param>
/// <param name="StepsPerSecond">Throughput since the run started.</param>
/// <param name="Remaining">The estimated time to the last epoch's end.</param>
/// <param name="LearningRate">The rate in force.</param>
/// <param name="Validation">The last validation metric, or null.</param>
public readonly record struct TrainingProgress(int Epoch, int Step, int StepsPerEpoch, double Loss, double AverageLoss,
    double StepsPerSecond, TimeSpan Remaining, double LearningRate, double? Validation);

/// <summary>The outcome of <see cref="Trainer{T}.Fit"/>.</summary>
/// <param name="Epochs">Epochs completed.</param>
/// <param name="Steps">Steps taken.</param>
/// <param name="EpochLosses">The mean training loss of each epoch.</param>
/// <param name="Validations">The validation metric of each epoch (empty without validation).</param>
/// <param name="StoppedEarly">Whether early stopping ended the run.</param>
/// <param name="BestValidation">The best validation metric, or null.</param>
/// <param name="Reason">Why the run ended.</param>
/// <param name="Message">What happened, in words (for <see cref="StopReason.NonFinite"/>: the step and the parameter).</param>
public sealed record TrainingResult(int Epochs, long Steps, IReadOnlyList<double> EpochLosses, IReadOnlyList<double> Validations,
    bool StoppedEarly, double? BestValidation, StopReason Reason = StopReason.Completed, string? Message = null);

/// <summary>Options of a <see cref="Trainer{T}"/>.</summary>
public sealed record TrainerOptions
{
    /// <summary>Epochs to run (at most).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>The learning rate per epoch from the optimiser's rate at the start.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Global gradient-norm clipping threshold, or null for none.</summary>
    public double? ClipNorm { get; init; }

    /// <summary>Stop when the validation metric has not improved for this many epochs (Keras <c>EarlyStopping(patience)</c>), or null.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Call <see cref="Checkpoint"/> every this many steps, or null.</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>Called with the global step count every <see cref="CheckpointEvery"/> steps (e.g. to save a checkpoint).</summary>
    public Action<long>? Checkpoint { get; init; }

    /// <summary>Keep a copy of the parameters at the epoch with the best validation metric and put it back when the run
    /// ends (Keras <c>EarlyStopping(restore_best_weights=True)</c>). Default false.</summary>
    public bool RestoreBestWeights { get; init; }

    /// <summary>Called after every epoch (after validation) with the state a resumed run needs (e.g. to save a
    /// training checkpoint).</summary>
    public Action<TrainerState>? EpochEnd { get; init; }

    /// <summary>Continue a run from the state an <see cref="EpochEnd"/> gave (with the parameters and the optimiser's
    /// state of that moment restored by the caller): the run then goes on as if it had not stopped.</summary>
    public TrainerState? Resume { get; init; }

    /// <summary>
    /// The most threads the steps and validations of <see cref="Trainer{T}.Fit"/> may use, the calling thread included:
    /// the limit every model and layer the task calls inherits unless it sets its own. Null (the default) takes the
    /// limit of the caller, else the number of processors. Results are bit-identical for every value. PyTorch's
    /// <c>torch.set_num_threads</c> sets one limit for the process; this one is the run's.
    /// </summary>
    public int? MaxDegreeOfParallelism { get; init; }
}

/// <summary>
/// A small training loop that users can use or ignore: epochs over an <see cref="ITrainingTask"/>, gradient clipping,
/// learning-rate schedules, early stopping on a validation metric, periodic checkpoints, progress reports and
/// cancellation.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public sealed class Trainer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Optimizer<T> optimizer;
    private readonly TrainerOptions options;

    /// <summary>Creates a trainer around an optimiser.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public Trainer(Optimizer<T> optimizer, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        this.optimizer = optimizer;
        this.options = options ?? new TrainerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(this.options.Epochs, 1, "options.Epochs");
        if (this.options.ClipNorm is double clip && !(clip > 0))
        {
            throw new ArgumentOutOfRangeException("options.ClipNorm", clip, "ClipNorm must be positive.");
        }

        if (this.options.EarlyStoppingPatience is < 1)
        {
            throw new ArgumentOutOfRangeException("options.EarlyStoppingPatience", this.options.EarlyStoppingPatience, "Patience must be at least 1.");
        }

        if (this.options.CheckpointEvery is < 1)
        {
            throw new ArgumentOutOfRangeException("options.CheckpointEvery", this.options.CheckpointEvery, "CheckpointEvery must be at least 1.");
        }

        Kernels.KernelScope.Validate(this.options.MaxDegreeOfParallelism, "options.MaxDegreeOfParallelism");
    }

    /// <summary>Runs the epochs.</summary>
    /// <param name="task">The steps and the validation.</param>
    /// <param name="progress">Receives a report after every step, or null.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <exception cref="OperationCanceledException">Cancelled; the weights are those after the last completed step.</exception>
    public TrainingResult Fit(ITrainingTask task, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentOutOfRangeException.ThrowIfLessThan(task.StepsPerEpoch, 1, "task.StepsPerEpoch");
        using var scope = Kernels.KernelScope.Enter(options.MaxDegreeOfParallelism);
        var resume = options.Resume;
        double baseRate = resume?.BaseLearningRate ?? optimizer.LearningRate;
        var losses = new List<double>(resume?.EpochLosses ?? []);
        var validations = new List<double>(resume?.Validations ?? []);
        double? best = resume?.Best, last = validations.Count > 0 ? validations[^1] : null;
        int sinceBest = resume?.SinceBest ?? 0, epoch = resume?.NextEpoch ?? 0;
        T[]? bestWeights = options.RestoreBestWeights ? (T[]?)resume?.BestWeights?.Clone() : null;
        long steps = resume?.Steps ?? 0, totalSteps = (long)options.Epochs * task.StepsPerEpoch;
        long startSteps = steps;
        var reason = StopReason.Completed;
        string? message = null;
        var clock = Stopwatch.StartNew();
        for (; epoch < options.Epochs && reason == StopReason.Completed; epoch++)
        {
            optimizer.LearningRate = options.Schedule.RateAt(epoch, baseRate);
            task.SetTraining(true);
            double sum = 0;
            int step = 0;
            for (; step < task.StepsPerEpoch; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                optimizer.ZeroGradients();
                double loss = task.TrainStep(epoch, step);
                if (options.ClipNorm is double clip)
                {
                    GradientClipping.ClipGradientNorm(optimizer.Parameters, clip);
                }

                // The optimisers check the gradients in the pass that refuses a non-finite step (nothing written then), so
                // the trainer adds no pass of its own over them.
                string? refused = double.IsFinite(loss) ? null : $"a non-finite loss ({loss})";
                if (refused is null)
                {
                    try
                    {
                        optimizer.Step();
                    }
                    catch (NonFiniteGradientException e)
                    {
                        refused = e.Message;
                    }
                }

                if (refused is not null)
                {
                    reason = StopReason.NonFinite;
                    message = $"Step {step + 1} of epoch {epoch + 1} was not applied and training stopped: {refused} " +
                        "The weights are those after the step before.";
                    break;
                }

                steps++;
                sum += loss;
                if (options.CheckpointEvery is int every && steps % every == 0)
                {
                    options.Checkpoint?.Invoke(steps);
                }

                double rate = (steps - startSteps) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                progress?.Report(new TrainingProgress(epoch, step + 1, task.StepsPerEpoch, loss, sum / (step + 1), rate,
                    TimeSpan.FromSeconds((totalSteps - steps) / rate), optimizer.LearningRate, last));
            }

            if (reason == StopReason.NonFinite)
            {
                if (step > 0)
                {
                    losses.Add(sum / step);
                }

                break;
            }

            losses.Add(sum / task.StepsPerEpoch);
            task.SetTraining(false);
            if (task.Validate(epoch) is double metric)
            {
                validations.Add(metric);
                last = metric;
                if (best is null || metric < best)
                {
                    best = metric;
                    sinceBest = 0;
                    if (options.RestoreBestWeights)
                    {
                        bestWeights ??= new T[optimizer.Parameters.Length];
                        optimizer.Parameters.Values.CopyTo(bestWeights, 0);
                    }
                }
                else if (options.EarlyStoppingPatience is int patience && ++sinceBest >= patience)
                {
                    reason = StopReason.EarlyStopping;
                }
            }

            options.EpochEnd?.Invoke(new TrainerState(epoch + 1, steps, baseRate, best, sinceBest, [.. losses], [.. validations],
                (T[]?)bestWeights?.Clone()));
        }

        if (bestWeights is not null && reason != StopReason.NonFinite)
        {
            bestWeights.CopyTo(optimizer.Parameters.Values, 0);
        }

        return new TrainingResult(epoch, steps, losses, validations, reason == StopReason.EarlyStopping, best, reason, message);
    }
}
