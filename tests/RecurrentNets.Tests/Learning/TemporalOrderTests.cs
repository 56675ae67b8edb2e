using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Learning;

/// <summary>
/// Experiment 6a of Hochreiter and Schmidhuber 1997, the temporal order problem: the order of X/Y at t1 ∈ [10, 20] and
/// t2 ∈ [50, 60] in sequences of 100-110 symbols, four classes at the last step. Success: at most 1 % misclassified
/// held-out sequences (the paper reports 1 of 2,560). Softmax cross-entropy on the last step, Adam, clipping; the LSTM's
/// forget gates start open (forget bias 3, Gers et al. 2000) so that gradients reach back ~100 steps from the start.
/// </summary>
public class TemporalOrderTests(ITestOutputHelper output)
{
    [Fact]
    public void LstmClassifiesTheOrderOfTwoDistantSymbols()
    {
        var run = Train(CellKind.Lstm, hiddenSize: 32, testSequences: 500, maxSteps: 4000, seed: 1);
        Assert.True(run.Errors * 100 <= run.TestSequences,
            $"LSTM misclassifies {run.Errors} of {run.TestSequences} held-out sequences after 4,000 steps (> 1 %).");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void LstmClassifiesTheOrderOfTwoDistantSymbolsOnThePapersTestSet()
    {
        var run = Train(CellKind.Lstm, hiddenSize: 64, testSequences: 2560, maxSteps: 10_000, seed: 2);
        Assert.True(run.Errors * 100 <= run.TestSequences,
            $"LSTM misclassifies {run.Errors} of {run.TestSequences} held-out sequences after 10,000 steps (> 1 %).");
    }

    private OrderRun Train(CellKind kind, int hiddenSize, int testSequences, int maxSteps, ulong seed)
    {
        const int batchSize = 32, evaluateEvery = 100, steps = TemporalOrder.MaximumLength;
        const double learningRate = 1e-2, forgetBias = 3;
        var clock = Stopwatch.StartNew();
        var data = new SeededRandom(seed + 1000);
        var model = new SequenceModel(kind, TemporalOrder.SymbolCount, hiddenSize, TemporalOrder.ClassCount,
            new SeededRandom(seed), learningRate, forgetBias: forgetBias);

        var testInput = new Tensor<float>(steps, testSequences, TemporalOrder.SymbolCount);
        var testLast = new int[testSequences];
        var testClasses = new int[testSequences];
        TemporalOrder.Generate(data, testInput, testLast, testClasses);
        for (int b = 0; b < testSequences; b++)
        {
            testLast[b]--; // length to index of the last step
        }

        var input = new Tensor<float>(steps, batchSize, TemporalOrder.SymbolCount);
        var last = new int[batchSize];
        var classes = new int[batchSize];
        var scores = new float[testSequences * TemporalOrder.ClassCount];
        int errors = testSequences;
        int? solvedAt = null;
        for (int step = 1; step <= maxSteps && solvedAt is null; step++)
        {
            TemporalOrder.Generate(data, input, last, classes);
            for (int b = 0; b < batchSize; b++)
            {
                last[b]--;
            }

            model.TrainClassification(input, last, classes);
            if (step % evaluateEvery == 0)
            {
                model.PredictPicked(testInput, testLast, scores);
                errors = CountErrors(scores, testClasses);
                if (errors * 100 <= testSequences)
                {
                    solvedAt = step;
                }
            }
        }

        output.WriteLine(
            $"{kind}, H = {hiddenSize}, batch {batchSize}, Adam lr {learningRate:G3}, clip 1, forget bias {forgetBias}, seed {seed}: "
            + $"{errors} of {testSequences} held-out sequences misclassified ({100.0 * errors / testSequences:F2} %)"
            + (solvedAt is int s ? $" after {s:N0} steps ({s * batchSize:N0} training sequences)" : $" after {maxSteps:N0} steps")
            + $", {clock.Elapsed.TotalSeconds:F1} s");
        return new OrderRun(solvedAt, errors, testSequences);
    }

    private static int CountErrors(ReadOnlySpan<float> scores, ReadOnlySpan<int> classes)
    {
        int errors = 0;
        for (int b = 0; b < classes.Length; b++)
        {
            var row = scores.Slice(b * TemporalOrder.ClassCount, TemporalOrder.ClassCount);
            int best = 0;
            for (int k = 1; k < row.Length; k++)
            {
                if (row[k] > row[best])
                {
                    best = k;
                }
            }

            if (best != classes[b])
            {
                errors++;
            }
        }

        return errors;
    }

    private sealed record OrderRun(int? SolvedAtStep, int Errors, int TestSequences);
}
