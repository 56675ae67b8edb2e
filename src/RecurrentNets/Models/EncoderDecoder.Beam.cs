using RecurrentNets.Data;
using RecurrentNets.Kernels;

namespace RecurrentNets.Models;

public sealed partial class EncoderDecoder<T>
{
    private readonly Dictionary<(int Capacity, int Batch), TokenBatch> beamSources = [];
    private BeamBuffers? beam;

    /// <summary>
    /// Beam search decoding, batched: keeps the <paramref name="beamWidth"/> best partial outputs of every source, by
    /// the sum of their tokens' log-probabilities, and returns each source's best finished output by the length-normalised
    /// score Σ log p(y_u | y_&lt;u, x) / L^α.
    /// </summary>
    /// <param name="source">The source sequences, each of 1 to capacity tokens in [0, Vsrc).</param>
    /// <param name="result">Receives the best outputs without &lt;eos&gt; (at most its capacity C tokens each) and their
    /// lengths; the same batch size as <paramref name="source"/>.</param>
    /// <param name="beamWidth">K, the hypotheses kept per source (1 is greedy decoding, bit for bit).</param>
    /// <param name="lengthNormalization">α ≥ 0 of the normalisation (as Hugging Face's <c>length_penalty</c>): 0 ranks
    /// by the total log-probability (which favours short outputs), 1 by the mean log-probability per token.</param>
    /// <param name="scores">Empty, or at least B values: receives each chosen output's normalised score.</param>
    /// <returns>The number of sources whose output ended with &lt;eos&gt; (the others were cut at C tokens).</returns>
    /// <exception cref="ArgumentException">As <see cref="Decode(TokenBatch, TokenBatch)"/>, or <paramref name="scores"/>
    /// is too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beamWidth"/> is below 1 or
    /// <paramref name="lengthNormalization"/> is negative or not finite.</exception>
    /// <remarks>
    /// <para>The search runs the decoder on B·K rows (each source's encoding repeated K times; row b·K + k is hypothesis k of
    /// source b), one step at a time, as <see cref="Decode(TokenBatch, TokenBatch)"/> does. At step u every live
    /// hypothesis h extends by every token v with score(h) + log softmax(o(u))[v], in double. Per source the 2K best
    /// candidates are ranked (ties: the lower hypothesis, then the lower token, first); a candidate ending in
    /// &lt;eos&gt; among the first K is finished, with length L = u + 1 (its tokens and &lt;eos&gt;) and normalised score
    /// s / L^α; the first K candidates that do not end in &lt;eos&gt; are the next step's hypotheses (the decoder state
    /// and attention follow their parents). A source is done when K hypotheses have finished (Hugging Face's
    /// <c>early_stopping=True</c>), or after C steps, when its live hypotheses compete too, normalised with L = C. The
    /// first hypothesis starts alone at score 0, so no two hypotheses are the same.</para>
    /// <para>Allocates its buffers on first use per shape; not thread-safe.</para>
    /// </remarks>
    public int BeamDecode(TokenBatch source, TokenBatch result, int beamWidth, double lengthNormalization = 0.0, Span<double> scores = default)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckPair(source, result, nameof(result));
        ArgumentOutOfRangeException.ThrowIfLessThan(beamWidth, 1);
        if (!double.IsFinite(lengthNormalization) || lengthNormalization < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(lengthNormalization), lengthNormalization, "lengthNormalization (α) must be finite and at least 0.");
        }

        int batch = source.BatchSize;
        if (!scores.IsEmpty && scores.Length < batch)
        {
            throw new ArgumentException($"scores has {scores.Length} elements but the batch has {batch} sources.", nameof(scores));
        }

        backwardReady = false;
        int k = beamWidth, rows = batch * k, v = TargetVocabularySize, capacity = result.Capacity, steps = source.MaxLength;

        // Row b·K + j of the expanded batch is source b.
        if (!beamSources.TryGetValue((steps, rows), out var expanded))
        {
            expanded = new TokenBatch(steps, rows);
            beamSources.Add((steps, rows), expanded);
        }

        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < k; j++)
            {
                expanded.Lengths[b * k + j] = source.Lengths[b];
                for (int t = 0; t < source.Lengths[b]; t++)
                {
                    expanded.Tokens[t * rows + b * k + j] = source.Tokens[t * batch + b];
                }
            }
        }

        var state = BatchState(rows);
        var enc = Encode(expanded, state);
        var step = Buffers(decoderBuffers, 1, rows);
        if (beam is null || beam.Rows < rows || beam.Capacity < capacity || beam.Batch < batch || beam.Width < k)
        {
            beam = new BeamBuffers(Math.Max(rows, beam?.Rows ?? 0), Math.Max(capacity, beam?.Capacity ?? 0),
                Math.Max(batch, beam?.Batch ?? 0), Math.Max(k, beam?.Width ?? 0));
        }

        var z = beam;
        Span<int> previous = state.Previous;
        Span<T> stepLogits = state.Logits;
        z.Reset(rows, batch);
        for (int b = 0; b < batch; b++)
        {
            z.Score[b * k] = 0;
        }

        previous.Fill(BeginToken);
        int remaining = batch;
        for (int u = 0; u < capacity && remaining > 0; u++)
        {
            targetEmbedding.Forward(previous, step.Input.AsSpan());
            decoder.Forward(step.Input, step.Output, state.State, state.State);
            StepLogits(step, enc.Steps, rows, stepLogits, 0, []);
            for (int b = 0; b < batch; b++)
            {
                if (z.Done[b])
                {
                    for (int j = 0; j < k; j++)
                    {
                        z.Parent[b * k + j] = b * k + j;
                        z.NextToken[b * k + j] = EndToken;
                        z.NextScore[b * k + j] = double.NegativeInfinity;
                    }

                    continue;
                }

                int found = SelectCandidates(stepLogits, b, k, v, z);
                int live = 0;
                for (int r = 0; r < found && live < k; r++)
                {
                    int from = b * k + z.CandidateBeam[r], token = z.CandidateToken[r];
                    double score = z.CandidateScore[r];
                    if (token == EndToken)
                    {
                        if (r < k)
                        {
                            Finish(z, b, from, u, score / Math.Pow(u + 1, lengthNormalization), ended: true, capacity);
                        }

                        continue;
                    }

                    z.Parent[b * k + live] = from;
                    z.NextToken[b * k + live] = token;
                    z.NextScore[b * k + live] = score;
                    live++;
                }

                for (int j = live; j < k; j++)
                {
                    z.Parent[b * k + j] = b * k;
                    z.NextToken[b * k + j] = EndToken;
                    z.NextScore[b * k + j] = double.NegativeInfinity;
                }

                if (z.Finished[b] >= k)
                {
                    z.Done[b] = true;
                    remaining--;
                }
            }

            Reorder(z, state, rows, u, capacity, previous);
        }

        // Sources still searching after C steps: their live hypotheses, cut at C tokens, compete with the finished ones.
        int ended = 0;
        for (int b = 0; b < batch; b++)
        {
            if (!z.Done[b])
            {
                for (int j = 0; j < k; j++)
                {
                    int row = b * k + j;
                    if (double.IsFinite(z.Score[row]))
                    {
                        Finish(z, b, row, capacity, z.Score[row] / Math.Pow(capacity, lengthNormalization), ended: false, capacity);
                    }
                }
            }

            int length = z.BestLength[b];
            result.Lengths[b] = length;
            for (int t = 0; t < length; t++)
            {
                result.Tokens[t * batch + b] = z.BestTokens[b * capacity + t];
            }

            ended += z.BestEnded[b] ? 1 : 0;
            if (!scores.IsEmpty)
            {
                scores[b] = z.BestScore[b];
            }
        }

        return ended;
    }

    // The 2K best extensions of source b's live hypotheses, best first (stable: earlier hypothesis, then token, on ties).
    private static int SelectCandidates(ReadOnlySpan<T> stepLogits, int b, int k, int v, BeamBuffers z)
    {
        int limit = 2 * k, found = 0;
        for (int j = 0; j < k; j++)
        {
            int row = b * k + j;
            double baseScore = z.Score[row];
            if (double.IsNegativeInfinity(baseScore))
            {
                continue;
            }

            ReadOnlySpan<T> logits = stepLogits.Slice(row * v, v);
            double max = double.NegativeInfinity;
            for (int i = 0; i < v; i++)
            {
                max = Math.Max(max, double.CreateTruncating(logits[i]));
            }

            double sum = 0;
            for (int i = 0; i < v; i++)
            {
                sum += Math.Exp(double.CreateTruncating(logits[i]) - max);
            }

            double logSum = max + Math.Log(sum);
            for (int i = 0; i < v; i++)
            {
                double score = baseScore + (double.CreateTruncating(logits[i]) - logSum);
                if (found == limit && score <= z.CandidateScore[limit - 1])
                {
                    continue;
                }

                int at = Math.Min(found, limit - 1);
                while (at > 0 && z.CandidateScore[at - 1] < score)
                {
                    z.CandidateScore[at] = z.CandidateScore[at - 1];
                    z.CandidateBeam[at] = z.CandidateBeam[at - 1];
                    z.CandidateToken[at] = z.CandidateToken[at - 1];
                    at--;
                }

                z.CandidateScore[at] = score;
                z.CandidateBeam[at] = j;
                z.CandidateToken[at] = i;
                found = Math.Min(found + 1, limit);
            }
        }

        return found;
    }

    // Records hypothesis `row` (its first `length` tokens) as a finished output of source b when it beats the best so far.
    private static void Finish(BeamBuffers z, int b, int row, int length, double normalised, bool ended, int capacity)
    {
        z.Finished[b]++;
        if (normalised <= z.BestScore[b])
        {
            return;
        }

        z.BestScore[b] = normalised;
        z.BestLength[b] = length;
        z.BestEnded[b] = ended;
        z.Tokens.AsSpan(row * capacity, length).CopyTo(z.BestTokens.AsSpan(b * capacity, length));
    }

    // The next hypotheses take their parents' decoder state and tokens, plus their new token.
    private void Reorder(BeamBuffers z, BatchBuffers state, int rows, int u, int capacity, Span<int> previous)
    {
        state.DState.CopyFrom(state.State);
        int h = HiddenSize;
        for (int layer = 0; layer < NumLayers; layer++)
        {
            Span<T> hidden = state.State.Hidden.AsSpan().Slice(layer * rows * h, rows * h);
            ReadOnlySpan<T> old = state.DState.Hidden.AsSpan().Slice(layer * rows * h, rows * h);
            Span<T> cell = state.State.Cell is null ? [] : state.State.Cell.AsSpan().Slice(layer * rows * h, rows * h);
            ReadOnlySpan<T> oldCell = state.DState.Cell is null ? [] : state.DState.Cell.AsSpan().Slice(layer * rows * h, rows * h);
            for (int row = 0; row < rows; row++)
            {
                int parent = z.Parent[row];
                old.Slice(parent * h, h).CopyTo(hidden.Slice(row * h, h));
                if (!cell.IsEmpty)
                {
                    oldCell.Slice(parent * h, h).CopyTo(cell.Slice(row * h, h));
                }
            }
        }

        z.Tokens.AsSpan(0, rows * capacity).CopyTo(z.OldTokens);
        for (int row = 0; row < rows; row++)
        {
            z.OldTokens.AsSpan(z.Parent[row] * capacity, u).CopyTo(z.Tokens.AsSpan(row * capacity, u));
            z.Tokens[row * capacity + u] = z.NextToken[row];
            z.Score[row] = z.NextScore[row];
            previous[row] = z.NextToken[row];
        }
    }

    // Beam search's per-call arrays, kept across calls at the largest shape seen.
    private sealed class BeamBuffers(int rows, int capacity, int batch, int width)
    {
        public int Rows { get; } = rows;

        public int Capacity { get; } = capacity;

        public int Batch { get; } = batch;

        public int Width { get; } = width;

        public double[] Score { get; } = new double[rows];

        public double[] NextScore { get; } = new double[rows];

        public int[] Parent { get; } = new int[rows];

        public int[] NextToken { get; } = new int[rows];

        public int[] Tokens { get; } = new int[rows * capacity];

        public int[] OldTokens { get; } = new int[rows * capacity];

        public double[] CandidateScore { get; } = new double[2 * width];

        public int[] CandidateBeam { get; } = new int[2 * width];

        public int[] CandidateToken { get; } = new int[2 * width];

        public int[] Finished { get; } = new int[batch];

        public bool[] Done { get; } = new bool[batch];

        public double[] BestScore { get; } = new double[batch];

        public int[] BestLength { get; } = new int[batch];

        public bool[] BestEnded { get; } = new bool[batch];

        public int[] BestTokens { get; } = new int[batch * capacity];

        public void Reset(int rows, int batch)
        {
            Score.AsSpan(0, rows).Fill(double.NegativeInfinity);
            Finished.AsSpan(0, batch).Clear();
            Done.AsSpan(0, batch).Clear();
            BestScore.AsSpan(0, batch).Fill(double.NegativeInfinity);
            BestLength.AsSpan(0, batch).Clear();
            BestEnded.AsSpan(0, batch).Clear();
        }
    }
}
