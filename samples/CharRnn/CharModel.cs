using System.Globalization;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace CharRnn;

/// <summary>The recurrent cell of the model.</summary>
internal enum CellKind
{
    /// <summary>The course's Elman cell, h = tanh(W_ih x + b_ih + W_hh h(t-1) + b_hh).</summary>
    Rnn,

    /// <summary>Long short-term memory (Hochreiter and Schmidhuber 1997), forget-gate bias 1.</summary>
    Lstm,

    /// <summary>Gated recurrent unit (Cho et al. 2014), PyTorch's form.</summary>
    Gru,
}

/// <summary>The architecture of a <see cref="CharModel"/>; stored in a checkpoint's metadata.</summary>
/// <param name="Cell">Elman, LSTM or GRU.</param>
/// <param name="Hidden">H, units per layer.</param>
/// <param name="Layers">L, stacked layers.</param>
/// <param name="Embedding">E, the embedding width; 0 for one-hot inputs.</param>
/// <param name="Dropout">Dropout on the top layer's output (before the head) and between layers.</param>
/// <param name="RecurrentDropout">Variational dropout on h(t-1) as seen by W_hh.</param>
internal sealed record ModelConfig(CellKind Cell, int Hidden, int Layers, int Embedding, double Dropout, double RecurrentDropout)
{
    public const double LstmForgetBias = 1.0;

    public string CellName => Cell switch
    {
        CellKind.Lstm => "LSTM",
        CellKind.Gru => "GRU",
        _ => "Elman RNN",
    };

    /// <summary>The configuration and the vocabulary as checkpoint metadata (strings).</summary>
    public Dictionary<string, string> ToMetadata(Vocabulary vocabulary) => new(StringComparer.Ordinal)
    {
        ["format"] = "RecurrentNets CharRnn",
        ["cell"] = Cell.ToString().ToLowerInvariant(),
        ["hidden_size"] = Hidden.ToString(CultureInfo.InvariantCulture),
        ["num_layers"] = Layers.ToString(CultureInfo.InvariantCulture),
        ["embedding_dim"] = Embedding.ToString(CultureInfo.InvariantCulture),
        ["dropout"] = Dropout.ToString("R", CultureInfo.InvariantCulture),
        ["recurrent_dropout"] = RecurrentDropout.ToString("R", CultureInfo.InvariantCulture),
        ["vocab_size"] = vocabulary.Size.ToString(CultureInfo.InvariantCulture),
        ["vocabulary"] = vocabulary.Characters,
    };

    /// <summary>Reads what <see cref="ToMetadata"/> wrote.</summary>
    /// <exception cref="InvalidDataException">A key is missing or malformed.</exception>
    public static (ModelConfig Config, Vocabulary Vocabulary) FromMetadata(IReadOnlyDictionary<string, string> metadata, string source)
    {
        string Get(string key) => metadata.GetValueOrDefault(key)
            ?? throw new InvalidDataException($"{source} has no '{key}' metadata: it was not saved by CharRnn --save.");
        int Int(string key) => int.TryParse(Get(key), NumberStyles.None, CultureInfo.InvariantCulture, out int v)
            ? v : throw new InvalidDataException($"{source}: '{key}' is not an integer.");
        double Real(string key) => double.TryParse(Get(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v : throw new InvalidDataException($"{source}: '{key}' is not a number.");

        var cell = Enum.TryParse<CellKind>(Get("cell"), ignoreCase: true, out var c)
            ? c : throw new InvalidDataException($"{source}: unknown cell '{Get("cell")}'.");
        var config = new ModelConfig(cell, Int("hidden_size"), Int("num_layers"), Int("embedding_dim"), Real("dropout"), Real("recurrent_dropout"));
        return (config, new Vocabulary(Get("vocabulary")));
    }
}

/// <summary>
/// A character-level language model. By default the course's Elman network: x(t) is the one-hot code of a character,
/// a = b + W h(t-1) + U x(t), h = tanh(a) (a stack of <see cref="Rnn{T}"/> layers), o = c + V h (a
/// <see cref="Linear{T}"/> head), y = softmax(o) the distribution of the next character. Options: an
/// <see cref="Embedding{T}"/> in place of the one-hot code, an LSTM or GRU stack, <see cref="Dropout{T}"/> on the
/// top layer's output and between layers, and variational dropout on the recurrent connections. Every parameter
/// lives in one block.
/// </summary>
internal sealed class CharModel
{
    private readonly Dictionary<(int Steps, int Batch), WindowBuffers> buffers = [];
    private readonly float[] stepLogits;
    private readonly float[] stepProbabilities;
    private readonly RecurrentState<float> stepState;
    private readonly int[] stepIndex = new int[1];
    private WindowBuffers? last;

    public CharModel(Vocabulary vocabulary, ModelConfig config, SeededRandom random)
    {
        Vocabulary = vocabulary;
        Config = config;
        Parameters = new ParameterBlock<float>();
        int v = vocabulary.Size;
        if (config.Embedding > 0)
        {
            Embedding = new Embedding<float>(v, config.Embedding, random: random.Fork(), parameters: Parameters, name: "embedding");
        }

        int inputSize = config.Embedding > 0 ? config.Embedding : v;
        double between = config.Layers > 1 ? config.Dropout : 0;
        Recurrent = config.Cell switch
        {
            CellKind.Lstm => new Lstm<float>(inputSize, config.Hidden, config.Layers, random: random, parameters: Parameters,
                dropout: between, forgetBias: ModelConfig.LstmForgetBias, recurrentDropout: config.RecurrentDropout),
            CellKind.Gru => new Gru<float>(inputSize, config.Hidden, config.Layers, random: random, parameters: Parameters,
                dropout: between, recurrentDropout: config.RecurrentDropout),
            _ => new Rnn<float>(inputSize, config.Hidden, config.Layers, random: random, parameters: Parameters,
                dropout: between, recurrentDropout: config.RecurrentDropout),
        };
        Head = new Linear<float>(config.Hidden, v, random: random, parameters: Parameters, name: "head");
        if (config.Dropout > 0)
        {
            OutputDropout = new Dropout<float>(config.Dropout, random.Fork());
        }

        stepLogits = new float[v];
        stepProbabilities = new float[v];
        stepState = Recurrent.CreateState(1);
    }

    public Vocabulary Vocabulary { get; }

    public ModelConfig Config { get; }

    public ParameterBlock<float> Parameters { get; }

    /// <summary>The table of character vectors, or null for one-hot inputs.</summary>
    public Embedding<float>? Embedding { get; }

    /// <summary>The recurrent stack (Elman, LSTM or GRU).</summary>
    public RecurrentLayer<float> Recurrent { get; }

    /// <summary>Dropout on the top layer's output, or null.</summary>
    public Dropout<float>? OutputDropout { get; }

    public Linear<float> Head { get; }

    /// <summary>Whether the dropouts are active (training) or off (evaluation and generation).</summary>
    public bool Training
    {
        get => Recurrent.Training;
        set
        {
            Recurrent.Training = value;
            if (OutputDropout is not null)
            {
                OutputDropout.Training = value;
            }
        }
    }

    /// <summary>
    /// Runs one window: characters [steps, batch] (time-major, row t·batch + b) in, the next-character logits
    /// [steps·batch, V] out. The state is read and written in place, so the next window continues where this one ends
    /// (a value: no gradient crosses the boundary). Keeps what <see cref="Backward"/> needs.
    /// </summary>
    public Span<float> Forward(ReadOnlySpan<int> characters, int steps, int batch, RecurrentState<float> state)
    {
        var w = Buffers(steps, batch);
        int rows = steps * batch;
        if (Embedding is null)
        {
            w.Input.Clear();
            Span<float> x = w.Input.Data;
            int v = Vocabulary.Size;
            for (int n = 0; n < rows; n++)
            {
                x[n * v + characters[n]] = 1f;
            }
        }
        else
        {
            Embedding.Forward(characters, w.Input.Data);
            characters.CopyTo(w.Characters);
        }

        Recurrent.Forward(w.Input, w.Output, state, state);
        ReadOnlySpan<float> top = w.Output.Data;
        if (OutputDropout is not null)
        {
            OutputDropout.Forward(w.Output.Data, w.Dropped);
            top = w.Dropped;
        }

        Head.Forward(top, rows, w.Logits);
        last = w;
        return w.Logits;
    }

    /// <summary>Backpropagates dL/d logits of the last <see cref="Forward"/> through the head, the dropout, the recurrent
    /// stack and the embedding; the gradients accumulate into <see cref="Parameters"/>.</summary>
    public void Backward(ReadOnlySpan<float> dLogits)
    {
        var w = last ?? throw new InvalidOperationException("Backward needs a Forward first.");
        int rows = w.Steps * w.Batch;
        if (OutputDropout is not null)
        {
            Head.Backward(w.Dropped, dLogits, rows, w.DOutput.Data);
            OutputDropout.Backward(w.DOutput.Data, w.DOutput.Data);
        }
        else
        {
            Head.Backward(w.Output.Data, dLogits, rows, w.DOutput.Data);
        }

        if (Embedding is null)
        {
            Recurrent.Backward(w.DOutput);
        }
        else
        {
            Recurrent.Backward(w.DOutput, null, w.DInput);
            Embedding.Backward(w.Characters, w.DInput!.Data);
        }

        last = null;
    }

    /// <summary>Samples <paramref name="length"/> characters after <paramref name="prime"/>, one at a time, from
    /// softmax(o / temperature), feeding each back as the next input and carrying the hidden state.</summary>
    public string Sample(string prime, int length, double temperature, SeededRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temperature);
        Restart(prime);
        var text = new System.Text.StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            Probabilities(temperature);
            int next = Draw(stepProbabilities, random);
            text.Append(Vocabulary[next]);
            Feed(next);
        }

        return text.ToString();
    }

    /// <summary>The <paramref name="count"/> most likely next characters after <paramref name="prompt"/> (fed after
    /// <paramref name="prime"/>), with their probabilities, most likely first.</summary>
    public (char Character, double Probability)[] TopPredictions(string prime, string prompt, int count)
    {
        Restart(prime + prompt);
        Probabilities(1.0);
        return Enumerable.Range(0, Vocabulary.Size)
            .OrderByDescending(i => stepProbabilities[i])
            .ThenBy(i => i)
            .Take(count)
            .Select(i => (Vocabulary[i], (double)stepProbabilities[i]))
            .ToArray();
    }

    /// <summary>The greedy continuation of <paramref name="prompt"/>: the most likely character each step, up to and
    /// including <paramref name="stop"/> or <paramref name="maxLength"/> characters.</summary>
    public string Complete(string prime, string prompt, char stop, int maxLength)
    {
        Restart(prime + prompt);
        var text = new System.Text.StringBuilder(prompt);
        for (int i = 0; i < maxLength; i++)
        {
            int next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(stepLogits);
            char c = Vocabulary[next];
            if (c == stop)
            {
                break;
            }

            text.Append(c);
            Feed(next);
        }

        return text.ToString();
    }

    // Zero state, then every character of the text: afterwards stepLogits predicts the character after it.
    private void Restart(string text)
    {
        if (text.Length == 0)
        {
            throw new ArgumentException("Generation needs at least one character to start from.", nameof(text));
        }

        stepState.Clear();
        foreach (int c in Vocabulary.Encode(text))
        {
            Feed(c);
        }
    }

    // One step of the network in evaluation mode: h(t) from x(t) and h(t-1) (the state is read and written in
    // place), then o = c + V h.
    private void Feed(int character)
    {
        bool training = Training;
        Training = false;
        stepIndex[0] = character;
        Forward(stepIndex, 1, 1, stepState).CopyTo(stepLogits);
        last = null;
        Training = training;
    }

    private void Probabilities(double temperature)
    {
        System.Numerics.Tensors.TensorPrimitives.Multiply(stepLogits, (float)(1.0 / temperature), stepProbabilities);
        Softmax.Row<float>(stepProbabilities, stepProbabilities);
    }

    private static int Draw(ReadOnlySpan<float> probabilities, SeededRandom random)
    {
        double u = random.NextDouble(), cumulative = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            cumulative += probabilities[i];
            if (u < cumulative)
            {
                return i;
            }
        }

        return probabilities.Length - 1;
    }

    private WindowBuffers Buffers(int steps, int batch)
    {
        if (!buffers.TryGetValue((steps, batch), out var w))
        {
            w = new WindowBuffers(this, steps, batch);
            buffers.Add((steps, batch), w);
        }

        return w;
    }

    /// <summary>The tensors of one window shape, allocated once.</summary>
    private sealed class WindowBuffers(CharModel model, int steps, int batch)
    {
        private static readonly float[] None = [];

        public int Steps { get; } = steps;

        public int Batch { get; } = batch;

        public Tensor<float> Input { get; } = new(steps, batch, model.Recurrent.InputSize);

        public Tensor<float> Output { get; } = new(steps, batch, model.Recurrent.OutputSize);

        public Tensor<float> DOutput { get; } = new(steps, batch, model.Recurrent.OutputSize);

        public Tensor<float>? DInput { get; } = model.Embedding is null ? null : new(steps, batch, model.Recurrent.InputSize);

        public int[] Characters { get; } = new int[steps * batch];

        public float[] Dropped { get; } = model.OutputDropout is null ? None : new float[steps * batch * model.Recurrent.OutputSize];

        public float[] Logits { get; } = new float[steps * batch * model.Vocabulary.Size];
    }
}
