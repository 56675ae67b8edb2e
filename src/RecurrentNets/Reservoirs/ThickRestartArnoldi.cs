using Complex = System.Numerics.Complex;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;
using RecurrentNets.Init;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Reservoirs;

/// <summary>What a thick-restart Arnoldi run found: ρ(W), the eigenvalue that has it, and what it cost.</summary>
/// <param name="Radius">|λ| of the converged eigenvalue of largest modulus.</param>
/// <param name="Eigenvalue">That eigenvalue (a complex one stands for its conjugate pair too).</param>
/// <param name="RelativeResidual">‖W x − λ x‖ / (‖x‖·|λ|) of its Ritz vector x, recomputed with W after convergence
/// (0 when W is nilpotent).</param>
/// <param name="Products">Matrix-vector products spent, the final residual check included.</param>
/// <param name="Restarts">Thick restarts performed.</param>
public readonly record struct SpectralRadiusEstimate(double Radius, Complex Eigenvalue, double RelativeResidual, int Products, int Restarts);

/// <summary>
/// Thick-restart Arnoldi for the eigenvalues of largest modulus of a real nonsymmetric sparse matrix (Morgan 1996,
/// "On restarting the Arnoldi method for large nonsymmetric eigenvalue problems"; Stewart 2002's Krylov–Schur keeps the
/// same subspace). Legend: n = matrix size, m = Krylov dimension, k = vectors kept at a restart, p = wanted eigenvalues.
/// </summary>
/// <remarks>
/// A cycle extends an Arnoldi-like relation W·V_m = V_m·G + g·v_m·e_mᵀ to m vectors, takes the eigen-decomposition of
/// the small m × m matrix G (MathNet), and keeps the real span of the k Ritz vectors of largest modulus (a complex
/// pair contributes its real and imaginary parts, so pairs are never split): V_k ← V_m·Q with Q an orthonormal basis
/// of those Ritz vectors, G_k ← Qᵀ·G·Q, and the old residual vector v_m becomes v_k, coupled through the row g·e_mᵀ·Q.
/// This is the subspace implicitly restarted Arnoldi with exact shifts keeps (Sorensen 1992), obtained with no QR
/// sweeps. The run stops when the p Ritz pairs of largest modulus all have residual g·|e_mᵀ y| ≤ tolerance·ρ, and
/// the top one's residual, recomputed with W itself, agrees. Restarting from a single Ritz vector (what this
/// replaced) throws the rest of the spectrum away and converges to whichever edge eigenvalue dominates the start
/// vector, often not the largest (issue 18, item 4). No Krylov method can certify the largest modulus of a dense
/// ring of eigenvalues; converging many pairs together (20 of 100 by default) made every start vector tried agree with
/// ARPACK run with as many (see SpectralRadiusTests).
/// </remarks>
internal static class ThickRestartArnoldi
{
    public static SpectralRadiusEstimate Run(CsrMatrix<double> matrix, int krylov, int wanted, double tolerance, int maxProducts, ulong seed)
    {
        int n = matrix.Rows;
        int m = Math.Min(krylov, n);
        int p = Math.Min(wanted, Math.Max(1, m - 2));
        var random = new SeededRandom(seed);
        var v = new double[m + 1][];
        var scratch = new double[m][];
        for (int i = 0; i <= m; i++)
        {
            v[i] = new double[n];
        }

        FillRandom(v[0], random);
        TP.Divide(v[0], TP.Norm<double>(v[0]), v[0]);
        var g = new double[m + 1, m];
        var coefficients = new double[m + 1];
        int k = 0, products = 0, restarts = 0;
        double rho = double.NaN, residual = double.NaN;
        while (true)
        {
            // Extend the relation from k to m vectors (Arnoldi steps, modified Gram-Schmidt twice).
            for (int j = k; j < m; j++)
            {
                if (products >= maxProducts)
                {
                    throw NotConverged(maxProducts, rho, residual, tolerance);
                }

                matrix.Multiply(v[j], v[j + 1]);
                products++;
                double before = TP.Norm<double>(v[j + 1]);
                Orthogonalize(v, j + 1, v[j + 1], coefficients);
                for (int i = 0; i <= j; i++)
                {
                    g[i, j] = coefficients[i];
                }

                double beta = TP.Norm<double>(v[j + 1]);
                if (beta > 1e-12 * before)
                {
                    g[j + 1, j] = beta;
                    TP.Divide(v[j + 1], beta, v[j + 1]);
                }
                else
                {
                    // An invariant subspace: its Ritz values are exact; go on from a fresh direction (none when j + 1 = n).
                    g[j + 1, j] = 0;
                    NewDirection(v, j + 1, n, random, coefficients);
                }
            }

            var evd = Matrix<double>.Build.Dense(m, m, (i, j) => g[i, j]).Evd();
            var order = ByModulus(evd.EigenValues);
            var eigenvalues = evd.EigenValues;
            var vectors = evd.EigenVectors;
            double top = eigenvalues[order[0]].Magnitude;
            double coupling = Math.Abs(g[m, m - 1]);

            // The p wanted pairs, widened so that a conjugate pair is never split.
            int pw = Math.Min(WidenToPair(order, eigenvalues, p), m);
            double worst = 0;
            for (int t = 0; t < pw; t++)
            {
                worst = Math.Max(worst, coupling * RitzTail(vectors, eigenvalues, order[t], m));
            }

            rho = top;
            residual = worst;
            if (worst <= tolerance * top)
            {
                // Recompute the top pair's residual with W: the relation above is exact only up to rounding.
                double check = TrueResidual(matrix, v, vectors, eigenvalues, order[0], m, ref products);
                if (check <= tolerance * top || top == 0)
                {
                    return new SpectralRadiusEstimate(top, eigenvalues[order[0]], top == 0 ? 0 : check / top, products, restarts);
                }

                residual = check;
            }

            if (products >= maxProducts)
            {
                throw NotConverged(maxProducts, rho, residual, tolerance);
            }

            // Keep about half the basis: the wanted pairs and the next ones, which converge meanwhile.
            int keep = WidenToPair(order, eigenvalues, Math.Max(pw, (m + pw) / 2));
            if (keep >= m)
            {
                keep = NarrowToPair(order, eigenvalues, m - 1);
            }

            var basis = RitzBasis(vectors, eigenvalues, order, keep, m);
            keep = basis.ColumnCount;
            var tk = basis.TransposeThisAndMultiply(Matrix<double>.Build.Dense(m, m, (i, j) => g[i, j])).Multiply(basis);
            for (int i = 0; i < keep; i++)
            {
                scratch[i] ??= new double[n];
                Array.Clear(scratch[i]);
                for (int l = 0; l < m; l++)
                {
                    TP.MultiplyAdd(v[l], basis[l, i], scratch[i], scratch[i]);
                }
            }

            Array.Copy(v[m], v[keep], n);
            for (int i = 0; i < keep; i++)
            {
                (v[i], scratch[i]) = (scratch[i], v[i]);
            }

            Array.Clear(g);
            for (int i = 0; i < keep; i++)
            {
                for (int j = 0; j < keep; j++)
                {
                    g[i, j] = tk[i, j];
                }

                g[keep, i] = coupling * basis[m - 1, i];
            }

            k = keep;
            restarts++;
        }
    }

    private static SpectralRadiusConvergenceException NotConverged(int maxProducts, double rho, double residual, double tolerance) =>
        new($"Arnoldi did not converge in {maxProducts} products: last estimate {rho}, relative residual {residual / rho:E2} " +
            $"(tolerance {tolerance}); raise maxIterations, the Krylov dimension or the tolerance, or use " +
            "SpectralRadiusMethod.CircularLaw for an estimate");

    /// <summary>Indices of the eigenvalues by decreasing modulus, a conjugate pair adjacent (positive imaginary part first).</summary>
    private static int[] ByModulus(Vector<Complex> eigenvalues)
    {
        var order = new int[eigenvalues.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) =>
        {
            Complex x = eigenvalues[a], y = eigenvalues[b];
            int c = y.Magnitude.CompareTo(x.Magnitude);
            if (c == 0)
            {
                c = y.Real.CompareTo(x.Real);
            }

            if (c == 0)
            {
                c = y.Imaginary.CompareTo(x.Imaginary);
            }

            return c == 0 ? a.CompareTo(b) : c;
        });
        return order;
    }

    private static bool SplitsPair(int[] order, Vector<Complex> eigenvalues, int count) =>
        count > 0 && count < order.Length && eigenvalues[order[count - 1]].Imaginary > 0
        && eigenvalues[order[count]] == Complex.Conjugate(eigenvalues[order[count - 1]]);

    private static int WidenToPair(int[] order, Vector<Complex> eigenvalues, int count) =>
        SplitsPair(order, eigenvalues, count) ? count + 1 : count;

    private static int NarrowToPair(int[] order, Vector<Complex> eigenvalues, int count) =>
        SplitsPair(order, eigenvalues, count) ? count - 1 : count;

    /// <summary>The (complex) eigenvector of G for eigenvalue <paramref name="index"/> as real and imaginary columns.</summary>
    /// <remarks>MathNet stores a complex pair's eigenvector as its real and imaginary parts in the pair's two columns.</remarks>
    private static (int Real, int Imaginary) Columns(Vector<Complex> eigenvalues, int index)
    {
        if (eigenvalues[index].Imaginary == 0)
        {
            return (index, -1);
        }

        int partner = index + 1 < eigenvalues.Count && eigenvalues[index + 1] == Complex.Conjugate(eigenvalues[index]) ? index + 1 : index - 1;
        return (Math.Min(index, partner), Math.Max(index, partner));
    }

    /// <summary>|e_mᵀ y| / ‖y‖ for the Ritz vector y of eigenvalue <paramref name="index"/>.</summary>
    private static double RitzTail(Matrix<double> vectors, Vector<Complex> eigenvalues, int index, int m)
    {
        var (re, im) = Columns(eigenvalues, index);
        double norm = 0, last = 0;
        for (int i = 0; i < m; i++)
        {
            double a = vectors[i, re], b = im < 0 ? 0 : vectors[i, im];
            norm += a * a + b * b;
            if (i == m - 1)
            {
                last = Math.Sqrt(a * a + b * b);
            }
        }

        return norm == 0 ? double.PositiveInfinity : last / Math.Sqrt(norm);
    }

    /// <summary>An orthonormal basis (m × k) of the real span of the first k Ritz vectors in <paramref name="order"/>.</summary>
    private static Matrix<double> RitzBasis(Matrix<double> vectors, Vector<Complex> eigenvalues, int[] order, int keep, int m)
    {
        var y = Matrix<double>.Build.Dense(m, keep);
        for (int t = 0; t < keep; t++)
        {
            int index = order[t];
            var (re, im) = Columns(eigenvalues, index);
            // The first of a pair brings the real part, its conjugate the imaginary part.
            int column = im < 0 || eigenvalues[index].Imaginary > 0 ? re : im;
            double norm = 0;
            for (int i = 0; i < m; i++)
            {
                norm += vectors[i, column] * vectors[i, column];
            }

            norm = Math.Sqrt(norm);
            for (int i = 0; i < m; i++)
            {
                y[i, t] = vectors[i, column] / norm;
            }
        }

        var qr = y.QR(QRMethod.Thin);
        // Nearly parallel Ritz vectors (a cluster G resolves badly): keep only the well-conditioned leading part.
        int rank = keep;
        for (int t = 0; t < keep; t++)
        {
            if (Math.Abs(qr.R[t, t]) < 1e-8)
            {
                rank = NarrowToPair(order, eigenvalues, t);
                break;
            }
        }

        return rank == keep ? qr.Q : qr.Q.SubMatrix(0, m, 0, Math.Max(rank, 1));
    }

    /// <summary>‖W x − λ x‖ / ‖x‖ for x = V·y, the Ritz vector of eigenvalue <paramref name="index"/> (two products if complex).</summary>
    private static double TrueResidual(CsrMatrix<double> matrix, double[][] v, Matrix<double> vectors, Vector<Complex> eigenvalues,
        int index, int m, ref int products)
    {
        int n = matrix.Rows;
        var (re, im) = Columns(eigenvalues, index);
        Complex lambda = eigenvalues[index];
        if (im >= 0 && lambda.Imaginary < 0)
        {
            lambda = Complex.Conjugate(lambda); // the stored vector x + i·y belongs to the member with positive imaginary part
        }

        var x = new double[n];
        var y = new double[n];
        for (int i = 0; i < m; i++)
        {
            TP.MultiplyAdd(v[i], vectors[i, re], x, x);
            if (im >= 0)
            {
                TP.MultiplyAdd(v[i], vectors[i, im], y, y);
            }
        }

        // W(x + iy) − (a + ib)(x + iy) = (Wx − a x + b y) + i (Wy − b x − a y).
        var wx = new double[n];
        var wy = new double[n];
        matrix.Multiply(x, wx);
        products++;
        double a = lambda.Real, b = lambda.Imaginary;
        TP.MultiplyAdd(x, -a, wx, wx);
        double sumSquares;
        if (im >= 0)
        {
            matrix.Multiply(y, wy);
            products++;
            TP.MultiplyAdd(y, b, wx, wx);
            TP.MultiplyAdd(x, -b, wy, wy);
            TP.MultiplyAdd(y, -a, wy, wy);
            sumSquares = TP.SumOfSquares<double>(wx) + TP.SumOfSquares<double>(wy);
            return Math.Sqrt(sumSquares / (TP.SumOfSquares<double>(x) + TP.SumOfSquares<double>(y)));
        }

        return TP.Norm<double>(wx) / TP.Norm<double>(x);
    }

    /// <summary>w ⟂ v[0..count) by modified Gram-Schmidt, twice for orthogonality in floating point; coefficients summed.</summary>
    private static void Orthogonalize(double[][] v, int count, double[] w, double[] coefficients)
    {
        Array.Clear(coefficients);
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < count; i++)
            {
                double c = TP.Dot<double>(v[i], w);
                coefficients[i] += c;
                TP.MultiplyAdd(v[i], -c, w, w);
            }
        }
    }

    private static void NewDirection(double[][] v, int index, int n, SeededRandom random, double[] coefficients)
    {
        if (index >= n)
        {
            Array.Clear(v[index]);
            return;
        }

        FillRandom(v[index], random);
        Orthogonalize(v, index, v[index], coefficients);
        TP.Divide(v[index], TP.Norm<double>(v[index]), v[index]);
    }

    private static void FillRandom(double[] x, SeededRandom random)
    {
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = random.NextUniform(-1, 1);
        }
    }
}
