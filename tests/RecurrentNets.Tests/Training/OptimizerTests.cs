using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;

namespace RecurrentNets.Tests.Training;

public class OptimizerTests
{
    private static ParameterBlock<double> Block(double[] values)
    {
        var block = new ParameterBlock<double>();
        block.Add("w", values.Length).CopyFrom(values);
        return block;
    }

    [Fact]
    public void AdamFollowsPyTorchsUpdateRule()
    {
        double[] p = [0.5, -1.0, 2.0, 0.0, 3.0];
        var block = Block(p);
        var adam = new Adam<double>(block, learningRate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-6, weightDecay: 0.1);
        double[] m = new double[5], v = new double[5];
        for (int step = 1; step <= 4; step++)
        {
            for (int i = 0; i < 5; i++)
            {
                block.Gradients[i] = Math.Sin(step + i) * (i + 1);
            }

            double[] g = block.Gradients.Select((x, i) => x + 0.1 * p[i]).ToArray();
            adam.Step();
            for (int i = 0; i < 5; i++)
            {
                m[i] = 0.8 * m[i] + 0.2 * g[i];
                v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
                double mHat = m[i] / (1 - Math.Pow(0.8, step)), vHat = v[i] / (1 - Math.Pow(0.95, step));
                p[i] -= 0.01 * mHat / (Math.Sqrt(vHat) + 1e-6);
            }

            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(p[i], block.Values[i], 1e-13);
            }
        }

        Assert.Equal(4, adam.StepCount);
    }

    [Fact]
    public void AdamWDecaysWeightsDirectly()
    {
        var block = Block([2.0]);
        var adam = new Adam<double>(block, learningRate: 0.1, weightDecay: 0.5, decoupledWeightDecay: true);
        block.Gradients[0] = 3;
        adam.Step();
        // p·(1 - lr·λ) then the first Adam step moves by lr·sign(g) (up to ε).
        Assert.Equal(2.0 * 0.95 - 0.1, block.Values[0], 1e-7);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SgdMomentumFollowsPyTorchsUpdateRule(bool nesterov)
    {
        double[] p = [1.0, -2.0, 0.25];
        var block = Block(p);
        var sgd = new Sgd<double>(block, 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: nesterov);
        double[] buf = new double[3];
        for (int step = 0; step < 3; step++)
        {
            for (int i = 0; i < 3; i++)
            {
                block.Gradients[i] = Math.Cos(step * 3 + i);
            }

            double[] g = block.Gradients.Select((x, i) => x + 0.01 * p[i]).ToArray();
            sgd.Step();
            for (int i = 0; i < 3; i++)
            {
                buf[i] = step == 0 ? g[i] : 0.9 * buf[i] + g[i];
                p[i] -= 0.1 * (nesterov ? g[i] + 0.9 * buf[i] : buf[i]);
                Assert.Equal(p[i], block.Values[i], 1e-14);
            }
        }
    }

    [Fact]
    public void PlainSgdIsTheDeltaRule()
    {
        var block = Block([1.0, 2.0]);
        block.Gradients[0] = 0.5;
        block.Gradients[1] = -1;
        new Sgd<double>(block, 0.2).Step();
        Assert.Equal([0.9, 2.2], block.Values);
    }

    [Fact]
    public void ClippingScalesToTheGlobalNormAndReportsTheNormBefore()
    {
        var block = new ParameterBlock<float>();
        block.Add("a", 2);
        block.Add("b", 1);
        block.Gradients[0] = 3;
        block.Gradients[1] = 4;
        block.Gradients[2] = 12; // norm 13
        double norm = GradientClipping.ClipGradientNorm(block, 6.5);
        Assert.Equal(13, norm, 5);
        Assert.Equal(6.5, GradientClipping.GradientNorm(block), 4);
        Assert.Equal(1.5f, block.Gradients[0], 4);

        // Below the threshold nothing changes.
        double again = GradientClipping.ClipGradientNorm(block, 100);
        Assert.Equal(6.5, again, 4);
        Assert.Equal(1.5f, block.Gradients[0], 4);
    }

    [Fact]
    public void BadHyperparametersAreRejected()
    {
        var block = Block([1.0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<double>(block, -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<double>(block, 0.1, momentum: 1));
        Assert.Throws<ArgumentException>(() => new Sgd<double>(block, 0.1, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<double>(block, beta1: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<double>(block, epsilon: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGradientNorm(block, 0));
        Assert.Throws<InvalidOperationException>(() => block.Add("late", 2)); // frozen by the optimisers
    }
}
