using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Reservoirs;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using RecurrentNets.Training;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// The per-object <c>MaxDegreeOfParallelism</c> of the public entry points (it replaced the process-wide
/// KernelOptions.MaxDegreeOfParallelism): validated, in force for the duration of a call, inherited by what the call
/// runs unless that has its own, restored afterwards, and without effect on the bits.
/// </summary>
public sealed class ThreadLimitTests
{
    [Fact]
    public void EveryEntryPointRefusesALimitBelowOne()
    {
        var model = new SequenceModel<float>(3).Add(Layer.Lstm(4));
        var reservoir = Reservoir<double>.Create(new ReservoirOptions { Units = 10 });
        Check(() => model.MaxDegreeOfParallelism = 0);
        Check(() => model.Freeze().MaxDegreeOfParallelism = 0);
        Check(() => new Lstm<float>(3, 4).MaxDegreeOfParallelism = 0);
        Check(() => new Linear<float>(3, 4).MaxDegreeOfParallelism = -1);
        Check(() => new TimeDelayNetwork<float>(3, [4], [2]).MaxDegreeOfParallelism = 0);
        Check(() => new EncoderDecoder<float>(EncoderDecoderCell.Lstm, 5, 5, 1, 2, 3, 4).MaxDegreeOfParallelism = 0);
        Check(() => reservoir.MaxDegreeOfParallelism = 0);
        Check(() => new EchoStateNetwork<double>(reservoir, new RidgeReadout<double>(10, 1)).MaxDegreeOfParallelism = 0);
        Check(() => Reservoir<double>.Create(new ReservoirOptions { Units = 10, MaxDegreeOfParallelism = 0 }));
        var trainer = Assert.Throws<ArgumentOutOfRangeException>(
            () => new Trainer<float>(new Sgd<float>(model.Parameters, 0.1), new TrainerOptions { MaxDegreeOfParallelism = 0 }));
        Assert.Equal("options.MaxDegreeOfParallelism", trainer.ParamName);

        static void Check(Action set) => Assert.Equal("MaxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(set).ParamName);
    }

    [Fact]
    public void AModelsCallRunsUnderItsOwnLimitElseItsCallersAndLeavesNothingBehind()
    {
        var probe = new Probe(3);
        var model = new SequenceModel<float>(3, seed: 1).Add(new CustomSpec("probe") { Name = "probe" }, _ => probe).Add(Layer.Linear(2));
        var batch = new SequenceBatch<float>(2, 1, 3);
        model.Predict(batch);
        Assert.Equal(Environment.ProcessorCount, probe.Seen); // null, called from no scope: all processors

        model.MaxDegreeOfParallelism = 1;
        model.Predict(batch);
        Assert.Equal(1, probe.Seen);
        Assert.Equal(Environment.ProcessorCount, KernelScope.MaxThreads); // the calling thread is as it was

        // A trainer's limit reaches the model its task calls, unless the model has its own.
        var task = new PredictTask(() => model.Predict(batch));
        model.MaxDegreeOfParallelism = null;
        new Trainer<float>(new Sgd<float>(model.Parameters, 0.1), new TrainerOptions { MaxDegreeOfParallelism = 1 }).Fit(task);
        Assert.Equal(1, probe.Seen);
        model.MaxDegreeOfParallelism = 3;
        new Trainer<float>(new Sgd<float>(model.Parameters, 0.1), new TrainerOptions { MaxDegreeOfParallelism = 1 }).Fit(task);
        Assert.Equal(3, probe.Seen);

        // Another thread's call is not limited by this thread's scope.
        using (KernelScope.Enter(1))
        {
            model.MaxDegreeOfParallelism = null;
            var thread = new Thread(() => model.Predict(batch));
            thread.Start();
            thread.Join();
            Assert.Equal(Environment.ProcessorCount, probe.Seen);
        }
    }

    [Fact]
    public void AFrozenModelTakesTheModelsLimitAndGivesTheSameBitsForAny()
    {
        var model = new SequenceModel<float>(16, seed: 4).Add(Layer.Lstm(64)).Add(Layer.Linear(8));
        model.MaxDegreeOfParallelism = 1;
        var frozen = model.Freeze();
        Assert.Equal(1, frozen.MaxDegreeOfParallelism);
        var batch = SequenceModelTests.RandomBatch<float>(12, 32, 16, [.. Enumerable.Repeat(12, 32)], seed: 8);
        float[] one = frozen.Predict(batch).Data.ToArray();
        frozen.MaxDegreeOfParallelism = 2;
        float[] two = frozen.Predict(batch).Data.ToArray();
        frozen.MaxDegreeOfParallelism = null;
        Assert.Null(frozen.MaxDegreeOfParallelism);
        Assert.Equal(one, two);
        Assert.Equal(one, frozen.Predict(batch).Data.ToArray());
    }

    [Fact]
    public void LayersGiveTheSameBitsForAnyLimit()
    {
        // Large enough that the products split: 2·(T·B)·I·O = 2·2048·64·64 flops per product.
        var random = new SeededRandom(2);
        var x = new Tensor<float>(64, 32, 64);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (float)random.NextNormal();
        }

        float[][] Run(int threads)
        {
            var network = new TimeDelayNetwork<float>(64, [64, 64], [3, 2], random: new SeededRandom(3)) { MaxDegreeOfParallelism = threads };
            var head = new Linear<float>(64, 64, random: new SeededRandom(4)) { MaxDegreeOfParallelism = threads };
            var y = new Tensor<float>(64, 32, 64);
            var z = new Tensor<float>(64, 32, 64);
            var dy = new Tensor<float>(64, 32, 64);
            network.Forward(x, y);
            head.Forward(y, z);
            head.Backward(y, z, dy);
            network.Backward(dy);
            return [z.Data.ToArray(), network.Parameters.Gradients.ToArray(), head.Parameters.Gradients.ToArray()];
        }

        float[][] one = Run(1), two = Run(2);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.Equal(one[i], two[i]);
        }
    }

    [Fact]
    public void AReservoirStepsUnderItsLimitOrItsNetworksAndGivesTheSameBitsForAny()
    {
        var reservoir = Reservoir<double>.Create(new ReservoirOptions { Units = 300, Connectivity = 0.1, Seed = 5, MaxDegreeOfParallelism = 1 });
        Assert.Equal(1, reservoir.MaxDegreeOfParallelism);
        reservoir.ParallelMinNonZeros = 0; // split every step when the limit allows
        var random = new SeededRandom(6);
        var states = Enumerable.Range(0, 4 * 300).Select(_ => random.NextUniform(-1, 1)).ToArray();
        var drives = Enumerable.Range(0, 4).Select(_ => random.NextUniform(-1, 1)).ToArray();
        double[] Step(int? threads)
        {
            reservoir.MaxDegreeOfParallelism = threads;
            var next = new double[4 * 300];
            reservoir.StepBatch(states, drives, 4, next);
            reservoir.Step(states.AsSpan(0, 300), drives.AsSpan(0, 1), next.AsSpan(0, 300));
            return next;
        }

        Assert.Equal(Step(1), Step(2));
        Assert.Equal(Step(1), Step(null));

        // An echo-state network's limit reaches its reservoir.
        var recorder = new RecordingReservoir(reservoir);
        var network = new EchoStateNetwork<double>(recorder, new RidgeReadout<double>(300, 1)) { MaxDegreeOfParallelism = 1 };
        network.Train(network.CreateState(), new double[5], new double[5], washout: 1, fit: false);
        Assert.Equal(1, recorder.Seen);
        network.MaxDegreeOfParallelism = null;
        network.Train(network.CreateState(), new double[5], new double[5], washout: 1, fit: false);
        Assert.Equal(Environment.ProcessorCount, recorder.Seen);
    }

    /// <summary>Passes its input through and records the calling thread's limit.</summary>
    private sealed class Probe(int size) : ISequenceLayer<float>
    {
        public int Seen { get; set; }

        public int InputSize => size;

        public int OutputSize => size;

        public bool Training { get; set; }

        public void Forward(Tensor<float> input, Tensor<float> output, ReadOnlySpan<int> lengths)
        {
            Seen = KernelScope.MaxThreads;
            input.AsSpan().CopyTo(output.AsSpan());
        }

        public void Backward(Tensor<float> dOutput, Tensor<float>? dInput) => dOutput.AsSpan().CopyTo(dInput!.AsSpan());
    }

    private sealed class PredictTask(Action call) : ITrainingTask
    {
        public int StepsPerEpoch => 1;

        public double TrainStep(int epoch, int step)
        {
            call();
            return 0;
        }

        public double? Validate(int epoch) => null;
    }

    private sealed class RecordingReservoir(IReservoir<double> inner) : IReservoir<double>
    {
        public int Seen { get; private set; }

        public int Units => inner.Units;

        public int Inputs => inner.Inputs;

        public int FeedbackSize => inner.FeedbackSize;

        public void Step(ReadOnlySpan<double> state, ReadOnlySpan<double> drive, Span<double> nextState)
        {
            Seen = KernelScope.MaxThreads;
            inner.Step(state, drive, nextState);
        }

        public void StepBatch(ReadOnlySpan<double> states, ReadOnlySpan<double> drives, int batchSize, Span<double> nextStates) =>
            inner.StepBatch(states, drives, batchSize, nextStates);
    }
}
