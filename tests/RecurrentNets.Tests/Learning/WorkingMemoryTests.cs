using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Learning;

/// <summary>
/// The delayed-response (WHERE) task: a cue at one of k locations, a delay, GO, and the response must name the cued
/// location. Softmax cross-entropy at the response step only (masked elsewhere), Adam, clipping. Training stops when a
/// validation set of fresh trials is at least 98 % correct; the criterion is then checked on a separate held-out set
/// (&gt; 95 % correct), so stopping does not select on the test trials.
/// </summary>
public class WorkingMemoryTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    public void GatedCellsRememberTheCueAcrossAModerateDelay(CellKind kind)
    {
        var task = new DelayedResponseTask(locations: 8, minimumDelay: 5, maximumDelay: 20);
        var run = Train(kind, task, hiddenSize: 32, maxSteps: 600, seed: 1);
        Assert.True(run.TestAccuracy > 0.95,
            $"{kind} answers {run.TestAccuracy:P1} of held-out trials correctly (delays 5-20) after {run.Steps} steps (criterion > 95 %).");
    }

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    public void GatedCellsRememberTheCueAcrossLongDelays(CellKind kind)
    {
        var task = new DelayedResponseTask(locations: 8, minimumDelay: 20, maximumDelay: 100, inputNoise: 0.1);
        var run = Train(kind, task, hiddenSize: 64, maxSteps: 4000, seed: 2);
        Assert.True(run.TestAccuracy > 0.95,
            $"{kind} answers {run.TestAccuracy:P1} of held-out trials correctly (delays 20-100) after {run.Steps} steps (criterion > 95 %).");
    }

    private MemoryRun Train(CellKind kind, DelayedResponseTask task, int hiddenSize, int maxSteps, ulong seed)
    {
        const int batchSize = 32, evaluateEvery = 50, validationTrials = 256, testTrials = 1000;
        const double learningRate = 1e-2, solvedAccuracy = 0.98;
        var clock = Stopwatch.StartNew();
        var data = new SeededRandom(seed + 1000);
        var model = new SequenceModel(kind, task.InputSize, hiddenSize, task.Locations, new SeededRandom(seed), learningRate);
        var validation = new Trials(task, validationTrials, data.Fork());
        var test = new Trials(task, testTrials, data.Fork());
        var train = new Trials(task, batchSize, null);

        int step = 0;
        double accuracy = 0;
        while (step < maxSteps && accuracy < solvedAccuracy)
        {
            train.Draw(data);
            model.TrainEveryStep(train.Input, train.Targets);
            step++;
            if (step % evaluateEvery == 0)
            {
                accuracy = validation.Accuracy(model);
            }
        }

        double testAccuracy = test.Accuracy(model);
        output.WriteLine(
            $"{kind}, H = {hiddenSize}, k = {task.Locations}, delays {task.MinimumDelay}-{task.MaximumDelay}, noise {task.InputNoise}, "
            + $"batch {batchSize}, Adam lr {learningRate:G3}, seed {seed}: validation {accuracy:P1} after {step:N0} steps; "
            + $"held-out {testAccuracy:P1} of {testTrials}; {clock.Elapsed.TotalSeconds:F1} s");
        return new MemoryRun(step, testAccuracy);
    }

    /// <summary>A batch of trials and the scoring of a model on it.</summary>
    private sealed class Trials
    {
        private readonly DelayedResponseTask task;
        private readonly int[] cues, delays, lengths;
        private float[] probabilities = [];

        public Trials(DelayedResponseTask task, int count, SeededRandom? random)
        {
            this.task = task;
            Input = new Tensor<float>(task.MaximumLength, count, task.InputSize);
            Targets = new int[task.MaximumLength * count];
            cues = new int[count];
            delays = new int[count];
            lengths = new int[count];
            if (random is not null)
            {
                Draw(random);
            }
        }

        public Tensor<float> Input { get; }

        public int[] Targets { get; }

        public void Draw(SeededRandom random) => task.Generate(random, Input, Targets, cues, delays, lengths);

        /// <summary>The fraction of trials whose every response step has the cue as its most probable class.</summary>
        public double Accuracy(SequenceModel model)
        {
            int batch = Input.Size(1), classes = task.Locations;
            if (probabilities.Length == 0)
            {
                probabilities = new float[Targets.Length * classes];
            }

            model.PredictEveryStep(Input, probabilities);
            int correct = 0;
            for (int b = 0; b < batch; b++)
            {
                bool right = true;
                for (int t = DelayedResponseTask.FirstResponseStep(delays[b]); t < lengths[b]; t++)
                {
                    var row = probabilities.AsSpan((t * batch + b) * classes, classes);
                    int best = 0;
                    for (int c = 1; c < classes; c++)
                    {
                        if (row[c] > row[best])
                        {
                            best = c;
                        }
                    }

                    right &= best == cues[b];
                }

                correct += right ? 1 : 0;
            }

            return (double)correct / batch;
        }
    }

    private sealed record MemoryRun(int Steps, double TestAccuracy);
}
