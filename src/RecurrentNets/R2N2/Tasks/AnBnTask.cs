using RecurrentNets.Init;
using RecurrentNets.R2N2.Baselines;
using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2.Tasks;

/// <summary>
/// aⁿbⁿ next-symbol prediction with the protocol of Cheng and Brown 2025 (their <c>exp_anbn</c>): three one-hot symbols
/// a, b and a separator; the item for n is n×a, sep, n×b, sep (length 2n + 2); a range is the four sequences
/// n = m … m+3; one epoch trains on the four in shuffled order, one update each; 10 000 epochs.
/// </summary>
public static class AnBnTask
{
    /// <summary>The alphabet size.</summary>
    public const int Symbols = 3;

    /// <summary>Symbol indices.</summary>
    public const int A = 0, B = 1, Separator = 2;

    /// <summary>The one-hot sequence for <paramref name="n"/>: [2n + 2, 3].</summary>
    /// <exception cref="ArgumentOutOfRangeException">n &lt; 1.</exception>
    public static Tensor<double> Sequence(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var x = new Tensor<double>(2 * n + 2, Symbols);
        for (int t = 0; t < 2 * n + 2; t++)
        {
            int symbol = t < n ? A : t == n ? Separator : t < 2 * n + 1 ? B : Separator;
            x[t, symbol] = 1;
        }

        return x;
    }

    /// <summary>The four sequences n = m … m+3 of a range.</summary>
    public static Tensor<double>[] Range(int m) => [Sequence(m), Sequence(m + 1), Sequence(m + 2), Sequence(m + 3)];
}

/// <summary>The outcome of an aⁿbⁿ run.</summary>
/// <param name="Learner">The model's name.</param>
/// <param name="RangeStart">m.</param>
/// <param name="Epochs">Epochs trained.</param>
/// <param name="Correct">The 0/1 "correct at all but one position" result of every episode, in training order.</param>
/// <param name="SequenceIndex">Which of the four sequences (0 … 3) each episode was.</param>
/// <param name="Loss">The mean per-prediction loss ½‖e‖² of every episode.</param>
public sealed record AnBnRun(string Learner, int RangeStart, int Epochs, bool[] Correct, int[] SequenceIndex, double[] Loss)
{
    /// <summary>The authors' score: mean correctness over the last <paramref name="epochs"/> epochs (default 100 = 400 episodes).</summary>
    public double Score(int epochs = 100) => WindowMean(Correct.Length, epochs);

    /// <summary>The mean correctness over the <paramref name="epochs"/> epochs ending at epoch <paramref name="endEpoch"/>.</summary>
    public double ScoreAt(int endEpoch, int epochs = 100) => WindowMean(Math.Min(endEpoch, Epochs) * 4, epochs);

    /// <summary>Correctness of sequence n = m + <paramref name="index"/> over the last <paramref name="epochs"/> epochs.</summary>
    public double ScoreOf(int index, int epochs = 100)
    {
        int start = Math.Max(0, Correct.Length - 4 * epochs), hits = 0, count = 0;
        for (int i = start; i < Correct.Length; i++)
        {
            if (SequenceIndex[i] == index)
            {
                count++;
                hits += Correct[i] ? 1 : 0;
            }
        }

        return count == 0 ? 0 : (double)hits / count;
    }

    private double WindowMean(int end, int epochs)
    {
        int start = Math.Max(0, end - 4 * epochs);
        int hits = 0;
        for (int i = start; i < end; i++)
        {
            hits += Correct[i] ? 1 : 0;
        }

        return end > start ? (double)hits / (end - start) : 0;
    }
}

/// <summary>The models of the authors' aⁿbⁿ comparison (<c>exp_anbn</c>).</summary>
public enum AnBnModel
{
    /// <summary>R2N2 with feedback alignment: 32 units per group, Adam 1e-3, g_b 1.4, exact carry ("R2N2-FA").</summary>
    R2N2FeedbackAlignment,

    /// <summary>R2N2 with the transposed weights and the exact carry, i.e. BPTT by replay ("R2N2-exact").</summary>
    R2N2Exact,

    /// <summary>RFLO, 64 units, SGD 0.01 ("RFLO").</summary>
    Rflo,

    /// <summary>The authors' "ESN": the RFLO network with W_rec frozen, W_in and W_out trained ("ESN").</summary>
    EchoStateNetwork,
}

/// <summary>Runs the aⁿbⁿ protocol on any <see cref="ISequenceLearner"/>.</summary>
public static class AnBnProtocol
{
    /// <summary>One of the authors' aⁿbⁿ models with their settings (three symbols in and out).</summary>
    /// <param name="model">Which model.</param>
    /// <param name="seed">The seed of its weights (and of R2N2's initial states).</param>
    /// <param name="baselineQuirks">For <see cref="AnBnModel.Rflo"/> and <see cref="AnBnModel.EchoStateNetwork"/>: the
    /// released code's departures to reproduce (<see cref="RfloQuirks.ReleasedCode"/> gives the authors' baselines).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="model"/> is undefined, or quirks are given for an R2N2
    /// model, or <paramref name="baselineQuirks"/> has an undefined flag.</exception>
    public static ISequenceLearner CreateLearner(AnBnModel model, ulong seed, RfloQuirks baselineQuirks = RfloQuirks.None)
    {
        if (baselineQuirks != RfloQuirks.None && model is AnBnModel.R2N2FeedbackAlignment or AnBnModel.R2N2Exact)
        {
            throw new ArgumentOutOfRangeException(nameof(baselineQuirks), baselineQuirks, $"baselineQuirks apply to the RFLO and ESN baselines only, not to {model}.");
        }

        return model switch
        {
            AnBnModel.R2N2FeedbackAlignment => new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = AnBnTask.Symbols, OutputSize = AnBnTask.Symbols, BackwardGain = 1.4, Seed = seed }),
            AnBnModel.R2N2Exact => new R2N2Learner(new R2N2Options { GroupSize = 32, InputSize = AnBnTask.Symbols, OutputSize = AnBnTask.Symbols, Feedback = FeedbackMode.Transposed, Seed = seed }),
            AnBnModel.Rflo => new Rflo(AnBnTask.Symbols, 64, AnBnTask.Symbols, seed, quirks: baselineQuirks),
            AnBnModel.EchoStateNetwork => new EchoStateNetwork(AnBnTask.Symbols, 64, AnBnTask.Symbols, seed, quirks: baselineQuirks),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model, "model is not an AnBnModel."),
        };
    }

    /// <summary>Trains <paramref name="learner"/> for <paramref name="epochs"/> epochs on the range n = m … m+3.</summary>
    /// <param name="learner">The model.</param>
    /// <param name="rangeStart">m (1, 6, 11, … in the paper).</param>
    /// <param name="epochs">Epochs (10 000 in the paper).</param>
    /// <param name="shuffleSeed">The seed of the per-epoch shuffles.</param>
    /// <param name="progress">Called after every epoch with its index (0-based), or null.</param>
    public static AnBnRun Run(ISequenceLearner learner, int rangeStart, int epochs, ulong shuffleSeed, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        var sequences = AnBnTask.Range(rangeStart);
        var random = new SeededRandom(shuffleSeed);
        var correct = new bool[epochs * 4];
        var index = new int[epochs * 4];
        var loss = new double[epochs * 4];
        int[] order = [0, 1, 2, 3];
        for (int e = 0; e < epochs; e++)
        {
            for (int i = 3; i > 0; i--)
            {
                int j = random.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }

            for (int s = 0; s < 4; s++)
            {
                var result = learner.TrainSequence(sequences[order[s]]);
                int k = e * 4 + s;
                correct[k] = result.AllButOneCorrect;
                index[k] = order[s];
                loss[k] = result.MeanLoss;
            }

            progress?.Invoke(e);
        }

        return new AnBnRun(learner.Name, rangeStart, epochs, correct, index, loss);
    }
}
