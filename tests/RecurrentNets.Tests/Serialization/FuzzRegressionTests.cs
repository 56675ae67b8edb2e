using System.Buffers.Binary;
using System.Text;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;

namespace RecurrentNets.Tests.Serialization;

/// <summary>Inputs found by the coverage-guided fuzz target (fuzz/run.sh) that once escaped the documented exceptions.</summary>
public sealed class FuzzRegressionTests
{
    /// <summary>
    /// The fuzzer's first crash, minimised by afl-tmin: a valid-UTF-8 header whose first name escapes a lone high
    /// surrogate. Utf8JsonReader.GetString threw InvalidOperationException out of SafeTensorsFile.Parse.
    /// </summary>
    [Fact]
    public void MinimisedFuzzCrashIsAnInvalidDataException()
    {
        string header = "{\"" + new string('0', 14) + "\\ud800000\":";
        byte[] bytes = WithLength(header + new string('0', 296 - header.Length));
        Assert.Equal(304, bytes.Length);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(bytes));
        Assert.Contains("surrogate", e.Message, StringComparison.Ordinal);
    }

    /// <summary>An unpaired surrogate escape in every kind of string the header has: name, field, dtype, metadata.</summary>
    [Theory]
    [InlineData("{\"\\ud800\":{}}")]
    [InlineData("{\"w\\udc00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"w\":{\"dtype\\ud800\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"w\":{\"dtype\":\"F3\\ud800ap\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"__metadata__\":{\"\\ud800\\u0041\":\"v\"}}")]
    [InlineData("{\"__metadata__\":{\"k\":\"\\ud800\"}}")]
    public void AnUnpairedSurrogateEscapeIsAnInvalidDataException(string header)
    {
        byte[] bytes = [.. WithLength(header), 0, 0, 0, 0];
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(bytes));

        string path = Path.Combine(Path.GetTempPath(), $"rn-fuzz-{Guid.NewGuid():N}.safetensors");
        try
        {
            File.WriteAllBytes(path, bytes);
            var model = new Lstm<float>(2, 3);
            var before = model.Parameters.Values.ToArray();
            Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, model.Parameters));
            Assert.Equal(before, model.Parameters.Values);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] WithLength(string header)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        byte[] bytes = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }
}
