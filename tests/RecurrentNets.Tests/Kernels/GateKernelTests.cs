using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Reference;

namespace RecurrentNets.Tests.Kernels;

/// <summary>The fused LSTM and GRU step kernels against their naive twins, at every hidden size 1..70 and a few large odd ones.</summary>
public class GateKernelTests
{
    public static IEnumerable<object[]> Sizes() =>
        Enumerable.Range(1, 70).Concat([127, 129, 515]).Select(h => new object[] { h });

    [Theory]
    [MemberData(nameof(Sizes))]
    public void LstmForwardMatchesReferenceForEveryVariant(int hidden)
    {
        foreach (bool peephole in new[] { false, true })
        {
            foreach (bool coupled in new[] { false, true })
            {
                int batch = 1 + hidden % 3, gw = (coupled ? 3 : 4) * hidden;
                var random = new SeededRandom((ulong)(hidden * 4 + (peephole ? 2 : 0) + (coupled ? 1 : 0)));
                float[] pre = Normal(random, batch * gw, 2);
                float[] cPrev = Normal(random, batch * hidden, 1);
                float[] pI = peephole ? Normal(random, hidden, 0.5) : [], pF = peephole ? Normal(random, hidden, 0.5) : [], pO = peephole ? Normal(random, hidden, 0.5) : [];
                float[] gates = (float[])pre.Clone();
                var c = new float[batch * hidden];
                var tc = new float[batch * hidden];
                var h = new float[batch * hidden];
                switch ((peephole, coupled))
                {
                    case (false, false): LstmKernels.Forward<float, Off, Off>(gates, cPrev, c, tc, h, pI, pF, pO, batch, hidden); break;
                    case (true, false): LstmKernels.Forward<float, On, Off>(gates, cPrev, c, tc, h, pI, pF, pO, batch, hidden); break;
                    case (false, true): LstmKernels.Forward<float, Off, On>(gates, cPrev, c, tc, h, pI, pF, pO, batch, hidden); break;
                    default: LstmKernels.Forward<float, On, On>(gates, cPrev, c, tc, h, pI, pF, pO, batch, hidden); break;
                }

                var acts = new double[batch * gw];
                var cRef = new double[batch * hidden];
                var hRef = new double[batch * hidden];
                ReferenceLstm.Forward(D(pre), D(cPrev), D(pI), D(pF), D(pO), coupled, batch, hidden, acts, cRef, hRef);
                AssertClose(acts, gates, $"activations p={peephole} c={coupled} H={hidden}");
                AssertClose(cRef, c, "cell");
                AssertClose(hRef, h, "hidden");
                AssertClose(cRef.Select(Math.Tanh).ToArray(), tc, "tanh(cell)");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void GruStepMatchesReferenceInBothForms(int hidden)
    {
        foreach (bool resetAfter in new[] { true, false })
        {
            int batch = 1 + hidden % 3, gw = 3 * hidden;
            var random = new SeededRandom((ulong)hidden * 2 + (resetAfter ? 1UL : 0UL));
            var block = new ParameterBlock<double>();
            var cell = new GruCell<double>(block, 2, hidden, resetAfter);
            Initializers.Uniform(block.Values, -1, 1, random);
            double[] projection = Normal(random, batch * gw, 1).Select(v => (double)v).ToArray();
            double[] hPrev = Normal(random, batch * hidden, 1).Select(v => (double)v).ToArray();
            double[] gates = (double[])projection.Clone();
            var hNew = new double[batch * hidden];
            var stepCache = new double[batch * hidden];
            var scratch = new double[batch * (gw + hidden)];
            cell.Forward(new CellStep<double>(batch, gates, gates, hPrev, hNew, default, default, stepCache, default, default, default, default, scratch) { Recurrent = new RecurrentProduct<double>(cell, batch) });
            var expected = new double[batch * hidden];
            ReferenceGru.Forward(projection, hPrev, cell.WeightHH!.Values, cell.BiasHH!.Values, resetAfter, batch, hidden, expected);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - hNew[i]) < 1e-12, $"h[{i}] H={hidden} resetAfter={resetAfter}: {expected[i]} vs {hNew[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void GruFloatStepMatchesReferenceInBothForms(int hidden)
    {
        // Float runs the fused one-pass kernel in PyTorch's form, with W_hh packed as in the engine's loop and read in place.
        foreach (bool resetAfter in new[] { true, false })
        {
            foreach (bool packed in new[] { false, true })
            {
                int batch = 1 + hidden % 3, gw = 3 * hidden;
                var random = new SeededRandom((ulong)hidden * 2 + (resetAfter ? 1UL : 0UL));
                var block = new ParameterBlock<float>();
                var cell = new GruCell<float>(block, 2, hidden, resetAfter);
                float[] init = Normal(random, block.Values.Length, 0.5);
                init.CopyTo(block.Values.AsSpan());
                float[] projection = Normal(random, batch * gw, 1);
                float[] hPrev = Normal(random, batch * hidden, 1);
                float[] gates = (float[])projection.Clone();
                var hNew = new float[batch * hidden];
                var stepCache = new float[batch * hidden];
                var scratch = new float[batch * (gw + hidden)];
                if (packed)
                {
                    cell.PrepareWeights(backward: false);
                }

                cell.Forward(new CellStep<float>(batch, gates, gates, hPrev, hNew, default, default, stepCache, default, default, default, default, scratch) { Recurrent = new RecurrentProduct<float>(cell, batch) });
                cell.ReleaseWeights();
                var expected = new double[batch * hidden];
                ReferenceGru.Forward(D(projection), D(hPrev), D(cell.WeightHH!.Values.ToArray()), D(cell.BiasHH!.Values.ToArray()), resetAfter, batch, hidden, expected);
                AssertClose(expected, hNew, $"h H={hidden} resetAfter={resetAfter} packed={packed}", 2e-6 * Math.Sqrt(hidden));
            }
        }
    }

    private static float[] Normal(SeededRandom random, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(scale * random.NextNormal())).ToArray();

    private static double[] D(float[] values) => values.Select(v => (double)v).ToArray();

    private static void AssertClose(double[] expected, float[] actual, string what, double tolerance = 2e-6)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}]: {expected[i]} vs {actual[i]}");
        }
    }
}
