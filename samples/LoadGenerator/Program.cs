using System.CommandLine;
using LoadGeneratorSample;

var url = new Option<Uri?>("--url")
{
    Description = "The server, such as http://127.0.0.1:5000 (not with --self-host).",
    CustomParser = result =>
    {
        string text = result.Tokens.Single().Value;
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            return uri;
        }

        result.AddError($"--url: '{text}' is not an absolute http(s) address.");
        return null;
    },
};
var streams = new Option<int>("--streams") { Description = "Streams at once N: each opens, posts its steps one after the other (the next after the answer), closes.", DefaultValueFactory = _ => 100 };
var steps = new Option<int>("--steps") { Description = "Steps per stream M.", DefaultValueFactory = _ => 200 };
var duration = new Option<double>("--duration") { Description = "Seconds at most per measured run: no step starts after it.", DefaultValueFactory = _ => 30 };
var warmup = new Option<double>("--warmup") { Description = "Seconds of the same load before each measured run, not counted (JIT tiers, connections).", DefaultValueFactory = _ => 2 };
var inputSize = new Option<int?>("--input-size") { Description = "Features per step (default: the server's, from GET /model)." };
var empty = new Option<bool>("--empty") { Description = "Also measure the empty endpoint GET /health with N clients of M requests: Kestrel's own cost." };
var selfHost = new Option<bool>("--self-host") { Description = "Start the StreamServer in this process on a free loopback port (client and server then share the process)." };
var model = new Option<FileInfo?>("--model") { Description = "With --self-host: the model to serve (default: the server's demo model)." };
var seed = new Option<ulong>("--seed") { Description = "Seed of the inputs.", DefaultValueFactory = _ => 1UL };
var output = new Option<FileInfo?>("--out") { Description = "Also write the Markdown report to this file." };
foreach (var option in new[] { streams, steps })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

var root = new RootCommand(
    "Load generator for the StreamServer sample: N streams at once, each posting M steps in a closed loop, bounded in "
    + "count and in time. Reports stream-steps, throughput and p50/p99/max latency, errors by status, and the batcher's "
    + "mean batch, as a Markdown table. Sends to loopback addresses only.")
{
    url, streams, steps, duration, warmup, inputSize, empty, selfHost, model, seed, output,
};
root.SetAction((parse, cancellationToken) => LoadRun.RunAsync(
    new LoadSettings
    {
        Url = parse.GetValue(url), Streams = parse.GetValue(streams), Steps = parse.GetValue(steps),
        Duration = TimeSpan.FromSeconds(parse.GetValue(duration)), Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
        InputSize = parse.GetValue(inputSize), Empty = parse.GetValue(empty), SelfHost = parse.GetValue(selfHost),
        Model = parse.GetValue(model), Seed = parse.GetValue(seed), Output = parse.GetValue(output),
        CommandLine = "LoadGenerator " + string.Join(' ', args),
    },
    cancellationToken));
return await root.Parse(args).InvokeAsync();
