using System.Collections.Concurrent;
using RecurrentNets.Serving;

namespace StreamServerSample;

/// <summary>The open streams by id, as the HTTP endpoints see them, with the time of each one's last step.</summary>
public sealed class StreamRegistry(StreamBatcher<float> batcher, StreamServerOptions options)
{
    private readonly ConcurrentDictionary<long, Entry> streams = new();

    /// <summary>The streams open now.</summary>
    public int Count => streams.Count;

    /// <summary>Opens a stream, or returns null when <see cref="StreamServerOptions.MaxStreams"/> are open.</summary>
    /// <exception cref="ObjectDisposedException">The batcher is shut down.</exception>
    public Entry? Open()
    {
        if (streams.Count >= options.MaxStreams)
        {
            return null;
        }

        var entry = new Entry(batcher.OpenStream());
        streams[entry.Stream.Id] = entry;
        return entry;
    }

    /// <summary>Finds an open stream.</summary>
    public bool TryGet(long id, out Entry entry) => streams.TryGetValue(id, out entry!);

    /// <summary>Closes a stream; false when no stream has this id.</summary>
    public bool Close(long id)
    {
        if (!streams.TryRemove(id, out var entry))
        {
            return false;
        }

        entry.Stream.Dispose();
        return true;
    }

    /// <summary>Closes every stream idle for longer than <see cref="StreamServerOptions.IdleTimeout"/>; returns how many.</summary>
    public int CloseIdle()
    {
        long now = Environment.TickCount64, limit = (long)options.IdleTimeout.TotalMilliseconds;
        int closed = 0;
        foreach (var pair in streams)
        {
            var entry = pair.Value;
            if (Volatile.Read(ref entry.Busy) == 0 && now - Volatile.Read(ref entry.LastUsed) > limit && streams.TryRemove(pair))
            {
                // A step that found the entry just before it went fails with "closed" (404), as if it came just after.
                entry.Stream.Dispose();
                closed++;
            }
        }

        return closed;
    }

    /// <summary>One open stream.</summary>
    public sealed class Entry(BatchedStream<float> stream)
    {
        /// <summary>1 while a step of this stream is in flight (one at a time: a second one gets 409).</summary>
        internal int Busy;

        /// <summary><see cref="Environment.TickCount64"/> at the last step (or the opening).</summary>
        internal long LastUsed = Environment.TickCount64;

        /// <summary>The batcher's stream.</summary>
        public BatchedStream<float> Stream { get; } = stream;
    }
}

/// <summary>Closes idle streams every <see cref="StreamServerOptions.SweepInterval"/> (see <see cref="StreamServerOptions.IdleTimeout"/>).</summary>
internal sealed class IdleStreamSweeper(StreamRegistry registry, StreamServerOptions options, ILogger<IdleStreamSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.IdleTimeout == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.SweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                int closed = registry.CloseIdle();
                if (closed > 0)
                {
                    logger.LogInformation("Closed {Count} streams idle for more than {Timeout}.", closed, options.IdleTimeout);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>Registers a <see cref="StreamBatcher{T}"/> as a singleton (disposed, so drained, when the host stops).</summary>
public static class StreamBatcherServiceCollectionExtensions
{
    /// <summary>Registers <paramref name="model"/> and a batcher serving it.</summary>
    /// <param name="services">The services.</param>
    /// <param name="model">The model to serve.</param>
    /// <param name="options">The batcher's options, or null for the defaults.</param>
    public static IServiceCollection AddStreamBatcher<T>(this IServiceCollection services, RecurrentNets.Models.FrozenModel<T> model, StreamBatcherOptions? options = null)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        services.AddSingleton(model);
        services.AddSingleton(_ => new StreamBatcher<T>(model, options));
        return services;
    }
}
