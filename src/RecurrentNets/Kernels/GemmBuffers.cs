using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RecurrentNets.Kernels;

/// <summary>Per-thread packing buffers, pinned (so raw pointers stay valid), 64-byte aligned, grown only when too small.</summary>
internal static unsafe class GemmBuffers<T>
    where T : unmanaged
{
    [ThreadStatic]
    private static T[]? packedA;

    [ThreadStatic]
    private static T[]? packedB;

    /// <summary>This thread's buffer for packed A, at least <paramref name="length"/> elements.</summary>
    public static T* A(int length) => Get(ref packedA, length);

    /// <summary>This thread's buffer for packed B, at least <paramref name="length"/> elements.</summary>
    public static T* B(int length) => Get(ref packedB, length);

    private static T* Get(ref T[]? array, int length)
    {
        int pad = 64 / sizeof(T);
        if (array is null || array.Length < length + pad)
            array = GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return (T*)((address + 63) & ~(nint)63);
    }
}
