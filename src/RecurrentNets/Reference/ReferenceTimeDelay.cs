using System.Numerics;
using RecurrentNets.Layers;

namespace RecurrentNets.Reference;

/// <summary>
/// The naive twin of <see cref="TimeDelayLayer{T}"/>: plain loops over t, b, o, d, i in double precision, the
/// numerical specification the GEMM form is tested against.
/// </summary>
/// <remarks>
/// Legend: T = timeSteps, B = batchSize, I = inputSize, O = outputSize, K = kernelSize, δ = dilation.
/// y[t, b, o] = f(bias[o] + Σ_{d, i} weight[o, i, K-1-d] · x[t - d·δ, b, i]), frames before t = 0 being zero.
/// </remarks>
public static class ReferenceTimeDelay
{
    /// <summary>y = f(a) for one value.</summary>
    public static double Activate(Activation activation, double a) => activation switch
    {
        Activation.Identity => a,
        Activation.Tanh => Math.Tanh(a),
        Activation.Relu => Math.Max(a, 0),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-a)),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>f'(a) from h = f(a).</summary>
    public static double ActivationDerivative(Activation activation, double h) => activation switch
    {
        Activation.Identity => 1,
        Activation.Tanh => 1 - h * h,
        Activation.Relu => h > 0 ? 1 : 0,
        Activation.Sigmoid => h * (1 - h),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>The forward pass.</summary>
    /// <param name="input">x, [T, B, I].</param>
    /// <param name="weight">W, [O, I, K] (PyTorch's Conv1d layout).</param>
    /// <param name="bias">b, [O], or empty for none.</param>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="kernelSize">K.</param>
    /// <param name="dilation">δ.</param>
    /// <param name="activation">f.</param>
    /// <param name="output">Receives y, [T, B, O].</param>
    public static void Forward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int timeSteps, int batchSize,
        int inputSize, int outputSize, int kernelSize, int dilation, Activation activation, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int t = 0; t < timeSteps; t++)
        {
            for (int b = 0; b < batchSize; b++)
            {
                for (int o = 0; o < outputSize; o++)
                {
                    double a = bias.IsEmpty ? 0 : double.CreateTruncating(bias[o]);
                    for (int d = 0; d < kernelSize; d++)
                    {
                        int source = t - d * dilation;
                        if (source < 0)
                        {
                            continue;
                        }

                        for (int i = 0; i < inputSize; i++)
                        {
                            a += double.CreateTruncating(weight[(o * inputSize + i) * kernelSize + kernelSize - 1 - d])
                                * double.CreateTruncating(input[(source * batchSize + b) * inputSize + i]);
                        }
                    }

                    output[(t * batchSize + b) * outputSize + o] = T.CreateTruncating(Activate(activation, a));
                }
            }
        }
    }

    /// <summary>The backward pass: adds dL/dW and dL/db, overwrites dL/dx.</summary>
    /// <param name="input">x of the forward pass, [T, B, I].</param>
    /// <param name="output">y of the forward pass, [T, B, O].</param>
    /// <param name="dOutput">dL/dy, [T, B, O].</param>
    /// <param name="weight">W, [O, I, K].</param>
    /// <param name="timeSteps">T.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="kernelSize">K.</param>
    /// <param name="dilation">δ.</param>
    /// <param name="activation">f.</param>
    /// <param name="dWeight">dL/dW, [O, I, K] (accumulated).</param>
    /// <param name="dBias">dL/db, [O] (accumulated), or empty.</param>
    /// <param name="dInput">dL/dx, [T, B, I] (overwritten), or empty.</param>
    public static void Backward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> output, ReadOnlySpan<T> dOutput, ReadOnlySpan<T> weight,
        int timeSteps, int batchSize, int inputSize, int outputSize, int kernelSize, int dilation, Activation activation,
        Span<T> dWeight, Span<T> dBias, Span<T> dInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dW = new double[dWeight.Length];
        var db = new double[outputSize];
        var dX = new double[input.Length];
        for (int t = 0; t < timeSteps; t++)
        {
            for (int b = 0; b < batchSize; b++)
            {
                for (int o = 0; o < outputSize; o++)
                {
                    int row = (t * batchSize + b) * outputSize + o;
                    double da = double.CreateTruncating(dOutput[row]) * ActivationDerivative(activation, double.CreateTruncating(output[row]));
                    db[o] += da;
                    for (int d = 0; d < kernelSize; d++)
                    {
                        int source = t - d * dilation;
                        if (source < 0)
                        {
                            continue;
                        }

                        for (int i = 0; i < inputSize; i++)
                        {
                            int w = (o * inputSize + i) * kernelSize + kernelSize - 1 - d;
                            int x = (source * batchSize + b) * inputSize + i;
                            dW[w] += da * double.CreateTruncating(input[x]);
                            dX[x] += da * double.CreateTruncating(weight[w]);
                        }
                    }
                }
            }
        }

        for (int w = 0; w < dW.Length; w++)
        {
            dWeight[w] += T.CreateTruncating(dW[w]);
        }

        for (int o = 0; o < db.Length && !dBias.IsEmpty; o++)
        {
            dBias[o] += T.CreateTruncating(db[o]);
        }

        for (int x = 0; x < dX.Length && !dInput.IsEmpty; x++)
        {
            dInput[x] = T.CreateTruncating(dX[x]);
        }
    }
}
