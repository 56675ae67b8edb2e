using System.Numerics;
using System.Runtime.InteropServices;
using RecurrentNets.Cells;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Tasks;
using RecurrentNets.Reservoirs;
using RecurrentNets.Sequence;
using RecurrentNets.Training;

namespace RecurrentNets.Tests.Determinism;

/// <summary>
/// Fixed training runs of every cell and variant through the model layer (and the reservoirs and R2N2), hashed stage by
/// stage: initial weights, first loss, first gradient of every parameter, weights after each step, evaluation outputs.
/// <see cref="SameBitsTests"/> pins the hashes; comparing the stage hashes of two paths finds where they part.
/// </summary>
internal static class SameBitsProbe
{
    /// <summary>A training run's shape: H, layers, directions, B, T, lengths, a target per step or per sequence
    /// (after the last step), MSE or cross-entropy, dropout between layers and on the recurrent input, Keras' merge mode
    /// and go_backwards.</summary>
    internal sealed record Case(string Name, int Hidden, int Layers, bool Bidirectional, int Batch, int Steps,
        bool Ragged, bool PerStep, bool Regression, double Dropout = 0, double RecurrentDropout = 0, MergeMode Merge = MergeMode.Concat,
        bool GoBackwards = false);

    /// <summary>H = 5, 37, 128, 256 hit the vector tails of every width (and 256 the unit split over threads).</summary>
    internal static readonly Case[] Cases =
    [
        new("a", 5, 1, false, 1, 7, false, true, false),
        new("b", 37, 2, true, 32, 9, true, false, false, Dropout: 0.2),
        new("c", 128, 1, false, 32, 6, true, true, true, RecurrentDropout: 0.1),
        new("d", 37, 2, false, 3, 8, true, true, false),
        new("e", 256, 1, false, 1, 12, false, true, false),
        new("f", 37, 2, true, 32, 9, true, false, false, Dropout: 0.2, Merge: MergeMode.Multiply),
        new("g", 5, 1, true, 3, 7, true, true, true, Merge: MergeMode.Average),
        new("h", 37, 2, false, 3, 8, true, true, false, GoBackwards: true),
    ];

    internal static readonly string[] Kinds = ["rnn-tanh", "rnn-relu", "lstm", "lstm-peep", "lstm-cifg", "lstm-cifg-peep", "gru", "gru-cho", "lnlstm", "lngru", "lstmp"];

    internal static ulong Hash<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in MemoryMarshal.AsBytes(values))
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return h;
    }

    internal static SequenceModel<T> Build<T>(string kind, Case c, int inputSize, int outputs, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var model = new SequenceModel<T>(inputSize, seed);
        RecurrentSpec spec = kind switch
        {
            "rnn-tanh" => Layer.Rnn(c.Hidden, c.Layers, Activation.Tanh, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "rnn-relu" => Layer.Rnn(c.Hidden, c.Layers, Activation.Relu, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "lstm" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "lstm-peep" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, peephole: true),
            "lstm-cifg" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, coupledInputForget: true),
            "lstm-cifg-peep" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, peephole: true, coupledInputForget: true),
            "gru" => Layer.Gru(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "gru-cho" => Layer.Gru(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, resetAfterRecurrence: false),
            "lnlstm" => Layer.LayerNormLstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, forgetBias: 1),
            "lngru" => Layer.LayerNormGru(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "lstmp" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, projectionSize: (c.Hidden + 1) / 2),
            _ => throw new ArgumentException(kind),
        };
        model.Add(spec with { MergeMode = c.Merge, GoBackwards = c.GoBackwards });
        if (!c.PerStep)
        {
            model.Add(Layer.LastStep());
        }

        model.Add(Layer.Linear(outputs));
        if (c.Regression)
        {
            model.Compile(new MeanSquaredError<T>(), p => new Adam<T>(p, 1e-2));
        }
        else
        {
            model.Compile(new CrossEntropy<T>(), p => new Adam<T>(p, 1e-2));
        }

        model.ClipNorm = 0.5;
        return model;
    }

    internal static SequenceBatch<T> Batch<T>(Case c, int inputSize, int outputs, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new SeededRandom(seed);
        int targetSteps = c.PerStep ? c.Steps : 1;
        var batch = new SequenceBatch<T>(c.Steps, c.Batch, inputSize, c.Regression ? TargetKind.Values : TargetKind.Classes, targetSteps, outputs);
        for (int b = 0; b < c.Batch; b++)
        {
            batch.Lengths[b] = c.Ragged ? 1 + random.NextInt(c.Steps) : c.Steps;
        }

        if (c.Ragged)
        {
            batch.Lengths[0] = c.Steps;
        }

        var x = batch.Features!.AsSpan();
        for (int t = 0; t < c.Steps; t++)
        {
            for (int b = 0; b < c.Batch; b++)
            {
                for (int i = 0; i < inputSize; i++)
                {
                    x[(t * c.Batch + b) * inputSize + i] = t < batch.Lengths[b] ? T.CreateTruncating(random.NextNormal()) : T.Zero;
                }
            }
        }

        if (c.Regression)
        {
            var y = batch.Values!.AsSpan();
            for (int i = 0; i < y.Length; i++)
            {
                y[i] = T.CreateTruncating(random.NextNormal());
            }
        }
        else
        {
            for (int i = 0; i < batch.Classes!.Length; i++)
            {
                batch.Classes[i] = random.NextInt(outputs);
            }
        }

        return batch;
    }

    /// <summary>Trains one case a few steps; returns (stage, hash) pairs: initial weights, first forward, first gradients
    /// (per parameter), weights after every step, and the evaluation outputs.</summary>
    internal static List<(string Stage, ulong Hash)> Run<T>(string kind, Case c, int trainSteps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int inputSize = 3, outputs = 4;
        var stages = new List<(string, ulong)>();
        var model = Build<T>(kind, c, inputSize, outputs, seed: 11);
        stages.Add(("init", Hash<T>(model.Parameters.Values)));
        var batches = Enumerable.Range(0, 2).Select(i => Batch<T>(c, inputSize, outputs, (ulong)(100 + i))).ToArray();

        model.Optimizer!.ZeroGradients();
        double loss0 = model.ComputeGradients(batches[0]);
        stages.Add(("loss0", Hash<double>([loss0])));
        foreach (var view in model.Parameters.Views)
        {
            stages.Add(("grad0:" + view.Name, Hash<T>(model.Parameters.Gradients.AsSpan(view.Offset, view.Length))));
        }

        for (int s = 0; s < trainSteps; s++)
        {
            double loss = model.TrainStep(batches[s % batches.Length]);
            stages.Add(($"loss{s}", Hash<double>([loss])));
            stages.Add(($"weights{s}", Hash<T>(model.Parameters.Values)));
        }

        stages.Add(("predict", Hash<T>(model.Predict(batches[0]).AsSpan())));
        stages.Add(("frozen", Hash<T>(model.Freeze().Predict(batches[1]).AsSpan())));
        if (!c.Regression)
        {
            stages.Add(("probabilities", Hash<T>(model.PredictProbabilities(batches[1]).AsSpan())));
        }

        return stages;
    }


    /// <summary>Two models trained by Fit (shuffled batches, validation, metrics, schedules, SGD and Adam), then predicted
    /// and stepped; (stage, hash) pairs of the epoch summaries, the weights and the outputs.</summary>
    internal static List<(string Stage, ulong Hash)> RunFit<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var stages = new List<(string, ulong)>();
        var random = new SeededRandom(5);

        // Tokens -> embedding -> LSTM -> dropout -> time-delay (σ) -> mean over time -> 3 classes, SGD with momentum.
        var tokens = new List<(int[], int)>();
        for (int i = 0; i < 70; i++)
        {
            int length = 3 + random.NextInt(9);
            var sequence = new int[length];
            for (int t = 0; t < length; t++)
                sequence[t] = random.NextInt(11);
            tokens.Add((sequence, sequence.Sum() % 3));
        }

        var (train, validation) = SequenceDataset<T>.Create(tokens).Split(0.8, seed: 3);
        var classifier = new SequenceModel<T>(11, seed: 21).Add(Layer.Embedding(6)).Add(Layer.Lstm(33, peephole: true))
            .Add(Layer.Dropout(0.1)).Add(Layer.TimeDelay(7, 3, dilation: 2, activation: Activation.Sigmoid))
            .Add(Layer.MeanOverTime()).Add(Layer.Linear(3));
        classifier.Compile(new CrossEntropy<T>(), p => new Sgd<T>(p, 0.05, momentum: 0.9, nesterov: true), new Accuracy<T>(), new Perplexity<T>());
        var history = classifier.Fit(train, validation, new FitOptions { Epochs = 3, BatchSize = 16, ClipNorm = 1, BucketByLength = true });
        foreach (var epoch in history.Epochs)
            stages.Add(($"fit1.epoch{epoch.Epoch}", Hash<double>([epoch.Loss, epoch.ValidationLoss ?? 0, .. epoch.Metrics.Values])));
        stages.Add(("fit1.weights", Hash<T>(classifier.Parameters.Values)));
        stages.Add(("fit1.probabilities", Hash<T>(classifier.Predict(validation, probabilities: true).SelectMany(x => x).ToArray())));

        // Features -> stacked relu RNN (recurrent dropout) -> GRU (Cho) -> per-step linear regression, Adam, cosine schedule.
        var series = new List<(T[,], T[,])>();
        for (int i = 0; i < 40; i++)
        {
            int length = 4 + random.NextInt(13);
            var x = new T[length, 2];
            var y = new T[length, 3];
            for (int t = 0; t < length; t++)
            {
                x[t, 0] = T.CreateTruncating(random.NextNormal());
                x[t, 1] = T.CreateTruncating(random.NextNormal());
                for (int o = 0; o < 3; o++)
                    y[t, o] = T.CreateTruncating(Math.Sin(t * 0.3 + o) + 0.1 * random.NextNormal());
            }

            series.Add((x, y));
        }

        var data = SequenceDataset<T>.Create(series);
        var regressor = new SequenceModel<T>(2, seed: 22).Add(Layer.Rnn(20, numLayers: 2, Activation.Relu, recurrentDropout: 0.2))
            .Add(Layer.Gru(19, resetAfterRecurrence: false)).Add(Layer.Linear(3));
        regressor.Compile(new MeanSquaredError<T>(), p => new Adam<T>(p, 3e-3, weightDecay: 1e-3, decoupledWeightDecay: true),
            new MeanAbsoluteError<T>());
        history = regressor.Fit(data, null, new FitOptions { Epochs = 3, BatchSize = 8, Schedule = LearningRateSchedule.Cosine(3), ClipNorm = 0.3 });
        foreach (var epoch in history.Epochs)
            stages.Add(($"fit2.epoch{epoch.Epoch}", Hash<double>([epoch.Loss, .. epoch.Metrics.Values])));
        stages.Add(("fit2.weights", Hash<T>(regressor.Parameters.Values)));

        // Streaming inference, one step at a time.
        var stepper = regressor.CreateStepper();
        var output = new T[3];
        var outputs = new List<T>();
        for (int t = 0; t < 20; t++)
        {
            stepper.Step([T.CreateTruncating(Math.Cos(t)), T.CreateTruncating(0.5)], output);
            outputs.AddRange(output);
        }

        stages.Add(("fit2.stepper", Hash<T>(outputs.ToArray())));
        return stages;
    }


    /// <summary>An echo state network (sparse reservoir, spectral radius, ridge readout with cross-validation, closed loop)
    /// and R2N2 (aⁿbⁿ epochs, reversal); (stage, hash) pairs.</summary>
    internal static List<(string Stage, ulong Hash)> RunReservoirs<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var stages = new List<(string, ulong)>();
        // A logistic map (+, −, × only: the data must not depend on the C library, which rounds by CPU).
        var s = new T[2600];
        double x = 0.3;
        for (int t = 0; t < s.Length; t++, x = 3.8 * x * (1 - x))
            s[t] = T.CreateTruncating(2 * x - 1);
        foreach (var activation in new[] { Activation.Tanh, Activation.Sigmoid })
        {
            var reservoir = Reservoir<T>.Create(new ReservoirOptions
            {
                Units = 300, Connectivity = 0.05, SpectralRadius = 0.95, LeakRate = 0.4, InputScaling = 0.5, BiasScaling = 0.2,
                Seed = 7, Activation = activation,
            });
            var readout = new RidgeReadout<T>(features: 300, outputs: 1, ridge: 1e-8, folds: 3);
            var esn = new EchoStateNetwork<T>(reservoir, readout);
            var state = esn.CreateState();
            esn.Train(state, s.AsSpan(0, 2000), s.AsSpan(1, 2000), washout: 200, fit: false);
            stages.Add(($"esn.{activation}.state", Hash<T>(state.Reservoir)));
            readout.FitCrossValidated([1e-10, 1e-8, 1e-6]);
            stages.Add(($"esn.{activation}.readout", Hash<double>([.. readout.Weights, .. readout.Intercept, .. readout.CrossValidationErrors])));
            var prediction = new T[100];
            esn.Generate(state.Clone(), prediction);
            stages.Add(($"esn.{activation}.generate", Hash<T>(prediction)));
        }

        return stages;
    }

    internal static List<(string Stage, ulong Hash)> RunR2N2()
    {
        var stages = new List<(string, ulong)>();
        var learner = new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = 3, OutputSize = 3, BackwardGain = 1.4, Seed = 3 });
        var run = AnBnProtocol.Run(learner, rangeStart: 1, epochs: 30, shuffleSeed: 100);
        stages.Add(("r2n2.anbn.loss", Hash<double>(run.Loss)));
        stages.Add(("r2n2.anbn.weights", Hash<double>(learner.Consolidator.Parameters.Values)));

        var net = new R2N2Consolidator(new R2N2Options { GroupSize = 40, InputSize = 10, OutputSize = 10, Seed = 4 });
        net.RandomizeState();
        var x = Enumerable.Range(0, 10).Select(i => Math.Sin(i)).ToArray();
        net.Forward(x);
        stages.Add(("r2n2.forward", Hash<double>([.. net.StateA, .. net.StateB])));
        net.ResetReverseWeights();
        net.Reverse(x);
        stages.Add(("r2n2.reverse", Hash<double>([.. net.StateA, .. net.StateB])));
        return stages;
    }

    /// <summary>The stage hashes of one group of runs, and one hash of them all.</summary>
    internal sealed record Group(string Name, List<(string Stage, ulong Hash)> Stages)
    {
        public ulong Combined => Hash<ulong>(Stages.Select(s => s.Hash).ToArray());
    }

    /// <summary>Every cell and variant in float and double on the given cases, one group per (type, cell).</summary>
    internal static IEnumerable<Group> CellGroups(string[] caseNames, int trainSteps)
    {
        foreach (string kind in Kinds)
        {
            var floats = new List<(string, ulong)>();
            var doubles = new List<(string, ulong)>();
            foreach (var c in Cases.Where(c => caseNames.Contains(c.Name)))
            {
                floats.AddRange(Run<float>(kind, c, trainSteps).Select(s => ($"{c.Name}.{s.Stage}", s.Hash)));
                doubles.AddRange(Run<double>(kind, c, trainSteps).Select(s => ($"{c.Name}.{s.Stage}", s.Hash)));
            }

            yield return new Group($"float {kind}", floats);
            yield return new Group($"double {kind}", doubles);
        }
    }

    /// <summary>The Fit runs.</summary>
    internal static IEnumerable<Group> FitGroups()
    {
        yield return new Group("float fit", RunFit<float>());
        yield return new Group("double fit", RunFit<double>());
    }

    /// <summary>The echo state networks and R2N2.</summary>
    internal static IEnumerable<Group> ReservoirGroups()
    {
        yield return new Group("double reservoir", RunReservoirs<double>());
        yield return new Group("float reservoir", RunReservoirs<float>());
        yield return new Group("double r2n2", RunR2N2());
    }
}
