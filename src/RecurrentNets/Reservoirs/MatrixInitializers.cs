using RecurrentNets.Init;
using RecurrentNets.Kernels;

namespace RecurrentNets.Reservoirs;

/// <summary>Draws a weight matrix directly in CSR form (reservoir W, input Win or feedback Wfb).</summary>
/// <remarks>Implement it to bring your own topology; values are drawn in double and converted to the network's type.</remarks>
public interface IMatrixInitializer
{
    /// <summary>Draws a [rows, columns] matrix from <paramref name="random"/>.</summary>
    CsrMatrix<double> Create(int rows, int columns, SeededRandom random);
}

/// <summary>The distribution of the nonzero weights.</summary>
public enum WeightDistribution
{
    /// <summary>Standard normal N(0, 1) (ReservoirPy's default for W).</summary>
    Normal,

    /// <summary>Uniform on [-1, 1).</summary>
    Uniform,

    /// <summary>±1 with equal probability (ReservoirPy's default for Win).</summary>
    Bernoulli,
}

/// <summary>
/// A random sparse matrix drawn row by row straight into CSR: either every entry present with probability
/// <see cref="Connectivity"/> (geometric gap sampling, O(nnz) time, no dense matrix ever), or exactly
/// <see cref="Degree"/> distinct entries per row. Values come from <see cref="Distribution"/> times <see cref="Scale"/>.
/// </summary>
public sealed class SparseRandomInitializer : IMatrixInitializer
{
    /// <summary>Creates an initializer with connectivity 0.1, normal values and scale 1.</summary>
    public SparseRandomInitializer()
    {
    }

    /// <summary>Fraction of present entries, in (0, 1]; ignored when <see cref="Degree"/> is set.</summary>
    public double Connectivity { get; init; } = 0.1;

    /// <summary>Exact number of entries per row (fixed in-degree), or null to use <see cref="Connectivity"/>.</summary>
    public int? Degree { get; init; }

    /// <summary>The value distribution.</summary>
    public WeightDistribution Distribution { get; init; } = WeightDistribution.Normal;

    /// <summary>A factor applied to every drawn value.</summary>
    public double Scale { get; init; } = 1.0;

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">Connectivity is outside (0, 1], or Degree is outside [1, columns].</exception>
    public CsrMatrix<double> Create(int rows, int columns, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (Degree is int k)
        {
            if (k < 1 || k > columns)
            {
                throw new ArgumentOutOfRangeException(nameof(Degree), k, $"degree must be in [1, {columns}] (columns)");
            }

            return CreateFixedDegree(rows, columns, k, random);
        }

        if (!(Connectivity > 0 && Connectivity <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Connectivity), Connectivity, "connectivity must be in (0, 1]");
        }

        return CreateBernoulliMask(rows, columns, random);
    }

    private double Draw(SeededRandom random) => Scale * Distribution switch
    {
        WeightDistribution.Normal => random.NextNormal(),
        WeightDistribution.Uniform => random.NextUniform(-1, 1),
        _ => (random.NextUInt64() >> 63) == 0 ? -1.0 : 1.0,
    };

    private CsrMatrix<double> CreateBernoulliMask(int rows, int columns, SeededRandom random)
    {
        double p = Connectivity;
        long expected = (long)Math.Ceiling(p * rows * columns * 1.05) + 16;
        var idx = new List<int>((int)Math.Min(expected, int.MaxValue / 2));
        var val = new List<double>(idx.Capacity);
        var ptr = new int[rows + 1];
        double logq = p < 1 ? ScalarMath.Log(1 - p) : 0;
        for (int i = 0; i < rows; i++)
        {
            if (p >= 1)
            {
                for (int j = 0; j < columns; j++)
                {
                    idx.Add(j);
                    val.Add(Draw(random));
                }
            }
            else
            {
                // The gap to the next present entry is geometric: skip = floor(log U / log(1 - p)).
                long j = -1;
                while (true)
                {
                    double u = 1.0 - random.NextDouble();
                    j += 1 + (long)Math.Floor(ScalarMath.Log(u) / logq);
                    if (j >= columns)
                    {
                        break;
                    }

                    idx.Add((int)j);
                    val.Add(Draw(random));
                }
            }

            ptr[i + 1] = idx.Count;
        }

        return new CsrMatrix<double>(rows, columns, ptr, idx.ToArray(), val.ToArray());
    }

    private CsrMatrix<double> CreateFixedDegree(int rows, int columns, int k, SeededRandom random)
    {
        long nnz = (long)rows * k;
        if (nnz > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(Degree), k, $"{rows} rows × {k} nonzeros exceed the largest array");
        }

        var ptr = new int[rows + 1];
        var idx = new int[nnz];
        var val = new double[nnz];
        var chosen = new HashSet<int>();
        for (int i = 0; i < rows; i++)
        {
            // Floyd's algorithm: k distinct columns in k draws.
            chosen.Clear();
            for (int j = columns - k; j < columns; j++)
            {
                int t = random.NextInt(j + 1);
                chosen.Add(chosen.Contains(t) ? j : t);
            }

            int start = i * k;
            chosen.CopyTo(idx, start);
            Array.Sort(idx, start, k);
            for (int p = 0; p < k; p++)
            {
                val[start + p] = Draw(random);
            }

            ptr[i + 1] = start + k;
        }

        return new CsrMatrix<double>(rows, columns, ptr, idx, val);
    }
}

/// <summary>
/// A random orthogonal matrix (QR of a Gaussian matrix with the signs of R's diagonal folded in, so it is Haar
/// distributed), stored dense in CSR form: all its eigenvalues have modulus 1. For small reservoirs only.
/// </summary>
public sealed class OrthogonalInitializer : IMatrixInitializer
{
    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The matrix is not square.</exception>
    public CsrMatrix<double> Create(int rows, int columns, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (rows != columns)
        {
            throw new ArgumentException($"an orthogonal matrix must be square, not {rows} × {columns}", nameof(columns));
        }

        var g = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(rows, rows, (_, _) => random.NextNormal());
        var qr = g.QR();
        var q = qr.Q;
        var r = qr.R;
        var dense = new double[rows * rows];
        for (int j = 0; j < rows; j++)
        {
            double sign = r[j, j] < 0 ? -1 : 1;
            for (int i = 0; i < rows; i++)
            {
                dense[i * rows + j] = sign * q[i, j];
            }
        }

        return CsrMatrix<double>.FromDense(dense, rows, rows);
    }
}
