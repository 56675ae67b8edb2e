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
/// backward (truncated BPTT) and takes one Adam step; the hidden state at a window's end starts the next window.
/// </summary>
internal sealed class CharTrainer
{
    // Caps the one-hot chunk handed to TruncatedBptt.Run at about 16 MB, so long files are streamed.
    private const int MaxChunkElements = 4 << 20;

    private readonly CharModel model;
    private readonly int[] text, originalText;
    private readonly int[][]? lines;
    private readonly int shuffledLines;
    private readonly SeededRandom? shuffleRandom;
    private readonly int batchSize, windowLength, streamLength, vocabularySize;
    private readonly TruncatedBptt<float> bptt;
    private readonly Adam<float> optimizer;
    private readonly Objective objective;
    private readonly Dictionary<int, Chunk> chunks = [];

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
        vocabularySize = model.Vocabulary.Size;

        // Stream b reads text[b·S .. b·S + S) and predicts text[b·S + 1 .. b·S + S]: S = (N - 1) / B.
        streamLength = (text.Length - 1) / batchSize;
        if (streamLength < 1)
        {
            throw new ArgumentException(
                $"The text has {text.Length} characters: too few for {batchSize} streams (batch size); it needs at least {batchSize + 1}.",
                nameof(text));
        }

        bptt = new TruncatedBptt<float>(model.Rnn, windowLength, batchSize);
        optimizer = new Adam<float>(model.Parameters, learningRate);
        objective = new Objective(this, maxGradientNorm);
    }

    /// <summary>S, the steps of each stream: one epoch.</summary>
    public int StreamLength => streamLength;

    /// <summary>Optimiser steps per epoch (windows per stream, the last one possibly shorter).</summary>
    public int WindowsPerEpoch => (streamLength + windowLength - 1) / windowLength;

    /// <summary>Runs <paramref name="totalSteps"/> windows, each one Adam step, and reports after every step.</summary>
    /// <returns>The smoothed training loss at the end, in bits per character.</returns>
    public double Train(int totalSteps, Action<TrainingProgress>? report)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        objective.Begin(totalSteps, report);
        int maxChunkWindows = Math.Max(1, MaxChunkElements / (windowLength * batchSize * vocabularySize));
        for (int epoch = 1; objective.Steps < totalSteps; epoch++)
        {
            // Each epoch starts every stream from a zero state (min-char-rnn resets hprev at the start of the data).
            bptt.State.Clear();
            objective.Epoch = epoch;
            Shuffle();
            for (int windowStart = 0; windowStart < streamLength && objective.Steps < totalSteps;)
            {
                // A chunk of whole windows, never past the end of the epoch nor the step budget.
                int windows = Math.Min(maxChunkWindows, totalSteps - objective.Steps);
                int steps = Math.Min(windows * windowLength, streamLength - windowStart);
                var chunk = Fill(windowStart, steps);
                objective.Targets = chunk.Targets;
                bptt.Run(chunk.Input, objective);
                windowStart += steps;
            }
        }

        return objective.SmoothedLossBits;
    }

    /// <summary>The mean loss over the whole text (in its original line order) read as the training streams, without
    /// training, in bits per character. Every stream starts from a zero state, as in training.</summary>
    public double EvaluateBits()
    {
        originalText.CopyTo(text, 0);
        var state = model.Rnn.CreateState(batchSize);
        var output = new Tensor<float>(windowLength, batchSize, model.Rnn.HiddenSize);
        Tensor<float>? tailOutput = null;
        var logits = new float[windowLength * batchSize * vocabularySize];
        double lossSum = 0;
        for (int windowStart = 0; windowStart < streamLength; windowStart += windowLength)
        {
            int steps = Math.Min(windowLength, streamLength - windowStart);
            var chunk = Fill(windowStart, steps);
            var y = steps == windowLength ? output : tailOutput ??= new Tensor<float>(steps, batchSize, model.Rnn.HiddenSize);
            int rows = steps * batchSize;
            model.Rnn.Forward(chunk.Input, y, state, state);
            model.Head.Forward(y.Data, rows, logits.AsSpan(0, rows * vocabularySize));
            lossSum += CrossEntropyLoss.Compute<float>(logits.AsSpan(0, rows * vocabularySize), chunk.Targets, vocabularySize,
                default, LossReduction.Sum);
        }

        return lossSum / (streamLength * batchSize) / Math.Log(2);
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

    // One-hot inputs x[t, b] = text[b·S + start + t] and targets text[b·S + start + t + 1] for `steps` steps.
    private Chunk Fill(int start, int steps)
    {
        if (!chunks.TryGetValue(steps, out var chunk))
        {
            chunk = new Chunk(new Tensor<float>(steps, batchSize, vocabularySize), new int[steps * batchSize]);
            chunks.Add(steps, chunk);
        }

        chunk.Input.Clear();
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batchSize; b++)
            {
                int position = b * streamLength + start + t;
                chunk.Input.Row(t, b)[text[position]] = 1f;
                chunk.Targets[t * batchSize + b] = text[position + 1];
            }
        }

        return chunk;
    }

    private sealed record Chunk(Tensor<float> Input, int[] Targets);

    /// <summary>Per window: o = c + V h for every step, softmax cross-entropy against the next characters, and
    /// dL/dh back through the head; after the RNN's backward pass, clip, take an Adam step and zero the gradients.</summary>
    private sealed class Objective(CharTrainer trainer, double maxGradientNorm) : IWindowObjective<float>
    {
        private const double SmoothingFactor = 0.05;
        private readonly float[] logits = new float[trainer.windowLength * trainer.batchSize * trainer.vocabularySize];
        private readonly float[] dLogits = new float[trainer.windowLength * trainer.batchSize * trainer.vocabularySize];
        private readonly Stopwatch clock = new();
        private Action<TrainingProgress>? report;
        private double windowLossBits;
        private int totalSteps;

        public int[] Targets { get; set; } = [];

        public int Epoch { get; set; }

        public int Steps { get; private set; }

        public double SmoothedLossBits { get; private set; } = double.NaN;

        public void Begin(int totalSteps, Action<TrainingProgress>? report)
        {
            this.totalSteps = totalSteps;
            this.report = report;
            Steps = 0;
            SmoothedLossBits = double.NaN;
            trainer.optimizer.ZeroGradients();
            clock.Restart();
        }

        public double LossAndGradient(int windowStart, Tensor<float> output, Tensor<float> dOutput)
        {
            int steps = output.Size(0), rows = steps * trainer.batchSize, v = trainer.vocabularySize;
            Span<float> o = logits.AsSpan(0, rows * v), dO = dLogits.AsSpan(0, rows * v);
            ReadOnlySpan<int> targets = Targets.AsSpan(windowStart * trainer.batchSize, rows);

            trainer.model.Head.Forward(output.Data, rows, o);
            double loss = CrossEntropyLoss.Compute<float>(o, targets, v, dO);
            trainer.model.Head.Backward(output.Data, dO, rows, dOutput.Data);

            windowLossBits = loss / Math.Log(2);
            return loss;
        }

        public void AfterBackward(int windowStart)
        {
            GradientClipping.ClipGradientNorm(trainer.model.Parameters, maxGradientNorm);
            trainer.optimizer.Step();
            trainer.optimizer.ZeroGradients();

            Steps++;
            SmoothedLossBits = double.IsNaN(SmoothedLossBits)
                ? windowLossBits
                : (1 - SmoothingFactor) * SmoothedLossBits + SmoothingFactor * windowLossBits;
            report?.Invoke(new TrainingProgress(Steps, totalSteps, Epoch, windowLossBits, SmoothedLossBits, clock.Elapsed));
        }
    }
}
