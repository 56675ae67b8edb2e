using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Serialization;

public sealed class ResumeTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("rn-resume-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainingResumedFromACheckpointIsBitIdentical(bool adam)
    {
        var (block, step) = Model(adam, out var optimizer);
        for (int i = 0; i < 3; i++)
        {
            step();
        }

        string model = Path.Combine(directory, "model.safetensors"), state = Path.Combine(directory, "optimizer.safetensors");
        Checkpoint.Save(model, block);
        Checkpoint.SaveOptimizer(state, optimizer);
        for (int i = 0; i < 3; i++)
        {
            step();
        }

        var (resumedBlock, resumedStep) = Model(adam, out var resumedOptimizer, seed: 99);
        Checkpoint.Load(model, resumedBlock);
        Checkpoint.LoadOptimizer(state, resumedOptimizer);
        for (int i = 0; i < 3; i++)
        {
            resumedStep();
        }

        Assert.Equal(block.Values, resumedBlock.Values);
        Assert.Equal(optimizer.StepCount, resumedOptimizer.StepCount);
        Optimizer<float> other = adam ? new Sgd<float>(resumedBlock, 0.1, momentum: 0.5) : new Adam<float>(resumedBlock);
        Assert.Throws<ArgumentException>(() => Checkpoint.LoadOptimizer(state, other));
    }

    private static (ParameterBlock<float> Block, Action Step) Model(bool adam, out Optimizer<float> optimizer, ulong seed = 1)
    {
        var random = new SeededRandom(seed);
        var block = new ParameterBlock<float>();
        var lstm = new Lstm<float>(3, 8, random: random, parameters: block);
        var head = new Linear<float>(8, 2, random: random, parameters: block);
        var opt = adam ? (Optimizer<float>)new Adam<float>(block, 0.01) : new Sgd<float>(block, 0.1, momentum: 0.9);
        optimizer = opt;
        var data = new SeededRandom(5);
        var x = new Tensor<float>(6, 4, 3);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (float)data.NextNormal();
        }

        var targets = new int[24];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = data.NextInt(2);
        }

        var y = new Tensor<float>(6, 4, 8);
        var dy = new Tensor<float>(6, 4, 8);
        var logits = new float[48];
        var dLogits = new float[48];
        return (block, () =>
        {
            opt.ZeroGradients();
            lstm.Forward(x, y);
            head.Forward(y.Data, 24, logits);
            CrossEntropyLoss.Compute<float>(logits, targets, 2, dLogits);
            head.Backward(y.Data, dLogits, 24, dy.Data);
            lstm.Backward(dy);
            opt.Step();
        });
    }
}
