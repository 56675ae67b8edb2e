using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

public sealed partial class SequenceModel<T>
{
    /// <summary>The architecture as JSON: input size, seed and the layers (what <see cref="Save"/> stores under
    /// <c>architecture</c>).</summary>
    public string ArchitectureJson() =>
        JsonSerializer.Serialize(new ModelArchitecture(InputSize, Seed, [.. Architecture]), ModelJsonContext.Default.ModelArchitecture);

    /// <summary>
    /// Writes the whole model as one safetensors file: every parameter under its module-prefixed PyTorch name, and in the
    /// metadata the architecture (JSON), the dtype and <see cref="Metadata"/> (a vocabulary, a normalisation). The write is
    /// atomic: the file is replaced only when the new one is complete. Like a <c>.keras</c> file; <see cref="Load"/>
    /// rebuilds the model from it with no code.
    /// </summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        using var use = Use();
        ArgumentException.ThrowIfNullOrEmpty(path);
        var metadata = new Dictionary<string, string>(Metadata, StringComparer.Ordinal)
        {
            ["format"] = FormatName,
            ["dtype"] = typeof(T) == typeof(float) ? "float32" : "float64",
            ["architecture"] = ArchitectureJson(),
        };
        if (Loss is not null)
        {
            metadata["loss"] = Loss.Name;
            metadata["metrics"] = string.Join(",", metrics.Select(m => m.Name));
        }

        SafeTensorsFile.Write(path, Parameters.Views.Select(v => (v.Name, v.Shape.ToArray(), (Array)v.Values.ToArray())), metadata);
    }

    /// <summary>
    /// Writes only the parameters (a PyTorch <c>state_dict</c> as safetensors: <c>safetensors.torch.load_file(path)</c>
    /// then <c>module.load_state_dict(...)</c> loads it into a PyTorch module with the same attributes).
    /// </summary>
    /// <param name="path">The file to write.</param>
    public void SaveWeights(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Checkpoint.Save(path, Parameters);
    }

    /// <summary>
    /// Loads parameters into this model from a safetensors file: one written by <see cref="Save"/> or
    /// <see cref="SaveWeights"/>, or a PyTorch <c>state_dict</c> saved with <c>safetensors.torch.save_file</c>. The file
    /// must hold exactly the model's names with the same shapes and dtype; everything is checked before anything is
    /// written, so a failed load leaves the model as it was.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is corrupt or stores another dtype.</exception>
    /// <exception cref="ArgumentException">A name is missing or extra, or a shape differs; the message names it and both shapes.</exception>
    public void LoadWeights(string path)
    {
        using var use = Use();
        Checkpoint.Load(path, Parameters);
        InvalidateFrozenWeights();
    }

    /// <summary>
    /// Rebuilds a model saved by <see cref="Save"/>: the architecture from the metadata, then the parameters, then
    /// <see cref="Metadata"/>, and the built-in loss and metrics it was compiled with (so <see cref="Evaluate"/> works
    /// at once; <see cref="Fit"/> needs <see cref="Compile(ILoss{T}, Optimizers.Optimizer{T}, IMetric{T}[])"/> for an optimiser).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="customLayers">Builds the user's layers (<see cref="CustomSpec"/>) from their description, or null when
    /// the model has none.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file was not written by <see cref="Save"/>, stores another dtype, or its
    /// architecture disagrees with its tensors (the message names the tensor).</exception>
    /// <exception cref="ArgumentException">A custom layer and no factory for it.</exception>
    public static SequenceModel<T> Load(string path, Func<CustomSpec, LayerContext<T>, ISequenceLayer<T>>? customLayers = null)
    {
        var file = SafeTensorsFile.Read(path);
        var meta = file.Metadata;
        if (meta.GetValueOrDefault("format") != FormatName || !meta.TryGetValue("architecture", out string? json))
        {
            throw new InvalidDataException($"{path} is not a saved SequenceModel (its metadata has no format '{FormatName}' and architecture). Load weights alone with LoadWeights.");
        }

        string dtype = typeof(T) == typeof(float) ? "float32" : "float64";
        if (meta.GetValueOrDefault("dtype") != dtype)
        {
            throw new InvalidDataException($"{path} holds a {meta.GetValueOrDefault("dtype")} model but SequenceModel<{typeof(T).Name}> computes in {dtype}.");
        }

        ModelArchitecture document;
        try
        {
            document = JsonSerializer.Deserialize(json, ModelJsonContext.Default.ModelArchitecture)
                ?? throw new InvalidDataException($"{path}: the architecture is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the architecture metadata is not valid: {e.Message}", e);
        }

        var model = new SequenceModel<T>(document.InputSize, document.Seed);
        foreach (var spec in document.Layers ?? [])
        {
            if (spec is CustomSpec custom)
            {
                if (customLayers is null)
                {
                    throw new ArgumentException($"{path} has a custom layer '{custom.TypeName}' ('{custom.Name}'): pass a customLayers factory that builds it.", nameof(customLayers));
                }

                model.Add(custom, context => customLayers(custom, context));
            }
            else
            {
                model.Add(spec);
            }
        }

        try
        {
            Checkpoint.Load(path, model.Parameters);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: the architecture disagrees with the tensors: {e.Message}", e);
        }

        foreach (var (key, value) in meta)
        {
            if (key is not ("format" or "dtype" or "architecture" or "loss" or "metrics"))
            {
                model.Metadata[key] = value;
            }
        }

        // The loss and the metrics it was compiled with, when they are built-in (Keras's load_model restores them too),
        // so Evaluate works at once; Fit needs Compile for an optimiser.
        model.Loss = meta.GetValueOrDefault("loss") switch
        {
            "cross_entropy" => new CrossEntropy<T>(),
            "mse" => new MeanSquaredError<T>(),
            _ => null,
        };
        model.metrics = [.. (meta.GetValueOrDefault("metrics") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(BuiltInMetric).OfType<IMetric<T>>()];
        return model;
    }

    private static IMetric<T>? BuiltInMetric(string name) => name switch
    {
        "accuracy" => new Accuracy<T>(),
        "perplexity" => new Perplexity<T>(),
        "bits_per_char" => new BitsPerCharacter<T>(),
        "mse" => new MeanSquaredErrorMetric<T>(),
        "mae" => new MeanAbsoluteError<T>(),
        _ => null,
    };

    private void InvalidateFrozenWeights()
    {
        foreach (var layer in layers)
        {
            if (layer is RecurrentAdapter<T> { Layer.WeightsFrozen: true } recurrent)
            {
                recurrent.Layer.FreezeWeights();
            }
        }
    }
}

/// <summary>The architecture a saved model's metadata holds.</summary>
internal sealed record ModelArchitecture(int InputSize, ulong Seed, LayerSpec[] Layers);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelArchitecture))]
[JsonSerializable(typeof(TrainingState))]
internal sealed partial class ModelJsonContext : JsonSerializerContext;
