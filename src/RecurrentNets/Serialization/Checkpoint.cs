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
    /// Loads every parameter of the block from a file. The file must hold exactly the block's names (after
    /// <paramref name="prefix"/>) with the same shapes and the block's dtype; everything is checked before anything
    /// is written, so a failed load leaves the block unchanged.
    /// </summary>
    /// <returns>The file's metadata.</returns>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is truncated or corrupt, or a tensor has another dtype.</exception>
    /// <exception cref="ArgumentException">A name is unknown or missing, or a shape differs; the message names both shapes.</exception>
    public static IReadOnlyDictionary<string, string> Load<T>(string path, ParameterBlock<T> parameters, string prefix = "")
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

        parameters.Load(tensors);
        return file.Metadata;
    }
}
