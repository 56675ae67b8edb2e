using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace CharRnn;

/// <summary>
/// The course's Elman network over characters: x(t) is the one-hot code of a character, a = b + W h(t-1) + U x(t),
/// h = tanh(a) (a stack of <see cref="Rnn{T}"/> layers), o = c + V h (a <see cref="Linear{T}"/> head), y = softmax(o)
/// the distribution of the next character. The RNN and the head share one parameter block.
/// </summary>
internal sealed class CharModel
{
    // Single-step buffers for generation: [1, 1, V] in, [1, 1, H] out.
    private readonly Tensor<float> stepInput;
    private readonly Tensor<float> stepHidden;
    private readonly float[] stepLogits;
    private readonly float[] stepProbabilities;
    private readonly RecurrentState<float> stepState;

    public CharModel(Vocabulary vocabulary, int hiddenSize, int numLayers, SeededRandom random)
    {
        Vocabulary = vocabulary;
        Parameters = new ParameterBlock<float>();
        Rnn = new Rnn<float>(vocabulary.Size, hiddenSize, numLayers, random: random, parameters: Parameters);
        Head = new Linear<float>(hiddenSize, vocabulary.Size, random: random, parameters: Parameters, name: "head");
        stepInput = new Tensor<float>(1, 1, vocabulary.Size);
        stepHidden = new Tensor<float>(1, 1, hiddenSize);
        stepLogits = new float[vocabulary.Size];
        stepProbabilities = new float[vocabulary.Size];
        stepState = Rnn.CreateState(1);
    }

    public Vocabulary Vocabulary { get; }

    public ParameterBlock<float> Parameters { get; }

    public Rnn<float> Rnn { get; }

    public Linear<float> Head { get; }

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

    // One step of the network: h(t) from x(t) and h(t-1) (the state is read and written in place), then o = c + V h.
    private void Feed(int character)
    {
        stepInput.Clear();
        stepInput.Data[character] = 1f;
        Rnn.Forward(stepInput, stepHidden, stepState, stepState);
        Head.Forward(stepHidden.Data, 1, stepLogits);
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
}
