using RecurrentNets.Serialization;

namespace RecurrentNets.Tests;

/// <summary>Writes edited copies of saved files, for tests of what loading does with bad metadata.</summary>
internal static class CheckpointFiles
{
    /// <summary>
    /// Copies the safetensors file at <paramref name="source"/> to <paramref name="destination"/> with the same tensors
    /// (read as <typeparamref name="T"/>) and the metadata as <paramref name="edit"/> leaves it.
    /// </summary>
    public static void CopyWithMetadata<T>(string source, string destination, Action<Dictionary<string, string>> edit)
        where T : unmanaged
    {
        var file = SafeTensorsFile.Read(source);
        var tensors = file.Entries.Select(e => (e.Name, e.Shape, (Array)file.GetData<T>(e.Name))).ToList();
        var metadata = file.Metadata.ToDictionary(m => m.Key, m => m.Value);
        edit(metadata);
        SafeTensorsFile.Write(destination, tensors, metadata);
    }
}
