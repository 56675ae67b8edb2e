using RecurrentNets.Kernels;
using RecurrentNets.Losses;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using RecurrentNets.Tensors;

namespace CtcSymbolsSample;

/// <summary>The settings of one run: the data, the network and the training.</summary>
internal sealed record SymbolSettings(
    int Symbols = 5, int MinLabels = 2, int MaxLabels = 6, int BaseDuration = 10, double MinStretch = 0.7, double MaxStretch = 1.4,
    double Noise = 0.25, int Hidden = 32, int Batch = 32, int Steps = 2000, double LearningRate = 5e-3, int TestSequences = 400,
    int BeamWidth = 8, ulong Seed = 1);

/// <summary>One sequence: the waveform (one value a frame) and the symbols it spells (1..K; 0 is the blank).</summary>
internal sealed record SymbolSequence(float[] Wave, int[] Labels);

/// <summary>The decoded held-out set: label error rates of greedy and beam decoding, and every sequence's results.</summary>
internal sealed record Evaluation(double GreedyLabelErrorRate, double BeamLabelErrorRate, List<(SymbolSequence Sequence, int[] Greedy, int[] Beam)> Results);

/// <summary>
/// Noisy, time-stretched symbol waveforms and a bidirectional LSTM + linear + log-softmax trained with CTC
/// (Graves et al. 2006) to write the symbol string. Symbol k (1..K) is the waveform sin(π·k·τ), τ in [0, 1], over a
/// duration of round(BaseDuration·s) frames with a random stretch s; symbols are separated by 0 to 2 silent frames, and
/// every frame gets Gaussian noise. The network never sees where a symbol starts or ends: CTC sums over every alignment.
/// </summary>
internal sealed class SymbolTask
{
    private readonly SymbolSettings settings;
    private readonly Random random;
    private readonly ConnectionistTemporalClassification<float> loss = new(blank: 0);

    public SymbolTask(SymbolSettings settings)
    {
        this.settings = settings;
        random = new Random((int)(settings.Seed % int.MaxValue));
        Model = new SequenceModel<float>(inputSize: 1, seed: settings.Seed)
            .Add(Layer.Lstm(settings.Hidden, bidirectional: true))
            .Add(Layer.Linear(settings.Symbols + 1));
        Model.Compile(loss, p => new Adam<float>(p, settings.LearningRate));
        Model.ClipNorm = 1.0;
    }

    /// <summary>The network: bidirectional LSTM, then a linear layer to the K + 1 classes (the loss takes the log-softmax).</summary>
    public SequenceModel<float> Model { get; }

    /// <summary>A random sequence of symbols and its waveform.</summary>
    public static SymbolSequence Generate(SymbolSettings s, Random random)
    {
        int count = random.Next(s.MinLabels, s.MaxLabels + 1);
        var labels = new int[count];
        var wave = new List<float>();
        AddSilence(wave, random.Next(0, 3));
        for (int i = 0; i < count; i++)
        {
            labels[i] = random.Next(1, s.Symbols + 1);
            double stretch = s.MinStretch + (s.MaxStretch - s.MinStretch) * random.NextDouble();
            int frames = Math.Max(3, (int)Math.Round(s.BaseDuration * stretch));
            for (int f = 0; f < frames; f++)
            {
                wave.Add((float)ScalarMath.CosPi((labels[i] * (f + 0.5) / frames) - 0.5)); // sin(π·k·τ)
            }

            AddSilence(wave, random.Next(0, 3));
        }

        var result = wave.ToArray();
        for (int t = 0; t < result.Length; t++)
        {
            result[t] += (float)(s.Noise * Gaussian(random));
        }

        return new SymbolSequence(result, labels);
    }

    /// <summary>A batch of sequences padded to the longest: features [T, B, 1], lengths, and the labels as per-step class
    /// targets (column b holds sequence b's labels from row 0, then -1), what <see cref="ConnectionistTemporalClassification{T}"/> reads.</summary>
    public static SequenceBatch<float> ToBatch(IReadOnlyList<SymbolSequence> sequences)
    {
        int steps = sequences.Max(q => q.Wave.Length), size = sequences.Count;
        var batch = new SequenceBatch<float>(steps, size, 1, TargetKind.Classes, targetSteps: steps);
        Array.Fill(batch.Classes!, -1);
        var features = batch.Features!.AsSpan();
        for (int b = 0; b < size; b++)
        {
            var q = sequences[b];
            batch.Lengths[b] = q.Wave.Length;
            for (int t = 0; t < q.Wave.Length; t++)
            {
                features[t * size + b] = q.Wave[t];
            }

            for (int i = 0; i < q.Labels.Length; i++)
            {
                batch.Classes![i * size + b] = q.Labels[i];
            }
        }

        return batch;
    }

    /// <summary>One Adam step on a fresh batch; returns the batch's CTC loss (mean over the batch of −ln p / labels).</summary>
    public double TrainStep()
    {
        var sequences = new SymbolSequence[settings.Batch];
        for (int b = 0; b < sequences.Length; b++)
        {
            sequences[b] = Generate(settings, random);
        }

        return Model.TrainStep(ToBatch(sequences));
    }

    /// <summary>Log-posteriors ln y, [T, B, C], of a batch (log of the model's softmax).</summary>
    public float[] LogPosteriors(SequenceBatch<float> batch)
    {
        float[] probabilities = Model.PredictProbabilities(batch).AsSpan().ToArray();
        for (int i = 0; i < probabilities.Length; i++)
        {
            probabilities[i] = (float)ScalarMath.Log(Math.Max(probabilities[i], 1e-30f));
        }

        return probabilities;
    }

    /// <summary>Decodes held-out sequences greedily and with the prefix beam search; the label error rate is
    /// Σ edit distance / Σ reference length.</summary>
    public Evaluation Evaluate(IReadOnlyList<SymbolSequence> heldOut)
    {
        int classes = settings.Symbols + 1;
        var results = new List<(SymbolSequence, int[], int[])>();
        long greedyErrors = 0, beamErrors = 0, reference = 0;
        for (int start = 0; start < heldOut.Count; start += 100)
        {
            var chunk = heldOut.Skip(start).Take(100).ToList();
            var batch = ToBatch(chunk);
            float[] logPosteriors = LogPosteriors(batch);
            var greedy = CtcDecoder.Greedy<float>(logPosteriors, batch.Steps, chunk.Count, classes, batch.Lengths);
            var beams = CtcDecoder.BeamSearch<float>(logPosteriors, batch.Steps, chunk.Count, classes, batch.Lengths, settings.BeamWidth);
            for (int b = 0; b < chunk.Count; b++)
            {
                int[] best = beams[b].Length > 0 ? beams[b][0].Labels : [];
                greedyErrors += EditDistance(chunk[b].Labels, greedy[b].Labels);
                beamErrors += EditDistance(chunk[b].Labels, best);
                reference += chunk[b].Labels.Length;
                results.Add((chunk[b], greedy[b].Labels, best));
            }
        }

        return new Evaluation((double)greedyErrors / reference, (double)beamErrors / reference, results);
    }

    /// <summary>Levenshtein distance: the fewest insertions, deletions and substitutions turning one into the other.</summary>
    public static int EditDistance(int[] a, int[] b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    /// <summary>The symbols as letters (1 = A).</summary>
    public static string Spell(int[] labels) => new([.. labels.Select(l => (char)('A' + l - 1))]);

    private static void AddSilence(List<float> wave, int frames)
    {
        for (int f = 0; f < frames; f++)
        {
            wave.Add(0f);
        }
    }

    private static double Gaussian(Random random)
    {
        // Box-Muller with the library's CPU-independent log and cos, so the data are the same bits on every CPU.
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * ScalarMath.Log(u1)) * ScalarMath.CosPi(2 * u2);
    }
}
