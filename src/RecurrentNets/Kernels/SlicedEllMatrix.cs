using System.Numerics;

namespace RecurrentNets.Kernels;

/// <summary>
/// A CSR matrix re-laid for row products with vector lanes over rows: SELL-C-σ (Kreutzer, Hager, Wellein, Fehske &amp;
/// Bishop 2014). Within each block of 256 rows the rows are sorted by length (longest first, stable, σ = 256), then cut
/// into chunks of C rows; slot k of a chunk holds the k-th entry of each of its C rows side by side, so one vector load
/// gives C values and C column indices. Rows shorter than the chunk's longest are padded (value 0, a column of the row);
/// the kernel masks the padding out.
/// </summary>
/// <remarks>
/// Legend: C = lanes (rows per chunk), L = entries of a row. Element (slot k, lane r) of chunk c is at
/// <see cref="ChunkOffsets"/>[c] + k·C + r. Sorting never moves a row out of its block of 256, so a split of the rows at
/// multiples of 256 splits the chunks too.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class SlicedEllMatrix<T>(int rows, int lanes, int[] blockChunks, int[] chunkOffsets, int[] chunkGroups,
    int[] chunkFirstRow, bool[] chunkUniform, int[] chunkRows, int[] laneRows, T[] laneGroupEnd, T[] laneLength, int[] columnIndices,
    T[] values)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows per sorting block (the fused step's block of rows).</summary>
    public const int BlockRows = 256;

    /// <summary>Rows of the matrix.</summary>
    public int Rows { get; } = rows;

    /// <summary>C: rows per chunk (the vector's lane count).</summary>
    public int Lanes { get; } = lanes;

    /// <summary>[blocks + 1]: the chunks of block b are [BlockChunks[b], BlockChunks[b + 1]).</summary>
    public int[] BlockChunks { get; } = blockChunks;

    /// <summary>[chunks + 1]: the first element of each chunk; a chunk has (ChunkOffsets[c + 1] − ChunkOffsets[c]) / C slots.</summary>
    public int[] ChunkOffsets { get; } = chunkOffsets;

    /// <summary>[chunks]: the leading groups of four slots that every lane's row fills (the shortest row's L / 4).</summary>
    public int[] ChunkGroups { get; } = chunkGroups;

    /// <summary>[chunks]: the first row when the lanes hold rows first .. first + C − 1 in order (one vector load and store
    /// of the sums); otherwise −1.</summary>
    public int[] ChunkFirstRow { get; } = chunkFirstRow;

    /// <summary>[chunks]: every lane holds a row and all have one length (the tail slots need no mask).</summary>
    public bool[] ChunkUniform { get; } = chunkUniform;

    /// <summary>[chunks]: lanes holding a row (empty lanes come last, only in a block's last chunk).</summary>
    public int[] ChunkRows { get; } = chunkRows;

    /// <summary>[chunks · C]: the row in each lane (an empty lane repeats the chunk's first row and is never stored).</summary>
    public int[] LaneRows { get; } = laneRows;

    /// <summary>[chunks · C]: 4·⌊L / 4⌋ of each lane's row as T: slots below it go to accumulator k mod 4, the rest to the first.</summary>
    public T[] LaneGroupEnd { get; } = laneGroupEnd;

    /// <summary>[chunks · C]: L of each lane's row as T (0 for an empty lane).</summary>
    public T[] LaneLength { get; } = laneLength;

    /// <summary>Column of each slot and lane (padding: a column of the lane's row, or 0).</summary>
    public int[] ColumnIndices { get; } = columnIndices;

    /// <summary>Value of each slot and lane (padding: 0).</summary>
    public T[] Values { get; } = values;

    /// <summary>Lays out a CSR matrix in chunks of <paramref name="lanes"/> rows.</summary>
    public static SlicedEllMatrix<T> FromCsr(int rows, int[] rowPointers, int[] columnIndices, T[] values, int lanes)
    {
        int blocks = (rows + BlockRows - 1) / BlockRows;
        var blockChunks = new int[blocks + 1];
        int chunks = 0;
        long elements = 0;
        var order = new int[BlockRows];

        // First pass: the order of each block and the size of everything.
        for (int b = 0; b < blocks; b++)
        {
            int r0 = b * BlockRows, len = Math.Min(BlockRows, rows - r0);
            SortBlock(rowPointers, r0, len, order);
            for (int s = 0; s < len; s += lanes)
            {
                elements += (long)Length(rowPointers, order[s]) * lanes;
                chunks++;
            }

            blockChunks[b + 1] = chunks;
        }

        var chunkOffsets = new int[chunks + 1];
        var chunkGroups = new int[chunks];
        var chunkFirstRow = new int[chunks];
        var chunkUniform = new bool[chunks];
        var chunkRows = new int[chunks];
        var laneRows = new int[chunks * lanes];
        var laneGroupEnd = new T[chunks * lanes];
        var laneLength = new T[chunks * lanes];
        var idx = new int[checked((int)elements)];
        var val = new T[elements];
        int c = 0, at = 0;
        for (int b = 0; b < blocks; b++)
        {
            int r0 = b * BlockRows, len = Math.Min(BlockRows, rows - r0);
            SortBlock(rowPointers, r0, len, order);
            for (int s = 0; s < len; s += lanes, c++)
            {
                int m = Math.Min(lanes, len - s);
                int slots = Length(rowPointers, order[s]); // the longest: sorted longest first
                int shortest = m < lanes ? 0 : Length(rowPointers, order[s + m - 1]);
                bool inOrder = m == lanes;
                for (int r = 1; r < m && inOrder; r++)
                {
                    inOrder = order[s + r] == order[s] + r;
                }

                chunkOffsets[c] = at;
                chunkGroups[c] = shortest / 4;
                chunkFirstRow[c] = inOrder ? order[s] : -1;
                chunkUniform[c] = m == lanes && shortest == slots;
                chunkRows[c] = m;
                for (int r = 0; r < lanes; r++)
                {
                    int row = r < m ? order[s + r] : order[s];
                    int l = r < m ? Length(rowPointers, row) : 0;
                    laneRows[(c * lanes) + r] = row;
                    laneGroupEnd[(c * lanes) + r] = T.CreateTruncating(l / 4 * 4);
                    laneLength[(c * lanes) + r] = T.CreateTruncating(l);
                    int p0 = rowPointers[row];
                    for (int k = 0; k < slots; k++)
                    {
                        int e = at + (k * lanes) + r;
                        if (k < l)
                        {
                            idx[e] = columnIndices[p0 + k];
                            val[e] = values[p0 + k];
                        }
                        else
                        {
                            idx[e] = l > 0 ? columnIndices[p0] : 0;
                            val[e] = T.Zero;
                        }
                    }
                }

                at += slots * lanes;
            }
        }

        chunkOffsets[chunks] = at;
        return new SlicedEllMatrix<T>(rows, lanes, blockChunks, chunkOffsets, chunkGroups, chunkFirstRow, chunkUniform, chunkRows, laneRows,
            laneGroupEnd, laneLength, idx, val);
    }

    private static int Length(int[] rowPointers, int row) => rowPointers[row + 1] - rowPointers[row];

    /// <summary>order[0..len) = the rows r0 .. r0 + len − 1 by length, longest first, ties in row order (a counting sort).</summary>
    private static void SortBlock(int[] rowPointers, int r0, int len, int[] order)
    {
        int longest = 0;
        for (int i = 0; i < len; i++)
        {
            longest = Math.Max(longest, Length(rowPointers, r0 + i));
        }

        var start = new int[longest + 2];
        for (int i = 0; i < len; i++)
        {
            start[longest - Length(rowPointers, r0 + i) + 1]++;
        }

        for (int k = 1; k < start.Length; k++)
        {
            start[k] += start[k - 1];
        }

        for (int i = 0; i < len; i++)
        {
            order[start[longest - Length(rowPointers, r0 + i)]++] = r0 + i;
        }
    }
}
