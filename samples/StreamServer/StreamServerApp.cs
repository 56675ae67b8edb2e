using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using RecurrentNets.Models;
using RecurrentNets.Serving;

namespace StreamServerSample;

/// <summary>Builds the HTTP stream server: Kestrel on 127.0.0.1, a <see cref="StreamBatcher{T}"/>, and the endpoints of
/// <see cref="StreamEndpoints"/>. Tests build it, start it on port 0 and read <see cref="Address"/>.</summary>
public static class StreamServerApp
{
    /// <summary>The demo model's input size.</summary>
    public const int DemoInputSize = 8;

    /// <summary>Builds the server (not started: call <c>StartAsync</c> or <c>RunAsync</c>).</summary>
    /// <param name="model">The model to serve, float; it must be able to stream (no bidirectional layer).</param>
    /// <param name="options">The server's options, or null for the defaults.</param>
    /// <exception cref="NotSupportedException">The model cannot run as streams.</exception>
    public static WebApplication Build(FrozenModel<float> model, StreamServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new StreamServerOptions();
        options.Validate();
        model.CreateStream(); // throws NotSupportedException now, not at the first request, for a bidirectional model

        // No args: Kestrel's addresses come from the options only (an --urls here would be a second, silent source).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(StreamServerApp).Assembly.GetName().Name });
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.Port));
        if (options.Log)
        {
            // Hosting logs two lines per request at Information: far too many under load.
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }
        else
        {
            builder.Logging.ClearProviders();
        }

        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, StreamServerJson.Default));
        builder.Services.AddSingleton(options);
        builder.Services.AddStreamBatcher(model, options.Batcher);
        builder.Services.AddSingleton<StreamRegistry>();
        builder.Services.AddHostedService<IdleStreamSweeper>();

        var app = builder.Build();
        app.MapStreamEndpoints();
        return app;
    }

    /// <summary>The address a started server listens on, such as <c>http://127.0.0.1:41234</c> (the real port when 0 was asked).</summary>
    /// <exception cref="InvalidOperationException">The server is not started.</exception>
    public static Uri Address(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        string address = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("The server has no address yet: start it first.");
        return new Uri(address);
    }

    /// <summary>
    /// The model served when none is given: an untrained LSTM (8 features → 64 hidden → 4 outputs, seed 1). Its outputs are
    /// deterministic but mean nothing; it is there so the server and the load generator run out of the box.
    /// </summary>
    public static FrozenModel<float> DemoModel()
    {
        var model = new SequenceModel<float>(DemoInputSize, seed: 1).Add(Layer.Lstm(64)).Add(Layer.Linear(4));
        model.Metadata["description"] = "untrained demo model: LSTM 64, Linear 4, seed 1";
        return model.Freeze();
    }
}
