using RecurrentNets.Diagnostics;
using RecurrentNets.Init;

namespace RecurrentNets.Tests.Diagnostics;

/// <summary>The gridness score (Sargolini et al. 2006; Langston et al. 2010) on synthetic rate maps, and rate maps.</summary>
public class GridScoreTests
{
    private const int Bins = 32;

    // Σ_k cos(2π/λ · (u_k · (x, y)) + φ_k) over three directions 60° apart (or the given angles): a hexagonal pattern.
    private static double[] PlaneWaves(double wavelength, double orientation, double[] angles, double offsetX = 0.3, double offsetY = -0.2)
    {
        var map = new double[Bins * Bins];
        for (int y = 0; y < Bins; y++)
        {
            for (int x = 0; x < Bins; x++)
            {
                double value = 0;
                foreach (double angle in angles)
                {
                    double a = orientation + angle * Math.PI / 180;
                    value += Math.Cos(2 * Math.PI / wavelength * ((x + offsetX) * Math.Cos(a) + (y + offsetY) * Math.Sin(a)));
                }

                map[y * Bins + x] = value;
            }
        }

        return map;
    }

    [Theory]
    [InlineData(8.0, 0.0)]
    [InlineData(10.0, 0.3)]
    [InlineData(12.0, 1.0)]
    public void AHexagonalMapScoresHigh(double wavelength, double orientation)
    {
        var result = GridScore.Compute(PlaneWaves(wavelength, orientation, [0, 60, 120]), Bins);
        Assert.True(result.Score > 0.5, $"Hexagonal map (λ = {wavelength} bins): {result}");
        Assert.True(result.R60 > 0.5 && result.R120 > 0.5, $"{result}");
    }

    [Fact]
    public void StripeNoiseAndSquareMapsScoreLow()
    {
        var stripes = GridScore.Compute(PlaneWaves(8, 0.4, [0]), Bins);
        Assert.True(stripes.Score < 0.2, $"Stripes: {stripes}");

        var random = new SeededRandom(4);
        var noise = new double[Bins * Bins];
        for (int trial = 0; trial < 5; trial++)
        {
            for (int i = 0; i < noise.Length; i++)
            {
                noise[i] = random.NextDouble();
            }

            var result = GridScore.Compute(noise, Bins);
            Assert.True(result.Score < 0.2, $"Noise map {trial}: {result}");
        }

        // A square grid is symmetric under 90° rotation, not 60°: clearly negative.
        var square = GridScore.Compute(PlaneWaves(8, 0.2, [0, 90]), Bins);
        Assert.True(square.Score < -0.3, $"Square grid: {square}");
    }

    [Fact]
    public void TheScoreIsInvariantToTheMapsScaleAndOffset()
    {
        double[] map = PlaneWaves(9, 0.5, [0, 60, 120]);
        var random = new SeededRandom(5);
        for (int i = 0; i < map.Length; i++)
        {
            map[i] += 0.3 * random.NextNormal();
        }

        var reference = GridScore.Compute(map, Bins);
        var scaled = GridScore.Compute(map.Select(v => 37.5 * v - 4.25).ToArray(), Bins);
        Assert.Equal(reference.Score, scaled.Score, 9);
        Assert.Equal(reference.R60, scaled.R60, 9);
        Assert.Equal(reference.OuterRadius, scaled.OuterRadius);
    }

    [Fact]
    public void TheAutocorrelogramIsOneAtZeroLagSymmetricAndSkipsUnvisitedBins()
    {
        double[] map = PlaneWaves(7, 0.1, [0, 60, 120]);
        map[5] = map[200] = double.NaN;
        int side = 2 * Bins - 1;
        var sac = new double[side * side];
        GridScore.Autocorrelogram(map, Bins, sac);
        Assert.Equal(1, sac[(Bins - 1) * side + Bins - 1], 12);
        for (int i = 0; i < sac.Length; i++)
        {
            Assert.Equal(sac[i], sac[sac.Length - 1 - i], 12);
            Assert.InRange(sac[i], -1, 1);
        }

        // A single-annulus score agrees with the best-annulus score at the annulus the latter chose.
        var best = GridScore.Compute(map, Bins);
        var single = GridScore.Compute(map, Bins, best.InnerRadius, best.OuterRadius);
        Assert.Equal(best.Score, single.Score, 12);
    }

    [Fact]
    public void RateMapsAverageTheActivityPerBin()
    {
        var maps = new RateMaps(units: 2, bins: 4, arenaSize: 2.0);
        double[] positions = [-0.9, -0.9, -0.8, -0.6, 0.9, 0.9, 1.0, 1.0, 0.1, -0.1];
        float[] activity = [1, 10, 3, 30, 5, 50, 7, 70, 2, 4];
        maps.Add<float>(positions, activity);
        var map = new double[16];
        maps.GetMap(1, map);
        Assert.Equal(20, map[0]);           // (-0.9, -0.9) and (-0.8, -0.6): bin (0, 0)
        Assert.Equal(60, map[15]);          // (0.9, 0.9) and the corner (1, 1): bin (3, 3)
        Assert.Equal(4, map[1 * 4 + 2]);    // (0.1, -0.1): x bin 2, y bin 1
        Assert.True(double.IsNaN(map[5]));
        Assert.Equal(2, maps.Visits[0]);
        maps.GetMap(0, map);
        Assert.Equal(2, map[0]);
    }

    [Fact]
    public void BadInputIsRejectedWithTheArgumentNamed()
    {
        var error = Assert.Throws<ArgumentException>(() => GridScore.Compute(new double[30], 6));
        Assert.Equal("rateMap", error.ParamName);
        Assert.Contains("36", error.Message);
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => GridScore.Compute(new double[1], 1)).ParamName);
        Assert.Equal("outerRadius", Assert.Throws<ArgumentOutOfRangeException>(() => GridScore.Compute(new double[36], 6, 0.5, 0.4)).ParamName);
        Assert.Equal("innerRadius", Assert.Throws<ArgumentOutOfRangeException>(() => GridScore.Compute(new double[36], 6, -0.1, 0.4)).ParamName);
        Assert.Equal("autocorrelogram", Assert.Throws<ArgumentException>(() => GridScore.Autocorrelogram(new double[36], 6, new double[100])).ParamName);

        var maps = new RateMaps(3, 4, 2.2);
        Assert.Equal("activity", Assert.Throws<ArgumentException>(() => maps.Add<float>(new double[4], new float[5])).ParamName);
        Assert.Equal("unit", Assert.Throws<ArgumentOutOfRangeException>(() => maps.GetMap(3, new double[16])).ParamName);
        Assert.Equal("map", Assert.Throws<ArgumentException>(() => maps.GetMap(0, new double[15])).ParamName);
        Assert.Equal("arenaSize", Assert.Throws<ArgumentOutOfRangeException>(() => new RateMaps(1, 4, 0)).ParamName);
    }
}
