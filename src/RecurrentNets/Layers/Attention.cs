using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Layers;

/// <summary>The score function of an <see cref="Attention{T}"/> layer (and the attention option of an encoder-decoder).</summary>
public enum AttentionKind
{
    /// <summary>No attention (only meaningful as a model option; an <see cref="Attention{T}"/> layer refuses it).</summary>
    None,

    /// <summary>Additive (Bahdanau, Cho and Bengio 2015; Luong et al.'s <c>concat</c>): e = vᵀ tanh(W_a q + U_a k).</summary>
    Additive,

    /// <summary>Multiplicative <c>dot</c> (Luong, Pham and Manning 2015): e = qᵀ k.</summary>
    Dot,

    /// <summary>Multiplicative <c>general</c> (Luong, Pham and Manning 2015): e = qᵀ W_a k.</summary>
    General,
}

/// <summary>
/// Global attention of many queries over a batch of variable-length key sequences: scores, a masked softmax over the
/// source steps and the context vectors, with the backward pass into the queries, the keys and the score parameters.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// <para>Legend: U = query steps, S = source steps (the longest source), B = batchSize, H = hiddenSize; n_b = the length of
/// source b (1 ≤ n_b ≤ S). Tensors are time-major: queries q [U, B, H], keys k [S, B, H], weights α [U, B, S], context
/// c [U, B, H].</para>
/// <para>Maths, for query (u, b) and source step s &lt; n_b: e(u, b, s) = score(q(u, b), k(s, b)); α(u, b, ·) =
/// softmax over s &lt; n_b of e; α(u, b, s) = 0 for s ≥ n_b (the mask: padded steps get no weight and no gradient);
/// c(u, b) = Σ_s α(u, b, s) k(s, b). Scores: <see cref="AttentionKind.Dot"/> qᵀk; <see cref="AttentionKind.General"/>
/// qᵀ W k with W [H, H]; <see cref="AttentionKind.Additive"/> vᵀ tanh(W_a q + U_a k) with W_a, U_a [H, H], v [H].</para>
/// <para>Parameters, named as PyTorch's tutorials name them for a module registered as <c>name</c>: general
/// <c>{name}.attn.weight [H, H]</c> (the chatbot tutorial's <c>Attn.attn</c>, without its bias, which the softmax
/// cancels); additive <c>{name}.Wa.weight [H, H]</c>, <c>{name}.Ua.weight [H, H]</c>, <c>{name}.Va.weight [1, H]</c>
/// (the translation tutorial's <c>BahdanauAttention</c>, without biases, as in the paper); dot has none.</para>
/// <para>Every product is a GEMM (<see cref="Gemm"/>): the key projection over all S·B rows, the per-sequence
/// score and context products Q_b K_bᵀ and α_b K_b read in place through leading dimensions, and their transposes in the
/// backward pass. The additive score keeps tanh(W_a q + U_a k) for every (u, b, s), U·B·S·H values. Use:
/// <see cref="SetKeys"/> once per source batch (it projects the keys), then <see cref="Forward"/> for one or many
/// query steps, then (for training) <see cref="Backward"/> for the last forward. Buffers grow to the largest shapes
/// seen and are reused: in steady state nothing is allocated. Not thread-safe.</para>
/// </remarks>
public sealed class Attention<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T>? general, queryProjection, keyProjection, scoreVector;
    private Tensor<T>? keys, queries, weights;
    private int[] lengths = [];
    private T[] projectedKeys = [], projectedQueries = [], hidden = [], dHidden = [], dProjectedKeys = [], dProjectedQueries = [], scratch = [];
    private int sourceSteps, batch, querySteps;
    private bool backwardReady;

    /// <summary>Adds the score parameters (none for <see cref="AttentionKind.Dot"/>), initialised as PyTorch's
    /// <c>nn.Linear</c>: U(-1/√H, 1/√H).</summary>
    /// <param name="kind">The score function.</param>
    /// <param name="hiddenSize">H, the width of queries and keys.</param>
    /// <param name="random">The initialisation source; seed 0 when null.</param>
    /// <param name="parameters">The block to add the parameters to; a new one when null.</param>
    /// <param name="name">The module name used as the parameter-name prefix.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is <see cref="AttentionKind.None"/> or
    /// unknown, or <paramref name="hiddenSize"/> is below 1.</exception>
    public Attention(AttentionKind kind, int hiddenSize, SeededRandom? random = null, ParameterBlock<T>? parameters = null, string name = "attention")
    {
        if (kind is not (AttentionKind.Additive or AttentionKind.Dot or AttentionKind.General))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "An attention layer needs a score: Additive, Dot or General.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        Kind = kind;
        HiddenSize = hiddenSize;
        Parameters = parameters ?? new ParameterBlock<T>();
        random ??= new SeededRandom(0);
        if (kind == AttentionKind.General)
        {
            general = new Linear<T>(hiddenSize, hiddenSize, bias: false, random, Parameters, name + ".attn");
        }
        else if (kind == AttentionKind.Additive)
        {
            queryProjection = new Linear<T>(hiddenSize, hiddenSize, bias: false, random, Parameters, name + ".Wa");
            keyProjection = new Linear<T>(hiddenSize, hiddenSize, bias: false, random, Parameters, name + ".Ua");
            scoreVector = new Linear<T>(hiddenSize, 1, bias: false, random, Parameters, name + ".Va");
        }
    }

    /// <summary>The score function.</summary>
    public AttentionKind Kind { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>The block holding the score parameters.</summary>
    public ParameterBlock<T> Parameters { get; }

    /// <summary>
    /// Sets the keys (the encoder outputs) and their lengths for the next <see cref="Forward"/> calls, and projects them
    /// once (W k for general, U_a k for additive) over all S·B rows. The tensor is kept by reference: do not change it
    /// before the last <see cref="Backward"/> that uses it.
    /// </summary>
    /// <param name="keys">k, [S, B, H]; rows of padded steps (s ≥ n_b) change no result (they must be finite).</param>
    /// <param name="sourceLengths">n_b for each of the B sequences, in [1, S].</param>
    /// <exception cref="ArgumentException">The keys are not [S, B, H] with H = <see cref="HiddenSize"/>, the lengths are
    /// not B, or a length is outside [1, S].</exception>
    public void SetKeys(Tensor<T> keys, ReadOnlySpan<int> sourceLengths)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Rank != 3 || keys.Size(2) != HiddenSize)
        {
            throw new ArgumentException($"keys has shape {Tensor<T>.FormatShape(keys.Shape)} but the attention expects [S, B, {HiddenSize}] (hiddenSize).", nameof(keys));
        }

        int s = keys.Size(0), b = keys.Size(1);
        if (sourceLengths.Length != b)
        {
            throw new ArgumentException($"sourceLengths has {sourceLengths.Length} entries but keys {Tensor<T>.FormatShape(keys.Shape)} has {b} sequences.", nameof(sourceLengths));
        }

        for (int i = 0; i < b; i++)
        {
            if (sourceLengths[i] < 1 || sourceLengths[i] > s)
            {
                throw new ArgumentException($"sourceLengths[{i}] is {sourceLengths[i]}, outside [1, {s}] (the keys' steps).", nameof(sourceLengths));
            }
        }

        backwardReady = false;
        this.keys = keys;
        sourceSteps = s;
        batch = b;
        Buffers.Grow(ref lengths, b);
        sourceLengths.CopyTo(lengths);
        int rows = s * b, h = HiddenSize;
        if (Kind != AttentionKind.Dot)
        {
            Buffers.Grow(ref projectedKeys, rows * h);
            (general ?? keyProjection)!.Forward(keys.AsSpan(), rows, projectedKeys.AsSpan(0, rows * h));
        }
    }

    /// <summary>
    /// The scores, the masked softmax and the context of every query against the keys of <see cref="SetKeys"/>. Keeps
    /// the activations for <see cref="Backward"/>.
    /// </summary>
    /// <param name="queries">q, [U, B, H] (the decoder's outputs).</param>
    /// <param name="context">Receives c, [U, B, H].</param>
    /// <param name="weights">Receives α, [U, B, S]; zero at padded source steps. Kept by reference for
    /// <see cref="Backward"/>.</param>
    /// <exception cref="InvalidOperationException">No keys are set.</exception>
    /// <exception cref="ArgumentException">A shape disagrees; the message names both.</exception>
    public void Forward(Tensor<T> queries, Tensor<T> context, Tensor<T> weights)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(weights);
        var k = keys ?? throw new InvalidOperationException("Call SetKeys before Forward.");
        int h = HiddenSize, b = batch, s = sourceSteps;
        CheckShape(queries, -1, b, h, nameof(queries));
        int u = queries.Size(0);
        CheckShape(context, u, b, h, nameof(context));
        CheckShape(weights, u, b, s, nameof(weights));
        backwardReady = false;
        this.queries = queries;
        this.weights = weights;
        querySteps = u;
        ReadOnlySpan<T> q = queries.AsSpan();
        Span<T> alpha = weights.AsSpan();
        alpha.Clear();
        if (Kind == AttentionKind.Additive)
        {
            AdditiveScores(q, u);
        }
        else
        {
            // e_b [U, n_b] = Q_b · K'_bᵀ, K' = K (dot) or K Wᵀ (general), read in place with leading dimensions B·H and B·S.
            ReadOnlySpan<T> kk = Kind == AttentionKind.Dot ? k.AsSpan() : projectedKeys;
            for (int i = 0; i < b; i++)
            {
                Gemm.Compute(false, true, u, lengths[i], h, q[(i * h)..], b * h, kk[(i * h)..], b * h, alpha[(i * s)..], b * s, accumulate: false);
            }
        }

        // Softmax over the n_b real steps; padded steps stay 0.
        for (int r = 0; r < u * b; r++)
        {
            var row = alpha.Slice(r * s, lengths[r % b]);
            Softmax.Row<T>(row, row);
        }

        // c_b [U, H] = α_b [U, n_b] · K_b [n_b, H].
        Span<T> c = context.AsSpan();
        for (int i = 0; i < b; i++)
        {
            Gemm.Compute(false, false, u, h, lengths[i], alpha[(i * s)..], b * s, k.AsSpan()[(i * h)..], b * h, c[(i * h)..], b * h, accumulate: false);
        }

        backwardReady = true;
    }

    /// <summary>
    /// Backpropagates dL/dc of the last <see cref="Forward"/>: adds dL/dq to <paramref name="dQueries"/>, dL/dk to
    /// <paramref name="dKeys"/> (nothing at padded steps) and the score parameters' gradients to
    /// <see cref="Parameters"/>.
    /// </summary>
    /// <param name="dContext">dL/dc, [U, B, H].</param>
    /// <param name="dQueries">Accumulates dL/dq, [U, B, H].</param>
    /// <param name="dKeys">Accumulates dL/dk, [S, B, H].</param>
    /// <exception cref="InvalidOperationException">No forward pass is waiting (<see cref="SetKeys"/> clears it).</exception>
    /// <exception cref="ArgumentException">A shape disagrees with the last forward.</exception>
    /// <remarks>dα = dc kᵀ; de = α ⊙ (dα − Σ_s α dα) over the real steps; then each score's chain rule.</remarks>
    public void Backward(Tensor<T> dContext, Tensor<T> dQueries, Tensor<T> dKeys)
    {
        ArgumentNullException.ThrowIfNull(dContext);
        ArgumentNullException.ThrowIfNull(dQueries);
        ArgumentNullException.ThrowIfNull(dKeys);
        if (!backwardReady)
        {
            throw new InvalidOperationException("Attention.Backward needs a Forward first (SetKeys discards it).");
        }

        int h = HiddenSize, b = batch, s = sourceSteps, u = querySteps;
        CheckShape(dContext, u, b, h, nameof(dContext));
        CheckShape(dQueries, u, b, h, nameof(dQueries));
        CheckShape(dKeys, s, b, h, nameof(dKeys));
        backwardReady = false;
        ReadOnlySpan<T> alpha = weights!.AsSpan(), q = queries!.AsSpan(), k = keys!.AsSpan(), dc = dContext.AsSpan();
        Span<T> dq = dQueries.AsSpan(), dk = dKeys.AsSpan();
        int scoreCount = u * b * s;
        Buffers.Grow(ref scratch, scoreCount);
        Span<T> de = scratch.AsSpan(0, scoreCount);
        de.Clear();
        for (int i = 0; i < b; i++)
        {
            int n = lengths[i];

            // dα_b [U, n_b] = dc_b · K_bᵀ; dK_b += α_bᵀ · dc_b (the context's direct path).
            Gemm.Compute(false, true, u, n, h, dc[(i * h)..], b * h, k[(i * h)..], b * h, de[(i * s)..], b * s, accumulate: false);
            Gemm.Compute(true, false, n, h, u, alpha[(i * s)..], b * s, dc[(i * h)..], b * h, dk[(i * h)..], b * h, accumulate: true);
        }

        // Softmax backward per row over its real steps.
        for (int r = 0; r < u * b; r++)
        {
            int n = lengths[r % b];
            var a = alpha.Slice(r * s, n);
            var d = de.Slice(r * s, n);
            T dot = Reductions.Dot<T>(a, d);
            TP.Subtract(d, dot, d);
            TP.Multiply(d, a, d);
        }

        if (Kind == AttentionKind.Additive)
        {
            AdditiveBackward(de, q, k, dq, dk);
            return;
        }

        // de_b [U, n_b]: dQ_b += de_b · K'_b; dK'_b = de_bᵀ · Q_b (into dK directly for dot).
        ReadOnlySpan<T> kk = Kind == AttentionKind.Dot ? k : projectedKeys;
        int rows = s * b;
        if (Kind == AttentionKind.General)
        {
            Buffers.Grow(ref dProjectedKeys, rows * h);
            dProjectedKeys.AsSpan(0, rows * h).Clear();
        }

        Span<T> dkk = Kind == AttentionKind.Dot ? dk : dProjectedKeys.AsSpan(0, rows * h);
        for (int i = 0; i < b; i++)
        {
            int n = lengths[i];
            Gemm.Compute(false, false, u, h, n, de[(i * s)..], b * s, kk[(i * h)..], b * h, dq[(i * h)..], b * h, accumulate: true);
            Gemm.Compute(true, false, n, h, u, de[(i * s)..], b * s, q[(i * h)..], b * h, dkk[(i * h)..], b * h, accumulate: true);
        }

        if (Kind == AttentionKind.General)
        {
            // K' = K Wᵀ: dW += dK'ᵀ K, dK += dK' W.
            AddThroughLinear(general!, k, dkk, rows, dk);
        }
    }

    // e(u, b, s) = vᵀ tanh(W_a q(u, b) + U_a k(s, b)); tanh kept in `hidden` [U, B, S, H] (zero rows at padded steps).
    private void AdditiveScores(ReadOnlySpan<T> q, int u)
    {
        int h = HiddenSize, b = batch, s = sourceSteps, queryRows = u * b, scoreRows = queryRows * s;
        Buffers.Grow(ref projectedQueries, queryRows * h);
        Buffers.Grow(ref hidden, scoreRows * h);
        queryProjection!.Forward(q, queryRows, projectedQueries.AsSpan(0, queryRows * h));
        Span<T> a = hidden.AsSpan(0, scoreRows * h);
        a.Clear();
        for (int r = 0; r < queryRows; r++)
        {
            int i = r % b;
            ReadOnlySpan<T> pq = projectedQueries.AsSpan(r * h, h);
            for (int t = 0; t < lengths[i]; t++)
            {
                var row = a.Slice((r * s + t) * h, h);
                TP.Add(pq, projectedKeys.AsSpan((t * b + i) * h, h), row);
                VectorMath.Tanh<T>(row, row);
            }
        }

        // e [U·B·S, 1] = tanh(...) · vᵀ, one GEMM over every (u, b, s); its [U, B, S] layout is α's.
        scoreVector!.Forward(a, scoreRows, weights!.AsSpan());
    }

    private void AdditiveBackward(ReadOnlySpan<T> de, ReadOnlySpan<T> q, ReadOnlySpan<T> k, Span<T> dq, Span<T> dk)
    {
        int h = HiddenSize, b = batch, s = sourceSteps, u = querySteps, queryRows = u * b, scoreRows = queryRows * s, keyRows = s * b;
        Buffers.Grow(ref dHidden, scoreRows * h);
        Buffers.Grow(ref dProjectedQueries, queryRows * h);
        Buffers.Grow(ref dProjectedKeys, keyRows * h);
        ReadOnlySpan<T> a = hidden.AsSpan(0, scoreRows * h);
        Span<T> da = dHidden.AsSpan(0, scoreRows * h);

        // dv += deᵀ tanh(...); d tanh = de vᵀ; d pre = d tanh (1 - tanh²) (zero at padded steps: de is zero there).
        scoreVector!.Backward(a, de[..scoreRows], scoreRows, da);
        Elementwise.TanhBackward<T>(a, da, da);

        // d(W_a q)(u, b) = Σ_s d pre(u, b, s); d(U_a k)(s, b) = Σ_u d pre(u, b, s).
        Span<T> dpq = dProjectedQueries.AsSpan(0, queryRows * h), dpk = dProjectedKeys.AsSpan(0, keyRows * h);
        dpq.Clear();
        dpk.Clear();
        for (int r = 0; r < queryRows; r++)
        {
            int i = r % b, n = lengths[i];
            Elementwise.AddColumnSums<T>(da.Slice(r * s * h, n * h), n, h, dpq.Slice(r * h, h));
            for (int t = 0; t < n; t++)
            {
                var target = dpk.Slice((t * b + i) * h, h);
                TP.Add(target, da.Slice((r * s + t) * h, h), target);
            }
        }

        AddThroughLinear(queryProjection!, q, dpq, queryRows, dq);
        AddThroughLinear(keyProjection!, k, dpk, keyRows, dk);
    }

    // y = x Wᵀ: adds dyᵀ x to dW and dy W to dx (through the scratch buffer, as Linear.Backward overwrites its dInput).
    private void AddThroughLinear(Linear<T> layer, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, int rows, Span<T> dx)
    {
        int count = rows * HiddenSize;
        Buffers.Grow(ref scratch, count);
        Span<T> temporary = scratch.AsSpan(0, count);
        layer.Backward(x[..count], dy[..count], rows, temporary);
        TP.Add(dx[..count], temporary, dx[..count]);
    }

    private static void CheckShape(Tensor<T> tensor, int steps, int batch, int width, string name)
    {
        if (tensor.Rank != 3 || (steps >= 0 && tensor.Size(0) != steps) || tensor.Size(1) != batch || tensor.Size(2) != width)
        {
            string expected = $"[{(steps >= 0 ? steps.ToString(System.Globalization.CultureInfo.InvariantCulture) : "U")}, {batch}, {width}]";
            throw new ArgumentException($"{name} has shape {Tensor<T>.FormatShape(tensor.Shape)} but the attention expects {expected}.", name);
        }
    }
}
