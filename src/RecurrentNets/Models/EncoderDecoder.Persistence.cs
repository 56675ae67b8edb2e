using System.Text.Json;
using System.Text.Json.Serialization;
using RecurrentNets.Layers;
using RecurrentNets.Serialization;

namespace RecurrentNets.Models;

public sealed partial class EncoderDecoder<T>
{
    /// <summary>The <c>format</c> entry of a saved encoder-decoder's metadata.</summary>
    public const string FormatName = "recurrentnets.encoder_decoder";

    /// <summary>Extra strings saved with the model (e.g. the source and target vocabularies as JSON) and restored by
    /// <see cref="Load"/>. Keys <c>format</c>, <c>dtype</c> and <c>architecture</c> are the model's own.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The architecture as JSON: every constructor argument but the random source (what <see cref="Save"/>
    /// stores under <c>architecture</c>), e.g. <c>{"cell":"Lstm","source_vocabulary_size":6,...}</c>.</summary>
    public string ArchitectureJson() => JsonSerializer.Serialize(
        new EncoderDecoderArchitecture(Cell, SourceVocabularySize, TargetVocabularySize, BeginToken, EndToken, EmbeddingSize, HiddenSize,
            NumLayers, ForgetBias, AttentionKind == AttentionKind.None ? null : AttentionKind),
        EncoderDecoderJsonContext.Default.EncoderDecoderArchitecture);

    /// <summary>
    /// Writes the whole model as one safetensors file: every parameter under its name in <see cref="Parameters"/>, and in
    /// the metadata <c>format</c> = <see cref="FormatName"/>, the dtype, the architecture (JSON, <see cref="ArchitectureJson"/>)
    /// and <see cref="Metadata"/>. The write is atomic. <see cref="Load"/> rebuilds the model from it with no code.
    /// </summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeTensorsFile.Write(path, Tensors(), ModelMetadata());
    }

    /// <summary>Writes only the parameters (a <c>state_dict</c> as safetensors), with no architecture.</summary>
    /// <param name="path">The file to write.</param>
    public void SaveWeights(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Checkpoint.Save(path, Parameters);
    }

    /// <summary>
    /// Loads parameters into this model from a safetensors file written by <see cref="Save"/> or <see cref="SaveWeights"/>
    /// (or any file with exactly the model's names, shapes and dtype). Everything is checked before anything is written,
    /// so a failed load leaves the model as it was.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is corrupt or stores another dtype.</exception>
    /// <exception cref="ArgumentException">The file holds a model with another attention kind (the message names both),
    /// a name is missing or extra, or a shape differs; the message names it and both shapes.</exception>
    public void LoadWeights(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            CheckAttentionKind(SafeTensorsFile.Read(path), path);
        }

        Checkpoint.Load(path, Parameters);
    }

    /// <summary>
    /// Rebuilds a model saved by <see cref="Save"/>: the architecture from the metadata, then the parameters, then
    /// <see cref="Metadata"/>. The loaded model decodes bit for bit as the saved one.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is of another kind (a weights-only file, a saved
    /// <see cref="SequenceModel{T}"/>), stores another dtype, its architecture is not valid, or the architecture disagrees
    /// with its tensors (the message names the tensor and both shapes).</exception>
    public static EncoderDecoder<T> Load(string path)
    {
        var file = SafeTensorsFile.Read(path);
        var meta = file.Metadata;
        string? format = meta.GetValueOrDefault("format");
        if (format != FormatName || !meta.TryGetValue("architecture", out string? json))
        {
            string kind = format is null ? "has no format in its metadata (a weights-only file? load it with LoadWeights)" : $"is a '{format}' file";
            throw new InvalidDataException($"{path} is not a saved EncoderDecoder: it {kind}; expected format '{FormatName}' with an architecture.");
        }

        string dtype = DTypeName;
        if (meta.GetValueOrDefault("dtype") != dtype)
        {
            throw new InvalidDataException($"{path} holds a {meta.GetValueOrDefault("dtype")} model but EncoderDecoder<{typeof(T).Name}> computes in {dtype}.");
        }

        EncoderDecoder<T> model;
        try
        {
            var a = JsonSerializer.Deserialize(json, EncoderDecoderJsonContext.Default.EncoderDecoderArchitecture)
                ?? throw new InvalidDataException($"{path}: the architecture is empty.");
            model = new EncoderDecoder<T>(a.Cell, a.SourceVocabularySize, a.TargetVocabularySize, a.BeginToken, a.EndToken,
                a.EmbeddingSize, a.HiddenSize, a.NumLayers, forgetBias: a.ForgetBias, attention: a.Attention ?? AttentionKind.None);
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: the architecture metadata is not valid: {e.Message}", e);
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
            if (key is not ("format" or "dtype" or "architecture"))
            {
                model.Metadata[key] = value;
            }
        }

        return model;
    }

    /// <summary>The attention kind of the model a safetensors file holds: its architecture when it has one, else what
    /// its tensor names say (<c>attention.Wa.weight</c> additive, <c>attention.attn.weight</c> general, <c>concat.weight</c>
    /// alone dot, none of them none).</summary>
    private static AttentionKind AttentionKindOf(SafeTensorsFile file)
    {
        if (file.Metadata.GetValueOrDefault("format") == FormatName && file.Metadata.TryGetValue("architecture", out string? json))
        {
            try
            {
                var a = JsonSerializer.Deserialize(json, EncoderDecoderJsonContext.Default.EncoderDecoderArchitecture);
                if (a is not null)
                {
                    return a.Attention ?? AttentionKind.None;
                }
            }
            catch (JsonException)
            {
                // Fall back to the names.
            }
        }

        return file.Find("attention.Wa.weight") is not null ? AttentionKind.Additive
            : file.Find("attention.attn.weight") is not null ? AttentionKind.General
            : file.Find("concat.weight") is not null ? AttentionKind.Dot
            : AttentionKind.None;
    }

    private void CheckAttentionKind(SafeTensorsFile file, string path)
    {
        var kind = AttentionKindOf(file);
        if (kind != AttentionKind)
        {
            throw new ArgumentException(
                $"{path} holds an encoder-decoder with attention '{kind}' but this model has attention '{AttentionKind}'; build the model with attention: AttentionKind.{kind} (or use EncoderDecoder.Load, which reads the architecture).",
                nameof(path));
        }
    }

    private static string DTypeName => typeof(T) == typeof(float) ? "float32" : "float64";

    private List<(string Name, int[] Shape, Array Values)> Tensors() =>
        [.. Parameters.Views.Select(v => (v.Name, v.Shape.ToArray(), (Array)v.Values.ToArray()))];

    private Dictionary<string, string> ModelMetadata() => new(Metadata, StringComparer.Ordinal)
    {
        ["format"] = FormatName,
        ["dtype"] = DTypeName,
        ["architecture"] = ArchitectureJson(),
    };
}

/// <summary>The architecture a saved encoder-decoder's metadata holds: its constructor's arguments.</summary>
internal sealed record EncoderDecoderArchitecture(EncoderDecoderCell Cell, int SourceVocabularySize, int TargetVocabularySize,
    int BeginToken, int EndToken, int EmbeddingSize, int HiddenSize, int NumLayers, double? ForgetBias = null,
    AttentionKind? Attention = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(EncoderDecoderArchitecture))]
internal sealed partial class EncoderDecoderJsonContext : JsonSerializerContext;
