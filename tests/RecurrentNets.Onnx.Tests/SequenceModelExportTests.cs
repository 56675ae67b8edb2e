using Microsoft.ML.OnnxRuntime;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Onnx.Tests;

// Whole SequenceModel exports run in ONNX Runtime and are compared with model.Predict to 1e-5.
public sealed class SequenceModelExportTests(ITestOutputHelper log)
{
    private const int I = 3, Vocabulary = 7, T = 6, B = 4;
    private const double Tolerance = 1e-5;

    // Unsorted, one full, one of a single step.
    private static readonly int[] Lengths = [4, 6, 1, 3];

    public static TheoryData<string> Cases => new()
    {
        "lstm-2layers-bidirectional-laststep-linear", "tokens-embedding-gru-linear", "gru-cho-mean-linear", "rnn-relu-2layers-dropout",
        "lstm-peephole-cifg-learned-state-laststep-linear", "tdnn-lstm-laststep-linear", "tdnn-sigmoid-nobias-bigru-mean",
        "bilstm-dropout-laststep", "tokens-embedding-birnn-laststep-linear-mean", "tokens-onehot-rnn-linear",
        "bilstm-sum-dropout-laststep", "bigru-2layers-mul-bilstm-ave-linear", "lstm-go-backwards-2layers-laststep-linear",
    };

    private static SequenceModel<float> Build(string name)
    {
        bool tokens = name.StartsWith("tokens", StringComparison.Ordinal);
        var model = new SequenceModel<float>(tokens ? Vocabulary : I, seed: 42);
        switch (name)
        {
            case "lstm-2layers-bidirectional-laststep-linear":
                model.Add(Layer.Lstm(5, numLayers: 2, bidirectional: true, dropout: 0.3)).Add(Layer.LastStep()).Add(Layer.Linear(3));
                break;
            case "tokens-embedding-gru-linear":
                model.Add(Layer.Embedding(4, paddingIndex: 0)).Add(Layer.Gru(5, recurrentDropout: 0.2)).Add(Layer.Linear(Vocabulary));
                break;
            case "gru-cho-mean-linear":
                model.Add(Layer.Gru(5, resetAfterRecurrence: false)).Add(Layer.MeanOverTime()).Add(Layer.Linear(2));
                break;
            case "rnn-relu-2layers-dropout":
                // No head: the output is the RNN's own (not all zero, as the comparison checks).
                model.Add(Layer.Rnn(5, numLayers: 2, nonlinearity: Activation.Relu, dropout: 0.4)).Add(Layer.Dropout(0.5));
                break;
            case "lstm-peephole-cifg-learned-state-laststep-linear":
                model.Add(Layer.Lstm(5, peephole: true, coupledInputForget: true) with { LearnInitialState = true })
                    .Add(Layer.LastStep()).Add(Layer.Linear(2));
                var lstm = model.GetRecurrentLayer(0)!;
                OnnxExportTests.Fill(lstm.InitialHidden!.Values, new SeededRandom(3));
                OnnxExportTests.Fill(lstm.InitialCell!.Values, new SeededRandom(4));
                break;
            case "tdnn-lstm-laststep-linear":
                model.Add(Layer.TimeDelay(4, kernelSize: 3, dilation: 2, activation: Activation.Relu)).Add(Layer.Lstm(5))
                    .Add(Layer.LastStep()).Add(Layer.Linear(2));
                break;
            case "tdnn-sigmoid-nobias-bigru-mean":
                model.Add(Layer.TimeDelay(4, kernelSize: 2, activation: Activation.Sigmoid) with { Bias = false })
                    .Add(Layer.TimeDelay(4, kernelSize: 2, activation: Activation.Identity))
                    .Add(Layer.Gru(5, bidirectional: true)).Add(Layer.MeanOverTime());
                break;
            case "bilstm-dropout-laststep":
                // Dropout keeps the [forward, reverse] layout: LastStep still takes the reverse half at step 0.
                model.Add(Layer.Lstm(5, bidirectional: true)).Add(Layer.Dropout(0.2)).Add(Layer.LastStep());
                break;
            case "bilstm-sum-dropout-laststep":
                // A merged output has no halves: LastStep takes the last valid step of all H features.
                model.Add(Layer.Lstm(5, bidirectional: true, mergeMode: MergeMode.Sum)).Add(Layer.Dropout(0.2)).Add(Layer.LastStep());
                break;
            case "bigru-2layers-mul-bilstm-ave-linear":
                model.Add(Layer.Gru(5, numLayers: 2, bidirectional: true, mergeMode: MergeMode.Multiply))
                    .Add(Layer.Lstm(4, bidirectional: true, mergeMode: MergeMode.Average)).Add(Layer.Linear(2));
                break;
            case "lstm-go-backwards-2layers-laststep-linear":
                model.Add(Layer.Lstm(5, numLayers: 2, goBackwards: true)).Add(Layer.LastStep()).Add(Layer.Linear(2));
                break;
            case "tokens-onehot-rnn-linear":
                model.Add(Layer.OneHot()).Add(Layer.Rnn(5)).Add(Layer.Linear(Vocabulary));
                break;
            default:
                // A second reduction after the first is the identity.
                model.Add(Layer.Embedding(4)).Add(Layer.Rnn(5, bidirectional: true)).Add(Layer.LastStep()).Add(Layer.Linear(3)).Add(Layer.MeanOverTime());
                break;
        }

        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntimeWithUnsortedSequenceLengths(string name) => Check(name, Build(name), sequenceLengths: true);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntimeOnFullSequences(string name) => Check(name, Build(name), sequenceLengths: false);

    [Fact]
    public void DoubleModelIsExportedAsFloat()
    {
        var model = new SequenceModel<double>(I, seed: 7).Add(Layer.Lstm(5, bidirectional: true)).Add(Layer.MeanOverTime()).Add(Layer.Linear(2));
        var batch = new SequenceBatch<double>(T, B, I);
        var features = FillBatch(batch.Features!, Lengths);
        Lengths.CopyTo(batch.Lengths, 0);
        var expected = Array.ConvertAll(model.Predict(batch).Data, v => (float)v);
        double difference = RunOnnx(OnnxExporter.ToBytes(model, new OnnxExportOptions { SequenceLengths = true }), features, null, Lengths, expected, [1, B, 2]);
        log.WriteLine($"double lstm-bidirectional-mean-linear +sequence_lens: max |Predict - ORT| {difference:E2}");
        Assert.True(difference <= Tolerance, $"output differs by {difference}");
    }

    [Fact]
    public void CustomLayerIsRefusedAndNothingIsWritten()
    {
        var model = new SequenceModel<float>(I).Add(Layer.Gru(4)).Add(new CustomSpec("scale") { Name = "myscale" }, c => new Scale(c.InputSize));
        string path = Path.Combine(Path.GetTempPath(), $"rn-onnx-{Guid.NewGuid():N}.onnx");
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(model, path));
        Assert.Contains("'myscale'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'scale'", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        using var stream = new MemoryStream();
        Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(model, stream));
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void InitialStateOptionAndEmptyModelAreRefused()
    {
        var model = new SequenceModel<float>(I);
        Assert.Throws<ArgumentException>(() => OnnxExporter.ToBytes(model));
        model.Add(Layer.Lstm(4));
        Assert.Throws<ArgumentException>(() => OnnxExporter.ToBytes(model, new OnnxExportOptions { InitialState = true }));
    }

    [Fact]
    public void GraphHasTheDocumentedInputsAndOutput()
    {
        using var session = new InferenceSession(OnnxExporter.ToBytes(Build("tokens-embedding-gru-linear"), new OnnxExportOptions { SequenceLengths = true }));
        Assert.Equal([OnnxExporter.TokensName, OnnxExporter.SequenceLengthsName], session.InputMetadata.Keys);
        Assert.Equal(typeof(long), session.InputMetadata[OnnxExporter.TokensName].ElementType);
        Assert.Equal([OnnxExporter.OutputName], session.OutputMetadata.Keys);
        Assert.Equal([-1, -1, Vocabulary], session.OutputMetadata[OnnxExporter.OutputName].Dimensions);
        using var reduced = new InferenceSession(OnnxExporter.ToBytes(Build("gru-cho-mean-linear")));
        Assert.Equal([1, -1, 2], reduced.OutputMetadata[OnnxExporter.OutputName].Dimensions);
    }

    private void Check(string name, SequenceModel<float> model, bool sequenceLengths)
    {
        int[] lengths = sequenceLengths ? Lengths : [.. Enumerable.Repeat(T, B)];
        var batch = new SequenceBatch<float>(T, B, model.TokenInput ? 0 : I);
        lengths.CopyTo(batch.Lengths, 0);
        float[]? features = null;
        long[]? tokens = null;
        if (model.TokenInput)
        {
            // Padding (token 0) past each sequence's end.
            var random = new SeededRandom(11);
            tokens = new long[T * B];
            for (int n = 0; n < tokens.Length; n++)
            {
                batch.Tokens![n] = n / B < lengths[n % B] ? 1 + random.NextInt(Vocabulary - 1) : 0;
                tokens[n] = batch.Tokens[n];
            }
        }
        else
        {
            features = FillBatch(batch.Features!, lengths);
        }

        var output = model.Predict(batch);
        byte[] bytes = OnnxExporter.ToBytes(model, new OnnxExportOptions { SequenceLengths = sequenceLengths });
        double difference = RunOnnx(bytes, features, tokens, sequenceLengths ? lengths : null, output.Data, [.. output.Shape.ToArray().Select(d => (long)d)]);
        log.WriteLine($"{name}{(sequenceLengths ? " +sequence_lens" : "")}: max |Predict - ORT| {difference:E2}");
        Assert.True(difference <= Tolerance, $"{name}: output differs by {difference}");
    }

    private static double RunOnnx(byte[] model, float[]? features, long[]? tokens, int[]? lengths, float[] expected, long[] shape)
    {
        using var session = new InferenceSession(model);
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            if (tokens is not null)
            {
                inputs[OnnxExporter.TokensName] = OrtValue.CreateTensorValueFromMemory(tokens, [T, B]);
            }
            else
            {
                inputs[OnnxExporter.InputName] = OrtValue.CreateTensorValueFromMemory(features!, [T, B, I]);
            }

            if (lengths is not null)
            {
                inputs[OnnxExporter.SequenceLengthsName] = OrtValue.CreateTensorValueFromMemory((int[])lengths.Clone(), [B]);
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs, [OnnxExporter.OutputName]);
            return OnnxExportTests.MaxDifference(expected, results[0], shape);
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }

    // Random features on each sequence's valid steps, zero past its end; returns them as float32.
    private static float[] FillBatch<TValue>(Tensor<TValue> features, int[] lengths)
        where TValue : unmanaged, System.Numerics.IFloatingPointIeee754<TValue>
    {
        var random = new SeededRandom(7);
        var values = new float[features.Length];
        for (int n = 0; n < values.Length; n++)
        {
            values[n] = n / (B * I) < lengths[n / I % B] ? (float)random.NextUniform(-1, 1) : 0f;
            features.Data[n] = TValue.CreateTruncating(values[n]);
        }

        return values;
    }

    // A user-written layer: y = 2x.
    private sealed class Scale(int size) : ISequenceLayer<float>
    {
        public int InputSize => size;

        public int OutputSize => size;

        public bool Training { get; set; }

        public void Forward(Tensor<float> input, Tensor<float> output, ReadOnlySpan<int> lengths) =>
            System.Numerics.Tensors.TensorPrimitives.Multiply(input.AsSpan(), 2f, output.AsSpan());

        public void Backward(Tensor<float> dOutput, Tensor<float>? dInput)
        {
        }
    }
}
