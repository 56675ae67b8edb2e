using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Models;

/// <summary>A layer or a model used by two threads at once throws, naming the problem, instead of hanging or giving
/// wrong results; one after the other, any thread may use it.</summary>
public class ConcurrencyTests
{
    /// <summary>Runs <paramref name="first"/> and <paramref name="second"/> in loops on two threads until one call throws
    /// (at most 20 s); returns the exception, or null when the calls never overlapped.</summary>
    private static InvalidOperationException? Race(Action first, Action second)
    {
        InvalidOperationException? caught = null;
        var stop = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        void Loop(Action call)
        {
            while (Volatile.Read(ref caught) is null && DateTime.UtcNow < stop)
            {
                try
                {
                    call();
                }
                catch (InvalidOperationException e)
                {
                    Interlocked.CompareExchange(ref caught, e, null);
                }
            }
        }

        var tasks = new[] { Task.Factory.StartNew(() => Loop(first), TaskCreationOptions.LongRunning), Task.Factory.StartNew(() => Loop(second), TaskCreationOptions.LongRunning) };
#pragma warning disable xUnit1031 // a bounded wait is the point: a hang must fail the test, not block the run
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(60)), "The two threads hung.");
#pragma warning restore xUnit1031
        return caught;
    }

    [Fact]
    public async Task TwoThreadsOnOneLayerGetAnErrorNotAHang()
    {
        var lstm = new Lstm<float>(16, 64, random: new SeededRandom(1));
        var x1 = new Tensor<float>(200, 2, 16);
        var x2 = new Tensor<float>(200, 2, 16);
        var y1 = new Tensor<float>(200, 2, 64);
        var y2 = new Tensor<float>(200, 2, 64);
        var error = Race(() => lstm.Forward(x1, y1), () => lstm.Forward(x2, y2));
        Assert.NotNull(error);
        Assert.Contains("Lstm<float>", error!.Message, StringComparison.Ordinal);
        Assert.Contains("another thread", error.Message, StringComparison.Ordinal);

        // One after the other, from any thread, is fine and gives the same bits.
        lstm.Forward(x1, y1);
        float[] expected = y1.Data.ToArray();
        await Task.Run(() => lstm.Forward(x1, y2));
        Assert.Equal(expected, y2.Data);
    }

    [Fact]
    public void TwoThreadsOnOneModelGetAnErrorNotAHang()
    {
        var model = new SequenceModel<float>(4, seed: 1).Add(Layer.Gru(32)).Add(Layer.LastStep()).Add(Layer.Linear(3));
        model.Compile(new CrossEntropy<float>(), p => new Sgd<float>(p, 0.01));
        var train = new SequenceBatch<float>(100, 4, 4, TargetKind.Classes, targetSteps: 1);
        var other = new SequenceBatch<float>(100, 4, 4);
        var error = Race(() => model.TrainStep(train), () => model.Predict(other));
        Assert.NotNull(error);
        Assert.Contains("SequenceModel<float>", error!.Message, StringComparison.Ordinal);

        var stepper = model.CreateStepper();
        var output = new float[3];
        var stepError = Race(() => stepper.Step(new float[4], output), () => model.Predict(other));
        Assert.NotNull(stepError);
    }
}
