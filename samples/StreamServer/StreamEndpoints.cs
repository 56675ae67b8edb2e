using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using RecurrentNets.Models;
using RecurrentNets.Serving;

namespace StreamServerSample;

/// <summary>
/// The HTTP API: <c>POST /streams</c>, <c>POST /streams/{id}/steps</c>, <c>DELETE /streams/{id}</c>, <c>GET /model</c>,
/// <c>GET /stats</c> and the empty <c>GET /health</c>. Errors are problem details (RFC 9457) whose detail says why:
/// 400 for a bad step (the library's message when it refused the input), 404 for an unknown or closed stream, 409 for a
/// second step of a stream while one is in flight, 503 with Retry-After when the queue or the stream table is full.
/// </summary>
public static class StreamEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapStreamEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/streams", OpenStream);
        app.MapPost("/streams/{id:long}/steps", StepAsync);
        app.MapDelete("/streams/{id:long}", CloseStream);
        app.MapGet("/model", Describe);
        app.MapGet("/stats", Stats);
        app.MapGet("/health", static () => TypedResults.Ok());
        return app;
    }

    private static IResult OpenStream(HttpContext http, StreamRegistry registry, StreamServerOptions options)
    {
        StreamRegistry.Entry? entry;
        try
        {
            entry = registry.Open();
        }
        catch (ObjectDisposedException)
        {
            return Unavailable(http, options, "The server is shutting down.");
        }

        if (entry is null)
        {
            return Unavailable(http, options, $"{options.MaxStreams} streams are open (MaxStreams): close one or try again later.");
        }

        long id = entry.Stream.Id;
        http.Response.Headers.Location = $"/streams/{id}";
        return TypedResults.Json(new StreamCreated(id), StreamServerJson.Default.StreamCreated, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> StepAsync(long id, HttpContext http, StreamRegistry registry, StreamServerOptions options)
    {
        if (!registry.TryGet(id, out var entry))
        {
            return UnknownStream(id);
        }

        var stream = entry.Stream;
        var model = stream.Model;
        if (http.Request.ContentLength == 0 || http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false)
        {
            return BadStep($"The request has no body: send {Expected(model)}.");
        }

        StepRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(http.Request.Body, StreamServerJson.Default.StepRequest, http.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            return BadStep($"The body is not a step ({Expected(model)}): {e.Message}");
        }

        if (request is null)
        {
            return BadStep($"The body is null: send {Expected(model)}.");
        }

        if (model.TokenInput ? request.Token is null || request.Input is not null : request.Input is null || request.Token is not null)
        {
            return BadStep($"This model reads {(model.TokenInput ? "tokens" : "features")}: send {Expected(model)}.");
        }

        if (Interlocked.Exchange(ref entry.Busy, 1) == 1)
        {
            return TypedResults.Problem(
                $"Stream {id} has a step in flight: a stream takes one step at a time, send the next after the answer.",
                statusCode: StatusCodes.Status409Conflict, title: "A step of this stream is in flight");
        }

        try
        {
            float[] output = request.Input is { } input
                ? await stream.StepAsync(input, http.RequestAborted).ConfigureAwait(false)
                : await stream.StepAsync(request.Token!.Value, http.RequestAborted).ConfigureAwait(false);
            Volatile.Write(ref entry.LastUsed, Environment.TickCount64);
            return TypedResults.Json(new StepResponse(output, stream.Steps), StreamServerJson.Default.StepResponse);
        }
        catch (ArgumentException e)
        {
            // Wrong size, a non-finite value, a token outside the vocabulary: nothing was queued, the stream is as it was.
            return BadStep(Reason(e));
        }
        catch (QueueFullException e)
        {
            return Unavailable(http, options, e.Message);
        }
        catch (ObjectDisposedException)
        {
            return Unavailable(http, options, "The server is shutting down.");
        }
        catch (InvalidOperationException e)
        {
            // Closed between the look-up and the step (DELETE, or the idle sweep).
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status404NotFound, title: "Unknown stream");
        }
        finally
        {
            Volatile.Write(ref entry.Busy, 0);
        }
    }

    private static IResult CloseStream(long id, StreamRegistry registry)
        => registry.Close(id) ? TypedResults.NoContent() : UnknownStream(id);

    private static IResult Describe(FrozenModel<float> model)
        => TypedResults.Json(
            new ModelInfo(model.InputSize, model.OutputSize, model.TokenInput, model.ReducesTime, new Dictionary<string, string>(model.Metadata, StringComparer.Ordinal)),
            StreamServerJson.Default.ModelInfo);

    private static IResult Stats(StreamBatcher<float> batcher)
        => TypedResults.Json(new ServerStats(batcher.OpenStreamCount, batcher.PendingSteps, batcher.BatchesRun, batcher.StepsRun, VectorPath), StreamServerJson.Default.ServerStats);

    // The GEMM path the library takes in this process (as GemmDriver.ResolvePath decides it).
    private static readonly string VectorPath =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? "AVX-512"
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? "AVX2 + FMA"
        : "portable (Vector128 or scalar)";

    private static string Expected(FrozenModel<float> model)
        => model.TokenInput ? $"{{\"token\": n}} with n in [0, {model.InputSize})" : $"{{\"input\": [{model.InputSize} finite JSON numbers]}}";

    // The library's message without the " (Parameter 'input')" and "Actual value was" lines .NET appends.
    private static string Reason(ArgumentException e)
    {
        string message = e.Message;
        int cut = e.ParamName is null ? -1 : message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return cut >= 0 ? message[..cut] : message;
    }

    private static ProblemHttpResult BadStep(string detail)
        => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Bad step");

    private static ProblemHttpResult UnknownStream(long id)
        => TypedResults.Problem($"No open stream has id {id}: it was never opened, or it was closed (DELETE, or idle too long).", statusCode: StatusCodes.Status404NotFound, title: "Unknown stream");

    private static ProblemHttpResult Unavailable(HttpContext http, StreamServerOptions options, string detail)
    {
        http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Try again later");
    }
}
