using System.Buffers;
using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Kernels;

namespace RecurrentNets.Reservoirs;

/// <summary>
/// A reservoir: the fixed recurrent part of an echo-state network, one step at a time. Implement it to bring your
/// own update (another topology, another neuron model); <see cref="EchoStateNetwork{T}"/> only needs this.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IReservoir<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of units N.</summary>
    int Units { get; }

    /// <summary>Number of inputs I.</summary>
    int Inputs { get; }

    /// <summary>Number of fed-back outputs O (0 without feedback).</summary>
    int FeedbackSize { get; }

    /// <summary>x(t+1) from x(t) and the drive [u(t+1); y(t)].</summary>
    /// <param name="state">x(t) [N].</param>
    /// <param name="drive">[u(t+1); y(t)] [I + O].</param>
    /// <param name="nextState">x(t+1) [N]; must not overlap <paramref name="state"/>.</param>
    void Step(ReadOnlySpan<T> state, ReadOnlySpan<T> drive, Span<T> nextState);

    /// <summary>One step of B independent streams.</summary>
    /// <param name="states">[B, N].</param>
    /// <param name="drives">[B, I + O].</param>
    /// <param name="batchSize">B.</param>
    /// <param name="nextStates">[B, N]; must not overlap <paramref name="states"/>.</param>
    void StepBatch(ReadOnlySpan<T> states, ReadOnlySpan<T> drives, int batchSize, Span<T> nextStates);
}

/// <summary>
/// The leaky echo-state reservoir on a sparse CSR matrix (Jaeger 2001; Jaeger et al. 2007):
/// x(t+1) = (1 - a)·x(t) + g·f(W·x(t) + Win·u(t+1) + Wfb·y(t) + b).
/// </summary>
/// <remarks>
/// The step is one fused pass of <see cref="SparseKernels.LeakyStep{T}"/>: for each block of rows the sparse row
/// products, the dense drive, the activation and the leak. It allocates nothing. Equivalent plain loop:
/// <code>
/// for i in 0..N: s = b[i] + Σ_j Wd[i,j]·d[j] + Σ_k W[i,k]·x[k]; next[i] = (1 - a)·x[i] + g·f(s)
/// </code>
/// Where the machine has 128-bit (float) or 256-bit (double) vectors and x fits in half an L2 cache, <see cref="Step"/>
/// reads a copy of W made at construction in sliced ELL chunks (rows side by side, one vector lane per row; Kreutzer et
/// al. 2014), with the bits of the CSR kernel; it costs as much memory again as W's values and indices (about 10 MB at most with a 1 MB L2:
/// larger reservoirs step row by row). <see cref="Weights"/> is read-only after
/// construction: a change to its arrays would reach <see cref="StepBatch"/> but not <see cref="Step"/>.
/// <see cref="StepBatch"/> reads W once for all B streams: it copies the states into a stream-interleaved [N, B] buffer
/// (rented from the shared array pool, so nothing is allocated once the pool holds it) and does B multiply-adds per
/// nonzero with vector loads over the streams, runs the activation over each block of all streams at once and the leak on
/// the way back to the streams; each stream gets the bits <see cref="Step"/> would give it.
/// The weights are read-only after construction; one instance may step several streams, but <see cref="Step"/> not from
/// several threads at once once it has at least <see cref="ParallelMinNonZeros"/> nonzeros (its row split reuses one job
/// object). <see cref="StepBatch"/> may be called from several threads at once (one caller at a time splits its rows).
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Reservoir<T> : IReservoir<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T decay;
    private readonly T gain;

    // W for Step, in chunks of rows side by side (null where the row-by-row kernel is used); same bits as the CSR kernel.
    private readonly SlicedEllMatrix<T>? sliced;

    /// <summary>Builds a reservoir from your own matrices.</summary>
    /// <param name="weights">W [N, N].</param>
    /// <param name="driveWeights">[Win | Wfb] row-major [N, I + O].</param>
    /// <param name="bias">b [N], or null for none.</param>
    /// <param name="inputs">I.</param>
    /// <param name="feedbackSize">O.</param>
    /// <param name="leakRate">a in (0, 1].</param>
    /// <param name="activationGain">g (null: g = a).</param>
    /// <param name="activation">f.</param>
    /// <exception cref="ArgumentException">A shape does not match.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The leak rate is outside (0, 1].</exception>
    public Reservoir(CsrMatrix<T> weights, T[] driveWeights, T[]? bias, int inputs, int feedbackSize,
        double leakRate = 1.0, double? activationGain = null, Activation activation = Activation.Tanh)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(driveWeights);
        if (weights.Rows != weights.Columns)
        {
            throw new ArgumentException($"W is {weights.Rows} × {weights.Columns}; a reservoir matrix must be square", nameof(weights));
        }

        if (!(leakRate > 0 && leakRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(leakRate), leakRate, "the leak rate must be in (0, 1]");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(inputs);
        ArgumentOutOfRangeException.ThrowIfNegative(feedbackSize);
        int n = weights.Rows;
        if (driveWeights.Length != (long)n * (inputs + feedbackSize))
        {
            throw new ArgumentException(
                $"driveWeights has {driveWeights.Length} elements but [{n}, {inputs} + {feedbackSize}] (units, inputs + feedbackSize) needs {(long)n * (inputs + feedbackSize)}",
                nameof(driveWeights));
        }

        if (bias is not null && bias.Length != n)
        {
            throw new ArgumentException($"bias has {bias.Length} elements but the reservoir has {n} units", nameof(bias));
        }

        Weights = weights;
        DriveWeights = driveWeights;
        Bias = bias ?? [];
        Inputs = inputs;
        FeedbackSize = feedbackSize;
        LeakRate = leakRate;
        ActivationGain = activationGain ?? leakRate;
        Activation = activation;
        decay = T.CreateTruncating(1 - leakRate);
        gain = T.CreateTruncating(ActivationGain);
        batchJob = new BatchJob(this);
        int lanes = SparseKernels.SlicedLanes<T>(n);
        sliced = lanes > 0 ? SlicedEllMatrix<T>.FromCsr(n, weights.RowPointers, weights.ColumnIndices, weights.Values, lanes) : null;
    }

    /// <summary>W [N, N] in CSR form.</summary>
    public CsrMatrix<T> Weights { get; }

    /// <summary>[Win | Wfb] row-major [N, I + O].</summary>
    public T[] DriveWeights { get; }

    /// <summary>b [N] (empty when there is no bias).</summary>
    public T[] Bias { get; }

    /// <inheritdoc/>
    public int Units => Weights.Rows;

    /// <inheritdoc/>
    public int Inputs { get; }

    /// <inheritdoc/>
    public int FeedbackSize { get; }

    /// <summary>The leak rate a.</summary>
    public double LeakRate { get; }

    /// <summary>The weight g of f(·).</summary>
    public double ActivationGain { get; }

    /// <summary>The activation f.</summary>
    public Activation Activation { get; }

    /// <summary>The spectral radius W was scaled to (NaN when it was not rescaled).</summary>
    public double SpectralRadius { get; private init; } = double.NaN;

    /// <summary>Draws a reservoir from options: W (CSR, never dense), Win, Wfb and b, all from <see cref="ReservoirOptions.Seed"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it).</exception>
    /// <exception cref="SpectralRadiusConvergenceException">ρ(W) could not be computed.</exception>
    public static Reservoir<T> Create(ReservoirOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var scope = KernelScope.Enter(options.MaxDegreeOfParallelism);
        int n = options.Units;
        var random = new SeededRandom(options.Seed);
        var wRandom = random.Fork();
        var inRandom = random.Fork();
        var fbRandom = random.Fork();
        var biasRandom = random.Fork();

        var recurrent = options.Recurrent ?? new SparseRandomInitializer
        {
            Connectivity = options.Connectivity,
            Degree = options.Degree,
            Distribution = options.RecurrentDistribution,
        };
        var w = recurrent.Create(n, n, wRandom);
        double scaledTo = double.NaN;
        if (options.SpectralRadius is double target)
        {
            double rho = Reservoirs.SpectralRadius.Compute(w, options.SpectralRadiusMethod);
            if (rho == 0)
            {
                throw new SpectralRadiusConvergenceException("W has spectral radius 0 (nilpotent or empty): it cannot be scaled to " + target);
            }

            w.Scale(target / rho);
            scaledTo = target;
        }

        int inputs = options.Inputs, fb = options.FeedbackSize, d = inputs + fb;
        var drive = new T[(long)n * d];
        if (inputs > 0)
        {
            var win = (options.Input ?? new SparseRandomInitializer
            {
                Connectivity = options.InputConnectivity,
                Distribution = options.InputDistribution,
            }).Create(n, inputs, inRandom).ToDense();
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < inputs; j++)
                {
                    double s = options.Input is not null ? 1 : options.InputScalings?[j] ?? options.InputScaling;
                    drive[i * d + j] = T.CreateTruncating(s * win[i * inputs + j]);
                }
            }
        }

        if (fb > 0)
        {
            var wfb = (options.Feedback ?? new SparseRandomInitializer
            {
                Connectivity = options.FeedbackConnectivity,
                Distribution = options.FeedbackDistribution,
            }).Create(n, fb, fbRandom).ToDense();
            double s = options.Feedback is not null ? 1 : options.FeedbackScaling;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < fb; j++)
                {
                    drive[i * d + inputs + j] = T.CreateTruncating(s * wfb[i * fb + j]);
                }
            }
        }

        T[]? bias = null;
        if (options.BiasScaling > 0)
        {
            bias = new T[n];
            for (int i = 0; i < n; i++)
            {
                bias[i] = T.CreateTruncating(biasRandom.NextUniform(-options.BiasScaling, options.BiasScaling));
            }
        }

        var wt = typeof(T) == typeof(double) ? (CsrMatrix<T>)(object)w : w.Convert<T>();
        return new Reservoir<T>(wt, drive, bias, inputs, fb, options.LeakRate, options.ActivationGain, options.Activation)
        {
            SpectralRadius = scaledTo,
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
        };
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A length does not match.</exception>
    public void Step(ReadOnlySpan<T> state, ReadOnlySpan<T> drive, Span<T> nextState)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        int n = Units;
        if (state.Length != n || nextState.Length != n)
        {
            throw new ArgumentException($"state has {state.Length} and nextState {nextState.Length} elements but the reservoir has {n} units", nameof(state));
        }

        if (drive.Length != Inputs + FeedbackSize)
        {
            throw new ArgumentException($"drive has {drive.Length} elements but the reservoir expects {Inputs} inputs + {FeedbackSize} fed-back outputs", nameof(drive));
        }

        if (Weights.NonZeros < ParallelMinNonZeros || WorkerPool.Shared.MaxParts < 2)
        {
            StepRows(state, drive, nextState, 0, n);
            return;
        }

        // Large reservoirs: rows split over the persistent workers (no allocation; same result for any split).
        unsafe
        {
            fixed (T* xp = state)
            fixed (T* dp = drive)
            fixed (T* np = nextState)
            {
                stepJob ??= new StepJob(this);
                stepJob.Set(xp, dp, drive.Length, np);
                WorkerPool.Shared.Run(stepJob, WorkerPool.Shared.MaxParts);
            }
        }
    }

    private void StepRows(ReadOnlySpan<T> state, ReadOnlySpan<T> drive, Span<T> nextState, int start, int end)
    {
        if (sliced is not null)
        {
            SparseKernels.LeakyStepRows(sliced, state, DriveWeights, drive, Bias, decay, gain, Activation, nextState, start, end);
        }
        else
        {
            SparseKernels.LeakyStepRows<T>(Weights.RowPointers, Weights.ColumnIndices, Weights.Values, state, DriveWeights, drive, Bias,
                decay, gain, Activation, nextState, start, end);
        }
    }

    /// <summary>Reservoirs with at least this many nonzeros (nonzeros × streams for <see cref="StepBatch"/>) split each
    /// step over the kernel threads (see <see cref="MaxDegreeOfParallelism"/>); results are identical either
    /// way.</summary>
    public int ParallelMinNonZeros { get; set; } = 200_000;

    /// <summary>
    /// The most threads one <see cref="Step"/> or <see cref="StepBatch"/> may use, the calling thread included; null takes
    /// the limit of the caller (an <see cref="EchoStateNetwork{T}"/>), else the number of processors. Set from
    /// <see cref="ReservoirOptions.MaxDegreeOfParallelism"/> by <see cref="Create"/>. The states are bit-identical for
    /// every value.
    /// PyTorch's <c>torch.set_num_threads</c> sets one limit for the process; this one is the object's, as ONNX Runtime's
    /// <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = KernelScope.Validate(value); }

    private StepJob? stepJob;

    private sealed unsafe class StepJob(Reservoir<T> owner) : IParallelJob
    {
        private T* state;
        private T* drive;
        private int driveLength;
        private T* next;

        public void Set(T* x, T* d, int dl, T* nx)
        {
            state = x;
            drive = d;
            driveLength = dl;
            next = nx;
        }

        public void Run(int part, int parts)
        {
            int n = owner.Units;
            int start = SplitRow(n, part, parts), end = SplitRow(n, part + 1, parts);
            owner.StepRows(new ReadOnlySpan<T>(state, n), new ReadOnlySpan<T>(drive, driveLength), new Span<T>(next, n), start, end);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A length does not match.</exception>
    public void StepBatch(ReadOnlySpan<T> states, ReadOnlySpan<T> drives, int batchSize, Span<T> nextStates)
    {
        using var scope = KernelScope.Enter(MaxDegreeOfParallelism);
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        long n = (long)batchSize * Units;
        if (states.Length != n || nextStates.Length != n)
        {
            throw new ArgumentException($"states has {states.Length} and nextStates {nextStates.Length} elements but [{batchSize}, {Units}] (batchSize, units) needs {n}", nameof(states));
        }

        if (drives.Length != (long)batchSize * (Inputs + FeedbackSize))
        {
            throw new ArgumentException($"drives has {drives.Length} elements but [{batchSize}, {Inputs + FeedbackSize}] (batchSize, inputs + feedbackSize) needs {batchSize * (Inputs + FeedbackSize)}", nameof(drives));
        }

        // One stream, or too little work to split: the kernel's own serial pass. Otherwise the rows are split over the
        // workers as in Step; the job object is taken for the call, so a second thread meanwhile runs serially.
        BatchJob? job = batchSize > 1 && (long)Weights.NonZeros * batchSize >= ParallelMinNonZeros && WorkerPool.Shared.MaxParts >= 2
            ? Interlocked.Exchange(ref batchJob, null)
            : null;
        if (job is null)
        {
            SparseKernels.LeakyStepBatch<T>(Weights.RowPointers, Weights.ColumnIndices, Weights.Values, states, DriveWeights, drives, Bias,
                decay, gain, Activation, batchSize, nextStates);
            return;
        }

        int units = Units, d = Inputs + FeedbackSize, stride = SparseKernels.BatchStride<T>(batchSize), parts = WorkerPool.Shared.MaxParts;
        T[] workspace = ArrayPool<T>.Shared.Rent(SparseKernels.BatchWorkspaceLength<T>(units, d, batchSize, parts));
        try
        {
            unsafe
            {
                fixed (T* xs = states)
                fixed (T* dr = drives)
                fixed (T* ws = workspace)
                fixed (T* next = nextStates)
                {
                    T* xT = SparseKernels.AlignWorkspace(ws), dT = xT + ((long)units * stride);
                    SparseKernels.InterleaveDrives(dr, d, batchSize, stride, dT);
                    job.Set(xs, xT, dT, dT + ((long)d * stride), batchSize, stride, next);
                    // Every row of xT is needed before any row of W is: interleave, then step (one tile per part).
                    job.Interleaving = true;
                    WorkerPool.Shared.Run(job, parts);
                    job.Interleaving = false;
                    WorkerPool.Shared.Run(job, parts);
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(workspace);
            Volatile.Write(ref batchJob, job);
        }
    }

    /// <summary>
    /// The first row of part <paramref name="part"/> of <paramref name="parts"/>: a multiple of the kernels' block of rows,
    /// so every split runs the activation over the same spans as one thread and gives the same bits.
    /// </summary>
    private static int SplitRow(int n, int part, int parts)
    {
        if (part >= parts)
        {
            return n;
        }

        int a = SparseKernels.RowBlockAlignment;
        return (int)((long)n * part / parts) / a * a;
    }

    private BatchJob? batchJob;

    private sealed unsafe class BatchJob(Reservoir<T> owner) : IParallelJob
    {
        private T* states;
        private T* xT;
        private T* dT;
        private T* tiles;
        private int batchSize;
        private int stride;
        private T* next;

        public bool Interleaving { get; set; }

        public void Set(T* xs, T* interleaved, T* drivesInterleaved, T* tileBase, int batch, int rowStride, T* nx)
        {
            states = xs;
            xT = interleaved;
            dT = drivesInterleaved;
            tiles = tileBase;
            batchSize = batch;
            stride = rowStride;
            next = nx;
        }

        public void Run(int part, int parts)
        {
            var w = owner.Weights;
            int n = w.Rows, start = SplitRow(n, part, parts), end = SplitRow(n, part + 1, parts);
            if (Interleaving)
            {
                SparseKernels.InterleaveStates(states, n, batchSize, stride, xT, start, end);
                return;
            }

            fixed (int* ptr = w.RowPointers)
            fixed (int* idx = w.ColumnIndices)
            fixed (T* val = w.Values)
            fixed (T* wd = owner.DriveWeights)
            fixed (T* bp = owner.Bias)
            {
                SparseKernels.LeakyStepBatchRows(ptr, idx, val, states, xT, wd, dT, owner.Inputs + owner.FeedbackSize, bp, owner.decay, owner.gain,
                    owner.Activation, n, batchSize, stride, tiles + ((long)part * SparseKernels.BatchTileLength<T>(batchSize)), next, start, end);
            }
        }
    }
}
