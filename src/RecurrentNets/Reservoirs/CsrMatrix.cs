using System.Numerics;
using RecurrentNets.Kernels;

namespace RecurrentNets.Reservoirs;

/// <summary>
/// A sparse matrix in compressed sparse row form (row pointers, column indices, values): the storage of reservoir
/// weights, whose memory grows with the number of nonzeros only.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CsrMatrix<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a matrix from its CSR arrays (not copied), checking their consistency once.</summary>
    /// <param name="rows">Number of rows.</param>
    /// <param name="columns">Number of columns.</param>
    /// <param name="rowPointers">[rows + 1], non-decreasing, from 0 to nnz.</param>
    /// <param name="columnIndices">[nnz], each in [0, columns).</param>
    /// <param name="values">[nnz].</param>
    /// <exception cref="ArgumentException">The arrays are inconsistent (the message names which).</exception>
    public CsrMatrix(int rows, int columns, int[] rowPointers, int[] columnIndices, T[] values)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        ArgumentNullException.ThrowIfNull(rowPointers);
        ArgumentNullException.ThrowIfNull(columnIndices);
        ArgumentNullException.ThrowIfNull(values);
        if (rowPointers.Length != rows + 1)
        {
            throw new ArgumentException($"rowPointers has {rowPointers.Length} entries but {rows} rows need {rows + 1}", nameof(rowPointers));
        }

        if (columnIndices.Length != values.Length)
        {
            throw new ArgumentException($"columnIndices has {columnIndices.Length} entries but values has {values.Length}", nameof(columnIndices));
        }

        if (rowPointers[0] != 0 || rowPointers[rows] != values.Length)
        {
            throw new ArgumentException($"rowPointers must run from 0 to nnz = {values.Length}", nameof(rowPointers));
        }

        for (int i = 0; i < rows; i++)
        {
            if (rowPointers[i + 1] < rowPointers[i])
            {
                throw new ArgumentException($"rowPointers decreases at row {i}", nameof(rowPointers));
            }
        }

        foreach (int c in columnIndices)
        {
            if ((uint)c >= (uint)columns)
            {
                throw new ArgumentException($"column index {c} is outside [0, {columns})", nameof(columnIndices));
            }
        }

        Rows = rows;
        Columns = columns;
        RowPointers = rowPointers;
        ColumnIndices = columnIndices;
        Values = values;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Columns { get; }

    /// <summary>Row pointers [Rows + 1].</summary>
    public int[] RowPointers { get; }

    /// <summary>Column indices [NonZeros].</summary>
    public int[] ColumnIndices { get; }

    /// <summary>Values [NonZeros].</summary>
    public T[] Values { get; }

    /// <summary>Number of stored entries.</summary>
    public int NonZeros => Values.Length;

    /// <summary>y = A·x.</summary>
    /// <param name="x">[Columns].</param>
    /// <param name="y">[Rows]; must not overlap x.</param>
    /// <exception cref="ArgumentException">A length does not match.</exception>
    public void Multiply(ReadOnlySpan<T> x, Span<T> y)
    {
        if (x.Length != Columns)
        {
            throw new ArgumentException($"x has {x.Length} elements but the matrix has {Columns} columns", nameof(x));
        }

        if (y.Length != Rows)
        {
            throw new ArgumentException($"y has {y.Length} elements but the matrix has {Rows} rows", nameof(y));
        }

        SparseKernels.Multiply<T>(RowPointers, ColumnIndices, Values, x, y);
    }

    /// <summary>Multiplies every value by <paramref name="factor"/> in place.</summary>
    public void Scale(T factor)
    {
        System.Numerics.Tensors.TensorPrimitives.Multiply(Values, factor, Values);
    }

    /// <summary>The same matrix in another precision (structure arrays shared, values converted).</summary>
    public CsrMatrix<TOther> Convert<TOther>()
        where TOther : unmanaged, IFloatingPointIeee754<TOther>
    {
        var v = new TOther[Values.Length];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = TOther.CreateTruncating(Values[i]);
        }

        return new CsrMatrix<TOther>(Rows, Columns, RowPointers, ColumnIndices, v);
    }

    /// <summary>The dense row-major copy [Rows, Columns] (for small matrices only).</summary>
    public T[] ToDense()
    {
        var d = new T[(long)Rows * Columns];
        for (int i = 0; i < Rows; i++)
        {
            for (int p = RowPointers[i]; p < RowPointers[i + 1]; p++)
            {
                d[(long)i * Columns + ColumnIndices[p]] += Values[p];
            }
        }

        return d;
    }

    /// <summary>The CSR form of a dense row-major matrix, keeping nonzero entries only.</summary>
    /// <exception cref="ArgumentException">The length is not rows × columns.</exception>
    public static CsrMatrix<T> FromDense(ReadOnlySpan<T> dense, int rows, int columns)
    {
        if (dense.Length != (long)rows * columns)
        {
            throw new ArgumentException($"dense has {dense.Length} elements but {rows} × {columns} are needed", nameof(dense));
        }

        var ptr = new int[rows + 1];
        int nnz = 0;
        foreach (var v in dense)
        {
            if (v != T.Zero)
            {
                nnz++;
            }
        }

        var idx = new int[nnz];
        var val = new T[nnz];
        int k = 0;
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                T v = dense[i * columns + j];
                if (v != T.Zero)
                {
                    idx[k] = j;
                    val[k++] = v;
                }
            }

            ptr[i + 1] = k;
        }

        return new CsrMatrix<T>(rows, columns, ptr, idx, val);
    }
}
