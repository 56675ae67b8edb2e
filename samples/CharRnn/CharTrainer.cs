using System.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace CharRnn;

/// <summary>Where training stands after an optimiser step.</summary>
/// <param name="Step">Optimiser steps (windows) done.</param>
/// <param name="TotalSteps">Optimiser steps planned.</param>
/// <param name="Epoch">The pass over the text the step belongs to, from 1.</param>
/// <param name="WindowLossBits">The loss of the last window, in bits per character.</param>
/// <param name="SmoothedLossBits">An exponential moving average of the window losses, in bits per character.</param>
/// <param name="Elapsed">Wall time since training started.</param>
internal readonly record struct TrainingProgress(
    int Step, int TotalSteps, int Epoch, double WindowLossBits, double SmoothedLossBits, TimeSpan Elapsed);

/// <summary>
/// Trains a <see cref="CharModel"/> to predict the next character, the min-char-rnn way: the text is cut into B
/// contiguous segments read side by side as B parallel streams, in windows of k steps; each window runs forward and
/// backward (truncated BPTT) and takes one Adam step; the state at a window's end starts the next window (stateful
/// training). Windows are gathered straight from the character indices, so nothing the size of the text is ever
/// expanded (no one-hot copy of the text): a file of any length streams through in B·k-character windows.
/// </summary>
internal sealed class CharTrainer
{
    private readonly CharModel model;
    private readonly int[] text, originalText;
    private readonly int[][]? lines;
    private readonly int shuffledLines;
    private readonly SeededRandom? shuffleRandom;
    private readonly int batchSize, windowLength, streamLength, vocabularySize;
    private readonly RecurrentState<float> state;
    private readonly Adam<float> optimizer;
    private readonly double maxGradientNorm;
    private readonly int[] characters, targets;
    private readonly float[] dLogits;

    /// <param name="model">The network to train.</param>
    /// <param name="text">The training text as vocabulary indices.</param>
    /// <param name="batchSize">B, the parallel streams.</param>
    /// <param name="windowLength">k, the steps per truncated-BPTT window.</param>
    /// <param name="learningRate">Adam's step size.</param>
    /// <param name="maxGradientNorm">The global gradient norm is clipped to this before each step.</param>
    /// <param name="shuffleLines">When given, every epoch reads the lines of the text (each ending with a newline) in a
    /// new order drawn from this source, so that a small corpus teaches what follows what within a line rather than the
    /// order of its lines. Null keeps the text as it is.</param>
    /// <exception cref="ArgumentException">The text is too short for B streams.</exception>
    public CharTrainer(CharModel model, int[] text, int batchSize, int windowLength, double learningRate, double maxGradientNorm,
        SeededRandom? shuffleLines = null)
    {
        this.model = model;
        this.text = (int[])text.Clone();
        originalText = text;
        if (shuffleLines is not null)
        {
            lines = SplitLines(text, model.Vocabulary);
            bool lastHasNewline = model.Vocabulary.TryIndex('\n', out int newline) && lines[^1][^1] == newline;
            shuffledLines = lastHasNewline ? lines.Length : lines.Length - 1;
            shuffleRandom = shuffleLines;
        }

        this.batchSize = batchSize;
        this.windowLength = windowLength;
        this.maxGradientNorm = maxGradientNorm;
        vocabularySize = model.Vocabulary.Size;

        // Stream b reads text[b·S .. b·S + S) and predicts text[b·S + 1 .. b·S + S]: S = (N - 1) / B.
        streamLength = (text.Length - 1) / batchSize;
        if (streamLength < 1)
        {
            throw new ArgumentException(
                $"The text has {text.Length} characters: too few for {batchSize} streams (batch size); it needs at least {batchSize + 1}.",
                nameof(text));
        }

        state = model.Recurrent.CreateState(batchSize);
        optimizer = new Adam<float>(model.Parameters, learningRate);
        characters = new int[windowLength * batchSize];
        targets = new int[windowLength * batchSize];
        dLogits = new float[windowLength * batchSize * vocabularySize];
    }

    /// <summary>S, the steps of each stream: one epoch.</summary>
    public int StreamLength => streamLength;

    /// <summary>Optimiser steps per epoch (windows per stream, the last one possibly shorter).</summary>
    public int WindowsPerEpoch => (streamLength + windowLength - 1) / windowLength;

    /// <summary>The Adam optimiser (its step count is the number of windows trained).</summary>
    public Adam<float> Optimizer => optimizer;

    /// <summary>Runs <paramref name="totalSteps"/> windows, each one Adam step, and reports after every step.</summary>
    /// <returns>The smoothed training loss at the end, in bits per character (NaN when no step ran).</returns>
    public double Train(int totalSteps, Action<TrainingProgress>? report)
    {
        const double SmoothingFactor = 0.05;
        double smoothed = double.NaN;
        var clock = Stopwatch.StartNew();
        model.Training = true;
        optimizer.ZeroGradients();
        int done = 0;
        for (int epoch = 1; done < totalSteps; epoch++)
        {
            // Each epoch starts every stream from a zero state (min-char-rnn resets hprev at the start of the data);
            // within it the state is carried from window to window.
            state.Clear();
            Shuffle();
            for (int windowStart = 0; windowStart < streamLength && done < totalSteps; windowStart += windowLength)
            {
                int steps = Math.Min(windowLength, streamLength - windowStart), rows = steps * batchSize;
                Gather(text, streamLength, batchSize, windowStart, steps, characters, targets);
                var logits = model.Forward(characters.AsSpan(0, rows), steps, batchSize, state);
                Span<float> dO = dLogits.AsSpan(0, rows * vocabularySize);
                double loss = CrossEntropyLoss.Compute<float>(logits, targets.AsSpan(0, rows), vocabularySize, dO);
                model.Backward(dO);
                GradientClipping.ClipGradientNorm(model.Parameters, maxGradientNorm);
                optimizer.Step();
                optimizer.ZeroGradients();

                done++;
                double bits = loss / Math.Log(2);
                smoothed = double.IsNaN(smoothed) ? bits : (1 - SmoothingFactor) * smoothed + SmoothingFactor * bits;
                report?.Invoke(new TrainingProgress(done, totalSteps, epoch, bits, smoothed, clock.Elapsed));
            }
        }

        model.Training = false;
        return smoothed;
    }

    /// <summary>The mean loss over the training text (in its original line order) read as the training streams, in
    /// evaluation mode, in bits per character. Every stream starts from a zero state, as in training.</summary>
    public double EvaluateBits() => Evaluate(model, originalText, batchSize, windowLength);

    /// <summary>
    /// The mean loss of <paramref name="model"/> on <paramref name="text"/> in bits per character, in evaluation mode
    /// (dropouts off): the text is cut into <paramref name="streams"/> contiguous streams read side by side in windows
    /// of <paramref name="windowLength"/> steps, the state carried from window to window across each whole stream.
    /// </summary>
    public static double Evaluate(CharModel model, int[] text, int streams, int windowLength)
    {
        int streamLength = (text.Length - 1) / streams, v = model.Vocabulary.Size;
        if (streamLength < 1)
        {
            return double.NaN;
        }

        bool training = model.Training;
        model.Training = false;
        var state = model.Recurrent.CreateState(streams);
        var characters = new int[windowLength * streams];
        var targets = new int[windowLength * streams];
        double lossSum = 0;
        for (int windowStart = 0; windowStart < streamLength; windowStart += windowLength)
        {
            int steps = Math.Min(windowLength, streamLength - windowStart), rows = steps * streams;
            Gather(text, streamLength, streams, windowStart, steps, characters, targets);
            var logits = model.Forward(characters.AsSpan(0, rows), steps, streams, state);
            lossSum += CrossEntropyLoss.Compute<float>(logits[..(rows * v)], targets.AsSpan(0, rows), v, default, LossReduction.Sum);
        }

        model.Training = training;
        return lossSum / ((double)streamLength * streams) / Math.Log(2);
    }

    // Inputs text[b·S + start + t] at row t·B + b and targets text[b·S + start + t + 1], for `steps` steps.
    private static void Gather(int[] text, int streamLength, int streams, int start, int steps, int[] characters, int[] targets)
    {
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < streams; b++)
            {
                int position = b * streamLength + start + t;
                characters[t * streams + b] = text[position];
                targets[t * streams + b] = text[position + 1];
            }
        }
    }

    // Rewrites the text as its lines in a random order (Fisher-Yates); the length does not change.
    private void Shuffle()
    {
        if (lines is null)
        {
            return;
        }

        for (int i = shuffledLines - 1; i > 0; i--)
        {
            int j = shuffleRandom!.NextInt(i + 1);
            (lines[i], lines[j]) = (lines[j], lines[i]);
        }

        int position = 0;
        foreach (int[] line in lines)
        {
            line.CopyTo(text, position);
            position += line.Length;
        }
    }

    // The lines of the text, each with its newline; a last line without one keeps its place at the end.
    private static int[][] SplitLines(int[] text, Vocabulary vocabulary)
    {
        if (!vocabulary.TryIndex('\n', out int newline))
        {
            return [text];
        }

        var result = new List<int[]>();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == newline)
            {
                result.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            result.Add(text[start..]);
        }

        return [.. result];
    }
}
