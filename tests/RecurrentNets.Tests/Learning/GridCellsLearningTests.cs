using System.Diagnostics;
using GridCellsSample;
using RecurrentNets.Data;
using RecurrentNets.Init;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Learning;

/// <summary>
/// The GridCells sample's network (Banino et al. 2018, supervised path integration) learns to predict place cells from
/// self-motion: a small instance's decoded position error falls far below chance.
/// </summary>
public class GridCellsLearningTests(ITestOutputHelper output)
{
    [Fact]
    public void ASmallPathIntegrationNetworkDecodesPositionFarBelowChance()
    {
        // 64 place cells (σ² = 0.04 m²), LSTM 32, bottleneck 32, 20-step trajectories, 400 steps of 16 (a few seconds).
        var clock = Stopwatch.StartNew();
        var task = new PathIntegrationTask(null, placeCells: 64, placeCellVariance: 0.04, headDirectionCells: 12, headDirectionConcentration: 20,
            new SeededRandom(1));
        var model = new PathIntegrationModel(64, 12, hiddenSize: 32, bottleneckSize: 32, dropoutRate: 0.5, learningRate: 1e-2, clipNorm: 1.0,
            weightDecay: 0, new SeededRandom(2));
        var test = task.CreateBatch<float>(20, 200);
        task.Generate(new SeededRandom(4), test);
        model.Forward(test, training: false);
        double before = model.PositionError(task, test);

        var data = new SeededRandom(3);
        var batch = task.CreateBatch<float>(20, 16);
        for (int step = 0; step < 400; step++)
        {
            task.Generate(data, batch);
            model.TrainStep(batch);
        }

        var (place, headDirection) = model.Forward(test, training: false);
        double after = model.PositionError(task, test);
        output.WriteLine($"position error {100 * before:F1} cm -> {100 * after:F1} cm (chance {100 * task.ChanceError:F1} cm); "
            + $"place CE {place:F3} (uniform {Math.Log(64):F3}), HD CE {headDirection:F3} (uniform {Math.Log(12):F3}); {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(after < 0.35 * task.ChanceError,
            $"The decoded position error is {100 * after:F1} cm; chance (always the centre) is {100 * task.ChanceError:F1} cm.");
        Assert.True(place < Math.Log(64) - 1, $"Place-cell cross-entropy {place:F3} is not 1 nat below uniform ({Math.Log(64):F3}).");
        Assert.True(headDirection < Math.Log(12) - 0.5, $"Head-direction cross-entropy {headDirection:F3} is not 0.5 nat below uniform ({Math.Log(12):F3}).");
    }

    [Fact]
    public void ASteadyStateTrainingStepAndBatchDoNotAllocate()
    {
        var task = new PathIntegrationTask(null, 32, 0.04, 8, 20, new SeededRandom(1));
        var model = new PathIntegrationModel(32, 8, 16, 16, 0.5, 1e-2, 1.0, 0, new SeededRandom(2));
        var batch = task.CreateBatch<float>(10, 8);
        var data = new SeededRandom(3);
        for (int step = 0; step < 3; step++)
        {
            task.Generate(data, batch);
            model.TrainStep(batch);
            model.PositionError(task, batch);
        }

        Assert.Equal(0, SteadyState.AllocatedBytes(_ =>
        {
            task.Generate(data, batch);
            model.TrainStep(batch);
            model.PositionError(task, batch);
        }, 1));
    }

    [Fact]
    public void TrainingIsDeterministic()
    {
        double Run()
        {
            var task = new PathIntegrationTask(null, 32, 0.04, 8, 20, new SeededRandom(1));
            var model = new PathIntegrationModel(32, 8, 16, 16, 0.5, 1e-2, 1.0, 0, new SeededRandom(2));
            var batch = task.CreateBatch<float>(10, 8);
            var data = new SeededRandom(3);
            double loss = 0;
            for (int step = 0; step < 20; step++)
            {
                task.Generate(data, batch);
                loss = model.TrainStep(batch).Place;
            }

            return loss;
        }

        Assert.Equal(Run(), Run());
    }
}
