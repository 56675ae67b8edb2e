using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.R2N2;

/// <summary>Reversal that precision cannot carry is refused or warned about with the measured error, never silent.</summary>
public class ReversalGuardTests(ITestOutputHelper output)
{
    private static R2N2Consolidator Network(ReversalPolicy policy = ReversalPolicy.Warn) =>
        new(new R2N2Options { GroupSize = 64, InputSize = 11, OutputSize = 11, Seed = 7, ReversalPolicy = policy });

    [Fact]
    public void Float32ReversalIsRefusedWithTheMeasuredError()
    {
        var net = Network();
        double inDouble = ReversalProbe.EnsureReversible<double>(net, 20);
        var e = Assert.Throws<ReversalPrecisionException>(() => ReversalProbe.EnsureReversible<float>(net, 20));
        output.WriteLine($"double, 20 steps: {inDouble:E2}; float: {e.Message}");
        Assert.True(inDouble < 1e-12);
        Assert.True(e.ReconstructionError > 1e-6);
        Assert.Contains(e.ReconstructionError.ToString("G3", System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void DoubleReversalDriftsPastTheToleranceAfterAboutOneHundredSteps()
    {
        var errors = ReversalProbe.Measure<double>(Network(), 200);
        int safe = Array.FindIndex(errors, x => !(x <= 1e-6));
        output.WriteLine($"double: error after 50 / 100 / 150 / 200 reverse steps {errors[49]:E1} / {errors[99]:E1} / {errors[149]:E1} / {errors[199]:E1}; first above 1e-6 at step {safe + 1}");
        Assert.InRange(safe + 1, 60, 190); // spec §7.2: 113 steps at τ = 10, g_f = 1.5
        Assert.Throws<ReversalPrecisionException>(() => ReversalProbe.EnsureReversible<double>(Network(), 200));
    }

    [Fact]
    public void AnOverLongEpisodeThrowsBeforeChangingAnyWeight()
    {
        var net = Network();
        var sequence = ConsolidatorTests.RandomOneHot(300, 11, new SeededRandom(9));
        double[] before = (double[])net.Parameters.Values.Clone();
        var e = Assert.Throws<ReversalPrecisionException>(() => net.TrainEpisode(new SequenceReplay(sequence)));
        output.WriteLine(e.Message);
        Assert.Equal(299, e.Steps);
        Assert.True(!(e.ReconstructionError <= 1e-6));
        Assert.Equal(before, net.Parameters.Values);
    }

    [Fact]
    public void WarnPolicyReportsTheMeasuredError()
    {
        var net = Network(ReversalPolicy.Warn);
        double reported = 0;
        net.ReversalWarning += (error, _) => reported = error;
        var sequence = ConsolidatorTests.RandomOneHot(125, 11, new SeededRandom(9));
        var result = net.TrainEpisode(new SequenceReplay(sequence));
        output.WriteLine($"125 items: reconstruction error {result.ReconstructionError:E2}, warnings {net.ReversalWarnings}");
        Assert.Equal(1, net.ReversalWarnings);
        Assert.Equal(result.ReconstructionError, reported);
        Assert.True(reported > 1e-6);
    }

    [Fact]
    public void ThrowPolicyRefusesBeyondTheTolerance()
    {
        var net = Network(ReversalPolicy.Throw);
        var sequence = ConsolidatorTests.RandomOneHot(125, 11, new SeededRandom(9));
        var e = Assert.Throws<ReversalPrecisionException>(() => net.TrainEpisode(new SequenceReplay(sequence)));
        output.WriteLine(e.Message);
        Assert.True(e.ReconstructionError > 1e-6);
    }
}
