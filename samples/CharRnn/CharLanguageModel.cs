using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace CharRnn;

/// <summary>A character-level language model on <see cref="SequenceModel{T}"/>, by default the course's Elman network: x(t)
/// one-hot, h = tanh(W_ih x + W_hh h(t-1) + b), o = c + V h, softmax(o) the next character.</summary>
internal sealed class CharLanguageModel
{
    public const double MaxGradientNorm = 5.0;
    private readonly ModelStepper<float> stepper;
    private readonly float[] logits, probabilities;

    private CharLanguageModel(SequenceModel<float> model, Vocabulary vocabulary, double learningRate)
    {
        model.Compile(new CrossEntropy<float>(), p => new Adam<float>(p, learningRate), new BitsPerCharacter<float>());
        model.ClipNorm = MaxGradientNorm;
        model.Stateful = true;
        (Model, Vocabulary, stepper) = (model, vocabulary, model.CreateStepper(1));
        (logits, probabilities) = (new float[vocabulary.Count], new float[vocabulary.Count]);
    }

    public SequenceModel<float> Model { get; }

    public Vocabulary Vocabulary { get; }

    /// <summary>A new model; dropout goes on the top layer's output and, with two layers or more, between them.</summary>
    public static CharLanguageModel Create(Vocabulary vocabulary, CellKind cell, int hidden, int layers, int embedding,
        double dropout, double recurrentDropout, double learningRate, ulong seed)
    {
        double between = layers > 1 ? dropout : 0;
        var model = new SequenceModel<float>(vocabulary.Count, seed)
            .Add(embedding > 0 ? Layer.Embedding(embedding) : Layer.OneHot())
            .Add(cell switch
            {
                CellKind.Lstm => Layer.Lstm(hidden, layers, dropout: between, recurrentDropout: recurrentDropout, forgetBias: 1.0),
                CellKind.Gru => Layer.Gru(hidden, layers, dropout: between, recurrentDropout: recurrentDropout),
                CellKind.LnLstm => Layer.LayerNormLstm(hidden, layers, dropout: between, recurrentDropout: recurrentDropout, forgetBias: 1.0),
                CellKind.LnGru => Layer.LayerNormGru(hidden, layers, dropout: between, recurrentDropout: recurrentDropout),
                _ => Layer.Rnn(hidden, layers, dropout: between, recurrentDropout: recurrentDropout),
            });
        if (dropout > 0)
        {
            model.Add(Layer.Dropout(dropout));
        }

        model.Add(Layer.Linear(vocabulary.Count)).Vocabulary = vocabulary;
        return new CharLanguageModel(model, vocabulary, learningRate);
    }

    /// <summary>A model written by <see cref="SequenceModel{T}.Save"/>: architecture, weights and vocabulary in one file.</summary>
    public static CharLanguageModel Load(string path, double learningRate)
    {
        var model = SequenceModel<float>.Load(path);
        return new CharLanguageModel(model, model.Vocabulary
            ?? throw new InvalidDataException($"{path} has no vocabulary: it was not saved by CharRnn --save."), learningRate);
    }

    /// <summary>Truncated BPTT, stateful (Keras <c>stateful=True</c>): the text is cut into B <paramref name="streams"/> read
    /// side by side in windows of k steps, one Adam step per window, the state carried to the next window as a value. Every
    /// epoch starts from a zero state and, with <paramref name="shuffleLines"/>, puts the lines in a new order (a small
    /// corpus should teach what follows what within a line, not the order of its lines). Reports (step, epoch, loss).</summary>
    /// <returns>The exponential moving average of the window losses in bits per character (NaN when no step ran).</returns>
    public double Train(string text, bool shuffleLines, int streams, int window, int totalSteps, SeededRandom random,
        Action<int, int, double>? report)
    {
        double smoothed = double.NaN;
        for (int epoch = 1, done = 0; done < totalSteps; epoch++)
        {
            string epochText = shuffleLines ? string.Join('\n', text.TrimEnd('\n').Split('\n').OrderBy(_ => random.NextUInt64())) + "\n" : text;
            var data = SequenceDataset<float>.ForLanguageModelStreams(Vocabulary.Encode(epochText), streams, window);
            Model.ResetStates();
            for (var batches = data.Batches(streams).GetEnumerator(); done < totalSteps && batches.MoveNext();)
            {
                double bits = Model.TrainStep(batches.Current) / Math.Log(2);
                smoothed = double.IsNaN(smoothed) ? bits : 0.95 * smoothed + 0.05 * bits;
                report?.Invoke(++done, epoch, smoothed);
            }
        }

        return smoothed;
    }

    /// <summary>Bits per character on <paramref name="text"/> in evaluation mode (no dropout), read as
    /// <paramref name="streams"/> streams with the state carried across each whole stream; NaN for too short a text.</summary>
    public double BitsPerCharacter(string text, int streams, int window)
    {
        int[] tokens = Vocabulary.Encode(text);
        return tokens.Length <= streams ? double.NaN : Model.Evaluate(
            SequenceDataset<float>.ForLanguageModelStreams(tokens, streams, window), streams).Metrics["bits_per_char"];
    }

    /// <summary><paramref name="length"/> characters after <paramref name="prime"/>, each drawn from softmax(o / T), fed back.</summary>
    public string Sample(string prime, int length, double temperature, SeededRandom random)
    {
        Restart(prime);
        var text = new System.Text.StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            TP.Multiply(logits, (float)(1.0 / temperature), probabilities);
            Softmax.Row<float>(probabilities, probabilities);
            double u = random.NextDouble(), cumulative = 0;
            int next = 0;
            while (next < probabilities.Length - 1 && (cumulative += probabilities[next]) <= u)
            {
                next++;
            }

            text.Append(Vocabulary[next]);
            stepper.Step([next], logits);
        }

        return text.ToString();
    }

    /// <summary>The <paramref name="count"/> likeliest characters after <paramref name="prime"/> + <paramref name="prompt"/>.</summary>
    public (string Character, double Probability)[] TopPredictions(string prime, string prompt, int count)
    {
        Restart(prime + prompt);
        Softmax.Row<float>(logits, probabilities);
        return [.. Enumerable.Range(0, probabilities.Length).OrderByDescending(i => probabilities[i]).ThenBy(i => i)
            .Take(count).Select(i => (Vocabulary[i], (double)probabilities[i]))];
    }

    /// <summary>The greedy continuation of <paramref name="prompt"/>, up to <paramref name="stop"/> or <paramref name="maxLength"/> characters.</summary>
    public string Complete(string prime, string prompt, string stop, int maxLength)
    {
        Restart(prime + prompt);
        var text = new System.Text.StringBuilder(prompt);
        for (int i = 0, next; i < maxLength && Vocabulary[next = TP.IndexOfMax<float>(logits)] != stop; i++)
        {
            text.Append(Vocabulary[next]);
            stepper.Step([next], logits);
        }

        return text.ToString();
    }

    // The initial state, then every character of the text: afterwards `logits` predicts the character after it.
    private void Restart(string text)
    {
        stepper.Reset();
        foreach (int c in Vocabulary.Encode(text))
        {
            stepper.Step([c], logits);
        }
    }
}
