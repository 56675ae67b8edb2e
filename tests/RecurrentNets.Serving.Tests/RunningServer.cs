using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using RecurrentNets.Models;
using StreamServerSample;

namespace RecurrentNets.Serving.Tests;

/// <summary>The StreamServer sample started in-process on 127.0.0.1, port 0, with a client for it.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private RunningServer(WebApplication app, HttpClient client)
    {
        this.app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public static async Task<RunningServer> StartAsync(FrozenModel<float> model, StreamServerOptions? options = null)
    {
        var app = StreamServerApp.Build(model, (options ?? new StreamServerOptions()) with { Port = 0, Log = false });
        await app.StartAsync();
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1024, UseProxy = false };
        return new RunningServer(app, new HttpClient(handler) { BaseAddress = StreamServerApp.Address(app), Timeout = TimeSpan.FromSeconds(30) });
    }

    public async Task<long> OpenAsync()
    {
        using var response = await Client.PostAsync("/streams", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        long id = json.RootElement.GetProperty("id").GetInt64();
        Assert.Equal($"/streams/{id}", response.Headers.Location?.OriginalString);
        return id;
    }

    /// <summary>Posts a raw body as a step.</summary>
    public Task<HttpResponseMessage> PostStepAsync(long id, string? body)
        => Client.PostAsync($"/streams/{id}/steps", body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"));

    /// <summary>Posts <c>{"input": [...]}</c> and returns y(t) and the step count; fails unless 200.</summary>
    public async Task<(float[] Output, int Step)> StepAsync(long id, float[] input)
    {
        using var response = await PostStepAsync(id, JsonSerializer.Serialize(new { input }));
        return await ReadStepAsync(response);
    }

    public static async Task<(float[] Output, int Step)> ReadStepAsync(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        var output = json.RootElement.GetProperty("output").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        return (output, json.RootElement.GetProperty("step").GetInt32());
    }

    /// <summary>Reads a problem-details answer: checks the status and the media type, returns the detail.</summary>
    public static async Task<string> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
        return json.RootElement.GetProperty("detail").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
