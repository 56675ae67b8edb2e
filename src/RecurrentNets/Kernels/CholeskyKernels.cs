using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RecurrentNets.Kernels;

/// <summary>
/// Cholesky factorisation A = L·Lᵀ and the two triangular solves, in double, for the ridge readout's normal
/// equations. Row-oriented (Cholesky-Crout): every inner product runs over two contiguous rows of L. The inner products
/// and the back substitution's updates are compensated (<see cref="Reductions.CompensatedDot"/>: as if in twice the
/// precision of double), in an order fixed by the code, so the bits are the same on every vector path. The naive twin is
/// <c>Reference.ReferenceCholesky</c>.
/// </summary>
/// <remarks>
/// <para>Legend: N = order of A; matrices are row-major [N, N]; only the lower triangle of A is read.</para>
/// <para>
/// Why compensated: the ridge readout's systems at λ = 1e-12 have condition numbers near 10¹⁵, where the rounding of
/// plain inner products (about n·ε·|L|·|Lᵀ|) turns small pivots negative or moves the solution by more than its own
/// size; compensated, each entry of L and of the solution carries about one rounding of its own value. It costs about
/// five times the plain dot products, a small part of a fit next to the Gram's accumulation (docs/reservoirs.md).
/// </para>
/// </remarks>
public static class CholeskyKernels
{
    /// <summary>Overwrites the lower triangle of <paramref name="a"/> with L; returns false if A is not numerically positive definite.</summary>
    /// <param name="a">A [N, N] row-major; on return its lower triangle holds L (the upper triangle is untouched).</param>
    /// <param name="n">N.</param>
    /// <exception cref="ArgumentException"><paramref name="a"/> has fewer than N² elements.</exception>
    /// <remarks>L[i, j] = (A[i, j] - Σ_{k&lt;j} L[i, k]·L[j, k]) / L[j, j], L[i, i] = √(A[i, i] - Σ_{k&lt;i} L[i, k]²), each
    /// bracket one <see cref="Reductions.CompensatedDot"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Factor(Span<double> a, int n)
    {
        if (a.Length < (long)n * n)
        {
            throw new ArgumentException($"a has {a.Length} elements but {n}² are needed", nameof(a));
        }

        for (int i = 0; i < n; i++)
        {
            var li = a.Slice(i * n, n);
            for (int j = 0; j < i; j++)
            {
                // c - Σ x·y as -(-c + Σ x·y): the negations are exact.
                li[j] = -Reductions.CompensatedDot(li[..j], a.Slice(j * n, j), -li[j]) / a[j * n + j];
            }

            double d = -Reductions.CompensatedDot(li[..i], li[..i], -li[i]);
            if (!(d > 0) || !double.IsFinite(d))
            {
                return false;
            }

            li[i] = Math.Sqrt(d);
        }

        return true;
    }

    /// <summary>Solves L·Lᵀ·x = b in place for each of the <paramref name="columns"/> right-hand sides stored as rows of <paramref name="b"/>.</summary>
    /// <param name="l">L from <see cref="Factor"/> [N, N].</param>
    /// <param name="n">N.</param>
    /// <param name="b">[columns, N]: right-hand sides in, solutions out.</param>
    /// <param name="columns">Number of right-hand sides.</param>
    /// <remarks>
    /// Forward: y[i] = (b[i] - Σ_{k&lt;i} L[i, k]·y[k]) / L[i, i], one compensated dot per row. Backward, by columns of
    /// Lᵀ (rows of L, contiguous): x[i] = (y[i] + e[i]) / L[i, i], then for k &lt; i, y[k] -= L[i, k]·x[i] split exactly
    /// into the new y[k] and an error added to e[k] (the dot's lane update, one lane per k, so any vector width gives
    /// the same bits).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Solve(ReadOnlySpan<double> l, int n, Span<double> b, int columns)
    {
        var rented = ArrayPool<double>.Shared.Rent(n);
        var errors = rented.AsSpan(0, n);
        for (int c = 0; c < columns; c++)
        {
            var x = b.Slice(c * n, n);
            for (int i = 0; i < n; i++)
            {
                x[i] = -Reductions.CompensatedDot(l.Slice(i * n, i), x[..i], -x[i]) / l[i * n + i];
            }

            errors.Clear();
            for (int i = n - 1; i >= 0; i--)
            {
                x[i] = (x[i] + errors[i]) / l[i * n + i];
                SubtractScaled(l.Slice(i * n, i), x[i], x[..i], errors[..i]);
            }
        }

        ArrayPool<double>.Shared.Return(rented);
    }

    /// <summary>y[k] - a·v[k] = y'[k] + t[k] exactly (TwoProduct, TwoSum); y[k] = y'[k], e[k] += q[k] + t[k].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SubtractScaled(ReadOnlySpan<double> v, double a, Span<double> y, Span<double> e)
    {
        ref double vr = ref MemoryMarshal.GetReference(v);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double er = ref MemoryMarshal.GetReference(e);
        int n = v.Length, w = Vector<double>.Count, body = n - n % w;
        var va = new Vector<double>(-a);
        for (int i = 0; i < body; i += w)
        {
            var vi = Vector.LoadUnsafe(ref vr, (nuint)i);
            var yi = Vector.LoadUnsafe(ref yr, (nuint)i);
            var p = va * vi;
            var q = ExactFma.MultiplyAdd(va, vi, -p);
            var sum = yi + p;
            var z = sum - yi;
            (Vector.LoadUnsafe(ref er, (nuint)i) + (q + ((yi - (sum - z)) + (p - z)))).StoreUnsafe(ref er, (nuint)i);
            sum.StoreUnsafe(ref yr, (nuint)i);
        }

        for (int i = body; i < n; i++)
        {
            double vi = Unsafe.Add(ref vr, i), yi = Unsafe.Add(ref yr, i), p = -a * vi;
            double q = Math.FusedMultiplyAdd(-a, vi, -p);
            double sum = yi + p, z = sum - yi;
            Unsafe.Add(ref er, i) += q + ((yi - (sum - z)) + (p - z));
            Unsafe.Add(ref yr, i) = sum;
        }
    }
}
