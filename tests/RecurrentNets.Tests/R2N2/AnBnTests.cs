using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.R2N2.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.R2N2;

/// <summary>
/// aⁿbⁿ under the authors' protocol (Cheng and Brown 2025, exp_anbn): 10 000 epochs of the 4 sequences of a range,
/// score = mean "correct at all but one position" over the last 100 epochs. The authors' code on this machine:
/// R2N2-FA 0.950 / 0.968 (m = 1), 0.943 / 0.920 (m = 6), 0.735 / 0.823 (m = 11); RFLO 0.50, 0.50, 0.25–0.28; ESN 0.75, 0.25–0.50, 0.25.
/// </summary>
public class AnBnTests(ITestOutputHelper output)
{
    internal static ISequenceLearner Make(string model, ulong seed) => model switch
    {
        "R2N2-FA" => new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = 3, OutputSize = 3, BackwardGain = 1.4, Seed = seed }),
        "R2N2-exact" => new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = 3, OutputSize = 3, Feedback = FeedbackMode.Transposed, Seed = seed }),
        "RFLO" => new Rflo(3, 64, 3, seed),
        "ESN" => new EchoStateNetwork(3, 64, 3, seed),
        _ => throw new ArgumentException(model),
    };

    private double Run(string model, int m, ulong seed, int epochs = 10_000)
    {
        var run = AnBnProtocol.Run(Make(model, seed), m, epochs, seed + 100);
        output.WriteLine($"{model,-11} m = {m,2} seed {seed}: score {run.Score():F3}; per n {string.Join(" ", Enumerable.Range(0, 4).Select(i => run.ScoreOf(i).ToString("F2")))}; "
            + $"at epochs 1000/2000/4000/8000: {string.Join(" / ", new[] { 1000, 2000, 4000, 8000 }.Select(e => run.ScoreAt(e).ToString("F2")))}");
        return run.Score();
    }

    [Fact]
    public void R2N2WithFeedbackAlignmentLearnsRangeOneToFourAndBeatsRfloAndEsn()
    {
        double r2n2 = Run("R2N2-FA", 1, 0);
        double rflo = Run("RFLO", 1, 0);
        double esn = Run("ESN", 1, 0);
        Assert.True(r2n2 > 0.8, $"R2N2-FA scored {r2n2}");
        Assert.True(r2n2 > rflo && r2n2 > esn, $"R2N2-FA {r2n2}, RFLO {rflo}, ESN {esn}");
    }

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(11)]
    public void FullRangesTwoSeedsAllModels(int m)
    {
        foreach (ulong seed in new ulong[] { 0, 1 })
        {
            double fa = Run("R2N2-FA", m, seed);
            double exact = Run("R2N2-exact", m, seed);
            double rflo = Run("RFLO", m, seed);
            double esn = Run("ESN", m, seed);
            Assert.True(fa > rflo && fa > esn, $"m = {m}, seed {seed}: R2N2-FA {fa}, RFLO {rflo}, ESN {esn}");
            Assert.True(exact > rflo && exact > esn);
            if (m == 1)
            {
                Assert.True(fa > 0.8);
            }
        }
    }
}
