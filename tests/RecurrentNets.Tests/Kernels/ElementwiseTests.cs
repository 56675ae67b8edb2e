using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Losses;
using RecurrentNets.Reference;
using RecurrentNets.Diagnostics;

namespace RecurrentNets.Tests.Kernels;

public class ElementwiseTests
{
    public static IEnumerable<object[]> Lengths() => Enumerable.Range(0, 70).Concat([127, 128, 129, 1031]).Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FastKernelsMatchReferenceAtEveryLength(int n)
    {
        var random = new SeededRandom((ulong)n + 1);
        float[] h = Enumerable.Range(0, n).Select(_ => (float)random.NextUniform(-1, 1)).ToArray();
        float[] dh = Enumerable.Range(0, n).Select(_ => (float)random.NextNormal()).ToArray();
        var fast = new float[n];
        var slow = new float[n];
        Elementwise.TanhBackward<float>(h, dh, fast);
        ReferenceElementwise.TanhBackward<float>(h, dh, slow);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(slow[i], fast[i], 1e-6f);
        }

        Elementwise.ReluBackward<float>(h, dh, fast);
        ReferenceElementwise.ReluBackward<float>(h, dh, slow);
        Assert.Equal(slow, fast);

        if (n > 0)
        {
            int rows = 1 + n % 5, columns = n;
            double[] m = Enumerable.Range(0, rows * columns).Select(_ => random.NextNormal()).ToArray();
            var sumFast = new double[columns];
            var sumSlow = new double[columns];
            Elementwise.AddColumnSums<double>(m, rows, columns, sumFast);
            ReferenceElementwise.AddColumnSums<double>(m, rows, columns, sumSlow);
            Assert.Equal(sumSlow, sumFast);

            var pFast = new double[rows * columns];
            var pSlow = new double[rows * columns];
            Softmax.Rows<double>(m, rows, columns, pFast);
            ReferenceElementwise.SoftmaxRows<double>(m, rows, columns, pSlow);
            for (int i = 0; i < pFast.Length; i++)
            {
                Assert.Equal(pSlow[i], pFast[i], 1e-14);
            }
        }
    }

    [Fact]
    public void CrossEntropyGradientMatchesFiniteDifferencesAndIgnoresNegativeTargets()
    {
        var random = new SeededRandom(4);
        const int rows = 6, classes = 5;
        double[] logits = Enumerable.Range(0, rows * classes).Select(_ => 3 * random.NextNormal()).ToArray();
        int[] targets = [0, 4, -1, 2, -100, 1];
        var d = new double[logits.Length];
        foreach (var reduction in new[] { LossReduction.Mean, LossReduction.Sum })
        {
            CrossEntropyLoss.Compute<double>(logits, targets, classes, d, reduction);
            var result = GradientCheck.Compare("logits", logits, d,
                () => CrossEntropyLoss.Compute<double>(logits, targets, classes, [], reduction));
            Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
            Assert.All(d.AsSpan(2 * classes, classes).ToArray(), v => Assert.Equal(0, v));
        }

        // Mean is over the four counted rows: -log(1/5) for uniform logits.
        double uniform = CrossEntropyLoss.Compute<double>(new double[rows * classes], targets, classes, []);
        Assert.Equal(Math.Log(5), uniform, 1e-12);
        Assert.Throws<ArgumentException>(() => CrossEntropyLoss.Compute<double>(logits, [0, 5, 0, 0, 0, 0], classes, []));
        Assert.Throws<ArgumentException>(() => CrossEntropyLoss.Compute<double>(logits, [0, 1], classes, []));
    }

    [Fact]
    public void MseGradientMatchesFiniteDifferences()
    {
        var random = new SeededRandom(5);
        double[] prediction = Enumerable.Range(0, 13).Select(_ => random.NextNormal()).ToArray();
        double[] target = Enumerable.Range(0, 13).Select(_ => random.NextNormal()).ToArray();
        var d = new double[13];
        MseLoss.Compute<double>(prediction, target, d);
        var result = GradientCheck.Compare("prediction", prediction, d, () => MseLoss.Compute<double>(prediction, target, []));
        Assert.True(result.MaxRelativeError < 1e-8, result.ToString());
        Assert.Equal(4.0 / 2, MseLoss.Compute<double>([1, 3], [1, 1], [], LossReduction.Mean));
        Assert.Throws<ArgumentException>(() => MseLoss.Compute<double>([1, 2], [1], []));

        // Masked: only the counted elements, mean over them, zero gradient elsewhere.
        bool[] mask = prediction.Select((_, i) => i % 3 != 0).ToArray();
        var dm = new double[13];
        MseLoss.Compute<double>(prediction, target, mask, dm);
        var masked = GradientCheck.Compare("masked", prediction, dm, () => MseLoss.Compute<double>(prediction, target, mask, []));
        Assert.True(masked.MaxRelativeError < 1e-8, masked.ToString());
        Assert.All(dm.Where((_, i) => i % 3 == 0), g => Assert.Equal(0, g));
        Assert.Equal(2.0, MseLoss.Compute<double>([1, 3, 100], [1, 1, 0], [true, true, false], []));
    }
}
