using RecurrentNets.Samples;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace ReberSample;

/// <summary>
/// A recurrent layer over one-hot symbols and a linear head at every step, y(t) = softmax(V h(t) + c), the predicted
/// distribution of the next symbol. Trained on the actual next symbol with a softmax cross-entropy, whose minimiser is
/// the grammar's next-symbol distribution (1/2 on each of two legal symbols, or 1 on a single one); Adam and clipping.
/// </summary>
internal sealed class ReberModel
{
    private const int Symbols = EmbeddedReberGrammar.SymbolCount;
    private readonly RecurrentLayer<float> rnn;
    private readonly Linear<float> head;
    private readonly Adam<float> optimizer;
    private readonly double clipNorm;
    private Tensor<float> output = new(1, 1, 1), dOutput = new(1, 1, 1);
    private float[] logits = [], dLogits = [];

    public ReberModel(CellKind kind, int hiddenSize, SeededRandom random, double learningRate, double clipNorm)
    {
        Parameters = new ParameterBlock<float>();
        rnn = kind.Create(Symbols, hiddenSize, random, Parameters, forgetBias: 1.0);
        head = new Linear<float>(hiddenSize, Symbols, random: random, parameters: Parameters, name: "head");
        optimizer = new Adam<float>(Parameters, learningRate);
        this.clipNorm = clipNorm;
    }

    public ParameterBlock<float> Parameters { get; }

    /// <summary>One Adam step on a batch; returns the mean cross-entropy (nats per symbol) before the step.</summary>
    public double TrainStep(StringBatch batch)
    {
        int rows = batch.Input.Size(0) * batch.Input.Size(1);
        optimizer.ZeroGradients();
        Forward(batch.Input);
        double loss = CrossEntropyLoss.Compute<float>(logits.AsSpan(0, rows * Symbols), batch.Targets, Symbols, dLogits.AsSpan(0, rows * Symbols));
        head.Backward(output.AsSpan(), dLogits.AsSpan(0, rows * Symbols), rows, dOutput.AsSpan());
        rnn.Backward(dOutput);
        GradientClipping.ClipGradientNorm(Parameters, clipNorm);
        optimizer.Step();
        return loss;
    }

    /// <summary>The predicted next-symbol distribution at every step, [T·B, 7] (row t·B + b).</summary>
    public void Predict(StringBatch batch, Span<float> probabilities)
    {
        int rows = batch.Input.Size(0) * batch.Input.Size(1);
        Forward(batch.Input);
        Softmax.Rows<float>(logits.AsSpan(0, rows * Symbols), rows, Symbols, probabilities);
    }

    /// <summary>The strings of the batch with a position where some legal next symbol is not above every illegal one.</summary>
    public int CountFailing(StringBatch batch)
    {
        Predict(batch, batch.Probabilities);
        int failing = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            if (!batch.IsPredicted(b))
            {
                failing++;
            }
        }

        return failing;
    }

    private void Forward(Tensor<float> input)
    {
        int steps = input.Size(0), batch = input.Size(1), rows = steps * batch;
        if (!output.HasShape(steps, batch, rnn.HiddenSize))
        {
            output = new Tensor<float>(steps, batch, rnn.HiddenSize);
            dOutput = new Tensor<float>(steps, batch, rnn.HiddenSize);
        }

        if (logits.Length < rows * Symbols)
        {
            logits = new float[rows * Symbols];
            dLogits = new float[rows * Symbols];
        }

        rnn.Forward(input, output);
        head.Forward(output.AsSpan(), rows, logits.AsSpan(0, rows * Symbols));
    }
}

/// <summary>Strings as one time-major batch padded at the end, with per-step next-symbol targets.</summary>
internal sealed class StringBatch
{
    public StringBatch(ReberString[] strings)
    {
        Strings = strings;
        int steps = strings.Max(s => s.Length) - 1;
        Input = new Tensor<float>(steps, strings.Length, EmbeddedReberGrammar.SymbolCount);
        Targets = new int[steps * strings.Length];
        EmbeddedReberGrammar.WriteBatch(strings, Input, Targets);
        Probabilities = new float[Targets.Length * EmbeddedReberGrammar.SymbolCount];
    }

    public ReberString[] Strings { get; }

    public int Count => Strings.Length;

    public Tensor<float> Input { get; }

    public int[] Targets { get; }

    /// <summary>The last predictions, filled by <see cref="ReberModel.Predict"/>.</summary>
    public float[] Probabilities { get; }

    public ReadOnlySpan<float> At(int position, int index)
        => Probabilities.AsSpan((position * Count + index) * EmbeddedReberGrammar.SymbolCount, EmbeddedReberGrammar.SymbolCount);

    /// <summary>Whether every position of string <paramref name="index"/> is predicted (after <see cref="ReberModel.Predict"/>).</summary>
    public bool IsPredicted(int index)
    {
        var s = Strings[index];
        for (int t = 0; t < s.Length - 1; t++)
        {
            if (!s.PredictsNext<float>(t, At(t, index)))
            {
                return false;
            }
        }

        return true;
    }
}
