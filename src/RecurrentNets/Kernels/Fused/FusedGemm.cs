using System.Numerics;

namespace RecurrentNets.Kernels;

/// <summary>The one-row product that computes fused tiles of another product in its spare cycles (see README.md here).</summary>
internal static class FusedGemm
{
    /// <summary>
    /// c[1, N] (+)= a[1, K]·B on a packed B, as <see cref="Gemm.Compute{T}(bool, int, int, int, ReadOnlySpan{T}, int, PackedMatrix{T}, Span{T}, int, bool, bool)"/>
    /// with one row (the same bits), on the calling thread, with the pending panels of <paramref name="tiles"/> computed
    /// inside the same loop as far as the row product leaves room (see <see cref="FusedTiles{T}"/>). Only the 32-column
    /// panels of <paramref name="rowPanels"/> (a multiple of four of them) are computed when it is given, all of C
    /// otherwise. Fused tiles that <see cref="FusedTiles{T}.IsSupported"/> refuses, or none pending, leaves the plain product.
    /// </summary>
    public static unsafe void ComputeRow<T>(int n, int k, ReadOnlySpan<T> a, PackedMatrix<T> packed, Span<T> c,
        bool accumulate, bool reverse, FusedTiles<T> tiles, ReadOnlySpan<int> rowPanels = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = FusedTiles<T>.PanelWidth;
        bool whole = rowPanels.IsEmpty;
        if (!tiles.Pending || !FusedTiles<T>.IsSupported(packed, tiles.B) || packed.K != k || packed.N != n || a.Length < k || c.Length < n
            || (!whole && rowPanels.Length % 4 != 0))
        {
            if (whole)
            {
                Gemm.Compute(false, 1, n, k, a, k, packed, c, n, accumulate, reverse);
                return;
            }

            foreach (int panel in rowPanels)
                Gemm.ComputeColumns(1, n, k, a, k, packed, c, n, accumulate, panel * width, Math.Min(n, panel * width + width), reverse);
            return;
        }

        int panels = whole ? n / width : rowPanels.Length;
        int* list = stackalloc int[panels];
        for (int i = 0; i < panels; i++)
        {
            list[i] = whole ? i : rowPanels[i];
            if ((uint)list[i] >= (uint)(n / width))
                throw new ArgumentOutOfRangeException(nameof(rowPanels), list[i], $"A panel must lie in [0, {n / width}) for {n} columns.");
        }

        fixed (T* pa = a)
        fixed (T* pc = c)
        fixed (T* gc = tiles.CArray)
        {
            var state = tiles.State(gc);

            // K blocks of the row product in order, each over all the panels (every column adds its blocks in order, as
            // the plain product's row groups do); the fused tiles carries on from one block to the next.
            int ncPad = n;
            for (int pc0 = 0; pc0 < k; pc0 += GemmDriver.KC)
            {
                int kc = Math.Min(GemmDriver.KC, k - pc0);
                FusedTilesKernel.Run(kc, (float*)pa + pc0, (float*)packed.Data + (nint)ncPad * pc0, list, panels / 4, (float*)pc,
                    accumulate || pc0 > 0, reverse, ref state);
            }

            tiles.NextUnit = state.Next;
            tiles.Progress = (int)state.Progress;
        }
    }
}
