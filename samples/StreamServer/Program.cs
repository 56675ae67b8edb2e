using System.CommandLine;
using RecurrentNets.Models;
using RecurrentNets.Serving;
using StreamServerSample;

var modelPath = new Option<FileInfo?>("--model") { Description = "The model to serve: a safetensors file saved by SequenceModel<float>.Save. Without it, an untrained demo model (8 features, LSTM 64, 4 outputs)." };
var port = new Option<int>("--port") { Description = "The port on 127.0.0.1 (0 takes a free one).", DefaultValueFactory = _ => 5000 };
var idle = new Option<double>("--idle-timeout") { Description = "Seconds without a step after which a stream is closed (0: never).", DefaultValueFactory = _ => 300 };
var maxStreams = new Option<int>("--max-streams") { Description = "The most streams open at once (503 beyond).", DefaultValueFactory = _ => 100_000 };
var maxBatch = new Option<int>("--max-batch") { Description = "The most streams in one batched step.", DefaultValueFactory = _ => 256 };
var maxWait = new Option<double>("--max-wait") { Description = "Microseconds the oldest pending step waits for others to join its batch.", DefaultValueFactory = _ => 0 };
var queue = new Option<int>("--queue-capacity") { Description = "The most steps pending over all streams; beyond it a step gets 503.", DefaultValueFactory = _ => 65_536 };

var root = new RootCommand(
    "Serves a recurrent model over HTTP as streams (POST /streams, POST /streams/{id}/steps, DELETE /streams/{id}, "
    + "GET /model, GET /stats, GET /health): each client sends one step at a time, and the steps of all streams are "
    + "batched into one step of the model. Listens on 127.0.0.1 only. See docs/serving.md.")
{
    modelPath, port, idle, maxStreams, maxBatch, maxWait, queue,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var options = new StreamServerOptions
    {
        Port = parse.GetValue(port),
        IdleTimeout = parse.GetValue(idle) is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan,
        MaxStreams = parse.GetValue(maxStreams),
        Batcher = new StreamBatcherOptions
        {
            MaxBatchSize = parse.GetValue(maxBatch),
            MaxWait = TimeSpan.FromMicroseconds(parse.GetValue(maxWait)),
            QueueCapacity = parse.GetValue(queue),
            QueueFullMode = QueueFullMode.Fail,
        },
    };

    FrozenModel<float> model;
    if (parse.GetValue(modelPath) is { } file)
    {
        model = FrozenModel<float>.Load(file.FullName);
        Console.WriteLine($"Serving {file.FullName}: {Describe(model)}.");
    }
    else
    {
        model = StreamServerApp.DemoModel();
        Console.WriteLine($"No --model given: serving an untrained demo model ({Describe(model)}, seed 1). Its outputs are deterministic but mean nothing; pass --model FILE to serve a trained one.");
    }

    await using var app = StreamServerApp.Build(model, options);
    await app.StartAsync(cancellationToken);
    Console.WriteLine($"Listening on {StreamServerApp.Address(app)} (Ctrl+C stops; pending steps are drained).");
    await app.WaitForShutdownAsync(cancellationToken);
    return 0;
});
return await root.Parse(args).InvokeAsync();

static string Describe(FrozenModel<float> model)
    => $"{(model.TokenInput ? $"tokens of a vocabulary of {model.InputSize}" : $"{model.InputSize} features")} per step, {model.OutputSize} outputs";
