using System.Text.Json;
using RecurrentNets.Losses;

namespace RecurrentNets.Tests.Losses;

/// <summary>
/// <see cref="CtcLoss{T}"/> against libtorch's CPU <c>ctc_loss</c> (PyTorch 1.13, Debian's python3-torch) on the cases of
/// Golden/scripts/make_ctc.py: padded and concatenated targets, repeated labels, an empty target, a blank that is not 0,
/// infeasible targets with zero_infinity off and on, every reduction. Loss and gradient in double, to 1e-10.
/// </summary>
public sealed class CtcGoldenTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load())
        {
            data.Add(c.GetProperty("name").GetString()!);
        }

        return data;
    }

    private static JsonElement[] Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "torch-ctc.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone())];
    }

    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? e.GetString() switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, _ => double.NaN }
        : e.GetDouble();

    private static double[] Numbers(JsonElement c, string name) => [.. c.GetProperty(name).EnumerateArray().Select(Number)];

    private static int[] Integers(JsonElement c, string name) => [.. c.GetProperty(name).EnumerateArray().Select(e => e.GetInt32())];

    private static void AssertClose(double expected, double actual, string what)
    {
        if (!double.IsFinite(expected))
        {
            Assert.True(expected.Equals(actual), $"{what}: PyTorch {expected}, ours {actual}");
            return;
        }

        Assert.True(Math.Abs(expected - actual) <= 1e-10 * Math.Max(1, Math.Abs(expected)), $"{what}: PyTorch {expected:R}, ours {actual:R}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientMatchLibtorch(string name)
    {
        var c = Load().Single(e => e.GetProperty("name").GetString() == name);
        int steps = c.GetProperty("steps").GetInt32(), batch = c.GetProperty("batch").GetInt32(), classes = c.GetProperty("classes").GetInt32();
        var reduction = c.GetProperty("reduction").GetString() switch { "mean" => LossReduction.Mean, "sum" => LossReduction.Sum, _ => LossReduction.None };
        var loss = new CtcLoss<double>(c.GetProperty("blank").GetInt32(), reduction, c.GetProperty("zero_infinity").GetBoolean());
        double[] logProbs = Numbers(c, "log_probs"), expectedLoss = Numbers(c, "loss"), expectedGrad = Numbers(c, "grad");
        int[] targets = Integers(c, "targets"), inputLengths = Integers(c, "input_lengths"), targetLengths = Integers(c, "target_lengths");
        var grad = new double[logProbs.Length];
        var losses = new double[batch];
        double value = c.GetProperty("concatenated").GetBoolean()
            ? loss.ComputeConcatenated(logProbs, steps, batch, classes, targets, inputLengths, targetLengths, grad, losses)
            : loss.Compute(logProbs, steps, batch, classes, targets, c.GetProperty("max_target_length").GetInt32(), inputLengths, targetLengths, grad, losses);

        if (reduction == LossReduction.None)
        {
            Assert.Equal(batch, expectedLoss.Length);
            for (int b = 0; b < batch; b++)
            {
                AssertClose(expectedLoss[b], losses[b], $"loss {b}");
            }
        }
        else
        {
            AssertClose(expectedLoss[0], value, "loss");
        }

        Assert.Equal(expectedGrad.Length, grad.Length);
        for (int i = 0; i < grad.Length; i++)
        {
            AssertClose(expectedGrad[i], grad[i], $"gradient {i} (t {i / (batch * classes)}, b {i / classes % batch}, c {i % classes})");
        }
    }

    [Fact]
    public void TheGoldenFileHoldsEveryKindOfCase()
    {
        var cases = Load();
        Assert.True(cases.Length >= 12);
        Assert.Contains(cases, c => c.GetProperty("concatenated").GetBoolean());
        Assert.Contains(cases, c => c.GetProperty("zero_infinity").GetBoolean());
        Assert.Contains(cases, c => Numbers(c, "loss").Any(double.IsPositiveInfinity));
        Assert.Contains(cases, c => c.GetProperty("blank").GetInt32() != 0);
        foreach (string r in new[] { "mean", "sum", "none" })
        {
            Assert.Contains(cases, c => c.GetProperty("reduction").GetString() == r);
        }
    }
}
