using System.Numerics;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Models;

/// <summary>
/// The streaming form of a <see cref="SequenceModel{T}"/>: feeds one step at a time and carries each layer's state
/// between calls, in evaluation mode. The output of step t is the model's output at step t of the whole sequence,
/// bit for bit (for a model with a <see cref="Reduction"/>, the output the model would give for the sequence ending at
/// step t). Legend: B = <see cref="BatchSize"/>, I = the model's input size, O = its output size.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>Runs unidirectional recurrent layers, linear, dropout (off) and reduction layers; a bidirectional layer, a
/// time-delay layer or a custom layer needs the whole sequence and makes <see cref="SequenceModel{T}.CreateStepper"/>
/// throw. The stepper shares the model's weights: train the model and the stepper sees the new weights. It runs on the
/// model's layers, so a step while another thread runs the model (or the stepper) throws
/// <see cref="InvalidOperationException"/>.</remarks>
public sealed class ModelStepper<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SequenceModel<T> model;
    private readonly Tensor<T> input;
    private readonly Tensor<T>[] outputs;
    private readonly RecurrentState<T>?[] states;
    private readonly Tensor<T>?[] sums;
    private readonly int[] ones;
    private readonly int[] tokens;
    private int count;

    internal ModelStepper(SequenceModel<T> model, int batchSize)
    {
        this.model = model;
        BatchSize = batchSize;
        var layers = model.Layers;
        outputs = new Tensor<T>[layers.Count];
        states = new RecurrentState<T>?[layers.Count];
        sums = new Tensor<T>?[layers.Count];
        ones = Enumerable.Repeat(1, batchSize).ToArray();
        tokens = new int[batchSize];
        int width = model.Embedding?.EmbeddingDim ?? model.InputSize;
        input = new Tensor<T>(1, batchSize, width);
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            switch (layer)
            {
                case RecurrentAdapter<T> recurrent when recurrent.Layer.Directions == 2 || recurrent.Layer.GoBackwards:
                    throw new NotSupportedException($"Layer {i} ('{model.Architecture[i + (model.TokenInput ? 1 : 0)].Name}') is {(recurrent.Layer.GoBackwards ? "goBackwards (it reads from the last step)" : "bidirectional")}: it needs the whole sequence and cannot run step by step.");
                case RecurrentAdapter<T> recurrent:
                    states[i] = recurrent.Layer.CreateState(batchSize);
                    break;
                case ReduceAdapter<T> { Reduction: Reduction.Mean }:
                    sums[i] = new Tensor<T>(1, batchSize, layer.InputSize);
                    break;
                case ReduceAdapter<T> or LinearAdapter<T> or DropoutAdapter<T>:
                    break;
                default:
                    throw new NotSupportedException($"Layer {i} ({layer.GetType().Name}) needs the whole sequence and cannot run step by step.");
            }

            outputs[i] = new Tensor<T>(1, batchSize, layer.OutputSize);
        }

        Reset();
    }

    /// <summary>B, the streams stepped together.</summary>
    public int BatchSize { get; }

    /// <summary>The steps taken since the last <see cref="Reset"/>.</summary>
    public int Steps => count;

    /// <summary>Starts every stream again: the initial state (the learned one when the layer has it, else zeros).</summary>
    public void Reset()
    {
        count = 0;
        for (int i = 0; i < states.Length; i++)
        {
            if (states[i] is not RecurrentState<T> state)
            {
                sums[i]?.Clear();
                continue;
            }

            var layer = ((RecurrentAdapter<T>)model.Layers[i]).Layer;
            state.Clear();
            for (int k = 0; k < layer.NumLayers * layer.Directions; k++)
            {
                for (int b = 0; b < BatchSize; b++)
                {
                    if (layer.InitialHidden is { } h0)
                    {
                        h0.Values.Slice(k * layer.StateSize, layer.StateSize).CopyTo(state.Hidden.Row(k, b));
                    }

                    if (layer.InitialCell is { } c0)
                    {
                        c0.Values.Slice(k * layer.HiddenSize, layer.HiddenSize).CopyTo(state.Cell!.Row(k, b));
                    }
                }
            }
        }
    }

    /// <summary>Feeds one step of features to every stream.</summary>
    /// <param name="features">x(t), [B, I].</param>
    /// <param name="output">Receives y(t), [B, O].</param>
    /// <exception cref="ArgumentException">A length disagrees, or the model reads tokens.</exception>
    public void Step(ReadOnlySpan<T> features, Span<T> output)
    {
        if (model.TokenInput)
        {
            throw new ArgumentException("The model reads tokens: step it with Step(ReadOnlySpan<int>, Span<T>).", nameof(features));
        }

        if (features.Length != input.Length)
        {
            throw new ArgumentException($"features has {features.Length} values but [{BatchSize}, {model.InputSize}] (batchSize, inputSize) needs {input.Length}.", nameof(features));
        }

        features.CopyTo(input.AsSpan());
        Run(output);
    }

    /// <summary>Feeds one token to every stream.</summary>
    /// <param name="tokens">The token of each stream, [B], each in [0, vocabulary size).</param>
    /// <param name="output">Receives y(t), [B, O].</param>
    /// <exception cref="ArgumentException">A length disagrees, the model reads features, or a token is outside the vocabulary.</exception>
    public void Step(ReadOnlySpan<int> tokens, Span<T> output)
    {
        if (!model.TokenInput)
        {
            throw new ArgumentException("The model reads features: step it with Step(ReadOnlySpan<T>, Span<T>).", nameof(tokens));
        }

        if (tokens.Length != BatchSize)
        {
            throw new ArgumentException($"tokens has {tokens.Length} entries but the stepper has {BatchSize} streams.", nameof(tokens));
        }

        for (int b = 0; b < tokens.Length; b++)
        {
            if ((uint)tokens[b] >= (uint)model.InputSize)
            {
                throw new ArgumentException($"Token {tokens[b]} of stream {b} is outside the vocabulary [0, {model.InputSize}).", nameof(tokens));
            }
        }

        tokens.CopyTo(this.tokens);
        if (model.Embedding is { } embedding)
        {
            embedding.Forward(this.tokens, input.AsSpan());
        }
        else
        {
            SequenceModel<T>.OneHot(this.tokens, input);
        }
        Run(output);
    }

    private void Run(Span<T> output)
    {
        using var use = model.Use();
        if (output.Length != BatchSize * model.OutputSize)
        {
            throw new ArgumentException($"output has {output.Length} values but [{BatchSize}, {model.OutputSize}] (batchSize, outputSize) needs {BatchSize * model.OutputSize}.", nameof(output));
        }

        if (model.Training)
        {
            model.Training = false;
        }

        count++;
        var x = input;
        var layers = model.Layers;
        for (int i = 0; i < layers.Count; i++)
        {
            switch (layers[i])
            {
                case RecurrentAdapter<T> recurrent:
                    recurrent.Layer.Forward(x, outputs[i], states[i], states[i]);
                    break;
                case ReduceAdapter<T> { Reduction: Reduction.Mean }:
                    // The mean over the steps so far, summed in step order as the whole-sequence reduction does.
                    var sum = sums[i]!;
                    TP.Add(sum.AsSpan(), x.AsSpan(), sum.AsSpan());
                    TP.Multiply(sum.AsSpan(), T.One / T.CreateTruncating(count), outputs[i].AsSpan());
                    break;
                case ReduceAdapter<T>:
                    x.AsSpan().CopyTo(outputs[i].AsSpan());
                    break;
                default:
                    layers[i].Forward(x, outputs[i], ones);
                    break;
            }

            x = outputs[i];
        }

        x.AsSpan().CopyTo(output);
    }
}
