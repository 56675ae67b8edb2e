using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Init;

/// <summary>Weight initialisers. All draw from a <see cref="SeededRandom"/>, so one seed gives bit-identical weights.</summary>
public static class Initializers
{
    /// <summary>Fills with U(<paramref name="low"/>, <paramref name="high"/>). PyTorch: <c>nn.init.uniform_</c>.</summary>
    public static void Uniform<T>(Span<T> values, double low, double high, SeededRandom random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!(high >= low))
        {
            throw new ArgumentOutOfRangeException(nameof(high), high, $"high must not be below low ({low}).");
        }

        for (int i = 0; i < values.Length; i++)
        {
            values[i] = T.CreateTruncating(random.NextUniform(low, high));
        }
    }

    /// <summary>
    /// PyTorch's default for recurrent layers: every weight and bias from U(-1/√H, 1/√H), H = hidden size
    /// (<c>nn.RNN/LSTM/GRU.reset_parameters</c>).
    /// </summary>
    public static void PyTorchRecurrentDefault<T>(ParameterView<T> view, int hiddenSize, SeededRandom random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        double bound = 1.0 / Math.Sqrt(hiddenSize);
        Uniform(view.Values, -bound, bound, random);
    }

    /// <summary>
    /// Glorot (Xavier) uniform: U(-a, a) with a = gain·√(6 / (fanIn + fanOut)), fanOut = Shape[0] / blocks,
    /// fanIn = Shape[1]. PyTorch: <c>nn.init.xavier_uniform_</c>; Keras: <c>glorot_uniform</c> (per gate when
    /// <paramref name="gateBlocks"/> &gt; 1).
    /// </summary>
    public static void GlorotUniform<T>(ParameterView<T> view, SeededRandom random, double gain = 1.0, int gateBlocks = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(view);
        (int rows, int columns) = Matrix2D(view);
        ArgumentOutOfRangeException.ThrowIfLessThan(gateBlocks, 1);
        double a = gain * Math.Sqrt(6.0 / (rows / gateBlocks + columns));
        Uniform(view.Values, -a, a, random);
    }

    /// <summary>
    /// A (semi-)orthogonal matrix per gate block, times <paramref name="gain"/>: each [H, columns] block of the stacked
    /// weight is Q of the QR decomposition (MathNet) of a standard normal matrix, with the signs of R's diagonal
    /// folded in so the distribution is uniform (Saxe et al. 2014). PyTorch: <c>nn.init.orthogonal_</c>; Keras's
    /// default <c>recurrent_initializer</c>.
    /// </summary>
    /// <param name="view">A weight [G·H, columns].</param>
    /// <param name="random">The random source.</param>
    /// <param name="gain">The scale.</param>
    /// <param name="gateBlocks">G, the row blocks made orthogonal independently.</param>
    public static void Orthogonal<T>(ParameterView<T> view, SeededRandom random, double gain = 1.0, int gateBlocks = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(random);
        (int rows, int columns) = Matrix2D(view);
        if (gateBlocks < 1 || rows % gateBlocks != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(gateBlocks), gateBlocks, $"{view.Name} has {rows} rows, which {gateBlocks} gate blocks do not divide.");
        }

        int blockRows = rows / gateBlocks;
        Span<T> values = view.Values;
        for (int g = 0; g < gateBlocks; g++)
        {
            // QR of the taller orientation gives orthonormal columns; transpose back if the block is wide.
            int tall = Math.Max(blockRows, columns), narrow = Math.Min(blockRows, columns);
            var m = Matrix<double>.Build.Dense(tall, narrow);
            for (int i = 0; i < tall; i++)
            {
                for (int j = 0; j < narrow; j++)
                {
                    m[i, j] = random.NextNormal();
                }
            }

            var qr = m.QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin);
            var q = qr.Q;
            var r = qr.R;
            for (int j = 0; j < narrow; j++)
            {
                if (r[j, j] < 0)
                {
                    q.SetColumn(j, q.Column(j).Negate());
                }
            }

            for (int i = 0; i < blockRows; i++)
            {
                for (int j = 0; j < columns; j++)
                {
                    double v = blockRows >= columns ? q[i, j] : q[j, i];
                    values[(g * blockRows + i) * columns + j] = T.CreateTruncating(gain * v);
                }
            }
        }
    }

    /// <summary>
    /// Identity per gate block times <paramref name="scale"/> (Le, Jaitly and Hinton 2015's IRNN: W_hh = I with
    /// relu units and zero biases).
    /// </summary>
    /// <exception cref="ArgumentException">A gate block is not square.</exception>
    public static void Identity<T>(ParameterView<T> view, double scale = 1.0, int gateBlocks = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(view);
        (int rows, int columns) = Matrix2D(view);
        if (gateBlocks < 1 || rows != gateBlocks * columns)
        {
            throw new ArgumentException($"{view.Name} has shape {Tensor<T>.FormatShape(view.Shape)}, which is not {gateBlocks} square blocks.", nameof(view));
        }

        Span<T> values = view.Values;
        values.Clear();
        for (int g = 0; g < gateBlocks; g++)
        {
            for (int i = 0; i < columns; i++)
            {
                values[(g * columns + i) * columns + i] = T.CreateTruncating(scale);
            }
        }
    }

    /// <summary>Sets every value to <paramref name="value"/> (e.g. zero biases, or Keras's <c>unit_forget_bias</c> block).</summary>
    public static void Constant<T>(Span<T> values, double value)
        where T : unmanaged, IFloatingPointIeee754<T>
        => values.Fill(T.CreateTruncating(value));

    private static (int Rows, int Columns) Matrix2D<T>(ParameterView<T> view)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (view.Shape.Length != 2)
        {
            throw new ArgumentException($"{view.Name} has shape {Tensor<T>.FormatShape(view.Shape)}; a matrix is expected.", nameof(view));
        }

        return (view.Shape[0], view.Shape[1]);
    }
}
