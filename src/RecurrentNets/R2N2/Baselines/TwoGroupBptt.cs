using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.R2N2.Baselines;

/// <summary>
/// The R2N2 two-group network trained by exact backpropagation through time in the library's engine
/// (<see cref="RecurrentLayer{T}"/> with a <see cref="TwoGroupCell"/>; Werbos 1990): it stores every step's activity
/// instead of reconstructing it. Same initialisation, loss, initial states and optimiser as <see cref="R2N2Consolidator"/>,
/// so its updates equal R2N2's in transposed/exact mode.
/// </summary>
/// <remarks>Readout y_t = W_out·tanh(b_t), W_out [n_y, n] (parameter <c>weight_out</c>); loss Σ ½‖y − x‖²; update with
/// the gradient / L.</remarks>
public sealed class TwoGroupBptt : ISequenceLearner
{
    private readonly int n, inputs, outputs;
    private readonly SeededRandom random;
    private readonly double magnitude;
    private readonly Optimizer<double> optimizer;
    private readonly RecurrentState<double> state;
    private readonly double[] rate, y, e;
    private Tensor<double> x = new(1, 1, 1), h = new(1, 1, 1), dh = new(1, 1, 1);

    /// <summary>Creates the network with the consolidator's initialisation (from the same options and seed, the same weights).</summary>
    public TwoGroupBptt(R2N2Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        n = options.GroupSize;
        inputs = options.InputSize;
        outputs = options.OutputSize;
        magnitude = options.InitialStateMagnitude;
        var reference = new R2N2Consolidator(options);
        random = new SeededRandom(options.Seed);
        Parameters = new ParameterBlock<double>();
        Layer = new RecurrentLayer<double>(Parameters, inputs, 2 * n, 1,
            (block, _, inputSize, suffix) => new TwoGroupCell(block, inputSize, n, options.Tau, suffix));
        WeightOut = Parameters.Add("weight_out", outputs, n);

        // Copy the consolidator's draws into the engine's layout, and replay its random stream past them.
        var cell = Layer.Cells[0];
        int hs = 2 * n;
        for (int i = 0; i < n; i++)
        {
            reference.WeightBA.Values.Slice(i * n, n).CopyTo(cell.WeightHH!.Values.Slice(i * hs + n, n));
            reference.WeightAB.Values.Slice(i * n, n).CopyTo(cell.WeightHH!.Values.Slice((n + i) * hs, n));
            reference.WeightIn.Values.Slice(i * inputs, inputs).CopyTo(cell.WeightIH.Values.Slice(i * inputs, inputs));
        }

        reference.WeightOut.Values.CopyTo(WeightOut.Values);
        int draws = 2 * n * n + n * inputs + outputs * n;
        if (options.Feedback == FeedbackMode.FeedbackAlignment)
        {
            draws += n * outputs + 2 * n * n;
        }

        for (int i = 0; i < draws; i++)
        {
            random.NextNormal();
        }

        optimizer = options.Optimizer == R2N2Optimizer.Adam
            ? new Adam<double>(Parameters, options.LearningRate, epsilon: 1e-7)
            : new Sgd<double>(Parameters, options.LearningRate);
        state = Layer.CreateState(1);
        rate = new double[n];
        y = new double[outputs];
        e = new double[outputs];
    }

    /// <inheritdoc/>
    public string Name => "BPTT (engine)";

    /// <summary>The engine layer.</summary>
    public RecurrentLayer<double> Layer { get; }

    /// <summary>All parameters: <c>weight_ih_l0</c>, <c>weight_hh_l0</c>, <c>weight_out</c>.</summary>
    public ParameterBlock<double> Parameters { get; }

    /// <summary>W_out [n_y, n].</summary>
    public ParameterView<double> WeightOut { get; }

    /// <summary>Draws the initial state as the consolidator does (each unit clip(N(0, 3²), ±m)).</summary>
    public void RandomizeState()
    {
        var s = state.Hidden.AsSpan();
        for (int i = 0; i < 2 * n; i++)
        {
            s[i] = Math.Clamp(random.NextNormal(0, 3), -magnitude, magnitude);
        }
    }

    /// <summary>Sets the initial state [a; b] (2n).</summary>
    public void SetState(ReadOnlySpan<double> stateA, ReadOnlySpan<double> stateB)
    {
        stateA.CopyTo(state.Hidden.AsSpan());
        stateB.CopyTo(state.Hidden.AsSpan()[n..]);
    }

    /// <summary>Forward and backward over the sequence from the current initial state; adds the gradient to <see cref="Parameters"/>.</summary>
    public EpisodeResult AccumulateSequence(Tensor<double> sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        int steps = sequence.Size(0) - 1;
        if (x.Size(0) != steps)
        {
            x = new Tensor<double>(steps, 1, inputs);
            h = new Tensor<double>(steps, 1, 2 * n);
            dh = new Tensor<double>(steps, 1, 2 * n);
        }

        sequence.Data.AsSpan(0, steps * inputs).CopyTo(x.AsSpan());
        Layer.Forward(x, h, state);
        double loss = 0;
        int correct = 0;
        dh.Clear();
        for (int t = 0; t < steps; t++)
        {
            var b = h.AsSpan().Slice(t * 2 * n + n, n);
            VectorMath.Tanh<double>(b, rate);
            R2N2Kernels.MatVec(WeightOut.Values, rate, 1, y, accumulate: false);
            var target = sequence.Data.AsSpan((t + 1) * inputs, inputs);
            TP.Subtract(y, target, e);
            loss += 0.5 * Reductions.Dot(e, e);
            if (TP.IndexOfMax<double>(y) == TP.IndexOfMax<double>(target))
            {
                correct++;
            }

            R2N2Kernels.OuterAdd(e, rate, 1, WeightOut.Gradients);
            var db = dh.AsSpan().Slice(t * 2 * n + n, n);
            R2N2Kernels.MatTransposeVecAdd(WeightOut.Values, e, 1, db);
            R2N2Kernels.MultiplyTanhDerivative(rate, db);
        }

        Layer.Backward(dh);
        return new EpisodeResult(loss, steps, correct, 0);
    }

    /// <inheritdoc/>
    public EpisodeResult TrainSequence(Tensor<double> sequence)
    {
        RandomizeState();
        Parameters.ZeroGradients();
        var result = AccumulateSequence(sequence);
        TP.Multiply(Parameters.Gradients, 1.0 / sequence.Size(0), Parameters.Gradients);
        optimizer.Step();
        return result;
    }
}
