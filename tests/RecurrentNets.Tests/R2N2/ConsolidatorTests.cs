using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.R2N2;

/// <summary>Reversal, exact gradients and reverse weights of the R2N2 consolidator (Cheng and Brown 2025).</summary>
public class ConsolidatorTests(ITestOutputHelper output)
{
    internal static Tensor<double> RandomOneHot(int length, int symbols, SeededRandom random)
    {
        var x = new Tensor<double>(length, symbols);
        for (int t = 0; t < length; t++)
        {
            x[t, random.NextInt(symbols)] = 1;
        }

        return x;
    }

    [Fact]
    public void ForwardTwentyStepsThenReverseReturnsToTheInitialState()
    {
        var net = new R2N2Consolidator(new R2N2Options { GroupSize = 64, InputSize = 11, OutputSize = 11, Seed = 3 });
        var random = new SeededRandom(4);
        var inputs = new double[20][];
        for (int t = 0; t < 20; t++)
        {
            inputs[t] = Enumerable.Range(0, 11).Select(_ => random.NextUniform(0, 0.5)).ToArray();
        }

        net.RandomizeState();
        double[] a0 = net.StateA.ToArray(), b0 = net.StateB.ToArray();
        foreach (var x in inputs)
        {
            net.Forward(x);
        }

        net.ResetReverseWeights();
        for (int t = 19; t >= 0; t--)
        {
            net.Reverse(inputs[t]);
        }

        double error = Math.Max(MaxDiff(net.StateA, a0), MaxDiff(net.StateB, b0));
        output.WriteLine($"max |s0 - reconstructed s0| after 20 + 20 steps: {error:E2}");
        Assert.True(error < 1e-14, $"reconstruction error {error:E2}"); // measured 3.2e-15 on every path; margin 3×
    }

    [Theory]
    [MemberData(nameof(GradientSeeds))]
    public void ExactModeGradientsEqualFiniteDifferences(ulong seed)
    {
        var (net, sequence, a0, b0) = GradientSetup(ErrorCarry.Exact, seed);
        var replay = new SequenceReplay(sequence);
        double Loss()
        {
            net.SetState(a0, b0);
            double loss = 0;
            var y = new double[net.OutputSize];
            for (int t = 1; t < sequence.Size(0); t++)
            {
                net.Forward(sequence.Data.AsSpan((t - 1) * 4, 4));
                net.ComputeOutput(y);
                for (int i = 0; i < y.Length; i++)
                {
                    double e = y[i] - sequence[t, i];
                    loss += 0.5 * e * e;
                }
            }

            return loss;
        }

        net.SetState(a0, b0);
        net.Parameters.ZeroGradients();
        var result = net.AccumulateEpisode(replay);
        Assert.True(result.ReconstructionError < 1e-12);
        Assert.Equal(Loss(), result.Loss, 1e-12);
        double[] analytic = (double[])net.Parameters.Gradients.Clone();
        foreach (var view in net.Parameters.Views)
        {
            var check = GradientCheck.Compare(view.Name, net.Parameters.Values, view.Offset, view.Length,
                analytic.AsSpan(view.Offset, view.Length), Loss);
            output.WriteLine(check.ToString());

            // Measured on the six setups (2026-12-07, the same on the AVX-512, AVX2 and Vector128 paths): worst 2.4e-7
            // (seed 13, weight_ba); the bound is twice that, since finite differences carry ~1e-7 of their own error.
            Assert.True(check.MaxRelativeError < 5e-7, check.ToString());
        }
    }

    [Fact]
    public void DecisionModeGradientsEqualFiniteDifferences()
    {
        // Softmax cross-entropy on the last step only, all L items fed, L reverse steps back to s_0 (spec §3.3–3.4).
        var (net, sequence, a0, b0) = GradientSetup(ErrorCarry.Exact);
        const int label = 2;
        double Loss()
        {
            net.SetState(a0, b0);
            for (int t = 0; t < sequence.Size(0); t++)
            {
                net.Forward(sequence.Data.AsSpan(t * 4, 4));
            }

            var y = new double[4];
            net.ComputeOutput(y);
            double max = y.Max();
            return -(y[label] - max - Math.Log(y.Sum(v => Math.Exp(v - max))));
        }

        net.SetState(a0, b0);
        net.Parameters.ZeroGradients();
        var result = net.AccumulateClassificationEpisode(new SequenceReplay(sequence), label);
        Assert.True(result.ReconstructionError < 1e-12);
        Assert.Equal(Loss(), result.Loss, 1e-12);
        double[] analytic = (double[])net.Parameters.Gradients.Clone();
        foreach (var view in net.Parameters.Views)
        {
            var check = GradientCheck.Compare(view.Name, net.Parameters.Values, view.Offset, view.Length,
                analytic.AsSpan(view.Offset, view.Length), Loss);
            output.WriteLine(check.ToString());
            Assert.True(check.MaxRelativeError < 5e-8, check.ToString()); // measured: worst 1.8e-8 (weight_ab); margin 2.5×
        }
    }

    [Theory]
    [MemberData(nameof(GradientSeeds))]
    public void ReferenceCodeCarryDiffersFromTheGradientAsTheSpecMeasured(ulong seed)
    {
        var (exact, sequence, a0, b0) = GradientSetup(ErrorCarry.Exact, seed);
        var (reference, _, _, _) = GradientSetup(ErrorCarry.ReferenceCode, seed);
        exact.SetState(a0, b0);
        exact.Parameters.ZeroGradients();
        exact.AccumulateEpisode(new SequenceReplay(sequence));
        reference.SetState(a0, b0);
        reference.Parameters.ZeroGradients();
        reference.AccumulateEpisode(new SequenceReplay(sequence));

        // Spec §7.1 (n = 8, 15 steps, one draw): relative error 0.71 (W_AB), 1.15 (W_BA), 1.11 (W_in), 1e-9 (W_out);
        // cosine ≈ 0.98. Over our six draws the differences span 0.41–1.85 and the cosines 0.90–0.99, which holds the
        // spec's draw: the gap between the two carry rules depends on the draw. Each value is held to its measurement.
        foreach (var view in exact.Parameters.Views)
        {
            var g = view.Gradients.ToArray();
            var r = reference.Parameters[view.Name].Gradients.ToArray();
            double diff = Math.Sqrt(g.Zip(r, (p, q) => (p - q) * (p - q)).Sum());
            double norm = Math.Sqrt(g.Sum(p => p * p));
            double cosine = g.Zip(r, (p, q) => p * q).Sum() / (norm * Math.Sqrt(r.Sum(q => q * q)));
            output.WriteLine($"seed {seed} {view.Name}: relative difference {diff / norm:F4}, cosine {cosine:F4}");
            if (view.Name == "weight_out")
            {
                Assert.True(diff / norm < 1e-9);
            }
            else
            {
                // Margins: ±1 % of the relative difference and ±0.001 of the cosine absorb a change in rounding only
                // (the values are the same bits on every vector path).
                var (relative, expectedCosine) = CarryDifference[(seed, view.Name)];
                Assert.InRange(diff / norm, relative * 0.99, relative * 1.01);
                Assert.InRange(cosine, expectedCosine - 0.001, expectedCosine + 0.001);
            }
        }
    }

    /// <summary>
    /// <see cref="ReferenceCodeCarryDiffersFromTheGradientAsTheSpecMeasured"/>'s measurements (2026-12-07, AVX-512, AVX2 and
    /// Vector128 paths alike): ‖g_reference − g_exact‖ / ‖g_exact‖ and the cosine between them, per setup and matrix.
    /// </summary>
    private static readonly Dictionary<(ulong Seed, string View), (double Relative, double Cosine)> CarryDifference = new()
    {
        [(11, "weight_ab")] = (0.7381, 0.9394), [(11, "weight_ba")] = (1.7905, 0.9221), [(11, "weight_in")] = (1.8473, 0.9092),
        [(13, "weight_ab")] = (0.5643, 0.9083), [(13, "weight_ba")] = (0.9706, 0.9590), [(13, "weight_in")] = (0.9458, 0.9613),
        [(500, "weight_ab")] = (0.8054, 0.9008), [(500, "weight_ba")] = (1.2844, 0.9370), [(500, "weight_in")] = (1.1025, 0.9591),
        [(501, "weight_ab")] = (0.8158, 0.9079), [(501, "weight_ba")] = (1.4327, 0.9634), [(501, "weight_in")] = (1.3487, 0.9765),
        [(1000, "weight_ab")] = (0.4075, 0.9909), [(1000, "weight_ba")] = (1.1451, 0.9776), [(1000, "weight_in")] = (1.0848, 0.9849),
        [(1001, "weight_ab")] = (0.7706, 0.9285), [(1001, "weight_ba")] = (1.4959, 0.9099), [(1001, "weight_in")] = (1.4100, 0.9260),
    };

    [Fact]
    public void LeastSquaresReverseWeightsEqualNegatedForwardWeights()
    {
        const int n = 64;
        var net = new R2N2Consolidator(new R2N2Options { GroupSize = n, InputSize = 10, OutputSize = 10, Seed = 5 });
        var random = new SeededRandom(6);
        var x = new double[10];
        net.RandomizeState();
        net.BeginReverseWeightRecording();
        for (int t = 0; t < 2 * n; t++)
        {
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = random.NextUniform(0, 0.5);
            }

            net.Forward(x);
        }

        net.FitReverseWeights();
        double errAB = MaxAbsSum(net.ReverseWeightAB, net.WeightAB.Values);
        double errBA = MaxAbsSum(net.ReverseWeightBA, net.WeightBA.Values);
        output.WriteLine($"max |V + W|: A→B {errAB:E2}, B→A {errBA:E2} after {2 * n} steps");
        Assert.True(errAB < 3e-10 && errBA < 3e-10); // measured 1.5e-11 and 9.7e-11; margin 3× (a QR solve's rounding)
    }

    [Fact]
    public void LeastSquaresNeedsMoreThanNSamples()
    {
        var net = new R2N2Consolidator(new R2N2Options { GroupSize = 16, InputSize = 2, OutputSize = 2 });
        net.BeginReverseWeightRecording();
        for (int t = 0; t < 10; t++)
        {
            net.Forward([0.1, 0.2]);
        }

        var e = Assert.Throws<InvalidOperationException>(net.FitReverseWeights);
        Assert.Contains("17", e.Message);
    }

    /// <summary>The gradient setups' seeds: three seed sets fixed before measuring, {11, 13}, {500, 501}, {1000, 1001}.</summary>
    public static TheoryData<ulong> GradientSeeds => [11, 13, 500, 501, 1000, 1001];

    /// <summary>n = 8 per group, 4 symbols, 16 one-hot items, transposed feedback (spec §7.1's setup).</summary>
    /// <remarks>Network seed <paramref name="seed"/>; the sequence's seed is 12 for seed 11 (the original setup), else seed + 10 000.</remarks>
    internal static (R2N2Consolidator Net, Tensor<double> Sequence, double[] A0, double[] B0) GradientSetup(ErrorCarry carry, ulong seed = 11)
    {
        var net = new R2N2Consolidator(new R2N2Options
        {
            GroupSize = 8, InputSize = 4, OutputSize = 4, Feedback = FeedbackMode.Transposed, Carry = carry, Seed = seed,
            InputOutputScale = 1.0,
        });
        var random = new SeededRandom(seed == 11 ? 12 : seed + 10_000);
        var sequence = RandomOneHot(16, 4, random);
        net.RandomizeState();
        return (net, sequence, net.StateA.ToArray(), net.StateB.ToArray());
    }

    private static double MaxDiff(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double m = 0;
        for (int i = 0; i < x.Length; i++)
        {
            m = Math.Max(m, Math.Abs(x[i] - y[i]));
        }

        return m;
    }

    private static double MaxAbsSum(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double m = 0;
        for (int i = 0; i < x.Length; i++)
        {
            m = Math.Max(m, Math.Abs(x[i] + y[i]));
        }

        return m;
    }
}
