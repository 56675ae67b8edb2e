using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Interop;
using RecurrentNets.Layers;
using RecurrentNets.Sequence;
using static RecurrentNets.Onnx.OnnxProto;

namespace RecurrentNets.Onnx;

/// <summary>
/// Writes a <see cref="RecurrentLayer{T}"/> (RNN, LSTM, GRU; stacked, bidirectional), with an optional
/// <see cref="Linear{T}"/> head, as an ONNX model that uses the standard <c>RNN</c>, <c>LSTM</c> and <c>GRU</c>
/// operators (opset <see cref="OpsetVersion"/>), for ONNX Runtime, Triton or TensorRT.
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
public static class OnnxExporter
{
    /// <summary>The ONNX operator set the models use (the default domain).</summary>
    public const int OpsetVersion = 14;

    /// <summary>The ONNX IR version written, the one that goes with <see cref="OpsetVersion"/>.</summary>
    public const int IrVersion = 7;

    /// <summary>The name of the input sequence [T, B, I].</summary>
    public const string InputName = "input";

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

        var graph = new GraphBuilder<T>(layer, options);
        graph.Build(head);
        var model = new Message()
            .Int64(1, IrVersion)
            .String(2, "RecurrentNets.Onnx")
            .String(3, typeof(OnnxExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0")
            .Nested(7, graph.ToMessage())
            .Nested(8, OperatorSet("", OpsetVersion));
        return model.ToArray();
    }

    private sealed class GraphBuilder<T>(RecurrentLayer<T> layer, OnnxExportOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly List<Message> nodes = [], initializers = [], inputs = [], outputs = [];
        private readonly int h = layer.HiddenSize, directions = layer.Directions;
        private string? stateShape;

        public void Build(Linear<T>? head)
        {
            // Every cell is checked before anything is built.
            for (int l = 0; l < layer.NumLayers; l++)
            {
                CheckLayer(l);
            }

            int stateRows = layer.NumLayers * directions;
            inputs.Add(ValueInfo(InputName, Float, TimeSteps, BatchSize, layer.InputSize));
            if (options.SequenceLengths)
            {
                inputs.Add(ValueInfo(SequenceLengthsName, OnnxProto.Int32, BatchSize));
            }

            if (options.InitialState)
            {
                inputs.Add(ValueInfo(InitialHiddenName, Float, stateRows, BatchSize, h));
                if (layer.HasCellState)
                {
                    inputs.Add(ValueInfo(InitialCellName, Float, stateRows, BatchSize, h));
                }
            }

            initializers.Add(Int64Tensor("merge_directions_shape", [0, 0, -1], 3));
            string x = InputName;
            var finalHidden = new string[layer.NumLayers];
            var finalCell = new string[layer.NumLayers];
            for (int l = 0; l < layer.NumLayers; l++)
            {
                bool top = l == layer.NumLayers - 1;
                string y = top && head is null ? OutputName : $"l{l}_output";
                (finalHidden[l], finalCell[l]) = AddLayer(l, x, y);
                x = y;
            }

            if (head is not null)
            {
                AddHead(head, x);
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

        public Message ToMessage()
        {
            // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
            var graph = new Message();
            foreach (var node in nodes)
            {
                graph.Nested(1, node);
            }

            graph.String(2, options.GraphName);
            foreach (var initializer in initializers)
            {
                graph.Nested(5, initializer);
            }

            foreach (var input in inputs)
            {
                graph.Nested(11, input);
            }

            foreach (var output in outputs)
            {
                graph.Nested(12, output);
            }

            return graph;
        }

        private void CheckLayer(int l)
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

        // One operator node for layer l reading x [T, B, in] and writing y [T, B, D·H]; returns its Y_h (and Y_c) names.
        private (string Hidden, string Cell) AddLayer(int l, string x, string y)
        {
            var first = layer.Cells[l * directions];
            int inputSize = first.InputSize;
            string name = $"l{l}";
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
                        .Select(d => ((ElmanCell<T>)layer.Cells[l * directions + d]).Nonlinearity == RnnNonlinearity.Relu ? "Relu" : "Tanh").ToArray()));
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
                    Convert(cell.WeightHH.Values.Slice(src * h * h, h * h), rd.Slice(k * h * h, h * h));
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
            string initialH = InitialState(l, InitialHiddenName, layer.InitialHidden is null ? default : layer.InitialHidden.Values);
            string initialC = lstmNode ? InitialState(l, InitialCellName, layer.InitialCell is null ? default : layer.InitialCell.Values) : "";
            var nodeInputs = new List<string>
            {
                x, $"{name}_W", $"{name}_R", hasBias ? $"{name}_B" : "", options.SequenceLengths ? SequenceLengthsName : "", initialH,
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

            // Y [T, D, B, H] → [T, B, D, H] → [T, B, D·H] (forward first, as our output).
            nodes.Add(Node("Transpose", $"{name}_transpose", [$"{name}_Y"], [$"{name}_Y_tbdh"], Attribute("perm", new long[] { 0, 2, 1, 3 })));
            nodes.Add(Node("Reshape", $"{name}_reshape", [$"{name}_Y_tbdh", "merge_directions_shape"], [y]));
            return ($"{name}_Y_h", lstmNode ? $"{name}_Y_c" : "");
        }

        // The initial h or C of layer l, [D, B, H]: a slice of the graph input, the learned state broadcast, or none (zeros).
        private string InitialState(int l, string graphInput, Span<T> learned)
        {
            string name = $"l{l}_{graphInput}";
            if (options.InitialState)
            {
                if (layer.NumLayers == 1)
                {
                    return graphInput;
                }

                initializers.Add(Int64Tensor($"{name}_starts", [l * directions], 1));
                initializers.Add(Int64Tensor($"{name}_ends", [(l + 1) * directions], 1));
                initializers.Add(Int64Tensor($"{name}_axes", [0], 1));
                nodes.Add(Node("Slice", $"{name}_slice", [graphInput, $"{name}_starts", $"{name}_ends", $"{name}_axes"], [name]));
                return name;
            }

            if (learned.IsEmpty)
            {
                return "";
            }

            // [D, 1, H] expanded to [D, B, H], B read from the input's shape.
            var values = new float[directions * h];
            Convert(learned.Slice(l * directions * h, directions * h), values);
            initializers.Add(FloatTensor($"{name}_learned", values, directions, 1, h));
            nodes.Add(Node("Expand", $"{name}_expand", [$"{name}_learned", StateShape()], [name]));
            return name;
        }

        // [D, B, H] as an int64 tensor, B taken from Shape(input)[1]; built once.
        private string StateShape()
        {
            if (stateShape is not null)
            {
                return stateShape;
            }

            initializers.Add(Int64Tensor("batch_start", [1], 1));
            initializers.Add(Int64Tensor("batch_end", [2], 1));
            initializers.Add(Int64Tensor("state_directions", [directions], 1));
            initializers.Add(Int64Tensor("state_hidden", [h], 1));
            nodes.Add(Node("Shape", "input_shape", [InputName], ["input_shape"]));
            nodes.Add(Node("Slice", "batch_size_slice", ["input_shape", "batch_start", "batch_end"], ["batch_size"]));
            nodes.Add(Node("Concat", "state_shape_concat", ["state_directions", "batch_size", "state_hidden"], ["state_shape"], Attribute("axis", 0L)));
            stateShape = "state_shape";
            return stateShape;
        }

        // output = x·Wᵀ + b: MatMul with Wᵀ [D·H, Out] stored transposed, then Add.
        private void AddHead(Linear<T> head, string x)
        {
            int inFeatures = head.InFeatures, outFeatures = head.OutFeatures;
            var weightT = new float[inFeatures * outFeatures];
            ReadOnlySpan<T> weight = head.Weight.Values;
            for (int o = 0; o < outFeatures; o++)
            {
                for (int i = 0; i < inFeatures; i++)
                {
                    weightT[i * outFeatures + o] = float.CreateTruncating(weight[o * inFeatures + i]);
                }
            }

            initializers.Add(FloatTensor("head_weight_t", weightT, inFeatures, outFeatures));
            if (head.Bias is null)
            {
                nodes.Add(Node("MatMul", "head_matmul", [x, "head_weight_t"], [OutputName]));
                return;
            }

            var bias = new float[outFeatures];
            Convert(head.Bias.Values, bias);
            initializers.Add(FloatTensor("head_bias", bias, outFeatures));
            nodes.Add(Node("MatMul", "head_matmul", [x, "head_weight_t"], ["head_product"]));
            nodes.Add(Node("Add", "head_add", ["head_product", "head_bias"], [OutputName]));
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
