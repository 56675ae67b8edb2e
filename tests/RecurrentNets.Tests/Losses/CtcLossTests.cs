using System.Numerics;
using RecurrentNets.Diagnostics;
using RecurrentNets.Kernels;
using RecurrentNets.Losses;
using RecurrentNets.Reference;
using RecurrentNets.Tests.Determinism;

namespace RecurrentNets.Tests.Losses;

/// <summary><see cref="CtcLoss{T}"/>: finite differences in double, its naive twin, threads, allocation, validation.</summary>
public sealed class CtcLossTests
{
    /// <summary>A random batch: logits [T, B, C], lengths, and padded targets [B, S] with repeats, padded with -1.</summary>
    internal sealed record Batch(int Steps, int BatchSize, int Classes, double[] Logits, int[] Targets, int MaxTargetLength, int[] InputLengths, int[] TargetLengths);

    internal static Batch RandomBatch(int seed, int steps, int batchSize, int classes, int maxTargetLength, int blank = 0, double scale = 2)
    {
        var random = new Random(seed);
        var logits = new double[steps * batchSize * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (random.NextDouble() * 2 - 1) * scale;
        }

        var targets = new int[batchSize * maxTargetLength];
        Array.Fill(targets, -1);
        int[] inputLengths = new int[batchSize], targetLengths = new int[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            inputLengths[b] = b == 0 ? steps : random.Next(1, steps + 1);
            targetLengths[b] = random.Next(0, Math.Min(maxTargetLength, (inputLengths[b] + 1) / 2) + 1);
            for (int i = 0; i < targetLengths[b]; i++)
            {
                // A label other than the blank, or now and then the previous label again (the skip rule's case).
                int k = b * maxTargetLength + i, label = random.Next(classes - 1);
                targets[k] = i > 0 && random.Next(4) == 0 ? targets[k - 1] : label >= blank ? label + 1 : label;
            }
        }

        return new Batch(steps, batchSize, classes, logits, targets, maxTargetLength, inputLengths, targetLengths);
    }

    /// <summary>log_softmax over the last axis.</summary>
    internal static double[] LogSoftmax(double[] logits, int classes)
    {
        var result = new double[logits.Length];
        for (int r = 0; r < logits.Length / classes; r++)
        {
            var row = logits.AsSpan(r * classes, classes);
            double max = row.ToArray().Max(), sum = 0;
            foreach (double v in row)
            {
                sum += Math.Exp(v - max);
            }

            for (int c = 0; c < classes; c++)
            {
                result[r * classes + c] = row[c] - max - Math.Log(sum);
            }
        }

        return result;
    }

    /// <summary>The backward of log_softmax: du = g − softmax·Σ g per row.</summary>
    private static double[] LogSoftmaxBackward(double[] logProbs, double[] g, int classes)
    {
        var du = new double[g.Length];
        for (int r = 0; r < g.Length / classes; r++)
        {
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                sum += g[r * classes + c];
            }

            for (int c = 0; c < classes; c++)
            {
                du[r * classes + c] = g[r * classes + c] - Math.Exp(logProbs[r * classes + c]) * sum;
            }
        }

        return du;
    }

    private static double Run<T>(CtcLoss<T> loss, Batch x, T[] logProbs, T[] grad, double[]? losses = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => loss.Compute(logProbs, x.Steps, x.BatchSize, x.Classes, x.Targets, x.MaxTargetLength, x.InputLengths, x.TargetLengths, grad, losses ?? []);

    [Theory]
    [InlineData(LossReduction.Mean)]
    [InlineData(LossReduction.Sum)]
    [InlineData(LossReduction.None)]
    public void PartialDerivativeInTheLogProbabilitiesMatchesFiniteDifferences(LossReduction reduction)
    {
        // Unnormalised log-probabilities too: the loss is defined for any ln y, and −γ is its exact partial derivative.
        var x = RandomBatch(3, 7, 4, 5, 3);
        var loss = new CtcLoss<double>(reduction: reduction, gradient: CtcGradient.LogProbabilities);
        double[] values = (double[])x.Logits.Clone(), grad = new double[values.Length];
        Run(loss, x, values, grad);
        var check = GradientCheck.Compare("logProbs", values, grad, () => Run(loss, x, values, []), step: 1e-5);
        Assert.True(check.MaxRelativeError < 1e-6, check.ToString());
        Assert.Contains(grad, g => g != 0);
    }

    [Theory]
    [InlineData(LossReduction.Mean, 0)]
    [InlineData(LossReduction.Sum, 2)]
    [InlineData(LossReduction.None, 4)]
    public void PyTorchGradientIsTheGradientOfLogSoftmaxThenCtcInTheLogits(LossReduction reduction, int blank)
    {
        var x = RandomBatch(5, 9, 3, 5, 4, blank);
        var loss = new CtcLoss<double>(blank, reduction);
        double[] logits = (double[])x.Logits.Clone(), grad = new double[logits.Length];
        Run(loss, x, LogSoftmax(logits, x.Classes), grad);
        var check = GradientCheck.Compare("logits", logits, grad, () => Run(loss, x, LogSoftmax(logits, x.Classes), []), step: 1e-5);
        Assert.True(check.MaxRelativeError < 1e-6, check.ToString());

        // The partial derivative, through log_softmax's backward, gives the same gradient in the logits.
        var partial = new double[logits.Length];
        var logProbs = LogSoftmax(logits, x.Classes);
        Run(new CtcLoss<double>(blank, reduction, gradient: CtcGradient.LogProbabilities), x, logProbs, partial);
        double[] through = LogSoftmaxBackward(logProbs, partial, x.Classes);
        for (int i = 0; i < grad.Length; i++)
        {
            Assert.Equal(grad[i], through[i], 1e-12);
        }
    }

    [Fact]
    public void MatchesTheNaiveTwinInDoubleAndFloat()
    {
        foreach (var (seed, steps, batch, classes, longest, blank) in new[] { (1, 1, 2, 3, 1, 0), (2, 13, 5, 7, 6, 0), (3, 40, 3, 11, 17, 10), (4, 33, 6, 4, 12, 1) })
        {
            var x = RandomBatch(seed, steps, batch, classes, longest, blank, scale: 3);
            double[] logProbs = LogSoftmax(x.Logits, classes);
            var grad = new double[logProbs.Length];
            var losses = new double[batch];
            Run(new CtcLoss<double>(blank, LossReduction.None), x, logProbs, grad, losses);
            float[] logProbsF = [.. logProbs.Select(v => (float)v)];
            var gradF = new float[logProbs.Length];
            var lossesF = new double[batch];
            Run(new CtcLoss<float>(blank, LossReduction.None), x, logProbsF, gradF, lossesF);
            int stride = batch * classes;
            for (int b = 0; b < batch; b++)
            {
                int tb = x.InputLengths[b];
                var rows = new double[tb * classes];
                for (int t = 0; t < tb; t++)
                {
                    logProbs.AsSpan(t * stride + b * classes, classes).CopyTo(rows.AsSpan(t * classes));
                }

                var expectedGrad = new double[rows.Length];
                double expected = ReferenceCtc.Loss(rows, tb, classes, x.Targets.AsSpan(b * longest, x.TargetLengths[b]), blank, expectedGrad);
                Assert.Equal(expected, losses[b], 1e-11 * Math.Max(1, expected));
                Assert.Equal(expected, lossesF[b], 2e-5 * Math.Max(1, expected));
                for (int t = 0; t < steps; t++)
                {
                    for (int c = 0; c < classes; c++)
                    {
                        double e = t < tb ? expectedGrad[t * classes + c] : 0;
                        Assert.Equal(e, grad[t * stride + b * classes + c], 1e-12);
                        Assert.Equal(e, gradF[t * stride + b * classes + c], 2e-5);
                    }
                }
            }
        }
    }

    [Fact]
    public void ReductionsAreThoseOfPyTorch()
    {
        var x = RandomBatch(8, 10, 5, 6, 4);
        double[] logProbs = LogSoftmax(x.Logits, x.Classes);
        var losses = new double[x.BatchSize];
        double none = Run(new CtcLoss<double>(reduction: LossReduction.None), x, logProbs, [], losses);
        double sum = Run(new CtcLoss<double>(reduction: LossReduction.Sum), x, logProbs, []);
        double mean = Run(new CtcLoss<double>(), x, logProbs, []);
        Assert.Equal(losses.Sum(), none, 1e-12);
        Assert.Equal(none, sum, 1e-12);
        Assert.Equal(losses.Select((l, b) => l / Math.Max(1, x.TargetLengths[b])).Average(), mean, 1e-12);
        Assert.Contains(x.TargetLengths, l => l == 0); // the clamp to 1 is exercised

        // Mean's gradient is sum's, sequence b divided by max(L_b, 1)·B.
        double[] gSum = new double[logProbs.Length], gMean = new double[logProbs.Length];
        Run(new CtcLoss<double>(reduction: LossReduction.Sum), x, logProbs, gSum);
        Run(new CtcLoss<double>(), x, logProbs, gMean);
        for (int i = 0; i < gSum.Length; i++)
        {
            int b = i / x.Classes % x.BatchSize;
            Assert.Equal(gSum[i] / (Math.Max(1, x.TargetLengths[b]) * x.BatchSize), gMean[i], 1e-15);
        }
    }

    [Fact]
    public void InfeasibleTargetsGiveInfinityOrZeroWithZeroInfinity()
    {
        // Sequence 0: [1, 1] needs three steps (a blank between the repeats) but has two; sequence 1 is feasible;
        // sequence 2 has a target longer than its input; sequence 3 has no input and an empty target (loss 0).
        int steps = 4, batch = 4, classes = 3;
        var logProbs = LogSoftmax(RandomBatch(1, steps, batch, classes, 1).Logits, classes);
        int[] targets = [1, 1, 0, 1, 2, 0, 2, 2, 1, 0, 0, 0], inputLengths = [2, 4, 2, 0], targetLengths = [2, 2, 3, 0];
        foreach (bool zeroInfinity in new[] { false, true })
        {
            var loss = new CtcLoss<double>(reduction: LossReduction.None, zeroInfinity: zeroInfinity);
            var grad = new double[logProbs.Length];
            var losses = new double[batch];
            loss.Compute(logProbs, steps, batch, classes, targets, 3, inputLengths, targetLengths, grad, losses);
            double infeasible = zeroInfinity ? 0 : double.PositiveInfinity;
            Assert.Equal([infeasible, losses[1], infeasible, 0], losses);
            Assert.True(double.IsFinite(losses[1]) && losses[1] > 0);
            for (int t = 0; t < steps; t++)
            {
                for (int c = 0; c < classes; c++)
                {
                    double g0 = grad[(t * batch) * classes + c], g2 = grad[(t * batch + 2) * classes + c], g3 = grad[(t * batch + 3) * classes + c];
                    Assert.Equal(t < 2 && !zeroInfinity ? double.NaN : 0, g0);
                    Assert.Equal(t < 2 && !zeroInfinity ? double.NaN : 0, g2);
                    Assert.Equal(0, g3);
                    Assert.True(double.IsFinite(grad[(t * batch + 1) * classes + c]));
                }
            }
        }
    }

    [Fact]
    public void ConcatenatedTargetsGiveThePaddedResult()
    {
        var x = RandomBatch(9, 12, 6, 5, 5);
        double[] logProbs = LogSoftmax(x.Logits, x.Classes);
        double[] g1 = new double[logProbs.Length], g2 = new double[logProbs.Length];
        var loss = new CtcLoss<double>();
        double padded = Run(loss, x, logProbs, g1);
        int[] concatenated = [.. Enumerable.Range(0, x.BatchSize).SelectMany(b => x.Targets.Skip(b * x.MaxTargetLength).Take(x.TargetLengths[b]))];
        double flat = loss.ComputeConcatenated(logProbs, x.Steps, x.BatchSize, x.Classes, concatenated, x.InputLengths, x.TargetLengths, g2);
        Assert.Equal(padded, flat);
        Assert.Equal(g1, g2);
    }

    [Fact]
    public void OneAndTwoThreadsGiveTheSameBits()
    {
        var x = RandomBatch(10, 30, 7, 9, 10, scale: 4);
        double[] logProbs = LogSoftmax(x.Logits, x.Classes);
        float[] logProbsF = [.. logProbs.Select(v => (float)v)];
        var results = new List<(double, double[], float[])>();
        foreach (int threads in new[] { 1, 2 })
        {
            double[] g = new double[logProbs.Length];
            float[] gF = new float[logProbs.Length];
            double l = Run(new CtcLoss<double> { MaxDegreeOfParallelism = threads }, x, logProbs, g);
            l += Run(new CtcLoss<float> { MaxDegreeOfParallelism = threads }, x, logProbsF, gF);
            results.Add((l, g, gF));
        }

        Assert.Equal(BitConverter.DoubleToInt64Bits(results[0].Item1), BitConverter.DoubleToInt64Bits(results[1].Item1));
        Assert.Equal(SameBitsProbe.Hash<double>(results[0].Item2), SameBitsProbe.Hash<double>(results[1].Item2));
        Assert.Equal(SameBitsProbe.Hash<float>(results[0].Item3), SameBitsProbe.Hash<float>(results[1].Item3));
    }

    /// <summary>
    /// The same bits on every vector path (CI runs this on AVX-512, AVX2 and Vector128; checked by hand with
    /// DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and DOTNET_PreferredVectorBitWidth=512): pinned hashes of a float and a double batch's loss and gradient.
    /// </summary>
    [Fact]
    public void GivesThePinnedBitsOnEveryVectorPath()
    {
        var x = RandomBatch(12, 50, 4, 13, 20, blank: 3, scale: 5);
        double[] logProbs = LogSoftmax(x.Logits, x.Classes);
        float[] logProbsF = [.. logProbs.Select(v => (float)v)];
        double[] g = new double[logProbs.Length], losses = new double[x.BatchSize], lossesF = new double[x.BatchSize];
        float[] gF = new float[logProbs.Length];
        Run(new CtcLoss<double>(3, LossReduction.None), x, logProbs, g, losses);
        Run(new CtcLoss<float>(3, LossReduction.None), x, logProbsF, gF, lossesF);
        string actual = $"{SameBitsProbe.Hash<double>([.. losses, .. g]):x16} {SameBitsProbe.Hash<double>(lossesF):x16} {SameBitsProbe.Hash<float>(gF):x16}";
        Assert.True(actual == PinnedBits, $"pinned {PinnedBits}, got {actual}");
    }

    private const string PinnedBits = "843ff6d274b1fb5e c921a84177103b38 04a73a2a2e380c90";

    [Fact]
    public void ASteadyStateCallAllocatesNothing()
    {
        var x = RandomBatch(11, 40, 8, 10, 12);
        float[] logProbs = [.. LogSoftmax(x.Logits, x.Classes).Select(v => (float)v)], grad = new float[logProbs.Length];
        var losses = new double[x.BatchSize];
        var loss = new CtcLoss<float>();
        Run(loss, x, logProbs, grad, losses);
        Assert.Equal(0, SteadyState.AllocatedBytes(_ => Run(loss, x, logProbs, grad, losses), calls: 5));
    }

    [Fact]
    public void BadInputIsRejectedWithTheArgumentAndTheShapes()
    {
        var loss = new CtcLoss<double>();
        double[] lp = new double[3 * 2 * 4];
        double[] grad = new double[lp.Length];
        int[] targets = [1, 2, 3, 0], il = [3, 3], tl = [2, 1];
        ArgumentException Fails(Func<double> call) => Assert.ThrowsAny<ArgumentException>(() => call());

        Assert.Contains("[3, 2, 5]", Fails(() => loss.Compute(lp, 3, 2, 5, targets, 2, il, tl, grad)).Message);
        Assert.Equal("dLogProbs", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 2, il, tl, new double[5])).ParamName);
        Assert.Equal("targets", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 3, il, tl, grad)).ParamName);
        Assert.Contains("inputLengths[1] is 4", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 2, [3, 4], tl, grad)).Message);
        Assert.Contains("inputLengths[0] is -1", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 2, [-1, 3], tl, grad)).Message);
        Assert.Contains("targetLengths[1] is -2", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 2, il, [2, -2], grad)).Message);
        Assert.Contains("targetLengths[0] is 3", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 2, il, [3, 1], grad)).Message);
        Assert.Contains("is the blank", Fails(() => loss.Compute(lp, 3, 2, 4, [1, 0, 3, 0], 2, il, tl, grad)).Message);
        Assert.Contains("is 4: a label must lie in [0, 4)", Fails(() => loss.Compute(lp, 3, 2, 4, [1, 4, 3, 0], 2, il, tl, grad)).Message);
        Assert.Contains("is -1: a label", Fails(() => loss.Compute(lp, 3, 2, 4, [-1, 2, 3, 0], 2, il, tl, grad)).Message);
        Assert.Contains("blank is 4", Fails(() => new CtcLoss<double>(4).Compute(lp, 3, 2, 4, targets, 2, il, tl, grad)).Message);
        Assert.Contains("sum to 3", Fails(() => loss.ComputeConcatenated(lp, 3, 2, 4, [1, 2], il, tl, grad)).Message);
        Assert.Equal("losses", Fails(() => loss.Compute(lp, 3, 2, 4, targets, 2, il, tl, grad, new double[3])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CtcLoss<double>(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CtcLoss<double> { MaxDegreeOfParallelism = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyLoss.Compute<double>(new double[2], [0], 2, [], LossReduction.None));

        // Nothing half-done: a rejected call leaves the gradient as it was.
        Array.Fill(grad, 7.0);
        Fails(() => loss.Compute(lp, 3, 2, 4, [1, 2, 3, 9], 2, il, [2, 2], grad));
        Assert.All(grad, g => Assert.Equal(7.0, g));
    }

    [Fact]
    public void VectorLogIsWithinAnUlpOfTheLibrary()
    {
        var random = new Random(4);
        int n = Vector<double>.Count, nf = Vector<float>.Count;
        for (int i = 0; i < 5000; i++)
        {
            double[] x = [.. Enumerable.Range(0, n).Select(_ => Math.Exp(random.NextDouble() * 40 - 20))];
            var log = CtcKernels.Log(new Vector<double>(x));
            for (int k = 0; k < n; k++)
            {
                double exact = Math.Log(x[k]);
                Assert.True(Math.Abs(log[k] - exact) <= Math.Max(Math.Abs(exact), 1e-300) * 2.3e-16, $"ln {x[k]:R}: {log[k]:R} vs {exact:R}");
            }

            float[] xf = [.. Enumerable.Range(0, nf).Select(_ => (float)(1 + random.NextDouble() * 3))];
            var logF = CtcKernels.Log(new Vector<float>(xf));
            for (int k = 0; k < nf; k++)
            {
                double exact = Math.Log(xf[k]);
                Assert.True(Math.Abs(logF[k] - exact) <= Math.Max(Math.Abs(exact), 1e-3) * 2.4e-7, $"ln {xf[k]:R}: {logF[k]:R} vs {exact:R}");
            }
        }
    }
}
