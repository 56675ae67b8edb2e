using System.Text.Json.Serialization;

namespace StreamServerSample;

/// <summary>The body of <c>POST /streams/{id}/steps</c>: <see cref="Input"/> for a model of features, <see cref="Token"/>
/// for a model of tokens.</summary>
public sealed class StepRequest
{
    /// <summary>x(t): the model's input size of finite numbers.</summary>
    public float[]? Input { get; init; }

    /// <summary>The token, in [0, vocabulary size).</summary>
    public int? Token { get; init; }
}

/// <summary>The answer to a step: y(t) and the stream's step count after it (1 for the first step).</summary>
/// <param name="Output">y(t), the model's output size.</param>
/// <param name="Step">The steps the stream has taken, this one included.</param>
public sealed record StepResponse(float[] Output, int Step);

/// <summary>The answer to <c>POST /streams</c>.</summary>
/// <param name="Id">The stream's id, for <c>/streams/{id}</c>.</param>
public sealed record StreamCreated(long Id);

/// <summary>The answer to <c>GET /model</c>.</summary>
/// <param name="InputSize">Features per step, or the vocabulary size when the model reads tokens.</param>
/// <param name="OutputSize">Outputs per step.</param>
/// <param name="TokenInput">Whether a step is <c>{"token": n}</c> (true) or <c>{"input": [...]}</c> (false).</param>
/// <param name="ReducesTime">Whether the model reduces time (each step then answers the output of the prefix so far).</param>
/// <param name="Metadata">The model's metadata, as saved.</param>
public sealed record ModelInfo(int InputSize, int OutputSize, bool TokenInput, bool ReducesTime, Dictionary<string, string> Metadata);

/// <summary>The answer to <c>GET /stats</c>: the batcher's counters.</summary>
/// <param name="OpenStreams">Streams open now.</param>
/// <param name="PendingSteps">Steps waiting for a batch.</param>
/// <param name="BatchesRun">Batched steps run since start.</param>
/// <param name="StepsRun">Stream steps run since start (their mean per batch is StepsRun / BatchesRun).</param>
/// <param name="VectorPath">The widest vectors the kernels use in this process: AVX-512, AVX2 or Vector128.</param>
public sealed record ServerStats(int OpenStreams, int PendingSteps, long BatchesRun, long StepsRun, string VectorPath);

/// <summary>
/// The server's JSON, source generated: camelCase names, numbers only as JSON numbers (no "NaN" strings, no numbers in
/// strings), and an unknown property is an error rather than silently ignored (<c>{"inputs": ...}</c> is a typo).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.Strict,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(StepRequest))]
[JsonSerializable(typeof(StepResponse))]
[JsonSerializable(typeof(StreamCreated))]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(ServerStats))]
public sealed partial class StreamServerJson : JsonSerializerContext;
