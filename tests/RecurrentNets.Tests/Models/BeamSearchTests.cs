using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;

namespace RecurrentNets.Tests.Models;

/// <summary>
/// Beam search decoding: width 1 is greedy decoding bit for bit; a hand-built bigram decoder where greedy decoding is
/// wrong and beam search finds the likelier output; every chosen output is a real hypothesis ending at &lt;eos&gt;, its
/// score the teacher-forced log-probability over L^α; bad arguments.
/// </summary>
public class BeamSearchTests
{
    private const int SourceVocabulary = 5, TargetVocabulary = 6, Begin = 4, End = 5;

    [Theory]
    [InlineData(EncoderDecoderCell.Lstm, AttentionKind.None, 2)]
    [InlineData(EncoderDecoderCell.Gru, AttentionKind.Additive, 1)]
    [InlineData(EncoderDecoderCell.Lstm, AttentionKind.General, 1)]
    [InlineData(EncoderDecoderCell.Rnn, AttentionKind.Dot, 1)]
    public void WidthOneIsGreedyDecoding(EncoderDecoderCell cell, AttentionKind attention, int layers)
    {
        var model = new EncoderDecoder<float>(cell, SourceVocabulary, TargetVocabulary, Begin, End, 4, 8, layers,
            new SeededRandom(21), attention: attention);
        var source = RandomSources(new SeededRandom(3), 16, 6);
        foreach (int capacity in new[] { 2, 8 })
        {
            var greedy = new TokenBatch(capacity, 16);
            var beam = new TokenBatch(capacity, 16);
            int greedyEnded = model.Decode(source, greedy);
            int beamEnded = model.BeamDecode(source, beam, beamWidth: 1, lengthNormalization: 0.7);
            Assert.Equal(greedyEnded, beamEnded);
            for (int b = 0; b < 16; b++)
            {
                Assert.Equal(greedy.GetSequence(b), beam.GetSequence(b));
            }
        }
    }

    [Fact]
    public void FindsTheLikelierOutputWhereGreedyDecodingIsWrong()
    {
        // A bigram decoder: W_hh = 0 and the embedding one-hot, so the next token's distribution depends only on the
        // previous token. From <bos>: A 0.5, B 0.4; after A: <eos> 0.35 (the arg max); after B: <eos> 0.9.
        // Greedy says "A" (0.5 · 0.35 = 0.175); the best output is "B" (0.4 · 0.9 = 0.36).
        const int a = 0, b = 1, c = 2, d = 3;
        var p = new double[TargetVocabulary, TargetVocabulary];
        Row(p, Begin, (a, 0.5), (b, 0.4), (c, 0.05), (d, 0.05));
        Row(p, a, (a, 0.25), (b, 0.2), (c, 0.2), (End, 0.35));
        Row(p, b, (a, 0.04), (c, 0.03), (d, 0.03), (End, 0.9));
        Row(p, c, (c, 0.5), (End, 0.5));
        Row(p, d, (d, 0.5), (End, 0.5));
        Row(p, End, (End, 1.0));
        var model = BigramModel(p);
        var source = RandomSources(new SeededRandom(1), 2, 3);

        var greedy = new TokenBatch(5, 2);
        Assert.Equal(2, model.Decode(source, greedy));
        Assert.Equal([a], greedy.GetSequence(0));

        var scores = new double[2];
        var beam = new TokenBatch(5, 2);
        Assert.Equal(2, model.BeamDecode(source, beam, beamWidth: 2, scores: scores));
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal([b], beam.GetSequence(i));
            Assert.Equal(Math.Log(0.4 * 0.9), scores[i], 6);
        }

        // Width 1 keeps greedy's mistake.
        Assert.Equal(2, model.BeamDecode(source, beam, beamWidth: 1, scores: scores));
        Assert.Equal([a], beam.GetSequence(0));
        Assert.Equal(Math.Log(0.5 * 0.35), scores[0], 6);

        // Length normalisation: with α = 1, "A" scores log(0.175) / 2 and "B" log(0.36) / 2; still "B".
        model.BeamDecode(source, beam, beamWidth: 3, lengthNormalization: 1.0, scores: scores);
        Assert.Equal([b], beam.GetSequence(0));
        Assert.Equal(Math.Log(0.36) / 2, scores[0], 6);
    }

    [Theory]
    [InlineData(AttentionKind.None, 0.0)]
    [InlineData(AttentionKind.Dot, 0.6)]
    [InlineData(AttentionKind.Additive, 1.0)]
    public void ChosenOutputsEndAtTheEndTokenWithTheirTeacherForcedScore(AttentionKind attention, double alpha)
    {
        var model = new EncoderDecoder<double>(EncoderDecoderCell.Gru, SourceVocabulary, TargetVocabulary, Begin, End, 4, 8,
            random: new SeededRandom(7), attention: attention);

        // Push <eos> up a little so that most outputs end within the capacity.
        model.Output.Bias!.Values[End] += 1.5;
        var source = RandomSources(new SeededRandom(5), 12, 5);
        var result = new TokenBatch(10, 12);
        var scores = new double[12];
        int ended = model.BeamDecode(source, result, beamWidth: 4, lengthNormalization: alpha, scores: scores);
        Assert.True(ended >= 6, $"only {ended} of 12 outputs ended");
        int checkedOutputs = 0;
        for (int i = 0; i < 12; i++)
        {
            int[] output = result.GetSequence(i);
            if (output.Length == result.Capacity)
            {
                continue;
            }

            Assert.DoesNotContain(End, output);
            Assert.DoesNotContain(Begin, output);

            // Teacher forcing on the output gives its log-probability, <eos> included: the beam's score.
            var one = new TokenBatch(source.Capacity, 1);
            one.Set(0, source.GetSequence(i));
            var target = new TokenBatch(Math.Max(1, output.Length), 1);
            target.Set(0, output);
            double mean = model.Forward(one, target);
            double logProbability = -mean * (output.Length + 1);
            Assert.Equal(logProbability / Math.Pow(output.Length + 1, alpha), scores[i], 9);
            checkedOutputs++;
        }

        Assert.Equal(ended, checkedOutputs);
    }

    [Theory]
    [InlineData(EncoderDecoderCell.Lstm, AttentionKind.None)]
    [InlineData(EncoderDecoderCell.Lstm, AttentionKind.General)]
    [InlineData(EncoderDecoderCell.Gru, AttentionKind.Additive)]
    public void RepeatedBeamDecodingDoesNotAllocateInSteadyState(EncoderDecoderCell cell, AttentionKind attention)
    {
        var model = new EncoderDecoder<float>(cell, SourceVocabulary, TargetVocabulary, Begin, End, 4, 8, numLayers: 2,
            random: new SeededRandom(11), attention: attention);

        // Two batches whose longest sources differ, so the encoder and the expanded batch switch shapes between calls.
        var sources = new[] { RandomSources(new SeededRandom(4), 6, 5), RandomSources(new SeededRandom(9), 6, 5) };
        sources[0].Lengths[0] = 5;
        for (int b = 0; b < 6; b++)
        {
            sources[1].Lengths[b] = 1 + b % 3;
        }

        Assert.NotEqual(sources[0].MaxLength, sources[1].MaxLength);
        var result = new TokenBatch(7, 6);
        var scores = new double[6];

        void Call(int i)
        {
            model.BeamDecode(sources[i % 2], result, beamWidth: 3, lengthNormalization: 0.7, scores: scores);
        }

        for (int i = 0; i < 4; i++)
        {
            Call(i);
        }

        long allocated = SteadyState.AllocatedBytes(Call, 6);
        Assert.True(allocated == 0, $"{allocated} bytes allocated over 6 steady-state beam decodes");
        Assert.All(scores, s => Assert.True(double.IsFinite(s), $"score {s}"));
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        var model = new EncoderDecoder<float>(EncoderDecoderCell.Gru, SourceVocabulary, TargetVocabulary, Begin, End, 3, 4);
        var source = RandomSources(new SeededRandom(1), 3, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.BeamDecode(source, new TokenBatch(4, 3), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.BeamDecode(source, new TokenBatch(4, 3), 2, -0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.BeamDecode(source, new TokenBatch(4, 3), 2, double.NaN));
        Assert.Contains("scores has 2", Assert.Throws<ArgumentException>(() => model.BeamDecode(source, new TokenBatch(4, 3), 2, 0, new double[2])).Message);
        Assert.Contains("result has 2 sequences", Assert.Throws<ArgumentException>(() => model.BeamDecode(source, new TokenBatch(4, 2), 2)).Message);
    }

    private static void Row(double[,] p, int previous, params (int Token, double Probability)[] entries)
    {
        for (int v = 0; v < TargetVocabulary; v++)
        {
            p[previous, v] = 1e-12;
        }

        foreach (var (token, probability) in entries)
        {
            p[previous, token] = probability;
        }
    }

    // Elman decoder with E = H = V: h = tanh(3 · onehot(previous)), logits[v] = log p[previous, v].
    private static EncoderDecoder<double> BigramModel(double[,] p)
    {
        const int n = TargetVocabulary;
        var model = new EncoderDecoder<double>(EncoderDecoderCell.Rnn, SourceVocabulary, n, Begin, End, n, n, random: new SeededRandom(2));
        var parameters = model.Parameters;
        parameters["weight_hh_l0_decoder"].Values.Clear();
        parameters["bias_ih_l0_decoder"].Values.Clear();
        parameters["bias_hh_l0_decoder"].Values.Clear();
        parameters["output.bias"].Values.Clear();
        var embedding = parameters["target_embedding.weight"].Values;
        var input = parameters["weight_ih_l0_decoder"].Values;
        var output = parameters["output.weight"].Values;
        embedding.Clear();
        input.Clear();
        for (int i = 0; i < n; i++)
        {
            embedding[i * n + i] = 1;
            input[i * n + i] = 3;
            for (int v = 0; v < n; v++)
            {
                output[v * n + i] = Math.Log(p[i, v]) / Math.Tanh(3);
            }
        }

        return model;
    }

    private static TokenBatch RandomSources(SeededRandom random, int batch, int capacity)
    {
        var source = new TokenBatch(capacity, batch);
        for (int b = 0; b < batch; b++)
        {
            var tokens = new int[1 + random.NextInt(capacity)];
            for (int t = 0; t < tokens.Length; t++)
            {
                tokens[t] = random.NextInt(SourceVocabulary);
            }

            source.Set(b, tokens);
        }

        return source;
    }
}
