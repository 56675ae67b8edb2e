using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Losses;

/// <summary>Which gradient <see cref="CtcLoss{T}"/> writes into dLogProbs.</summary>
public enum CtcGradient
{
    /// <summary>
    /// PyTorch's: (y − γ)·scale with y = exp(logProbs). It is what <c>torch.nn.functional.ctc_loss</c> puts in
    /// <c>log_probs.grad</c>, and it is dL/du exactly when logProbs = log_softmax(u): feed it to the logits directly, or
    /// through a log-softmax backward, which leaves it unchanged (its rows sum to zero when the rows of y sum to one).
    /// It is not the partial derivative with respect to logProbs (that is <see cref="LogProbabilities"/>).
    /// </summary>
    Logits,

    /// <summary>
    /// The partial derivative ∂L/∂logProbs = −γ·scale, what finite differences of the loss in logProbs give; a log-softmax
    /// backward turns it into the same dL/du as <see cref="Logits"/>.
    /// </summary>
    LogProbabilities,
}

/// <summary>
/// Connectionist temporal classification loss (Graves, Fernández, Gomez and Schmidhuber 2006):
/// L_b = −ln p(l_b | x_b), the negative log of the total probability of every frame-level path that collapses to the
/// target l_b (merge repeats, then drop blanks). PyTorch: <c>torch.nn.CTCLoss(blank, reduction, zero_infinity)</c> and
/// <c>torch.nn.functional.ctc_loss</c>, with the same inputs (time-major log-probabilities, padded or concatenated
/// targets, input and target lengths) and the same results.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>; the recursions run in <typeparamref name="T"/>, as
/// PyTorch's do in the input's dtype.</typeparam>
/// <remarks>
/// <para>
/// Legend: T = time steps, B = batch size, C = classes (blank included), S = the longest target, l' = the target with a
/// blank before, between and after its labels (2L + 1 states). Forward and backward in log space:
/// α_t(s) = ln y_t(l'_s) + lse(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) when l'_s ≠ blank and l'_s ≠ l'_{s−2}), the mirror
/// recursion for β, ln p = lse(α_{T−1}(2L), α_{T−1}(2L−1)). The state posteriors give
/// γ_t(c) = Σ_{s: l'_s = c} α_t(s)·β_t(s) / (y_t(c)·p), and the gradient is (y − γ)·scale or −γ·scale
/// (<see cref="CtcGradient"/>), zero on the steps past a sequence's input length.
/// </para>
/// <para>
/// Reductions as PyTorch: <see cref="LossReduction.Mean"/> divides each L_b by max(target length, 1) and takes the mean
/// over the batch (scale = 1/(max(L, 1)·B)); <see cref="LossReduction.Sum"/> sums (scale = 1);
/// <see cref="LossReduction.None"/> writes each L_b into the losses span, returns their sum, and writes the gradient of
/// that sum (PyTorch's <c>reduction='none'</c> with a gradient of one per sequence). A target that no path can produce
/// (longer than its input, counting a blank between repeated labels) has L_b = +∞ and, as in PyTorch, a NaN gradient on
/// its steps; with <see cref="ZeroInfinity"/> its loss and gradient are zero instead.
/// </para>
/// <para>
/// The B sequences run in parallel over the library's threads (at most <see cref="MaxDegreeOfParallelism"/>); each
/// sequence's numbers do not depend on the split, and the reduction adds the B losses in order, so the results are
/// bit-identical for every thread count and vector width. An instance keeps per-thread scratch rows grown on demand,
/// so a call allocates nothing once the instance has seen a batch as large; it is therefore not safe to share between
/// threads.
/// </para>
/// </remarks>
public sealed class CtcLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SequenceJob job;

    /// <summary>Creates the loss.</summary>
    /// <param name="blank">The blank class (PyTorch's <c>blank</c>, default 0).</param>
    /// <param name="reduction">Mean, sum or none (PyTorch's <c>reduction</c>).</param>
    /// <param name="zeroInfinity">Replace infinite losses and their gradients by zero (PyTorch's <c>zero_infinity</c>).</param>
    /// <param name="gradient">Which gradient to write.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blank"/> is negative, or an enum value is undefined.</exception>
    public CtcLoss(int blank = 0, LossReduction reduction = LossReduction.Mean, bool zeroInfinity = false, CtcGradient gradient = CtcGradient.Logits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blank);
        if (!Enum.IsDefined(reduction))
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        }

        if (!Enum.IsDefined(gradient))
        {
            throw new ArgumentOutOfRangeException(nameof(gradient), gradient, "Unknown gradient kind.");
        }

        Blank = blank;
        Reduction = reduction;
        ZeroInfinity = zeroInfinity;
        Gradient = gradient;
        job = new SequenceJob(this);
    }

    /// <summary>The blank class. PyTorch: <c>blank</c>.</summary>
    public int Blank { get; }

    /// <summary>How the per-sequence losses combine. PyTorch: <c>reduction</c>.</summary>
    public LossReduction Reduction { get; }

    /// <summary>Whether infinite losses (and their gradients) become zero. PyTorch: <c>zero_infinity</c>.</summary>
    public bool ZeroInfinity { get; }

    /// <summary>Which gradient is written.</summary>
    public CtcGradient Gradient { get; }

    /// <summary>
    /// The most threads one call may use, the calling thread included; null takes the caller's limit, else the number of
    /// processors. The results are bit-identical for every value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    /// <summary>The loss with padded targets (PyTorch's 2-D <c>targets</c>) and, optionally, its gradient.</summary>
    /// <param name="logProbs">ln y, [T, B, C] time-major, normally log_softmax over C.</param>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="classes">C, the blank included.</param>
    /// <param name="targets">[B, S]: row b holds target b's labels in its first targetLengths[b] entries (each in
    /// [0, C) and not the blank); the rest is padding and is not read.</param>
    /// <param name="maxTargetLength">S, the row length of <paramref name="targets"/>.</param>
    /// <param name="inputLengths">[B], each in [0, T]. PyTorch: <c>input_lengths</c>.</param>
    /// <param name="targetLengths">[B], each in [0, S]. PyTorch: <c>target_lengths</c>.</param>
    /// <param name="dLogProbs">Receives (overwritten) the gradient, [T, B, C] (see <see cref="Gradient"/>); empty for the loss alone.</param>
    /// <param name="losses">Receives each sequence's loss L_b, [B] (after <see cref="ZeroInfinity"/>); may be empty.</param>
    /// <returns>The reduced loss (for <see cref="LossReduction.None"/>, the sum of the B losses).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">A length disagrees with the shapes (the message names the argument and both
    /// shapes), a length is out of range, a label is out of [0, C) or is the blank, or the blank is C or more.</exception>
    public double Compute(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> targets, int maxTargetLength,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, Span<T> dLogProbs, Span<double> losses = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxTargetLength);
        CheckShapes(logProbs, timeSteps, batchSize, classes, inputLengths, targetLengths, dLogProbs, losses);
        if (targets.Length != (long)batchSize * maxTargetLength)
        {
            throw new ArgumentException($"targets has {targets.Length} elements but [{batchSize}, {maxTargetLength}] (batchSize, maxTargetLength) needs {(long)batchSize * maxTargetLength}.", nameof(targets));
        }

        int[] offsets = job.Offsets(batchSize);
        for (int b = 0; b < batchSize; b++)
        {
            if (targetLengths[b] > maxTargetLength)
            {
                throw new ArgumentException($"targetLengths[{b}] is {targetLengths[b]} but the padded targets hold at most {maxTargetLength} labels (maxTargetLength).", nameof(targetLengths));
            }

            offsets[b] = b * maxTargetLength;
        }

        return Run(logProbs, timeSteps, batchSize, classes, targets, inputLengths, targetLengths, dLogProbs, losses);
    }

    /// <summary>The loss with concatenated targets (PyTorch's 1-D <c>targets</c>: target 0, then target 1, ...).</summary>
    /// <param name="logProbs">ln y, [T, B, C] time-major.</param>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="classes">C, the blank included.</param>
    /// <param name="targets">[Σ targetLengths]: the B targets one after another.</param>
    /// <param name="inputLengths">[B], each in [0, T].</param>
    /// <param name="targetLengths">[B], each non-negative.</param>
    /// <param name="dLogProbs">Receives (overwritten) the gradient, [T, B, C]; empty for the loss alone.</param>
    /// <param name="losses">Receives each sequence's loss, [B]; may be empty.</param>
    /// <returns>The reduced loss (for <see cref="LossReduction.None"/>, the sum of the B losses).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">As <see cref="Compute"/>, or the target lengths do not sum to the length of
    /// <paramref name="targets"/>.</exception>
    public double ComputeConcatenated(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> targets,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, Span<T> dLogProbs, Span<double> losses = default)
    {
        CheckShapes(logProbs, timeSteps, batchSize, classes, inputLengths, targetLengths, dLogProbs, losses);
        int[] offsets = job.Offsets(batchSize);
        long total = 0;
        for (int b = 0; b < batchSize; b++)
        {
            offsets[b] = (int)Math.Min(total, int.MaxValue);
            total += targetLengths[b];
        }

        if (total != targets.Length)
        {
            throw new ArgumentException($"targets has {targets.Length} labels but the {batchSize} target lengths sum to {total}.", nameof(targets));
        }

        return Run(logProbs, timeSteps, batchSize, classes, targets, inputLengths, targetLengths, dLogProbs, losses);
    }

    private void CheckShapes(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> inputLengths,
        ReadOnlySpan<int> targetLengths, Span<T> dLogProbs, Span<double> losses)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        long size = (long)timeSteps * batchSize * classes;
        if (logProbs.Length != size)
        {
            throw new ArgumentException($"logProbs has {logProbs.Length} elements but [{timeSteps}, {batchSize}, {classes}] (timeSteps, batchSize, classes) needs {size}.", nameof(logProbs));
        }

        if (!dLogProbs.IsEmpty && dLogProbs.Length != size)
        {
            throw new ArgumentException($"dLogProbs has {dLogProbs.Length} elements but logProbs [{timeSteps}, {batchSize}, {classes}] has {size}.", nameof(dLogProbs));
        }

        if (Blank >= classes)
        {
            throw new ArgumentException($"blank is {Blank} but there are only {classes} classes.", nameof(classes));
        }

        if (inputLengths.Length != batchSize)
        {
            throw new ArgumentException($"inputLengths has {inputLengths.Length} elements but batchSize is {batchSize}.", nameof(inputLengths));
        }

        if (targetLengths.Length != batchSize)
        {
            throw new ArgumentException($"targetLengths has {targetLengths.Length} elements but batchSize is {batchSize}.", nameof(targetLengths));
        }

        if (!losses.IsEmpty && losses.Length != batchSize)
        {
            throw new ArgumentException($"losses has {losses.Length} elements but batchSize is {batchSize}.", nameof(losses));
        }

        for (int b = 0; b < batchSize; b++)
        {
            if ((uint)inputLengths[b] > (uint)timeSteps)
            {
                throw new ArgumentException($"inputLengths[{b}] is {inputLengths[b]}: an input length must lie in [0, {timeSteps}] (timeSteps).", nameof(inputLengths));
            }

            if (targetLengths[b] < 0)
            {
                throw new ArgumentException($"targetLengths[{b}] is {targetLengths[b]}: a target length cannot be negative.", nameof(targetLengths));
            }
        }
    }

    private unsafe double Run(ReadOnlySpan<T> logProbs, int timeSteps, int batchSize, int classes, ReadOnlySpan<int> targets,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, Span<T> dLogProbs, Span<double> losses)
    {
        int[] offsets = job.Offsets(batchSize);
        for (int b = 0; b < batchSize; b++)
        {
            ReadOnlySpan<int> labels = targets.Slice(offsets[b], targetLengths[b]);
            for (int i = 0; i < labels.Length; i++)
            {
                if ((uint)labels[i] >= (uint)classes)
                {
                    throw new ArgumentException($"Label {i} of target {b} is {labels[i]}: a label must lie in [0, {classes}) (classes).", nameof(targets));
                }

                if (labels[i] == Blank)
                {
                    throw new ArgumentException($"Label {i} of target {b} is the blank ({Blank}): the blank cannot be a target label.", nameof(targets));
                }
            }
        }

        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        double[] perSequence = job.Losses(batchSize);
        fixed (T* lp = logProbs)
        fixed (T* grad = dLogProbs)
        fixed (int* tg = targets)
        fixed (int* il = inputLengths)
        fixed (int* tl = targetLengths)
        {
            job.Set(lp, dLogProbs.IsEmpty ? null : grad, tg, targets.Length, il, tl, timeSteps, batchSize, classes);
            int parts = Math.Min(batchSize, WorkerPool.Shared.MaxParts);
            if (parts > 1)
            {
                WorkerPool.Shared.Run(job, parts);
            }
            else
            {
                job.Run(0, 1);
            }

            job.Clear();
        }

        double total = 0;
        for (int b = 0; b < batchSize; b++)
        {
            double loss = perSequence[b];
            if (!losses.IsEmpty)
            {
                losses[b] = loss;
            }

            total += Reduction == LossReduction.Mean ? loss / Math.Max(targetLengths[b], 1) : loss;
        }

        return Reduction == LossReduction.Mean ? total / batchSize : total;
    }

    // The sequences of a batch split over the threads in contiguous runs; each part has its own scratch rows.
    private sealed unsafe class SequenceJob(CtcLoss<T> owner) : IParallelJob
    {
        private CtcWorkspace<T>?[] workspaces = [];
        private int[] offsets = [];
        private double[] losses = [];
        private T* logProbs;
        private T* gradient;
        private int* targets;
        private int targetCount;
        private int* inputLengths;
        private int* targetLengths;
        private int timeSteps, batchSize, classes;

        public int[] Offsets(int count)
        {
            if (offsets.Length < count)
            {
                offsets = new int[count];
            }

            return offsets;
        }

        public double[] Losses(int count)
        {
            if (losses.Length < count)
            {
                losses = new double[count];
            }

            return losses;
        }

        public void Set(T* lp, T* grad, int* tg, int tgCount, int* il, int* tl, int steps, int batch, int classCount)
        {
            logProbs = lp;
            gradient = grad;
            targets = tg;
            targetCount = tgCount;
            inputLengths = il;
            targetLengths = tl;
            timeSteps = steps;
            batchSize = batch;
            classes = classCount;
            int parts = WorkerPool.Shared.WorkerCount + 1;
            if (workspaces.Length < parts)
            {
                workspaces = new CtcWorkspace<T>?[parts];
            }
        }

        public void Clear()
        {
            logProbs = gradient = null;
            targets = inputLengths = targetLengths = null;
        }

        public void Run(int part, int parts)
        {
            var workspace = workspaces[part] ??= new CtcWorkspace<T>();
            int start = (int)((long)batchSize * part / parts), end = (int)((long)batchSize * (part + 1) / parts);
            int stride = batchSize * classes, rows = (timeSteps - 1) * stride + classes;
            var all = new ReadOnlySpan<T>(logProbs, timeSteps * stride);
            var allGradient = gradient is null ? default : new Span<T>(gradient, timeSteps * stride);
            var allTargets = new ReadOnlySpan<int>(targets, targetCount);
            bool mean = owner.Reduction == LossReduction.Mean;
            for (int b = start; b < end; b++)
            {
                int inputLength = inputLengths[b], targetLength = targetLengths[b];
                var labels = allTargets.Slice(offsets[b], targetLength);
                var g = gradient is null ? default : allGradient.Slice(b * classes, rows);
                T scale = T.CreateTruncating(mean ? 1.0 / ((double)Math.Max(targetLength, 1) * batchSize) : 1.0);
                double nll = CtcKernels.ForwardBackward(all.Slice(b * classes, rows), stride, classes, inputLength, labels, owner.Blank,
                    workspace, g, scale, owner.Gradient == CtcGradient.Logits);
                bool zeroed = owner.ZeroInfinity && double.IsPositiveInfinity(nll);
                losses[b] = zeroed ? 0 : nll;
                if (g.IsEmpty)
                {
                    continue;
                }

                // Steps past the input length get zero; an infinite (or NaN) loss a zero or NaN gradient, as PyTorch.
                int from = double.IsFinite(nll) ? inputLength : 0;
                T fill = zeroed ? T.Zero : T.NaN;
                for (int t = from; t < timeSteps; t++)
                {
                    g.Slice(t * stride, classes).Fill(t < inputLength ? fill : T.Zero);
                }
            }
        }
    }
}
