using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Data;

/// <summary>
/// The temporal order problem with two relevant symbols: experiment 6a of Hochreiter and Schmidhuber 1997, "Long
/// Short-Term Memory", Neural Computation 9(8). The class of a sequence is the order of two widely separated symbols
/// among distractors.
/// </summary>
/// <remarks>
/// <para>Eight symbols, one-hot (<see cref="Alphabet"/>): the distractors a, b, c, d (0 to 3), the relevant X and Y
/// (4, 5), a start symbol (6) and an end (trigger) symbol (7). A sequence has a length L drawn uniformly from [100, 110];
/// its first element is the start symbol and its last the end symbol; the elements at positions t1 ∈ [10, 20] and
/// t2 ∈ [50, 60] (1-based, as in the paper, both uniform) are X or Y; every other element is a distractor drawn
/// uniformly from {a, b, c, d}. The target, at the last step only, is one of four classes by the two relevant symbols
/// in order: XX = 0, XY = 1, YX = 2, YY = 3.</para>
/// <para>The paper's test set is 2,560 sequences; a trial is stopped when the training error criterion ST3(0.1) holds,
/// and reports 1 wrong out of 2,560 (mean over 20 trials, 31,390 training sequences), with correctness ABS(0.3): every
/// output of the sequence end within 0.3 of its target. With a softmax output, we count a sequence correct when its
/// class is the most probable one.</para>
/// <para>A batch is written time-major into [110, B, 8] (or longer); steps past a sequence's end are zero and the
/// network's output is read at each sequence's own last step (<c>lengths[b] - 1</c>). The network is causal, so padding
/// at the end changes no output it is scored on.</para>
/// </remarks>
public static class TemporalOrder
{
    /// <summary>The input width (8 symbols).</summary>
    public const int SymbolCount = 8;

    /// <summary>The number of classes (4).</summary>
    public const int ClassCount = 4;

    /// <summary>The shortest sequence (100).</summary>
    public const int MinimumLength = 100;

    /// <summary>The longest sequence (110): the time steps a batch needs.</summary>
    public const int MaximumLength = 110;

    /// <summary>The symbols in index order: distractors a-d, relevant X and Y, start B, end E.</summary>
    public const string Alphabet = "abcdXYBE";

    /// <summary>The class names in index order.</summary>
    public static readonly IReadOnlyList<string> ClassNames = ["XX", "XY", "YX", "YY"];

    private const int X = 4, StartSymbol = 6, EndSymbol = 7;

    /// <summary>Fills a batch of sequences.</summary>
    /// <param name="random">The source of lengths, positions and symbols.</param>
    /// <param name="input">Receives the one-hot sequences, [timeSteps ≥ 110, batchSize, 8], zero past each sequence's end.</param>
    /// <param name="lengths">Receives each sequence's length L in [100, 110], [batchSize].</param>
    /// <param name="classes">Receives each sequence's class in [0, 4), [batchSize].</param>
    /// <param name="stepTargets">When not empty, receives per-step class targets [timeSteps · batchSize] (row t·B + b):
    /// the class at step L - 1 of each sequence and -1 (ignored by <see cref="Losses.CrossEntropyLoss"/>) elsewhere.</param>
    /// <exception cref="ArgumentException">The shapes disagree.</exception>
    public static void Generate<T>(SeededRandom random, Tensor<T> input, Span<int> lengths, Span<int> classes, Span<int> stepTargets = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(2) != SymbolCount || input.Size(0) < MaximumLength)
        {
            throw new ArgumentException($"input has shape {Tensor<T>.FormatShape(input.Shape)} but [timeSteps ≥ {MaximumLength}, batchSize, {SymbolCount}] is expected.", nameof(input));
        }

        int steps = input.Size(0), batch = input.Size(1);
        if (lengths.Length != batch || classes.Length != batch)
        {
            throw new ArgumentException($"lengths has {lengths.Length} and classes {classes.Length} elements but input has batchSize {batch}.", nameof(lengths));
        }

        bool wantStepTargets = !stepTargets.IsEmpty;
        if (wantStepTargets && stepTargets.Length != steps * batch)
        {
            throw new ArgumentException($"stepTargets has {stepTargets.Length} elements but [timeSteps·batchSize] = {steps * batch} are needed.", nameof(stepTargets));
        }

        input.Clear();
        if (wantStepTargets)
        {
            stepTargets.Fill(-1);
        }

        Span<T> x = input.AsSpan();
        for (int b = 0; b < batch; b++)
        {
            int length = MinimumLength + random.NextInt(MaximumLength - MinimumLength + 1);
            int t1 = 10 + random.NextInt(11) - 1, t2 = 50 + random.NextInt(11) - 1; // 0-based positions
            int first = random.NextInt(2), second = random.NextInt(2); // 0 = X, 1 = Y
            for (int t = 0; t < length; t++)
            {
                int symbol = t == 0 ? StartSymbol
                    : t == length - 1 ? EndSymbol
                    : t == t1 ? X + first
                    : t == t2 ? X + second
                    : random.NextInt(4);
                x[(t * batch + b) * SymbolCount + symbol] = T.One;
            }

            lengths[b] = length;
            classes[b] = 2 * first + second;
            if (wantStepTargets)
            {
                stepTargets[(length - 1) * batch + b] = classes[b];
            }
        }
    }
}
