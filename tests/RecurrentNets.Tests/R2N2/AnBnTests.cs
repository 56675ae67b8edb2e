using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.R2N2.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.R2N2;

/// <summary>
/// aⁿbⁿ under the authors' protocol (Cheng and Brown 2025, exp_anbn): 10 000 epochs of the 4 sequences of a range,
/// score = mean "correct at all but one position" over the last 100 epochs. Every score is held to the value measured on
/// three seed sets fixed before measuring, {0, 1}, {500, 501}, {1000, 1001} (shuffle seed = seed + 100), by
/// <c>dotnet run -c Release --project samples/R2N2AnBn -- --markdown --range 1 6 11 --seed 0 1 500 501 1000 1001
/// --models R2N2-FA R2N2-exact RFLO ESN RFLO:released ESN:released</c> (2026-12-07; the runs are the same bits on every
/// vector path, so each value is exact, not a sample). The authors' code on this machine: R2N2-FA 0.950 / 0.968 (m = 1),
/// 0.943 / 0.920 (m = 6), 0.735 / 0.823 (m = 11); RFLO 0.50, 0.50, 0.25–0.28; ESN 0.75, 0.25–0.50, 0.25.
/// </summary>
public class AnBnTests(ITestOutputHelper output)
{
    /// <summary>
    /// Margin around each measured score: 0.01 = 4 of the 400 scored episodes. It only absorbs a change in the last bits
    /// of the arithmetic (a different but equally valid rounding); a model that learns less, or a baseline that learns
    /// more or less, moves a score by far more (RFLO/ESN move in steps of 0.25 when a sequence is solved or lost).
    /// </summary>
    private const double Margin = 0.01;

    private static readonly ulong[] Seeds = [0, 1, 500, 501, 1000, 1001];

    /// <summary>The measured scores, per model and range m, for <see cref="Seeds"/> in order.</summary>
    private static readonly Dictionary<(string Model, int M), double[]> Measured = new()
    {
        [("R2N2-FA", 1)] = [0.955, 0.953, 0.948, 0.935, 0.960, 0.948],
        [("R2N2-exact", 1)] = [0.993, 0.993, 0.985, 0.978, 0.998, 0.993],
        [("RFLO", 1)] = [0.500, 0.500, 0.500, 0.500, 0.500, 0.500],
        [("ESN", 1)] = [0.500, 0.500, 0.500, 0.500, 0.500, 0.500],
        [("RFLO:released", 1)] = [0.500, 0.500, 0.500, 0.500, 0.500, 0.500],
        [("ESN:released", 1)] = [0.750, 0.750, 0.750, 0.750, 0.750, 0.750],
        [("R2N2-FA", 6)] = [0.850, 0.945, 0.915, 0.922, 0.925, 0.950],
        [("R2N2-exact", 6)] = [0.998, 1.000, 1.000, 1.000, 1.000, 1.000],
        [("RFLO", 6)] = [0.340, 0.250, 0.532, 0.448, 0.250, 0.113],
        [("ESN", 6)] = [0.250, 0.000, 0.250, 0.000, 0.250, 0.250],
        [("RFLO:released", 6)] = [0.500, 0.500, 0.748, 0.500, 0.463, 0.372],
        [("ESN:released", 6)] = [0.500, 0.500, 0.500, 0.500, 0.250, 0.500],
        [("R2N2-FA", 11)] = [0.725, 0.790, 0.830, 0.807, 0.845, 0.815],
        [("R2N2-exact", 11)] = [0.995, 0.990, 0.995, 0.988, 0.993, 0.993],
        [("RFLO", 11)] = [0.250, 0.250, 0.250, 0.250, 0.250, 0.250],
        [("ESN", 11)] = [0.250, 0.250, 0.250, 0.250, 0.000, 0.250],
        [("RFLO:released", 11)] = [0.250, 0.250, 0.250, 0.250, 0.250, 0.000],
        [("ESN:released", 11)] = [0.250, 0.250, 0.250, 0.250, 0.250, 0.250],
    };

    internal static ISequenceLearner Make(string model, ulong seed) => model switch
    {
        "R2N2-FA" => AnBnProtocol.CreateLearner(AnBnModel.R2N2FeedbackAlignment, seed),
        "R2N2-exact" => AnBnProtocol.CreateLearner(AnBnModel.R2N2Exact, seed),
        "RFLO" => AnBnProtocol.CreateLearner(AnBnModel.Rflo, seed),
        "ESN" => AnBnProtocol.CreateLearner(AnBnModel.EchoStateNetwork, seed),
        "RFLO:released" => AnBnProtocol.CreateLearner(AnBnModel.Rflo, seed, RfloQuirks.ReleasedCode),
        "ESN:released" => AnBnProtocol.CreateLearner(AnBnModel.EchoStateNetwork, seed, RfloQuirks.ReleasedCode),
        _ => throw new ArgumentException(model),
    };

    private double Run(string model, int m, ulong seed, int epochs = 10_000)
    {
        var run = AnBnProtocol.Run(Make(model, seed), m, epochs, seed + 100);
        output.WriteLine($"{model,-13} m = {m,2} seed {seed,4}: score {run.Score():F3}; per n {string.Join(" ", Enumerable.Range(0, 4).Select(i => run.ScoreOf(i).ToString("F2")))}; "
            + $"at epochs 1000/2000/4000/8000: {string.Join(" / ", new[] { 1000, 2000, 4000, 8000 }.Select(e => run.ScoreAt(e).ToString("F2")))}");
        return run.Score();
    }

    private void AssertMeasured(string model, int m, int seedIndex, double score)
    {
        double expected = Measured[(model, m)][seedIndex];
        Assert.True(Math.Abs(score - expected) <= Margin,
            $"{model}, m = {m}, seed {Seeds[seedIndex]}: scored {score:F3}, measured {expected:F3} (margin {Margin})");
    }

    /// <summary>The fast version: m = 1, seed 0, R2N2-FA against the four baselines (≈ 12 s of one core).</summary>
    [Fact]
    public void R2N2WithFeedbackAlignmentLearnsRangeOneToFourAndBeatsRfloAndEsn()
    {
        var scores = new Dictionary<string, double>();
        foreach (string model in new[] { "R2N2-FA", "RFLO", "ESN", "RFLO:released", "ESN:released" })
        {
            scores[model] = Run(model, 1, 0);
            AssertMeasured(model, 1, 0, scores[model]);
        }

        Assert.All(scores.Where(s => s.Key != "R2N2-FA"), s => Assert.True(scores["R2N2-FA"] > s.Value, $"R2N2-FA {scores["R2N2-FA"]}, {s.Key} {s.Value}"));
    }

    /// <summary>The full ranges on the three seed sets, all six models: every score at its measured value, and on every
    /// seed set the R2N2 set means above every baseline's, the authors' baselines (released code's quirks) included.</summary>
    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(11)]
    public void FullRangesThreeSeedSetsAllModels(int m)
    {
        string[] models = ["R2N2-FA", "R2N2-exact", "RFLO", "ESN", "RFLO:released", "ESN:released"];
        var scores = new double[models.Length, Seeds.Length];
        Parallel.For(0, models.Length * Seeds.Length, new ParallelOptions { MaxDegreeOfParallelism = 2 }, k =>
        {
            int i = k / Seeds.Length, j = k % Seeds.Length;
            scores[i, j] = Run(models[i], m, Seeds[j]);
        });
        for (int i = 0; i < models.Length; i++)
        {
            for (int j = 0; j < Seeds.Length; j++)
            {
                AssertMeasured(models[i], m, j, scores[i, j]);
            }
        }

        for (int set = 0; set < 3; set++)
        {
            double SetMean(int i) => (scores[i, 2 * set] + scores[i, 2 * set + 1]) / 2;
            for (int baseline = 2; baseline < models.Length; baseline++)
            {
                Assert.True(SetMean(0) > SetMean(baseline) && SetMean(1) > SetMean(baseline),
                    $"m = {m}, seed set {set + 1}: R2N2-FA {SetMean(0):F3}, R2N2-exact {SetMean(1):F3}, {models[baseline]} {SetMean(baseline):F3}");
            }
        }
    }
}
