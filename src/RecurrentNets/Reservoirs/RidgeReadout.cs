using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Kernels;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Reservoirs;

/// <summary>
/// Ridge (Tikhonov) regression readout: the normal equations accumulated in double over any number of steps, then
/// (ZᵀZ + λI)·Wᵀ = ZᵀD solved by Cholesky (<see cref="CholeskyKernels"/>, checked against MathNet's), with MathNet's LU
/// (then a symmetric eigen-decomposition pseudo-inverse) as the fallback when the system is not numerically positive definite.
/// </summary>
/// <remarks>
/// With an intercept the data are centred at solve time from the accumulated sums, so the intercept is not
/// penalised (as ReservoirPy's Ridge): C = ZᵀZ - n·μμᵀ, W = (C + λI)⁻¹(ZᵀD - n·μ·d̄ᵀ), b = d̄ - W·μ. States are never
/// stored: rows (shifted by the mean of the first block, for accuracy) are buffered in blocks of <see cref="GramKernels.BlockRows"/> and folded into ZᵀZ by the blocked
/// SYRK kernel <see cref="GramKernels.AccumulateUpper"/>. With k folds, rows go to folds in contiguous blocks of
/// <see cref="FoldBlockRows"/> (round robin), one Gram per fold, so cross-validation needs no second pass.
/// </remarks>
public sealed class RidgeReadout<T> : OfflineLinearReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int BufferRows = 4 * GramKernels.BlockRows;
    private readonly int width;            // F (+1 for the intercept column, stored last)
    private readonly double[][] grams;     // per fold [Fa, Fa], upper triangle valid
    private readonly double[][] cross;     // per fold ZᵀD as [O, Fa]
    private readonly double[][] targetSquares; // per fold Σ d² [O]
    private readonly double[] buffer;      // [BufferRows, Fa]
    private readonly double[] targetBuffer; // [BufferRows, O]
    private readonly double[] pack;
    private int buffered;
    private int bufferedFold;
    private long rowsSeen;
    private double[]? shift;               // c: subtracted from every row when an intercept is fitted

    /// <summary>Creates a ridge readout.</summary>
    /// <param name="features">F.</param>
    /// <param name="outputs">O.</param>
    /// <param name="ridge">λ ≥ 0 used by <see cref="Fit()"/>.</param>
    /// <param name="fitIntercept">Learn an unpenalised intercept (data centred at solve time).</param>
    /// <param name="folds">Folds kept for <see cref="FitCrossValidated"/> (1: no cross-validation).</param>
    /// <exception cref="ArgumentOutOfRangeException">λ is negative or not finite, or folds is less than 1.</exception>
    public RidgeReadout(int features, int outputs, double ridge = 1e-8, bool fitIntercept = true, int folds = 1)
        : base(features, outputs, fitIntercept)
    {
        CheckRidge(ridge, nameof(ridge));
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 1);
        Ridge = ridge;
        Folds = folds;
        width = features + (fitIntercept ? 1 : 0);
        grams = new double[folds][];
        cross = new double[folds][];
        targetSquares = new double[folds][];
        for (int f = 0; f < folds; f++)
        {
            grams[f] = new double[(long)width * width];
            cross[f] = new double[(long)outputs * width];
            targetSquares[f] = new double[outputs];
        }

        buffer = new double[(long)BufferRows * width];
        targetBuffer = new double[(long)BufferRows * outputs];
        pack = new double[GramKernels.PackLength(width)];
    }

    /// <summary>λ used by <see cref="Fit()"/>.</summary>
    public double Ridge { get; set; }

    /// <summary>Number of folds.</summary>
    public int Folds { get; }

    /// <summary>Rows per fold block in cross-validation.</summary>
    public int FoldBlockRows { get; init; } = 256;

    /// <summary>Rows accumulated so far.</summary>
    public long Count => rowsSeen;

    /// <summary>Whether the last solve fell back from Cholesky (to LU, or to the eigen pseudo-inverse if LU failed too).</summary>
    public bool UsedFallback { get; private set; }

    /// <summary>Mean squared validation error per λ of the last <see cref="FitCrossValidated"/>.</summary>
    public IReadOnlyList<double> CrossValidationErrors { get; private set; } = [];

    /// <inheritdoc/>
    protected override string Name => "ridge";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Accumulate(ReadOnlySpan<T> features, ReadOnlySpan<T> targets)
    {
        CheckFeatures(features);
        CheckTargets(targets);
        int fold = Folds == 1 ? 0 : (int)(rowsSeen / FoldBlockRows % Folds);
        if (buffered > 0 && (fold != bufferedFold || buffered == BufferRows))
        {
            Flush();
        }

        bufferedFold = fold;
        var row = buffer.AsSpan(buffered * width, width);
        if (typeof(T) == typeof(double))
        {
            MemoryMarshal.Cast<T, double>(features).CopyTo(row);
        }
        else if (typeof(T) == typeof(float))
        {
            TP.ConvertTruncating<float, double>(MemoryMarshal.Cast<T, float>(features), row[..Features]);
        }
        else
        {
            for (int j = 0; j < features.Length; j++)
            {
                row[j] = double.CreateTruncating(features[j]);
            }
        }

        if (FitIntercept)
        {
            row[Features] = 1;
        }

        for (int o = 0; o < Outputs; o++)
        {
            targetBuffer[buffered * Outputs + o] = double.CreateTruncating(targets[o]);
        }

        buffered++;
        rowsSeen++;
    }

    /// <summary>Forgets all accumulated data (the weights stay until the next fit).</summary>
    public void Reset()
    {
        foreach (var g in grams)
        {
            Array.Clear(g);
        }

        foreach (var c in cross)
        {
            Array.Clear(c);
        }

        foreach (var y in targetSquares)
        {
            Array.Clear(y);
        }

        buffered = 0;
        rowsSeen = 0;
        shift = null;
    }

    /// <inheritdoc/>
    public override void Fit() => Fit(Ridge);

    /// <summary>Solves with ridge λ.</summary>
    /// <exception cref="ArgumentOutOfRangeException">λ is negative or not finite.</exception>
    /// <exception cref="InvalidOperationException">Nothing was accumulated.</exception>
    public void Fit(double ridge)
    {
        CheckRidge(ridge, nameof(ridge));
        Flush();
        if (rowsSeen == 0)
        {
            throw new InvalidOperationException("the ridge readout has no data: accumulate training rows before Fit");
        }

        var g = new double[(long)width * width];
        var c = new double[(long)Outputs * width];
        for (int f = 0; f < Folds; f++)
        {
            TP.Add(g, grams[f], g);
            TP.Add(c, cross[f], c);
        }

        Solve(g, c, ridge, Weights, Intercept);
        if (shift is not null)
        {
            // The solve's intercept is for z - c: b = b' - W·c.
            for (int k = 0; k < Outputs; k++)
            {
                Intercept[k] -= Reductions.Dot<double>(Weights.AsSpan(k * Features, Features), shift);
            }
        }
        Ridge = ridge;
        IsTrained = true;
    }

    /// <summary>
    /// Chooses λ by k-fold cross-validation (validation error of each fold computed from its own Gram:
    /// ‖d - Zw‖² = dᵀd - 2wᵀZᵀd + wᵀZᵀZw), then fits on all data with the best λ.
    /// </summary>
    /// <param name="ridges">Candidate λ values.</param>
    /// <returns>The chosen λ.</returns>
    /// <exception cref="InvalidOperationException">The readout was created with one fold, or a fold is empty.</exception>
    /// <exception cref="ArgumentException">No candidate is given.</exception>
    public double FitCrossValidated(IReadOnlyList<double> ridges)
    {
        ArgumentNullException.ThrowIfNull(ridges);
        if (ridges.Count == 0)
        {
            throw new ArgumentException("give at least one ridge value", nameof(ridges));
        }

        if (Folds < 2)
        {
            throw new InvalidOperationException("cross-validation needs a readout created with folds ≥ 2");
        }

        Flush();
        foreach (var gf in grams)
        {
            if (FitIntercept ? gf[(long)width * width - 1] == 0 : rowsSeen < Folds * FoldBlockRows)
            {
                throw new InvalidOperationException($"a fold is empty: accumulate at least {Folds} × {FoldBlockRows} rows (folds × FoldBlockRows)");
            }
        }

        var errors = new double[ridges.Count];
        var w = new double[(long)Outputs * Features];
        var b = new double[Outputs];
        var g = new double[(long)width * width];
        var c = new double[(long)Outputs * width];
        var wa = new double[width];
        var gw = new double[width];
        for (int ri = 0; ri < ridges.Count; ri++)
        {
            CheckRidge(ridges[ri], nameof(ridges));
            double sse = 0, rows = 0;
            for (int v = 0; v < Folds; v++)
            {
                Array.Clear(g);
                Array.Clear(c);
                for (int f = 0; f < Folds; f++)
                {
                    if (f != v)
                    {
                        TP.Add(g, grams[f], g);
                        TP.Add(c, cross[f], c);
                    }
                }

                Solve(g, c, ridges[ri], w, b);
                var gv = grams[v];
                Symmetrize(gv, width);
                rows += FitIntercept ? gv[(long)width * width - 1] : rowsSeen / (double)Folds;
                for (int o = 0; o < Outputs; o++)
                {
                    w.AsSpan(o * Features, Features).CopyTo(wa);
                    if (FitIntercept)
                    {
                        wa[Features] = b[o];
                    }

                    for (int i = 0; i < width; i++)
                    {
                        gw[i] = Reductions.Dot<double>(gv.AsSpan(i * width, width), wa);
                    }

                    sse += targetSquares[v][o] - 2 * Reductions.Dot<double>(wa, cross[v].AsSpan(o * width, width)) + Reductions.Dot<double>(wa, gw);
                }
            }

            errors[ri] = sse / (rows * Outputs);
        }

        CrossValidationErrors = errors;
        int best = 0;
        for (int i = 1; i < errors.Length; i++)
        {
            if (errors[i] < errors[best])
            {
                best = i;
            }
        }

        Fit(ridges[best]);
        return ridges[best];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Flush()
    {
        if (buffered == 0)
        {
            return;
        }

        int fa = width, o = Outputs;
        if (FitIntercept)
        {
            // Shifted data: Gram of z - c with c the mean of the first block, so the centring at solve time
            // (C = G - s·sᵀ/n) subtracts small numbers and keeps its digits; W is shift-invariant, b is corrected.
            if (shift is null)
            {
                shift = new double[Features];
                for (int r = 0; r < buffered; r++)
                {
                    TP.Add(shift, buffer.AsSpan(r * fa, Features), shift);
                }

                TP.Divide(shift, buffered, shift);
            }

            for (int r = 0; r < buffered; r++)
            {
                var z = buffer.AsSpan(r * fa, Features);
                TP.Subtract(z, shift, z);
            }
        }

        GramKernels.AccumulateUpper(buffer, buffered, fa, grams[bufferedFold], pack);
        var c = cross[bufferedFold];
        var yy = targetSquares[bufferedFold];
        for (int r = 0; r < buffered; r++)
        {
            var z = buffer.AsSpan(r * fa, fa);
            for (int k = 0; k < o; k++)
            {
                double d = targetBuffer[r * o + k];
                TP.MultiplyAdd(z, d, c.AsSpan(k * fa, fa), c.AsSpan(k * fa, fa));
                yy[k] += d * d;
            }
        }

        buffered = 0;
    }

    // gram: [Fa, Fa] upper valid; cross: [O, Fa]. Writes w [O, F] and b [O].
    private void Solve(double[] gram, double[] crossSum, double ridge, double[] w, double[] b)
    {
        int f = Features, fa = width, o = Outputs;
        Symmetrize(gram, fa);
        var a = new double[(long)f * f];
        var x = new double[(long)o * f];
        BuildSystem(gram, crossSum, ridge, a, x);
        UsedFallback = !CholeskyKernels.Factor(a, f);
        if (!UsedFallback)
        {
            CholeskyKernels.Solve(a, f, x, o);
            UsedFallback = !AllFinite(x);
        }

        if (UsedFallback)
        {
            // Not numerically positive definite (tiny λ on nearly collinear states): LU with partial pivoting, which
            // like LAPACK's symmetric-indefinite solve behind scipy.linalg.solve(assume_a="sym") accepts the tiny
            // negative pivots rounding creates; a pseudo-inverse only if even that fails.
            BuildSystem(gram, crossSum, ridge, a, x);
            var am = Matrix<double>.Build.DenseOfRowMajor(f, f, a);
            var rhs = Matrix<double>.Build.DenseOfRowMajor(o, f, x).Transpose();
            var sol = am.LU().Solve(rhs);
            if (!AllFinite(sol.AsColumnMajorArray() ?? sol.ToColumnMajorArray()))
            {
                var evd = am.Evd(Symmetricity.Symmetric);
                var values = evd.EigenValues;
                double max = 0;
                foreach (var e in values)
                {
                    max = Math.Max(max, Math.Abs(e.Real));
                }

                double cut = max * f * 1e-15;
                var q = evd.EigenVectors;
                var qtb = q.TransposeThisAndMultiply(rhs);
                for (int i = 0; i < f; i++)
                {
                    double e = values[i].Real;
                    double inv = Math.Abs(e) > cut ? 1 / e : 0;
                    for (int k = 0; k < o; k++)
                    {
                        qtb[i, k] *= inv;
                    }
                }

                sol = q * qtb;
            }

            for (int k = 0; k < o; k++)
            {
                for (int j = 0; j < f; j++)
                {
                    x[(long)k * f + j] = sol[j, k];
                }
            }
        }

        for (int k = 0; k < o; k++)
        {
            double bias = 0;
            for (int j = 0; j < f; j++)
            {
                double v = x[(long)k * f + j];
                w[(long)k * f + j] = v;
                if (FitIntercept)
                {
                    bias += v * gram[(long)j * fa + f];
                }
            }

            b[k] = FitIntercept ? (crossSum[(long)k * fa + f] - bias) / gram[(long)fa * fa - 1] : 0;
        }
    }

    // a = centred ZᵀZ + λI [F, F] row-major; rhs = centred ZᵀD as [O, F].
    private void BuildSystem(double[] gram, double[] crossSum, double ridge, double[] a, double[] rhs)
    {
        int f = Features, fa = width, o = Outputs;
        double n = FitIntercept ? gram[(long)fa * fa - 1] : 0;
        for (int i = 0; i < f; i++)
        {
            double si = FitIntercept ? gram[(long)i * fa + f] / n : 0;
            var src = gram.AsSpan(i * fa, f);
            var dst = a.AsSpan(i * f, f);
            if (FitIntercept)
            {
                // row i of ZᵀZ - s·sᵀ/n: the column of sums is the last column of the augmented Gram.
                for (int j = 0; j < f; j++)
                {
                    dst[j] = src[j] - si * gram[(long)j * fa + f];
                }
            }
            else
            {
                src.CopyTo(dst);
            }

            dst[i] += ridge;
        }

        for (int k = 0; k < o; k++)
        {
            double dbar = FitIntercept ? crossSum[(long)k * fa + f] / n : 0;
            for (int j = 0; j < f; j++)
            {
                rhs[(long)k * f + j] = crossSum[(long)k * fa + j] - (FitIntercept ? gram[(long)j * fa + f] * dbar : 0);
            }
        }
    }

    private static bool AllFinite(double[] v)
    {
        foreach (var e in v)
        {
            if (!double.IsFinite(e))
            {
                return false;
            }
        }

        return true;
    }

    private static void Symmetrize(double[] g, int n)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                g[(long)i * n + j] = g[(long)j * n + i];
            }
        }
    }

    private static void CheckRidge(double ridge, string name)
    {
        if (!(ridge >= 0 && double.IsFinite(ridge)))
        {
            throw new ArgumentOutOfRangeException(name, ridge, "the ridge parameter must be finite and non-negative");
        }
    }
}
