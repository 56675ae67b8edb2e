using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Learning;

/// <summary>The task generators follow the papers' protocols and are deterministic.</summary>
public class TaskGeneratorTests
{
    [Fact]
    public void AddingProblemMarksOnePositionInEachHalfAndSumsTheirValues()
    {
        const int steps = 41, batch = 300;
        var (input, targets) = AddingProblem.Generate<double>(steps, batch, new SeededRandom(3));
        double baseline = 0;
        for (int b = 0; b < batch; b++)
        {
            int firstHalf = 0, secondHalf = 0;
            double sum = 0;
            for (int t = 0; t < steps; t++)
            {
                double value = input[t, b, 0], marker = input[t, b, 1];
                Assert.InRange(value, 0, 1);
                Assert.True(marker is 0 or 1);
                if (marker == 1)
                {
                    sum += value;
                    if (t < steps / 2)
                    {
                        firstHalf++;
                    }
                    else
                    {
                        secondHalf++;
                    }
                }
            }

            Assert.Equal(1, firstHalf);
            Assert.Equal(1, secondHalf);
            Assert.Equal(sum, targets[b], 12);
            baseline += (targets[b] - 1) * (targets[b] - 1);
        }

        // Predicting the constant 1 scores Var(X1 + X2) = 1/6 (loose: 300 samples).
        Assert.InRange(baseline / batch, 0.13, 0.20);
        var (again, _) = AddingProblem.Generate<double>(steps, batch, new SeededRandom(3));
        Assert.Equal(input.Data, again.Data);
    }

    [Fact]
    public void AddingProblem1997FormFollowsExperiment4()
    {
        const int minimum = 100, batch = 200;
        var random = new SeededRandom(4);
        int length = AddingProblem.SampleHochreiter1997Length(minimum, random);
        Assert.InRange(length, 100, 110);
        var input = new Tensor<double>(length, batch, 2);
        var targets = new double[batch];
        AddingProblem.GenerateHochreiter1997(random, minimum, input, targets);
        for (int b = 0; b < batch; b++)
        {
            var marked = new List<int>();
            double sum = 0;
            for (int t = 0; t < length; t++)
            {
                double value = input[t, b, 0], marker = input[t, b, 1];
                Assert.InRange(value, -1, 1);
                if (marker == 1)
                {
                    marked.Add(t);
                    sum += value;
                }
                else if (t == 0 || t == length - 1)
                {
                    Assert.Equal(-1, marker);
                }
                else
                {
                    Assert.Equal(0, marker);
                }
            }

            Assert.Equal(2, marked.Count);
            Assert.True(marked.Any(t => t < 10), "one mark among the first ten pairs");
            Assert.True(marked.All(t => t < minimum / 2 - 1), "both marks among the first T/2 - 1 pairs");
            if (marked[0] == 0)
            {
                Assert.Equal(0, input[0, b, 0]);
            }

            Assert.Equal(0.5 + sum / 4, targets[b], 12);
            Assert.InRange(targets[b], 0, 1);
        }
    }

    [Fact]
    public void EmbeddedReberStringsFollowTheGrammar()
    {
        var strings = EmbeddedReberGrammar.Generate(500, new SeededRandom(5));
        var inner = new HashSet<string>();
        foreach (var s in strings)
        {
            string text = s.ToString();
            Assert.True(IsEmbeddedReber(text), text);
            Assert.Equal(text[1], text[^2]);
            inner.Add(text[2..^2]);

            // The legal-next mask holds the symbol that actually follows, and the last position has none.
            for (int i = 0; i < s.Length - 1; i++)
            {
                Assert.True(s.IsLegalNext(i, s.Symbols[i + 1]), $"{text}: position {i}");
            }

            Assert.Equal(0, s.NextSymbols[^1]);

            // After the inner E exactly the remembered branch symbol is legal: the long-lag dependency.
            Assert.Equal(1 << s.Symbols[1], s.NextSymbols[^3]);
        }

        Assert.True(inner.Count > 50, "the walk explores the grammar");
        Assert.Equal(strings.Select(s => s.ToString()), EmbeddedReberGrammar.Generate(500, new SeededRandom(5)).Select(s => s.ToString()));
    }

    [Fact]
    public void ReberBatchIsOneHotWithNextSymbolTargetsAndPadding()
    {
        var strings = EmbeddedReberGrammar.Generate(3, new SeededRandom(6));
        int steps = strings.Max(s => s.Length) - 1;
        var input = new Tensor<float>(steps, 3, 7);
        var targets = new int[steps * 3];
        EmbeddedReberGrammar.WriteBatch(strings, input, targets);
        for (int b = 0; b < 3; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                bool inside = t < strings[b].Length - 1;
                Assert.Equal(inside ? 1f : 0f, input.Row(t, b).ToArray().Sum());
                Assert.Equal(inside ? strings[b].Symbols[t + 1] : -1, targets[t * 3 + b]);
                if (inside)
                {
                    Assert.Equal(1f, input[t, b, strings[b].Symbols[t]]);
                }
            }
        }
    }

    [Fact]
    public void ReberCriterionNeedsEveryLegalSymbolAboveEveryIllegalOne()
    {
        var s = new ReberString([0, 1], [0b0000110, 0]); // after B: T or P
        Assert.True(s.PredictsNext<float>(0, [0.1f, 0.4f, 0.4f, 0.02f, 0.02f, 0.03f, 0.03f]));
        Assert.False(s.PredictsNext<float>(0, [0.1f, 0.7f, 0.05f, 0.02f, 0.02f, 0.08f, 0.03f]));
    }

    [Fact]
    public void TemporalOrderFollowsExperiment6a()
    {
        const int batch = 400;
        var input = new Tensor<float>(TemporalOrder.MaximumLength, batch, TemporalOrder.SymbolCount);
        var lengths = new int[batch];
        var classes = new int[batch];
        var stepTargets = new int[TemporalOrder.MaximumLength * batch];
        TemporalOrder.Generate(new SeededRandom(7), input, lengths, classes, stepTargets);
        var seen = new int[4];
        for (int b = 0; b < batch; b++)
        {
            Assert.InRange(lengths[b], 100, 110);
            var relevant = new List<(int Position, int Symbol)>();
            for (int t = 0; t < TemporalOrder.MaximumLength; t++)
            {
                var row = input.Row(t, b).ToArray();
                if (t >= lengths[b])
                {
                    Assert.All(row, v => Assert.Equal(0f, v));
                    continue;
                }

                Assert.Equal(1f, row.Sum());
                int symbol = Array.IndexOf(row, 1f);
                if (t == 0)
                {
                    Assert.Equal('B', TemporalOrder.Alphabet[symbol]);
                }
                else if (t == lengths[b] - 1)
                {
                    Assert.Equal('E', TemporalOrder.Alphabet[symbol]);
                }
                else if (symbol is 4 or 5)
                {
                    relevant.Add((t + 1, symbol)); // 1-based position, as in the paper
                }
                else
                {
                    Assert.InRange(symbol, 0, 3);
                }
            }

            Assert.Equal(2, relevant.Count);
            Assert.InRange(relevant[0].Position, 10, 20);
            Assert.InRange(relevant[1].Position, 50, 60);
            int expected = 2 * (relevant[0].Symbol - 4) + (relevant[1].Symbol - 4);
            Assert.Equal(expected, classes[b]);
            seen[expected]++;
            for (int t = 0; t < TemporalOrder.MaximumLength; t++)
            {
                Assert.Equal(t == lengths[b] - 1 ? expected : -1, stepTargets[t * batch + b]);
            }
        }

        Assert.All(seen, count => Assert.InRange(count, 60, 140));
    }

    private static bool IsEmbeddedReber(string text)
        => System.Text.RegularExpressions.Regex.IsMatch(text, "^B(T" + Reber + "T|P" + Reber + "P)E$");

    // The Reber grammar as a regular expression, solved from its graph: node 4 (after the first V) is (PXT*V)*(V|PS),
    // node 2 (the T loop) is T*V then node 4, node 3 (after the first X) is S or X then node 2.
    private const string Reber = "B(TS*X(S|XT*V(PXT*V)*(V|PS))|PT*V(PXT*V)*(V|PS))E";
}
