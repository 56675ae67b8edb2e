using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Foundation;

public class TensorAndParameterTests
{
    [Fact]
    public void StepsAndRowsAreRowMajorViews()
    {
        var t = new Tensor<float>(3, 2, 4);
        for (int i = 0; i < t.Length; i++)
        {
            t.Data[i] = i;
        }

        Assert.Equal(new float[] { 8, 9, 10, 11, 12, 13, 14, 15 }, t.Step(1).ToArray());
        Assert.Equal(new float[] { 20, 21, 22, 23 }, t.Row(2, 1).ToArray());
        Assert.Equal(13f, t[1, 1, 1]);
        t.Row(0, 1)[0] = -1;
        Assert.Equal(-1f, t.Data[4]);
        Assert.Equal("Tensor<Single>[3, 2, 4]", t.ToString());
    }

    [Fact]
    public void BadShapesAndIndicesGetClearErrors()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor<float>.FromArray(new float[5], 2, 3));
        Assert.Contains("5 elements", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Throws<ArgumentException>(() => new Tensor<double>(2, -1));
        Assert.Throws<ArgumentException>(() => new Tensor<double>());
        var t = new Tensor<double>(2, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Step(2));
        Assert.Throws<InvalidOperationException>(() => t.Row(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => t[0, 3]);
        Assert.Throws<ArgumentException>(() => t.Reshape(4, 2));
        Assert.Equal([3, 2], t.Reshape(3, 2).Shape.ToArray());
        var shapeEx = Assert.Throws<ArgumentException>(() => ShapeCheck.Require(t, [3, 2], "x", "[rows, columns]"));
        Assert.Equal("x has shape [2, 3] but [3, 2] [rows, columns] is expected. (Parameter 'x')", shapeEx.Message);
    }

    [Fact]
    public void ParameterBlockKeepsOneFlatLayoutWithNamedViews()
    {
        var block = new ParameterBlock<float>();
        var a = block.Add("weight_ih_l0", 4, 3);
        var b = block.Add("bias_ih_l0", 4);
        Assert.Equal(16, block.Length);
        Assert.Equal(12, b.Offset);
        a.Values[0] = 7;
        b.Gradients[3] = 2;
        Assert.Equal(7f, block.Values[0]);
        Assert.Equal(2f, block.Gradients[15]);
        Assert.Same(b, block["bias_ih_l0"]);
        var missing = Assert.Throws<KeyNotFoundException>(() => block["bias_hh_l0"]);
        Assert.Contains("weight_ih_l0", missing.Message);
        Assert.Throws<ArgumentException>(() => block.Add("bias_ih_l0", 2));
        var copyEx = Assert.Throws<ArgumentException>(() => a.CopyFrom(new float[11]));
        Assert.Contains("[4, 3]", copyEx.Message);
        block.ZeroGradients();
        Assert.All(block.Gradients, g => Assert.Equal(0f, g));
        block.Freeze();
        Assert.Throws<InvalidOperationException>(() => block.Add("more", 1));
        Assert.Throws<NotSupportedException>(() => new ParameterBlock<Half>());
    }
}
