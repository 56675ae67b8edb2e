using RecurrentNets.Data;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Tests.Reservoirs;

public class DatasetTests
{
    [Fact]
    public void ReservoirPyMackeyGlassMatchesTheBaselineChecksums()
    {
        // ../shared/peers/reservoirpy/results-2026-11-28.md §1: mean -0.064780, σ 0.2160819, s[0..2], sum -1943.405975071.
        var s = Protocols.MgSeries;
        Assert.Equal(30000, s.Length);
        Assert.Equal(-0.243574108254, s[0], 1e-12);
        Assert.Equal(-0.208703803328, s[1], 1e-12);
        Assert.Equal(-0.171695607844, s[2], 1e-12);
        Assert.Equal(-1943.405975071, s.Sum(), 1e-6);
        Assert.Equal(0.2160819, ReservoirMetrics.StandardDeviation(s), 1e-7);
    }

    [Fact]
    public void JaegerMackeyGlassIsTheMildAttractor()
    {
        var y = MackeyGlassSeries.Jaeger(5000);
        Assert.All(y, v => Assert.InRange(v, 0.2, 1.5));
        // Jaeger 2001 quotes σ² ≈ 0.067 for the τ = 17 signal in original coordinates.
        double sd = ReservoirMetrics.StandardDeviation(y);
        Assert.InRange(sd * sd, 0.05, 0.085);
        var wild = MackeyGlassSeries.Jaeger(3000, tau: 30);
        Assert.All(wild, v => Assert.InRange(v, 0.1, 1.6));
        Assert.NotEqual(y[100], MackeyGlassSeries.ReservoirPy(5000)[100]);
        Assert.Equal(0.5, MackeyGlassSeries.Unsquash(MackeyGlassSeries.Squash([0.5])[0]), 1e-12);
    }

    [Fact]
    public void NarmaFollowsTheStandardRecursion()
    {
        var (u, d) = NarmaSeries.Generate(1000, 3);
        Assert.All(u, v => Assert.InRange(v, 0, 0.5));
        var y = new double[1001];
        for (int t = 9; t < 1000; t++)
        {
            double sum = 0;
            for (int i = 0; i < 10; i++)
            {
                sum += y[t - i];
            }

            y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * sum + 1.5 * u[t - 9] * u[t] + 0.1;
            Assert.Equal(y[t + 1], d[t], 1e-15);
        }

        Assert.Equal(NarmaSeries.Generate(1000, 3).Targets, d);
    }

    [Fact]
    public void LorenzStaysOnTheAttractorAndConservesTheKnownBounds()
    {
        var xyz = LorenzSeries.Generate(5000);
        for (int t = 0; t < 5000; t++)
        {
            Assert.InRange(xyz[3 * t], -25, 25);
            Assert.InRange(xyz[3 * t + 1], -30, 30);
            Assert.InRange(xyz[3 * t + 2], 0, 55);
        }

        // Halving the sub-step changes little over a short horizon (the integration converges).
        var fine = LorenzSeries.Generate(50, subSteps: 20);
        Assert.Equal(fine[3 * 49], xyz[3 * 49], 1e-6);
    }
}
