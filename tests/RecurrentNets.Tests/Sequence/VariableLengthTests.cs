using RecurrentNets.Init;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// Sequences of different lengths in one padded batch give exactly what running each alone gives: outputs (zero past
/// the end), final states, input and initial-state gradients, and the summed parameter gradients.
/// </summary>
public class VariableLengthTests
{
    public static TheoryData<CellGradientTests.CellKind, bool> Cases()
    {
        var data = new TheoryData<CellGradientTests.CellKind, bool>();
        foreach (var kind in Enum.GetValues<CellGradientTests.CellKind>())
        {
            data.Add(kind, false);
            data.Add(kind, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PaddedBatchEqualsEachSequenceAlone(CellGradientTests.CellKind kind, bool bidirectional)
    {
        const int steps = 6, inputSize = 3, hidden = 4, layers = 2;
        int[] lengths = [6, 2, 4, 1];
        int batch = lengths.Length;
        var random = new SeededRandom(21);
        var batched = CellGradientTests.Build(kind, layers, bidirectional, new SeededRandom(3), new ParameterBlock<double>(), inputSize: inputSize, hidden: hidden);
        int width = batched.OutputSize, stateRows = layers * batched.Directions;
        var x = EngineTests.Random(random, steps, batch, inputSize);          // padding holds garbage on purpose
        var dy = EngineTests.Random(random, steps, batch, width);            // so does the output gradient
        var initial = batched.CreateState(batch);
        var dFinal = batched.CreateState(batch);
        EngineTests.Fill(initial, random);
        EngineTests.Fill(dFinal, random);

        var y = new Tensor<double>(steps, batch, width);
        var final = batched.CreateState(batch);
        var dx = new Tensor<double>(steps, batch, inputSize);
        var dInitial = batched.CreateState(batch);
        batched.Forward(x, y, initial, final, lengths);
        batched.Backward(dy, dFinal, dx, dInitial);

        var alone = CellGradientTests.Build(kind, layers, bidirectional, new SeededRandom(3), new ParameterBlock<double>(), inputSize: inputSize, hidden: hidden);
        Assert.Equal(batched.Parameters.Values, alone.Parameters.Values);
        var summed = new double[alone.Parameters.Length];
        for (int b = 0; b < batch; b++)
        {
            int len = lengths[b];
            var xb = new Tensor<double>(len, 1, inputSize);
            var dyb = new Tensor<double>(len, 1, width);
            for (int t = 0; t < len; t++)
            {
                x.Row(t, b).CopyTo(xb.Row(t, 0));
                dy.Row(t, b).CopyTo(dyb.Row(t, 0));
            }

            var initialB = alone.CreateState(1);
            var dFinalB = alone.CreateState(1);
            CopyRow(initial, b, initialB);
            CopyRow(dFinal, b, dFinalB);
            var yb = new Tensor<double>(len, 1, width);
            var finalB = alone.CreateState(1);
            var dxb = new Tensor<double>(len, 1, inputSize);
            var dInitialB = alone.CreateState(1);
            alone.Parameters.ZeroGradients();
            alone.Forward(xb, yb, initialB, finalB);
            alone.Backward(dyb, dFinalB, dxb, dInitialB);
            for (int i = 0; i < summed.Length; i++)
            {
                summed[i] += alone.Parameters.Gradients[i];
            }

            for (int t = 0; t < steps; t++)
            {
                AssertClose(t < len ? yb.Row(t, 0) : new double[width], y.Row(t, b), $"output t={t} b={b}");
                AssertClose(t < len ? dxb.Row(t, 0) : new double[inputSize], dx.Row(t, b), $"dx t={t} b={b}");
            }

            for (int r = 0; r < stateRows; r++)
            {
                AssertClose(finalB.Hidden.Row(r, 0), final.Hidden.Row(r, b), $"h_n {r} b={b}");
                AssertClose(dInitialB.Hidden.Row(r, 0), dInitial.Hidden.Row(r, b), $"dh0 {r} b={b}");
                if (final.Cell is not null)
                {
                    AssertClose(finalB.Cell!.Row(r, 0), final.Cell.Row(r, b), $"c_n {r} b={b}");
                    AssertClose(dInitialB.Cell!.Row(r, 0), dInitial.Cell!.Row(r, b), $"dc0 {r} b={b}");
                }
            }
        }

        AssertClose(summed, batched.Parameters.Gradients, "parameter gradients");
    }

    [Fact]
    public void BadLengthsAreRejectedBeforeAnythingIsWritten()
    {
        var lstm = new Lstm<float>(3, 4);
        var y = new Tensor<float>(5, 2, 4);
        y.AsSpan().Fill(7);
        var ex = Assert.Throws<ArgumentException>(() => lstm.Forward(new Tensor<float>(5, 2, 3), y, null, null, [5, 3, 1]));
        Assert.Contains("3 entries", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(new Tensor<float>(5, 2, 3), y, null, null, [6, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(new Tensor<float>(5, 2, 3), y, null, null, [0, 3]));
        Assert.All(y.Data, v => Assert.Equal(7f, v));
    }

    private static void CopyRow(RecurrentState<double> from, int b, RecurrentState<double> to)
    {
        for (int r = 0; r < from.Hidden.Size(0); r++)
        {
            from.Hidden.Row(r, b).CopyTo(to.Hidden.Row(r, 0));
            if (from.Cell is not null)
            {
                from.Cell.Row(r, b).CopyTo(to.Cell!.Row(r, 0));
            }
        }
    }

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
