using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>The recurrent cell of both halves of an <see cref="EncoderDecoder{T}"/>.</summary>
public enum EncoderDecoderCell
{
    /// <summary>LSTM (<see cref="LstmCell{T}"/>); the decoder starts from the encoder's final h and C.</summary>
    Lstm,

    /// <summary>GRU (<see cref="GruCell{T}"/>, PyTorch's form); the decoder starts from the encoder's final h.</summary>
    Gru,

    /// <summary>Elman tanh RNN (<see cref="ElmanCell{T}"/>).</summary>
    Rnn,
}

/// <summary>
/// A sequence-to-sequence model (Sutskever, Vinyals and Le 2014; Cho et al. 2014), optionally with global attention
/// (Luong, Pham and Manning 2015; the additive score of Bahdanau, Cho and Bengio 2015): a recurrent encoder reads the
/// source tokens, and a recurrent decoder that starts from the encoder's final state writes the target tokens one at a
/// time. Trained with teacher forcing, run with greedy decoding or beam search.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Legend: B = batchSize, S = source steps (the longest source of the batch), U = decoder steps (the longest target
/// plus one), E = embeddingSize, H = hiddenSize, L = numLayers, V = targetVocabularySize.</para>
/// <para>Model: x(s) = E_src[source(s)]; (h_enc(S), C_enc(S)) = encoder(x(1..S)) per layer, each source's state after its
/// own last token; y(0) = &lt;bos&gt;, y(u) = target(u) for u ≥ 1; the decoder starts from the encoder's final state and
/// reads z(u) = E_tgt[y(u-1)]; logits o(u) = W·h_dec(u) + b; L = mean over the B·(length+1) decoder steps of
/// -log softmax(o(u))[target(u)], where the step after the last target token predicts &lt;eos&gt;.</para>
/// <para>Attention (<see cref="AttentionKind"/> other than None), Luong's global attention without input feeding: with
/// h(u) the top decoder layer's output and k(s) the top encoder layer's output, e(u, s) = score(h(u), k(s)) for the
/// source's real steps s &lt; n (padded steps are masked: weight 0, gradient 0), α(u, ·) = softmax(e(u, ·)),
/// c(u) = Σ_s α(u, s) k(s), the attentional state h~(u) = tanh(W_c [c(u); h(u)] + b_c), and the logits read h~:
/// o(u) = W·h~(u) + b. Scores (<see cref="Attention{T}"/>): dot h·k; general hᵀ W_a k; additive vᵀ tanh(W_a h + U_a k),
/// Bahdanau's score (Luong's <c>concat</c>), here with the current decoder state as the query and the context feeding
/// the output as in Luong et al.; Bahdanau's placement (the previous decoder state as query, the context concatenated
/// with the decoder's input) would need the decoder run step by step in training, which this engine does not do. The
/// gradient of the loss reaches the encoder's outputs at every real source step as well as its final state.</para>
/// <para>Training (<see cref="Forward"/>, <see cref="Backward"/>) is teacher forcing: the decoder reads the true
/// previous token. Gradients flow from the logits through the decoder, through its initial state into the encoder's
/// final state (<c>dFinalState</c> of <see cref="RecurrentLayer{T}.Backward"/>), through the encoder and into both
/// embeddings. Sources and targets of different lengths share a batch through the engine's <c>sequenceLengths</c>:
/// padded decoder steps are ignored by the loss.</para>
/// <para>Inference (<see cref="Decode(TokenBatch, TokenBatch)"/>) is greedy: the decoder runs one step at a time from the carried state, feeding
/// back the arg max of its own logits, until every sequence has produced &lt;eos&gt; or the output is full. Both halves
/// are <see cref="RecurrentLayer{T}"/> engines; decoding calls the decoder's forward pass with one time step.</para>
/// <para>Parameters, in one <see cref="ParameterBlock{T}"/>: <c>source_embedding.weight [Vsrc, E]</c>, the encoder's
/// <c>weight_ih_lK_encoder</c>, <c>weight_hh_lK_encoder</c>, <c>bias_ih_lK_encoder</c>, <c>bias_hh_lK_encoder</c>,
/// <c>target_embedding.weight [V, E]</c>, the decoder's <c>..._lK_decoder</c>, <c>output.weight [V, H]</c>,
/// <c>output.bias [V]</c>, and with attention its parameters (<c>attention.attn.weight [H, H]</c> for general;
/// <c>attention.Wa.weight</c>, <c>attention.Ua.weight [H, H]</c> and <c>attention.Va.weight [1, H]</c> for additive; none
/// for dot) and <c>concat.weight [H, 2H]</c>, <c>concat.bias [H]</c> (names of PyTorch's seq2seq tutorials). In a PyTorch module with submodules <c>encoder</c> and <c>decoder</c> (<c>nn.LSTM</c>/<c>nn.GRU</c>)
/// these are <c>encoder.weight_ih_lK</c>, <c>decoder.weight_ih_lK</c>, and so on, in the same layouts.</para>
/// <para>Caches are sized per (steps, batch) on first use and reused: after that, neither a training step nor a
/// decode allocates. Not thread-safe.</para>
/// <para>Like <see cref="SequenceModel{T}"/>, the model trains on a data set (<see cref="Compile(Optimizers.Optimizer{T})"/>, then
/// <see cref="Fit"/> on a <see cref="SequencePairDataset"/>), is scored (<see cref="Evaluate"/>), decodes whole data
/// sets (<see cref="Predict(IEnumerable{int[]}, int, int)"/>) and is saved whole in one safetensors file
/// (<see cref="Save"/>, <see cref="Load"/>).</para>
/// </remarks>
public sealed partial class EncoderDecoder<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Embedding<T> sourceEmbedding, targetEmbedding;
    private readonly RecurrentLayer<T> encoder, decoder;
    private readonly Linear<T> output;
    private readonly Attention<T>? attention;
    private readonly Linear<T>? concat;
    private readonly Dictionary<(int Steps, int SourceSteps, int Batch), AttentionBuffers> attentionBuffers = [];
    private AttentionBuffers? lastAttention;
    private readonly Dictionary<(int Steps, int Batch), SequenceBuffers> encoderBuffers = [], decoderBuffers = [];
    private readonly Dictionary<int, BatchBuffers> batchBuffers = [];
    private int[] sourceIndices = [], decoderIndices = [], decoderTargets = [], decoderLengths = [];
    private T[] logits = [], dLogits = [];
    private SequenceBuffers? lastEncoder, lastDecoder;
    private BatchBuffers? lastBatch;
    private bool backwardReady;

    /// <summary>Builds the model; every parameter is drawn from <paramref name="random"/> in parameter order.</summary>
    /// <param name="cell">The cell of the encoder and the decoder.</param>
    /// <param name="sourceVocabularySize">Vsrc, the source tokens [0, Vsrc).</param>
    /// <param name="targetVocabularySize">V, the target tokens [0, V), including <paramref name="beginToken"/> and
    /// <paramref name="endToken"/>.</param>
    /// <param name="beginToken">&lt;bos&gt;, the decoder's first input.</param>
    /// <param name="endToken">&lt;eos&gt;, the token that ends an output.</param>
    /// <param name="embeddingSize">E, the width of both embeddings.</param>
    /// <param name="hiddenSize">H, the units of every encoder and decoder layer.</param>
    /// <param name="numLayers">L, the stacked layers of the encoder and of the decoder (layer l of the decoder starts
    /// from layer l of the encoder).</param>
    /// <param name="random">The initialisation source; seed 0 when null. Embeddings N(0, 1), recurrent layers and the
    /// output layer as PyTorch initialises them.</param>
    /// <param name="forgetBias">For LSTM cells: when set, the forget gate's b_ih starts at this value and its b_hh at 0.</param>
    /// <param name="attention">The attention of the decoder over the encoder's outputs (see the class remarks), or
    /// <see cref="AttentionKind.None"/> (the default) for none. Its parameters are drawn after all the others, so a model
    /// without attention is initialised as before.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1 (V below 3), a special token is outside [0, V), or
    /// the cell or attention kind is unknown.</exception>
    /// <exception cref="ArgumentException">The begin and end tokens are the same.</exception>
    public EncoderDecoder(EncoderDecoderCell cell, int sourceVocabularySize, int targetVocabularySize, int beginToken, int endToken,
        int embeddingSize, int hiddenSize, int numLayers = 1, SeededRandom? random = null, double? forgetBias = null,
        AttentionKind attention = AttentionKind.None)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceVocabularySize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetVocabularySize, 3);
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1);
        if ((uint)beginToken >= (uint)targetVocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(beginToken), beginToken, $"beginToken must be in [0, {targetVocabularySize}) (targetVocabularySize).");
        }

        if ((uint)endToken >= (uint)targetVocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(endToken), endToken, $"endToken must be in [0, {targetVocabularySize}) (targetVocabularySize).");
        }

        if (beginToken == endToken)
        {
            throw new ArgumentException($"beginToken and endToken are both {beginToken}; they must differ.", nameof(endToken));
        }

        if (!Enum.IsDefined(cell))
        {
            throw new ArgumentOutOfRangeException(nameof(cell), cell, "Unknown cell.");
        }

        if (!Enum.IsDefined(attention))
        {
            throw new ArgumentOutOfRangeException(nameof(attention), attention, "Unknown attention kind: use None, Additive, Dot or General.");
        }

        random ??= new SeededRandom(0);
        Cell = cell;
        SourceVocabularySize = sourceVocabularySize;
        TargetVocabularySize = targetVocabularySize;
        BeginToken = beginToken;
        EndToken = endToken;
        EmbeddingSize = embeddingSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        ForgetBias = forgetBias;
        Parameters = new ParameterBlock<T>();
        sourceEmbedding = new Embedding<T>(sourceVocabularySize, embeddingSize, random: random, parameters: Parameters, name: "source_embedding");
        encoder = CreateLayer(cell, Parameters, embeddingSize, hiddenSize, numLayers, "_encoder", random, forgetBias);
        targetEmbedding = new Embedding<T>(targetVocabularySize, embeddingSize, random: random, parameters: Parameters, name: "target_embedding");
        decoder = CreateLayer(cell, Parameters, embeddingSize, hiddenSize, numLayers, "_decoder", random, forgetBias);
        output = new Linear<T>(hiddenSize, targetVocabularySize, random: random, parameters: Parameters, name: "output");
        AttentionKind = attention;
        if (attention != AttentionKind.None)
        {
            this.attention = new Attention<T>(attention, hiddenSize, random, Parameters, "attention");
            concat = new Linear<T>(2 * hiddenSize, hiddenSize, random: random, parameters: Parameters, name: "concat");
        }
    }

    /// <summary>Every parameter and gradient of the model.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>The cell of both halves.</summary>
    public EncoderDecoderCell Cell { get; }

    /// <summary>Vsrc.</summary>
    public int SourceVocabularySize { get; }

    /// <summary>V (with &lt;bos&gt; and &lt;eos&gt;).</summary>
    public int TargetVocabularySize { get; }

    /// <summary>&lt;bos&gt;.</summary>
    public int BeginToken { get; }

    /// <summary>&lt;eos&gt;.</summary>
    public int EndToken { get; }

    /// <summary>E.</summary>
    public int EmbeddingSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>L.</summary>
    public int NumLayers { get; }

    /// <summary>The LSTM forget-gate bias the model was initialised with, or null.</summary>
    public double? ForgetBias { get; }

    /// <summary>The attention of the decoder over the encoder's outputs, or <see cref="AttentionKind.None"/>.</summary>
    public AttentionKind AttentionKind { get; }

    /// <summary>The attention layer (scores, masked softmax, context), or null without attention.</summary>
    public Attention<T>? Attention => attention;

    /// <summary>Luong's W_c: the layer from [c; h_dec] [2H] to the attentional state h~ = tanh(W_c [c; h_dec] + b_c) [H],
    /// or null without attention. PyTorch (the chatbot tutorial's <c>LuongAttnDecoderRNN</c>): <c>concat</c>.</summary>
    public Linear<T>? Concat => concat;

    /// <summary>The encoder engine.</summary>
    public RecurrentLayer<T> Encoder => encoder;

    /// <summary>The decoder engine.</summary>
    public RecurrentLayer<T> Decoder => decoder;

    /// <summary>The source embedding table.</summary>
    public Embedding<T> SourceEmbedding => sourceEmbedding;

    /// <summary>The target embedding table (the decoder's input).</summary>
    public Embedding<T> TargetEmbedding => targetEmbedding;

    /// <summary>The output layer from h_dec to the logits.</summary>
    public Linear<T> Output => output;

    /// <summary>
    /// The most threads one <see cref="Forward"/>, <see cref="Backward"/> or <see cref="Decode(TokenBatch, TokenBatch)"/> (and so
    /// <c>Fit</c>, <c>Evaluate</c> and <c>Predict</c>) may use, the calling thread included; null (the default) takes
    /// the limit of the caller, else the number of processors.
    /// Results are bit-identical for every value. PyTorch's <c>torch.set_num_threads</c> sets one limit for the process;
    /// this one is the object's, as ONNX Runtime's <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    /// <summary>U of the last <see cref="Forward"/>: the longest target plus one.</summary>
    public int DecoderSteps { get; private set; }

    /// <summary>The teacher-forced logits of the last <see cref="Forward"/>, [U, B, V] time-major: row (u, b) predicts
    /// target token u of sequence b (or &lt;eos&gt; at u = its length). Rows past that are padding.</summary>
    public ReadOnlySpan<T> Logits => logits.AsSpan(0, lastBatch is null ? 0 : DecoderSteps * lastBatch.Batch * TargetVocabularySize);

    /// <summary>
    /// The teacher-forced forward pass: encodes <paramref name="source"/>, decodes <paramref name="target"/> with
    /// &lt;bos&gt; + target as the decoder's input, and returns the mean cross-entropy over every target token and each
    /// sequence's &lt;eos&gt;. Keeps the activations for <see cref="Backward"/>.
    /// </summary>
    /// <param name="source">The source sequences, each of 1 to capacity tokens in [0, Vsrc).</param>
    /// <param name="target">The target sequences, the same batch size, each of 0 to capacity tokens in [0, V) other than
    /// &lt;bos&gt; and &lt;eos&gt;.</param>
    /// <returns>L, the mean over the B·(length + 1) predicted tokens.</returns>
    /// <exception cref="ArgumentException">The batch sizes differ, a source is empty, a length is outside its batch's
    /// capacity, or a token is out of range; nothing is computed.</exception>
    public double Forward(TokenBatch source, TokenBatch target)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckPair(source, target, nameof(target));
        CheckTarget(target);
        backwardReady = false;
        int batch = source.BatchSize, v = TargetVocabularySize;
        var state = BatchState(batch);
        var enc = Encode(source, state);

        // Decoder input <bos>, y(1), ..., y(n); its targets y(1), ..., y(n), <eos>; -1 past the end (ignored by the loss).
        int steps = target.MaxLength + 1, rows = steps * batch;
        var dec = Buffers(decoderBuffers, steps, batch);
        Grow(ref decoderIndices, rows);
        Grow(ref decoderTargets, rows);
        Grow(ref decoderLengths, batch);
        ReadOnlySpan<int> targetTokens = target.Tokens;
        ReadOnlySpan<int> targetLengths = target.Lengths;
        for (int b = 0; b < batch; b++)
        {
            int length = targetLengths[b];
            decoderLengths[b] = length + 1;
            for (int u = 0; u < steps; u++)
            {
                int at = u * batch + b;
                decoderIndices[at] = u == 0 || u > length ? BeginToken : targetTokens[(u - 1) * batch + b];
                decoderTargets[at] = u < length ? targetTokens[u * batch + b] : u == length ? EndToken : -1;
            }
        }

        targetEmbedding.Forward(decoderIndices.AsSpan(0, rows), dec.Input.AsSpan());
        decoder.Forward(dec.Input, dec.Output, state.State, null, decoderLengths.AsSpan(0, batch));
        lastAttention = attention is null ? null : Attend(dec, enc.Steps, batch);

        Grow(ref logits, rows * v);
        Grow(ref dLogits, rows * v);
        output.Forward(lastAttention is null ? dec.Output.AsSpan() : lastAttention.Attentional, rows, logits.AsSpan(0, rows * v));
        double loss = CrossEntropyLoss.Compute<T>(logits.AsSpan(0, rows * v), decoderTargets.AsSpan(0, rows), v, dLogits.AsSpan(0, rows * v));

        DecoderSteps = steps;
        lastEncoder = enc;
        lastDecoder = dec;
        lastBatch = state;
        backwardReady = true;
        return loss;
    }

    /// <summary>
    /// Backpropagates the loss of the last <see cref="Forward"/> through the output layer, the decoder, the encoder's
    /// final state, the encoder and both embeddings, and adds every gradient to <see cref="Parameters"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No forward pass is waiting (each <see cref="Forward"/> allows one
    /// <see cref="Backward"/>; <see cref="Decode(TokenBatch, TokenBatch)"/> overwrites the caches).</exception>
    public void Backward()
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        if (!backwardReady)
        {
            throw new InvalidOperationException("Backward needs a Forward call first; each Forward allows one Backward, and Decode overwrites the caches.");
        }

        backwardReady = false;
        var enc = lastEncoder!;
        var dec = lastDecoder!;
        var state = lastBatch!;
        int batch = state.Batch, rows = DecoderSteps * batch, v = TargetVocabularySize;

        // Output layer (through the attention to dL/dh_dec and dL/d the encoder's outputs when there is one), then the
        // decoder down to dL/d its initial state, which is dL/d the encoder's final state.
        if (lastAttention is { } att)
        {
            output.Backward(att.Attentional, dLogits.AsSpan(0, rows * v), rows, att.DAttentional);
            AttendBackward(att, dec, enc);
        }
        else
        {
            output.Backward(dec.Output.AsSpan(), dLogits.AsSpan(0, rows * v), rows, dec.DOutput.AsSpan());
        }

        decoder.Backward(dec.DOutput, null, dec.DInput, state.DState);
        targetEmbedding.Backward(decoderIndices.AsSpan(0, rows), dec.DInput.AsSpan());

        // Without attention the loss reads no encoder output (its gradient stays zero) and the state carries everything.
        encoder.Backward(enc.DOutput, state.DState, enc.DInput);
        sourceEmbedding.Backward(sourceIndices.AsSpan(0, enc.Steps * batch), enc.DInput.AsSpan());
    }

    /// <summary>
    /// Greedy decoding: encodes <paramref name="source"/>, then runs the decoder one step at a time from the encoder's
    /// final state, feeding back the arg max of each step's logits (the lowest index on ties), until every sequence has
    /// produced &lt;eos&gt; or <paramref name="result"/> is full.
    /// </summary>
    /// <param name="source">The source sequences, each of 1 to capacity tokens in [0, Vsrc).</param>
    /// <param name="result">Receives the outputs without &lt;eos&gt;, at most its capacity tokens each, and their lengths;
    /// the same batch size as <paramref name="source"/>.</param>
    /// <returns>The number of sequences that ended with &lt;eos&gt; (the others were cut at the capacity).</returns>
    /// <exception cref="ArgumentException">The batch sizes differ, a source is empty or too long, or a token is out of
    /// range.</exception>
    public int Decode(TokenBatch source, TokenBatch result) => Decode(source, result, []);

    /// <summary>
    /// Greedy decoding as <see cref="Decode(TokenBatch, TokenBatch)"/>, also writing each step's attention weights (for a
    /// heat map: output step against source step).
    /// </summary>
    /// <param name="source">The source sequences, each of 1 to capacity tokens in [0, Vsrc).</param>
    /// <param name="result">Receives the outputs without &lt;eos&gt; and their lengths.</param>
    /// <param name="attentionWeights">Empty, or at least [C, B, S] (C = the result's capacity, S = the longest source
    /// of the batch): receives α(u, b, s) of decoding step u (the step that chose output token u, or &lt;eos&gt;);
    /// zero at padded source steps and at steps not run.</param>
    /// <returns>The number of sequences that ended with &lt;eos&gt;.</returns>
    /// <exception cref="ArgumentException">As <see cref="Decode(TokenBatch, TokenBatch)"/>, or
    /// <paramref name="attentionWeights"/> is too short.</exception>
    /// <exception cref="InvalidOperationException">Weights are asked of a model without attention.</exception>
    public int Decode(TokenBatch source, TokenBatch result, Span<T> attentionWeights)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        CheckPair(source, result, nameof(result));
        if (!attentionWeights.IsEmpty)
        {
            if (attention is null)
            {
                throw new InvalidOperationException("This model has no attention (AttentionKind.None): it has no attention weights to write.");
            }

            int needed = result.Capacity * source.BatchSize * source.MaxLength;
            if (attentionWeights.Length < needed)
            {
                throw new ArgumentException($"attentionWeights has {attentionWeights.Length} elements but [capacity {result.Capacity}, batch {source.BatchSize}, source steps {source.MaxLength}] needs {needed}.", nameof(attentionWeights));
            }

            attentionWeights.Clear();
        }

        backwardReady = false;
        int batch = source.BatchSize, v = TargetVocabularySize;
        var state = BatchState(batch);
        var enc = Encode(source, state);
        var step = Buffers(decoderBuffers, 1, batch);
        Span<int> previous = state.Previous;
        Span<bool> done = state.Done;
        Span<T> stepLogits = state.Logits;
        Span<int> tokens = result.Tokens, lengths = result.Lengths;
        previous.Fill(BeginToken);
        done.Clear();
        lengths.Clear();
        int finished = 0;
        for (int u = 0; u < result.Capacity && finished < batch; u++)
        {
            targetEmbedding.Forward(previous, step.Input.AsSpan());
            decoder.Forward(step.Input, step.Output, state.State, state.State);
            StepLogits(step, enc.Steps, batch, stepLogits, u, attentionWeights);
            for (int b = 0; b < batch; b++)
            {
                int token = ArgMax(stepLogits.Slice(b * v, v));
                previous[b] = token;
                if (done[b])
                {
                    continue;
                }

                if (token == EndToken)
                {
                    done[b] = true;
                    finished++;
                }
                else
                {
                    tokens[u * batch + b] = token;
                    lengths[b] = u + 1;
                }
            }
        }

        return finished;
    }

    private SequenceBuffers Encode(TokenBatch source, BatchBuffers state)
    {
        int batch = source.BatchSize, steps = source.MaxLength, rows = steps * batch;
        var enc = Buffers(encoderBuffers, steps, batch);
        Grow(ref sourceIndices, rows);
        ReadOnlySpan<int> tokens = source.Tokens;
        ReadOnlySpan<int> lengths = source.Lengths;

        // Padding positions read token 0: the engine carries the state over them and gives them no gradient.
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                sourceIndices[t * batch + b] = t < lengths[b] ? tokens[t * batch + b] : 0;
            }
        }

        sourceEmbedding.Forward(sourceIndices.AsSpan(0, rows), enc.Input.AsSpan());
        encoder.Forward(enc.Input, enc.Output, null, state.State, lengths);
        attention?.SetKeys(enc.Output, lengths);
        return enc;
    }

    // One decoding step's logits [B, V] from the decoder's output [1, B, H] (through the attention when there is one);
    // step u's attention weights [B, S] go to row u of `weights` [capacity, B, S] when it is not empty.
    private void StepLogits(SequenceBuffers step, int sourceSteps, int batch, Span<T> stepLogits, int u, Span<T> weights)
    {
        if (attention is null)
        {
            output.Forward(step.Output.AsSpan(), batch, stepLogits);
            return;
        }

        var att = Attend(step, sourceSteps, batch);
        output.Forward(att.Attentional, batch, stepLogits);
        if (!weights.IsEmpty)
        {
            att.Weights.AsSpan().CopyTo(weights.Slice(u * batch * sourceSteps, batch * sourceSteps));
        }
    }

    // Luong's global attention on the decoder's outputs: α and c from the attention layer, then
    // h~ = tanh(W_c [c; h_dec] + b_c) for every (u, b) row.
    private AttentionBuffers Attend(SequenceBuffers dec, int sourceSteps, int batch)
    {
        int steps = dec.Steps, h = HiddenSize, rows = steps * batch;
        if (!attentionBuffers.TryGetValue((steps, sourceSteps, batch), out var att))
        {
            att = new AttentionBuffers(steps, sourceSteps, batch, h);
            attentionBuffers.Add((steps, sourceSteps, batch), att);
        }

        attention!.Forward(dec.Output, att.Context, att.Weights);
        ReadOnlySpan<T> context = att.Context.AsSpan(), hidden = dec.Output.AsSpan();
        Span<T> joined = att.Joined;
        for (int r = 0; r < rows; r++)
        {
            context.Slice(r * h, h).CopyTo(joined.Slice(2 * r * h, h));
            hidden.Slice(r * h, h).CopyTo(joined.Slice((2 * r + 1) * h, h));
        }

        concat!.Forward(joined, rows, att.Attentional);
        VectorMath.Tanh<T>(att.Attentional, att.Attentional);
        return att;
    }

    // From dL/dh~ (in att.DAttentional) to dL/dh_dec (dec.DOutput, overwritten) and dL/d the encoder's outputs
    // (enc.DOutput, overwritten; zero at padded source steps).
    private void AttendBackward(AttentionBuffers att, SequenceBuffers dec, SequenceBuffers enc)
    {
        int h = HiddenSize, rows = att.Steps * att.Batch;
        Span<T> dPre = att.DAttentional;
        Elementwise.TanhBackward<T>(att.Attentional, dPre, dPre);
        concat!.Backward(att.Joined, dPre, rows, att.DJoined);
        ReadOnlySpan<T> dJoined = att.DJoined;
        Span<T> dContext = att.DContext.AsSpan(), dHidden = dec.DOutput.AsSpan();
        for (int r = 0; r < rows; r++)
        {
            dJoined.Slice(2 * r * h, h).CopyTo(dContext.Slice(r * h, h));
            dJoined.Slice((2 * r + 1) * h, h).CopyTo(dHidden.Slice(r * h, h));
        }

        enc.DOutput.Clear();
        attention!.Backward(att.DContext, dec.DOutput, enc.DOutput);
    }

    // Both batches given, of the same batch size, and the source valid.
    private void CheckPair(TokenBatch source, TokenBatch other, string otherName)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(other, otherName);
        if (other.BatchSize != source.BatchSize)
        {
            throw new ArgumentException($"{otherName} has {other.BatchSize} sequences but source has {source.BatchSize}; they must be the same batch.", otherName);
        }

        CheckSource(source);
    }

    private void CheckSource(TokenBatch source)
    {
        ReadOnlySpan<int> lengths = source.Lengths;
        ReadOnlySpan<int> tokens = source.Tokens;
        for (int b = 0; b < source.BatchSize; b++)
        {
            int length = lengths[b];
            if (length < 1 || length > source.Capacity)
            {
                throw new ArgumentException(length == 0
                    ? $"Source sequence {b} is empty; the encoder needs at least one token."
                    : $"Source sequence {b} has length {length}, outside [1, {source.Capacity}] (the batch's capacity).", nameof(source));
            }

            for (int t = 0; t < length; t++)
            {
                int token = tokens[t * source.BatchSize + b];
                if ((uint)token >= (uint)SourceVocabularySize)
                {
                    throw new ArgumentException($"Source sequence {b} has token {token} at position {t}, outside [0, {SourceVocabularySize}) (sourceVocabularySize).", nameof(source));
                }
            }
        }
    }

    private void CheckTarget(TokenBatch target)
    {
        ReadOnlySpan<int> lengths = target.Lengths;
        ReadOnlySpan<int> tokens = target.Tokens;
        for (int b = 0; b < target.BatchSize; b++)
        {
            int length = lengths[b];
            if (length < 0 || length > target.Capacity)
            {
                throw new ArgumentException($"Target sequence {b} has length {length}, outside [0, {target.Capacity}] (the batch's capacity).", nameof(target));
            }

            for (int t = 0; t < length; t++)
            {
                int token = tokens[t * target.BatchSize + b];
                if ((uint)token >= (uint)TargetVocabularySize)
                {
                    throw new ArgumentException($"Target sequence {b} has token {token} at position {t}, outside [0, {TargetVocabularySize}) (targetVocabularySize).", nameof(target));
                }

                if (token == BeginToken || token == EndToken)
                {
                    throw new ArgumentException(
                        $"Target sequence {b} has the {(token == BeginToken ? "begin" : "end")} token {token} at position {t}; targets must not contain <bos> or <eos> (the model adds them).", nameof(target));
                }
            }
        }
    }

    private static int ArgMax(ReadOnlySpan<T> row)
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

    private static RecurrentLayer<T> CreateLayer(EncoderDecoderCell cell, ParameterBlock<T> block, int inputSize, int hiddenSize,
        int numLayers, string role, SeededRandom random, double? forgetBias)
    {
        CellFactory<T> factory = cell switch
        {
            EncoderDecoderCell.Lstm => (b, _, input, suffix) => new LstmCell<T>(b, input, hiddenSize, nameSuffix: suffix + role),
            EncoderDecoderCell.Gru => (b, _, input, suffix) => new GruCell<T>(b, input, hiddenSize, nameSuffix: suffix + role),
            _ => (b, _, input, suffix) => new ElmanCell<T>(b, input, hiddenSize, nameSuffix: suffix + role),
        };
        var layer = new RecurrentLayer<T>(block, inputSize, hiddenSize, numLayers, factory);
        foreach (var c in layer.Cells)
        {
            foreach (var view in c.Parameters)
            {
                Initializers.PyTorchRecurrentDefault(view, hiddenSize, random);
            }

            if (forgetBias is double value && c is LstmCell<T> lstm)
            {
                Initializers.Constant(lstm.BiasIH!.Values.Slice(lstm.ForgetGateOffset, hiddenSize), value);
                Initializers.Constant(lstm.BiasHH!.Values.Slice(lstm.ForgetGateOffset, hiddenSize), 0);
            }
        }

        return layer;
    }

    private SequenceBuffers Buffers(Dictionary<(int, int), SequenceBuffers> pool, int steps, int batch)
    {
        if (!pool.TryGetValue((steps, batch), out var buffers))
        {
            buffers = new SequenceBuffers(steps, batch, EmbeddingSize, HiddenSize);
            pool.Add((steps, batch), buffers);
        }

        return buffers;
    }

    private BatchBuffers BatchState(int batch)
    {
        if (!batchBuffers.TryGetValue(batch, out var buffers))
        {
            buffers = new BatchBuffers(encoder.CreateState(batch), encoder.CreateState(batch), batch, TargetVocabularySize);
            batchBuffers.Add(batch, buffers);
        }

        return buffers;
    }

    private static void Grow<TItem>(ref TItem[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new TItem[length];
        }
    }

    // The tensors of one (steps, batch) shape: embedded input, layer output and their gradients. DOutput of the encoder
    // stays zero (nothing reads the encoder's outputs).
    private sealed class SequenceBuffers(int steps, int batch, int embeddingSize, int hiddenSize)
    {
        public int Steps { get; } = steps;

        public Tensor<T> Input { get; } = new(steps, batch, embeddingSize);

        public Tensor<T> Output { get; } = new(steps, batch, hiddenSize);

        public Tensor<T> DOutput { get; } = new(steps, batch, hiddenSize);

        public Tensor<T> DInput { get; } = new(steps, batch, embeddingSize);
    }

    // The attention's tensors of one (decoder steps, source steps, batch) shape: α [U, B, S], c [U, B, H], [c; h_dec]
    // [U·B, 2H], h~ [U·B, H], and their gradients.
    private sealed class AttentionBuffers(int steps, int sourceSteps, int batch, int hiddenSize)
    {
        private readonly T[] joined = new T[steps * batch * 2 * hiddenSize], dJoined = new T[steps * batch * 2 * hiddenSize];
        private readonly T[] attentional = new T[steps * batch * hiddenSize], dAttentional = new T[steps * batch * hiddenSize];

        public int Steps { get; } = steps;

        public int Batch { get; } = batch;

        public Tensor<T> Weights { get; } = new(steps, batch, sourceSteps);

        public Tensor<T> Context { get; } = new(steps, batch, hiddenSize);

        public Tensor<T> DContext { get; } = new(steps, batch, hiddenSize);

        public Span<T> Joined => joined;

        public Span<T> DJoined => dJoined;

        public Span<T> Attentional => attentional;

        public Span<T> DAttentional => dAttentional;
    }

    // The state handed from the encoder to the decoder, its gradient, and the greedy decoder's per-step buffers.
    private sealed class BatchBuffers(RecurrentState<T> state, RecurrentState<T> dState, int batch, int vocabulary)
    {
        private readonly int[] previous = new int[batch];
        private readonly bool[] done = new bool[batch];
        private readonly T[] logits = new T[batch * vocabulary];

        public int Batch { get; } = batch;

        public RecurrentState<T> State { get; } = state;

        public RecurrentState<T> DState { get; } = dState;

        public Span<int> Previous => previous;

        public Span<bool> Done => done;

        public Span<T> Logits => logits;
    }
}
