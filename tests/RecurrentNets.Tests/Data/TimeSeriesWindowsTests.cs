using RecurrentNets.Data;
using RecurrentNets.Init;

namespace RecurrentNets.Tests.Data;

/// <summary>TimeSeriesWindows and Normalizer: windows stay inside their series, the [horizon, targetFeatures] target
/// layout, chronological splits, statistics from the training part only, constant features, inverses and JSON.</summary>
public class TimeSeriesWindowsTests
{
    // Series id: rows n = 0..rows-1, column 0 = 1000·id + n, column 1 = -n, column 2 = 0.5·n.
    private static double[,] Series(int id, int rows)
    {
        var s = new double[rows, 3];
        for (int n = 0; n < rows; n++)
        {
            s[n, 0] = 1000 * id + n;
            s[n, 1] = -n;
            s[n, 2] = 0.5 * n;
        }

        return s;
    }

    [Fact]
    public void WindowsNeverCrossSeries()
    {
        var data = TimeSeriesWindows.Create([Series(1, 10), Series(2, 6)], window: 3, horizon: 2, targetFeatures: [0]);
        Assert.Equal(6 + 2, data.Count);             // starts 0..5 in the first series, 0..1 in the second
        Assert.Equal((3, 2, false), (data.InputSize, data.TargetSize, data.TargetsPerStep));
        for (int i = 0; i < data.Count; i++)
        {
            var batch = data.Batch([i]);
            double first = batch.Features![0, 0, 0];
            for (int t = 0; t < 3; t++)
            {
                Assert.Equal(first + t, batch.Features[t, 0, 0]);
            }

            Assert.Equal([first + 3, first + 4], batch.Values!.Data);
            Assert.Equal(Math.Floor(first / 1000), Math.Floor((first + 4) / 1000));
        }
    }

    [Fact]
    public void TargetsAreHorizonByTargetFeaturesRowMajor()
    {
        var data = TimeSeriesWindows.Create(Series(1, 12), window: 4, horizon: 3, targetFeatures: [2, 1], stride: 5);
        Assert.Equal(2, data.Count);                 // starts 0 and 5 (5 + 4 + 3 = 12)
        var values = data.Batch([1]).Values!.Data;
        // Element h·2 + j = column [2, 1][j] of row 5 + 4 + h.
        Assert.Equal([4.5, -9, 5, -10, 5.5, -11], values);
        Assert.Equal(3, TimeSeriesWindows.Create(Series(1, 12), window: 4).TargetSize);   // default: every column, horizon 1
    }

    [Fact]
    public void BadSeriesAreNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => TimeSeriesWindows.Create([Series(1, 5), new double[5, 2]], window: 2));
        Assert.Contains("series 1 has 2 features but series 0 has 3", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => TimeSeriesWindows.Create(Series(1, 5), window: 4, horizon: 2));
        Assert.Contains("window + horizon = 6 rows (the longest has 5)", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => TimeSeriesWindows.Create(Series(1, 5), window: 2, targetFeatures: [3]));
        Assert.Contains("is 3 but the series have 3 features", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => TimeSeriesWindows.Split([Series(1, 10), Series(2, 1)], 0.5));
        Assert.Contains("series 1 has 1 rows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitIsChronologicalPerSeries()
    {
        var (train, valid) = TimeSeriesWindows.Split([Series(1, 10), Series(2, 5)], 0.8);
        Assert.Equal([8, 4], train.Select(s => s.GetLength(0)));
        Assert.Equal([2, 1], valid.Select(s => s.GetLength(0)));
        Assert.Equal((1007.0, 1008.0, 2004.0), (train[0][7, 0], valid[0][0, 0], valid[1][0, 0]));
        Assert.Equal(-9.0, valid[0][1, 1]);
    }

    [Fact]
    public void NormalizerSeesOnlyTheTrainingPart()
    {
        var random = new SeededRandom(21);
        var series = new double[100, 2];
        for (int n = 0; n < 100; n++)
        {
            series[n, 0] = random.NextNormal(3, 2);
            series[n, 1] = n < 70 ? random.NextNormal(-1, 0.5) : 1e6;   // the validation part is wildly different
        }

        var (train, valid) = TimeSeriesWindows.Split(series, 0.7);
        var normalizer = Normalizer<double>.Fit(train);
        for (int f = 0; f < 2; f++)
        {
            double mean = Enumerable.Range(0, 70).Average(n => series[n, f]);
            double sd = Math.Sqrt(Enumerable.Range(0, 70).Average(n => (series[n, f] - mean) * (series[n, f] - mean)));
            Assert.Equal(mean, normalizer.Mean[f], 1e-12);
            Assert.Equal(sd, normalizer.StandardDeviation[f], 1e-12);
        }

        Assert.True(normalizer.Mean[1] < 0);
        var transformed = normalizer.Transform(valid);
        Assert.Equal((1e6 - normalizer.Mean[1]) / normalizer.StandardDeviation[1], transformed[0, 1], 1e-9);
    }

    [Fact]
    public void ConstantFeatureGetsUnitDeviation()
    {
        var series = new float[5, 2] { { 1, 7 }, { 2, 7 }, { 3, 7 }, { 4, 7 }, { 5, 7 } };
        var normalizer = Normalizer<float>.Fit(series);
        Assert.Equal(1f, normalizer.StandardDeviation[1]);
        var z = normalizer.Transform(series);
        Assert.All(Enumerable.Range(0, 5), n => Assert.Equal(0f, z[n, 1]));
        var back = normalizer.Inverse(z);
        Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(series[i / 2, i % 2], back[i / 2, i % 2], 1e-5f));
    }

    [Fact]
    public void InverseTargetsMapsNormalizedTargetsBack()
    {
        var series = Series(3, 20);
        var normalizer = Normalizer<double>.Fit(series);
        int[] targetFeatures = [2, 0];
        var raw = TimeSeriesWindows.Create(series, window: 5, horizon: 2, targetFeatures);
        var normalized = TimeSeriesWindows.Create(normalizer.Transform(series), window: 5, horizon: 2, targetFeatures);
        var targets = normalized.Batch([0, 7, 13]).Values!.Data.ToArray();   // [B, H·TF] for one target per sequence
        normalizer.InverseTargets(targets, targetFeatures);
        var expected = raw.Batch([0, 7, 13]).Values!.Data;
        for (int i = 0; i < targets.Length; i++)
        {
            Assert.Equal(expected[i], targets[i], 1e-9);
        }

        Assert.Throws<ArgumentException>(() => normalizer.InverseTargets(new double[5], targetFeatures));
        Assert.Throws<ArgumentException>(() => normalizer.InverseTargets(new double[4], [0, 3]));
    }

    [Fact]
    public void NormalizerJsonRoundTripsExactly()
    {
        var random = new SeededRandom(5);
        var series = new float[30, 3];
        for (int n = 0; n < 30; n++)
        {
            for (int f = 0; f < 3; f++)
            {
                series[n, f] = (float)random.NextNormal(f, 1 + f);
            }
        }

        var normalizer = Normalizer<float>.Fit(series);
        var copy = Normalizer<float>.FromJson(normalizer.ToJson());
        Assert.Equal(normalizer.Mean.ToArray(), copy.Mean.ToArray());
        Assert.Equal(normalizer.StandardDeviation.ToArray(), copy.StandardDeviation.ToArray());
    }

    [Theory]
    [InlineData("{\"mean\": [1, 2], ", "malformed")]
    [InlineData("3", "not a JSON object")]
    [InlineData("{\"mean\": [1, 2]}", "'standardDeviation' is not an array")]
    [InlineData("{\"mean\": [1, \"x\"], \"standardDeviation\": [1, 1]}", "mean[1] is not a number")]
    [InlineData("{\"mean\": [1, 2], \"standardDeviation\": [1]}", "mean has 2 features but standardDeviation has 1")]
    [InlineData("{\"mean\": [1, 2], \"standardDeviation\": [1, 0]}", "standardDeviation of feature 1 is 0")]
    public void CorruptNormalizerJsonThrowsInvalidData(string json, string reason)
    {
        var e = Assert.Throws<InvalidDataException>(() => Normalizer<double>.FromJson(json));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
