using RecurrentNets.Data;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// The encoder-decoder: finite-difference gradients of the whole model (embeddings, encoder through its final state,
/// decoder, output layer) with variable-length sources and targets, greedy decoding against the teacher-forced logits,
/// bad input, no allocation in steady state, and bit-identical training from one seed.
/// </summary>
public class EncoderDecoderTests(ITestOutputHelper output)
{
    private const int SourceVocabulary = 5, TargetVocabulary = 6, Begin = 4, End = 5;

    [Theory]
    [InlineData(EncoderDecoderCell.Lstm, 1)]
    [InlineData(EncoderDecoderCell.Lstm, 2)]
    [InlineData(EncoderDecoderCell.Gru, 1)]
    [InlineData(EncoderDecoderCell.Gru, 2)]
    [InlineData(EncoderDecoderCell.Rnn, 2)]
    [InlineData(EncoderDecoderCell.Lstm, 1, AttentionKind.Additive)]
    [InlineData(EncoderDecoderCell.Lstm, 1, AttentionKind.Dot)]
    [InlineData(EncoderDecoderCell.Lstm, 1, AttentionKind.General)]
    [InlineData(EncoderDecoderCell.Gru, 2, AttentionKind.Additive)]
    [InlineData(EncoderDecoderCell.Rnn, 2, AttentionKind.Dot)]
    [InlineData(EncoderDecoderCell.Gru, 1, AttentionKind.General)]
    public void GradientsMatchFiniteDifferences(EncoderDecoderCell cell, int layers, AttentionKind attention = AttentionKind.None)
    {
        var model = new EncoderDecoder<double>(cell, SourceVocabulary, TargetVocabulary, Begin, End, embeddingSize: 3, hiddenSize: 4,
            numLayers: layers, random: new SeededRandom(5), forgetBias: 1.0, attention: attention);
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

        // The check is not vacuous: the gradient reaches the bottom of the encoder and the source embedding.
        Assert.True(Norm(model.Parameters["weight_ih_l0_encoder"].Gradients) > 1e-4);
        Assert.True(Norm(model.Parameters["source_embedding.weight"].Gradients) > 1e-4);
        Assert.Equal(model.Parameters.Views.Count, results.Count);

        // With attention, its parameters and W_c get gradients too.
        if (attention != AttentionKind.None)
        {
            Assert.True(Norm(model.Parameters["concat.weight"].Gradients) > 1e-4);
            if (attention != AttentionKind.Dot)
            {
                string name = attention == AttentionKind.General ? "attention.attn.weight" : "attention.Ua.weight";
                Assert.True(Norm(model.Parameters[name].Gradients) > 1e-6, name);
            }
        }
    }

    [Theory]
    [InlineData(EncoderDecoderCell.Lstm)]
    [InlineData(EncoderDecoderCell.Gru)]
    [InlineData(EncoderDecoderCell.Lstm, AttentionKind.Additive)]
    [InlineData(EncoderDecoderCell.Lstm, AttentionKind.Dot)]
    [InlineData(EncoderDecoderCell.Gru, AttentionKind.General)]
    public void APaddedBatchEqualsEachPairAlone(EncoderDecoderCell cell, AttentionKind attention = AttentionKind.None)
    {
        var model = new EncoderDecoder<double>(cell, SourceVocabulary, TargetVocabulary, Begin, End, embeddingSize: 3, hiddenSize: 4,
            numLayers: 2, random: new SeededRandom(8), attention: attention);
        var (source, target) = TinyBatch();
        var decoded = new TokenBatch(4, 3);
        double[] weights = attention == AttentionKind.None ? [] : new double[4 * 3 * 3];
        model.Decode(source, decoded, weights);
        model.Parameters.ZeroGradients();
        int counted = 0;
        for (int b = 0; b < 3; b++)
        {
            counted += target.Lengths[b] + 1;
        }

        // The batch loss is the mean over its counted tokens: scale back to a sum to compare with the pairs alone.
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
            model.Parameters.ZeroGradients();
            aloneSum += model.Forward(one, oneTarget) * (target.Lengths[b] + 1);
            model.Backward();
            for (int i = 0; i < aloneGradients.Length; i++)
            {
                aloneGradients[i] += model.Parameters.Gradients[i] * (target.Lengths[b] + 1);
            }

            int n = source.Lengths[b];
            double[] oneWeights = attention == AttentionKind.None ? [] : new double[4 * n];
            model.Decode(one, oneDecoded, oneWeights);
            Assert.Equal(oneDecoded.GetSequence(0), decoded.GetSequence(b));

            // The attention weights of each decoding step: the pair's alone, and 0 at the batch's padded steps.
            for (int u = 0; u < Math.Min(decoded.Lengths[b] + 1, 4) && weights.Length > 0; u++)
            {
                for (int t = 0; t < 3; t++)
                {
                    Assert.Equal(t < n ? oneWeights[u * n + t] : 0.0, weights[(u * 3 + b) * 3 + t], 1e-12);
                }
            }
        }

        Assert.Equal(aloneSum, batchSum, 1e-12);
        for (int i = 0; i < aloneGradients.Length; i++)
        {
            Assert.True(Math.Abs(aloneGradients[i] - batchGradients[i]) <= 1e-12 * Math.Max(1, Math.Abs(aloneGradients[i])),
                $"gradient {i}: pairs alone {aloneGradients[i]:R}, batch {batchGradients[i]:R}");
        }
    }

    [Theory]
    [InlineData(EncoderDecoderCell.Lstm)]
    [InlineData(EncoderDecoderCell.Gru)]
    public void GreedyDecodingIsTheArgMaxOfTheTeacherForcedLogitsOnItsOwnOutput(EncoderDecoderCell cell)
    {
        const int capacity = 6;
        var model = new EncoderDecoder<double>(cell, SourceVocabulary, TargetVocabulary, Begin, End, embeddingSize: 5, hiddenSize: 7,
            numLayers: 2, random: new SeededRandom(11));

        // <bos> is never a prediction; large output weights make the outputs depend on the source.
        model.Output.Bias!.Values[Begin] = -50;
        foreach (ref double w in model.Output.Weight.Values)
        {
            w *= 6;
        }

        var random = new SeededRandom(3);
        var source = new TokenBatch(5, 12);
        for (int b = 0; b < source.BatchSize; b++)
        {
            var sequence = new int[1 + random.NextInt(5)];
            for (int t = 0; t < sequence.Length; t++)
            {
                sequence[t] = random.NextInt(SourceVocabulary);
            }

            source.Set(b, sequence);
        }

        // Raise the <eos> bias until some outputs end early and others run to the capacity, so both cases are checked.
        var decoded = new TokenBatch(capacity, source.BatchSize);
        double endBias = model.Output.Bias.Values[End];
        int finished = 0;
        for (int i = 0; i < 40 && (finished == 0 || finished == source.BatchSize); i++)
        {
            model.Output.Bias.Values[End] = endBias - 5 + 0.25 * i;
            finished = model.Decode(source, decoded);
        }

        Assert.InRange(finished, 1, source.BatchSize - 1);

        // Feed the decoder its own output with teacher forcing: every step's arg max is the token greedy decoding chose.
        model.Forward(source, decoded);
        ReadOnlySpan<double> logits = model.Logits;
        int batch = source.BatchSize, checkedTokens = 0;
        for (int b = 0; b < batch; b++)
        {
            // A sequence that ended chose <eos> at step `length`; one cut at the capacity has no choice there to check.
            int length = decoded.Lengths[b];
            int last = length < capacity ? length : length - 1;
            for (int u = 0; u <= last; u++)
            {
                int expected = u < length ? decoded[u, b] : End;
                Assert.Equal(expected, ArgMax(logits.Slice((u * batch + b) * TargetVocabulary, TargetVocabulary)));
                checkedTokens++;
            }
        }

        Assert.True(checkedTokens > batch);
    }

    [Fact]
    public void BadInputIsRejectedWithClearMessages()
    {
        var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, SourceVocabulary, TargetVocabulary, Begin, End, 3, 4);
        var (source, target) = TinyBatch();

        var ex = Assert.Throws<InvalidOperationException>(model.Backward);
        Assert.Contains("Forward", ex.Message);

        // A source token outside the vocabulary.
        source[1, 0] = SourceVocabulary;
        var bad = Assert.Throws<ArgumentException>(() => model.Forward(source, target));
        Assert.Equal("source", bad.ParamName);
        Assert.Contains($"token {SourceVocabulary} at position 1, outside [0, {SourceVocabulary})", bad.Message);
        Assert.Throws<ArgumentException>(() => model.Decode(source, new TokenBatch(4, source.BatchSize)));
        source[1, 0] = -1;
        Assert.Contains("token -1", Assert.Throws<ArgumentException>(() => model.Forward(source, target)).Message);
        source[1, 0] = 2;

        // A target token outside the vocabulary, or a special token inside a target.
        target[0, 0] = TargetVocabulary;
        bad = Assert.Throws<ArgumentException>(() => model.Forward(source, target));
        Assert.Equal("target", bad.ParamName);
        Assert.Contains($"outside [0, {TargetVocabulary})", bad.Message);
        target[0, 0] = End;
        Assert.Contains("must not contain <bos> or <eos>", Assert.Throws<ArgumentException>(() => model.Forward(source, target)).Message);
        target[0, 0] = 1;

        // Mismatched batch sizes.
        bad = Assert.Throws<ArgumentException>(() => model.Forward(source, new TokenBatch(3, 2)));
        Assert.Contains("target has 2 sequences but source has 3", bad.Message);
        bad = Assert.Throws<ArgumentException>(() => model.Decode(source, new TokenBatch(3, 4)));
        Assert.Contains("result has 4 sequences but source has 3", bad.Message);

        // An empty source, and a length past the capacity.
        source.Lengths[2] = 0;
        bad = Assert.Throws<ArgumentException>(() => model.Forward(source, target));
        Assert.Contains("Source sequence 2 is empty", bad.Message);
        source.Lengths[2] = 4;
        Assert.Contains("outside [1, 3]", Assert.Throws<ArgumentException>(() => model.Decode(source, new TokenBatch(3, 3))).Message);
        source.Lengths[2] = 2;
        target.Lengths[1] = -1;
        Assert.Contains("Target sequence 1 has length -1", Assert.Throws<ArgumentException>(() => model.Forward(source, target)).Message);
        target.Lengths[1] = 0;

        // A valid batch works, and Decode consumes the pending backward pass.
        model.Forward(source, target);
        model.Decode(source, new TokenBatch(4, 3));
        Assert.Throws<InvalidOperationException>(model.Backward);

        // Construction.
        Assert.Throws<ArgumentException>(() => new EncoderDecoder<float>(EncoderDecoderCell.Gru, 5, 6, 3, 3, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EncoderDecoder<float>(EncoderDecoderCell.Gru, 5, 6, 6, 3, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EncoderDecoder<float>(EncoderDecoderCell.Gru, 0, 6, 4, 5, 2, 2));
        Assert.Throws<ArgumentException>(() => new TokenBatch(2, 1).Set(0, [1, 2, 3]));
    }

    [Theory]
    [InlineData(AttentionKind.None)]
    [InlineData(AttentionKind.Additive)]
    [InlineData(AttentionKind.General)]
    public void TrainingStepsAndDecodingDoNotAllocateInSteadyState(AttentionKind attention)
    {
        var task = new NumberWords(maxDigits: 4);
        var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, NumberWords.SourceVocabularySize, NumberWords.TargetVocabularySize,
            NumberWords.BeginToken, NumberWords.EndToken, 8, 16, numLayers: 2, random: new SeededRandom(1), attention: attention);
        var optimizer = new Adam<float>(model.Parameters, 1e-3);
        var random = new SeededRandom(2);
        var sources = new[] { new TokenBatch(task.MaxSourceLength, 8), new TokenBatch(task.MaxSourceLength, 8) };
        var targets = new[] { new TokenBatch(task.MaxTargetLength, 8), new TokenBatch(task.MaxTargetLength, 8) };
        task.Fill(random, false, sources[0], targets[0]);
        task.Fill([7, 12, 305, 40, 19, 1, 88, 123], sources[1], targets[1]);
        Assert.NotEqual(sources[0].MaxLength, sources[1].MaxLength);
        var decoded = new TokenBatch(task.MaxTargetLength + 1, 8);

        void Step(int i)
        {
            optimizer.ZeroGradients();
            model.Forward(sources[i % 2], targets[i % 2]);
            model.Backward();
            GradientClipping.ClipGradientNorm(model.Parameters, 1.0);
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

    [Fact]
    public void SameSeedGivesBitIdenticalTraining()
    {
        Assert.Equal(TrainBriefly(), TrainBriefly());

        static float[] TrainBriefly()
        {
            var task = new NumberWords(maxDigits: 3);
            var model = new EncoderDecoder<float>(EncoderDecoderCell.Gru, NumberWords.SourceVocabularySize, NumberWords.TargetVocabularySize,
                NumberWords.BeginToken, NumberWords.EndToken, 8, 16, random: new SeededRandom(4));
            var optimizer = new Adam<float>(model.Parameters, 1e-2);
            var random = new SeededRandom(9);
            var source = new TokenBatch(task.MaxSourceLength, 16);
            var target = new TokenBatch(task.MaxTargetLength, 16);
            for (int i = 0; i < 5; i++)
            {
                task.Fill(random, false, source, target);
                optimizer.ZeroGradients();
                model.Forward(source, target);
                model.Backward();
                optimizer.Step();
            }

            return (float[])model.Parameters.Values.Clone();
        }
    }

    // Sources of lengths 3, 1, 2 and targets of lengths 2, 0, 3, with garbage in the padding.
    internal static (TokenBatch Source, TokenBatch Target) TinyBatch()
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

    private static int ArgMax(ReadOnlySpan<double> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    internal static double Norm(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (double v in values)
        {
            sum += v * v;
        }

        return Math.Sqrt(sum);
    }
}
