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
        Assert.True(error < 1e-12, $"reconstruction error {error:E2}");
    }

    [Fact]
    public void ExactModeGradientsEqualFiniteDifferences()
    {
        var (net, sequence, a0, b0) = GradientSetup(ErrorCarry.Exact);
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
            Assert.True(check.MaxRelativeError < 1e-6, check.ToString());
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
            Assert.True(check.MaxRelativeError < 1e-6, check.ToString());
        }
    }

    [Fact]
    public void ReferenceCodeCarryDiffersFromTheGradientAsTheSpecMeasured()
    {
        var (exact, sequence, a0, b0) = GradientSetup(ErrorCarry.Exact);
        var (reference, _, _, _) = GradientSetup(ErrorCarry.ReferenceCode);
        exact.SetState(a0, b0);
        exact.Parameters.ZeroGradients();
        exact.AccumulateEpisode(new SequenceReplay(sequence));
        reference.SetState(a0, b0);
        reference.Parameters.ZeroGradients();
        reference.AccumulateEpisode(new SequenceReplay(sequence));

        // Spec §7.1 (n = 8, 15 steps): relative error 0.71 (W_AB), 1.15 (W_BA), 1.11 (W_in), 1e-9 (W_out); cosine ≈ 0.98.
        foreach (var view in exact.Parameters.Views)
        {
            var g = view.Gradients.ToArray();
            var r = reference.Parameters[view.Name].Gradients.ToArray();
            double diff = Math.Sqrt(g.Zip(r, (p, q) => (p - q) * (p - q)).Sum());
            double norm = Math.Sqrt(g.Sum(p => p * p));
            double cosine = g.Zip(r, (p, q) => p * q).Sum() / (norm * Math.Sqrt(r.Sum(q => q * q)));
            output.WriteLine($"{view.Name}: relative difference {diff / norm:F3}, cosine {cosine:F3}");
            if (view.Name == "weight_out")
            {
                Assert.True(diff / norm < 1e-9);
            }
            else
            {
                Assert.InRange(diff / norm, 0.2, 3.0);
                Assert.True(cosine > 0.5, $"cosine {cosine}");
            }
        }
    }

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
        Assert.True(errAB < 1e-8 && errBA < 1e-8);
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

    internal static (R2N2Consolidator Net, Tensor<double> Sequence, double[] A0, double[] B0) GradientSetup(ErrorCarry carry)
    {
        var net = new R2N2Consolidator(new R2N2Options
        {
            GroupSize = 8, InputSize = 4, OutputSize = 4, Feedback = FeedbackMode.Transposed, Carry = carry, Seed = 11,
            InputOutputScale = 1.0,
        });
        var random = new SeededRandom(12);
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
