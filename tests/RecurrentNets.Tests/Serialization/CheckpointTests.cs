using System.Buffers.Binary;
using System.Text;
using RecurrentNets.Init;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Serialization;

public sealed class CheckpointTests(ITestOutputHelper output) : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("rn-ckpt-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void SaveThenLoadRestoresEveryParameterAndTheMetadata()
    {
        var source = new Lstm<float>(3, 5, numLayers: 2, bidirectional: true, random: new SeededRandom(1));
        string path = Path.Combine(directory, "lstm.safetensors");
        Checkpoint.Save(path, source.Parameters, new Dictionary<string, string> { ["model"] = "LSTM", ["hidden_size"] = "5" });
        var target = new Lstm<float>(3, 5, numLayers: 2, bidirectional: true, random: new SeededRandom(2));
        var metadata = Checkpoint.Load(path, target.Parameters);
        Assert.Equal(source.Parameters.Values, target.Parameters.Values);
        Assert.Equal("LSTM", metadata["model"]);

        var file = SafeTensorsFile.Read(path);
        Assert.Equal(source.Parameters.Views.Select(v => v.Name), file.Entries.Select(e => e.Name));
        Assert.Contains("weight_hh_l1_reverse", file.Entries.Select(e => e.Name));
        Assert.Equal([20, 10], file.Find("weight_ih_l1")!.Shape);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8); // header padded to 8 bytes
    }

    [Theory]
    [InlineData("torch-rnn.json")]
    [InlineData("torch-lstm.json")]
    [InlineData("torch-gru.json")]
    public void APyTorchStateDictLoadsAndGivesPyTorchsOutputs(string goldenFile)
    {
        // The golden weights written as safetensors the way safetensors.torch.save_file(module.state_dict()) does.
        var golden = Golden.GoldenFile.Load(goldenFile);
        RecurrentLayer<double> layer = goldenFile switch
        {
            "torch-rnn.json" => new Rnn<double>(3, 5),
            "torch-lstm.json" => new Lstm<double>(3, 5),
            _ => new Gru<double>(3, 5),
        };
        string[] names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
        string path = Path.Combine(directory, "torch.safetensors");
        SafeTensorsFile.Write(path, names.Select(n => (n, golden.Shape(n), (Array)golden.Data(n))));
        Checkpoint.Load(path, layer.Parameters);
        var x = Tensor<double>.FromArray(golden.Data("x"), 7, 2, 3);
        var h0 = layer.CreateState(2);
        golden.Data("h0").CopyTo(h0.Hidden.Data, 0);
        if (h0.Cell is not null)
        {
            golden.Data("c0").CopyTo(h0.Cell.Data, 0);
        }

        var y = new Tensor<double>(7, 2, 5);
        layer.Forward(x, y, h0);
        RecurrentNets.Tests.Sequence.TorchGoldenTests.AssertClose(golden.Data("output"), y.Data, 1e-12, "output");
    }

    [Fact]
    public void ALayerRoundTripsWithItsConfiguration()
    {
        RecurrentLayer<float>[] layers =
        [
            new Rnn<float>(3, 4, 2, Activation.Relu, bidirectional: true, random: new SeededRandom(1)),
            new Lstm<float>(3, 4, 2, peephole: true, coupledInputForget: true, dropout: 0.25, recurrentDropout: 0.1, random: new SeededRandom(2)),
            new Gru<float>(3, 4, bias: false, resetAfterRecurrence: false, learnInitialState: true, random: new SeededRandom(3)),
        ];
        foreach (var layer in layers)
        {
            string path = Path.Combine(directory, "layer.safetensors");
            Checkpoint.Save(path, layer, new Dictionary<string, string> { ["note"] = "kept" });
            var loaded = Checkpoint.LoadLayer<float>(path);
            Assert.Equal(layer.GetType(), loaded.GetType());
            Assert.Equal(layer.Configuration, loaded.Configuration);
            Assert.Equal(layer.Parameters.Values, loaded.Parameters.Values);
            Assert.Equal("kept", Checkpoint.ReadMetadata(path)["note"]);
        }

        string plain = Path.Combine(directory, "plain.safetensors");
        Checkpoint.Save(plain, new Rnn<float>(2, 3).Parameters);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadLayer<float>(plain));
        Assert.Contains("'model'", ex.Message);
    }

    [Fact]
    public void BothRecipesWorkWithOneSharedBlock()
    {
        // A layer and a head in one block, as the engine's hand-written training loop builds them.
        var block = new RecurrentNets.Parameters.ParameterBlock<float>();
        var lstm = new Lstm<float>(3, 4, 2, random: new SeededRandom(4), parameters: block);
        var head = new RecurrentNets.Layers.Linear<float>(4, 2, random: new SeededRandom(5), parameters: block, name: "head");

        // The layer alone: its own parameters only, rebuilt without the head, and loaded back into the shared block.
        string layerPath = Path.Combine(directory, "layer.safetensors");
        Checkpoint.Save(layerPath, lstm);
        Assert.DoesNotContain(SafeTensorsFile.Read(layerPath).Entries, e => e.Name.StartsWith("head", StringComparison.Ordinal));
        var rebuilt = Checkpoint.LoadLayer<float>(layerPath);
        Assert.Equal(lstm.ParameterViews.Select(v => v.Values.ToArray()).SelectMany(v => v), rebuilt.Parameters.Values);
        float[] headBefore = head.Weight.Values.ToArray();
        var other = new RecurrentNets.Parameters.ParameterBlock<float>();
        var otherLstm = new Lstm<float>(3, 4, 2, random: new SeededRandom(9), parameters: other);
        var otherHead = new RecurrentNets.Layers.Linear<float>(4, 2, random: new SeededRandom(10), parameters: other, name: "head");
        float[] otherHeadBefore = otherHead.Weight.Values.ToArray();
        Checkpoint.Load(layerPath, otherLstm);
        Assert.Equal(lstm.Parameters.Values.AsSpan(0, lstm.ParameterViews.Sum(v => v.Length)).ToArray(),
            other.Values.AsSpan(0, otherLstm.ParameterViews.Sum(v => v.Length)).ToArray());
        Assert.Equal(otherHeadBefore, otherHead.Weight.Values.ToArray());

        // The whole block: layer and head, back into a block of the same layout.
        string blockPath = Path.Combine(directory, "block.safetensors");
        Checkpoint.Save(blockPath, block);
        Checkpoint.Load(blockPath, other);
        Assert.Equal(block.Values, other.Values);
        Assert.Equal(headBefore, otherHead.Weight.Values.ToArray());

        // Inside a model the layer's names carry the module prefix; its own checkpoint does not.
        var model = new RecurrentNets.Models.SequenceModel<float>(3).Add(RecurrentNets.Models.Layer.Lstm(4, numLayers: 2)).Add(RecurrentNets.Models.Layer.Linear(2));
        var inModel = model.GetRecurrentLayer(0)!;
        Assert.Equal("rnn.", inModel.ParameterPrefix);
        Checkpoint.Load(layerPath, inModel);
        Assert.Equal(lstm.ParameterViews[0].Values.ToArray(), model.Parameters["rnn.weight_ih_l0"].Values.ToArray());
        Checkpoint.Save(layerPath, inModel);
        Assert.Equal("weight_ih_l0", SafeTensorsFile.Read(layerPath).Entries[0].Name);
    }

    [Fact]
    public void MismatchesAreReportedAndNothingIsHalfLoaded()
    {
        string path = Path.Combine(directory, "a.safetensors");
        Checkpoint.Save(path, new Lstm<float>(3, 5).Parameters);
        var wider = new Lstm<float>(3, 6, random: new SeededRandom(4));
        float[] before = (float[])wider.Parameters.Values.Clone();
        var ex = Assert.Throws<ArgumentException>(() => Checkpoint.Load(path, wider.Parameters));
        Assert.Contains("[20, 3]", ex.Message);
        Assert.Contains("[24, 3]", ex.Message);
        Assert.Equal(before, wider.Parameters.Values);

        var dtype = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, new Lstm<double>(3, 5).Parameters));
        Assert.Contains("F32", dtype.Message);
        var unknown = Assert.Throws<ArgumentException>(() => Checkpoint.Load(path, new Gru<float>(3, 5).Parameters));
        Assert.Contains("[20, 3]", unknown.Message);
        Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(Path.Combine(directory, "missing"), wider.Parameters));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("lying header length")]
    [InlineData("offsets past the end")]
    [InlineData("shape disagrees with bytes")]
    [InlineData("not json")]
    [InlineData("overlap")]
    [InlineData("unknown dtype")]
    public void CorruptFilesGetAClearReason(string corruption)
    {
        string path = Path.Combine(directory, "c.safetensors");
        Checkpoint.Save(path, new Rnn<float>(2, 3).Parameters);
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        byte[] corrupt = corruption switch
        {
            "truncated" => bytes[..^5],
            "lying header length" => SetLength(bytes, 1UL << 40),
            "offsets past the end" => Replace(bytes, header, header.Replace("[0,24]", "[0,2400]")),
            "shape disagrees with bytes" => Replace(bytes, header, header.Replace("[3,2]", "[3,3]")),
            "not json" => Replace(bytes, header, header.Replace("{", "[")),
            "overlap" => Replace(bytes, header, header.Replace("[24,60]", "[20,56]")),
            _ => Replace(bytes, header, header.Replace("\"F32\"", "\"BF16\"")),
        };
        File.WriteAllBytes(path, corrupt);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, new Rnn<float>(2, 3).Parameters));
        output.WriteLine($"{corruption}: {ex.Message}");
        Assert.Contains("not a valid safetensors file", ex.Message);
    }

    [Fact]
    public void ThousandsOfRandomMutationsOnlyEverGiveTheDocumentedExceptions()
    {
        string path = Path.Combine(directory, "m.safetensors");
        Checkpoint.Save(path, new Gru<float>(2, 3, bidirectional: true).Parameters, new Dictionary<string, string> { ["k"] = "v" });
        byte[] valid = File.ReadAllBytes(path);
        var random = new SeededRandom(2026);
        var model = new Gru<float>(2, 3, bidirectional: true, random: new SeededRandom(9));
        float[] before = (float[])model.Parameters.Values.Clone();
        int loaded = 0, rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[] bytes = (byte[])valid.Clone();
            int edits = 1 + random.NextInt(4);
            for (int e = 0; e < edits && bytes.Length > 0; e++)
            {
                switch (random.NextInt(4))
                {
                    case 0: // flip a byte, mostly in the header
                        bytes[random.NextInt(Math.Min(bytes.Length, 400))] ^= (byte)(1 + random.NextInt(255));
                        break;
                    case 1: // truncate
                        bytes = bytes[..random.NextInt(bytes.Length)];
                        break;
                    case 2: // a digit in the header becomes another
                        int at = 8 + random.NextInt(Math.Max(1, Math.Min(bytes.Length, 400) - 8));
                        if (at < bytes.Length && bytes[at] is >= (byte)'0' and <= (byte)'9')
                        {
                            bytes[at] = (byte)('0' + random.NextInt(10));
                        }

                        break;
                    default: // a random header length
                        if (bytes.Length >= 8)
                        {
                            BinaryPrimitives.WriteUInt64LittleEndian(bytes, random.NextUInt64() >> random.NextInt(64));
                        }

                        break;
                }
            }

            File.WriteAllBytes(path, bytes);
            try
            {
                Checkpoint.Load(path, model.Parameters);
                loaded++;
                before = (float[])model.Parameters.Values.Clone(); // a mutation of data bytes is still a valid file
            }
            catch (Exception ex) when (ex is InvalidDataException || ex.GetType() == typeof(ArgumentException))
            {
                rejected++;
                Assert.Equal(before, model.Parameters.Values);
            }
        }

        output.WriteLine($"3000 mutations: {loaded} still valid files, {rejected} rejected with the documented exceptions.");
        Assert.True(rejected > 1000);
    }

    [Fact]
    public void AnInterruptedSaveLeavesThePreviousFile()
    {
        string path = Path.Combine(directory, "atomic.safetensors");
        var model = new Rnn<float>(2, 3);
        Checkpoint.Save(path, model.Parameters);
        byte[] before = File.ReadAllBytes(path);
        // A tensor whose values disagree with its shape fails in the middle of writing.
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [("a", [2], new float[2]), ("b", [3], new float[2])]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(directory));
    }

    private static byte[] SetLength(byte[] bytes, ulong length)
    {
        byte[] copy = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy, length);
        return copy;
    }

    private static byte[] Replace(byte[] bytes, string header, string newHeader)
    {
        Assert.NotEqual(header, newHeader);
        byte[] h = Encoding.UTF8.GetBytes(newHeader);
        int oldLength = Encoding.UTF8.GetByteCount(header);
        var result = new byte[8 + h.Length + bytes.Length - 8 - oldLength];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)h.Length);
        h.CopyTo(result, 8);
        bytes.AsSpan(8 + oldLength).CopyTo(result.AsSpan(8 + h.Length));
        return result;
    }
}
