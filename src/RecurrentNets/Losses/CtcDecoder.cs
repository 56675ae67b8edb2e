using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Losses;

/// <summary>One decoded label sequence and its log-probability.</summary>
/// <param name="Labels">The labels, blanks and repeats already collapsed.</param>
/// <param name="LogProbability">ln p(labels | x) as the search found it: for the prefix beam search, the total probability
/// of the paths that collapse to the labels and stayed in the beam (exactly ln p(labels | x) when no path was pruned);
/// for the greedy decoder, the log-probability of the single best path.</param>
public readonly record struct CtcHypothesis(int[] Labels, double LogProbability);

/// <summary>
/// Decoders for a CTC model's output (Graves et al. 2006): best path (greedy) and prefix beam search (Graves 2012,
/// ch. 7; Hannun et al. 2014), over a time-major batch of log-probabilities with input lengths, as
/// <see cref="CtcLoss{T}"/> takes it. Legend: T = time steps, B = batch size, C = classes (blank included).
/// </summary>
/// <remarks>PyTorch has no CTC decoder in its core; torchaudio's <c>ctc_decoder</c> and <c>CTCDecoder</c> are the
/// nearest (with a lexicon and a language model, which these have not).</remarks>
public static class CtcDecoder
{
    /// <summary>
    /// Best-path decoding: the most likely class at each step (the first on ties, as <c>argmax</c>), then repeats merged
    /// and blanks dropped. Writes row b of <paramref name="labels"/>' first <paramref name="labelLengths"/>[b] entries.
    /// </summary>
    /// <param name="logProbs">[T, B, C] time-major (log-probabilities or logits: only the argmax matters).</param>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="classes">C.</param>
    /// <param name="inputLengths">[B], each in [0, T]: the steps read.</param>
    /// <param name="labels">Receives the labels, [B, T] (a row never needs more than T entries); the rest is left as it was.</param>
    /// <param name="labelLengths">Receives the number of labels of each row, [B].</param>
    /// <param name="blank">The blank class.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">A length disagrees with the shapes or an input length is outside [0, T].</exception>
    public static void Greedy<T>(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> inputLengths,
        Span<int> labels, Span<int> labelLengths, int blank = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(logProbs, timeSteps, batchSize, classes, inputLengths, blank);
        if (labels.Length != (long)batchSize * timeSteps)
        {
            throw new ArgumentException($"labels has {labels.Length} elements but [{batchSize}, {timeSteps}] (batchSize, timeSteps) needs {(long)batchSize * timeSteps}.", nameof(labels));
        }

        if (labelLengths.Length != batchSize)
        {
            throw new ArgumentException($"labelLengths has {labelLengths.Length} elements but batchSize is {batchSize}.", nameof(labelLengths));
        }

        for (int b = 0; b < batchSize; b++)
        {
            int count = 0, previous = blank;
            for (int t = 0; t < inputLengths[b]; t++)
            {
                int best = ArgMax(logProbs.Slice((t * batchSize + b) * classes, classes));
                if (best != blank && best != previous)
                {
                    labels[b * timeSteps + count++] = best;
                }

                previous = best;
            }

            labelLengths[b] = count;
        }
    }

    /// <summary>Best-path decoding, one array per sequence (see the span overload).</summary>
    /// <returns>[B] hypotheses: the labels and the log-probability of the best path (the sum of the maxima).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">A length disagrees with the shapes or an input length is outside [0, T].</exception>
    public static CtcHypothesis[] Greedy<T>(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> inputLengths,
        int blank = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var labels = new int[batchSize * Math.Max(timeSteps, 0)];
        var lengths = new int[Math.Max(batchSize, 0)];
        Greedy(logProbs, timeSteps, batchSize, classes, inputLengths, labels, lengths, blank);
        var result = new CtcHypothesis[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            double score = 0;
            for (int t = 0; t < inputLengths[b]; t++)
            {
                var row = logProbs.Slice((t * batchSize + b) * classes, classes);
                score += double.CreateTruncating(row[ArgMax(row)]);
            }

            result[b] = new CtcHypothesis(labels.AsSpan(b * timeSteps, lengths[b]).ToArray(), score);
        }

        return result;
    }

    /// <summary>
    /// Prefix beam search in log space: at each step every kept prefix is extended by every class, the probabilities of
    /// the paths ending in a blank (p_b) and in a label (p_nb) are carried per prefix, and the
    /// <paramref name="beamWidth"/> prefixes of largest p_b + p_nb are kept. A repeated label extends a prefix only
    /// after a blank (p_b), and adds to the prefix itself otherwise (p_nb).
    /// </summary>
    /// <param name="logProbs">ln y, [T, B, C] time-major.</param>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="classes">C.</param>
    /// <param name="inputLengths">[B], each in [0, T].</param>
    /// <param name="beamWidth">The prefixes kept after each step, at least 1.</param>
    /// <param name="blank">The blank class.</param>
    /// <returns>[B] arrays of at most <paramref name="beamWidth"/> hypotheses each, the most probable first (ties: the
    /// prefix found first).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size or <paramref name="beamWidth"/> is out of range.</exception>
    /// <exception cref="ArgumentException">A length disagrees with the shapes or an input length is outside [0, T].</exception>
    public static CtcHypothesis[][] BeamSearch<T>(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> inputLengths,
        int beamWidth, int blank = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(beamWidth, 1);
        Check(logProbs, timeSteps, batchSize, classes, inputLengths, blank);
        var result = new CtcHypothesis[batchSize][];
        var search = new PrefixSearch(beamWidth);
        var row = new double[classes];
        for (int b = 0; b < batchSize; b++)
        {
            search.Reset();
            for (int t = 0; t < inputLengths[b]; t++)
            {
                var source = logProbs.Slice((t * batchSize + b) * classes, classes);
                for (int c = 0; c < classes; c++)
                {
                    row[c] = double.CreateTruncating(source[c]);
                }

                search.Step(row, blank);
            }

            result[b] = search.Hypotheses();
        }

        return result;
    }

    private static int ArgMax<T>(ReadOnlySpan<T> row)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
        {
            if (row[c] > row[best])
            {
                best = c;
            }
        }

        return best;
    }

    private static void Check<T>(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> inputLengths, int blank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if ((uint)blank >= (uint)classes)
        {
            throw new ArgumentOutOfRangeException(nameof(blank), blank, $"blank must lie in [0, {classes}) (classes).");
        }

        long size = (long)timeSteps * batchSize * classes;
        if (logProbs.Length != size)
        {
            throw new ArgumentException($"logProbs has {logProbs.Length} elements but [{timeSteps}, {batchSize}, {classes}] (timeSteps, batchSize, classes) needs {size}.", nameof(logProbs));
        }

        if (inputLengths.Length != batchSize)
        {
            throw new ArgumentException($"inputLengths has {inputLengths.Length} elements but batchSize is {batchSize}.", nameof(inputLengths));
        }

        for (int b = 0; b < batchSize; b++)
        {
            if ((uint)inputLengths[b] > (uint)timeSteps)
            {
                throw new ArgumentException($"inputLengths[{b}] is {inputLengths[b]}: an input length must lie in [0, {timeSteps}] (timeSteps).", nameof(inputLengths));
            }
        }
    }

    // The prefixes form a trie (node 0 the empty prefix); a beam entry is a node with its ln p_b and ln p_nb.
    private sealed class PrefixSearch(int beamWidth)
    {
        private readonly List<(int Parent, int Label)> nodes = [];
        private readonly Dictionary<(int Parent, int Label), int> children = [];
        private readonly Dictionary<int, (double Blank, double NonBlank)> next = [];
        private List<(int Node, double Blank, double NonBlank)> beam = [];

        public void Reset()
        {
            nodes.Clear();
            children.Clear();
            nodes.Add((-1, -1));
            beam = [(0, 0.0, double.NegativeInfinity)];
        }

        public void Step(double[] row, int blank)
        {
            next.Clear();
            foreach (var (node, pb, pnb) in beam)
            {
                double total = LogAdd(pb, pnb);
                Add(node, total + row[blank], double.NegativeInfinity);
                int last = nodes[node].Label;
                for (int c = 0; c < row.Length; c++)
                {
                    if (c == blank)
                    {
                        continue;
                    }

                    int child = Child(node, c);
                    if (c == last)
                    {
                        Add(child, double.NegativeInfinity, pb + row[c]);
                        Add(node, double.NegativeInfinity, pnb + row[c]);
                    }
                    else
                    {
                        Add(child, double.NegativeInfinity, total + row[c]);
                    }
                }
            }

            beam = [.. next.Select(e => (e.Key, e.Value.Blank, e.Value.NonBlank))];
            beam.Sort(Compare);
            if (beam.Count > beamWidth)
            {
                beam.RemoveRange(beamWidth, beam.Count - beamWidth);
            }
        }

        public CtcHypothesis[] Hypotheses()
        {
            beam.Sort(Compare);
            var result = new CtcHypothesis[beam.Count];
            for (int i = 0; i < beam.Count; i++)
            {
                var labels = new List<int>();
                for (int n = beam[i].Node; n > 0; n = nodes[n].Parent)
                {
                    labels.Add(nodes[n].Label);
                }

                labels.Reverse();
                result[i] = new CtcHypothesis([.. labels], LogAdd(beam[i].Blank, beam[i].NonBlank));
            }

            return result;
        }

        // Most probable first; on a tie the older node (found first) first, so the order never depends on hashing.
        private static int Compare((int Node, double Blank, double NonBlank) x, (int Node, double Blank, double NonBlank) y)
        {
            int byScore = LogAdd(y.Blank, y.NonBlank).CompareTo(LogAdd(x.Blank, x.NonBlank));
            return byScore != 0 ? byScore : x.Node.CompareTo(y.Node);
        }

        private int Child(int node, int label)
        {
            if (!children.TryGetValue((node, label), out int child))
            {
                child = nodes.Count;
                nodes.Add((node, label));
                children.Add((node, label), child);
            }

            return child;
        }

        private void Add(int node, double blankPart, double nonBlankPart)
        {
            if (double.IsNegativeInfinity(blankPart) && double.IsNegativeInfinity(nonBlankPart))
            {
                return; // no path: keeps impossible prefixes out of the beam
            }

            var (pb, pnb) = next.TryGetValue(node, out var p) ? p : (double.NegativeInfinity, double.NegativeInfinity);
            next[node] = (LogAdd(pb, blankPart), LogAdd(pnb, nonBlankPart));
        }
    }

    /// <summary>ln(e^a + e^b), −∞ when both are.</summary>
    private static double LogAdd(double a, double b)
    {
        double m = Math.Max(a, b);
        return double.IsNegativeInfinity(m) ? m : m + ScalarMath.Log(ScalarMath.Exp(a - m) + ScalarMath.Exp(b - m));
    }
}
