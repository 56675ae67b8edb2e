using System.Numerics;

namespace RecurrentNets.Reference;

/// <summary>Naive twins of <see cref="Kernels.SparseKernels"/> and <see cref="Kernels.GramKernels"/>: plain loops, the numerical specification.</summary>
public static class ReferenceSparse
{
    /// <summary>next[i] = decay·x[i] + gain·f(bias[i] + Σ_j Wd[i, j]·d[j] + Σ_k W[i, k]·x[k]), row by row.</summary>
    public static void LeakyStep<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> state, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drive, ReadOnlySpan<T> bias,
        T decay, T gain, Activation activation, Span<T> nextState)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = rowPointers.Length - 1;
        int d = drive.Length;
        for (int i = 0; i < n; i++)
        {
            T s = bias.IsEmpty ? T.Zero : bias[i];
            for (int j = 0; j < d; j++)
            {
                s += driveWeights[i * d + j] * drive[j];
            }

            for (int p = rowPointers[i]; p < rowPointers[i + 1]; p++)
            {
                s += values[p] * state[columnIndices[p]];
            }

            T f = activation switch
            {
                Activation.Tanh => T.Tanh(s),
                Activation.Identity => s,
                Activation.Sigmoid => T.One / (T.One + T.Exp(-s)),
                Activation.Relu => T.Max(s, T.Zero),
                _ => throw new ArgumentOutOfRangeException(nameof(activation)),
            };
            nextState[i] = decay * state[i] + gain * f;
        }
    }

    /// <summary>The batched step: <see cref="LeakyStep{T}"/> on each stream b of states [B, N] and drives [B, D].</summary>
    public static void LeakyStepBatch<T>(ReadOnlySpan<int> rowPointers, ReadOnlySpan<int> columnIndices, ReadOnlySpan<T> values,
        ReadOnlySpan<T> states, ReadOnlySpan<T> driveWeights, ReadOnlySpan<T> drives, ReadOnlySpan<T> bias,
        T decay, T gain, Activation activation, int batchSize, Span<T> nextStates)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = rowPointers.Length - 1;
        int d = batchSize == 0 ? 0 : drives.Length / batchSize;
        for (int b = 0; b < batchSize; b++)
        {
            LeakyStep(rowPointers, columnIndices, values, states.Slice(b * n, n), driveWeights, drives.Slice(b * d, d), bias,
                decay, gain, activation, nextStates.Slice(b * n, n));
        }
    }

    /// <summary>gram[i, j] += Σ_r x[r, i]·x[r, j] for j ≥ i (upper triangle), x row-major [rows, columns].</summary>
    public static void AccumulateGramUpper(ReadOnlySpan<double> x, int rows, int columns, Span<double> gram)
    {
        for (int i = 0; i < columns; i++)
        {
            for (int j = i; j < columns; j++)
            {
                double s = 0;
                for (int r = 0; r < rows; r++)
                {
                    s += x[r * columns + i] * x[r * columns + j];
                }

                gram[i * columns + j] += s;
            }
        }
    }
}
