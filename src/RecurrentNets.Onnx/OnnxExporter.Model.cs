using System.Numerics;
using RecurrentNets.Layers;
using RecurrentNets.Models;
using static RecurrentNets.Onnx.OnnxProto;

namespace RecurrentNets.Onnx;

// Whole-model export: a SequenceModel's layers in order, each as standard ONNX operators.
public static partial class OnnxExporter
{
    /// <summary>Exports a whole <see cref="SequenceModel{T}"/> (its inference model) to an ONNX file.</summary>
    /// <param name="model">The model: built-in layers only.</param>
    /// <param name="path">The file to write (replaced if it exists). Nothing is written when the model cannot be exported.</param>
    /// <param name="options">Reads <see cref="OnnxExportOptions.SequenceLengths"/> and <see cref="OnnxExportOptions.GraphName"/>;
    /// the defaults when null.</param>
    /// <remarks>
    /// <para>Legend: T = steps, B = batch, I = <see cref="SequenceModel{T}.InputSize"/>, O = <see cref="SequenceModel{T}.OutputSize"/>,
    /// T' = 1 after a reduction, else T.</para>
    /// <para>Graph inputs: <c>input</c> [T, B, I] float, or <c>tokens</c> [T, B] int64 for a token model (first layer an
    /// embedding); with <see cref="OnnxExportOptions.SequenceLengths"/>, <c>sequence_lens</c> [B] int32, fed to every
    /// recurrent node before the first reduction and to that reduction. Graph output: <c>output</c> [T', B, O], as
    /// <see cref="SequenceModel{T}.Predict(SequenceBatch{T})"/>. Embedding: <c>Gather</c>; recurrent stack: the
    /// <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> nodes of the single-layer export; linear: <c>MatMul</c> + <c>Add</c>; dropout:
    /// nothing; time delay: <c>Transpose</c>, <c>Conv</c> (left padding (K - 1)·dilation, dilations), the activation,
    /// <c>Transpose</c>; last step: <c>Gather</c> (or <c>GatherND</c> on sequence_lens − 1); mean: <c>ReduceMean</c> (or a
    /// <c>Range</c>/<c>Less</c> mask, <c>ReduceSum</c> and <c>Div</c> by sequence_lens).</para>
    /// </remarks>
    /// <exception cref="NotSupportedException">A custom layer (<see cref="CustomSpec"/>) has no ONNX operator; the message
    /// names it.</exception>
    /// <exception cref="ArgumentException">The model has no layer, or <see cref="OnnxExportOptions.InitialState"/> is set
    /// (a model's recurrent layers start from their learned initial state or zeros).</exception>
    public static void Export<T>(SequenceModel<T> model, string path, OnnxExportOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = ToBytes(model, options);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Exports a whole <see cref="SequenceModel{T}"/> (its inference model) as an ONNX model to a stream.</summary>
    /// <param name="model">The model: built-in layers only.</param>
    /// <param name="stream">Receives the model. Nothing is written when the model cannot be exported.</param>
    /// <param name="options">Reads <see cref="OnnxExportOptions.SequenceLengths"/> and <see cref="OnnxExportOptions.GraphName"/>;
    /// the defaults when null.</param>
    /// <inheritdoc cref="Export{T}(SequenceModel{T}, string, OnnxExportOptions?)" path="/remarks"/>
    /// <inheritdoc cref="Export{T}(SequenceModel{T}, string, OnnxExportOptions?)" path="/exception"/>
    public static void Export<T>(SequenceModel<T> model, Stream stream, OnnxExportOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] bytes = ToBytes(model, options);
        stream.Write(bytes);
    }

    /// <summary>Exports a whole <see cref="SequenceModel{T}"/> (its inference model) as the bytes of an ONNX model.</summary>
    /// <param name="model">The model: built-in layers only.</param>
    /// <param name="options">Reads <see cref="OnnxExportOptions.SequenceLengths"/> and <see cref="OnnxExportOptions.GraphName"/>;
    /// the defaults when null.</param>
    /// <returns>The model's bytes.</returns>
    /// <inheritdoc cref="Export{T}(SequenceModel{T}, string, OnnxExportOptions?)" path="/remarks"/>
    /// <inheritdoc cref="Export{T}(SequenceModel{T}, string, OnnxExportOptions?)" path="/exception"/>
    public static byte[] ToBytes<T>(SequenceModel<T> model, OnnxExportOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxExportOptions();
        if (options.InitialState)
        {
            throw new ArgumentException(
                "InitialState applies to the export of one RecurrentLayer: a SequenceModel's recurrent layers start from their learned initial state or zeros.",
                nameof(options));
        }

        var graph = new GraphBuilder<T>(options);
        graph.BuildModel(model);
        return graph.ToModel();
    }

    private sealed partial class GraphBuilder<T>
    {
        public void BuildModel(SequenceModel<T> model)
        {
            var layers = model.Layers;
            if (layers.Count == 0)
            {
                throw new ArgumentException("The model has no layer: nothing to export.", nameof(model));
            }

            // Every layer is checked before anything is built.
            var specs = model.Architecture.Skip(model.TokenInput ? 1 : 0).ToArray();
            for (int i = 0; i < specs.Length; i++)
            {
                if (specs[i] is CustomSpec custom)
                {
                    throw new NotSupportedException(
                        $"Layer {i} ('{custom.Name}') is a custom layer of type '{custom.TypeName}', which has no ONNX operator: only the built-in layers (embedding, recurrent, linear, dropout, time delay, reductions) export.");
                }

                if (model.GetRecurrentLayer(i) is { } recurrent)
                {
                    CheckCells(recurrent);
                }
            }

            string x = model.Embedding is { } embedding ? AddEmbedding(embedding, model.Architecture[0].Name!)
                : model.TokenInput ? AddOneHot(model.InputSize, model.Architecture[0].Name!)
                : AddFeatureInput(model.InputSize);
            AddLengthsInput();
            bool reduced = false;
            int inputDirections = 1;
            for (int i = 0; i < specs.Length; i++)
            {
                string prefix = specs[i].Name + ".", y = prefix + "output";
                int inputSize = layers[i].InputSize;
                switch (specs[i])
                {
                    case RecurrentSpec:
                        AddRecurrent(model.GetRecurrentLayer(i)!, prefix, x, y, options.SequenceLengths && !reduced);
                        x = y;
                        break;
                    case LinearSpec linear:
                        AddLinear(prefix, model.Parameters[prefix + "weight"].Values, linear.Bias ? model.Parameters[prefix + "bias"].Values : default,
                            inputSize, linear.OutFeatures, x, y);
                        x = y;
                        break;
                    case TimeDelaySpec delay:
                        x = AddTimeDelay(prefix, delay, model.Parameters, inputSize, x);
                        break;
                    case ReduceSpec reduce when !reduced:
                        // After a reduction every length is 1: a second one is the identity.
                        x = reduce.Reduction == Reduction.Mean
                            ? AddMean(prefix, x)
                            : AddLastStep(prefix, x, inputDirections == 2 ? inputSize / 2 : inputSize, inputSize);
                        reduced = true;
                        break;
                }

                // As the model builds a reduction: the reverse half is at step 0 when the last layer before it that is not
                // dropout is bidirectional.
                inputDirections = specs[i] switch
                {
                    RecurrentSpec recurrentSpec => recurrentSpec.Bidirectional && recurrentSpec.MergeMode == Sequence.MergeMode.Concat ? 2 : 1,
                    DropoutSpec => inputDirections,
                    _ => 1,
                };
            }

            Op("Identity", OutputName, [x]);
            outputs.Add(ValueInfo(OutputName, Float, reduced ? 1 : TimeSteps, BatchSize, model.OutputSize));
        }

        private string AddFeatureInput(int inputSize)
        {
            inputs.Add(ValueInfo(InputName, Float, TimeSteps, BatchSize, inputSize));
            return InputName;
        }

        // tokens [T, B] int64 → Gather on the weight [V, E] → [T, B, E].
        private string AddEmbedding(Embedding<T> embedding, string name)
        {
            source = TokensName;
            inputs.Add(ValueInfo(TokensName, OnnxProto.Int64, TimeSteps, BatchSize));
            string weight = FloatInitializer(name + ".weight", embedding.Weight.Values, embedding.NumEmbeddings, embedding.EmbeddingDim);
            return Op("Gather", name + ".output", [weight, TokensName], Attribute("axis", 0L));
        }

        // tokens [T, B] int64 → OneHot over the vocabulary V (off 0, on 1) → [T, B, V].
        private string AddOneHot(int vocabulary, string name)
        {
            source = TokensName;
            inputs.Add(ValueInfo(TokensName, OnnxProto.Int64, TimeSteps, BatchSize));
            T[] offOn = [T.Zero, T.One];
            return Op("OneHot", name + ".output", [TokensName, Constant(vocabulary), FloatInitializer(name + ".values", offOn, 2)], Attribute("axis", -1L));
        }

        // [T, B, I] → [B, I, T] → Conv with W [O, I, K], left padding (K - 1)·δ, dilation δ → f → [T, B, O].
        private string AddTimeDelay(string prefix, TimeDelaySpec spec, Parameters.ParameterBlock<T> parameters, int inputSize, string x)
        {
            int k = spec.KernelSize, dilation = spec.Dilation;
            string weight = FloatInitializer(prefix + "weight", parameters[prefix + "weight"].Values, spec.OutputSize, inputSize, k);
            string[] convInputs = [Op("Transpose", prefix + "bit", [x], Attribute("perm", new long[] { 1, 2, 0 })), weight];
            if (spec.Bias)
            {
                convInputs = [.. convInputs, FloatInitializer(prefix + "bias", parameters[prefix + "bias"].Values, spec.OutputSize)];
            }

            string y = Op("Conv", prefix + "conv", convInputs, Attribute("kernel_shape", new long[] { k }),
                Attribute("dilations", new long[] { dilation }), Attribute("pads", new long[] { (k - 1) * dilation, 0 }));
            string? activation = spec.Activation switch
            {
                Activation.Tanh => "Tanh",
                Activation.Relu => "Relu",
                Activation.Sigmoid => "Sigmoid",
                _ => null,
            };
            if (activation is not null)
            {
                y = Op(activation, prefix + "activation", [y]);
            }

            return Op("Transpose", prefix + "output", [y], Attribute("perm", new long[] { 2, 0, 1 }));
        }

        // [T, B, F] → [1, B, F]: step length − 1 of each sequence for the first `forward` features, step 0 for the rest
        // (the reverse half of a bidirectional layer).
        private string AddLastStep(string prefix, string x, int forward, int width)
        {
            string last;
            if (options.SequenceLengths)
            {
                // [B, T, F] gathered at [[length_b − 1]] per sequence (batch_dims 1) → [B, F] → [1, B, F].
                string index = Op("Unsqueeze", prefix + "last_index", [Op("Sub", prefix + "lengths_minus_one", [LengthsInt64(), Constant(1)]), Constant(1)]);
                string btf = Op("Transpose", prefix + "btf", [x], Attribute("perm", new long[] { 1, 0, 2 }));
                string rows = Op("GatherND", prefix + "last_rows", [btf, index], Attribute("batch_dims", 1L));
                last = Op("Unsqueeze", prefix + "last", [rows, Constant(0)]);
            }
            else
            {
                last = Op("Gather", prefix + "last", [x, Constant(-1)], Attribute("axis", 0L));
            }

            if (forward == width)
            {
                return last;
            }

            string first = Op("Gather", prefix + "first", [x, Constant(0)], Attribute("axis", 0L));
            return Op("Concat", prefix + "output",
                [Slice(prefix + "forward", last, 0, forward, 2), Slice(prefix + "reverse", first, forward, width, 2)], Attribute("axis", 2L));
        }

        // [T, B, F] → [1, B, F]: the mean over each sequence's valid steps, Σ_t mask[t, b]·x[t, b] / length_b with
        // mask[t, b] = t < length_b.
        private string AddMean(string prefix, string x)
        {
            if (!options.SequenceLengths)
            {
                return Op("ReduceMean", prefix + "output", [x], Attribute("axes", new long[] { 0 }), Attribute("keepdims", 1L));
            }

            string steps = Op("Gather", prefix + "steps", [Op("Shape", prefix + "shape", [x]), Scalar(0)], Attribute("axis", 0L));
            string range = Op("Unsqueeze", prefix + "step_index", [Op("Range", prefix + "range", [Scalar(0), steps, Scalar(1)]), Constant(1)]);
            string valid = Op("Less", prefix + "valid", [range, Op("Unsqueeze", prefix + "lengths_row", [LengthsInt64(), Constant(0)])]);
            string mask = Op("Unsqueeze", prefix + "mask", [Op("Cast", prefix + "valid_float", [valid], Attribute("to", (long)Float)), Constant(2)]);
            string sum = Op("ReduceSum", prefix + "sum", [Op("Mul", prefix + "masked", [x, mask]), Constant(0)], Attribute("keepdims", 1L));
            string count = Op("Reshape", prefix + "count",
                [Op("Cast", prefix + "lengths_float", [SequenceLengthsName], Attribute("to", (long)Float)), Constant(1, -1, 1)]);
            return Op("Div", prefix + "output", [sum, count]);
        }

        // sequence_lens as int64 [B], cast once.
        private string LengthsInt64()
        {
            const string name = "sequence_lens_int64";
            return constants.Add(name) ? Op("Cast", name, [SequenceLengthsName], Attribute("to", (long)OnnxProto.Int64)) : name;
        }
    }
}
