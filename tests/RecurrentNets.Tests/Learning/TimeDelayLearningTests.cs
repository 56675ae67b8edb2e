using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Learning;

/// <summary>
/// A two-layer TDNN on <see cref="LaggedMatch"/>: with a receptive field that covers the lag it learns the match to
/// over 95 % of held-out probes; with the same network and a lag just past its window it stays at chance (50 %),
/// because the cue is invisible to it: the window is real.
/// </summary>
public class TimeDelayLearningTests(ITestOutputHelper output)
{
    // Layers (K, δ) = (4, 1), (3, 2): receptive field 1 + 3 + 4 = 8 frames, so lags up to 7 are visible.
    private static readonly int[] Sizes = [24, 24], Kernels = [4, 3], Dilations = [1, 2];

    [Fact]
    public void TdnnLearnsALagInsideItsReceptiveField()
    {
        var run = Train(lag: 7, maxSteps: 1500);
        Assert.True(run.Accuracy > 0.95, $"The TDNN (receptive field 8) reached {run.Accuracy:P1} on lag 7 (needs > 95 %).");
    }

    [Fact]
    public void TdnnStaysAtChanceWhenTheLagIsPastItsReceptiveField()
    {
        var run = Train(lag: 8, maxSteps: 600, stopWhenSolved: false);
        Assert.InRange(run.Accuracy, 0.45, 0.55);
    }

    private (double Accuracy, int Steps) Train(int lag, int maxSteps, bool stopWhenSolved = true)
    {
        const int steps = 48, batch = 16, evaluateEvery = 50;
        var clock = Stopwatch.StartNew();
        var random = new SeededRandom(1);
        var block = new ParameterBlock<float>();
        var stack = new TimeDelayNetwork<float>(LaggedMatch.InputSize, Sizes, Kernels, Dilations, random: random, parameters: block);
        var head = new Linear<float>(Sizes[^1], LaggedMatch.ClassCount, random: random, parameters: block, name: "head");
        var adam = new Adam<float>(block, 1e-2);
        var x = new Tensor<float>(steps, batch, LaggedMatch.InputSize);
        var h = new Tensor<float>(steps, batch, Sizes[^1]);
        var dh = new Tensor<float>(steps, batch, Sizes[^1]);
        var logits = new float[steps * batch * LaggedMatch.ClassCount];
        var dLogits = new float[logits.Length];
        var targets = new int[steps * batch];

        // A held-out set of 32 batches (about 2,000 probes), drawn from its own seed.
        var testRandom = new SeededRandom(99);
        var test = new List<(Tensor<float>, int[])>();
        for (int i = 0; i < 32; i++)
        {
            var tx = new Tensor<float>(steps, batch, LaggedMatch.InputSize);
            var ty = new int[steps * batch];
            LaggedMatch.Generate(testRandom, tx, ty, lag);
            test.Add((tx, ty));
        }

        double Evaluate()
        {
            int correct = 0, total = 0;
            foreach (var (tx, ty) in test)
            {
                stack.Forward(tx, h);
                head.Forward(h.Data, steps * batch, logits);
                for (int r = 0; r < ty.Length; r++)
                {
                    if (ty[r] >= 0)
                    {
                        int predicted = logits[2 * r + 1] > logits[2 * r] ? 1 : 0;
                        correct += predicted == ty[r] ? 1 : 0;
                        total++;
                    }
                }
            }

            return (double)correct / total;
        }

        var data = new SeededRandom(2);
        double accuracy = 0;
        int step = 0;
        while (step < maxSteps)
        {
            step++;
            LaggedMatch.Generate(data, x, targets, lag);
            adam.ZeroGradients();
            stack.Forward(x, h);
            head.Forward(h.Data, steps * batch, logits);
            CrossEntropyLoss.Compute<float>(logits, targets, LaggedMatch.ClassCount, dLogits);
            head.Backward(h.Data, dLogits, steps * batch, dh.Data);
            stack.Backward(dh);
            GradientClipping.ClipGradientNorm(block, 1.0);
            adam.Step();
            if (step % evaluateEvery == 0)
            {
                accuracy = Evaluate();
                if (stopWhenSolved && accuracy > 0.95)
                {
                    break;
                }
            }
        }

        output.WriteLine($"TDNN receptive field {stack.ReceptiveField}, lag {lag}: held-out accuracy {accuracy:P1} after {step} steps of {batch}, {clock.Elapsed.TotalSeconds:F1} s");
        return (accuracy, step);
    }
}

public class LaggedMatchTests
{
    [Fact]
    public void TargetsAreTheMatchOfTheProbeAndTheCueLFramesEarlier()
    {
        const int steps = 60, batch = 7, lag = 9;
        var x = new Tensor<double>(steps, batch, LaggedMatch.InputSize);
        var targets = new int[steps * batch];
        int probes = LaggedMatch.Generate(new SeededRandom(4), x, targets, lag, maxGap: 3);
        int matches = 0, counted = 0;
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                bool probe = x[t, b, 1] == 1;
                Assert.Equal(probe, targets[t * batch + b] >= 0);
                Assert.True(Math.Abs(x[t, b, 2]) == 1, "the bit channel is ±1 at every frame");
                if (probe)
                {
                    Assert.True(t >= lag && x[t - lag, b, 0] == 1, $"probe at t = {t} without a cue {lag} frames earlier");
                    Assert.Equal(x[t, b, 2] == x[t - lag, b, 2] ? 1 : 0, targets[t * batch + b]);
                    matches += targets[t * batch + b];
                    counted++;
                }
            }
        }

        Assert.Equal(probes, counted);
        Assert.True(counted >= batch * 4, $"only {counted} probes"); // 60 frames hold at least 4 episodes of 10 + gap ≤ 3 after a first gap ≤ 3
        Assert.InRange(matches / (double)counted, 0.3, 0.7);
        Assert.Throws<ArgumentException>(() => LaggedMatch.Generate(new SeededRandom(1), new Tensor<double>(10, 2, 3), new int[20], lag: 9, maxGap: 1));
        Assert.Throws<ArgumentException>(() => LaggedMatch.Generate(new SeededRandom(1), new Tensor<double>(10, 2, 2), new int[20], lag: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => LaggedMatch.Generate(new SeededRandom(1), new Tensor<double>(10, 2, 3), new int[20], lag: 0));
    }
}
