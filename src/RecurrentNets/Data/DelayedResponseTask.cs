using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Data;

/// <summary>
/// The delayed-response working-memory task (the WHERE task of the delayed-response paradigm; Funahashi, Bruce and
/// Goldman-Rakic 1989's oculomotor delayed response): a cue at one of k locations, a delay of variable length with no
/// cue, a GO signal, then the response, whose target is the cued location.
/// </summary>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize, k = <see cref="Locations"/>, d = a trial's delay, R =
/// <see cref="ResponseSteps"/>. Input channels (<see cref="InputSize"/>): 0..k-1 the cue locations, k the GO signal,
/// and, when <see cref="Fixation"/> is set, k+1 a fixation channel that is 1 from the cue to the end of the delay and 0
/// from GO on (the neurogym convention, where the fixation point going off is itself the go cue).</para>
/// <para>One trial, time-major, length d + 2 + R (<see cref="TrialLength"/>):</para>
/// <code>
/// t = 0                 cue:      x[location] = 1                  (one frame)
/// t = 1 .. d            delay:    no cue (zero, or fixation only)  (d drawn uniformly from [MinimumDelay, MaximumDelay])
/// t = d + 1             GO:       x[k] = 1
/// t = d + 2 .. d + 1+R  response: zero input; target = location
/// </code>
/// <para>Targets are class indices, one per (t, b), at the response steps only and -1 everywhere else (ignored by
/// <see cref="Losses.CrossEntropyLoss"/>, so the loss is masked outside the response). Trials of one batch differ in
/// length; each is written from step 0 and the steps after its end are zero input with target -1. A causal network's
/// outputs within a trial do not depend on that padding, so the batch can be run padded as it is, or with
/// <c>sequenceLengths</c> = the lengths this generator returns. With <see cref="InputNoise"/> σ &gt; 0, N(0, σ²) is added
/// to every channel of every step of a trial (not to the padding).</para>
/// <para>The same seed gives the same batch, bit for bit; nothing is allocated.</para>
/// </remarks>
public sealed class DelayedResponseTask
{
    /// <summary>Defines the task.</summary>
    /// <param name="locations">k, the cue locations (the classes of the response), at least 2.</param>
    /// <param name="minimumDelay">The shortest delay in steps, at least 0.</param>
    /// <param name="maximumDelay">The longest delay in steps, at least <paramref name="minimumDelay"/>.</param>
    /// <param name="responseSteps">R, the response steps after GO that carry the target, at least 1.</param>
    /// <param name="inputNoise">σ of the Gaussian noise added to every input of a trial, 0 for none.</param>
    /// <param name="fixation">Add a fixation channel (1 during cue and delay).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="inputNoise"/> is negative
    /// or not finite.</exception>
    public DelayedResponseTask(int locations, int minimumDelay, int maximumDelay, int responseSteps = 1, double inputNoise = 0,
        bool fixation = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(locations, 2);
        ArgumentOutOfRangeException.ThrowIfNegative(minimumDelay);
        if (maximumDelay < minimumDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(maximumDelay), maximumDelay,
                $"maximumDelay {maximumDelay} is below minimumDelay {minimumDelay}.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(responseSteps, 1);
        if (!(inputNoise >= 0 && double.IsFinite(inputNoise)))
        {
            throw new ArgumentOutOfRangeException(nameof(inputNoise), inputNoise, "inputNoise must be a finite standard deviation ≥ 0.");
        }

        Locations = locations;
        MinimumDelay = minimumDelay;
        MaximumDelay = maximumDelay;
        ResponseSteps = responseSteps;
        InputNoise = inputNoise;
        Fixation = fixation;
    }

    /// <summary>k, the cue locations and response classes.</summary>
    public int Locations { get; }

    /// <summary>The shortest delay in steps.</summary>
    public int MinimumDelay { get; }

    /// <summary>The longest delay in steps.</summary>
    public int MaximumDelay { get; }

    /// <summary>R, the response steps after GO.</summary>
    public int ResponseSteps { get; }

    /// <summary>σ of the input noise.</summary>
    public double InputNoise { get; }

    /// <summary>Whether the input has a fixation channel.</summary>
    public bool Fixation { get; }

    /// <summary>The input width: k cue channels, GO, and the fixation channel if any.</summary>
    public int InputSize => Locations + 1 + (Fixation ? 1 : 0);

    /// <summary>The index of the GO channel (k).</summary>
    public int GoChannel => Locations;

    /// <summary>The index of the fixation channel (k + 1), or -1 without one.</summary>
    public int FixationChannel => Fixation ? Locations + 1 : -1;

    /// <summary>The time steps a batch needs: the length of a trial with the longest delay.</summary>
    public int MaximumLength => TrialLength(MaximumDelay);

    /// <summary>The length of a trial with delay <paramref name="delay"/>: cue, d delay steps, GO, R response steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public int TrialLength(int delay)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delay);
        return delay + 2 + ResponseSteps;
    }

    /// <summary>The step of the GO signal in a trial with delay <paramref name="delay"/> (d + 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public static int GoStep(int delay)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delay);
        return delay + 1;
    }

    /// <summary>The first response step in a trial with delay <paramref name="delay"/> (d + 2).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public static int FirstResponseStep(int delay)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delay);
        return delay + 2;
    }

    /// <summary>Fills a batch of trials.</summary>
    /// <param name="random">The source of locations, delays and noise.</param>
    /// <param name="input">Receives the trials, [timeSteps ≥ <see cref="MaximumLength"/>, batchSize, <see cref="InputSize"/>],
    /// zero past each trial's end.</param>
    /// <param name="targets">Receives the class target of every step, [timeSteps · batchSize] (row t·B + b): the cued
    /// location at the response steps, -1 elsewhere.</param>
    /// <param name="cues">Receives each trial's cued location in [0, k), [batchSize].</param>
    /// <param name="delays">Receives each trial's delay in [<see cref="MinimumDelay"/>, <see cref="MaximumDelay"/>], [batchSize].</param>
    /// <param name="lengths">Receives each trial's length (<see cref="TrialLength"/>), [batchSize]; usable as the
    /// recurrent layer's <c>sequenceLengths</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="random"/> or <paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentException">A shape disagrees; the message names the argument and both shapes. Nothing is
    /// written before all checks pass.</exception>
    public void Generate<T>(SeededRandom random, Tensor<T> input, Span<int> targets, Span<int> cues, Span<int> delays, Span<int> lengths)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(2) != InputSize || input.Size(0) < MaximumLength)
        {
            throw new ArgumentException(
                $"input has shape {Tensor<T>.FormatShape(input.Shape)} but [timeSteps ≥ {MaximumLength}, batchSize, {InputSize}] is expected "
                + $"(maximumDelay {MaximumDelay} + 2 + responseSteps {ResponseSteps} steps; {Locations} locations + GO{(Fixation ? " + fixation" : "")} channels).",
                nameof(input));
        }

        int steps = input.Size(0), batch = input.Size(1), width = InputSize;
        if (targets.Length != steps * batch)
        {
            throw new ArgumentException(
                $"targets has {targets.Length} elements but input {Tensor<T>.FormatShape(input.Shape)} needs [timeSteps·batchSize] = {steps * batch}.",
                nameof(targets));
        }

        RequireBatch(cues.Length, batch, input, nameof(cues));
        RequireBatch(delays.Length, batch, input, nameof(delays));
        RequireBatch(lengths.Length, batch, input, nameof(lengths));

        input.Clear();
        targets.Fill(-1);
        Span<T> x = input.AsSpan();
        int delayRange = MaximumDelay - MinimumDelay + 1;
        for (int b = 0; b < batch; b++)
        {
            int cue = random.NextInt(Locations);
            int delay = MinimumDelay + random.NextInt(delayRange);
            int length = TrialLength(delay), go = GoStep(delay);
            cues[b] = cue;
            delays[b] = delay;
            lengths[b] = length;

            x[b * width + cue] = T.One;
            x[(go * batch + b) * width + GoChannel] = T.One;
            if (Fixation)
            {
                for (int t = 0; t < go; t++)
                {
                    x[(t * batch + b) * width + FixationChannel] = T.One;
                }
            }

            for (int t = FirstResponseStep(delay); t < length; t++)
            {
                targets[t * batch + b] = cue;
            }

            if (InputNoise > 0)
            {
                for (int t = 0; t < length; t++)
                {
                    Span<T> row = x.Slice((t * batch + b) * width, width);
                    for (int i = 0; i < width; i++)
                    {
                        row[i] += T.CreateTruncating(InputNoise * random.NextNormal());
                    }
                }
            }
        }
    }

    private static void RequireBatch<T>(int length, int batch, Tensor<T> input, string name)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (length != batch)
        {
            throw new ArgumentException(
                $"{name} has {length} elements but input {Tensor<T>.FormatShape(input.Shape)} has batchSize {batch}.", name);
        }
    }
}
