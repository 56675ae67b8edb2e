using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Models;
using Xunit;

namespace RecurrentNets.Tests.Serving;

public class FrozenModelTests
{
    internal static SequenceModel<T> Build<T>(string kind, int inputSize = 5, ulong seed = 3)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var model = kind switch
        {
            "lstm" => new SequenceModel<T>(inputSize, seed).Add(Layer.Lstm(12, numLayers: 2)).Add(Layer.Linear(4)),
            "peephole" => new SequenceModel<T>(inputSize, seed).Add(Layer.Lstm(8, peephole: true, coupledInputForget: true)).Add(Layer.Linear(3)),
            "gru" => new SequenceModel<T>(inputSize, seed).Add(Layer.Gru(10)).Add(Layer.Dropout(0.3)).Add(Layer.Linear(3)),
            "gru-original" => new SequenceModel<T>(inputSize, seed).Add(Layer.Gru(10, resetAfterRecurrence: false)).Add(Layer.Linear(3)),
            "rnn" => new SequenceModel<T>(inputSize, seed).Add(Layer.Rnn(9, numLayers: 3)).Add(Layer.Linear(2)),
            "mean" => new SequenceModel<T>(inputSize, seed).Add(Layer.Lstm(7)).Add(Layer.MeanOverTime()).Add(Layer.Linear(2)),
            "last" => new SequenceModel<T>(inputSize, seed).Add(Layer.Gru(7, numLayers: 2)).Add(Layer.LastStep()).Add(Layer.Linear(2)),
            "bidirectional" => new SequenceModel<T>(inputSize, seed).Add(Layer.Lstm(6, numLayers: 2, bidirectional: true)).Add(Layer.LastStep()).Add(Layer.Linear(3)),
            "bidirectional-seq" => new SequenceModel<T>(inputSize, seed).Add(Layer.Gru(6, bidirectional: true)).Add(Layer.Linear(3)),
            "embedding" => new SequenceModel<T>(inputSize, seed).Add(Layer.Embedding(6)).Add(Layer.Lstm(11)).Add(Layer.Linear(inputSize)),
            "onehot" => new SequenceModel<T>(inputSize, seed).Add(Layer.OneHot()).Add(Layer.Gru(9)).Add(Layer.Linear(inputSize)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return model;
    }

    internal static SequenceBatch<T> RandomBatch<T>(SequenceModel<T> model, int steps, int batch, ulong seed, bool ragged)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new SeededRandom(seed);
        var data = new SequenceBatch<T>(steps, batch, model.TokenInput ? 0 : model.InputSize);
        if (data.Tokens is int[] tokens)
        {
            for (int i = 0; i < tokens.Length; i++)
            {
                tokens[i] = random.NextInt(model.InputSize);
            }
        }
        else
        {
            var x = data.Features!.AsSpan();
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = T.CreateTruncating(random.NextDouble() * 2 - 1);
            }
        }

        if (ragged)
        {
            for (int b = 0; b < batch; b++)
            {
                data.Lengths[b] = 1 + random.NextInt(steps);
            }
        }

        return data;
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("peephole")]
    [InlineData("gru")]
    [InlineData("gru-original")]
    [InlineData("rnn")]
    [InlineData("mean")]
    [InlineData("last")]
    [InlineData("bidirectional")]
    [InlineData("bidirectional-seq")]
    [InlineData("embedding")]
    [InlineData("onehot")]
    public void PredictAgreesWithTheModel(string kind)
    {
        foreach (bool ragged in new[] { false, true })
        {
            var model = Build<double>(kind);
            var frozen = model.Freeze();
            var batch = RandomBatch(model, 9, 5, 11, ragged);
            double[] expected = model.Predict(batch).AsSpan().ToArray();
            double[] actual = frozen.Predict(batch).AsSpan().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12, $"{kind} ragged={ragged} [{i}]: {expected[i]} vs {actual[i]}");
            }

            var modelF = Build<float>(kind);
            var frozenF = modelF.Freeze();
            var batchF = RandomBatch(modelF, 9, 5, 11, ragged);
            float[] expectedF = modelF.Predict(batchF).AsSpan().ToArray();
            float[] actualF = frozenF.Predict(batchF).AsSpan().ToArray();
            for (int i = 0; i < expectedF.Length; i++)
            {
                Assert.True(Math.Abs(expectedF[i] - actualF[i]) <= 1e-5f, $"{kind} float ragged={ragged} [{i}]: {expectedF[i]} vs {actualF[i]}");
            }
        }
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("peephole")]
    [InlineData("gru")]
    [InlineData("rnn")]
    [InlineData("mean")]
    [InlineData("last")]
    [InlineData("embedding")]
    [InlineData("onehot")]
    public void StreamStepsGiveThePredictionsOfEveryPrefixBitForBit(string kind)
    {
        var model = Build<float>(kind);
        var frozen = model.Freeze();
        const int steps = 7, batch = 4;
        var data = RandomBatch(model, steps, batch, 5, ragged: false);
        var whole = frozen.Predict(data);
        var y = new float[frozen.OutputSize];
        for (int b = 0; b < batch; b++)
        {
            var stream = frozen.CreateStream();
            for (int t = 0; t < steps; t++)
            {
                if (frozen.TokenInput)
                    frozen.Step(stream, data.Tokens![t * batch + b], y);
                else
                    frozen.Step(stream, data.Features!.Row(t, b), y);

                // A reducing model's output for the prefix ending at t; otherwise step t of the whole sequence.
                float[] expected;
                if (frozen.ReducesTime)
                {
                    var prefix = new SequenceBatch<float>(steps, 1, frozen.TokenInput ? 0 : frozen.InputSize);
                    for (int s = 0; s <= t; s++)
                    {
                        if (frozen.TokenInput)
                            prefix.Tokens![s] = data.Tokens![s * batch + b];
                        else
                            data.Features!.Row(s, b).CopyTo(prefix.Features!.Row(s, 0));
                    }

                    prefix.Lengths[0] = t + 1;
                    expected = frozen.Predict(prefix).AsSpan().ToArray();
                }
                else
                {
                    expected = whole.Row(t, b).ToArray();
                }

                Assert.Equal(expected, y);
            }

            Assert.Equal(steps, stream.Steps);
        }
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("rnn")]
    public void BatchInvarianceCostsNothingTheEngineGivesTheSameBits(string kind)
    {
        // The engine's float steps run on packed W_hh too, so they are batch-invariant already: the frozen model's outputs
        // are its bits at every batch size (the batcher needs no slower kernel).
        foreach (int rows in new[] { 1, 4, 16, 17, 64 })
        {
            var model = kind switch
            {
                "lstm" => new SequenceModel<float>(64, 17).Add(Layer.Lstm(256)),
                "gru" => new SequenceModel<float>(64, 17).Add(Layer.Gru(128)),
                _ => new SequenceModel<float>(64, 17).Add(Layer.Rnn(128)),
            };
            var batch = RandomBatch(model, 3, rows, 1, ragged: false);
            Assert.Equal(model.Predict(batch).AsSpan().ToArray(), model.Freeze().Predict(batch).AsSpan().ToArray());
        }
    }

    [Fact]
    public void OneRowHasTheSameBitsInABatchOfAnySize()
    {
        var model = Build<float>("lstm", inputSize: 40);
        var frozen = model.Freeze();
        var big = RandomBatch(model, 6, 37, 2, ragged: false);
        var all = frozen.Predict(big);
        foreach (int rows in new[] { 1, 2, 3, 4, 5, 8, 16, 17 })
        {
            var part = new SequenceBatch<float>(6, rows, model.InputSize);
            for (int t = 0; t < 6; t++)
            {
                for (int b = 0; b < rows; b++)
                {
                    big.Features!.Row(t, b + 3).CopyTo(part.Features!.Row(t, b));
                }
            }

            var y = frozen.Predict(part);
            for (int t = 0; t < 6; t++)
            {
                for (int b = 0; b < rows; b++)
                {
                    Assert.Equal(all.Row(t, b + 3).ToArray(), y.Row(t, b).ToArray());
                }
            }
        }
    }

    [Fact]
    public void ManyThreadsGetTheBitsOfOneThread()
    {
        var model = Build<float>("lstm", inputSize: 24);
        var frozen = model.Freeze();
        var batches = Enumerable.Range(0, 8).Select(i => RandomBatch(model, 10, 1 + i % 3, (ulong)i, ragged: i % 2 == 1)).ToArray();
        float[][] expected = batches.Select(b => frozen.Predict(b).AsSpan().ToArray()).ToArray();
        var streamInputs = batches[0];
        float[][] streamExpected = StreamOutputs(frozen, streamInputs);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            for (int round = 0; round < 40; round++)
            {
                int i = (worker + round) % batches.Length;
                if (!frozen.Predict(batches[i]).AsSpan().SequenceEqual(expected[i]))
                    failures.Add($"predict {i} on worker {worker}");
                var outputs = StreamOutputs(frozen, streamInputs);
                for (int t = 0; t < outputs.Length; t++)
                {
                    if (!outputs[t].AsSpan().SequenceEqual(streamExpected[t]))
                        failures.Add($"stream step {t} on worker {worker}");
                }
            }
        });
        Assert.Empty(failures);
    }

    private static float[][] StreamOutputs(FrozenModel<float> frozen, SequenceBatch<float> data)
    {
        var stream = frozen.CreateStream();
        var result = new float[data.Steps][];
        for (int t = 0; t < data.Steps; t++)
        {
            result[t] = new float[frozen.OutputSize];
            frozen.Step(stream, data.Features!.Row(t, 0), result[t]);
        }

        return result;
    }

    [Fact]
    public void CallsAllocateNothingAfterWarmUp()
    {
        var model = Build<float>("lstm", inputSize: 16);
        var frozen = model.Freeze();
        var batch = RandomBatch(model, 20, 4, 1, ragged: true);
        var output = new float[20 * 4 * frozen.OutputSize];
        var stream = frozen.CreateStream();
        var x = new float[16];
        var y = new float[frozen.OutputSize];
        for (int i = 0; i < 3; i++)
        {
            frozen.Predict(batch, output);
            frozen.Step(stream, x, y);
        }

        // The runtime's tier-up can allocate once on this thread: some window of 50 calls must allocate nothing.
        Assert.Equal(0, SteadyState.AllocatedBytes(_ =>
        {
            frozen.Predict(batch, output);
            frozen.Step(stream, x, y);
        }, calls: 50));
    }

    [Fact]
    public void TheSnapshotDoesNotFollowTheSourceModel()
    {
        var model = Build<double>("gru");
        var frozen = model.Freeze();
        var batch = RandomBatch(model, 5, 2, 1, ragged: false);
        double[] before = frozen.Predict(batch).AsSpan().ToArray();
        model.Parameters.Values.AsSpan().Fill(0.5);
        Assert.Equal(before, frozen.Predict(batch).AsSpan().ToArray());
        Assert.NotEqual(before, model.Freeze().Predict(batch).AsSpan().ToArray());
    }

    [Fact]
    public void LoadFreezesASavedModel()
    {
        var model = Build<float>("embedding");
        model.Metadata["owner"] = "tests";
        string path = Path.Combine(Path.GetTempPath(), $"frozen-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var frozen = FrozenModel<float>.Load(path);
            var batch = RandomBatch(model, 4, 3, 9, ragged: false);
            Assert.Equal(model.Freeze().Predict(batch).AsSpan().ToArray(), frozen.Predict(batch).AsSpan().ToArray());
            Assert.Equal("tests", frozen.Metadata["owner"]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BadInputGetsClearErrors()
    {
        var frozen = Build<float>("lstm").Freeze();
        var stream = frozen.CreateStream();
        var e = Assert.Throws<ArgumentException>(() => frozen.Step(stream, new float[4], new float[4]));
        Assert.Contains("features has 4 values but the model reads 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => frozen.Step(stream, new float[5], new float[3]));
        Assert.Contains("output has 3 values but the model writes 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => frozen.Step(Build<float>("lstm").Freeze().CreateStream(), new float[5], new float[4]));
        Assert.Contains("another model", e.Message);
        Assert.Throws<ArgumentException>(() => frozen.Step(stream, 1, new float[4]));
        Assert.Equal(0, stream.Steps);
        e = Assert.Throws<ArgumentException>(() => frozen.Predict(new SequenceBatch<float>(3, 2, 7)));
        Assert.Contains("expects 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => frozen.Predict(new SequenceBatch<float>(3, 2, 5), new float[5]));
        Assert.Contains("output has 5 values", e.Message);

        var tokens = Build<float>("embedding").Freeze();
        Assert.Throws<ArgumentOutOfRangeException>(() => tokens.Step(tokens.CreateStream(), 5, new float[5]));
        var ex = Assert.Throws<NotSupportedException>(() => Build<float>("bidirectional").Freeze().CreateStream());
        Assert.Contains("bidirectional", ex.Message);
        var custom = new SequenceModel<float>(3).Add(Layer.TimeDelay(4, 2));
        ex = Assert.Throws<NotSupportedException>(() => custom.Freeze());
        Assert.Contains("time-delay", ex.Message);
        Assert.Throws<InvalidOperationException>(() => new SequenceModel<float>(3).Freeze());
    }

    [Fact]
    public void ResetStartsTheStreamAgain()
    {
        var frozen = Build<float>("mean").Freeze();
        var stream = frozen.CreateStream();
        var x = new float[] { 1, 2, 3, 4, 5 };
        var first = new float[frozen.OutputSize];
        var y = new float[frozen.OutputSize];
        frozen.Step(stream, x, first);
        frozen.Step(stream, x, y);
        frozen.Reset(stream);
        Assert.Equal(0, stream.Steps);
        frozen.Step(stream, x, y);
        Assert.Equal(first, y);
    }
}
