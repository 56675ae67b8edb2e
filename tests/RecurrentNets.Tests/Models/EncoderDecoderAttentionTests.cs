using RecurrentNets.Data;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// Attention in the encoder-decoder: the attention layer's gradients (queries, keys, score parameters) against finite
/// differences with a mask, padded source steps getting zero weight and zero gradient, the whole model's gradients for
/// each score, a padded batch against each pair alone, persistence, and steady-state allocation.
/// </summary>
public class EncoderDecoderAttentionTests(ITestOutputHelper output)
{
    private const int SourceVocabulary = 5, TargetVocabulary = 6, Begin = 4, End = 5;

    [Theory]
    [InlineData(AttentionKind.Additive)]
    [InlineData(AttentionKind.Dot)]
    [InlineData(AttentionKind.General)]
    public void AttentionLayerGradientsMatchFiniteDifferencesAndPaddedStepsGetNothing(AttentionKind kind)
    {
        const int u = 3, s = 4, b = 3, h = 5;
        int[] lengths = [4, 1, 2];
        var random = new SeededRandom(11);
        var attention = new Attention<double>(kind, h, random);
        var keys = RandomTensor(random, s, b, h);
        var queries = RandomTensor(random, u, b, h);
        var readout = RandomTensor(random, u, b, h);
        var context = new Tensor<double>(u, b, h);
        var weights = new Tensor<double>(u, b, s);

        // L = Σ readout ⊙ c.
        double Loss()
        {
            attention.SetKeys(keys, lengths);
            attention.Forward(queries, context, weights);
            double sum = 0;
            for (int i = 0; i < context.Length; i++)
            {
                sum += readout.Data[i] * context.Data[i];
            }

            return sum;
        }

        Loss();
        var dQueries = new Tensor<double>(u, b, h);
        var dKeys = new Tensor<double>(s, b, h);
        attention.Parameters.ZeroGradients();
        attention.Backward(readout, dQueries, dKeys);

        // Padded steps: zero weight, zero key gradient, and their key values never read.
        for (int i = 0; i < b; i++)
        {
            for (int t = lengths[i]; t < s; t++)
            {
                for (int q = 0; q < u; q++)
                {
                    Assert.Equal(0.0, weights[q, i, t]);
                }

                for (int j = 0; j < h; j++)
                {
                    Assert.Equal(0.0, dKeys[t, i, j]);
                }
            }

            for (int q = 0; q < u; q++)
            {
                double total = 0;
                for (int t = 0; t < lengths[i]; t++)
                {
                    Assert.True(weights[q, i, t] > 0);
                    total += weights[q, i, t];
                }

                Assert.Equal(1.0, total, 12);
            }
        }

        double[] before = (double[])context.Data.Clone();
        for (int j = 0; j < h; j++)
        {
            keys[1, 1, j] = 1e6;
            keys[3, 2, j] = -3e5;
        }

        Loss();
        Assert.Equal(before, context.Data);

        var results = new List<GradientCheckResult>
        {
            GradientCheck.Compare("queries", queries.Data, dQueries.Data, Loss, step: 1e-6),
            CompareRealKeys(keys, dKeys.Data, lengths, Loss),
        };
        double[] analytic = (double[])attention.Parameters.Gradients.Clone();
        foreach (var view in attention.Parameters.Views)
        {
            results.Add(GradientCheck.Compare(view.Name, attention.Parameters.Values, view.Offset, view.Length,
                analytic.AsSpan(view.Offset, view.Length), Loss, step: 1e-6));
        }

        foreach (var result in results)
        {
            output.WriteLine(result.ToString());
            Assert.True(result.MaxRelativeError < 1e-6, result.ToString());
        }

        Assert.Equal(kind switch { AttentionKind.Dot => 0, AttentionKind.General => 1, _ => 3 }, attention.Parameters.Views.Count);
    }

    [Theory]
    [InlineData(AttentionKind.Additive, EncoderDecoderCell.Lstm, 1)]
    [InlineData(AttentionKind.Dot, EncoderDecoderCell.Lstm, 1)]
    [InlineData(AttentionKind.General, EncoderDecoderCell.Lstm, 1)]
    [InlineData(AttentionKind.Additive, EncoderDecoderCell.Gru, 2)]
    [InlineData(AttentionKind.Dot, EncoderDecoderCell.Rnn, 2)]
    [InlineData(AttentionKind.General, EncoderDecoderCell.Gru, 1)]
    public void ModelGradientsMatchFiniteDifferences(AttentionKind kind, EncoderDecoderCell cell, int layers)
    {
        var model = new EncoderDecoder<double>(cell, SourceVocabulary, TargetVocabulary, Begin, End, embeddingSize: 3, hiddenSize: 4,
            numLayers: layers, random: new SeededRandom(5), forgetBias: 1.0, attention: kind);
        var (source, target) = TinyBatch();
        var results = GradientCheck.CheckParameters(model.Parameters, () =>
        {
            double loss = model.Forward(source, target);
            model.Backward();
            return loss;
        }, step: 1e-6);

        foreach (var result in results)
        {
            output.WriteLine(result.ToString());
            Assert.True(result.MaxRelativeError < 1e-5, result.ToString());
        }

        Assert.Equal(model.Parameters.Views.Count, results.Count);
        Assert.True(Norm(model.Parameters["concat.weight"].Gradients) > 1e-4);
        Assert.True(Norm(model.Parameters["source_embedding.weight"].Gradients) > 1e-4);
        if (kind != AttentionKind.Dot)
        {
            string name = kind == AttentionKind.General ? "attention.attn.weight" : "attention.Ua.weight";
            Assert.True(Norm(model.Parameters[name].Gradients) > 1e-6, name);
        }
    }

    [Theory]
    [InlineData(AttentionKind.Additive)]
    [InlineData(AttentionKind.Dot)]
    [InlineData(AttentionKind.General)]
    public void APaddedBatchEqualsEachPairAlone(AttentionKind kind)
    {
        var model = new EncoderDecoder<double>(EncoderDecoderCell.Lstm, SourceVocabulary, TargetVocabulary, Begin, End, embeddingSize: 3,
            hiddenSize: 4, numLayers: 2, random: new SeededRandom(8), attention: kind);
        var (source, target) = TinyBatch();
        var decoded = new TokenBatch(4, 3);
        var weights = new double[4 * 3 * 3];
        model.Decode(source, decoded, weights);
        int counted = 0;
        for (int b = 0; b < 3; b++)
        {
            counted += target.Lengths[b] + 1;
        }

        model.Parameters.ZeroGradients();
        double batchSum = model.Forward(source, target) * counted;
        model.Backward();
        double[] batchGradients = model.Parameters.Gradients.Select(g => g * counted).ToArray();

        double aloneSum = 0;
        var aloneGradients = new double[batchGradients.Length];
        for (int b = 0; b < 3; b++)
        {
            var one = new TokenBatch(3, 1);
            var oneTarget = new TokenBatch(3, 1);
            var oneDecoded = new TokenBatch(4, 1);
            one.Set(0, source.GetSequence(b));
            oneTarget.Set(0, target.GetSequence(b));
            int n = source.Lengths[b];
            var oneWeights = new double[4 * n];
            model.Decode(one, oneDecoded, oneWeights);
            Assert.Equal(decoded.GetSequence(b), oneDecoded.GetSequence(0));
            for (int u = 0; u <= decoded.Lengths[b] && u < 4; u++)
            {
                for (int t = 0; t < 3; t++)
                {
                    double expected = t < n ? oneWeights[u * n + t] : 0.0;
                    Assert.Equal(expected, weights[(u * 3 + b) * 3 + t], 12);
                }
            }

            model.Parameters.ZeroGradients();
            aloneSum += model.Forward(one, oneTarget) * (oneTarget.Lengths[0] + 1);
            model.Backward();
            for (int i = 0; i < aloneGradients.Length; i++)
            {
                aloneGradients[i] += model.Parameters.Gradients[i] * (oneTarget.Lengths[0] + 1);
            }
        }

        Assert.Equal(aloneSum, batchSum, 12);
        for (int i = 0; i < aloneGradients.Length; i++)
        {
            Assert.Equal(aloneGradients[i], batchGradients[i], 12);
        }
    }

    [Fact]
    public void SavedModelKeepsItsAttentionAndAnotherKindIsRefused()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rn-attention-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var model = new EncoderDecoder<float>(EncoderDecoderCell.Gru, SourceVocabulary, TargetVocabulary, Begin, End, 3, 4,
                random: new SeededRandom(3), attention: AttentionKind.General);
            Assert.Contains("\"attention\":\"General\"", model.ArchitectureJson());
            Assert.NotNull(model.Parameters["attention.attn.weight"]);
            string path = Path.Combine(directory, "m.safetensors");
            model.Save(path);
            var loaded = EncoderDecoder<float>.Load(path);
            Assert.Equal(AttentionKind.General, loaded.AttentionKind);
            Assert.Equal(model.Parameters.Values, loaded.Parameters.Values);
            var (source, _) = TinyBatch();
            var a = new TokenBatch(4, 3);
            var b = new TokenBatch(4, 3);
            model.Decode(source, a);
            loaded.Decode(source, b);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(a.GetSequence(i), b.GetSequence(i));
            }

            // A model without attention keeps the architecture JSON it had (no attention key).
            var plain = new EncoderDecoder<float>(EncoderDecoderCell.Gru, SourceVocabulary, TargetVocabulary, Begin, End, 3, 4);
            Assert.DoesNotContain("attention", plain.ArchitectureJson());
            foreach (var other in new[] { AttentionKind.None, AttentionKind.Dot, AttentionKind.Additive })
            {
                var wrong = new EncoderDecoder<float>(EncoderDecoderCell.Gru, SourceVocabulary, TargetVocabulary, Begin, End, 3, 4, attention: other);
                var e = Assert.Throws<ArgumentException>(() => wrong.LoadWeights(path));
                Assert.Contains("attention 'General'", e.Message);
                Assert.Contains($"this model has attention '{other}'", e.Message);
            }

            // A weights-only file says its kind through its names.
            string weights = Path.Combine(directory, "w.safetensors");
            model.SaveWeights(weights);
            var dot = new EncoderDecoder<float>(EncoderDecoderCell.Gru, SourceVocabulary, TargetVocabulary, Begin, End, 3, 4, attention: AttentionKind.Dot);
            Assert.Contains("attention 'General'", Assert.Throws<ArgumentException>(() => dot.LoadWeights(weights)).Message);
            plain.SaveWeights(weights);
            Assert.Contains("attention 'None'", Assert.Throws<ArgumentException>(() => dot.LoadWeights(weights)).Message);

            Assert.Throws<InvalidOperationException>(() => plain.Decode(source, a, new float[100]));
            Assert.Throws<ArgumentException>(() => model.Decode(source, a, new float[10]));
            Assert.Throws<ArgumentOutOfRangeException>(() => new Attention<float>(AttentionKind.None, 4));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(AttentionKind.Additive)]
    [InlineData(AttentionKind.General)]
    public void TrainingStepsAndDecodingDoNotAllocateInSteadyState(AttentionKind kind)
    {
        var task = new NumberWords(maxDigits: 4);
        var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, NumberWords.SourceVocabularySize, NumberWords.TargetVocabularySize,
            NumberWords.BeginToken, NumberWords.EndToken, 8, 16, random: new SeededRandom(1), attention: kind);
        var optimizer = new Adam<float>(model.Parameters, 1e-3);
        var random = new SeededRandom(2);
        var sources = new[] { new TokenBatch(task.MaxSourceLength, 8), new TokenBatch(task.MaxSourceLength, 8) };
        var targets = new[] { new TokenBatch(task.MaxTargetLength, 8), new TokenBatch(task.MaxTargetLength, 8) };
        task.Fill(random, false, sources[0], targets[0]);
        task.Fill([7, 12, 305, 40, 19, 1, 88, 123], sources[1], targets[1]);
        var decoded = new TokenBatch(task.MaxTargetLength + 1, 8);

        void Step(int i)
        {
            optimizer.ZeroGradients();
            model.Forward(sources[i % 2], targets[i % 2]);
            model.Backward();
            optimizer.Step();
            model.Decode(sources[i % 2], decoded);
        }

        for (int i = 0; i < 4; i++)
        {
            Step(i);
        }

        long allocated = SteadyState.AllocatedBytes(Step, 6);
        Assert.True(allocated == 0, $"{allocated} bytes allocated over 6 steady-state training steps and decodes");
    }

    // The keys' gradient at the real steps only (padded keys are not read, and the check above proved their gradient zero).
    private static GradientCheckResult CompareRealKeys(Tensor<double> keys, double[] dKeys, int[] lengths, Func<double> loss)
    {
        int b = keys.Size(1), h = keys.Size(2);
        var worst = new GradientCheckResult("keys", 0, 0, 0, 0, 0, 0);
        for (int i = 0; i < b; i++)
        {
            for (int t = 0; t < lengths[i]; t++)
            {
                int offset = (t * b + i) * h;
                var r = GradientCheck.Compare("keys", keys.Data, offset, h, dKeys.AsSpan(offset, h), loss, step: 1e-6);
                if (r.MaxRelativeError >= worst.MaxRelativeError)
                {
                    worst = r;
                }
            }
        }

        return worst;
    }

    private static Tensor<double> RandomTensor(SeededRandom random, params int[] shape)
    {
        var tensor = new Tensor<double>(shape);
        for (int i = 0; i < tensor.Length; i++)
        {
            tensor.Data[i] = random.NextDouble() * 2 - 1;
        }

        return tensor;
    }

    // Sources of lengths 3, 1, 2 and targets of lengths 2, 0, 3, with garbage in the padding.
    private static (TokenBatch Source, TokenBatch Target) TinyBatch()
    {
        var source = new TokenBatch(3, 3);
        var target = new TokenBatch(3, 3);
        source.Tokens.Fill(-7);
        target.Tokens.Fill(99);
        source.Set(0, [1, 4, 2]);
        source.Set(1, [3]);
        source.Set(2, [0, 2]);
        target.Set(0, [2, 0]);
        target.Set(1, []);
        target.Set(2, [3, 1, 1]);
        return (source, target);
    }

    private static double Norm(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (double v in values)
        {
            sum += v * v;
        }

        return Math.Sqrt(sum);
    }
}
