using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;

namespace RecurrentNets.Tests.Layers;

public class EmbeddingDropoutTests
{
    [Fact]
    public void EmbeddingGradientMatchesFiniteDifferencesAndSkipsThePaddingRow()
    {
        var embedding = new Embedding<double>(6, 3, paddingIndex: 2, random: new SeededRandom(1));
        Assert.All(embedding.Weight.Values.Slice(6, 3).ToArray(), v => Assert.Equal(0, v));
        int[] indices = [1, 4, 2, 1, 5];
        var w = RecurrentNets.Tests.Sequence.EngineTests.Random(new SeededRandom(2), 5, 3).Data;
        var output = new double[15];
        double Loss()
        {
            embedding.Forward(indices, output);
            double loss = 0;
            for (int i = 0; i < output.Length; i++)
            {
                loss += Math.Sin(output[i]) * w[i];
            }

            embedding.Parameters.ZeroGradients();
            var d = new double[15];
            for (int i = 0; i < d.Length; i++)
            {
                d[i] = Math.Cos(output[i]) * w[i];
            }

            embedding.Backward(indices, d);
            return loss;
        }

        // Every row but the padding row, whose gradient is zero by definition (as PyTorch's padding_idx).
        Loss();
        double[] analytic = (double[])embedding.Parameters.Gradients.Clone();
        var before = GradientCheck.Compare("rows 0-1", embedding.Parameters.Values, 0, 6, analytic.AsSpan(0, 6), Loss);
        var after = GradientCheck.Compare("rows 3-5", embedding.Parameters.Values, 9, 9, analytic.AsSpan(9, 9), Loss);
        Assert.True(before.MaxRelativeError < 1e-6, before.ToString());
        Assert.True(after.MaxRelativeError < 1e-6, after.ToString());

        Loss();
        Assert.All(embedding.Weight.Gradients.Slice(6, 3).ToArray(), g => Assert.Equal(0, g)); // padding row
        Assert.All(embedding.Weight.Gradients[..3].ToArray(), g => Assert.Equal(0, g));      // row 0 unused
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => embedding.Forward([0, 6], new double[6]));
        Assert.Contains("outside [0, 6)", ex.Message);
    }

    [Fact]
    public void DropoutScalesKeptUnitsAndBackpropagatesThroughTheSameMask()
    {
        var dropout = new Dropout<double>(0.25, new SeededRandom(3));
        var x = Enumerable.Repeat(1.0, 40_000).ToArray();
        var y = new double[x.Length];
        dropout.Forward(x, y);
        double zeros = y.Count(v => v == 0) / (double)y.Length;
        Assert.InRange(zeros, 0.24, 0.26);
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1 / 0.75, v, 12));
        Assert.Equal(1.0, y.Average(), 2);
        var dx = new double[x.Length];
        dropout.Backward(x, dx);
        Assert.Equal(y, dx);
        dropout.Training = false;
        dropout.Forward(x, y);
        Assert.Equal(x, y);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout<float>(1));
    }
}
