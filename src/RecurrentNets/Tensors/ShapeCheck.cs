using System.Numerics;

namespace RecurrentNets.Tensors;

/// <summary>Shape checks whose messages name the argument and both shapes.</summary>
public static class ShapeCheck
{
    /// <summary>Throws unless <paramref name="tensor"/> has exactly the <paramref name="expected"/> shape.</summary>
    /// <param name="tensor">The tensor to check.</param>
    /// <param name="expected">The shape it must have.</param>
    /// <param name="paramName">The argument name used in the message.</param>
    /// <param name="meaning">What the dimensions mean, e.g. "[timeSteps, batchSize, inputSize]".</param>
    /// <exception cref="ArgumentNullException">The tensor is null.</exception>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static void Require<T>(Tensor<T> tensor, ReadOnlySpan<int> expected, string paramName, string? meaning = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensor, paramName);
        if (!tensor.HasShape(expected))
        {
            string suffix = meaning is null ? string.Empty : $" {meaning}";
            throw new ArgumentException(
                $"{paramName} has shape {Tensor<T>.FormatShape(tensor.Shape)} but {Tensor<T>.FormatShape(expected)}{suffix} is expected.",
                paramName);
        }
    }

    /// <summary>Throws unless <paramref name="span"/> has exactly <paramref name="expected"/> elements.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static void RequireLength<T>(ReadOnlySpan<T> span, int expected, string paramName, string? meaning = null)
    {
        if (span.Length != expected)
        {
            string suffix = meaning is null ? string.Empty : $" ({meaning})";
            throw new ArgumentException($"{paramName} has {span.Length} elements but {expected}{suffix} are expected.", paramName);
        }
    }

    /// <summary>
    /// The number of (x, y) pairs in <paramref name="positions"/>, after checking that it holds whole pairs and that
    /// <paramref name="rowsLength"/> is one row of <paramref name="width"/> values per position.
    /// </summary>
    /// <exception cref="ArgumentException">Half a pair, or a row count that disagrees; the message names both.</exception>
    internal static int PositionRows(ReadOnlySpan<double> positions, long rowsLength, int width, string rowsName, string widthMeaning)
    {
        if (positions.Length % 2 != 0)
        {
            throw new ArgumentException($"positions has {positions.Length} elements: not (x, y) pairs.", nameof(positions));
        }

        int rows = positions.Length / 2;
        if (rowsLength != (long)rows * width)
        {
            throw new ArgumentException($"{rowsName} has {rowsLength} elements but {rows} positions of {width} {widthMeaning} need {(long)rows * width}.", rowsName);
        }

        return rows;
    }

    /// <summary>
    /// Checks a time-major sequence [timeSteps, batchSize, inputSize] against the expected input size and returns its
    /// number of steps and batch size.
    /// </summary>
    /// <exception cref="ArgumentNullException">The input is null.</exception>
    /// <exception cref="ArgumentException">The input is not rank 3 or has the wrong number of features.</exception>
    internal static (int Steps, int Batch) RequireSequence<T>(Tensor<T> input, int inputSize, string owner, string paramName = "input")
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(input, paramName);
        if (input.Rank != 3)
        {
            throw new ArgumentException($"{paramName} has shape {Tensor<T>.FormatShape(input.Shape)} but a sequence [timeSteps, batchSize, inputSize] is expected.", paramName);
        }

        if (input.Size(2) != inputSize)
        {
            throw new ArgumentException($"{paramName} has {input.Size(2)} features (shape {Tensor<T>.FormatShape(input.Shape)}) but the {owner} expects {inputSize} (inputSize).", paramName);
        }

        return (input.Size(0), input.Size(1));
    }
}
