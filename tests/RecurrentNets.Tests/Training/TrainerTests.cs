using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Training;

namespace RecurrentNets.Tests.Training;

public class TrainerTests
{
    /// <summary>Minimises (w - 3)² by SGD; validation returns a scripted sequence.</summary>
    private sealed class Quadratic(ParameterBlock<double> block, double[]? validations = null) : ITrainingTask
    {
        public int StepsPerEpoch => 4;

        public List<double> Rates { get; } = [];

        public Optimizer<double>? Optimizer { get; set; }

        public double TrainStep(int epoch, int step)
        {
            Rates.Add(Optimizer!.LearningRate);
            double w = block.Values[0];
            block.Gradients[0] += 2 * (w - 3);
            return (w - 3) * (w - 3);
        }

        public double? Validate(int epoch) => validations is null ? null : validations[epoch];
    }

    private static ParameterBlock<double> Block()
    {
        var block = new ParameterBlock<double>();
        block.Add("w", 1);
        return block;
    }

    [Fact]
    public void TrainsAppliesTheScheduleAndReportsProgress()
    {
        var block = Block();
        var sgd = new Sgd<double>(block, 0.1);
        var task = new Quadratic(block) { Optimizer = sgd };
        var reports = new List<TrainingProgress>();
        var result = new Trainer<double>(sgd, new TrainerOptions { Epochs = 6, Schedule = LearningRateSchedule.Step(2, 0.5) })
            .Fit(task, new SynchronousProgress(reports.Add));
        Assert.InRange(block.Values[0], 2.8, 3.0); // from 0 towards the minimum at 3
        Assert.Equal(24, result.Steps);
        Assert.Equal(24, reports.Count);
        Assert.Equal([0.1, 0.1, 0.05, 0.05, 0.025, 0.025], task.Rates.Where((_, i) => i % 4 == 0));
        Assert.True(result.EpochLosses[^1] < result.EpochLosses[0]);
        Assert.Equal(5, reports[^1].Epoch);
        Assert.Equal(4, reports[^1].Step);
    }

    [Fact]
    public void CosineScheduleFollowsPyTorchsClosedForm()
    {
        var cosine = LearningRateSchedule.Cosine(10, 0.01);
        Assert.Equal(1.0, cosine.RateAt(0, 1.0), 12);
        Assert.Equal(0.01 + 0.99 * (1 + Math.Cos(Math.PI * 3 / 10)) / 2, cosine.RateAt(3, 1.0), 12);
        Assert.Equal(0.01, cosine.RateAt(10, 1.0), 12);
        Assert.Equal(0.01, cosine.RateAt(15, 1.0), 12);
    }

    [Fact]
    public void EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement()
    {
        var block = Block();
        var sgd = new Sgd<double>(block, 0.01);
        var task = new Quadratic(block, [5, 4, 4.5, 4.2, 3.9, 1, 1, 1, 1, 1]) { Optimizer = sgd };
        var result = new Trainer<double>(sgd, new TrainerOptions { Epochs = 10, EarlyStoppingPatience = 2 }).Fit(task);
        Assert.True(result.StoppedEarly);
        Assert.Equal(4, result.Epochs); // epochs 2 and 3 did not improve on 4
        Assert.Equal(4, result.BestValidation);
    }

    [Fact]
    public void CheckpointsEveryNStepsAndCancels()
    {
        var block = Block();
        var sgd = new Sgd<double>(block, 0.01);
        var task = new Quadratic(block) { Optimizer = sgd };
        var saved = new List<long>();
        using var cancel = new CancellationTokenSource();
        var options = new TrainerOptions { Epochs = 5, CheckpointEvery = 3, Checkpoint = s => { saved.Add(s); if (s == 9) cancel.Cancel(); } };
        Assert.Throws<OperationCanceledException>(() => new Trainer<double>(sgd, options).Fit(task, null, cancel.Token));
        Assert.Equal([3, 6, 9], saved);
        Assert.Equal(9, sgd.StepCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer<double>(sgd, new TrainerOptions { Epochs = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer<double>(sgd, new TrainerOptions { ClipNorm = 0 }));
    }

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
