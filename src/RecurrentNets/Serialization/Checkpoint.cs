using System.Numerics;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Serialization;

/// <summary>
/// Saves and loads a model's parameters as a safetensors file with PyTorch's tensor names (<c>weight_ih_l0</c>,
/// <c>weight_hh_l0_reverse</c>, ...), so that in Python
/// <c>torch.nn.LSTM(...).load_state_dict(safetensors.torch.load_file(path))</c> works unchanged, and a PyTorch-trained
/// model saved with <c>safetensors.torch.save_file(model.state_dict(), path)</c> loads here.
/// </summary>
public static class Checkpoint
{
    /// <summary>Writes every parameter of the block (values, not gradients) and the metadata, atomically.</summary>
    /// <param name="path">The file to write (replaced only when the new one is complete).</param>
    /// <param name="parameters">The block.</param>
    /// <param name="metadata">Strings stored in the header, e.g. the model configuration.</param>
    /// <param name="prefix">Prepended to every name (e.g. <c>"rnn."</c> for a submodule).</param>
    public static void Save<T>(string path, ParameterBlock<T> parameters, IReadOnlyDictionary<string, string>? metadata = null, string prefix = "")
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        SafeTensorsFile.Write(path,
            parameters.Views.Select(v => (prefix + v.Name, v.Shape.ToArray(), (Array)v.Values.ToArray())),
            metadata);
    }

    /// <summary>
    /// Saves a recurrent layer: its parameters under PyTorch's names and its <see cref="Sequence.RecurrentLayer{T}.Configuration"/>
    /// (plus <paramref name="metadata"/>) in the header, so <see cref="LoadLayer{T}"/> can rebuild it.
    /// </summary>
    public static void Save<T>(string path, Sequence.RecurrentLayer<T> layer, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(layer);
        var all = new Dictionary<string, string>(layer.Configuration, StringComparer.Ordinal);
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        int cut = layer.ParameterPrefix.Length;
        SafeTensorsFile.Write(path,
            layer.ParameterViews.Select(v => (v.Name[cut..], v.Shape.ToArray(), (Array)v.Values.ToArray())),
            all);
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="Save{T}(string, Sequence.RecurrentLayer{T}, IReadOnlyDictionary{string, string}?)"/>
    /// (or a PyTorch <c>nn.LSTM</c>/<c>nn.GRU</c>/<c>nn.RNN</c> <c>state_dict</c>) into an existing layer's own
    /// parameters, leaving the rest of a shared block (a head, an embedding) alone. The file must hold exactly the
    /// layer's names, without the layer's <see cref="Sequence.RecurrentLayer{T}.ParameterPrefix"/>; everything is checked
    /// before anything is written.
    /// </summary>
    /// <returns>The file's metadata.</returns>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated or corrupt, or a tensor has another dtype.</exception>
    /// <exception cref="ArgumentException">A name is unknown or missing, or a shape differs; the message names both shapes.</exception>
    public static IReadOnlyDictionary<string, string> Load<T>(string path, Sequence.RecurrentLayer<T> layer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(layer);
        var file = SafeTensorsFile.Read(path);
        var dtype = SafeTensorsFile.DTypeOf<T>();
        var own = layer.ParameterViews.ToDictionary(v => v.Name[layer.ParameterPrefix.Length..], StringComparer.Ordinal);
        var loaded = new List<(ParameterView<T> View, T[] Values)>();
        foreach (var entry in file.Entries)
        {
            if (!own.TryGetValue(entry.Name, out var view))
            {
                throw new ArgumentException($"{path} has '{entry.Name}', which is not a parameter of this layer. It has: {string.Join(", ", own.Keys)}.", nameof(path));
            }

            if (entry.DType != dtype)
            {
                throw new InvalidDataException($"{path}: '{entry.Name}' {Tensor<T>.FormatShape(entry.Shape)} is stored as {entry.DType} but the model computes in {dtype}.");
            }

            if (!view.Shape.SequenceEqual(entry.Shape))
            {
                throw new ArgumentException($"'{entry.Name}' has shape {Tensor<T>.FormatShape(entry.Shape)} in {path} but {Tensor<T>.FormatShape(view.Shape)} in this layer.", nameof(path));
            }

            loaded.Add((view, file.GetData<T>(entry.Name)));
        }

        foreach (var (name, view) in own)
        {
            if (file.Find(name) is null)
            {
                throw new ArgumentException($"{path} has no '{name}' {Tensor<T>.FormatShape(view.Shape)}.", nameof(path));
            }
        }

        foreach (var (view, values) in loaded)
        {
            values.CopyTo(view.Values);
        }

        return file.Metadata;
    }

    /// <summary>
    /// Rebuilds an <see cref="Sequence.Rnn{T}"/>, <see cref="Sequence.Lstm{T}"/> or <see cref="Sequence.Gru{T}"/> from a checkpoint
    /// written by <see cref="Save{T}(string, Sequence.RecurrentLayer{T}, IReadOnlyDictionary{string, string}?)"/> and loads its parameters.
    /// </summary>
    /// <exception cref="InvalidDataException">The metadata lacks the configuration, holds a value that does not parse, or
    /// describes a layer that cannot exist (say a <c>proj_size</c> not below <c>hidden_size</c>).</exception>
    /// <exception cref="ArgumentException">The parameters disagree with the configuration.</exception>
    /// <param name="path">The checkpoint.</param>
    /// <param name="nonFinite">What to do with tensors holding NaN or ±Inf (default: load with a warning; see <see cref="NonFinitePolicy"/>).</param>
    public static Sequence.RecurrentLayer<T> LoadLayer<T>(string path, NonFinitePolicy nonFinite = NonFinitePolicy.Warn)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var metadata = ReadMetadata(path);
        string Get(string key) => metadata.GetValueOrDefault(key) ?? throw new InvalidDataException($"{path} has no '{key}' in its metadata: it was not saved from a recurrent layer.");
        int Int(string key) => int.TryParse(Get(key), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v) && v > 0
            ? v : throw new InvalidDataException($"{path}: '{key}' is '{Get(key)}', not a positive integer.");
        bool Bool(string key, bool fallback = false) => metadata.TryGetValue(key, out string? v)
            ? v switch { "true" => true, "false" => false, _ => throw new InvalidDataException($"{path}: '{key}' is '{v}', not true or false.") }
            : fallback;
        double Real(string key) => metadata.TryGetValue(key, out string? v)
            ? double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) ? d : throw new InvalidDataException($"{path}: '{key}' is '{v}', not a number.")
            : 0;

        double LayerNormEpsilon() => metadata.ContainsKey("layer_norm_eps") ? Real("layer_norm_eps") : 1e-5;
        string model = Get("model");
        int input = Int("input_size"), hidden = Int("hidden_size"), layers = Int("num_layers");
        bool bias = Bool("bias", true), bidirectional = Bool("bidirectional"), learn = Bool("learn_initial_state");
        double dropout = Real("dropout"), recurrentDropout = Real("recurrent_dropout");
        bool goBackwards = Bool("go_backwards");
        Sequence.MergeMode mergeMode;
        try
        {
            mergeMode = metadata.TryGetValue("merge_mode", out string? mode) ? Sequence.MergeModes.Parse(mode) : Sequence.MergeMode.Concat;
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        Sequence.RecurrentLayer<T> layer;
        try
        {
            layer = Build();
        }
        catch (ArgumentException e)
        {
            // A value that parses but no layer can take (a proj_size not below hidden_size, a dropout of 1.5): the file
            // is at fault, not the caller.
            throw new InvalidDataException($"{path}: its metadata describes no valid {model} layer: {e.Message}", e);
        }

        Load(path, layer.Parameters, nonFinite: nonFinite);
        return layer;

        Sequence.RecurrentLayer<T> Build() => model switch
        {
            "RNN" => new Sequence.Rnn<T>(input, hidden, layers, Get("nonlinearity") == "relu" ? Activation.Relu : Activation.Tanh,
                bias, null, null, bidirectional, dropout, learn, recurrentDropout, mergeMode, goBackwards),
            "LSTM" => new Sequence.Lstm<T>(input, hidden, layers, bias, null, null, bidirectional, dropout, Bool("peephole"),
                Bool("coupled_input_forget"), null, learn, recurrentDropout, mergeMode, goBackwards,
                metadata.ContainsKey("proj_size") ? Int("proj_size") : 0),
            "GRU" => new Sequence.Gru<T>(input, hidden, layers, bias, null, null, bidirectional, dropout, Bool("reset_after_recurrence", true),
                learn, recurrentDropout, mergeMode, goBackwards),
            "LayerNormLSTM" => new Sequence.LayerNormLstm<T>(input, hidden, layers, null, null, bidirectional, dropout, null, learn, recurrentDropout,
                LayerNormEpsilon(), mergeMode, goBackwards),
            "LayerNormGRU" => new Sequence.LayerNormGru<T>(input, hidden, layers, null, null, bidirectional, dropout, learn, recurrentDropout,
                LayerNormEpsilon(), mergeMode, goBackwards),
            string other => throw new InvalidDataException($"{path}: model '{other}' is not RNN, LSTM, GRU, LayerNormLSTM or LayerNormGRU."),
        };
    }

    /// <summary>The metadata of a checkpoint (e.g. the model configuration, to build the model before loading it).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated or corrupt.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => SafeTensorsFile.Read(path).Metadata;

    /// <summary>
    /// Loads every parameter of the block from a file. The file must hold exactly the block's names (after
    /// <paramref name="prefix"/>) with the same shapes and the block's dtype; everything is checked before anything
    /// is written, so a failed load leaves the block unchanged.
    /// </summary>
    /// <returns>The file's metadata.</returns>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated or corrupt, or a tensor has another dtype.</exception>
    /// <exception cref="ArgumentException">A name is unknown or missing, or a shape differs; the message names both shapes.</exception>
    /// <param name="path">The checkpoint.</param>
    /// <param name="parameters">The block to fill.</param>
    /// <param name="prefix">Stripped from every name in the file (e.g. <c>"rnn."</c>).</param>
    /// <param name="nonFinite">What to do with tensors holding NaN or ±Inf: load with a <c>Trace</c> warning (default), refuse
    /// with an <see cref="InvalidDataException"/> naming the tensor, or load silently as PyTorch does (<see cref="NonFinitePolicy"/>).</param>
    public static IReadOnlyDictionary<string, string> Load<T>(string path, ParameterBlock<T> parameters, string prefix = "", NonFinitePolicy nonFinite = NonFinitePolicy.Warn)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        var file = SafeTensorsFile.Read(path);
        var dtype = SafeTensorsFile.DTypeOf<T>();
        var tensors = new Dictionary<string, (int[], T[])>(StringComparer.Ordinal);
        foreach (var entry in file.Entries)
        {
            if (!entry.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                throw new ArgumentException($"{path} has '{entry.Name}', which does not start with '{prefix}'.", nameof(path));
            }

            if (entry.DType != dtype)
            {
                throw new InvalidDataException($"{path}: '{entry.Name}' {Tensor<T>.FormatShape(entry.Shape)} is stored as {entry.DType} but the model computes in {dtype}.");
            }

            tensors[entry.Name[prefix.Length..]] = (entry.Shape, file.GetData<T>(entry.Name));
        }

        NonFiniteCheck.Apply(path, tensors.Select(t => (t.Key, t.Value.Item1, t.Value.Item2)), nonFinite);
        parameters.Load(tensors);
        return file.Metadata;
    }

    /// <summary>
    /// Saves an optimiser's state (its buffers, step count, learning rate and type) beside a model checkpoint, so that
    /// training resumed with <see cref="LoadOptimizer"/> continues bit for bit.
    /// </summary>
    public static void SaveOptimizer<T>(string path, Optimizers.Optimizer<T> optimizer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var metadata = new Dictionary<string, string>
        {
            ["optimizer"] = optimizer.GetType().Name,
            ["step"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["lr"] = optimizer.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["parameters"] = optimizer.Parameters.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        SafeTensorsFile.Write(path, optimizer.StateBuffers.Select(s => (s.Name, new[] { s.Buffer.Length }, (Array)s.Buffer.Clone())), metadata);
    }

    /// <summary>Restores an optimiser's state saved by <see cref="SaveOptimizer"/>; checks everything before writing.</summary>
    /// <exception cref="InvalidDataException">The file is corrupt or lacks the optimiser's metadata.</exception>
    /// <exception cref="ArgumentException">The file is for another optimiser type or another parameter count.</exception>
    public static void LoadOptimizer<T>(string path, Optimizers.Optimizer<T> optimizer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var file = SafeTensorsFile.Read(path);
        string type = file.Metadata.GetValueOrDefault("optimizer") ?? throw new InvalidDataException($"{path} has no 'optimizer' metadata.");
        if (type != optimizer.GetType().Name)
        {
            throw new ArgumentException($"{path} holds the state of {type}, not of {optimizer.GetType().Name}.", nameof(optimizer));
        }

        if (!long.TryParse(file.Metadata.GetValueOrDefault("step"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long step)
            || !double.TryParse(file.Metadata.GetValueOrDefault("lr"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double lr))
        {
            throw new InvalidDataException($"{path} has no valid 'step' and 'lr' metadata.");
        }

        var buffers = optimizer.StateBuffers;
        var loaded = new List<T[]>();
        foreach (var (name, buffer) in buffers)
        {
            var entry = file.Find(name) ?? throw new InvalidDataException($"{path} has no '{name}'.");
            if (entry.ElementCount != buffer.Length || entry.DType != SafeTensorsFile.DTypeOf<T>())
            {
                throw new ArgumentException($"{path}: '{name}' has {entry.ElementCount} {entry.DType} values but the optimiser's has {buffer.Length} {SafeTensorsFile.DTypeOf<T>()}.", nameof(optimizer));
            }

            loaded.Add(file.GetData<T>(name));
        }

        if (file.Entries.Count != buffers.Count)
        {
            throw new ArgumentException($"{path} has {file.Entries.Count} buffers but {optimizer.GetType().Name} has {buffers.Count}.", nameof(optimizer));
        }

        for (int i = 0; i < buffers.Count; i++)
        {
            loaded[i].CopyTo(buffers[i].Buffer, 0);
        }

        optimizer.RestoreStepCount(step);
        optimizer.LearningRate = lr;
    }
}
