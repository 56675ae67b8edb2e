using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Determinism;

/// <summary>Fixed training runs of every cell and variant through the model layer, hashed stage by stage.</summary>
public class SameBitsProbe(ITestOutputHelper output)
{
    internal sealed record Case(string Name, string Kind, int Hidden, int Layers, bool Bidirectional, int Batch, int Steps,
        bool Ragged, bool PerStep, bool Regression, double Dropout = 0, double RecurrentDropout = 0);

    internal static readonly Case[] Cases =
    [
        new("a", "", 5, 1, false, 1, 7, false, true, false),
        new("b", "", 37, 2, true, 32, 9, true, false, false, Dropout: 0.2),
        new("c", "", 128, 1, false, 32, 6, true, true, true, RecurrentDropout: 0.1),
        new("d", "", 37, 2, false, 3, 8, true, true, false),
    ];

    internal static readonly string[] Kinds = ["rnn-tanh", "rnn-relu", "lstm", "lstm-peep", "lstm-cifg", "lstm-cifg-peep", "gru", "gru-cho"];

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
            "rnn-tanh" => Layer.Rnn(c.Hidden, c.Layers, RnnNonlinearity.Tanh, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "rnn-relu" => Layer.Rnn(c.Hidden, c.Layers, RnnNonlinearity.Relu, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "lstm" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "lstm-peep" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, peephole: true),
            "lstm-cifg" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, coupledInputForget: true),
            "lstm-cifg-peep" => Layer.Lstm(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, peephole: true, coupledInputForget: true),
            "gru" => Layer.Gru(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout),
            "gru-cho" => Layer.Gru(c.Hidden, c.Layers, c.Bidirectional, c.Dropout, c.RecurrentDropout, resetAfterRecurrence: false),
            _ => throw new ArgumentException(kind),
        };
        model.Add(spec);
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

    internal static string Path =>
        Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : "Vector128";

    [Fact]
    [Trait("Category", "Probe")]
    public void PrintEveryStage()
    {
        var text = new StringBuilder();
        text.AppendLine($"# V512={Vector512.IsHardwareAccelerated} V256={Vector256.IsHardwareAccelerated} Avx2={Avx2.IsSupported} Fma={Fma.IsSupported} Vector<float>={Vector<float>.Count}");
        foreach (string kind in Kinds)
        {
            foreach (var c in Cases)
            {
                foreach (var (stage, hash) in Run<float>(kind, c, 4))
                    text.AppendLine($"float {kind} {c.Name} {stage} {hash:x16}");
                foreach (var (stage, hash) in Run<double>(kind, c, 4))
                    text.AppendLine($"double {kind} {c.Name} {stage} {hash:x16}");
            }
        }

        string? file = Environment.GetEnvironmentVariable("BITS_PROBE_OUT");
        if (file is not null)
            File.WriteAllText(file, text.ToString());
        output.WriteLine(text.ToString());
    }
}
