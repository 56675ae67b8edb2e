using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace RecurrentNets.Onnx;

// The few ONNX protobuf messages the exporter writes, encoded by hand with CodedOutputStream (no generated code, no protoc).
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto).
internal static class OnnxProto
{
    // TensorProto.DataType
    public const int Float = 1, Int32 = 6, Int64 = 7;

    // AttributeProto.AttributeType
    private const int AttributeInt = 2, AttributeString = 3, AttributeInts = 7, AttributeStrings = 8;

    /// <summary>A message under construction: fields are appended in order, nested messages are length-prefixed.</summary>
    public sealed class Message
    {
        private readonly MemoryStream buffer = new();
        private readonly CodedOutputStream stream;

        public Message() => stream = new CodedOutputStream(buffer, leaveOpen: true);

        public Message Int64(int field, long value)
        {
            stream.WriteTag(field, WireFormat.WireType.Varint);
            stream.WriteInt64(value);
            return this;
        }

        public Message Int32(int field, int value)
        {
            stream.WriteTag(field, WireFormat.WireType.Varint);
            stream.WriteInt32(value);
            return this;
        }

        public Message String(int field, string value)
        {
            stream.WriteTag(field, WireFormat.WireType.LengthDelimited);
            stream.WriteString(value);
            return this;
        }

        public Message Bytes(int field, byte[] value)
        {
            stream.WriteTag(field, WireFormat.WireType.LengthDelimited);
            stream.WriteBytes(UnsafeByteOperations.UnsafeWrap(value));
            return this;
        }

        public Message Nested(int field, Message value) => Bytes(field, value.ToArray());

        public byte[] ToArray()
        {
            stream.Flush();
            return buffer.ToArray();
        }
    }

    // OperatorSetIdProto: domain = 1, version = 2.
    public static Message OperatorSet(string domain, long version) => new Message().String(1, domain).Int64(2, version);

    // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian).
    public static Message FloatTensor(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(raw);
        }
        else
        {
            for (int k = 0; k < values.Length; k++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(k * sizeof(float)), values[k]);
            }
        }

        return Tensor(name, Float, raw, dims);
    }

    public static Message Int64Tensor(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(long)];
        for (int k = 0; k < values.Length; k++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(k * sizeof(long)), values[k]);
        }

        return Tensor(name, Int64, raw, dims);
    }

    private static Message Tensor(string name, int dataType, byte[] raw, long[] dims)
    {
        var tensor = new Message();
        foreach (long dim in dims)
        {
            tensor.Int64(1, dim);
        }

        return tensor.Int32(2, dataType).String(8, name).Bytes(9, raw);
    }

    // ValueInfoProto { name = 1, type = 2 }; TypeProto { tensor_type = 1 }; TypeProto.Tensor { elem_type = 1, shape = 2 };
    // TensorShapeProto { dim = 1 }; Dimension { dim_value = 1, dim_param = 2 }. A dimension is a number or a symbolic name.
    public static Message ValueInfo(string name, int elementType, params object[] dims)
    {
        var shape = new Message();
        foreach (object dim in dims)
        {
            var dimension = dim is string symbol ? new Message().String(2, symbol) : new Message().Int64(1, Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture));
            shape.Nested(1, dimension);
        }

        var tensorType = new Message().Int32(1, elementType).Nested(2, shape);
        return new Message().String(1, name).Nested(2, new Message().Nested(1, tensorType));
    }

    // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. An empty input name skips an optional input.
    public static Message Node(string opType, string name, string[] inputs, string[] outputs, params Message[] attributes)
    {
        var node = new Message();
        foreach (string input in inputs)
        {
            node.String(1, input);
        }

        foreach (string output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, name).String(4, opType);
        foreach (var attribute in attributes)
        {
            node.Nested(5, attribute);
        }

        return node;
    }

    // AttributeProto: name = 1, i = 3, s = 4, ints = 8, strings = 9, type = 20.
    public static Message Attribute(string name, long value) => new Message().String(1, name).Int64(3, value).Int32(20, AttributeInt);

    public static Message Attribute(string name, string value) =>
        new Message().String(1, name).Bytes(4, System.Text.Encoding.UTF8.GetBytes(value)).Int32(20, AttributeString);

    public static Message Attribute(string name, long[] values)
    {
        var attribute = new Message().String(1, name);
        foreach (long value in values)
        {
            attribute.Int64(8, value);
        }

        return attribute.Int32(20, AttributeInts);
    }

    public static Message Attribute(string name, string[] values)
    {
        var attribute = new Message().String(1, name);
        foreach (string value in values)
        {
            attribute.Bytes(9, System.Text.Encoding.UTF8.GetBytes(value));
        }

        return attribute.Int32(20, AttributeStrings);
    }
}
