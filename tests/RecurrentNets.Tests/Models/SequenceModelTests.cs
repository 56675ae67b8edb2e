using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Models;

/// <summary>The model layer's forward and backward chain, names, custom layers, persistence and stepper.</summary>
public class SequenceModelTests
{
    /// <summary>L = Σ w ⊙ y over counted rows: a loss that reads every output value with its own weight.</summary>
    internal sealed class WeightedSum<T> : ILoss<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public string Name => "weighted_sum";

        public double Compute(Tensor<T> output, SequenceBatch<T> batch, Tensor<T>? dOutput)
        {
            double loss = 0;
            int steps = output.Size(0), rows = output.Size(1), width = output.Size(2);
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < rows; b++)
                {
                    bool valid = steps == 1 || t < batch.Lengths[b];
                    for (int j = 0; j < width; j++)
                    {
                        double w = valid ? Math.Sin(1 + t * 0.7 + b * 1.3 + j * 0.37) : 0;
                        loss += w * double.CreateTruncating(output[t, b, j]);
                        if (dOutput is not null)
                        {
                            dOutput[t, b, j] = T.CreateTruncating(w);
                        }
                    }
                }
            }

            return loss;
        }
    }

    /// <summary>
    /// Saves <paramref name="model"/> to a temporary file and loads it: the same architecture, parameters and predictions
    /// on <paramref name="batch"/>, and the frozen model's predictions to 1e-12. Returns the loaded model.
    /// </summary>
    internal static SequenceModel<double> AssertRoundTripsAndFreezes(SequenceModel<double> model, SequenceBatch<double> batch, string name)
    {
        var loaded = AssertRoundTrips(model, batch, name);
        double[] expected = model.Predict(batch).Data.ToArray(), frozen = loaded.Freeze().Predict(batch).Data.ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], frozen[i], 1e-12);
        }

        return loaded;
    }

    /// <summary>
    /// Saves <paramref name="model"/> to a temporary file and loads it: the same architecture, parameters and predictions
    /// (bit for bit) on <paramref name="batch"/>. Returns the loaded model.
    /// </summary>
    internal static SequenceModel<T> AssertRoundTrips<T>(SequenceModel<T> model, SequenceBatch<T> batch, string name)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] expected = model.Predict(batch).Data.ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"{name}-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(path);
            var loaded = SequenceModel<T>.Load(path);
            Assert.Equal(model.ArchitectureJson(), loaded.ArchitectureJson());
            Assert.Equal(model.Parameters.Values, loaded.Parameters.Values);
            Assert.Equal(expected, loaded.Predict(batch).Data);
            return loaded;
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static SequenceBatch<T> RandomBatch<T>(int steps, int batch, int inputSize, int[] lengths, ulong seed, int vocabulary = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new SeededRandom(seed);
        var result = new SequenceBatch<T>(steps, batch, vocabulary > 0 ? 0 : inputSize);
        lengths.CopyTo(result.Lengths, 0);
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                if (vocabulary > 0)
                {
                    result.Tokens![t * batch + b] = t < lengths[b] ? 1 + random.NextInt(vocabulary - 1) : 0; // 0 is padding (no gradient, as PyTorch)
                    continue;
                }

                for (int i = 0; i < inputSize; i++)
                {
                    result.Features![t, b, i] = t < lengths[b] ? T.CreateTruncating(random.NextNormal()) : T.Zero;
                }
            }
        }

        return result;
    }

    public static TheoryData<string> Architectures => new()
    {
        "lstm-stack-bidirectional-last", "gru-cho-mean", "rnn-relu-every-step", "lstm-peephole-coupled-last",
        "tokens-gru-every-step", "tdnn-dropout-lstm-last", "lstm-learned-initial-state-every-step",
        "lstm-stack-bidirectional-sum-last", "gru-bidirectional-mul-dropout-rnn-ave-every-step", "lstm-stack-go-backwards-last",
        "rnn-go-backwards-gru-every-step",
    };

    /// <summary>Builds a small model of each architecture in the Theory's list.</summary>
    internal static SequenceModel<T> Build<T>(string architecture, out int vocabulary)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        vocabulary = 0;
        switch (architecture)
        {
            case "lstm-stack-bidirectional-last":
                return new SequenceModel<T>(3, seed: 5).Add(Layer.Lstm(4, numLayers: 2, bidirectional: true)).Add(Layer.LastStep()).Add(Layer.Linear(3));
            case "gru-cho-mean":
                return new SequenceModel<T>(3, seed: 6).Add(Layer.Gru(5, resetAfterRecurrence: false)).Add(Layer.MeanOverTime()).Add(Layer.Linear(2));
            case "rnn-relu-every-step":
                return new SequenceModel<T>(3, seed: 7).Add(Layer.Rnn(4, nonlinearity: Activation.Relu)).Add(Layer.Linear(3, bias: false));
            case "lstm-peephole-coupled-last":
                return new SequenceModel<T>(3, seed: 8).Add(Layer.Lstm(4, peephole: true, coupledInputForget: true, forgetBias: 1))
                    .Add(Layer.LastStep()).Add(Layer.Linear(2));
            case "tokens-gru-every-step":
                vocabulary = 7;
                return new SequenceModel<T>(7, seed: 9).Add(Layer.Embedding(4, paddingIndex: 0)).Add(Layer.Gru(5, numLayers: 2)).Add(Layer.Linear(7));
            case "tdnn-dropout-lstm-last":
                return new SequenceModel<T>(3, seed: 10).Add(Layer.TimeDelay(4, kernelSize: 3, dilation: 2, activation: Activation.Relu))
                    .Add(Layer.Dropout(0.0)).Add(Layer.Lstm(4, bidirectional: true)).Add(Layer.LastStep()).Add(Layer.Linear(2, name: "classifier"));
            case "lstm-learned-initial-state-every-step":
                return new SequenceModel<T>(3, seed: 11).Add(new RecurrentSpec(RecurrentKind.Lstm, 4) { LearnInitialState = true, Name = "encoder" })
                    .Add(Layer.Linear(2));
            case "lstm-stack-bidirectional-sum-last":
                return new SequenceModel<T>(3, seed: 14).Add(Layer.Lstm(4, numLayers: 2, bidirectional: true, mergeMode: MergeMode.Sum))
                    .Add(Layer.LastStep()).Add(Layer.Linear(3));
            case "gru-bidirectional-mul-dropout-rnn-ave-every-step":
                return new SequenceModel<T>(3, seed: 15).Add(Layer.Gru(4, bidirectional: true, mergeMode: MergeMode.Multiply))
                    .Add(Layer.Dropout(0.0)).Add(Layer.Rnn(3, bidirectional: true, mergeMode: MergeMode.Average)).Add(Layer.Linear(2));
            case "lstm-stack-go-backwards-last":
                return new SequenceModel<T>(3, seed: 16).Add(Layer.Lstm(4, numLayers: 2, goBackwards: true)).Add(Layer.LastStep()).Add(Layer.Linear(2));
            case "rnn-go-backwards-gru-every-step":
                return new SequenceModel<T>(3, seed: 17).Add(Layer.Rnn(4, goBackwards: true)).Add(Layer.Gru(3)).Add(Layer.Linear(2));
            case "tokens-onehot-rnn-every-step":
                vocabulary = 6;
                return new SequenceModel<T>(6, seed: 13).Add(Layer.OneHot()).Add(Layer.Rnn(5)).Add(Layer.Linear(6));
            default:
                throw new ArgumentOutOfRangeException(nameof(architecture));
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryArchitectureHasExactGradientsWithVariableLengths(string architecture)
    {
        var model = Build<double>(architecture, out int vocabulary);
        var batch = RandomBatch<double>(6, 3, 3, [6, 2, 4], seed: 1, vocabulary);
        AssertExactGradients(model, batch);
    }

    /// <summary>Every parameter's gradient of L = Σ w ⊙ y against central finite differences.</summary>
    private static void AssertExactGradients(SequenceModel<double> model, SequenceBatch<double> batch)
    {
        var loss = new WeightedSum<double>();
        double LossAndBackward()
        {
            var y = model.Forward(batch);
            double value = loss.Compute(y, batch, model.OutputGradient);
            model.Backward(model.OutputGradient);
            return value;
        }

        foreach (var result in GradientCheck.CheckParameters(model.Parameters, LossAndBackward))
        {
            Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
        }
    }

    [Fact]
    public void ParametersAreNamedAsAPyTorchModuleWithTheSameAttributes()
    {
        var model = new SequenceModel<float>(10).Add(Layer.Embedding(4)).Add(Layer.Lstm(8, numLayers: 2, bidirectional: true))
            .Add(Layer.Dropout(0.1)).Add(Layer.Gru(6)).Add(Layer.LastStep()).Add(Layer.Linear(3));
        string[] names = [.. model.Parameters.Views.Select(v => v.Name)];
        Assert.Equal("embedding.weight", names[0]);
        Assert.Contains("rnn.weight_ih_l0", names);
        Assert.Contains("rnn.weight_hh_l1_reverse", names);
        Assert.Contains("rnn2.bias_hh_l0", names);
        Assert.Equal(["head.weight", "head.bias"], names[^2..]);
        Assert.Equal(["embedding", "rnn", "dropout", "rnn2", "reduce", "head"], model.Architecture.Select(s => s.Name));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryArchitectureRoundTripsThroughSaveAndLoad(string architecture)
    {
        var model = Build<float>(architecture, out int vocabulary);
        model.Metadata["note"] = "kept";
        model.Vocabulary = RecurrentNets.Data.Vocabulary.FromCharacters("abcdef", addUnknown: true);
        model.Normalizer = RecurrentNets.Data.Normalizer<float>.Fit(new float[,] { { 1, 2 }, { 3, 5 } });
        var batch = RandomBatch<float>(5, 2, 3, [5, 3], seed: 2, vocabulary);
        var loaded = AssertRoundTrips(model, batch, $"model-{architecture}");
        Assert.Equal("kept", loaded.Metadata["note"]);
        Assert.Equal(model.Vocabulary.ToJson(), loaded.Vocabulary!.ToJson());
        Assert.Equal(model.Normalizer.ToJson(), loaded.Normalizer!.ToJson());
    }

    [Fact]
    public void EveryOptionOfARecurrentSpecSurvivesTheArchitectureJson()
    {
        var spec = new RecurrentSpec(RecurrentKind.Lstm, 7)
        {
            NumLayers = 3, Bidirectional = true, Dropout = 0.25, RecurrentDropout = 0.125, Bias = false, LearnInitialState = true,
            Peephole = true, CoupledInputForget = true, ForgetBias = 1.5, ResetAfterRecurrence = false,
            Nonlinearity = Activation.Relu, Name = "enc",
        };
        var model = new SequenceModel<double>(2, seed: 3).Add(spec).Add(Layer.TimeDelay(3, 2, dilation: 3, activation: Activation.Sigmoid))
            .Add(Layer.MeanOverTime()).Add(Layer.Linear(2, bias: false));
        string path = Path.Combine(Path.GetTempPath(), $"model-options-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(path);
            var loaded = SequenceModel<double>.Load(path);
            Assert.Equal(model.Architecture, loaded.Architecture);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheStepperMatchesTheWholeSequenceBitForBit()
    {
        foreach (string architecture in new[] { "tokens-onehot-rnn-every-step", "rnn-relu-every-step", "tokens-gru-every-step", "lstm-learned-initial-state-every-step", "gru-cho-mean", "lstm-peephole-coupled-last" })
        {
            var model = Build<float>(architecture, out int vocabulary);
            const int steps = 7, batch = 2;
            var whole = RandomBatch<float>(steps, batch, 3, [steps, steps], seed: 4, vocabulary);
            var stepper = model.CreateStepper(batch);
            var output = new float[batch * model.OutputSize];
            for (int t = 0; t < steps; t++)
            {
                if (vocabulary > 0)
                {
                    stepper.Step(whole.Tokens.AsSpan(t * batch, batch), output);
                }
                else
                {
                    stepper.Step(whole.Features!.Step(t), output);
                }

                // The whole-sequence output at step t: for a per-step model its step t; for a reduction, the output for the
                // sequences cut at t + 1 steps.
                float[] expected;
                if (model.ReducesTime)
                {
                    var prefix = RandomBatch<float>(t + 1, batch, 3, [t + 1, t + 1], seed: 4, vocabulary);
                    expected = model.Predict(prefix).Data.ToArray();
                }
                else
                {
                    expected = model.Predict(whole).Step(t).ToArray();
                }

                Assert.True(expected.AsSpan().SequenceEqual(output), $"{architecture}: step {t} differs");
            }
        }
    }

    [Fact]
    public void AStatefulModelCarriesTheStateAcrossBatchesAsOneLongSequence()
    {
        foreach (string architecture in new[] { "tokens-onehot-rnn-every-step", "tokens-gru-every-step", "rnn-relu-every-step" })
        {
            var model = Build<float>(architecture, out int vocabulary);
            var whole = RandomBatch<float>(10, 2, 3, [10, 10], seed: 5, vocabulary);
            float[] expected = model.Predict(whole).Data.ToArray();
            model.Stateful = true;
            int width = model.OutputSize * 2;
            foreach (var (start, steps) in new[] { (0, 4), (4, 6) })
            {
                var window = new SequenceBatch<float>(steps, 2, vocabulary > 0 ? 0 : 3);
                if (vocabulary > 0)
                {
                    whole.Tokens.AsSpan(start * 2, steps * 2).CopyTo(window.Tokens);
                }
                else
                {
                    whole.Features!.Data.AsSpan(start * 2 * 3, steps * 2 * 3).CopyTo(window.Features!.Data);
                }

                var output = model.Predict(window);
                Assert.True(expected.AsSpan(start * width, steps * width).SequenceEqual(output.Data), $"{architecture}: window at {start} differs: {string.Join(",", expected.AsSpan(start * width, 6).ToArray())} vs {string.Join(",", output.Data.AsSpan(0, 6).ToArray())}");
            }

            model.ResetStates();
            var again = model.Predict(RandomBatch<float>(4, 2, 3, [4, 4], seed: 5, vocabulary));
            Assert.True(expected.AsSpan(0, 4 * width).SequenceEqual(again.Data), $"{architecture}: ResetStates did not restart");
        }
    }

    [Fact]
    public void AUserLayerRunsTrainsAndReloadsThroughItsFactory()
    {
        static ISequenceLayer<double> Factory(LayerContext<double> context) => new ScaledTanh<double>(context.Parameters, context.InputSize);
        var spec = new CustomSpec("scaled_tanh") { Name = "gain" };
        var model = new SequenceModel<double>(3, seed: 12).Add(Layer.Gru(4)).Add(spec, Factory).Add(Layer.LastStep()).Add(Layer.Linear(2));
        Assert.Contains("gain.scale", model.Parameters.Views.Select(v => v.Name));
        var batch = RandomBatch<double>(5, 2, 3, [5, 3], seed: 3);
        AssertExactGradients(model, batch);

        string path = Path.Combine(Path.GetTempPath(), $"model-custom-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(path);
            var error = Assert.Throws<ArgumentException>(() => SequenceModel<double>.Load(path));
            Assert.Contains("scaled_tanh", error.Message, StringComparison.Ordinal);
            var loaded = SequenceModel<double>.Load(path, (custom, context) => Factory(context));
            Assert.Equal(model.Predict(batch).Data, loaded.Predict(batch).Data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>y = s ⊙ tanh(x) with a learned per-feature scale s: a user layer of a few lines.</summary>
    private sealed class ScaledTanh<T> : ISequenceLayer<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ParameterView<T> scale;
        private Tensor<T>? input;

        public ScaledTanh(ParameterBlock<T> parameters, int size)
        {
            InputSize = OutputSize = size;
            scale = parameters.Add("scale", size);
            scale.Values.Fill(T.CreateTruncating(0.5));
        }

        public int InputSize { get; }

        public int OutputSize { get; }

        public bool Training { get; set; }

        public void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths)
        {
            this.input = input;
            for (int n = 0; n < input.Length; n++)
            {
                output.Data[n] = scale.Values[n % OutputSize] * T.Tanh(input.Data[n]);
            }
        }

        public void Backward(Tensor<T> dOutput, Tensor<T>? dInput)
        {
            for (int n = 0; n < dOutput.Length; n++)
            {
                T tanh = T.Tanh(input!.Data[n]);
                scale.Gradients[n % OutputSize] += dOutput.Data[n] * tanh;
                if (dInput is not null)
                {
                    dInput.Data[n] = dOutput.Data[n] * scale.Values[n % OutputSize] * (T.One - tanh * tanh);
                }
            }
        }
    }
}
