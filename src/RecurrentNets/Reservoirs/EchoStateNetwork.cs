using System.Numerics;

namespace RecurrentNets.Reservoirs;

/// <summary>Which parts of [u; x] the readout sees (its intercept is the readout's own option).</summary>
[Flags]
public enum ReadoutFeatures
{
    /// <summary>The reservoir state x(t).</summary>
    State = 1,

    /// <summary>The current input u(t).</summary>
    Input = 2,

    /// <summary>Both: z = [u(t); x(t)].</summary>
    InputAndState = State | Input,
}

/// <summary>The running state of an echo-state network: x(t), the last input u(t) and the last output y(t).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class EsnState<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A zero state.</summary>
    public EsnState(int units, int inputs, int outputs)
    {
        Reservoir = new T[units];
        Input = new T[inputs];
        Output = new T[outputs];
    }

    /// <summary>x(t) [N].</summary>
    public T[] Reservoir { get; private set; }

    /// <summary>u(t) [I].</summary>
    public T[] Input { get; }

    /// <summary>y(t) [O]: the teacher during forcing, the network's own output when running free.</summary>
    public T[] Output { get; }

    /// <summary>A deep copy (to fork free runs from one point).</summary>
    public EsnState<T> Clone()
    {
        var c = new EsnState<T>(Reservoir.Length, Input.Length, Output.Length);
        Reservoir.CopyTo(c.Reservoir, 0);
        Input.CopyTo(c.Input, 0);
        Output.CopyTo(c.Output, 0);
        return c;
    }

    /// <summary>Copies another state of the same shape into this one.</summary>
    public void CopyFrom(EsnState<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        other.Reservoir.CopyTo(Reservoir, 0);
        other.Input.CopyTo(Input, 0);
        other.Output.CopyTo(Output, 0);
    }

    internal void SwapReservoir(ref T[] next)
    {
        (Reservoir, next) = (next, Reservoir);
    }
}

/// <summary>
/// An echo-state network (Jaeger 2001): a fixed <see cref="IReservoir{T}"/> and a trained <see cref="IReadout{T}"/>,
/// y(t) = W_out·z(t) with z = [u(t); x(t)] (see <see cref="ReadoutFeatures"/>). Teacher-forced training with washout,
/// driven runs and closed-loop (generative, free-running) prediction. Every run allocates nothing per step.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class EchoStateNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] drive;
    private readonly T[] features;
    private readonly T[] output;
    private T[] next;

    /// <summary>Assembles a network from its pieces.</summary>
    /// <param name="reservoir">The reservoir.</param>
    /// <param name="readout">The readout; its feature count must match <paramref name="readoutFeatures"/>.</param>
    /// <param name="readoutFeatures">What the readout sees.</param>
    /// <exception cref="ArgumentException">The readout's shape does not match the reservoir.</exception>
    public EchoStateNetwork(IReservoir<T> reservoir, IReadout<T> readout, ReadoutFeatures readoutFeatures = ReadoutFeatures.State)
    {
        ArgumentNullException.ThrowIfNull(reservoir);
        ArgumentNullException.ThrowIfNull(readout);
        Reservoir = reservoir;
        Readout = readout;
        ReadoutFeatures = readoutFeatures;
        int f = FeatureCount(reservoir, readoutFeatures);
        if (readout.Features != f)
        {
            throw new ArgumentException($"the readout expects {readout.Features} features but {readoutFeatures} gives {f}", nameof(readout));
        }

        if (reservoir.FeedbackSize != 0 && reservoir.FeedbackSize != readout.Outputs)
        {
            throw new ArgumentException($"the reservoir feeds back {reservoir.FeedbackSize} outputs but the readout has {readout.Outputs}", nameof(readout));
        }

        drive = new T[reservoir.Inputs + reservoir.FeedbackSize];
        features = new T[f];
        output = new T[readout.Outputs];
        next = new T[reservoir.Units];
    }

    /// <summary>The reservoir.</summary>
    public IReservoir<T> Reservoir { get; }

    /// <summary>The readout.</summary>
    public IReadout<T> Readout { get; }

    /// <summary>What the readout sees.</summary>
    public ReadoutFeatures ReadoutFeatures { get; }

    /// <summary>Inputs I.</summary>
    public int Inputs => Reservoir.Inputs;

    /// <summary>Outputs O.</summary>
    public int Outputs => Readout.Outputs;

    /// <summary>
    /// The most threads one call (<see cref="Train"/>, <see cref="Force"/>, <see cref="Run"/>, <see cref="Generate"/>) may
    /// use for the reservoir's steps and the readout's fit, the calling thread included; null (the default) takes the
    /// limit of the caller, else the number of processors. A reservoir with its own
    /// <see cref="Reservoir{T}.MaxDegreeOfParallelism"/> keeps it for its steps. Results are bit-identical for every value.
    /// PyTorch's <c>torch.set_num_threads</c> sets one limit for the process; this one is the network's, as ONNX
    /// Runtime's <c>intra_op_num_threads</c> is a session's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int? MaxDegreeOfParallelism { get; set => field = Kernels.KernelScope.Validate(value); }

    /// <summary>The number of readout features for a reservoir and a choice of features.</summary>
    public static int FeatureCount(IReservoir<T> reservoir, ReadoutFeatures readoutFeatures)
    {
        ArgumentNullException.ThrowIfNull(reservoir);
        return ((readoutFeatures & ReadoutFeatures.State) != 0 ? reservoir.Units : 0)
            + ((readoutFeatures & ReadoutFeatures.Input) != 0 ? reservoir.Inputs : 0);
    }

    /// <summary>A zero state.</summary>
    public EsnState<T> CreateState() => new(Reservoir.Units, Reservoir.Inputs, Readout.Outputs);

    /// <summary>
    /// Teacher-forced training: drives the reservoir with the inputs, feeds the teacher back as y(t), and after the
    /// washout gives every (z(t), d(t)) to the readout (accumulated for an offline readout, which is then fitted;
    /// one update per step for an online one).
    /// </summary>
    /// <param name="state">The state to start from; it is advanced.</param>
    /// <param name="inputs">u [T, I].</param>
    /// <param name="targets">d [T, O].</param>
    /// <param name="washout">Initial steps not used for training, in [0, T).</param>
    /// <param name="fit">Call Fit() on an offline readout at the end (false to accumulate several sequences).</param>
    /// <exception cref="ArgumentOutOfRangeException">The washout is negative or not shorter than the data.</exception>
    /// <exception cref="ArgumentException">A length does not match.</exception>
    public void Train(EsnState<T> state, ReadOnlySpan<T> inputs, ReadOnlySpan<T> targets, int washout, bool fit = true)
    {
        using var scope = Kernels.KernelScope.Enter(MaxDegreeOfParallelism);
        int steps = CheckSequence(state, inputs, targets);
        if (washout < 0 || washout >= steps)
        {
            throw new ArgumentOutOfRangeException(nameof(washout), washout, $"the washout must be in [0, {steps}) (the number of time steps)");
        }

        int i = Inputs, o = Outputs;
        var online = Readout as IOnlineReadout<T>;
        var offline = Readout as IOfflineReadout<T>;
        if (online is null && offline is null)
        {
            throw new InvalidOperationException("the readout is neither an offline nor an online readout: it cannot be trained here");
        }

        for (int t = 0; t < steps; t++)
        {
            StepDriven(state, inputs.Slice(t * i, i));
            var d = targets.Slice(t * o, o);
            if (t >= washout)
            {
                Features(state);
                if (online is not null)
                {
                    online.Update(features, d, output);
                }
                else
                {
                    offline!.Accumulate(features, d);
                }
            }

            d.CopyTo(state.Output);
        }

        if (fit && offline is not null)
        {
            offline.Fit();
        }
    }

    /// <summary>Teacher-forced run without training (to warm up before a free run); outputs optional.</summary>
    /// <param name="state">Advanced.</param>
    /// <param name="inputs">u [T, I].</param>
    /// <param name="teacher">d [T, O], fed back as y(t).</param>
    /// <param name="outputs">The readout's one-step predictions [T, O], or empty.</param>
    public void Force(EsnState<T> state, ReadOnlySpan<T> inputs, ReadOnlySpan<T> teacher, Span<T> outputs)
    {
        using var scope = Kernels.KernelScope.Enter(MaxDegreeOfParallelism);
        int steps = CheckSequence(state, inputs, teacher);
        int i = Inputs, o = Outputs;
        if (!outputs.IsEmpty && outputs.Length != steps * o)
        {
            throw new ArgumentException($"outputs has {outputs.Length} elements but [{steps}, {o}] needs {steps * o}", nameof(outputs));
        }

        for (int t = 0; t < steps; t++)
        {
            StepDriven(state, inputs.Slice(t * i, i));
            if (!outputs.IsEmpty)
            {
                Features(state);
                Readout.Predict(features, outputs.Slice(t * o, o));
            }

            teacher.Slice(t * o, o).CopyTo(state.Output);
        }
    }

    /// <summary>Driven run: the inputs are given, the network's own outputs are fed back (if it has feedback).</summary>
    /// <param name="state">Advanced.</param>
    /// <param name="inputs">u [T, I].</param>
    /// <param name="outputs">y [T, O].</param>
    /// <exception cref="InvalidOperationException">The readout has not been trained.</exception>
    public void Run(EsnState<T> state, ReadOnlySpan<T> inputs, Span<T> outputs)
    {
        using var scope = Kernels.KernelScope.Enter(MaxDegreeOfParallelism);
        int steps = CheckSequence(state, inputs, outputs);
        int i = Inputs, o = Outputs;
        for (int t = 0; t < steps; t++)
        {
            StepDriven(state, inputs.Slice(t * i, i));
            Features(state);
            var y = outputs.Slice(t * o, o);
            Readout.Predict(features, y);
            y.CopyTo(state.Output);
        }
    }

    /// <summary>
    /// Generative (closed-loop) prediction with the output as the next input (inputs = outputs): y(t+k) =
    /// readout(x(t+k-1)), then u ← y. The first prediction comes from the current state, so after a forced run
    /// up to u(t) it predicts u(t+1).
    /// </summary>
    /// <param name="state">Advanced by <c>steps</c> updates.</param>
    /// <param name="outputs">Predictions [steps, O].</param>
    /// <exception cref="InvalidOperationException">The readout is not trained, or inputs ≠ outputs.</exception>
    public void Generate(EsnState<T> state, Span<T> outputs)
    {
        using var scope = Kernels.KernelScope.Enter(MaxDegreeOfParallelism);
        ArgumentNullException.ThrowIfNull(state);
        int o = Outputs;
        if (Inputs != o)
        {
            throw new InvalidOperationException($"closed-loop generation feeds outputs back as inputs, but there are {Inputs} inputs and {o} outputs");
        }

        if (outputs.Length % o != 0)
        {
            throw new ArgumentException($"outputs has {outputs.Length} elements, not a multiple of {o} outputs", nameof(outputs));
        }

        int steps = outputs.Length / o;
        for (int t = 0; t < steps; t++)
        {
            Features(state);
            var y = outputs.Slice(t * o, o);
            Readout.Predict(features, y);
            y.CopyTo(state.Output);
            StepDriven(state, y);
        }
    }

    /// <summary>
    /// Free run with output feedback (Jaeger's setting): the inputs are given, y(t) is the network's own output fed
    /// back through Wfb. Same as <see cref="Run"/>; named for readability of generative protocols.
    /// </summary>
    public void RunFree(EsnState<T> state, ReadOnlySpan<T> inputs, Span<T> outputs) => Run(state, inputs, outputs);

    /// <summary>x(t+1) from x(t), u(t+1) and y(t) (state.Output).</summary>
    private void StepDriven(EsnState<T> state, ReadOnlySpan<T> input)
    {
        int i = Inputs;
        input.CopyTo(drive);
        if (Reservoir.FeedbackSize > 0)
        {
            state.Output.CopyTo(drive.AsSpan(i));
        }

        Reservoir.Step(state.Reservoir, drive, next);
        state.SwapReservoir(ref next);
        input.CopyTo(state.Input);
    }

    private void Features(EsnState<T> state)
    {
        int k = 0;
        if ((ReadoutFeatures & ReadoutFeatures.Input) != 0)
        {
            state.Input.CopyTo(features, 0);
            k = Inputs;
        }

        if ((ReadoutFeatures & ReadoutFeatures.State) != 0)
        {
            state.Reservoir.CopyTo(features, k);
        }
    }

    private int CheckSequence(EsnState<T> state, ReadOnlySpan<T> inputs, ReadOnlySpan<T> outputs)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Reservoir.Length != Reservoir.Units || state.Input.Length != Inputs || state.Output.Length != Outputs)
        {
            throw new ArgumentException("the state was not made for this network (use CreateState)", nameof(state));
        }

        int i = Inputs, o = Outputs;
        int steps = i > 0 ? inputs.Length / i : outputs.Length / o;
        if ((long)steps * i != inputs.Length)
        {
            throw new ArgumentException($"inputs has {inputs.Length} elements, not a multiple of {i} inputs", nameof(inputs));
        }

        if ((long)steps * o != outputs.Length)
        {
            throw new ArgumentException($"{steps} time steps of inputs need {steps * o} target/output elements ({o} outputs), not {outputs.Length}", nameof(outputs));
        }

        return steps;
    }
}
