using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Data;

/// <summary>
/// A temporal pattern whose two parts lie exactly L frames apart: a cue bit, L - 1 frames of distractor bits, then a
/// probe bit; the target at the probe frame is whether the probe matches the cue (the XOR of the two bits, negated).
/// A model that cannot see frame t - L scores 50 %, whatever else it sees.
/// </summary>
/// <remarks>
/// <para>Three input channels per frame: 0 = cue marker, 1 = probe marker, 2 = a bit as ±1. At a cue frame the cue
/// marker is 1 and channel 2 holds the cue bit; at the probe frame L frames later the probe marker is 1 and channel 2
/// holds the probe bit; at every other frame both markers are 0 and channel 2 is a random distractor bit. Episodes
/// (cue .. probe, L + 1 frames) follow one another with a gap of 0 .. maxGap frames drawn uniformly (the first starts
/// after such a gap), so episodes never overlap, and fill the sequence as long as a whole episode fits.</para>
/// <para>Targets, one per frame and sequence (row t·B + b): 1 (match) or 0 (mismatch) at probe frames, -1 (ignored by
/// <see cref="Losses.CrossEntropyLoss"/>) elsewhere. Cue and probe bits are independent and uniform, so the classes are
/// balanced and the probe alone carries no information: the label is a function of x(t) and x(t - L) only.</para>
/// <para>A time-delay network solves it when its receptive field covers L + 1 frames and stays at chance otherwise; a
/// recurrent network must learn to hold the cue across the L - 1 distractors.</para>
/// </remarks>
public static class LaggedMatch
{
    /// <summary>The input width (3 channels).</summary>
    public const int InputSize = 3;

    /// <summary>The number of classes (mismatch = 0, match = 1).</summary>
    public const int ClassCount = 2;

    /// <summary>Fills a batch of sequences.</summary>
    /// <param name="random">The source of gaps and bits.</param>
    /// <param name="input">Receives the sequences, [timeSteps, batchSize, 3].</param>
    /// <param name="targets">Receives the per-frame targets, [timeSteps·batchSize]: 1, 0 or -1 (no target).</param>
    /// <param name="lag">L ≥ 1, the frames from cue to probe.</param>
    /// <param name="maxGap">The largest gap between two episodes (≥ 0).</param>
    /// <returns>The number of probe frames (targets that are not -1).</returns>
    /// <exception cref="ArgumentException">The shapes disagree, or a sequence cannot hold one episode after the
    /// largest gap (timeSteps &lt; maxGap + lag + 1).</exception>
    /// <exception cref="ArgumentOutOfRangeException">lag &lt; 1 or maxGap &lt; 0.</exception>
    public static int Generate<T>(SeededRandom random, Tensor<T> input, Span<int> targets, int lag, int maxGap = 4)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(lag, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxGap);
        if (input.Rank != 3 || input.Size(2) != InputSize)
        {
            throw new ArgumentException($"input has shape {Tensor<T>.FormatShape(input.Shape)} but [timeSteps, batchSize, {InputSize}] is expected.", nameof(input));
        }

        int steps = input.Size(0), batch = input.Size(1);
        if (targets.Length != steps * batch)
        {
            throw new ArgumentException($"targets has {targets.Length} elements but [timeSteps·batchSize] = {steps * batch} are needed.", nameof(targets));
        }

        if (steps < maxGap + lag + 1)
        {
            throw new ArgumentException($"input has {steps} time steps but an episode with lag {lag} after a gap of up to {maxGap} needs {maxGap + lag + 1}.", nameof(input));
        }

        Span<T> x = input.AsSpan();
        targets.Fill(-1);
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                int row = (t * batch + b) * InputSize;
                x[row] = T.Zero;
                x[row + 1] = T.Zero;
                x[row + 2] = Bit<T>(random);
            }
        }

        int probes = 0;
        for (int b = 0; b < batch; b++)
        {
            int cue = random.NextInt(maxGap + 1);
            while (cue + lag < steps)
            {
                int probe = cue + lag;
                int cueRow = (cue * batch + b) * InputSize, probeRow = (probe * batch + b) * InputSize;
                x[cueRow] = T.One;
                x[probeRow + 1] = T.One;

                // The distractor bits drawn above serve as the cue and probe bits: independent and uniform.
                targets[probe * batch + b] = x[cueRow + 2] == x[probeRow + 2] ? 1 : 0;
                probes++;
                cue = probe + 1 + random.NextInt(maxGap + 1);
            }
        }

        return probes;
    }

    private static T Bit<T>(SeededRandom random)
        where T : unmanaged, IFloatingPointIeee754<T>
        => (random.NextUInt64() >> 63) == 0 ? -T.One : T.One;
}
