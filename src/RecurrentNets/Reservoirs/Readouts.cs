using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Reservoirs;

/// <summary>A linear readout y = W·z + b over the feature vector z (the reservoir state, optionally with the input).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of features F.</summary>
    int Features { get; }

    /// <summary>Number of outputs O.</summary>
    int Outputs { get; }

    /// <summary>Whether the readout can predict.</summary>
    bool IsTrained { get; }

    /// <summary>y = W·z + b.</summary>
    /// <param name="features">z [F].</param>
    /// <param name="output">y [O].</param>
    /// <exception cref="InvalidOperationException">The readout has not been trained.</exception>
    void Predict(ReadOnlySpan<T> features, Span<T> output);
}

/// <summary>A readout trained in one solve after seeing all the data (ridge regression, pseudo-inverse).</summary>
public interface IOfflineReadout<T> : IReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds one training pair (z, d).</summary>
    void Accumulate(ReadOnlySpan<T> features, ReadOnlySpan<T> targets);

    /// <summary>Solves for the weights from everything accumulated.</summary>
    void Fit();
}

/// <summary>A linear readout fitted offline from accumulated rows (ridge, pseudo-inverse).</summary>
public abstract class OfflineLinearReadout<T> : LinearReadout<T>, IOfflineReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a readout of the given shape.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    protected OfflineLinearReadout(int features, int outputs, bool fitIntercept)
        : base(features, outputs, fitIntercept)
    {
    }

    /// <inheritdoc/>
    public abstract void Accumulate(ReadOnlySpan<T> features, ReadOnlySpan<T> targets);

    /// <inheritdoc/>
    public abstract void Fit();

    /// <summary>Adds many rows at once.</summary>
    /// <param name="features">Z [rows, F].</param>
    /// <param name="targets">D [rows, O].</param>
    /// <param name="rows">Number of rows.</param>
    /// <exception cref="ArgumentException">A length does not match.</exception>
    public void AccumulateRows(ReadOnlySpan<T> features, ReadOnlySpan<T> targets, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (features.Length != (long)rows * Features)
        {
            throw new ArgumentException($"features has {features.Length} elements but [{rows}, {Features}] (rows, features) needs {(long)rows * Features}", nameof(features));
        }

        if (targets.Length != (long)rows * Outputs)
        {
            throw new ArgumentException($"targets has {targets.Length} elements but [{rows}, {Outputs}] (rows, outputs) needs {(long)rows * Outputs}", nameof(targets));
        }

        for (int r = 0; r < rows; r++)
        {
            Accumulate(features.Slice(r * Features, Features), targets.Slice(r * Outputs, Outputs));
        }
    }
}

/// <summary>A readout trained one step at a time (LMS, NLMS, RLS/FORCE).</summary>
public interface IOnlineReadout<T> : IReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Predicts from z, then moves the weights towards the target d; returns nothing, writes the a-priori prediction.</summary>
    /// <param name="features">z [F].</param>
    /// <param name="targets">d [O].</param>
    /// <param name="prediction">The prediction before the update [O].</param>
    void Update(ReadOnlySpan<T> features, ReadOnlySpan<T> targets, Span<T> prediction);
}

/// <summary>Shared storage of the linear readouts: weights in double [O, F] and an intercept [O].</summary>
public abstract class LinearReadout<T> : IReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a readout of the given shape.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    protected LinearReadout(int features, int outputs, bool fitIntercept)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        Features = features;
        Outputs = outputs;
        FitIntercept = fitIntercept;
        Weights = new double[(long)outputs * features];
        Intercept = new double[outputs];
    }

    /// <inheritdoc/>
    public int Features { get; }

    /// <inheritdoc/>
    public int Outputs { get; }

    /// <summary>Whether an unpenalised intercept b is learned.</summary>
    public bool FitIntercept { get; }

    /// <summary>W, row-major [O, F].</summary>
    public double[] Weights { get; }

    /// <summary>b [O].</summary>
    public double[] Intercept { get; }

    /// <inheritdoc/>
    public bool IsTrained { get; protected set; }

    /// <summary>A short name for messages.</summary>
    protected abstract string Name { get; }

    /// <inheritdoc/>
    public void Predict(ReadOnlySpan<T> features, Span<T> output)
    {
        if (!IsTrained)
        {
            throw new InvalidOperationException($"the {Name} readout has not been trained yet: train it before asking it to predict");
        }

        CheckFeatures(features);
        if (output.Length != Outputs)
        {
            throw new ArgumentException($"output has {output.Length} elements but the readout has {Outputs} outputs", nameof(output));
        }

        PredictUnchecked(features, output);
    }

    /// <summary>y = W·z + b without checks.</summary>
    protected void PredictUnchecked(ReadOnlySpan<T> features, Span<T> output)
    {
        int f = Features;
        for (int o = 0; o < Outputs; o++)
        {
            var w = Weights.AsSpan(o * f, f);
            double s = Intercept[o];
            for (int j = 0; j < f; j++)
            {
                s += w[j] * double.CreateTruncating(features[j]);
            }

            output[o] = T.CreateTruncating(s);
        }
    }

    /// <summary>Throws when z has the wrong length.</summary>
    protected void CheckFeatures(ReadOnlySpan<T> features)
    {
        if (features.Length != Features)
        {
            throw new ArgumentException($"features has {features.Length} elements but the readout expects {Features} (features)", nameof(features));
        }
    }

    /// <summary>Throws when d has the wrong length.</summary>
    protected void CheckTargets(ReadOnlySpan<T> targets)
    {
        if (targets.Length != Outputs)
        {
            throw new ArgumentException($"targets has {targets.Length} elements but the readout has {Outputs} outputs", nameof(targets));
        }
    }
}

/// <summary>
/// The delta rule (Widrow-Hoff LMS) as the course teaches it: w ← w + η·(d - y)·z; with
/// <see cref="Normalized"/>, normalised LMS: w ← w + η·(d - y)·z / (ε + ‖z‖²).
/// </summary>
/// <remarks>LMS converges slowly on reservoir states, whose correlation matrix has a wide eigenvalue spread
/// (Jaeger 2001, §6); NLMS and RLS are the practical online choices.</remarks>
public sealed class LmsReadout<T> : LinearReadout<T>, IOnlineReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates an LMS readout with zero weights.</summary>
    /// <param name="features">F.</param>
    /// <param name="outputs">O.</param>
    /// <param name="learningRate">η &gt; 0.</param>
    /// <param name="normalized">Normalised LMS (η should then be in (0, 2)).</param>
    /// <param name="fitIntercept">Learn an intercept (as a feature fixed at 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate is not positive.</exception>
    public LmsReadout(int features, int outputs, double learningRate, bool normalized = false, bool fitIntercept = true)
        : base(features, outputs, fitIntercept)
    {
        if (!(learningRate > 0 && double.IsFinite(learningRate)))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "the learning rate must be positive and finite");
        }

        LearningRate = learningRate;
        Normalized = normalized;
        IsTrained = true; // an online readout predicts from its current weights (zero at first)
    }

    /// <summary>η.</summary>
    public double LearningRate { get; set; }

    /// <summary>Whether the step is divided by ε + ‖z‖².</summary>
    public bool Normalized { get; }

    /// <summary>ε of the normalised rule.</summary>
    public double Epsilon { get; set; } = 1e-8;

    /// <inheritdoc/>
    public void Update(ReadOnlySpan<T> features, ReadOnlySpan<T> targets, Span<T> prediction)
    {
        CheckFeatures(features);
        CheckTargets(targets);
        PredictUnchecked(features, prediction);
        double step = LearningRate;
        if (Normalized)
        {
            double ss = FitIntercept ? 1 : 0;
            foreach (var z in features)
            {
                double v = double.CreateTruncating(z);
                ss += v * v;
            }

            step /= Epsilon + ss;
        }

        int f = Features;
        for (int o = 0; o < Outputs; o++)
        {
            double e = step * (double.CreateTruncating(targets[o]) - double.CreateTruncating(prediction[o]));
            var w = Weights.AsSpan(o * f, f);
            for (int j = 0; j < f; j++)
            {
                w[j] += e * double.CreateTruncating(features[j]);
            }

            if (FitIntercept)
            {
                Intercept[o] += e;
            }
        }
    }

    /// <inheritdoc/>
    protected override string Name => Normalized ? "NLMS" : "LMS";
}

/// <summary>
/// Recursive least squares, the online learner of FORCE (Sussillo &amp; Abbott 2009), with a forgetting factor λ
/// (Waegeman et al. 2012): k = P·z / (λ + zᵀ·P·z); w ← w + (d - w·z)·k; P ← (P - k·(P·z)ᵀ) / λ; P(0) = I / α.
/// </summary>
/// <remarks>O(F²) time and memory per step; with λ = 1 it converges to the least-squares solution with ridge α.</remarks>
public sealed class RlsReadout<T> : LinearReadout<T>, IOnlineReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly double[] p;
    private readonly double[] z;
    private readonly double[] pz;

    /// <summary>Creates an RLS readout with zero weights and P = I / α.</summary>
    /// <param name="features">F.</param>
    /// <param name="outputs">O.</param>
    /// <param name="alpha">α &gt; 0 (the regulariser; small α means a large initial P and fast learning).</param>
    /// <param name="forgetting">λ in (0, 1].</param>
    /// <param name="fitIntercept">Learn an intercept (as a feature fixed at 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">α is not positive or λ is outside (0, 1].</exception>
    public RlsReadout(int features, int outputs, double alpha = 1e-6, double forgetting = 1.0, bool fitIntercept = true)
        : base(features, outputs, fitIntercept)
    {
        if (!(alpha > 0 && double.IsFinite(alpha)))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be positive and finite");
        }

        if (!(forgetting > 0 && forgetting <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(forgetting), forgetting, "the forgetting factor must be in (0, 1]");
        }

        Alpha = alpha;
        Forgetting = forgetting;
        int fa = features + (fitIntercept ? 1 : 0);
        p = new double[(long)fa * fa];
        z = new double[fa];
        pz = new double[fa];
        for (int i = 0; i < fa; i++)
        {
            p[i * fa + i] = 1 / alpha;
        }

        IsTrained = true;
    }

    /// <summary>α (P(0) = I / α).</summary>
    public double Alpha { get; }

    /// <summary>The forgetting factor λ.</summary>
    public double Forgetting { get; }

    /// <inheritdoc/>
    public void Update(ReadOnlySpan<T> features, ReadOnlySpan<T> targets, Span<T> prediction)
    {
        CheckFeatures(features);
        CheckTargets(targets);
        PredictUnchecked(features, prediction);
        int f = Features, fa = z.Length;
        for (int j = 0; j < f; j++)
        {
            z[j] = double.CreateTruncating(features[j]);
        }

        if (FitIntercept)
        {
            z[f] = 1;
        }

        // pz = P·z and the gain denominator λ + zᵀ·P·z.
        double den = Forgetting;
        for (int i = 0; i < fa; i++)
        {
            pz[i] = Reductions.Dot<double>(p.AsSpan(i * fa, fa), z);
            den += z[i] * pz[i];
        }

        // P ← (P - pz·pzᵀ / den) / λ (P stays symmetric).
        double inv = 1 / Forgetting;
        for (int i = 0; i < fa; i++)
        {
            double c = -pz[i] / den;
            var row = p.AsSpan(i * fa, fa);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd<double>(pz, c, row, row);
            if (inv != 1)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply<double>(row, inv, row);
            }
        }

        // w ← w + e·k with k = pz / den.
        for (int o = 0; o < Outputs; o++)
        {
            double e = (double.CreateTruncating(targets[o]) - double.CreateTruncating(prediction[o])) / den;
            var w = Weights.AsSpan(o * f, f);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd<double>(pz.AsSpan(0, f), e, w, w);
            if (FitIntercept)
            {
                Intercept[o] += e * pz[f];
            }
        }
    }

    /// <inheritdoc/>
    protected override string Name => "RLS";
}
