using Complex = System.Numerics.Complex;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
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
/// ring of eigenvalues; keeping half the basis at each restart and converging several pairs together (4 of 100 by
/// default) made every start vector tried agree with ARPACK run with k = 20, ncv = 100 (see SpectralRadiusTests).
/// The iteration runs on W^s (PowerOperator): its ring is the ring of W with moduli raised to s, so relative gaps at
/// the edge grow s-fold, and one orthogonalisation against the basis (2 reads of up to m vectors, classical Gram-Schmidt
/// with a second pass only when the first cancelled, DGKS) serves s sparse products. The restart V_k ← V_m·Q is one GEMM
/// on the basis stored row by row in one block.
/// </remarks>
internal static class ThickRestartArnoldi
{
    /// <summary>Stored entries above which a sparse product runs on several cores.</summary>
    internal const int ParallelNonZeros = 1 << 18;

    public static SpectralRadiusEstimate Run(CsrMatrix<double> matrix, int krylov, int wanted, double tolerance, int maxProducts, ulong seed,
        int power)
    {
        int n = matrix.Rows;
        var op = new PowerOperator(matrix, power);
        int m = Math.Min(krylov, n);
        int p = Math.Min(wanted, Math.Max(1, m - 2));
        var random = new SeededRandom(seed);
        // The basis V_{m+1} row by row in one block, so that the restart V_k ← Qᵀ·V_m is one GEMM.
        var v = new double[(m + 1) * n];
        var rotated = new double[m * n];
        FillRandom(Row(v, 0, n), random);
        TP.Divide(Row(v, 0, n), Math.Sqrt(Reductions.SumOfSquares<double>(Row(v, 0, n))), Row(v, 0, n));
        var g = new double[m + 1, m];
        var coefficients = new double[m + 1];
        int k = 0, products = 0, restarts = 0;
        double rho = double.NaN, residual = double.NaN;
        while (true)
        {
            // Extend the relation from k to m vectors (Arnoldi steps, classical Gram-Schmidt with DGKS reorthogonalisation).
            for (int j = k; j < m; j++)
            {
                if (products >= maxProducts)
                {
                    throw NotConverged(maxProducts, rho, residual, tolerance);
                }

                var w = Row(v, j + 1, n);
                op.Apply(v.AsMemory(j * n, n), v.AsMemory((j + 1) * n, n));
                products += power;
                double before = Math.Sqrt(Reductions.SumOfSquares<double>(w));
                double beta = Orthogonalize(v, n, j + 1, w, before, coefficients);
                for (int i = 0; i <= j; i++)
                {
                    g[i, j] = coefficients[i];
                }

                if (beta > 1e-12 * before)
                {
                    g[j + 1, j] = beta;
                    TP.Divide(w, beta, w);
                }
                else
                {
                    // An invariant subspace: its Ritz values are exact; go on from a fresh direction (none when j + 1 = n).
                    g[j + 1, j] = 0;
                    NewDirection(v, n, j + 1, random, coefficients);
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
                double check = TrueResidual(op, v, vectors, eigenvalues, order[0], m, ref products, out var x, out var y);
                if (check <= tolerance * top || top == 0)
                {
                    Complex lambda = eigenvalues[order[0]];
                    if (power > 1 && top > 0)
                    {
                        lambda = RayleighQuotient(matrix, x, y);
                        products += y is null ? 1 : 2;
                    }

                    double radius = power == 1 ? top : ScalarMath.Pow(top, 1.0 / power);
                    return new SpectralRadiusEstimate(radius, lambda, top == 0 ? 0 : check / top, products, restarts);
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

            // V_k ← Qᵀ·V_m (Q is m × keep), then the old residual vector v_m becomes v_keep.
            var q = new double[m * keep];
            for (int l = 0; l < m; l++)
            {
                for (int i = 0; i < keep; i++)
                {
                    q[l * keep + i] = basis[l, i];
                }
            }

            Gemm.MultiplyTransposeA<double>(q, v.AsSpan(0, m * n), rotated.AsSpan(0, keep * n), keep, m, n);
            Row(v, m, n).CopyTo(Row(v, keep, n));
            rotated.AsSpan(0, keep * n).CopyTo(v);

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

    private static Span<double> Row(double[] v, int index, int n) => v.AsSpan(index * n, n);

    /// <summary>λ = z* W z / z* z for z = x + i·y (y null: real z).</summary>
    private static Complex RayleighQuotient(CsrMatrix<double> matrix, double[] x, double[]? y)
    {
        var wx = new double[x.Length];
        matrix.Multiply(x, wx);
        if (y is null)
        {
            return Reductions.Dot<double>(x, wx) / Reductions.Dot<double>(x, x);
        }

        var wy = new double[x.Length];
        matrix.Multiply(y, wy);
        // (x − i y)ᵀ (W x + i W y) = x·Wx + y·Wy + i (x·Wy − y·Wx).
        var numerator = new Complex(Reductions.Dot<double>(x, wx) + Reductions.Dot<double>(y, wy), Reductions.Dot<double>(x, wy) - Reductions.Dot<double>(y, wx));
        return numerator / (Reductions.Dot<double>(x, x) + Reductions.Dot<double>(y, y));
    }

    /// <summary>y = W^power·x, for Arnoldi on W^power: the same eigenvectors, moduli raised to the power, so the gap at
    /// the edge of the spectrum widens and one orthogonalisation serves several sparse products. Above
    /// <see cref="ParallelNonZeros"/> stored entries a product is split into row blocks of equal nonzeros over the cores.</summary>
    // W^s as an operator; its sparse products split the rows over the library's worker pool (balanced by nonzeros) when
    // the matrix is large enough, each row summed as on one thread, so the bits do not depend on the thread count.
    private sealed class PowerOperator : IParallelJob
    {
        private readonly CsrMatrix<double> matrix;
        private readonly double[] scratch;
        private ReadOnlyMemory<double> input;
        private Memory<double> output;

        public PowerOperator(CsrMatrix<double> matrix, int power)
        {
            this.matrix = matrix;
            Power = power;
            scratch = new double[matrix.Rows];
        }

        public int Rows => matrix.Rows;

        public int Power { get; }

        public void Apply(ReadOnlyMemory<double> x, Memory<double> y)
        {
            // Alternate between y and the scratch vector so that the last product lands in y.
            if (Power % 2 == 1)
            {
                Multiply(x, y);
                for (int i = 1; i < Power; i += 2)
                {
                    Multiply(y, scratch);
                    Multiply(scratch, y);
                }
            }
            else
            {
                Multiply(x, scratch);
                Multiply(scratch, y);
                for (int i = 2; i < Power; i += 2)
                {
                    Multiply(y, scratch);
                    Multiply(scratch, y);
                }
            }
        }

        private void Multiply(ReadOnlyMemory<double> x, Memory<double> y)
        {
            int parts = WorkerPool.Shared.MaxParts;
            if (parts < 2 || matrix.NonZeros < ParallelNonZeros)
            {
                matrix.Multiply(x.Span, y.Span);
                return;
            }

            input = x;
            output = y;
            WorkerPool.Shared.Run(this, parts);
            input = default;
            output = default;
        }

        // Rows [first, end) of part `part`, split so that each part has about the same number of nonzeros.
        public void Run(int part, int parts)
        {
            var pointers = matrix.RowPointers;
            int first = RowAt(pointers, (long)matrix.NonZeros * part / parts), end = RowAt(pointers, (long)matrix.NonZeros * (part + 1) / parts);
            if (part == parts - 1)
            {
                end = matrix.Rows;
            }

            if (end > first)
            {
                SparseKernels.Multiply<double>(pointers.AsSpan(first, end - first + 1), matrix.ColumnIndices, matrix.Values,
                    input.Span, output.Span.Slice(first, end - first));
            }
        }

        // The first row whose nonzeros start at or after `target` (0 for target 0).
        private int RowAt(int[] pointers, long target)
        {
            int low = 0, high = matrix.Rows;
            while (low < high)
            {
                int mid = (low + high) >>> 1;
                if (pointers[mid] < target)
                    low = mid + 1;
                else
                    high = mid;
            }

            return low;
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
    private static double TrueResidual(PowerOperator matrix, double[] v, Matrix<double> vectors, Vector<Complex> eigenvalues,
        int index, int m, ref int products, out double[] x, out double[]? y)
    {
        int n = matrix.Rows;
        var (re, im) = Columns(eigenvalues, index);
        Complex lambda = eigenvalues[index];
        if (im >= 0 && lambda.Imaginary < 0)
        {
            lambda = Complex.Conjugate(lambda); // the stored vector x + i·y belongs to the member with positive imaginary part
        }

        x = new double[n];
        y = im >= 0 ? new double[n] : null;
        for (int i = 0; i < m; i++)
        {
            TP.MultiplyAdd(Row(v, i, n), vectors[i, re], x, x);
            if (im >= 0)
            {
                TP.MultiplyAdd(Row(v, i, n), vectors[i, im], y, y);
            }
        }

        // W(x + iy) − (a + ib)(x + iy) = (Wx − a x + b y) + i (Wy − b x − a y).
        var wx = new double[n];
        var wy = new double[n];
        matrix.Apply(x, wx);
        products += matrix.Power;
        double a = lambda.Real, b = lambda.Imaginary;
        TP.MultiplyAdd(x, -a, wx, wx);
        double sumSquares;
        if (y is not null)
        {
            matrix.Apply(y!, wy);
            products += matrix.Power;
            TP.MultiplyAdd(y, b, wx, wx);
            TP.MultiplyAdd(x, -b, wy, wy);
            TP.MultiplyAdd(y, -a, wy, wy);
            sumSquares = Reductions.SumOfSquares<double>(wx) + Reductions.SumOfSquares<double>(wy);
            return Math.Sqrt(sumSquares / (Reductions.SumOfSquares<double>(x) + Reductions.SumOfSquares<double>(y)));
        }

        return Math.Sqrt(Reductions.SumOfSquares<double>(wx)) / Math.Sqrt(Reductions.SumOfSquares<double>(x));
    }

    /// <summary>
    /// w ⟂ v[0..count) by classical Gram-Schmidt, repeated while the norm falls below 1/√2 of the previous one (DGKS:
    /// a second pass only when cancellation may have spoiled the first; at most three); coefficients summed. Returns ‖w‖.
    /// </summary>
    private static double Orthogonalize(double[] v, int n, int count, Span<double> w, double norm, double[] coefficients)
    {
        Array.Clear(coefficients);
        var c = new double[count];
        for (int pass = 0; pass < 3; pass++)
        {
            for (int i = 0; i < count; i++)
            {
                c[i] = Reductions.Dot<double>(Row(v, i, n), w);
            }

            for (int i = 0; i < count; i++)
            {
                coefficients[i] += c[i];
                TP.MultiplyAdd(Row(v, i, n), -c[i], w, w);
            }

            double after = Math.Sqrt(Reductions.SumOfSquares<double>(w));
            if (after > 0.7071067811865476 * norm)
            {
                return after;
            }

            norm = after;
        }

        return norm;
    }

    private static void NewDirection(double[] v, int n, int index, SeededRandom random, double[] coefficients)
    {
        var w = Row(v, index, n);
        if (index >= n)
        {
            w.Clear();
            return;
        }

        FillRandom(w, random);
        Orthogonalize(v, n, index, w, Math.Sqrt(Reductions.SumOfSquares<double>(w)), coefficients);
        TP.Divide(w, Math.Sqrt(Reductions.SumOfSquares<double>(w)), w);
    }

    private static void FillRandom(Span<double> x, SeededRandom random)
    {
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = random.NextUniform(-1, 1);
        }
    }
}
