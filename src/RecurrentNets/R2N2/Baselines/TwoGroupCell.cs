using RecurrentNets.Cells;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.R2N2.Baselines;

/// <summary>
/// The R2N2 consolidator's leap-frog step (Cheng and Brown 2025) as a cell of the BPTT engine, so the same two-group
/// network can be trained by exact backpropagation through time with stored activations.
/// </summary>
/// <remarks>
/// <para>Hidden state h = [a; b] (H = 2n): a_t = c·a + d·(W_BA·tanh(b) + W_in·x), b_t = c·b + d·W_AB·tanh(a_t).</para>
/// <para>Layout in the engine's parameters: <c>weight_ih</c> [2n, n_x] holds W_in in rows 0 … n−1 (rows n … 2n−1 are unused
/// and get no gradient); <c>weight_hh</c> [2n, 2n] holds W_BA in the block [0:n, n:2n] and W_AB in [n:2n, 0:n] (the diagonal
/// blocks are unused and get no gradient). No biases.</para>
/// </remarks>
public sealed class TwoGroupCell : RecurrentCell<double>
{
    private readonly int n;
    private readonly double c, d;

    /// <summary>Adds the cell's parameters.</summary>
    /// <param name="block">The parameter block.</param>
    /// <param name="inputSize">n_x.</param>
    /// <param name="groupSize">n (H = 2n).</param>
    /// <param name="tau">τ.</param>
    /// <param name="nameSuffix">The engine's name suffix.</param>
    public TwoGroupCell(ParameterBlock<double> block, int inputSize, int groupSize, double tau, string nameSuffix)
        : base(block, inputSize, 2 * groupSize, gateCount: 1, bias: false, nameSuffix)
    {
        n = groupSize;
        c = 1 - 1 / tau;
        d = 1 / tau;
    }

    /// <inheritdoc/>
    public override bool HasSeparateRecurrentGradient => true;

    /// <summary>Keeps tanh(a_t) and tanh(b_{t−1}) [2n] per row.</summary>
    public override int StepCacheWidth => 2 * n;

    /// <inheritdoc/>
    public override void Forward(in CellStep<double> step)
    {
        int h = 2 * n;
        ReadOnlySpan<double> w = WeightHH!.Values;
        for (int r = 0; r < step.BatchSize; r++)
        {
            var gates = step.Gates.Slice(r * h, h);
            var prev = step.HiddenPrev.Slice(r * h, h);
            var next = step.Hidden.Slice(r * h, h);
            var cache = step.StepCache.Slice(r * h, h);
            Span<double> tanhA = cache[..n], tanhBPrev = cache[n..];
            VectorMath.Tanh<double>(prev[n..], tanhBPrev);

            // a = c·a + d·(W_BA·tanh(b) + W_in·x): W_BA is the block [0:n, n:2n] of weight_hh.
            for (int i = 0; i < n; i++)
            {
                double drive = Reductions.Dot(w.Slice(i * h + n, n), tanhBPrev) + gates[i];
                next[i] = c * prev[i] + d * drive;
            }

            VectorMath.Tanh<double>(next[..n], tanhA);

            // b = c·b + d·W_AB·tanh(a): W_AB is the block [n:2n, 0:n].
            for (int i = 0; i < n; i++)
            {
                next[n + i] = c * prev[n + i] + d * Reductions.Dot(w.Slice((n + i) * h, n), tanhA);
            }
        }
    }

    /// <inheritdoc/>
    public override void Backward(in CellStep<double> step)
    {
        int h = 2 * n;
        ReadOnlySpan<double> w = WeightHH!.Values;
        for (int r = 0; r < step.BatchSize; r++)
        {
            var dh = step.DHidden.Slice(r * h, h);
            var cache = step.StepCache.Slice(r * h, h);
            ReadOnlySpan<double> tanhA = cache[..n], tanhBPrev = cache[n..];
            var gates = step.Gates.Slice(r * h, h);
            var recurrent = step.RecurrentGradient.Slice(r * h, h);
            var dPrev = step.DHiddenPrev.Slice(r * h, h);

            // δb = dL/db_t; δa = dL/da_t + d·W_ABᵀ·δb ⊙ tanh'(a_t).
            Span<double> deltaA = dh[..n], deltaB = dh[n..];
            Span<double> scratch = step.Scratch[..n];
            scratch.Clear();
            for (int i = 0; i < n; i++)
            {
                TP.MultiplyAdd(w.Slice((n + i) * h, n), deltaB[i], scratch, scratch);
            }

            R2N2Kernels.MultiplyTanhDerivative(tanhA, scratch);
            TP.MultiplyAdd(scratch, d, deltaA, deltaA);

            // Pre-activation gradients: the input projection feeds a only.
            TP.Multiply(deltaA, d, gates[..n]);
            gates[n..].Clear();
            TP.Multiply(deltaA, d, recurrent[..n]);
            TP.Multiply(deltaB, d, recurrent[n..]);

            // dL/da_{t−1} = c·δa;  dL/db_{t−1} = c·δb + d·W_BAᵀ·δa ⊙ tanh'(b_{t−1}).
            TP.Multiply(deltaA, c, dPrev[..n]);
            var dbPrev = dPrev[n..];
            dbPrev.Clear();
            for (int i = 0; i < n; i++)
            {
                TP.MultiplyAdd(w.Slice(i * h + n, n), deltaA[i], dbPrev, dbPrev);
            }

            TP.Multiply(dbPrev, d, dbPrev);
            R2N2Kernels.MultiplyTanhDerivative(tanhBPrev, dbPrev);
            TP.MultiplyAdd(deltaB, c, dbPrev, dbPrev);
        }
    }

    /// <summary>dW_BA += Σ (d·δa)ᵀ·tanh(b_{t−1}) and dW_AB += Σ (d·δb)ᵀ·tanh(a_t), over all rows, into their blocks.</summary>
    public override void AccumulateRecurrentGradients(ReadOnlySpan<double> recurrentGradient, ReadOnlySpan<double> hiddenPrev,
        ReadOnlySpan<double> stepCache, int rows)
    {
        int h = 2 * n;
        Span<double> g = WeightHH!.Gradients;
        // Block [0:n, n:2n] += (dδa [rows, n])ᵀ · tanh(b_prev) [rows, n]; both strided by 2n.
        Gemm.Compute(true, false, n, n, rows, recurrentGradient, h, stepCache[n..], h, g[n..], h, accumulate: true);
        // Block [n:2n, 0:n] += (dδb)ᵀ · tanh(a).
        Gemm.Compute(true, false, n, n, rows, recurrentGradient[n..], h, stepCache, h, g[(n * h)..], h, accumulate: true);
    }
}
