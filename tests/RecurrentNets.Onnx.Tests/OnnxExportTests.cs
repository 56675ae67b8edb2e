using Microsoft.ML.OnnxRuntime;
using RecurrentNets.Cells;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using Xunit.Abstractions;
using RnTensor = RecurrentNets.Tensors.Tensor<float>;

namespace RecurrentNets.Onnx.Tests;

// Every export runs in ONNX Runtime and is compared with our float forward pass (inference mode) to 1e-5.
public sealed class OnnxExportTests(ITestOutputHelper log)
{
    private const int I = 3, H = 4, T = 5, B = 3;
    private const double Tolerance = 1e-5;

    // Unsorted lengths, one full, one of a single step.
    private static readonly int[] Lengths = [3, 5, 1];

    public static TheoryData<string> Cases => new()
    {
        "rnn-tanh", "rnn-relu", "lstm", "lstm-peephole", "lstm-cifg", "lstm-cifg-peephole", "gru-pytorch", "gru-cho",
        "rnn-2layers", "lstm-2layers", "gru-2layers",
        "rnn-bidirectional", "lstm-bidirectional", "lstm-cifg-peephole-bidirectional", "gru-bidirectional", "gru-cho-bidirectional",
        "lstm-2layers-bidirectional", "gru-nobias", "lstm-nobias",
        "rnn-bidirectional-sum", "lstm-bidirectional-mul", "gru-bidirectional-ave", "lstm-2layers-bidirectional-ave",
        "gru-2layers-bidirectional-mul", "rnn-gobackwards", "lstm-peephole-gobackwards", "gru-2layers-gobackwards",
    };

    private static RecurrentLayer<float> Build(string name, bool learnInitialState = false)
    {
        var random = new SeededRandom(1234);
        int layers = name.Contains("2layers", StringComparison.Ordinal) ? 2 : 1;
        bool bidirectional = name.Contains("bidirectional", StringComparison.Ordinal);
        bool bias = !name.Contains("nobias", StringComparison.Ordinal);

        // Dropout is set to check that the export is the inference model.
        double dropout = layers > 1 ? 0.3 : 0;
        var mergeMode = name.EndsWith("-sum", StringComparison.Ordinal) ? MergeMode.Sum
            : name.EndsWith("-mul", StringComparison.Ordinal) ? MergeMode.Multiply
            : name.EndsWith("-ave", StringComparison.Ordinal) ? MergeMode.Average : MergeMode.Concat;
        bool goBackwards = name.Contains("gobackwards", StringComparison.Ordinal);
        RecurrentLayer<float> layer = name.Split('-')[0] switch
        {
            "rnn" => new Rnn<float>(I, H, layers, name.Contains("relu", StringComparison.Ordinal) ? Activation.Relu : Activation.Tanh,
                bias, random, bidirectional: bidirectional, dropout: dropout, learnInitialState: learnInitialState, mergeMode: mergeMode,
                goBackwards: goBackwards),
            "gru" => new Gru<float>(I, H, layers, bias, random, bidirectional: bidirectional, dropout: dropout,
                resetAfterRecurrence: !name.Contains("cho", StringComparison.Ordinal), learnInitialState: learnInitialState, recurrentDropout: 0.2,
                mergeMode: mergeMode, goBackwards: goBackwards),
            _ => new Lstm<float>(I, H, layers, bias, random, bidirectional: bidirectional, dropout: dropout,
                peephole: name.Contains("peephole", StringComparison.Ordinal), coupledInputForget: name.Contains("cifg", StringComparison.Ordinal),
                learnInitialState: learnInitialState, mergeMode: mergeMode, goBackwards: goBackwards),
        };
        if (learnInitialState)
        {
            Fill(layer.InitialHidden!.Values, new SeededRandom(99));
            if (layer.InitialCell is not null)
            {
                Fill(layer.InitialCell.Values, new SeededRandom(98));
            }
        }

        return layer;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string name) => Check(name, Build(name), head: null, new OnnxExportOptions());

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntimeWithUnsortedSequenceLengths(string name) =>
        Check(name + " +sequence_lens", Build(name), head: null, new OnnxExportOptions { SequenceLengths = true });

    [Theory]
    [InlineData("lstm-2layers-bidirectional")]
    [InlineData("gru-bidirectional")]
    [InlineData("rnn-relu")]
    public void MatchesOnnxRuntimeWithHead(string name)
    {
        var layer = Build(name);
        var head = new Linear<float>(layer.OutputSize, 2, random: new SeededRandom(5));
        Check(name + " +head", layer, head, new OnnxExportOptions());
        Check(name + " +head +sequence_lens", layer, head, new OnnxExportOptions { SequenceLengths = true });
    }

    [Fact]
    public void MatchesOnnxRuntimeWithHeadWithoutBias()
    {
        var layer = Build("lstm");
        Check("lstm +head(no bias)", layer, new Linear<float>(layer.OutputSize, 2, bias: false, random: new SeededRandom(5)), new OnnxExportOptions());
    }

    [Theory]
    [InlineData("lstm-2layers-bidirectional")]
    [InlineData("gru-2layers")]
    [InlineData("rnn-bidirectional")]
    public void MatchesOnnxRuntimeWithInitialStateInputs(string name) =>
        Check(name + " +initial state", Build(name), head: null, new OnnxExportOptions { InitialState = true, SequenceLengths = true });

    [Theory]
    [InlineData("lstm-2layers-bidirectional")]
    [InlineData("gru-bidirectional")]
    [InlineData("rnn")]
    public void MatchesOnnxRuntimeWithLearnedInitialState(string name) =>
        Check(name + " +learned initial state", Build(name, learnInitialState: true), head: null, new OnnxExportOptions { SequenceLengths = true });

    [Fact]
    public void WithoutFinalStateHasOnlyTheOutput()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rn-onnx-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(Build("lstm"), null, path, new OnnxExportOptions { FinalState = false });
            using var session = new InferenceSession(path);
            Assert.Equal([OnnxExporter.OutputName], session.OutputMetadata.Keys);
            Assert.Equal([OnnxExporter.InputName], session.InputMetadata.Keys);

            // T and B are symbolic (dim_param), I is fixed.
            var input = session.InputMetadata[OnnxExporter.InputName];
            Assert.Equal([-1, -1, I], input.Dimensions);
            Assert.Equal(["time_steps", "batch_size", ""], input.SymbolicDimensions);
            Assert.Equal("RecurrentNets.Onnx", session.ModelMetadata.ProducerName);
            Assert.Equal("recurrentnets", session.ModelMetadata.GraphName);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void DoubleModelIsExportedAsFloat()
    {
        var layer = new Lstm<double>(I, H, 2, random: new SeededRandom(1234), bidirectional: true, peephole: true);
        var head = new Linear<double>(layer.OutputSize, 2, random: new SeededRandom(5));
        var x = new RecurrentNets.Tensors.Tensor<double>(T, B, I);
        var random = new SeededRandom(7);
        var xf = new float[x.Data.Length];
        for (int k = 0; k < xf.Length; k++)
        {
            xf[k] = (float)random.NextUniform(-1, 1);
            x.Data[k] = xf[k];
        }

        var y = new RecurrentNets.Tensors.Tensor<double>(T, B, layer.OutputSize);
        var o = new RecurrentNets.Tensors.Tensor<double>(T, B, 2);
        layer.Training = false;
        layer.Forward(x, y, sequenceLengths: Lengths);
        head.Forward(y, o);

        using var stream = new MemoryStream();
        OnnxExporter.Export(layer, head, stream, new OnnxExportOptions { SequenceLengths = true, FinalState = false });
        using var session = new InferenceSession(stream.ToArray());
        using var input = OrtValue.CreateTensorValueFromMemory(xf, [T, B, I]);
        using var lengths = OrtValue.CreateTensorValueFromMemory((int[])Lengths.Clone(), [B]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions,
            new Dictionary<string, OrtValue> { [OnnxExporter.InputName] = input, [OnnxExporter.SequenceLengthsName] = lengths },
            [OnnxExporter.OutputName]);
        double output = MaxDifference(Array.ConvertAll(o.Data, v => (float)v), results[0], [T, B, 2]);
        log.WriteLine($"lstm<double> 2 layers bidirectional peephole +head +sequence_lens: max |ours - ORT| output {output:E2}");
        Assert.True(output <= Tolerance, $"output differs by {output}");
    }

    private void Check(string name, RecurrentLayer<float> layer, Linear<float>? head, OnnxExportOptions options)
    {
        layer.Training = false;
        var x = new RnTensor(T, B, I);
        Fill(x.Data, new SeededRandom(7));
        RecurrentState<float>? initial = null;
        if (options.InitialState)
        {
            initial = layer.CreateState(B);
            Fill(initial.Hidden.Data, new SeededRandom(8));
            if (initial.Cell is not null)
            {
                Fill(initial.Cell.Data, new SeededRandom(9));
            }
        }

        var y = new RnTensor(T, B, layer.OutputSize);
        var final = layer.CreateState(B);
        layer.Forward(x, y, initial, final, options.SequenceLengths ? Lengths : default);
        float[] expected = y.Data;
        if (head is not null)
        {
            var o = new RnTensor(T, B, head.OutFeatures);
            head.Forward(y, o);
            expected = o.Data;
        }

        string path = Path.Combine(Path.GetTempPath(), $"rn-onnx-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(layer, head, path, options);
            using var session = new InferenceSession(path);
            var inputs = new Dictionary<string, OrtValue>
            {
                [OnnxExporter.InputName] = OrtValue.CreateTensorValueFromMemory(x.Data, [T, B, I]),
            };
            if (options.SequenceLengths)
            {
                inputs[OnnxExporter.SequenceLengthsName] = OrtValue.CreateTensorValueFromMemory((int[])Lengths.Clone(), [B]);
            }

            int stateRows = layer.NumLayers * layer.Directions;
            if (initial is not null)
            {
                inputs[OnnxExporter.InitialHiddenName] = OrtValue.CreateTensorValueFromMemory(initial.Hidden.Data, [stateRows, B, H]);
                if (initial.Cell is not null)
                {
                    inputs[OnnxExporter.InitialCellName] = OrtValue.CreateTensorValueFromMemory(initial.Cell.Data, [stateRows, B, H]);
                }
            }

            var outputNames = new List<string> { OnnxExporter.OutputName, OnnxExporter.FinalHiddenName };
            if (layer.HasCellState)
            {
                outputNames.Add(OnnxExporter.FinalCellName);
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs, outputNames);
            double output = MaxDifference(expected, results[0], [T, B, head?.OutFeatures ?? layer.OutputSize]);
            double hidden = MaxDifference(final.Hidden.Data, results[1], [stateRows, B, H]);
            double cell = layer.HasCellState ? MaxDifference(final.Cell!.Data, results[2], [stateRows, B, H]) : 0;
            log.WriteLine($"{name}: max |ours - ORT| output {output:E2}, final_h {hidden:E2}{(layer.HasCellState ? $", final_c {cell:E2}" : "")}");
            Assert.True(output <= Tolerance, $"{name}: output differs by {output}");
            Assert.True(hidden <= Tolerance, $"{name}: final_h differs by {hidden}");
            Assert.True(cell <= Tolerance, $"{name}: final_c differs by {cell}");
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static double MaxDifference(float[] expected, OrtValue actual, long[] shape)
    {
        Assert.Equal(shape, actual.GetTensorTypeAndShape().Shape);
        ReadOnlySpan<float> values = actual.GetTensorDataAsSpan<float>();
        Assert.Equal(expected.Length, values.Length);

        // A comparison of zeros would prove nothing.
        Assert.Contains(expected, v => Math.Abs(v) > 1e-3);
        double max = 0;
        for (int k = 0; k < expected.Length; k++)
        {
            max = Math.Max(max, Math.Abs(expected[k] - values[k]));
        }

        return max;
    }

    internal static void Fill(Span<float> values, SeededRandom random)
    {
        for (int k = 0; k < values.Length; k++)
        {
            values[k] = (float)random.NextUniform(-1, 1);
        }
    }
}
