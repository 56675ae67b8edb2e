using RecurrentNets.Serving;

namespace StreamServerSample;

/// <summary>The options of the HTTP stream server (the command line of <c>Program.cs</c> fills them).</summary>
public sealed record StreamServerOptions
{
    /// <summary>The loopback port Kestrel listens on (127.0.0.1); 0 takes a free one (read it with <see cref="StreamServerApp.Address"/>).</summary>
    public int Port { get; init; } = 5000;

    /// <summary>
    /// A stream that has taken no step for longer than this is closed, and its id answers 404 from then on. A sweep runs
    /// every half timeout (between 50 ms and 30 s), so a stream goes after one to one and a half timeouts of silence;
    /// a stream with a step in flight is never closed. <see cref="Timeout.InfiniteTimeSpan"/> keeps streams until DELETE.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The most streams open at once; <c>POST /streams</c> answers 503 beyond it.</summary>
    public int MaxStreams { get; init; } = 100_000;

    /// <summary>The seconds a 503 asks the client to wait (Retry-After).</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>The batcher's options. A service refuses a step when the queue is full (503) rather than queueing it
    /// without bound, so <see cref="QueueFullMode.Fail"/> is the default here.</summary>
    public StreamBatcherOptions Batcher { get; init; } = new() { QueueFullMode = QueueFullMode.Fail };

    /// <summary>Whether to log to the console (startup, shutdown, idle streams closed); tests turn it off.</summary>
    public bool Log { get; init; } = true;

    internal TimeSpan SweepInterval
    {
        get
        {
            var half = IdleTimeout / 2;
            return half < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50)
                : half > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : half;
        }
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        if (IdleTimeout <= TimeSpan.Zero && IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "IdleTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStreams, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(RetryAfterSeconds);
        ArgumentNullException.ThrowIfNull(Batcher);
    }
}
