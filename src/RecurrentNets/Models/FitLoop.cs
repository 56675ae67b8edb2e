using System.Diagnostics;
using System.Numerics;
using RecurrentNets.Optimizers;
using RecurrentNets.Training;

namespace RecurrentNets.Models;

/// <summary>The part of <c>Fit</c> that every model shares: a <see cref="Trainer{T}"/> run with the <see cref="FitOptions"/>,
/// an epoch summary logged and reported after every epoch, training checkpoints, and the best epoch.</summary>
internal static class FitLoop
{
    /// <param name="optimizer">The model's optimiser.</param>
    /// <param name="options">The fit options.</param>
    /// <param name="task">The model's side of the run.</param>
    /// <param name="hasValidation">Whether there is a validation set (the best weights are kept only then).</param>
    /// <param name="clipNorm">The clipping when the options give none.</param>
    /// <param name="resume">The state to continue from, or null.</param>
    /// <param name="summarise">The epoch's summary from (1-based epoch, mean loss, rate, elapsed).</param>
    /// <param name="saveCheckpoint">Writes a training checkpoint to a path.</param>
    /// <param name="progress">Receives the summaries, or null.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    public static FitHistory Run<T>(Optimizer<T> optimizer, FitOptions options, ITrainingTask task, bool hasValidation, double? clipNorm,
        TrainerState? resume, Func<int, double, double, TimeSpan, EpochSummary> summarise, Action<string, TrainerState> saveCheckpoint,
        IProgress<EpochSummary>? progress, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var history = new List<EpochSummary>();
        var clock = Stopwatch.StartNew();
        int? bestEpoch = null;
        double? bestSoFar = resume?.Best;
        var trainer = new Trainer<T>(optimizer, new TrainerOptions
        {
            Epochs = options.Epochs,
            Schedule = options.Schedule,
            ClipNorm = options.ClipNorm ?? clipNorm,
            EarlyStoppingPatience = options.EarlyStoppingPatience,
            RestoreBestWeights = options.RestoreBestWeights && hasValidation,
            Resume = resume,
            EpochEnd = state =>
            {
                var summary = summarise(state.NextEpoch, state.EpochLosses[^1], optimizer.LearningRate, clock.Elapsed);
                history.Add(summary);
                if (state.Best is double best && best != bestSoFar)
                {
                    bestSoFar = best;
                    bestEpoch = state.NextEpoch;
                }

                if (options.CheckpointPath is string path && state.NextEpoch % options.CheckpointEveryEpochs == 0)
                {
                    saveCheckpoint(path, state);
                }

                options.Log?.WriteLine(summary);
                progress?.Report(summary);
            },
        });
        var result = trainer.Fit(task, null, cancellationToken);
        return new FitHistory(history, result.Reason, result.Message, bestEpoch);
    }
}
