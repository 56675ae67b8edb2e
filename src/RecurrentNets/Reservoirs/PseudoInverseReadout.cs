using System.Numerics;
using System.Runtime.InteropServices;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace RecurrentNets.Reservoirs;

/// <summary>
/// Least-squares readout solved by the Moore-Penrose pseudo-inverse, as in Jaeger 2001 (GMD Report 148, where the
/// output weights are pinv(Z)·D): W = (Z⁺·D)ᵀ, with Z⁺ = V·Σ⁺·Uᵀ from the singular value decomposition of the
/// collected states, singular values at or below <see cref="RelativeTolerance"/>·s₁ dropped. No penalty.
/// </summary>
/// <remarks>
/// <para>Unlike <see cref="RidgeReadout{T}"/> the states are stored (in double, [rows, F]): the pseudo-inverse works on
/// Z itself, not on ZᵀZ, whose condition number is the square of Z's, so that singular values down to about ε·s₁ keep
/// their digits. Memory is 8·rows·(F + O) bytes; the fit allocates (thin QR of Z, then the SVD of the F × F factor R:
/// Z = Q·R = (Q·U_R)·Σ·Vᵀ, both through MathNet), O(rows·F²) operations.</para>
/// <para>With <see cref="LinearReadout{T}.FitIntercept"/> the columns of Z and D are centred before the solve, so the
/// intercept b = d̄ - W·z̄ is not part of the truncated system. Jaeger's readout has no intercept (the default).</para>
/// <para>The unregularised solve is what Jaeger used; on reservoir states it is far more sensitive to the draw than ridge
/// regression (see docs/reservoirs.md): some reservoirs generalise better than with any ridge tried, others much worse.</para>
/// </remarks>
/// <typeparam name="T">float or double (states are stored and solved in double).</typeparam>
public sealed class PseudoInverseReadout<T> : OfflineLinearReadout<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private double[] rows;     // [capacity, F]
    private double[] targets;  // [capacity, O]
    private long count;

    /// <summary>ε = 2⁻⁵², the spacing of doubles at 1.</summary>
    public const double MachineEpsilon = 2.220446049250313e-16;

    /// <summary>Creates a pseudo-inverse readout.</summary>
    /// <param name="features">F.</param>
    /// <param name="outputs">O.</param>
    /// <param name="relativeTolerance">
    /// Singular values s ≤ tolerance·s₁ are treated as zero. null (the default) uses max(rows, F)·ε·s₁ with ε = 2⁻⁵²,
    /// the default of MATLAB's <c>pinv</c> (and of <c>numpy.linalg.lstsq</c>), which is what Jaeger's MATLAB code would
    /// have used.
    /// </param>
    /// <param name="fitIntercept">Learn an intercept by centring Z and D (default false, as Jaeger's readout).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1, or the tolerance is negative, at least 1
    /// or not finite.</exception>
    public PseudoInverseReadout(int features, int outputs, double? relativeTolerance = null, bool fitIntercept = false)
        : base(features, outputs, fitIntercept)
    {
        CheckTolerance(relativeTolerance, nameof(relativeTolerance));
        RelativeTolerance = relativeTolerance;
        rows = new double[(long)64 * features];
        targets = new double[(long)64 * outputs];
    }

    /// <summary>The relative cut-off for singular values used by <see cref="Fit"/>; null: max(rows, F)·ε.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative, non-finite or ≥ 1 value.</exception>
    public double? RelativeTolerance
    {
        get;
        set
        {
            CheckTolerance(value, nameof(value));
            field = value;
        }
    }

    /// <summary>Rows accumulated so far.</summary>
    public long Count => count;

    /// <summary>Number of singular values kept by the last fit (the numerical rank of Z, centred if an intercept is fitted).</summary>
    public int Rank { get; private set; }

    /// <summary>Singular values of Z (centred if an intercept is fitted) found by the last fit, largest first.</summary>
    public IReadOnlyList<double> SingularValues { get; private set; } = [];

    /// <inheritdoc/>
    protected override string Name => "pseudo-inverse";

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">z does not have F elements or d does not have O elements.</exception>
    public override void Accumulate(ReadOnlySpan<T> features, ReadOnlySpan<T> targets)
    {
        CheckFeatures(features);
        CheckTargets(targets);
        int f = Features, o = Outputs;
        if ((count + 1) * f > rows.LongLength)
        {
            Array.Resize(ref rows, (int)Math.Min(Array.MaxLength, 2 * rows.LongLength));
            Array.Resize(ref this.targets, (int)Math.Min(Array.MaxLength, 2 * this.targets.LongLength));
            if ((count + 1) * f > rows.LongLength)
            {
                throw new InvalidOperationException($"the pseudo-inverse readout stores its rows in one array: {count + 1} rows of {f} features do not fit");
            }
        }

        var row = rows.AsSpan((int)(count * f), f);
        if (typeof(T) == typeof(double))
        {
            MemoryMarshal.Cast<T, double>(features).CopyTo(row);
        }
        else
        {
            for (int j = 0; j < f; j++)
            {
                row[j] = double.CreateTruncating(features[j]);
            }
        }

        for (int k = 0; k < o; k++)
        {
            this.targets[count * o + k] = double.CreateTruncating(targets[k]);
        }

        count++;
    }

    /// <summary>Forgets all accumulated rows (the weights stay until the next fit).</summary>
    public void Reset() => count = 0;

    /// <summary>
    /// Solves W = (Z⁺·D)ᵀ (on centred Z and D with an intercept) from everything accumulated. Rows are kept, so more
    /// can be added and the readout fitted again.
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing was accumulated.</exception>
    public override void Fit()
    {
        if (count == 0)
        {
            throw new InvalidOperationException("the pseudo-inverse readout has no data: accumulate training rows before Fit");
        }

        int n = (int)count, f = Features, o = Outputs;
        var z = Matrix<double>.Build.Dense(n, f);
        var d = Matrix<double>.Build.Dense(n, o);
        var zMean = new double[f];
        var dMean = new double[o];
        if (FitIntercept)
        {
            for (int r = 0; r < n; r++)
            {
                for (int j = 0; j < f; j++)
                {
                    zMean[j] += rows[(long)r * f + j];
                }

                for (int k = 0; k < o; k++)
                {
                    dMean[k] += targets[(long)r * o + k];
                }
            }

            for (int j = 0; j < f; j++)
            {
                zMean[j] /= n;
            }

            for (int k = 0; k < o; k++)
            {
                dMean[k] /= n;
            }
        }

        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < f; j++)
            {
                z[r, j] = rows[(long)r * f + j] - zMean[j];
            }

            for (int k = 0; k < o; k++)
            {
                d[r, k] = targets[(long)r * o + k] - dMean[k];
            }
        }

        // Z = U·Σ·Vᵀ. With at least as many rows as features, the SVD is taken of R from the thin QR (F × F) and
        // Uᵀ·D = U_Rᵀ·(Qᵀ·D); otherwise of Z directly.
        MathNet.Numerics.LinearAlgebra.Vector<double> s;
        Matrix<double> vt;
        Matrix<double> utd;
        if (n >= f)
        {
            var qr = z.QR(QRMethod.Thin);
            var svd = qr.R.Svd(computeVectors: true);
            s = svd.S;
            vt = svd.VT;
            utd = svd.U.TransposeThisAndMultiply(qr.Q.TransposeThisAndMultiply(d));
        }
        else
        {
            var svd = z.Svd(computeVectors: true);
            s = svd.S;
            vt = svd.VT;
            utd = svd.U.TransposeThisAndMultiply(d);
        }

        double s1 = s.Count > 0 ? s[0] : 0;
        double cut = (RelativeTolerance ?? Math.Max(n, f) * MachineEpsilon) * s1;
        int rank = 0;
        var w = new double[(long)f * o]; // [F, O] accumulated as Σ_k v_k·(u_kᵀ d)/s_k
        for (int i = 0; i < s.Count; i++)
        {
            if (!(s[i] > cut))
            {
                continue;
            }

            rank++;
            for (int k = 0; k < o; k++)
            {
                double c = utd[i, k] / s[i];
                for (int j = 0; j < f; j++)
                {
                    w[(long)j * o + k] += c * vt[i, j];
                }
            }
        }

        for (int k = 0; k < o; k++)
        {
            double b = dMean[k];
            for (int j = 0; j < f; j++)
            {
                double v = w[(long)j * o + k];
                Weights[(long)k * f + j] = v;
                b -= v * zMean[j];
            }

            Intercept[k] = FitIntercept ? b : 0;
        }

        Rank = rank;
        SingularValues = s.ToArray();
        IsTrained = true;
    }

    private static void CheckTolerance(double? tolerance, string name)
    {
        if (tolerance is double t && !(t >= 0 && t < 1))
        {
            throw new ArgumentOutOfRangeException(name, t, "the relative tolerance of the pseudo-inverse must be in [0, 1) (or null for max(rows, F)·ε)");
        }
    }
}
