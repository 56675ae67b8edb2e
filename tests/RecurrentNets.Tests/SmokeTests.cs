using RecurrentNets.Kernels;

namespace RecurrentNets.Tests;

public class SmokeTests
{
    [Fact]
    public void GemmMultipliesTwoByTwo()
    {
        float[] a = [1, 2, 3, 4];
        float[] b = [5, 6, 7, 8];
        var c = new float[4];
        Gemm.Multiply<float>(a, b, c, 2, 2, 2);
        Assert.Equal([19f, 22f, 43f, 50f], c);
    }
}
