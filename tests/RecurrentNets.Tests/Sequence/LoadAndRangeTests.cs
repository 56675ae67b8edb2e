using RecurrentNets.Init;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

public class LoadAndRangeTests
{
    [Fact]
    public void LoadingAStateDictChecksEveryNameAndShapeBeforeWriting()
    {
        var source = new Lstm<float>(3, 5, random: new SeededRandom(1));
        var target = new Lstm<float>(3, 5, random: new SeededRandom(2));
        var dict = source.Parameters.Views.ToDictionary(v => v.Name, v => (v.Shape.ToArray(), v.Values.ToArray()));
        target.Parameters.Load(dict);
        Assert.Equal(source.Parameters.Values, target.Parameters.Values);

        var other = new Lstm<float>(3, 6, random: new SeededRandom(3));
        float[] before = (float[])other.Parameters.Values.Clone();
        var ex = Assert.Throws<ArgumentException>(() => other.Parameters.Load(dict));
        Assert.Contains("'weight_ih_l0' has shape [20, 3] in the source but [24, 3] in this model", ex.Message);
        Assert.Equal(before, other.Parameters.Values); // nothing half-loaded

        var gru = new Gru<float>(3, 5);
        ex = Assert.Throws<ArgumentException>(() => gru.Parameters.Load(dict));
        Assert.Contains("[20, 3]", ex.Message);
        Assert.Contains("[15, 3]", ex.Message);

        dict.Remove("bias_hh_l0");
        ex = Assert.Throws<ArgumentException>(() => target.Parameters.Load(dict));
        Assert.Contains("no 'bias_hh_l0'", ex.Message);
        dict["extra"] = ([1], [0f]);
        ex = Assert.Throws<ArgumentException>(() => target.Parameters.Load(dict));
        Assert.Contains("'extra' is not a parameter", ex.Message);
    }

    [Fact]
    public void AStreamFedInPiecesEqualsTheStreamFedWhole()
    {
        var x = EngineTests.Random(new SeededRandom(4), 30, 2, 3);
        var whole = new Gru<double>(3, 4, random: new SeededRandom(5));
        var pieces = new Gru<double>(3, 4, random: new SeededRandom(5));
        var a = new TruncatedBptt<double>(whole, 7, 2);
        var b = new TruncatedBptt<double>(pieces, 7, 2);
        var objective = new OnesObjective();
        a.Run(x, objective);
        b.Run(x, objective, 0, 14);
        b.Run(x, objective, 14, 16);
        Assert.Equal(a.State.Hidden.Data, b.State.Hidden.Data);
        Assert.Equal(whole.Parameters.Gradients, pieces.Parameters.Gradients);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Run(x, objective, 25, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Run(x, objective, 0, 0));
    }

    private sealed class OnesObjective : IWindowObjective<double>
    {
        public double LossAndGradient(int windowStart, Tensor<double> output, Tensor<double> dOutput)
        {
            dOutput.AsSpan().Fill(1);
            return 0;
        }

        public void AfterBackward(int windowStart)
        {
        }
    }
}
