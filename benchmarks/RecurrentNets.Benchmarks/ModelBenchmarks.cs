using BenchmarkDotNet.Attributes;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// The model layer's cost over the raw engine: one training step of the same network, LSTM (I = H = 128, T = 100) and
/// a linear head of 10 classes on every step, cross-entropy, Adam, written by hand on the engine (the baseline) and as
/// <see cref="SequenceModel{T}.TrainStep"/>. Both start from the same weights and see the same batch.
/// </summary>
[MemoryDiagnoser]
public class ModelBenchmarks
{
    private const int Steps = 100, Hidden = 128, Classes = 10;
    private Lstm<float> lstm = null!;
    private Linear<float> head = null!;
    private Adam<float> adam = null!;
    private Tensor<float> x = null!, y = null!, dy = null!;
    private float[] logits = [], dLogits = [];
    private int[] targets = [];
    private SequenceModel<float> model = null!;
    private SequenceBatch<float> batch = null!;

    [Params(32, 1)]
    public int Batch { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var parameters = new ParameterBlock<float>();
        lstm = new Lstm<float>(Hidden, Hidden, random: new SeededRandom(1), parameters: parameters);
        head = new Linear<float>(Hidden, Classes, random: new SeededRandom(2), parameters: parameters, name: "head");
        adam = new Adam<float>(parameters, 1e-3);
        model = new SequenceModel<float>(Hidden, seed: 1).Add(Layer.Lstm(Hidden)).Add(Layer.Linear(Classes));
        model.Compile(new CrossEntropy<float>(), p => new Adam<float>(p, 1e-3));
        lstm.MaxDegreeOfParallelism = Threads;
        head.MaxDegreeOfParallelism = Threads;
        model.MaxDegreeOfParallelism = Threads;

        batch = new SequenceBatch<float>(Steps, Batch, Hidden, TargetKind.Classes, targetSteps: Steps);
        var random = new SeededRandom(3);
        for (int i = 0; i < batch.Features!.Length; i++)
        {
            batch.Features.Data[i] = (float)random.NextNormal();
        }

        for (int i = 0; i < batch.Classes!.Length; i++)
        {
            batch.Classes[i] = random.NextInt(Classes);
        }

        x = batch.Features;
        targets = batch.Classes;
        y = new Tensor<float>(Steps, Batch, Hidden);
        dy = new Tensor<float>(Steps, Batch, Hidden);
        logits = new float[Steps * Batch * Classes];
        dLogits = new float[logits.Length];
    }

    /// <summary>The step written on the engine: forward, head, loss, head backward, BPTT, Adam.</summary>
    [Benchmark(Baseline = true)]
    public double Engine()
    {
        adam.ZeroGradients();
        lstm.Forward(x, y);
        head.Forward(y.Data, Steps * Batch, logits);
        double loss = CrossEntropyLoss.Compute<float>(logits, targets, Classes, dLogits);
        head.Backward(y.Data, dLogits, Steps * Batch, dy.Data);
        lstm.Backward(dy);
        adam.Step();
        return loss;
    }

    /// <summary>The same step as <see cref="SequenceModel{T}.TrainStep"/>.</summary>
    [Benchmark]
    public double Model() => model.TrainStep(batch);

    /// <summary>
    /// <c>model-ab</c>: Engine and Model alternated in one process, 5 steps each per round for 40 rounds, at every
    /// (batch, threads) point; prints the median and the best time of each and their ratio. Alternating cancels the
    /// drift of a shared machine that BenchmarkDotNet's one-method-after-the-other runs pick up.
    /// </summary>
    public static int RunAlternated()
    {
        Console.WriteLine("| B | threads | engine median ms | model median ms | ratio of medians | engine best ms | model best ms | ratio of bests |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int batch in new[] { 1, 32 })
        {
            foreach (int threads in new[] { 1, 2 })
            {
                var bench = new ModelBenchmarks { Batch = batch, Threads = threads };
                bench.Setup();
                var engine = new List<double>();
                var model = new List<double>();
                for (int i = 0; i < 10; i++)
                {
                    bench.Engine();
                    bench.Model();
                }

                var clock = new System.Diagnostics.Stopwatch();
                for (int round = 0; round < 40; round++)
                {
                    clock.Restart();
                    for (int i = 0; i < 5; i++)
                    {
                        bench.Engine();
                    }

                    engine.Add(clock.Elapsed.TotalMilliseconds / 5);
                    clock.Restart();
                    for (int i = 0; i < 5; i++)
                    {
                        bench.Model();
                    }

                    model.Add(clock.Elapsed.TotalMilliseconds / 5);
                }

                engine.Sort();
                model.Sort();
                double em = engine[engine.Count / 2], mm = model[model.Count / 2];
                Console.WriteLine(FormattableString.Invariant(
                    $"| {batch} | {threads} | {em:F3} | {mm:F3} | {mm / em:F3} | {engine[0]:F3} | {model[0]:F3} | {model[0] / engine[0]:F3} |"));
            }
        }

        return 0;
    }
}
