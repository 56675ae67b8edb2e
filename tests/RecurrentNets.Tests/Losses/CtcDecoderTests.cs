using RecurrentNets.Losses;

namespace RecurrentNets.Tests.Losses;

/// <summary><see cref="CtcDecoder"/>: best path by hand, and the prefix beam search against every path enumerated.</summary>
public sealed class CtcDecoderTests
{
    [Fact]
    public void GreedyMergesRepeatsDropsBlanksAndStopsAtTheInputLength()
    {
        // Argmax paths: b0 = [-, 1, 1, -, 1, 2, 2, -], b1 = [2, 2, 2, 1, 1, -, 3, 3] read for 6 steps.
        int[][] paths = [[0, 1, 1, 0, 1, 2, 2, 0], [2, 2, 2, 1, 1, 0, 3, 3]];
        int steps = 8, batch = 2, classes = 4;
        var logProbs = new float[steps * batch * classes];
        Array.Fill(logProbs, -3f);
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                logProbs[(t * batch + b) * classes + paths[b][t]] = -0.1f;
            }
        }

        var hypotheses = CtcDecoder.Greedy<float>(logProbs, steps, batch, classes, [8, 6]);
        Assert.Equal([1, 1, 2], hypotheses[0].Labels);
        Assert.Equal([2, 1], hypotheses[1].Labels);
        Assert.Equal(-0.6, hypotheses[1].LogProbability, 1e-6);

        int[] labels = new int[batch * steps], lengths = new int[batch];
        CtcDecoder.Greedy<float>(logProbs, steps, batch, classes, [8, 8], labels, lengths, blank: 0);
        Assert.Equal([3, 3], lengths);
        Assert.Equal([2, 1, 3], labels.AsSpan(steps, 3).ToArray());

        // With class 2 as the blank, the repeats of 2 vanish and 0 becomes a label.
        Assert.Equal([0, 1, 0, 1, 0], CtcDecoder.Greedy<float>(logProbs, steps, batch, classes, [8, 8], blank: 2)[0].Labels);
    }

    /// <summary>ln p(ℓ | x) of every labelling ℓ, by enumerating the C^T paths.</summary>
    private static Dictionary<string, double> Enumerate(double[] logProbs, int steps, int batch, int b, int classes, int blank)
    {
        var result = new Dictionary<string, double>();
        int paths = (int)Math.Pow(classes, steps);
        for (int p = 0; p < paths; p++)
        {
            var labels = new List<int>();
            double score = 0;
            int previous = blank, code = p;
            for (int t = 0; t < steps; t++, code /= classes)
            {
                int c = code % classes;
                score += logProbs[(t * batch + b) * classes + c];
                if (c != blank && c != previous)
                {
                    labels.Add(c);
                }

                previous = c;
            }

            string key = string.Join(",", labels);
            result[key] = result.TryGetValue(key, out double s) ? Reference.ReferenceCtc.LogAdd(s, score) : score;
        }

        return result;
    }

    [Fact]
    public void AWideBeamFindsEveryLabellingWithItsExactProbability()
    {
        int steps = 6, batch = 2, classes = 3;
        var x = CtcLossTests.RandomBatch(21, steps, batch, classes, 1, scale: 2);
        double[] logProbs = CtcLossTests.LogSoftmax(x.Logits, classes);
        foreach (int blank in new[] { 0, 2 })
        {
            var beams = CtcDecoder.BeamSearch<double>(logProbs, steps, batch, classes, [steps, steps], beamWidth: 10_000, blank);
            var loss = new CtcLoss<double>(blank, LossReduction.None);
            for (int b = 0; b < batch; b++)
            {
                var exact = Enumerate(logProbs, steps, batch, b, classes, blank);
                Assert.Equal(exact.Count, beams[b].Length);
                foreach (var h in beams[b])
                {
                    Assert.Equal(exact[string.Join(",", h.Labels)], h.LogProbability, 1e-12);
                }

                // The best first, and each one's probability is the CTC loss's.
                Assert.Equal(exact.Values.Max(), beams[b][0].LogProbability, 1e-12);
                var best = beams[b][0].Labels;
                var losses = new double[batch];
                int[] targetLengths = new int[batch];
                targetLengths[b] = best.Length;
                loss.ComputeConcatenated(logProbs, steps, batch, classes, best, [steps, steps], targetLengths, [], losses);
                Assert.Equal(-beams[b][0].LogProbability, losses[b], 1e-12);
            }
        }
    }

    [Fact]
    public void ANarrowBeamKeepsItsWidthAndBeatsOrTiesTheBestPath()
    {
        int steps = 30, batch = 3, classes = 6;
        var x = CtcLossTests.RandomBatch(22, steps, batch, classes, 1, scale: 3);
        double[] logProbs = CtcLossTests.LogSoftmax(x.Logits, classes);
        int[] lengths = [30, 17, 1];
        var beams = CtcDecoder.BeamSearch<double>(logProbs, steps, batch, classes, lengths, beamWidth: 4);
        var greedy = CtcDecoder.Greedy<double>(logProbs, steps, batch, classes, lengths);
        var loss = new CtcLoss<double>(reduction: LossReduction.None);
        for (int b = 0; b < batch; b++)
        {
            Assert.InRange(beams[b].Length, 1, 4);
            for (int i = 1; i < beams[b].Length; i++)
            {
                Assert.True(beams[b][i - 1].LogProbability >= beams[b][i].LogProbability);
            }

            // The beam's labelling is at least as probable as the best path's labelling (exact probabilities by the loss).
            double LogP(int[] labels)
            {
                var losses = new double[batch];
                int[] targetLengths = new int[batch];
                targetLengths[b] = labels.Length;
                loss.ComputeConcatenated(logProbs, steps, batch, classes, labels, lengths, targetLengths, [], losses);
                return -losses[b];
            }

            Assert.True(LogP(beams[b][0].Labels) >= LogP(greedy[b].Labels) - 1e-12);
        }
    }

    [Fact]
    public void BadInputIsRejected()
    {
        var lp = new float[2 * 1 * 3];
        Assert.Throws<ArgumentOutOfRangeException>(() => CtcDecoder.BeamSearch<float>(lp, 2, 1, 3, [2], beamWidth: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CtcDecoder.Greedy<float>(lp, 2, 1, 3, [2], blank: 3));
        Assert.Contains("inputLengths[0] is 3", Assert.Throws<ArgumentException>(() => CtcDecoder.Greedy<float>(lp, 2, 1, 3, [3])).Message);
        Assert.Contains("[2, 1, 4]", Assert.Throws<ArgumentException>(() => CtcDecoder.BeamSearch<float>(lp, 2, 1, 4, [2], 3)).Message);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => CtcDecoder.Greedy<float>(lp, 2, 1, 3, [2], new int[1], new int[1])).ParamName);
    }
}
