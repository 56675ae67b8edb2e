using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Interop;
using RecurrentNets.Layers;
using RecurrentNets.Sequence;
using static RecurrentNets.Onnx.OnnxProto;

namespace RecurrentNets.Onnx;

/// <summary>
/// Writes a <see cref="RecurrentLayer{T}"/> (RNN, LSTM, GRU; stacked, bidirectional with any merge mode, goBackwards), with an optional
/// <see cref="Linear{T}"/> head, as an ONNX model that uses the standard <c>RNN</c>, <c>LSTM</c> and <c>GRU</c>
/// operators (opset <see cref="OpsetVersion"/>), for ONNX Runtime, Triton or TensorRT; or a whole
/// <see cref="Models.SequenceModel{T}"/> (see <see cref="Export{T}(Models.SequenceModel{T}, string, OnnxExportOptions?)"/>).
/// </summary>
/// <remarks>
/// <para>Legend: T = timeSteps, B = batchSize, I = inputSize, H = hiddenSize, L = numLayers, D = directions.</para>
/// <para>
/// Graph inputs: <c>input</c> [T, B, I] (T and B dynamic: <c>time_steps</c>, <c>batch_size</c>), and optionally
/// <c>sequence_lens</c> [B] (int32), <c>initial_h</c> and <c>initial_c</c> [L·D, B, H] (see
/// <see cref="OnnxExportOptions"/>). Graph outputs: <c>output</c> [T, B, D·H], or [T, B, Out] through the head, and
/// <c>final_h</c>, <c>final_c</c> [L·D, B, H]. Each stacked layer is one operator node; its Y [T, D, B, H] is turned into
/// the next layer's input [T, B, D·H] by <c>Transpose</c> and <c>Reshape</c>; the head is <c>MatMul</c> and <c>Add</c>.
/// Weights are float32 initializers (a double model is converted).
/// </para>
/// <para>
/// The export is the inference model: dropout and recurrent dropout are left out whatever <see
/// cref="RecurrentLayer{T}.Training"/> says (as <c>Training = false</c>). A learned initial state becomes an
/// initializer broadcast over the batch with <c>Expand</c> (used when the graph has no <c>initial_h</c> input).
/// A cell other than <see cref="ElmanCell{T}"/>, <see cref="LstmCell{T}"/> and <see cref="GruCell{T}"/> (a user-written
/// one) has no ONNX operator and is refused with <see cref="NotSupportedException"/>.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var lstm = new Lstm&lt;float&gt;(inputSize: 3, hiddenSize: 16, numLayers: 2, bidirectional: true);
/// var head = new Linear&lt;float&gt;(lstm.OutputSize, 5);
/// OnnxExporter.Export(lstm, head, "model.onnx", new OnnxExportOptions { SequenceLengths = true });
/// </code>
/// </example>
public static partial class OnnxExporter
{
    /// <summary>The ONNX operator set the models use (the default domain).</summary>
    public const int OpsetVersion = 14;

    /// <summary>The ONNX IR version written, the one that goes with <see cref="OpsetVersion"/>.</summary>
    public const int IrVersion = 7;

    /// <summary>The name of the input sequence [T, B, I].</summary>
    public const string InputName = "input";

    /// <summary>The name of a token model's input [T, B] (int64), read instead of <see cref="InputName"/>.</summary>
    public const string TokensName = "tokens";

    /// <summary>The name of the optional sequence lengths input [B] (int32).</summary>
    public const string SequenceLengthsName = "sequence_lens";

    /// <summary>The name of the optional initial hidden state input [L·D, B, H].</summary>
    public const string InitialHiddenName = "initial_h";

    /// <summary>The name of the optional initial cell state input [L·D, B, H] (LSTM only).</summary>
    public const string InitialCellName = "initial_c";

    /// <summary>The name of the output [T, B, D·H] (or [T, B, Out] through the head).</summary>
    public const string OutputName = "output";

    /// <summary>The name of the final hidden state output [L·D, B, H].</summary>
    public const string FinalHiddenName = "final_h";

    /// <summary>The name of the final cell state output [L·D, B, H] (LSTM only).</summary>
    public const string FinalCellName = "final_c";

    private const string TimeSteps = "time_steps", BatchSize = "batch_size";

    /// <summary>Exports <paramref name="layer"/> and <paramref name="head"/> to an ONNX file.</summary>
    /// <param name="layer">The recurrent stack.</param>
    /// <param name="head">A linear layer applied to every output step, or null.</param>
    /// <param name="path">The file to write (replaced if it exists). Nothing is written when the model cannot be exported.</param>
    /// <param name="options">The optional inputs and outputs; the defaults when null.</param>
    /// <exception cref="NotSupportedException">A cell has no ONNX operator (a user-written cell), or the two directions
    /// of a layer are different kinds of cell.</exception>
    /// <exception cref="ArgumentException"><paramref name="head"/>'s input width is not the layer's output width D·H.</exception>
    public static void Export<T>(RecurrentLayer<T> layer, Linear<T>? head, string path, OnnxExportOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] model = ToBytes(layer, head, options);
        File.WriteAllBytes(path, model);
    }

    /// <summary>Exports <paramref name="layer"/> and <paramref name="head"/> as an ONNX model to a stream.</summary>
    /// <param name="layer">The recurrent stack.</param>
    /// <param name="head">A linear layer applied to every output step, or null.</param>
    /// <param name="stream">Receives the model. Nothing is written when the model cannot be exported.</param>
    /// <param name="options">The optional inputs and outputs; the defaults when null.</param>
    /// <exception cref="NotSupportedException">A cell has no ONNX operator (a user-written cell), or the two directions
    /// of a layer are different kinds of cell.</exception>
    /// <exception cref="ArgumentException"><paramref name="head"/>'s input width is not the layer's output width D·H.</exception>
    public static void Export<T>(RecurrentLayer<T> layer, Linear<T>? head, Stream stream, OnnxExportOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] model = ToBytes(layer, head, options);
        stream.Write(model);
    }

    /// <summary>Exports <paramref name="layer"/> and <paramref name="head"/> as the bytes of an ONNX model.</summary>
    /// <inheritdoc cref="Export{T}(RecurrentLayer{T}, Linear{T}?, Stream, OnnxExportOptions?)"/>
    public static byte[] ToBytes<T>(RecurrentLayer<T> layer, Linear<T>? head, OnnxExportOptions? options = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(layer);
        options ??= new OnnxExportOptions();
        if (head is not null && head.InFeatures != layer.OutputSize)
        {
            throw new ArgumentException(
                $"head has {head.InFeatures} input features (inFeatures) but the layer outputs {layer.OutputSize} (directions·hiddenSize).", nameof(head));
        }

        var graph = new GraphBuilder<T>(options);
        graph.BuildLayer(layer, head);
        return graph.ToModel();
    }

    // The graph under construction. Names of one layer of a model share the prefix "{layer name}." (a layer name has no '.',
    // so no two layers' names meet); the single-layer export uses no prefix.
    private sealed partial class GraphBuilder<T>(OnnxExportOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly List<Message> nodes = [], initializers = [], inputs = [], outputs = [];
        private readonly HashSet<string> constants = new(StringComparer.Ordinal);

        // The graph input whose shape gives B (dimension 1).
        private string source = InputName;

        public void BuildLayer(RecurrentLayer<T> layer, Linear<T>? head)
        {
            CheckCells(layer);
            int stateRows = layer.NumLayers * layer.Directions, h = layer.HiddenSize;
            inputs.Add(ValueInfo(InputName, Float, TimeSteps, BatchSize, layer.InputSize));
            AddLengthsInput();
            if (options.InitialState)
            {
                inputs.Add(ValueInfo(InitialHiddenName, Float, stateRows, BatchSize, h));
                if (layer.HasCellState)
                {
                    inputs.Add(ValueInfo(InitialCellName, Float, stateRows, BatchSize, h));
                }
            }

            string y = head is null ? OutputName : "rnn_output";
            var (finalHidden, finalCell) = AddRecurrent(layer, "", InputName, y, options.SequenceLengths);
            if (head is not null)
            {
                AddLinear("head_", head.Weight.Values, head.Bias is null ? default : head.Bias.Values, head.InFeatures, head.OutFeatures, y, OutputName);
            }

            outputs.Add(ValueInfo(OutputName, Float, TimeSteps, BatchSize, head?.OutFeatures ?? layer.OutputSize));
            if (options.FinalState)
            {
                nodes.Add(Node("Concat", "final_h_concat", finalHidden, [FinalHiddenName], Attribute("axis", 0L)));
                outputs.Add(ValueInfo(FinalHiddenName, Float, stateRows, BatchSize, h));
                if (layer.HasCellState)
                {
                    nodes.Add(Node("Concat", "final_c_concat", finalCell, [FinalCellName], Attribute("axis", 0L)));
                    outputs.Add(ValueInfo(FinalCellName, Float, stateRows, BatchSize, h));
                }
            }
        }

        // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7, opset_import = 8.
        // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
        public byte[] ToModel()
        {
            var graph = new Message();
            foreach (var node in nodes)
            {
                graph.Nested(1, node);
            }

            graph.String(2, options.GraphName);
            foreach (var (field, list) in new[] { (5, initializers), (11, inputs), (12, outputs) })
            {
                foreach (var message in list)
                {
                    graph.Nested(field, message);
                }
            }

            return new Message()
                .Int64(1, IrVersion)
                .String(2, "RecurrentNets.Onnx")
                .String(3, typeof(OnnxExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0")
                .Nested(7, graph)
                .Nested(8, OperatorSet("", OpsetVersion))
                .ToArray();
        }

        private void AddLengthsInput()
        {
            if (options.SequenceLengths)
            {
                inputs.Add(ValueInfo(SequenceLengthsName, OnnxProto.Int32, BatchSize));
            }
        }

        // Adds a node with one output, named after it; returns the output.
        private string Op(string opType, string output, string[] nodeInputs, params Message[] attributes)
        {
            nodes.Add(Node(opType, output, nodeInputs, [output], attributes));
            return output;
        }

        // An int64 initializer holding values (1-D), added once per content.
        private string Constant(params long[] values)
        {
            string name = "const_" + string.Join('_', values);
            if (constants.Add(name))
            {
                initializers.Add(Int64Tensor(name, values, values.Length));
            }

            return name;
        }

        // An int64 scalar initializer, added once per value.
        private string Scalar(long value)
        {
            string name = "scalar_" + value;
            if (constants.Add(name))
            {
                initializers.Add(Int64Tensor(name, [value]));
            }

            return name;
        }

        // x[start:end] along axis.
        private string Slice(string output, string x, long start, long end, long axis) =>
            Op("Slice", output, [x, Constant(start), Constant(end), Constant(axis)]);

        private string FloatInitializer(string name, ReadOnlySpan<T> values, params long[] dims)
        {
            initializers.Add(FloatTensor(name, ToFloat(values), dims));
            return name;
        }

        private static void CheckCells(RecurrentLayer<T> layer)
        {
            int directions = layer.Directions;
            for (int l = 0; l < layer.NumLayers; l++)
            {
                var first = layer.Cells[l * directions];
                for (int d = 0; d < directions; d++)
                {
                    var cell = layer.Cells[l * directions + d];
                    if (cell is not (ElmanCell<T> or LstmCell<T> or GruCell<T>))
                    {
                        throw new NotSupportedException(
                            $"The cell of layer {l}{(d == 1 ? " (reverse)" : "")} is a {cell.GetType().FullName}, which has no ONNX operator: only ElmanCell, LstmCell and GruCell export (to RNN, LSTM and GRU).");
                    }

                    if (cell is LstmCell<T> { ProjectionSize: > 0 } projected)
                    {
                        throw new NotSupportedException(
                            $"The LSTM of layer {l} has projections (proj_size {projected.ProjectionSize}): ONNX's LSTM operator has no projection (W_hr), so it does not export. Save it as safetensors instead.");
                    }

                    bool same = (first, cell) switch
                    {
                        (ElmanCell<T>, ElmanCell<T>) => true,
                        (GruCell<T> a, GruCell<T> b) => a.ResetAfterRecurrence == b.ResetAfterRecurrence,
                        (LstmCell<T> a, LstmCell<T> b) => a.CoupledInputForget == b.CoupledInputForget && a.Peephole == b.Peephole,
                        _ => false,
                    };
                    if (!same || (first.BiasIH is null) != (cell.BiasIH is null))
                    {
                        throw new NotSupportedException(
                            $"The two directions of layer {l} are different cells ({first.GetType().Name} and {cell.GetType().Name}, or different variants): one ONNX operator node holds both.");
                    }
                }
            }
        }

        // The stack reading x [T, B, I] and writing y [T, B, D·H] (H when merged), one operator node per layer; returns each
        // layer's Y_h (and Y_c) names. withLengths feeds sequence_lens to every node. A goBackwards stack is a forward one
        // on the input reversed within each length: ONNX's direction "reverse" would give its outputs aligned with the
        // input steps, not in reading order, so it is not used.
        private (string[] Hidden, string[] Cell) AddRecurrent(RecurrentLayer<T> layer, string prefix, string x, string y, bool withLengths)
        {
            if (layer.GoBackwards)
            {
                x = withLengths
                    ? Op("ReverseSequence", $"{prefix}reversed_input", [x, LengthsInt64()], Attribute("batch_axis", 1L), Attribute("time_axis", 0L))
                    : Op("Slice", $"{prefix}reversed_input", [x, Constant(-1), Constant(long.MinValue), Constant(0), Constant(-1)]);
            }

            var hidden = new string[layer.NumLayers];
            var cell = new string[layer.NumLayers];
            for (int l = 0; l < layer.NumLayers; l++)
            {
                string output = l == layer.NumLayers - 1 ? y : $"{prefix}l{l}_output";
                (hidden[l], cell[l]) = AddLayer(layer, l, $"{prefix}l{l}", x, output, withLengths);
                x = output;
            }

            return (hidden, cell);
        }

        // One operator node for layer l reading x [T, B, in] and writing y [T, B, D·H]; returns its Y_h (and Y_c) names.
        private (string Hidden, string Cell) AddLayer(RecurrentLayer<T> layer, int l, string name, string x, string y, bool withLengths)
        {
            int h = layer.HiddenSize, directions = layer.Directions;
            var first = layer.Cells[l * directions];
            int inputSize = first.InputSize;
            string op;
            int gates;
            var attributes = new List<Message>
            {
                Attribute("hidden_size", (long)h),
                Attribute("direction", directions == 2 ? "bidirectional" : "forward"),
            };
            switch (first)
            {
                case ElmanCell<T>:
                    op = "RNN";
                    gates = 1;
                    attributes.Add(Attribute("activations", Enumerable.Range(0, directions)
                        .Select(d => ((ElmanCell<T>)layer.Cells[l * directions + d]).Nonlinearity == Activation.Relu ? "Relu" : "Tanh").ToArray()));
                    break;
                case GruCell<T> gru:
                    op = "GRU";
                    gates = 3;
                    attributes.Add(Attribute("linear_before_reset", gru.ResetAfterRecurrence ? 1L : 0L));
                    break;
                default:
                    op = "LSTM";
                    gates = 4;
                    if (((LstmCell<T>)first).CoupledInputForget)
                    {
                        attributes.Add(Attribute("input_forget", 1L));
                    }

                    break;
            }

            bool hasBias = first.BiasIH is not null, peephole = first is LstmCell<T> { Peephole: true };
            int gw = gates * h;
            var w = new float[directions * gw * inputSize];
            var r = new float[directions * gw * h];
            var b = new float[hasBias ? directions * 2 * gw : 0];
            var p = new float[peephole ? directions * 3 * h : 0];
            for (int d = 0; d < directions; d++)
            {
                var cell = layer.Cells[l * directions + d];
                Span<float> wd = w.AsSpan(d * gw * inputSize, gw * inputSize), rd = r.AsSpan(d * gw * h, gw * h);
                Span<float> bd = hasBias ? b.AsSpan(d * 2 * gw, 2 * gw) : default;
                if (cell is LstmCell<T> lstm)
                {
                    OnnxLstm.Export(lstm, wd, rd, bd, peephole ? p.AsSpan(d * 3 * h, 3 * h) : default);
                    continue;
                }

                // RNN: one block. GRU: ours r, z, n; ONNX z, r, h.
                int[] order = gates == 1 ? [0] : [1, 0, 2];
                for (int k = 0; k < order.Length; k++)
                {
                    int src = order[k];
                    Convert(cell.WeightIH.Values.Slice(src * h * inputSize, h * inputSize), wd.Slice(k * h * inputSize, h * inputSize));
                    Convert(cell.WeightHH!.Values.Slice(src * h * h, h * h), rd.Slice(k * h * h, h * h));
                    if (hasBias)
                    {
                        Convert(cell.BiasIH!.Values.Slice(src * h, h), bd.Slice(k * h, h));
                        Convert(cell.BiasHH!.Values.Slice(src * h, h), bd.Slice(gw + k * h, h));
                    }
                }
            }

            initializers.Add(FloatTensor($"{name}_W", w, directions, gw, inputSize));
            initializers.Add(FloatTensor($"{name}_R", r, directions, gw, h));
            if (hasBias)
            {
                initializers.Add(FloatTensor($"{name}_B", b, directions, 2 * gw));
            }

            if (peephole)
            {
                initializers.Add(FloatTensor($"{name}_P", p, directions, 3 * h));
            }

            bool lstmNode = op == "LSTM";
            string initialH = InitialState(layer, l, name, InitialHiddenName, layer.InitialHidden is null ? default : layer.InitialHidden.Values);
            string initialC = lstmNode ? InitialState(layer, l, name, InitialCellName, layer.InitialCell is null ? default : layer.InitialCell.Values) : "";
            var nodeInputs = new List<string>
            {
                x, $"{name}_W", $"{name}_R", hasBias ? $"{name}_B" : "", withLengths ? SequenceLengthsName : "", initialH,
            };
            if (lstmNode)
            {
                nodeInputs.Add(initialC);
                nodeInputs.Add(peephole ? $"{name}_P" : "");
            }

            // Trailing optional inputs are left out rather than named "".
            while (nodeInputs[^1].Length == 0)
            {
                nodeInputs.RemoveAt(nodeInputs.Count - 1);
            }

            string[] nodeOutputs = lstmNode ? [$"{name}_Y", $"{name}_Y_h", $"{name}_Y_c"] : [$"{name}_Y", $"{name}_Y_h"];
            nodes.Add(Node(op, $"{name}_{op.ToLowerInvariant()}", [.. nodeInputs], nodeOutputs, [.. attributes]));

            if (directions == 2 && layer.MergeMode != MergeMode.Concat)
            {
                AddMerge(layer.MergeMode, name, h, y);
                return ($"{name}_Y_h", lstmNode ? $"{name}_Y_c" : "");
            }

            // Y [T, D, B, H] → [T, B, D, H] → [T, B, D·H] (forward first, as our output).
            string tbdh = Op("Transpose", $"{name}_Y_tbdh", [$"{name}_Y"], Attribute("perm", new long[] { 0, 2, 1, 3 }));
            Op("Reshape", y, [tbdh, Constant(0, 0, -1)]);
            return ($"{name}_Y_h", lstmNode ? $"{name}_Y_c" : "");
        }

        // Y [T, 2, B, H] → y [T, B, H]: Y[:, 0] + Y[:, 1], Y[:, 0] ⊙ Y[:, 1], or their sum times ½ (the engine's order).
        private void AddMerge(MergeMode merge, string name, int h, string y)
        {
            string forward = Slice($"{name}_Y_forward", $"{name}_Y", 0, 1, 1), reverse = Slice($"{name}_Y_reverse", $"{name}_Y", 1, 2, 1);
            string merged = Op(merge == MergeMode.Multiply ? "Mul" : "Add", $"{name}_Y_merged", [forward, reverse]);
            if (merge == MergeMode.Average)
            {
                merged = Op("Mul", $"{name}_Y_average", [merged, FloatInitializer($"{name}_half", [T.CreateTruncating(0.5)])]);
            }

            Op("Reshape", y, [merged, Constant(0, -1, h)]);
        }

        // The initial h or C of layer l, [D, B, H]: a slice of the graph input, the learned state broadcast, or none (zeros).
        private string InitialState(RecurrentLayer<T> layer, int l, string layerName, string graphInput, Span<T> learned)
        {
            int directions = layer.Directions, h = layer.HiddenSize;
            string name = $"{layerName}_{graphInput}";
            if (options.InitialState)
            {
                return layer.NumLayers == 1 ? graphInput : Slice(name, graphInput, l * directions, (l + 1) * directions, 0);
            }

            if (learned.IsEmpty)
            {
                return "";
            }

            // [D, 1, H] expanded to [D, B, H], B read from the input's shape.
            string values = FloatInitializer($"{name}_learned", learned.Slice(l * directions * h, directions * h), directions, 1, h);
            return Op("Expand", name, [values, StateShape(directions, h)]);
        }

        // [D, B, H] as an int64 tensor, B taken from Shape(source)[1]; built once per (D, H).
        private string StateShape(int directions, int h)
        {
            string name = $"state_shape_{directions}_{h}";
            if (!constants.Add(name))
            {
                return name;
            }

            if (constants.Add("batch_size"))
            {
                Slice("batch_size", Op("Shape", "input_shape", [source]), 1, 2, 0);
            }

            return Op("Concat", name, [Constant(directions), "batch_size", Constant(h)], Attribute("axis", 0L));
        }

        // y = x·Wᵀ + b: MatMul with Wᵀ [In, Out] stored transposed, then Add (no Add when bias is empty).
        private void AddLinear(string prefix, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int inFeatures, int outFeatures, string x, string y)
        {
            var weightT = new float[inFeatures * outFeatures];
            for (int o = 0; o < outFeatures; o++)
            {
                for (int i = 0; i < inFeatures; i++)
                {
                    weightT[i * outFeatures + o] = float.CreateTruncating(weight[o * inFeatures + i]);
                }
            }

            initializers.Add(FloatTensor($"{prefix}weight_t", weightT, inFeatures, outFeatures));
            if (bias.IsEmpty)
            {
                Op("MatMul", y, [x, $"{prefix}weight_t"]);
                return;
            }

            string product = Op("MatMul", $"{prefix}product", [x, $"{prefix}weight_t"]);
            Op("Add", y, [product, FloatInitializer($"{prefix}bias", bias, outFeatures)]);
        }

        private static float[] ToFloat(ReadOnlySpan<T> source)
        {
            var values = new float[source.Length];
            Convert(source, values);
            return values;
        }

        private static void Convert(ReadOnlySpan<T> source, Span<float> destination)
        {
            for (int k = 0; k < source.Length; k++)
            {
                destination[k] = float.CreateTruncating(source[k]);
            }
        }
    }
}
