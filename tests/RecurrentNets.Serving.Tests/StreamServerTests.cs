using System.Net;
using System.Text.Json;
using RecurrentNets.Init;
using RecurrentNets.Models;
using StreamServerSample;

namespace RecurrentNets.Serving.Tests;

public class StreamServerTests
{
    private const int InputSize = 8;

    private static FrozenModel<float> Model() => new SequenceModel<float>(InputSize, seed: 7).Add(Layer.Lstm(32)).Add(Layer.Linear(4)).Freeze();

    // x [steps, streams, I]: each stream's inputs from its own seeded generator, finite, in [-2, 2).
    private static SequenceBatch<float> Inputs(int steps, int streams, ulong seed)
    {
        var batch = new SequenceBatch<float>(steps, streams, InputSize);
        var x = batch.Features!.AsSpan();
        for (int b = 0; b < streams; b++)
        {
            var random = new SeededRandom(seed + (ulong)b);
            for (int t = 0; t < steps; t++)
            {
                for (int i = 0; i < InputSize; i++)
                {
                    x[(t * streams + b) * InputSize + i] = (float)(random.NextDouble() * 4 - 2);
                }
            }
        }

        return batch;
    }

    // Row (t, b) of a time-major [T, B, width] array.
    private static float[] Row(ReadOnlySpan<float> values, int streams, int width, int t, int b)
        => values.Slice((t * streams + b) * width, width).ToArray();

    // Bit for bit: System.Text.Json writes a float as the shortest text that parses back to the same float, and reads it
    // back exactly, so the HTTP round trip adds no rounding; the batcher's rows are computed as the whole-sequence forward.
    private static void AssertSameBits(float[] expected, float[] actual, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int o = 0; o < expected.Length; o++)
        {
            Assert.True(
                BitConverter.SingleToInt32Bits(expected[o]) == BitConverter.SingleToInt32Bits(actual[o]),
                $"{where} [{o}]: offline {expected[o]:R}, served {actual[o]:R}");
        }
    }

    [Fact]
    public async Task HundredConcurrentStreamsGiveTheOfflineForwardBitForBit()
    {
        const int streams = 100, steps = 50;
        var model = Model();
        var inputs = Inputs(steps, streams, seed: 1000);
        float[] x = inputs.Features!.AsSpan().ToArray();
        float[] expected = model.Predict(inputs).AsSpan().ToArray();
        await using var server = await RunningServer.StartAsync(model);

        var served = new float[streams][][];
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async b =>
        {
            long id = await server.OpenAsync();
            served[b] = new float[steps][];
            for (int t = 0; t < steps; t++)
            {
                var (output, step) = await server.StepAsync(id, Row(x, streams, InputSize, t, b));
                Assert.Equal(t + 1, step);
                served[b][t] = output;
            }

            using var closed = await server.Client.DeleteAsync($"/streams/{id}");
            Assert.Equal(HttpStatusCode.NoContent, closed.StatusCode);
        }));

        for (int b = 0; b < streams; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                AssertSameBits(Row(expected, streams, model.OutputSize, t, b), served[b][t], $"stream {b} step {t}");
            }
        }

        using var stats = JsonDocument.Parse(await server.Client.GetStringAsync("/stats"));
        Assert.Equal(streams * steps, stats.RootElement.GetProperty("stepsRun").GetInt64());
        Assert.Equal(0, stats.RootElement.GetProperty("openStreams").GetInt32());
    }

    [Fact]
    public async Task BadStepsAnswer400WithTheReasonAndChangeNoStream()
    {
        const int steps = 4;
        var model = Model();
        var inputs = Inputs(steps, 2, seed: 77);
        float[] x = inputs.Features!.AsSpan().ToArray();
        float[] expected = model.Predict(inputs).AsSpan().ToArray();
        await using var server = await RunningServer.StartAsync(model);
        long a = await server.OpenAsync(), b = await server.OpenAsync();

        var bad = new (string? Body, string Reason)[]
        {
            ("{\"input\": [1, 2, 3, 4, 5, 6, 7]}", "input has 7 values but the model reads 8 per step (inputSize)."),
            ("{\"input\": [1, 2, 3, 4, 5, 6, 7, 8, 9]}", "input has 9 values but the model reads 8 per step (inputSize)."),
            ("{}", "This model reads features: send {\"input\": [8 finite JSON numbers]}."),
            ("{\"input\": null}", "This model reads features"),
            ("{\"token\": 3}", "This model reads features"),
            ("null", "The body is null"),
            (null, "The request has no body"),
            ("", "The request has no body"),
            ("{\"input\": [1, 2,", "The body is not a step"),
            ("not json", "The body is not a step"),
            ("{\"inputs\": [1, 2, 3, 4, 5, 6, 7, 8]}", "'inputs'"),
            ("{\"input\": [1, 2, 3, 4, 5, 6, 7, \"NaN\"]}", "$.input[7]"),
            ("{\"input\": [1, 2, 3, 4, 5, 6, 7, \"8\"]}", "$.input[7]"),
            ("{\"input\": [1, 2, 3, 4, 5, 6, 7, 1e39]}", "input[7] is Infinity: a step's input must be finite."),
        };

        for (int t = 0; t < steps; t++)
        {
            // Every bad body before each good step of a: refused, and neither a nor b moves.
            foreach (var (body, reason) in bad)
            {
                using var response = await server.PostStepAsync(a, body);
                string detail = await RunningServer.ProblemAsync(response, HttpStatusCode.BadRequest);
                Assert.Contains(reason, detail, StringComparison.Ordinal);
            }

            var (ya, stepA) = await server.StepAsync(a, Row(x, 2, InputSize, t, 0));
            var (yb, stepB) = await server.StepAsync(b, Row(x, 2, InputSize, t, 1));
            Assert.Equal(t + 1, stepA);
            Assert.Equal(t + 1, stepB);
            AssertSameBits(Row(expected, 2, model.OutputSize, t, 0), ya, $"a step {t}");
            AssertSameBits(Row(expected, 2, model.OutputSize, t, 1), yb, $"b step {t}");
        }
    }

    [Fact]
    public async Task UnknownAndClosedStreamsAnswer404()
    {
        await using var server = await RunningServer.StartAsync(Model());
        using (var response = await server.PostStepAsync(12345, "{\"input\": [0, 0, 0, 0, 0, 0, 0, 0]}"))
        {
            Assert.Contains("No open stream has id 12345", await RunningServer.ProblemAsync(response, HttpStatusCode.NotFound), StringComparison.Ordinal);
        }

        using (var response = await server.Client.DeleteAsync("/streams/12345"))
        {
            await RunningServer.ProblemAsync(response, HttpStatusCode.NotFound);
        }

        long id = await server.OpenAsync();
        await server.StepAsync(id, new float[InputSize]);
        using (var response = await server.Client.DeleteAsync($"/streams/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        using (var response = await server.PostStepAsync(id, "{\"input\": [0, 0, 0, 0, 0, 0, 0, 0]}"))
        {
            await RunningServer.ProblemAsync(response, HttpStatusCode.NotFound);
        }

        using (var response = await server.Client.DeleteAsync($"/streams/{id}"))
        {
            await RunningServer.ProblemAsync(response, HttpStatusCode.NotFound);
        }

        // A new stream after a closed one (its slot reused) starts from the initial state.
        long again = await server.OpenAsync();
        Assert.NotEqual(id, again);
        var (output, step) = await server.StepAsync(again, new float[InputSize]);
        Assert.Equal(1, step);
        var model = Model();
        var first = model.CreateStream();
        var y = new float[model.OutputSize];
        model.Step(first, new float[InputSize], y);
        AssertSameBits(y, output, "first step of a reused slot");
    }

    [Fact]
    public async Task TokenModelsTakeTokensAndRefuseTokensOutsideTheVocabulary()
    {
        const int vocabulary = 6, steps = 5;
        var model = new SequenceModel<float>(vocabulary, seed: 5).Add(Layer.Embedding(4)).Add(Layer.Gru(16)).Add(Layer.Linear(vocabulary)).Freeze();
        var batch = new SequenceBatch<float>(steps, 1, 0);
        for (int t = 0; t < steps; t++)
        {
            batch.Tokens![t] = (3 * t + 1) % vocabulary;
        }

        float[] expected = model.Predict(batch).AsSpan().ToArray();
        await using var server = await RunningServer.StartAsync(model);
        using (var info = JsonDocument.Parse(await server.Client.GetStringAsync("/model")))
        {
            Assert.True(info.RootElement.GetProperty("tokenInput").GetBoolean());
            Assert.Equal(vocabulary, info.RootElement.GetProperty("inputSize").GetInt32());
            Assert.Equal(vocabulary, info.RootElement.GetProperty("outputSize").GetInt32());
        }

        long id = await server.OpenAsync();
        for (int t = 0; t < steps; t++)
        {
            using (var wrong = await server.PostStepAsync(id, $"{{\"token\": {vocabulary}}}"))
            {
                Assert.Equal("The token is outside the vocabulary [0, 6).", await RunningServer.ProblemAsync(wrong, HttpStatusCode.BadRequest));
            }

            using (var negative = await server.PostStepAsync(id, "{\"token\": -1}"))
            {
                await RunningServer.ProblemAsync(negative, HttpStatusCode.BadRequest);
            }

            using (var features = await server.PostStepAsync(id, "{\"input\": [1, 2]}"))
            {
                Assert.Contains("This model reads tokens", await RunningServer.ProblemAsync(features, HttpStatusCode.BadRequest), StringComparison.Ordinal);
            }

            using var response = await server.PostStepAsync(id, $"{{\"token\": {batch.Tokens![t]}}}");
            var (output, step) = await RunningServer.ReadStepAsync(response);
            Assert.Equal(t + 1, step);
            AssertSameBits(expected.AsSpan(t * vocabulary, vocabulary).ToArray(), output, $"step {t}");
        }
    }

    [Fact]
    public async Task ASecondStepInFlightAnswers409AndAFullQueue503WithRetryAfter()
    {
        // One step pending at most, and it waits a second for others to join its batch: time to send the others.
        var options = new StreamServerOptions
        {
            Batcher = new StreamBatcherOptions { MaxWait = TimeSpan.FromSeconds(1), QueueCapacity = 1, QueueFullMode = QueueFullMode.Fail },
            RetryAfterSeconds = 2,
        };
        await using var server = await RunningServer.StartAsync(Model(), options);
        long a = await server.OpenAsync(), b = await server.OpenAsync();
        const string zeros = "{\"input\": [0, 0, 0, 0, 0, 0, 0, 0]}";
        var first = server.PostStepAsync(a, zeros);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            using var stats = JsonDocument.Parse(await server.Client.GetStringAsync("/stats"));
            if (stats.RootElement.GetProperty("pendingSteps").GetInt32() == 1)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the first step never became pending");
            await Task.Delay(5);
        }

        using (var again = await server.PostStepAsync(a, zeros))
        {
            Assert.Contains("in flight", await RunningServer.ProblemAsync(again, HttpStatusCode.Conflict), StringComparison.Ordinal);
        }

        using (var full = await server.PostStepAsync(b, zeros))
        {
            Assert.Contains("queue is full", await RunningServer.ProblemAsync(full, HttpStatusCode.ServiceUnavailable), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(2), full.Headers.RetryAfter?.Delta);
        }

        using (var response = await first)
        {
            Assert.Equal(1, (await RunningServer.ReadStepAsync(response)).Step);
        }

        // Neither refused step moved its stream.
        using (var next = await server.PostStepAsync(b, zeros))
        {
            Assert.Equal(1, (await RunningServer.ReadStepAsync(next)).Step);
        }
    }

    [Fact]
    public async Task IdleStreamsAreClosedAndActiveOnesKept()
    {
        // Timeout 1 s, a sweep every 0.5 s: a silent stream is gone within 1.5 s; one stepped every 50 ms stays.
        await using var server = await RunningServer.StartAsync(Model(), new StreamServerOptions { IdleTimeout = TimeSpan.FromSeconds(1) });

        // The first request of a process is slow (JIT, the client's JSON): take it before the clock matters.
        await server.StepAsync(await server.OpenAsync(), new float[InputSize]);
        long idle = await server.OpenAsync(), active = await server.OpenAsync();
        var stop = DateTime.UtcNow.AddSeconds(2.5);
        int steps = 0;
        while (DateTime.UtcNow < stop)
        {
            Assert.Equal(++steps, (await server.StepAsync(active, new float[InputSize])).Step);
            await Task.Delay(50);
        }

        using var response = await server.PostStepAsync(idle, "{\"input\": [0, 0, 0, 0, 0, 0, 0, 0]}");
        await RunningServer.ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal(steps + 1, (await server.StepAsync(active, new float[InputSize])).Step);
    }

    [Fact]
    public async Task ModelAndHealthEndpointsAnswer()
    {
        var model = new SequenceModel<float>(InputSize, seed: 7).Add(Layer.Lstm(32)).Add(Layer.Linear(4));
        model.Metadata["name"] = "test model";
        await using var server = await RunningServer.StartAsync(model.Freeze());
        using var info = JsonDocument.Parse(await server.Client.GetStringAsync("/model"));
        Assert.Equal(InputSize, info.RootElement.GetProperty("inputSize").GetInt32());
        Assert.Equal(4, info.RootElement.GetProperty("outputSize").GetInt32());
        Assert.False(info.RootElement.GetProperty("tokenInput").GetBoolean());
        Assert.Equal("test model", info.RootElement.GetProperty("metadata").GetProperty("name").GetString());
        using var health = await server.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Empty(await health.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public void ABidirectionalModelIsRefusedAtBuild()
    {
        var model = new SequenceModel<float>(InputSize, seed: 7).Add(Layer.Gru(6, bidirectional: true)).Add(Layer.Linear(3)).Freeze();
        Assert.Throws<NotSupportedException>(() => StreamServerApp.Build(model, new StreamServerOptions { Port = 0, Log = false }));
    }
}
