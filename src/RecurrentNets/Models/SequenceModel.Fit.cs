using System.Globalization;
using System.Numerics;
using System.Text.Json;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Serialization;
using RecurrentNets.Training;

namespace RecurrentNets.Models;

public sealed partial class SequenceModel<T>
{
    /// <summary>
    /// Trains the model on a data set (Keras <c>model.fit</c>) with the compiled loss and optimiser: shuffled batches,
    /// training mode for the steps and evaluation mode for validation (switched automatically), gradient clipping, a
    /// learning-rate schedule, early stopping that puts back the best weights, periodic training checkpoints and
    /// resume. The same seed gives the same run, bit for bit, and a resumed run equals an uninterrupted one.
    /// </summary>
    /// <param name="train">The training set.</param>
    /// <param name="validation">A validation set evaluated after every epoch, or null.</param>
    /// <param name="options">Epochs, batch size and the rest; defaults when null.</param>
    /// <param name="progress">Receives a summary after every epoch, or null.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <returns>Every epoch's losses and metrics, and why training ended. A step with a NaN or infinite loss or gradient
    /// stops training with <see cref="StopReason.NonFinite"/> and the weights of the step before.</returns>
    /// <exception cref="InvalidOperationException">The model is not compiled.</exception>
    /// <exception cref="ArgumentException">A data set does not fit the model or the loss (feature count, tokens versus
    /// features, a class outside the outputs, targets per step for a model with one output per sequence or the other way
    /// round), or a checkpoint to resume from is of another model; nothing is trained.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the weights are those after the last completed step.</exception>
    public FitHistory Fit(SequenceDataset<T> train, SequenceDataset<T>? validation = null, FitOptions? options = null,
        IProgress<EpochSummary>? progress = null, CancellationToken cancellationToken = default)
    {
        using var use = Use();
        ArgumentNullException.ThrowIfNull(train);
        options ??= new FitOptions();
        var optimizer = Optimizer ?? throw new InvalidOperationException("Compile the model (loss and optimiser) before Fit.");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, "options.BatchSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CheckpointEveryEpochs, 1, "options.CheckpointEveryEpochs");
        CheckData(train, nameof(train));
        if (validation is not null)
        {
            CheckData(validation, nameof(validation));
        }

        if (stateful && (options.Shuffle || options.BucketByLength))
        {
            throw new ArgumentException("A stateful model continues row b of one batch in row b of the next: set options.Shuffle and options.BucketByLength to false.", nameof(options));
        }

        var monitor = options.Monitor == "loss" ? null
            : metrics.FirstOrDefault(m => m.Name == options.Monitor)
              ?? throw new ArgumentException($"options.Monitor is '{options.Monitor}' but the model's metrics are: loss{string.Concat(metrics.Select(m => ", " + m.Name))}.", nameof(options));
        TrainerState? resume = options.Resume && options.CheckpointPath is string resumePath && File.Exists(resumePath)
            ? LoadTrainingCheckpoint(resumePath) : null;

        var task = new FitTask(this, train, validation, options, monitor);
        var history = FitLoop.Run(optimizer, options, task, validation is not null, ClipNorm, resume, task.Summarise, SaveTrainingCheckpoint,
            progress, cancellationToken);
        Training = false;
        return history;
    }

    /// <summary>The compiled loss and metrics over a data set, in evaluation mode (Keras <c>model.evaluate</c>).</summary>
    /// <param name="data">The data set.</param>
    /// <param name="batchSize">Sequences per batch (only speed depends on it).</param>
    /// <returns>The loss and each metric over every counted row.</returns>
    /// <exception cref="InvalidOperationException">The model has no loss (it was neither compiled nor loaded with one).</exception>
    /// <exception cref="ArgumentException">The data set does not fit the model or the loss.</exception>
    public EvaluationResult Evaluate(SequenceDataset<T> data, int batchSize = 32)
    {
        using var use = Use();
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var loss = Loss ?? throw new InvalidOperationException("Evaluate needs a loss: Compile the model first.");
        CheckData(data, nameof(data));
        foreach (var metric in metrics)
        {
            metric.Reset();
        }

        double sum = 0;
        long counted = 0;
        ResetStates();
        foreach (var batch in data.Batches(batchSize))
        {
            var output = Predict(batch);
            long rows = TargetRows.CountedRows(batch);
            sum += loss.Compute(output, batch, null) * rows;
            counted += rows;
            foreach (var metric in metrics)
            {
                metric.Update(output, batch);
            }
        }

        return new EvaluationResult(counted > 0 ? sum / counted : 0, metrics.ToDictionary(m => m.Name, m => m.Result, StringComparer.Ordinal));
    }

    /// <summary>The model's outputs for every item of a data set, in evaluation mode (Keras <c>model.predict</c>).</summary>
    /// <param name="data">The inputs (targets, if any, are ignored).</param>
    /// <param name="batchSize">Sequences per batch (only speed depends on it).</param>
    /// <param name="probabilities">Softmax over the outputs (class probabilities) instead of the raw outputs.</param>
    /// <returns>One array per item: [1·O] for a model with one output per sequence, [length·O] (time-major) for one
    /// output per step.</returns>
    /// <exception cref="ArgumentException">The data set's input does not fit the model.</exception>
    public T[][] Predict(SequenceDataset<T> data, int batchSize = 32, bool probabilities = false)
    {
        using var use = Use();
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        CheckInput(data, nameof(data));
        var result = new T[data.Count][];
        int item = 0;
        ResetStates();
        foreach (var batch in data.Batches(batchSize))
        {
            var output = probabilities ? PredictProbabilities(batch) : Predict(batch);
            int width = output.Size(2);
            for (int b = 0; b < batch.BatchSize; b++, item++)
            {
                int steps = ReducesTime ? 1 : batch.Lengths[b];
                var rows = new T[steps * width];
                for (int t = 0; t < steps; t++)
                {
                    output.Row(t, b).CopyTo(rows.AsSpan(t * width, width));
                }

                result[item] = rows;
            }
        }

        return result;
    }

    /// <summary>The most probable class of every item, for a model with one output per sequence (a classifier).</summary>
    /// <param name="data">The inputs.</param>
    /// <param name="batchSize">Sequences per batch.</param>
    /// <returns>[N] classes in [0, O).</returns>
    /// <exception cref="InvalidOperationException">The model has one output per step (use <see cref="Predict(SequenceDataset{T}, int, bool)"/>).</exception>
    public int[] PredictClasses(SequenceDataset<T> data, int batchSize = 32)
    {
        if (!ReducesTime)
        {
            throw new InvalidOperationException("The model has one output per step: PredictClasses gives one class per sequence and needs a reduction layer (Layer.LastStep or Layer.MeanOverTime). Use Predict for per-step outputs.");
        }

        return [.. Predict(data, batchSize).Select(row => System.Numerics.Tensors.TensorPrimitives.IndexOfMax<T>(row))];
    }

    private void CheckInput(SequenceDataset<T> data, string name)
    {
        if (TokenInput != (data.InputSize == 0))
        {
            throw new ArgumentException(TokenInput
                ? $"{name} holds features ({data.InputSize} per step) but the model reads tokens (its first layer is an embedding)."
                : $"{name} holds tokens but the model reads {InputSize} features per step.", name);
        }

        if (!TokenInput && data.InputSize != InputSize)
        {
            throw new ArgumentException($"{name} has {data.InputSize} features per step but the model expects {InputSize} (inputSize).", name);
        }
    }

    private void CheckData(SequenceDataset<T> data, string name)
    {
        CheckInput(data, name);
        if (data.TargetKind == TargetKind.None)
        {
            throw new ArgumentException($"{name} has no targets.", name);
        }

        if (data.TargetsPerStep == ReducesTime)
        {
            throw new ArgumentException(ReducesTime
                ? $"{name} has a target per step but the model gives one output per sequence (it has a reduction layer)."
                : $"{name} has one target per sequence but the model gives an output per step: add Layer.LastStep() or Layer.MeanOverTime() before the head.", name);
        }

        if (data.TargetKind == TargetKind.Classes && data.TargetSize > OutputSize)
        {
            throw new ArgumentException($"{name} has class {data.TargetSize - 1} but the model outputs {OutputSize} classes (the last layer's size).", name);
        }

        if (data.TargetKind == TargetKind.Values && data.TargetSize != OutputSize)
        {
            throw new ArgumentException($"{name} has targets of {data.TargetSize} values but the model outputs {OutputSize} per row.", name);
        }
    }

    /// <summary>Restarts every dropout mask from the model's seed and the epoch, so an epoch is the same whether or not
    /// the run was resumed before it.</summary>
    private void ReseedDropout(int epoch)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            ulong seed = new SeededRandom(Seed ^ (0x9E3779B97F4A7C15UL * (ulong)(epoch + 1)) ^ ((ulong)i << 48)).NextUInt64();
            switch (layers[i])
            {
                case RecurrentAdapter<T> recurrent:
                    recurrent.Layer.ReseedDropout(seed);
                    break;
                case DropoutAdapter<T> dropout:
                    dropout.Dropout.Reseed(seed);
                    break;
            }
        }
    }

    private void SaveTrainingCheckpoint(string path, TrainerState state) =>
        TrainingCheckpoint.Save(path, Parameters, Optimizer!, state, new Dictionary<string, string>(Metadata, StringComparer.Ordinal)
        {
            ["format"] = FormatName,
            ["dtype"] = typeof(T) == typeof(float) ? "float32" : "float64",
            ["architecture"] = ArchitectureJson(),
        });

    private TrainerState LoadTrainingCheckpoint(string path) =>
        TrainingCheckpoint.Load(path, Parameters, Optimizer!, metadata => metadata.GetValueOrDefault("architecture") == ArchitectureJson());

    /// <summary>The model's side of a <see cref="Trainer{T}"/> run: batches in, losses and metrics out.</summary>
    private sealed class FitTask(SequenceModel<T> model, SequenceDataset<T> train, SequenceDataset<T>? validation, FitOptions options,
        IMetric<T>? monitor) : ITrainingTask
    {
        private SequenceBatches<T>.Enumerator batches;
        private Dictionary<string, double> trainMetrics = [];
        private EvaluationResult? lastValidation;

        public int StepsPerEpoch { get; } = train.BatchCount(options.BatchSize);

        public void SetTraining(bool training) => model.Training = training;

        public double TrainStep(int epoch, int step)
        {
            if (step == 0)
            {
                model.ReseedDropout(epoch);
                model.ResetStates();
                batches = train.Batches(options.BatchSize, options.Shuffle, model.Seed, epoch, options.BucketByLength, options.PaddingToken).GetEnumerator();
                foreach (var metric in model.metrics)
                {
                    metric.Reset();
                }
            }

            if (!batches.MoveNext())
            {
                throw new InvalidOperationException($"The training set gave fewer than {StepsPerEpoch} batches in epoch {epoch + 1}.");
            }

            var batch = batches.Current;
            double loss = model.ComputeGradients(batch);
            foreach (var metric in model.metrics)
            {
                metric.Update(model.last!.Outputs[^1], batch);
            }

            if (step == StepsPerEpoch - 1)
            {
                trainMetrics = model.metrics.ToDictionary(m => m.Name, m => m.Result, StringComparer.Ordinal);
            }

            return loss;
        }

        public double? Validate(int epoch)
        {
            if (validation is null)
            {
                return null;
            }

            lastValidation = model.Evaluate(validation, options.BatchSize);
            if (monitor is null)
            {
                return lastValidation.Loss;
            }

            double value = lastValidation.Metrics[monitor.Name];
            return monitor.HigherIsBetter ? -value : value;
        }

        public EpochSummary Summarise(int epoch, double loss, double learningRate, TimeSpan elapsed) =>
            new(epoch, loss, trainMetrics, lastValidation?.Loss, lastValidation?.Metrics ?? new Dictionary<string, double>(), learningRate, elapsed);
    }
}
