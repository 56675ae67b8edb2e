using RecurrentNets.Training;

namespace RecurrentNets.Models;

/// <summary>Options of <see cref="SequenceModel{T}.Fit"/> (Keras <c>model.fit</c> arguments and callbacks).</summary>
public sealed record FitOptions
{
    /// <summary>Epochs to run (at most). Keras: <c>epochs</c>.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Sequences per batch. Keras: <c>batch_size</c>.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Shuffle the training set every epoch (seeded by the model's seed and the epoch). Keras: <c>shuffle</c>.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Batch sequences of similar lengths together, so batches pad little.</summary>
    public bool BucketByLength { get; init; }

    /// <summary>The learning rate per epoch from the optimiser's rate at the start.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Global gradient-norm clipping, or null for the model's <see cref="SequenceModel{T}.ClipNorm"/>.</summary>
    public double? ClipNorm { get; init; }

    /// <summary>Stop when the monitored validation value has not improved for this many epochs, or null. Keras:
    /// <c>EarlyStopping(patience)</c>.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Put back the weights of the best validation epoch when training ends. Keras:
    /// <c>EarlyStopping(restore_best_weights=True)</c>. Default true.</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>What early stopping and <see cref="RestoreBestWeights"/> watch on the validation set: <c>loss</c>
    /// (the default) or a metric's name (e.g. <c>accuracy</c>; higher is better where the metric says so). Keras: <c>monitor</c>.</summary>
    public string Monitor { get; init; } = "loss";

    /// <summary>A training checkpoint written every <see cref="CheckpointEveryEpochs"/> epochs: the model, the optimiser's
    /// state and where training stands, in one safetensors file, replaced atomically. Null for none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Epochs between two training checkpoints.</summary>
    public int CheckpointEveryEpochs { get; init; } = 1;

    /// <summary>When <see cref="CheckpointPath"/> exists, continue from it: the run goes on bit for bit as if it had not
    /// stopped. When it does not exist, start from the beginning.</summary>
    public bool Resume { get; init; }

    /// <summary>The token past each sequence's end in a batch of tokens.</summary>
    public int PaddingToken { get; init; }

    /// <summary>Where to write one line per epoch (<see cref="EpochSummary.ToString"/>), e.g. <c>Console.Out</c>; null for
    /// silence. Keras: <c>verbose=2</c>.</summary>
    public TextWriter? Log { get; init; }
}

/// <summary>One epoch of <see cref="SequenceModel{T}.Fit"/>, as Keras prints it.</summary>
/// <param name="Epoch">The 1-based epoch.</param>
/// <param name="Loss">The mean training loss over the epoch's steps.</param>
/// <param name="Metrics">The training metrics (on the training-mode outputs), by name.</param>
/// <param name="ValidationLoss">The validation loss, or null without a validation set.</param>
/// <param name="ValidationMetrics">The validation metrics, by name (empty without a validation set).</param>
/// <param name="LearningRate">The rate in force during the epoch.</param>
/// <param name="Elapsed">The time since the run started.</param>
public sealed record EpochSummary(int Epoch, double Loss, IReadOnlyDictionary<string, double> Metrics, double? ValidationLoss,
    IReadOnlyDictionary<string, double> ValidationMetrics, double LearningRate, TimeSpan Elapsed)
{
    /// <summary>One line: <c>epoch 3: loss 0.4123, accuracy 0.8750 | val_loss 0.5012, val_accuracy 0.8125</c>.</summary>
    public override string ToString()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string text = $"epoch {Epoch}: loss {Loss.ToString("F4", inv)}" + string.Concat(Metrics.Select(m => $", {m.Key} {m.Value.ToString("F4", inv)}"));
        return ValidationLoss is double v
            ? text + $" | val_loss {v.ToString("F4", inv)}" + string.Concat(ValidationMetrics.Select(m => $", val_{m.Key} {m.Value.ToString("F4", inv)}"))
            : text;
    }
}

/// <summary>What <see cref="SequenceModel{T}.Fit"/> did (Keras's <c>History</c>).</summary>
/// <param name="Epochs">Every epoch run in this call, in order.</param>
/// <param name="Reason">Why training ended.</param>
/// <param name="Message">Details for <see cref="StopReason.NonFinite"/>, else null.</param>
/// <param name="BestEpoch">The 1-based epoch with the best monitored validation value (whose weights the model has when
/// <see cref="FitOptions.RestoreBestWeights"/>), or null without validation.</param>
public sealed record FitHistory(IReadOnlyList<EpochSummary> Epochs, StopReason Reason, string? Message, int? BestEpoch);

/// <summary>The result of <see cref="SequenceModel{T}.Evaluate"/>.</summary>
/// <param name="Loss">The loss over every counted row of the data set.</param>
/// <param name="Metrics">Each compiled metric over the data set, by name.</param>
public sealed record EvaluationResult(double Loss, IReadOnlyDictionary<string, double> Metrics);
