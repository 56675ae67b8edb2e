using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using RecurrentNets.Init;
using RecurrentNets.Models;
using StreamServerSample;

namespace LoadGeneratorSample;

/// <summary>The command line of a load run.</summary>
internal sealed record LoadSettings
{
    public Uri? Url { get; init; }

    public int Streams { get; init; } = 100;

    public int Steps { get; init; } = 200;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    public int? InputSize { get; init; }

    public bool Empty { get; init; }

    public bool SelfHost { get; init; }

    public FileInfo? Model { get; init; }

    public ulong Seed { get; init; } = 1;

    public FileInfo? Output { get; init; }

    public string CommandLine { get; init; } = "";
}

/// <summary>What the server says about itself before a run.</summary>
internal sealed record ServerInfo(int InputSize, int OutputSize, bool TokenInput, string? Description, string VectorPath);

/// <summary>One measured run: N clients, each with up to M requests in a closed loop.</summary>
internal sealed record Measurement(string Endpoint, int Clients, int PerClient, long Ok, IReadOnlyDictionary<string, int> Errors, TimeSpan Elapsed, long[] Latencies, double? MeanBatch)
{
    public double PerSecond => Ok / Elapsed.TotalSeconds;

    /// <summary>The nearest-rank percentile of the successful requests' latencies, in ms.</summary>
    public double Percentile(double p)
        => Latencies.Length == 0 ? double.NaN : Milliseconds(Latencies[Math.Clamp((int)Math.Ceiling(p * Latencies.Length) - 1, 0, Latencies.Length - 1)]);

    public double Max => Latencies.Length == 0 ? double.NaN : Milliseconds(Latencies[^1]);

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Runs the load: a warm-up, then the measured streams run, then (with --empty) the empty endpoint.</summary>
internal static class LoadRun
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public static async Task<int> RunAsync(LoadSettings settings, CancellationToken cancellationToken)
    {
        WebApplication? host = null;
        try
        {
            Uri address;
            if (settings.SelfHost)
            {
                if (settings.Url is not null)
                {
                    Console.Error.WriteLine("Give --url or --self-host, not both.");
                    return 1;
                }

                var model = settings.Model is { } file ? FrozenModel<float>.Load(file.FullName) : StreamServerApp.DemoModel();
                host = StreamServerApp.Build(model, new StreamServerOptions { Port = 0, Log = false });
                await host.StartAsync(cancellationToken);
                address = StreamServerApp.Address(host);
            }
            else if (settings.Url is { } url)
            {
                // This tool's traffic stays on the machine: a load test of someone else's server is not its job.
                if (!url.IsLoopback)
                {
                    Console.Error.WriteLine($"{url} is not a loopback address: the load generator sends to 127.0.0.0/8, [::1] or localhost only.");
                    return 1;
                }

                address = url;
            }
            else
            {
                Console.Error.WriteLine("Give --url (a running StreamServer) or --self-host.");
                return 1;
            }

            using var client = new HttpClient(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = 100_000,
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(10),
            })
            {
                BaseAddress = address,
                Timeout = TimeSpan.FromSeconds(30),
            };

            ServerInfo server;
            try
            {
                server = await DescribeAsync(client, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                Console.Error.WriteLine($"No StreamServer answers at {address}: {e.Message}");
                return 1;
            }

            int inputSize = settings.InputSize ?? server.InputSize;
            string load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
            Console.WriteLine($"{address}: {Describe(server, inputSize)}; {settings.Streams} streams x {settings.Steps} steps, at most {settings.Duration.TotalSeconds:0.#} s (warm-up {settings.Warmup.TotalSeconds:0.#} s).");

            var results = new List<Measurement>();
            if (settings.Warmup > TimeSpan.Zero)
            {
                await StepsAsync(client, settings, settings.Warmup, inputSize, server.TokenInput, cancellationToken);
            }

            results.Add(await StepsAsync(client, settings, settings.Duration, inputSize, server.TokenInput, cancellationToken));
            if (settings.Empty)
            {
                if (settings.Warmup > TimeSpan.Zero)
                {
                    await EmptyAsync(client, settings, settings.Warmup, cancellationToken);
                }

                results.Add(await EmptyAsync(client, settings, settings.Duration, cancellationToken));
            }

            string report = Report(settings, address, server, inputSize, load, results);
            Console.WriteLine();
            Console.WriteLine(report);
            if (settings.Output is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, report, cancellationToken);
            }

            return results.All(r => r.Errors.Count == 0) ? 0 : 2;
        }
        finally
        {
            if (host is not null)
            {
                await host.StopAsync(CancellationToken.None);
                await host.DisposeAsync();
            }
        }
    }

    private static async Task<ServerInfo> DescribeAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var model = JsonDocument.Parse(await client.GetStringAsync("/model", cancellationToken));
        using var stats = JsonDocument.Parse(await client.GetStringAsync("/stats", cancellationToken));
        var root = model.RootElement;
        string? description = root.GetProperty("metadata").TryGetProperty("description", out var d) ? d.GetString() : null;
        return new ServerInfo(
            root.GetProperty("inputSize").GetInt32(), root.GetProperty("outputSize").GetInt32(), root.GetProperty("tokenInput").GetBoolean(),
            description, stats.RootElement.GetProperty("vectorPath").GetString() ?? "?");
    }

    private static async Task<(long Steps, long Batches)> CountersAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var stats = JsonDocument.Parse(await client.GetStringAsync("/stats", cancellationToken));
        return (stats.RootElement.GetProperty("stepsRun").GetInt64(), stats.RootElement.GetProperty("batchesRun").GetInt64());
    }

    // N streams at once; each opens, posts up to M steps one after the other while the run's time lasts, and closes.
    private static async Task<Measurement> StepsAsync(HttpClient client, LoadSettings settings, TimeSpan duration, int inputSize, bool tokens, CancellationToken cancellationToken)
    {
        var before = await CountersAsync(client, cancellationToken);
        var errors = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var latencies = new List<long>[settings.Streams];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Streams).Select(index => Task.Run(() => StreamAsync(index), cancellationToken)));
        var elapsed = clock.Elapsed;
        var after = await CountersAsync(client, cancellationToken);
        long batches = after.Batches - before.Batches;
        return Finish("POST /streams/{id}/steps", settings, errors, latencies, elapsed, batches > 0 ? (double)(after.Steps - before.Steps) / batches : null);

        async Task StreamAsync(int index)
        {
            var mine = latencies[index] = new List<long>(settings.Steps);
            var random = new SeededRandom(settings.Seed * 1_000_003 + (ulong)index);
            long id;
            using (var opened = await SendAsync(HttpMethod.Post, "/streams", null))
            {
                if (opened?.StatusCode != HttpStatusCode.Created)
                {
                    Count("open", opened);
                    return;
                }

                using var json = JsonDocument.Parse(await opened.Content.ReadAsByteArrayAsync(cancellationToken));
                id = json.RootElement.GetProperty("id").GetInt64();
            }

            string path = $"/streams/{id}/steps";
            var body = new ArrayBufferWriter<byte>(16 * inputSize + 32);
            using var writer = new Utf8JsonWriter(body);
            int taken = 0;
            for (int t = 0; t < settings.Steps && clock.Elapsed < duration; t++)
            {
                body.ResetWrittenCount();
                writer.Reset(body);
                writer.WriteStartObject();
                if (tokens)
                {
                    writer.WriteNumber("token", random.NextInt(inputSize));
                }
                else
                {
                    writer.WriteStartArray("input");
                    for (int i = 0; i < inputSize; i++)
                    {
                        writer.WriteNumberValue((float)(random.NextDouble() * 2 - 1));
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
                writer.Flush();
                using var content = new ByteArrayContent(body.WrittenSpan.ToArray());
                content.Headers.ContentType = Json;
                long start = Stopwatch.GetTimestamp();
                using var response = await SendAsync(HttpMethod.Post, path, content);
                if (response is null)
                {
                    continue;
                }

                byte[] answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                long end = Stopwatch.GetTimestamp();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Count("step", response);
                    if (response.StatusCode == HttpStatusCode.NotFound)
                    {
                        return;
                    }

                    continue;
                }

                using var json = JsonDocument.Parse(answer);
                if (json.RootElement.GetProperty("step").GetInt32() != ++taken)
                {
                    errors.AddOrUpdate("step: wrong step count", 1, (_, n) => n + 1);
                }

                mine.Add(end - start);
            }

            using var closed = await SendAsync(HttpMethod.Delete, $"/streams/{id}", null);
            if (closed?.StatusCode != HttpStatusCode.NoContent)
            {
                Count("close", closed);
            }
        }

        async Task<HttpResponseMessage?> SendAsync(HttpMethod method, string path, HttpContent? content)
        {
            try
            {
                using var request = new HttpRequestMessage(method, path) { Content = content };
                return await client.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                errors.AddOrUpdate($"{method} {e.HttpRequestError}", 1, (_, n) => n + 1);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                errors.AddOrUpdate($"{method} timeout", 1, (_, n) => n + 1);
            }

            return null;
        }

        void Count(string what, HttpResponseMessage? response)
        {
            if (response is not null)
            {
                errors.AddOrUpdate($"{what}: {(int)response.StatusCode}", 1, (_, n) => n + 1);
            }
        }
    }

    // N clients at once, each with up to M GET /health one after the other: the cost of Kestrel and HTTP alone.
    private static async Task<Measurement> EmptyAsync(HttpClient client, LoadSettings settings, TimeSpan duration, CancellationToken cancellationToken)
    {
        var errors = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var latencies = new List<long>[settings.Streams];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Streams).Select(index => Task.Run(
            async () =>
            {
                var mine = latencies[index] = new List<long>(settings.Steps);
                for (int t = 0; t < settings.Steps && clock.Elapsed < duration; t++)
                {
                    long start = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await client.GetAsync("/health", cancellationToken);
                        await response.Content.ReadAsByteArrayAsync(cancellationToken);
                        long end = Stopwatch.GetTimestamp();
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            mine.Add(end - start);
                        }
                        else
                        {
                            errors.AddOrUpdate($"health: {(int)response.StatusCode}", 1, (_, n) => n + 1);
                        }
                    }
                    catch (HttpRequestException e)
                    {
                        errors.AddOrUpdate($"GET {e.HttpRequestError}", 1, (_, n) => n + 1);
                    }
                    catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        errors.AddOrUpdate("GET timeout", 1, (_, n) => n + 1);
                    }
                }
            },
            cancellationToken)));
        return Finish("GET /health (empty)", settings, errors, latencies, clock.Elapsed, null);
    }

    private static Measurement Finish(string endpoint, LoadSettings settings, ConcurrentDictionary<string, int> errors, List<long>[] latencies, TimeSpan elapsed, double? meanBatch)
    {
        long[] all = [.. latencies.Where(l => l is not null).SelectMany(l => l)];
        Array.Sort(all);
        return new Measurement(endpoint, settings.Streams, settings.Steps, all.Length, new SortedDictionary<string, int>(errors, StringComparer.Ordinal), elapsed, all, meanBatch);
    }

    private static string Describe(ServerInfo server, int inputSize)
        => $"{(server.TokenInput ? $"tokens of a vocabulary of {inputSize}" : $"{inputSize} features")} -> {server.OutputSize} outputs"
            + (server.Description is { } d ? $" ({d})" : "");

    private static string Report(LoadSettings settings, Uri address, ServerInfo server, int inputSize, string load, List<Measurement> results)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.AppendLine(invariant, $"`{settings.CommandLine}`");
        text.AppendLine();
        text.AppendLine(invariant, $"- date: {DateTimeOffset.Now:yyyy-MM-dd HH:mm zzz}; CPU: {CpuName()}, {Environment.ProcessorCount} cores; .NET {Environment.Version}; server's vector path: {server.VectorPath}; load average before the run: {load}");
        text.AppendLine(invariant, $"- server: {address} ({(settings.SelfHost ? "in this process" : "another process")}); model: {Describe(server, inputSize)}");
        text.AppendLine(invariant, $"- {settings.Streams} clients at once, each with up to {settings.Steps} requests in a closed loop (the next after the answer), at most {settings.Duration.TotalSeconds:0.#} s after a {settings.Warmup.TotalSeconds:0.#} s warm-up; latency of the successful requests, request to answer read");
        text.AppendLine();
        text.AppendLine("| endpoint | clients | ok (stream-steps, requests) | errors | time (s) | requests/s | p50 (ms) | p99 (ms) | max (ms) | mean batch |");
        text.AppendLine("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            string errors = r.Errors.Count == 0 ? "0" : string.Join(", ", r.Errors.Select(e => $"{e.Key} x{e.Value}"));
            text.AppendLine(invariant, $"| {r.Endpoint} | {r.Clients:N0} | {r.Ok:N0} | {errors} | {r.Elapsed.TotalSeconds:0.0} | {r.PerSecond:N0} | {r.Percentile(0.50):0.00} | {r.Percentile(0.99):0.00} | {r.Max:0.00} | {(r.MeanBatch is { } m ? m.ToString("0.0", invariant) : "")} |");
        }

        return text.ToString();
    }

    private static string CpuName()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
