using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RecurrentNets.Kernels;

namespace RecurrentNets.Tests.Kernels;

/// <summary>The layer's cache-line aligned buffers: element 0 on a 64-byte boundary, zeroed, bounds checked.</summary>
public class AlignedArrayTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(100_000)]
    public unsafe void ElementZeroIsOnACacheLineAndTheBufferIsZeroed(int length)
    {
        for (int i = 0; i < 8; i++)
        {
            var floats = AlignedArray<float>.Allocate(length);
            var doubles = AlignedArray<double>.Allocate(length);
            Assert.Equal(0, (long)Unsafe.AsPointer(ref MemoryMarshal.GetReference(floats.AsSpan())) % 64);
            Assert.Equal(0, (long)Unsafe.AsPointer(ref MemoryMarshal.GetReference(doubles.AsSpan())) % 64);
            Assert.Equal(length, floats.AsSpan().Length);
            Assert.True(floats.AsSpan().IndexOfAnyExcept(0f) < 0);
            Assert.Same(floats.Array, floats.Array);
            Assert.Equal(0f, floats.Array![floats.Offset]);
        }
    }

    [Fact]
    public void SpansOutsideTheBufferThrowAndDefaultIsEmpty()
    {
        var buffer = AlignedArray<float>.Allocate(10);
        Assert.Equal(4, buffer.AsSpan(6, 4).Length);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(6, 5));
        Assert.Contains("[6, 11)", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(11, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlignedArray<float>.Allocate(-1));
        AlignedArray<float> empty = default;
        Assert.Equal(0, empty.Length);
        Assert.True(empty.AsSpan().IsEmpty);
        Assert.True(empty.AsSpan(0, 0).IsEmpty);
    }
}
