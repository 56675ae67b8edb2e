using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;
using Xunit;

namespace RecurrentNets.Tests.R2N2;

/// <summary>The R2N2 kernels against their naive twins over sizes that exercise every SIMD tail.</summary>
public class R2N2KernelTests
{
    public static TheoryData<int, int> Sizes()
    {
        var data = new TheoryData<int, int>();
        foreach (int m in new[] { 1, 3, 8 })
        {
            for (int n = 0; n <= 20; n++)
            {
                data.Add(m, n);
            }

            data.Add(m, 33);
            data.Add(m, 67);
            data.Add(m, 131);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void KernelsMatchTheReference(int m, int n)
    {
        var random = new SeededRandom((ulong)(m * 1000 + n));
        double[] w = Draw(random, m * n), x = Draw(random, n), u = Draw(random, m);
        double[] y1 = Draw(random, m), y2 = (double[])y1.Clone();
        R2N2Kernels.MatVec(w, x, 0.7, y1, accumulate: true);
        ReferenceR2N2Kernels.MatVec(w, x, 0.7, y2, accumulate: true);
        AssertClose(y2, y1);

        double[] z1 = Draw(random, n), z2 = (double[])z1.Clone();
        R2N2Kernels.MatTransposeVecAdd(w, u, -1.3, z1);
        ReferenceR2N2Kernels.MatTransposeVecAdd(w, u, -1.3, z2);
        AssertClose(z2, z1);

        double[] w1 = (double[])w.Clone(), w2 = (double[])w.Clone();
        R2N2Kernels.OuterAdd(u, x, 0.3, w1);
        ReferenceR2N2Kernels.OuterAdd(u, x, 0.3, w2);
        AssertClose(w2, w1);
    }

    private static double[] Draw(SeededRandom random, int count) => Enumerable.Range(0, count).Select(_ => random.NextNormal()).ToArray();

    private static void AssertClose(double[] expected, double[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {actual[i]}");
        }
    }
}
