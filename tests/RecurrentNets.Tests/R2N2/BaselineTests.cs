using RecurrentNets.R2N2.Baselines;
using RecurrentNets.R2N2.Tasks;
using RecurrentNets.Tensors;
using Xunit;

namespace RecurrentNets.Tests.R2N2;

/// <summary>
/// The RFLO and ESN baselines against a naive scalar twin of one training sequence, textbook and with each of the released
/// code's quirks (github.com/CogControlLab/R2N2 e25b9e6, <c>RfloRNN.run_trial</c>; spec §8.8).
/// </summary>
public class BaselineTests
{
    public static TheoryData<RfloQuirks> EachQuirk => [RfloQuirks.None, RfloQuirks.NonPositiveInputWeights, RfloQuirks.FirstInputSkipped,
        RfloQuirks.LaggedInputTrace, RfloQuirks.SoftClippedDerivative, RfloQuirks.StepOverOutputs, RfloQuirks.ReleasedCode,
        RfloQuirks.FirstInputSkipped | RfloQuirks.LaggedInputTrace];

    [Theory]
    [MemberData(nameof(EachQuirk))]
    public void RfloSequenceEqualsTheNaiveTwin(RfloQuirks quirks)
    {
        var rflo = new Rflo(3, 16, 3, 5, learningRate: 0.3, quirks: quirks);
        CheckAgainstTwin(rflo, quirks, learnRecurrent: true, learnInput: true, n: 3);
        CheckAgainstTwin(rflo, quirks, learnRecurrent: true, learnInput: true, n: 1);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EchoStateNetworkSequenceEqualsTheNaiveTwin(bool trainInput)
    {
        var esn = new EchoStateNetwork(3, 16, 3, 6, learningRate: 0.3, trainInput: trainInput, quirks: RfloQuirks.ReleasedCode);
        double[] recurrent = (double[])esn.WeightRec.Clone(), input = (double[])esn.WeightIn.Clone();
        CheckAgainstTwin(esn, RfloQuirks.ReleasedCode, learnRecurrent: false, learnInput: trainInput, n: 4);
        Assert.Equal(recurrent, esn.WeightRec);
        Assert.Equal(trainInput, !input.SequenceEqual(esn.WeightIn));
    }

    [Fact]
    public void NonPositiveInputWeightsChangesOnlyTheRangeOfWIn()
    {
        var textbook = new Rflo(3, 32, 3, 9);
        var quirky = new Rflo(3, 32, 3, 9, quirks: RfloQuirks.NonPositiveInputWeights);
        Assert.All(quirky.WeightIn, w => Assert.InRange(w, -0.1, 0));
        Assert.Contains(textbook.WeightIn, w => w > 0);
        Assert.Equal(textbook.WeightRec, quirky.WeightRec);
        Assert.Equal(textbook.WeightOut, quirky.WeightOut);
        Assert.Equal(textbook.Feedback, quirky.Feedback);
        for (int i = 0; i < textbook.WeightIn.Length; i++)
        {
            Assert.Equal(textbook.WeightIn[i] - 0.1, 2 * quirky.WeightIn[i], 1e-15); // the same draw u: −0.1 + 0.2u against −0.1 + 0.1u
        }
    }

    [Fact]
    public void UndefinedQuirksAreRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Rflo(3, 8, 3, 1, quirks: (RfloQuirks)64));
        Assert.Equal("quirks", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new EchoStateNetwork(3, 8, 3, 1, quirks: (RfloQuirks)(-1)));
        Assert.Equal("quirks", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => AnBnProtocol.CreateLearner(AnBnModel.R2N2Exact, 1, RfloQuirks.ReleasedCode));
        Assert.Equal("baselineQuirks", e.ParamName);
    }

    /// <summary>Trains <paramref name="learner"/> on aⁿbⁿ item n and checks loss, score and weights against the twin.</summary>
    private static void CheckAgainstTwin(RecurrentNets.R2N2.ISequenceLearner learner, RfloQuirks quirks, bool learnRecurrent, bool learnInput, int n)
    {
        var (wRec, wIn, wOut, feedback) = learner switch
        {
            Rflo r => (r.WeightRec, r.WeightIn, r.WeightOut, r.Feedback),
            EchoStateNetwork e => (e.WeightRec, e.WeightIn, e.WeightOut, e.Feedback),
            _ => throw new ArgumentException("not an RFLO baseline", nameof(learner)),
        };
        const double lr = 0.3;
        double[] rec = (double[])wRec.Clone(), input = (double[])wIn.Clone(), readout = (double[])wOut.Clone();
        var sequence = AnBnTask.Sequence(n);
        var (loss, correct) = Twin(sequence, rec, input, readout, feedback, lr, quirks, learnRecurrent, learnInput);
        var result = learner.TrainSequence(sequence);
        Assert.Equal(loss, result.Loss, 1e-12);
        Assert.Equal(correct, result.Correct);
        Assert.Equal(sequence.Size(0) - 1, result.Predictions);
        AssertClose(rec, wRec);
        AssertClose(readout, wOut);
        AssertClose(input, wIn);
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-13);
        }
    }

    /// <summary>
    /// One sequence of RFLO written out in scalar loops, each quirk on its own: items s_0 … s_{L−1}; the textbook step
    /// t = 1 … L−1 feeds s_{t−1} and predicts s_t; W += lr·ΔW/L. Returns the loss and the number of correct predictions.
    /// </summary>
    private static (double Loss, int Correct) Twin(Tensor<double> s, double[] wRec, double[] wIn, double[] wOut, double[] b,
        double lr, RfloQuirks quirks, bool learnRecurrent, bool learnInput)
    {
        int length = s.Size(0), nx = s.Size(1), ny = nx, hidden = (int)Math.Round(Math.Sqrt(wRec.Length));
        const double tau = 10;
        var h = Enumerable.Repeat(0.1, hidden).ToArray();
        var p = new double[hidden, hidden];
        var q = new double[hidden, nx];
        var dRec = new double[hidden, hidden];
        var dIn = new double[hidden, nx];
        var dOut = new double[ny, hidden];
        double loss = 0;
        int correct = 0, first = 1;
        double Item(int t, int j) => t < 0 ? 0 : s[t, j];
        int Argmax(int t)
        {
            int best = 0;
            for (int j = 1; j < ny; j++)
            {
                best = s[t, j] > s[t, best] ? j : best;
            }

            return best;
        }

        if (quirks.HasFlag(RfloQuirks.FirstInputSkipped))
        {
            // y_0 = 0 against s_1: argmax of zeros is symbol 0.
            first = 2;
            for (int j = 0; j < ny; j++)
            {
                loss += 0.5 * s[1, j] * s[1, j];
            }

            correct += Argmax(1) == 0 ? 1 : 0;
        }

        if (quirks.HasFlag(RfloQuirks.LaggedInputTrace))
        {
            for (int i = 0; i < hidden; i++)
            {
                for (int j = 0; j < nx; j++)
                {
                    q[i, j] = Item(first - 2, j) / tau;
                }
            }
        }

        for (int t = first; t < length; t++)
        {
            var u = new double[hidden];
            var hNew = new double[hidden];
            var df = new double[hidden];
            for (int i = 0; i < hidden; i++)
            {
                for (int k = 0; k < hidden; k++)
                {
                    u[i] += wRec[i * hidden + k] * h[k];
                }

                for (int j = 0; j < nx; j++)
                {
                    u[i] += wIn[i * nx + j] * s[t - 1, j];
                }

                hNew[i] = h[i] + (Math.Tanh(u[i]) - h[i]) / tau;
                df[i] = quirks.HasFlag(RfloQuirks.SoftClippedDerivative)
                    ? 1 / Math.Pow(Math.Cosh(10 * Math.Tanh(u[i] / 10)), 2)
                    : 1 - Math.Tanh(u[i]) * Math.Tanh(u[i]);
            }

            var y = new double[ny];
            var err = new double[ny];
            int best = 0;
            for (int o = 0; o < ny; o++)
            {
                for (int k = 0; k < hidden; k++)
                {
                    y[o] += wOut[o * hidden + k] * hNew[k];
                }

                err[o] = s[t, o] - y[o];
                loss += 0.5 * err[o] * err[o];
                best = y[o] > y[best] ? o : best;
            }

            correct += best == Argmax(t) ? 1 : 0;
            for (int i = 0; i < hidden; i++)
            {
                double fed = 0;
                for (int o = 0; o < ny; o++)
                {
                    fed += b[i * ny + o] * err[o];
                }

                for (int k = 0; k < hidden; k++)
                {
                    p[i, k] = (1 - 1 / tau) * p[i, k] + df[i] * h[k] / tau;
                    dRec[i, k] += fed * p[i, k];
                }

                for (int j = 0; j < nx; j++)
                {
                    double x = quirks.HasFlag(RfloQuirks.LaggedInputTrace) ? Item(t - 2, j) : s[t - 1, j];
                    q[i, j] = (1 - 1 / tau) * q[i, j] + df[i] * x / tau;
                    dIn[i, j] += fed * q[i, j];
                }
            }

            for (int o = 0; o < ny; o++)
            {
                for (int k = 0; k < hidden; k++)
                {
                    dOut[o, k] += err[o] * hNew[k];
                }
            }

            h = hNew;
        }

        double step = lr / (quirks.HasFlag(RfloQuirks.StepOverOutputs) ? length - 1 : length);
        for (int i = 0; i < hidden; i++)
        {
            for (int k = 0; k < hidden; k++)
            {
                wRec[i * hidden + k] += learnRecurrent ? step * dRec[i, k] : 0;
            }

            for (int j = 0; j < nx; j++)
            {
                wIn[i * nx + j] += learnInput ? step * dIn[i, j] : 0;
            }
        }

        for (int o = 0; o < ny; o++)
        {
            for (int k = 0; k < hidden; k++)
            {
                wOut[o * hidden + k] += step * dOut[o, k];
            }
        }

        return (loss, correct);
    }
}
