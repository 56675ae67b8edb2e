using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Data;

/// <summary>
/// The adding problem, a long-lag regression task: a sequence of (value, marker) pairs in which exactly two pairs are
/// marked, and the target at the last step is a function of the two marked values.
/// </summary>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize. Input is time-major [T, B, 2]: channel 0 the value, channel 1 the marker.
/// Targets are [B], one per sequence, to be predicted from the output of the last step.</para>
/// <para><b>Uniform form</b> (<see cref="Generate{T}(SeededRandom, Tensor{T}, Span{T})"/>): Le, Jaitly and Hinton 2015,
/// "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units" (arXiv 1504.00941), and Arjovsky, Shah and
/// Bengio 2016, "Unitary Evolution Recurrent Neural Networks" (arXiv 1511.06464). Values are drawn from U(0, 1); the
/// marker is 1 at exactly one position drawn uniformly from the first half [0, ⌊T/2⌋) and at exactly one position drawn
/// uniformly from the second half [⌊T/2⌋, T), and 0 elsewhere; the target is the sum of the two marked values. Predicting
/// the constant 1 gives MSE Var(X1 + X2) = 2/12 = 1/6 ≈ 0.167 (<see cref="ConstantBaselineMse"/>); the usual success
/// criterion is a held-out MSE well below it (we use &lt; 0.01).</para>
/// <para><b>Hochreiter and Schmidhuber 1997 form</b> (<see cref="GenerateHochreiter1997{T}"/>): "Long Short-Term Memory",
/// Neural Computation 9(8), experiment 4. Values are drawn from U(-1, 1); one pair among the first ten is marked 1
/// (its value X1), then one of the still unmarked pairs among the first T/2 - 1 is marked 1 (X2); the marker of the first
/// and of the last pair is -1 (unless marked 1), every other marker 0. When the first pair is the one marked, X1 is set
/// to 0. The target is 0.5 + (X1 + X2)/4 in [0, 1]; a sequence counts as correct when the absolute error at its end is
/// below 0.04. In the paper the length of each sequence is drawn from [T, T + T/10]; here one batch shares its length
/// (the length of the input tensor; draw it with <see cref="SampleHochreiter1997Length"/>). The constant 0.5 gives
/// MSE 1/24 ≈ 0.042 (<see cref="Hochreiter1997BaselineMse"/>).</para>
/// <para>Both generators write into caller-provided storage and allocate nothing; the same seed gives the same data.</para>
/// </remarks>
public static class AddingProblem
{
    /// <summary>The MSE of the best constant prediction (1) in the uniform form: Var(X1 + X2) = 1/6.</summary>
    public const double ConstantBaselineMse = 1.0 / 6.0;

    /// <summary>The MSE of the best constant prediction (0.5) in the 1997 form: Var((X1 + X2)/4) = 1/24.</summary>
    public const double Hochreiter1997BaselineMse = 1.0 / 24.0;

    /// <summary>The 1997 paper's per-sequence success criterion: absolute error at the sequence end below 0.04.</summary>
    public const double Hochreiter1997Tolerance = 0.04;

    /// <summary>Fills a batch of the uniform form (Le et al. 2015; Arjovsky et al. 2016).</summary>
    /// <param name="random">The source of values and marker positions.</param>
    /// <param name="input">Receives the sequences, [timeSteps, batchSize, 2] (channel 0 value, channel 1 marker);
    /// timeSteps ≥ 2.</param>
    /// <param name="targets">Receives X1 + X2 of each sequence, [batchSize].</param>
    /// <exception cref="ArgumentException">The shapes disagree or timeSteps is below 2.</exception>
    public static void Generate<T>(SeededRandom random, Tensor<T> input, Span<T> targets)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (int steps, int batch) = Check(random, input, targets, minSteps: 2);
        Span<T> x = input.AsSpan();
        int half = steps / 2;
        for (int b = 0; b < batch; b++)
        {
            int first = random.NextInt(half);
            int second = half + random.NextInt(steps - half);
            double sum = 0;
            for (int t = 0; t < steps; t++)
            {
                int at = (t * batch + b) * 2;
                double value = random.NextDouble();
                bool marked = t == first || t == second;
                x[at] = T.CreateTruncating(value);
                x[at + 1] = marked ? T.One : T.Zero;
                if (marked)
                {
                    sum += value;
                }
            }

            targets[b] = T.CreateTruncating(sum);
        }
    }

    /// <summary>Allocates and fills a batch of the uniform form.</summary>
    /// <returns>Input [timeSteps, batchSize, 2] and targets [batchSize].</returns>
    public static (Tensor<T> Input, Tensor<T> Targets) Generate<T>(int timeSteps, int batchSize, SeededRandom random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeSteps, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var input = new Tensor<T>(timeSteps, batchSize, 2);
        var targets = new Tensor<T>(batchSize);
        Generate(random, input, targets.AsSpan());
        return (input, targets);
    }

    /// <summary>A sequence length drawn uniformly from [T, T + ⌊T/10⌋], as in experiment 4 of Hochreiter and Schmidhuber 1997.</summary>
    /// <param name="minimumLength">T, at least 20 (the first ten pairs and the first T/2 - 1 must leave room for two marks).</param>
    /// <param name="random">The source.</param>
    public static int SampleHochreiter1997Length(int minimumLength, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumLength, 20);
        return minimumLength + random.NextInt(minimumLength / 10 + 1);
    }

    /// <summary>Fills a batch of the 1997 form (Hochreiter and Schmidhuber 1997, experiment 4).</summary>
    /// <param name="random">The source of values and marker positions.</param>
    /// <param name="minimumLength">T of the paper: X2 is marked among the first T/2 - 1 pairs. The input may be longer
    /// (up to T + T/10 in the paper).</param>
    /// <param name="input">Receives the sequences, [length, batchSize, 2] (channel 0 value in [-1, 1], channel 1 marker
    /// in {-1, 0, 1}); length ≥ <paramref name="minimumLength"/>.</param>
    /// <param name="targets">Receives 0.5 + (X1 + X2)/4 of each sequence, [batchSize].</param>
    /// <exception cref="ArgumentException">The shapes disagree, <paramref name="minimumLength"/> is below 20 or the input
    /// is shorter than it.</exception>
    public static void GenerateHochreiter1997<T>(SeededRandom random, int minimumLength, Tensor<T> input, Span<T> targets)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumLength, 20);
        (int steps, int batch) = Check(random, input, targets, minSteps: minimumLength);
        Span<T> x = input.AsSpan();
        int secondRange = minimumLength / 2 - 1;
        for (int b = 0; b < batch; b++)
        {
            int first = random.NextInt(10);

            // One of the still unmarked pairs among the first T/2 - 1: draw from T/2 - 2 slots and skip the first mark.
            int second = random.NextInt(secondRange - 1);
            if (second >= first)
            {
                second++;
            }

            double sum = 0;
            for (int t = 0; t < steps; t++)
            {
                int at = (t * batch + b) * 2;
                double value = random.NextUniform(-1, 1);
                bool marked = t == first || t == second;
                double marker = marked ? 1 : t == 0 || t == steps - 1 ? -1 : 0;
                if (marked && t == 0)
                {
                    value = 0;
                }

                x[at] = T.CreateTruncating(value);
                x[at + 1] = T.CreateTruncating(marker);
                if (marked)
                {
                    sum += value;
                }
            }

            targets[b] = T.CreateTruncating(0.5 + sum / 4);
        }
    }

    private static (int Steps, int Batch) Check<T>(SeededRandom random, Tensor<T> input, Span<T> targets, int minSteps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(2) != 2)
        {
            throw new ArgumentException($"input has shape {Tensor<T>.FormatShape(input.Shape)} but [timeSteps, batchSize, 2] is expected.", nameof(input));
        }

        int steps = input.Size(0), batch = input.Size(1);
        if (steps < minSteps)
        {
            throw new ArgumentException($"input has {steps} time steps but at least {minSteps} are needed.", nameof(input));
        }

        if (targets.Length != batch)
        {
            throw new ArgumentException($"targets has {targets.Length} elements but input {Tensor<T>.FormatShape(input.Shape)} has batchSize {batch}.", nameof(targets));
        }

        return (steps, batch);
    }
}
