using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Learning;

/// <summary>The delayed-response generator: layout of a trial, the delay range, masking, determinism, bad input.</summary>
public class DelayedResponseTaskTests
{
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 3)]
    public void EveryTrialIsCueDelayGoResponseWithTheTargetAtTheCue(bool fixation, int responseSteps)
    {
        var task = new DelayedResponseTask(locations: 6, minimumDelay: 3, maximumDelay: 11, responseSteps, fixation: fixation);
        const int batch = 400;
        int steps = task.MaximumLength + 2; // longer than needed: the extra steps are padding too
        Assert.Equal(11 + 2 + responseSteps, task.MaximumLength);
        Assert.Equal(fixation ? 8 : 7, task.InputSize);
        var input = new Tensor<double>(steps, batch, task.InputSize);
        input.AsSpan().Fill(9); // the generator must overwrite everything
        var targets = new int[steps * batch];
        int[] cues = new int[batch], delays = new int[batch], lengths = new int[batch];
        task.Generate(new SeededRandom(5), input, targets, cues, delays, lengths);

        var seenDelays = new HashSet<int>();
        var seenCues = new HashSet<int>();
        for (int b = 0; b < batch; b++)
        {
            int delay = delays[b], cue = cues[b];
            Assert.InRange(delay, 3, 11);
            Assert.InRange(cue, 0, 5);
            Assert.Equal(delay + 2 + responseSteps, lengths[b]);
            Assert.Equal(lengths[b], task.TrialLength(delay));
            seenDelays.Add(delay);
            seenCues.Add(cue);
            for (int t = 0; t < steps; t++)
            {
                for (int i = 0; i < task.InputSize; i++)
                {
                    double expected =
                        t == 0 && i == cue ? 1
                        : t == DelayedResponseTask.GoStep(delay) && i == task.GoChannel ? 1
                        : fixation && i == task.FixationChannel && t <= delay ? 1
                        : 0;
                    Assert.True(expected == input[t, b, i], $"trial {b} (cue {cue}, delay {delay}) step {t} channel {i}: {input[t, b, i]}, expected {expected}");
                }

                bool response = t >= DelayedResponseTask.FirstResponseStep(delay) && t < lengths[b];
                Assert.Equal(response ? cue : -1, targets[t * batch + b]);
            }
        }

        // Every delay of the range and every location occurs (9 delays, 6 locations, 400 trials).
        Assert.Equal(9, seenDelays.Count);
        Assert.Equal(6, seenCues.Count);
    }

    [Fact]
    public void SameSeedSameBatchAndNoiseIsAddedOnlyInsideTrials()
    {
        var task = new DelayedResponseTask(locations: 4, minimumDelay: 0, maximumDelay: 5, inputNoise: 0.1);
        const int batch = 64;
        int steps = task.MaximumLength;
        (Tensor<float> Input, int[] Targets, int[] Cues, int[] Delays, int[] Lengths) Draw(ulong seed)
        {
            var input = new Tensor<float>(steps, batch, task.InputSize);
            var targets = new int[steps * batch];
            int[] cues = new int[batch], delays = new int[batch], lengths = new int[batch];
            task.Generate(new SeededRandom(seed), input, targets, cues, delays, lengths);
            return (input, targets, cues, delays, lengths);
        }

        var first = Draw(7);
        var again = Draw(7);
        var other = Draw(8);
        Assert.Equal(first.Input.Data, again.Input.Data);
        Assert.Equal(first.Targets, again.Targets);
        Assert.Equal(first.Cues, again.Cues);
        Assert.Equal(first.Delays, again.Delays);
        Assert.NotEqual(first.Input.Data, other.Input.Data);

        // Inside a trial every channel is noisy (σ = 0.1 around 0 or 1); past its end the input is exactly zero.
        double sumSquares = 0;
        int count = 0;
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                for (int i = 0; i < task.InputSize; i++)
                {
                    float value = first.Input[t, b, i];
                    if (t >= first.Lengths[b])
                    {
                        Assert.Equal(0f, value);
                        continue;
                    }

                    bool on = (t == 0 && i == first.Cues[b]) || (t == first.Delays[b] + 1 && i == task.GoChannel);
                    double noise = value - (on ? 1 : 0);
                    Assert.InRange(noise, -0.7, 0.7);
                    sumSquares += noise * noise;
                    count++;
                }
            }
        }

        Assert.InRange(Math.Sqrt(sumSquares / count), 0.09, 0.11);
    }

    [Fact]
    public void BadArgumentsAreRefusedWithTheShapesInTheMessage()
    {
        Assert.Throws<ArgumentOutOfRangeException>("locations", () => new DelayedResponseTask(1, 0, 5));
        Assert.Throws<ArgumentOutOfRangeException>("minimumDelay", () => new DelayedResponseTask(4, -1, 5));
        var range = Assert.Throws<ArgumentOutOfRangeException>("maximumDelay", () => new DelayedResponseTask(4, 6, 5));
        Assert.Contains("below minimumDelay 6", range.Message);
        Assert.Throws<ArgumentOutOfRangeException>("responseSteps", () => new DelayedResponseTask(4, 0, 5, responseSteps: 0));
        Assert.Throws<ArgumentOutOfRangeException>("inputNoise", () => new DelayedResponseTask(4, 0, 5, inputNoise: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>("inputNoise", () => new DelayedResponseTask(4, 0, 5, inputNoise: double.NaN));

        var task = new DelayedResponseTask(locations: 4, minimumDelay: 2, maximumDelay: 8);
        Assert.Equal(11, task.MaximumLength);
        var random = new SeededRandom(1);
        int[] targets = new int[11 * 3], cues = new int[3], delays = new int[3], lengths = new int[3];

        var tooShort = Assert.Throws<ArgumentException>("input",
            () => task.Generate(random, new Tensor<float>(10, 3, 5), targets, cues, delays, lengths));
        Assert.Contains("[10, 3, 5]", tooShort.Message);
        Assert.Contains("[timeSteps ≥ 11, batchSize, 5]", tooShort.Message);
        var wrongWidth = Assert.Throws<ArgumentException>("input",
            () => task.Generate(random, new Tensor<float>(11, 3, 6), targets, cues, delays, lengths));
        Assert.Contains("[11, 3, 6]", wrongWidth.Message);

        var input = new Tensor<float>(11, 3, 5);
        var badTargets = Assert.Throws<ArgumentException>("targets",
            () => task.Generate(random, input, new int[32], cues, delays, lengths));
        Assert.Contains("32", badTargets.Message);
        Assert.Contains("33", badTargets.Message);
        Assert.Throws<ArgumentException>("cues", () => task.Generate(random, input, targets, new int[2], delays, lengths));
        Assert.Throws<ArgumentException>("delays", () => task.Generate(random, input, targets, cues, new int[4], lengths));
        Assert.Throws<ArgumentException>("lengths", () => task.Generate(random, input, targets, cues, delays, []));
        Assert.Throws<ArgumentNullException>("random", () => task.Generate(null!, input, targets, cues, delays, lengths));
        Assert.Throws<ArgumentOutOfRangeException>("delay", () => task.TrialLength(-1));
        Assert.Throws<ArgumentOutOfRangeException>("delay", () => DelayedResponseTask.GoStep(-1));
        Assert.Throws<ArgumentOutOfRangeException>("delay", () => DelayedResponseTask.FirstResponseStep(-1));

        // A refused call writes nothing.
        input.AsSpan().Fill(3);
        Assert.Throws<ArgumentException>("lengths", () => task.Generate(random, input, targets, cues, delays, new int[1]));
        Assert.All(input.Data, v => Assert.Equal(3f, v));
    }
}
