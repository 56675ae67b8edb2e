using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Losses;

namespace RecurrentNets.Tests.Layers;

/// <summary>Cross-entropy against target distributions (PyTorch's class-probability targets).</summary>
public class SoftCrossEntropyTests
{
    [Theory]
    [InlineData(LossReduction.Mean)]
    [InlineData(LossReduction.Sum)]
    public void GradientMatchesFiniteDifferencesInDouble(LossReduction reduction)
    {
        const int rows = 5, classes = 7;
        var random = new SeededRandom(21);
        double[] logits = Enumerable.Range(0, rows * classes).Select(_ => 3 * random.NextNormal()).ToArray();
        double[] targets = new double[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                targets[r * classes + c] = c == r ? 0 : random.NextDouble();
                sum += targets[r * classes + c];
            }

            for (int c = 0; c < classes; c++)
            {
                targets[r * classes + c] /= sum;
            }
        }

        var analytic = new double[logits.Length];
        CrossEntropyLoss.ComputeSoft<double>(logits, targets, classes, analytic, reduction);
        var result = GradientCheck.Compare("logits", logits, analytic,
            () => CrossEntropyLoss.ComputeSoft<double>(logits, targets, classes, default, reduction));
        Assert.True(result.MaxRelativeError < 1e-7, result.ToString());

        // Targets that do not sum to one (the gradient is softmax·Σp - p).
        double[] unnormalised = targets.Select(p => 1.7 * p).ToArray();
        CrossEntropyLoss.ComputeSoft<double>(logits, unnormalised, classes, analytic, reduction);
        result = GradientCheck.Compare("logits", logits, analytic,
            () => CrossEntropyLoss.ComputeSoft<double>(logits, unnormalised, classes, default, reduction));
        Assert.True(result.MaxRelativeError < 1e-7, result.ToString());
    }

    [Fact]
    public void OneHotTargetsGiveTheClassIndexLossAndGradient()
    {
        const int rows = 4, classes = 6;
        var random = new SeededRandom(22);
        float[] logits = Enumerable.Range(0, rows * classes).Select(_ => (float)random.NextNormal()).ToArray();
        int[] classIndex = [2, 0, 5, 3];
        float[] oneHot = new float[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            oneHot[r * classes + classIndex[r]] = 1;
        }

        float[] dSoft = new float[logits.Length], dHard = new float[logits.Length];
        double soft = CrossEntropyLoss.ComputeSoft<float>(logits, oneHot, classes, dSoft);
        double hard = CrossEntropyLoss.Compute<float>(logits, classIndex, classes, dHard);
        Assert.Equal(hard, soft, 6);
        for (int i = 0; i < logits.Length; i++)
        {
            Assert.Equal(dHard[i], dSoft[i], 6);
        }
    }

    [Fact]
    public void TheMinimumIsTheTargetEntropyAtMatchingLogits()
    {
        double[] p = [0.1, 0.2, 0.3, 0.4];
        double[] logits = p.Select(v => Math.Log(v) + 2.5).ToArray();
        var d = new double[4];
        double loss = CrossEntropyLoss.ComputeSoft<double>(logits, p, 4, d);
        Assert.Equal(-p.Sum(v => v * Math.Log(v)), loss, 12);
        Assert.All(d, v => Assert.Equal(0, v, 12));
    }

    [Fact]
    public void BadInputIsRejectedWithTheArgumentNamed()
    {
        var error = Assert.Throws<ArgumentException>(() => CrossEntropyLoss.ComputeSoft<float>(new float[6], new float[4], 3, default));
        Assert.Equal("targetProbabilities", error.ParamName);
        Assert.Contains("6", error.Message);
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => CrossEntropyLoss.ComputeSoft<float>(new float[7], new float[7], 3, default)).ParamName);
        Assert.Equal("dLogits", Assert.Throws<ArgumentException>(() => CrossEntropyLoss.ComputeSoft<float>(new float[6], new float[6], 3, new float[5])).ParamName);
        Assert.Equal("targetProbabilities", Assert.Throws<ArgumentException>(
            () => CrossEntropyLoss.ComputeSoft<float>(new float[3], [0.5f, -0.1f, 0.6f], 3, default)).ParamName);
        Assert.Equal("targetProbabilities", Assert.Throws<ArgumentException>(
            () => CrossEntropyLoss.ComputeSoft<float>(new float[3], [0.5f, float.NaN, 0.5f], 3, default)).ParamName);
    }
}
