using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2;

/// <summary>
/// The whole R2N2 loop (Cheng and Brown 2025): store an episode one-shot in the cache, then for each replay event replay
/// it forward through the consolidator and run the cache, the consolidator and the error network in reverse together,
/// updating the weights. The caller chooses the replays per episode; with no cache the stored sequence is indexed
/// directly (what the authors' experiments do).
/// </summary>
public sealed class R2N2Learner : ISequenceLearner
{
    private readonly SequenceReplay direct;
    private readonly CacheReplay? cached;

    /// <summary>Creates the learner.</summary>
    /// <param name="options">The consolidator's options (n_x = n_y = the item size).</param>
    /// <param name="cacheSize">N of the Hopfield cache, or 0 to replay the stored sequence directly.</param>
    /// <param name="pump">The cache's pump.</param>
    /// <param name="name">The display name (default "R2N2").</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (ParamName names it), or
    /// <paramref name="cacheSize"/> is negative or too small for a cache.</exception>
    public R2N2Learner(R2N2Options options, int cacheSize = 0, CachePumpMode pump = CachePumpMode.SelfTimed, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheSize);
        Consolidator = new R2N2Consolidator(options);
        direct = new SequenceReplay(new Tensor<double>(2, options.InputSize));
        if (cacheSize > 0)
        {
            cached = new CacheReplay(new HopfieldSequenceCache(cacheSize, pump), options.InputSize, new SeededRandom(options.Seed ^ 0x5DEECE66DUL));
        }

        Name = name ?? (options.Feedback == FeedbackMode.FeedbackAlignment ? "R2N2-FA" : "R2N2-exact");
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The consolidator (with its error network).</summary>
    public R2N2Consolidator Consolidator { get; }

    /// <summary>The cache replay, or null when replaying directly.</summary>
    public CacheReplay? Cache => cached;

    /// <summary>Replay events (forward + reverse sweep, one update each) per stored episode. Default 1.</summary>
    public int ReplaysPerEpisode { get; set; } = 1;

    /// <summary>Stores <paramref name="sequence"/> [L, n_x] and replays it <see cref="ReplaysPerEpisode"/> times.</summary>
    /// <returns>The result of the first replay (its predictions were made before any update from this episode).</returns>
    public EpisodeResult TrainSequence(Tensor<double> sequence) => TrainSequence(sequence, ReplaysPerEpisode);

    /// <summary>Cache recall failures met so far; each time the episode was stored again with fresh keys.</summary>
    public int CacheRecallFailures { get; private set; }

    /// <summary>Stores <paramref name="sequence"/> [L, n_x] and replays it <paramref name="replays"/> times.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replays"/> is below 1.</exception>
    /// <exception cref="CacheRecallException">The cache failed three storages in a row.</exception>
    public EpisodeResult TrainSequence(Tensor<double> sequence, int replays)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replays, 1);
        if (cached is null)
        {
            direct.Reset(sequence);
            return Replay(direct, replays);
        }

        for (int attempt = 1; ; attempt++)
        {
            cached.Store(sequence);
            try
            {
                // A failed recall throws before any weight changes: store again with fresh keys.
                return Replay(cached, replays);
            }
            catch (CacheRecallException) when (attempt < 3)
            {
                CacheRecallFailures++;
            }
        }
    }

    private EpisodeResult Replay(IReplaySource source, int replays)
    {
        var first = Consolidator.TrainEpisode(source);
        for (int r = 1; r < replays; r++)
        {
            Consolidator.TrainEpisode(source);
        }

        return first;
    }
}
