using RecurrentNets.Data;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Tensors;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// Attention in the encoder-decoder: the attention layer's gradients (queries, keys, score parameters) against finite
/// differences with a mask, padded source steps getting zero weight and zero gradient, and persistence. The whole
/// model's gradients, a padded batch against each pair alone and steady-state allocation with attention are cases of
/// <see cref="EncoderDecoderTests"/>.
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
            var (source, _) = EncoderDecoderTests.TinyBatch();
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

    /// <summary>Pinned on AVX-512 and checked with DOTNET_EnableAVX512=0 (AVX2) and DOTNET_EnableAVX2=0 (Vector128).</summary>
    [Theory]
    [InlineData(AttentionKind.Additive, 0x75bb5344012478ebUL)]
    [InlineData(AttentionKind.Dot, 0x4cafc4d25ea52059UL)]
    [InlineData(AttentionKind.General, 0x6f131aeb4824ec54UL)]
    public void TrainingAndDecodingGiveTheSameBitsOnEveryVectorPath(AttentionKind kind, ulong expected)
    {
        // H = 37 and ragged sources: every GEMM and elementwise tail runs.
        var task = new NumberWords(maxDigits: 5);
        var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, NumberWords.SourceVocabularySize, NumberWords.TargetVocabularySize,
            NumberWords.BeginToken, NumberWords.EndToken, 11, 37, random: new SeededRandom(4), attention: kind);
        var optimizer = new RecurrentNets.Optimizers.Adam<float>(model.Parameters, 1e-2);
        var random = new SeededRandom(9);
        var source = new TokenBatch(task.MaxSourceLength, 13);
        var target = new TokenBatch(task.MaxTargetLength, 13);
        for (int i = 0; i < 3; i++)
        {
            task.Fill(random, false, source, target);
            optimizer.ZeroGradients();
            model.Forward(source, target);
            model.Backward();
            optimizer.Step();
        }

        var greedy = new TokenBatch(task.MaxTargetLength + 1, 13);
        var weights = new float[greedy.Capacity * 13 * source.MaxLength];
        model.Decode(source, greedy, weights);
        var beam = new TokenBatch(task.MaxTargetLength + 1, 13);
        var scores = new double[13];
        model.BeamDecode(source, beam, 3, 0.6, scores);
        ulong hash = Determinism.SameBitsProbe.Hash<float>(model.Parameters.Values) ^ Determinism.SameBitsProbe.Hash<float>(weights)
            ^ Determinism.SameBitsProbe.Hash<int>(beam.Tokens) ^ Determinism.SameBitsProbe.Hash<double>(scores);
        output.WriteLine($"{kind}: 0x{hash:x16}");
        Assert.True(hash == expected, $"{kind}: 0x{hash:x16}, pinned 0x{expected:x16}");
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
}
