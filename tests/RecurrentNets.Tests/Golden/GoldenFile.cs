using System.Text.Json;

namespace RecurrentNets.Tests.Golden;

/// <summary>Reads the golden JSON files copied from shared/golden (tensors as {"shape", "data"} in row-major order).</summary>
internal sealed class GoldenFile
{
    private readonly JsonElement root;

    private GoldenFile(JsonElement root) => this.root = root;

    public static GoldenFile Load(string fileName)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", fileName);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return new GoldenFile(doc.RootElement.Clone());
    }

    public int Size(string name) => root.GetProperty("sizes").GetProperty(name).GetInt32();

    public double Scalar(string name) => root.GetProperty(name).GetDouble();

    public bool Flag(string name) => root.GetProperty(name).GetBoolean();

    public string[] Strings(string name) => root.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    public int[] Shape(string name) => root.GetProperty(name).GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public double[] Data(string name) => root.GetProperty(name).GetProperty("data").EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public T[] Data<T>(string name)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => Data(name).Select(T.CreateTruncating).ToArray();
}
