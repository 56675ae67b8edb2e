using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RecurrentNets.Kernels;

/// <summary>
/// A B operand packed once (<see cref="Gemm.Pack{T}"/>) for many products <see cref="Gemm.Compute{T}(bool, int, int, int, ReadOnlySpan{T}, int, PackedMatrix{T}, Span{T}, int, bool, bool)"/>:
/// op(B)[K, N] laid out exactly as the blocked driver consumes packed B, per (jc, pc) block of NC x KC as NR-column
/// micro-panels (kc steps of NR values, the last panel zero-padded). Block (jc, pc) starts at jc·K + RoundUp(nc, NR)·pc.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
internal sealed unsafe class PackedMatrix<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Storage storage;

    /// <summary>A matrix with memory of its own.</summary>
    public PackedMatrix()
    {
        storage = new Storage();
    }

    /// <summary>
    /// A matrix that shares its memory with <paramref name="partner"/>, for two packed copies that are never needed at
    /// the same time (a training pass's forward and backward packings of one weight matrix): packing one marks the other
    /// as not packed. An LSTM layer's packings at H = 512 take 8 MB instead of 16 (32 instead of 64 at H = 1024); the
    /// speed did not change (each packing still reads its weights from memory: 0.8-1.0 ms at H = 512 when they are not
    /// cached).
    /// </summary>
    public PackedMatrix(PackedMatrix<T> partner)
    {
        ArgumentNullException.ThrowIfNull(partner);
        storage = partner.storage;
    }

    /// <summary>K, the rows of op(B).</summary>
    public int K { get; private set; }

    /// <summary>N, the columns of op(B).</summary>
    public int N { get; private set; }

    /// <summary>The kernel path (and so NR) the matrix was packed for; products with it run on that path.</summary>
    public GemmPath Path { get; private set; }

    /// <summary>Whether <see cref="Gemm.Pack{T}"/> has filled the matrix.</summary>
    public bool IsPacked => Path != GemmPath.Auto;

    /// <summary>The packed elements, 64-byte aligned, in pinned memory.</summary>
    internal T* Data => storage.Data;

    /// <summary>Sets the shape and path and makes room for RoundUp(N, NR)·K elements, allocating only when it grows.</summary>
    internal void Reset(int k, int n, GemmPath path, int nr)
    {
        long needed = (long)(n + nr - 1) / nr * nr * k;
        int pad = 64 / sizeof(T);
        if (storage.Array.Length < needed + pad)
        {
            storage.Array = GC.AllocateUninitializedArray<T>(checked((int)needed + pad), pinned: true);
            nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage.Array));
            storage.Data = (T*)((address + 63) & ~(nint)63);
        }

        if (storage.Owner is { } previous && previous != this)
        {
            previous.Invalidate();
        }

        storage.Owner = this;
        K = k;
        N = n;
        Path = path;
    }

    /// <summary>Marks the matrix as not packed (its memory is kept).</summary>
    public void Invalidate() => Path = GemmPath.Auto;

    // The memory of one matrix or of two partners, and which of them packed into it last.
    private sealed class Storage
    {
        public T[] Array = [];
        public T* Data;
        public PackedMatrix<T>? Owner;
    }
}
