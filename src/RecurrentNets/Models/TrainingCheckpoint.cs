using System.Numerics;
using System.Text.Json;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Serialization;
using RecurrentNets.Training;

namespace RecurrentNets.Models;

/// <summary>
/// A training checkpoint of a model: its parameters, the optimiser's buffers (<c>optimizer.{name}</c>), the best weights
/// so far (<c>trainer.best_weights</c>) and where training stands (metadata <c>training</c>), in one safetensors file, so
/// that a resumed <see cref="Trainer{T}"/> run goes on bit for bit.
/// </summary>
internal static class TrainingCheckpoint
{
    /// <summary>Writes the checkpoint atomically; <paramref name="metadata"/> identifies the model (format, architecture).</summary>
    public static void Save<T>(string path, ParameterBlock<T> parameters, Optimizer<T> optimizer, TrainerState state, Dictionary<string, string> metadata)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tensors = parameters.Views.Select(v => (v.Name, v.Shape.ToArray(), (Array)v.Values.ToArray())).ToList();
        foreach (var (name, buffer) in optimizer.StateBuffers)
        {
            tensors.Add(("optimizer." + name, [buffer.Length], (Array)buffer.Clone()));
        }

        if (state.BestWeights is T[] best)
        {
            tensors.Add(("trainer.best_weights", [best.Length], best));
        }

        var saved = new TrainingState(state.NextEpoch, state.Steps, state.BaseLearningRate, state.Best, state.SinceBest,
            [.. state.EpochLosses], [.. state.Validations], optimizer.GetType().Name, optimizer.StepCount, optimizer.LearningRate);
        metadata["training"] = JsonSerializer.Serialize(saved, ModelJsonContext.Default.TrainingState);
        SafeTensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Restores the parameters and the optimiser from a checkpoint of the same model (<paramref name="isSameModel"/> reads
    /// the metadata) and returns the trainer's state; everything is checked before anything is written.
    /// </summary>
    /// <exception cref="ArgumentException">The file is of another model or was written with another optimiser.</exception>
    /// <exception cref="InvalidDataException">A tensor or buffer is missing or has another size.</exception>
    public static TrainerState Load<T>(string path, ParameterBlock<T> parameters, Optimizer<T> optimizer,
        Func<IReadOnlyDictionary<string, string>, bool> isSameModel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var file = SafeTensorsFile.Read(path);
        if (!isSameModel(file.Metadata) || !file.Metadata.TryGetValue("training", out string? json))
        {
            throw new ArgumentException($"{path} is not a training checkpoint of this model (its format or architecture differs or it has no training state).", nameof(path));
        }

        var saved = JsonSerializer.Deserialize(json, ModelJsonContext.Default.TrainingState)
            ?? throw new InvalidDataException($"{path}: the training state is empty.");
        if (saved.Optimizer != optimizer.GetType().Name)
        {
            throw new ArgumentException($"{path} was written with {saved.Optimizer} but the model is compiled with {optimizer.GetType().Name}.", nameof(path));
        }

        var values = new Dictionary<string, (int[], T[])>(StringComparer.Ordinal);
        foreach (var view in parameters.Views)
        {
            var entry = file.Find(view.Name) ?? throw new InvalidDataException($"{path} has no '{view.Name}'.");
            values[view.Name] = (entry.Shape, file.GetData<T>(view.Name));
        }

        var buffers = optimizer.StateBuffers.Select(s => (s.Buffer, Data: file.Find("optimizer." + s.Name) is null
            ? throw new InvalidDataException($"{path} has no optimiser buffer '{s.Name}'.") : file.GetData<T>("optimizer." + s.Name))).ToList();
        T[]? best = file.Find("trainer.best_weights") is null ? null : file.GetData<T>("trainer.best_weights");
        foreach (var (buffer, data) in buffers)
        {
            if (data.Length != buffer.Length)
            {
                throw new InvalidDataException($"{path}: an optimiser buffer has {data.Length} values but the optimiser's has {buffer.Length}.");
            }
        }

        parameters.Load(values);
        foreach (var (buffer, data) in buffers)
        {
            data.CopyTo(buffer, 0);
        }

        optimizer.RestoreStepCount(saved.OptimizerStep);
        optimizer.LearningRate = saved.LearningRate;
        return new TrainerState(saved.NextEpoch, saved.Steps, saved.BaseLearningRate, saved.Best, saved.SinceBest,
            saved.EpochLosses, saved.Validations, best);
    }
}

/// <summary>Where a training run stands, as a training checkpoint stores it.</summary>
internal sealed record TrainingState(int NextEpoch, long Steps, double BaseLearningRate, double? Best, int SinceBest,
    double[] EpochLosses, double[] Validations, string Optimizer, long OptimizerStep, double LearningRate);
