using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace RecurrentNets.Serialization;

/// <summary>The element types of a safetensors file that RecurrentNets reads and writes.</summary>
public enum SafeTensorDType
{
    /// <summary>IEEE 754 binary32 (<c>"F32"</c>).</summary>
    F32,

    /// <summary>IEEE 754 binary64 (<c>"F64"</c>).</summary>
    F64,
}

/// <summary>One tensor entry of a safetensors header.</summary>
/// <param name="Name">The tensor's name (a PyTorch <c>state_dict</c> key).</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The shape.</param>
/// <param name="Begin">The first byte in the data section.</param>
/// <param name="End">One past the last byte in the data section.</param>
public sealed record SafeTensorEntry(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End)
{
    /// <summary>The number of elements.</summary>
    public long ElementCount => (End - Begin) / (DType == SafeTensorDType.F32 ? 4 : 8);
}

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
/// name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (plus an optional <c>"__metadata__"</c> map of
/// strings), then the little-endian data. Files written here load in Python with
/// <c>safetensors.torch.load_file(path)</c>.
/// </summary>
/// <remarks>
/// The reader trusts nothing in the file: the header length, every shape, dtype and offset are checked against the
/// actual file size before any tensor is allocated, and a violation is an <see cref="InvalidDataException"/> that
/// says what is wrong. The writer is atomic: it writes a temporary file beside the target, flushes it to disk and
/// renames it over the target, so a crash leaves the previous file intact.
/// <para>The temporary file of <c>dir/x.safetensors</c> is always <c>dir/.x.safetensors.tmp</c>: a crash (or a kill)
/// mid-save leaves at most that one file per target, and the next save to the target overwrites it and renames it away.
/// Saves to one target are serialised within a process (a lock per target path, so use one spelling of the path).
/// Saves to one target from several processes at once are not supported, as with <c>torch.save</c>: the temporary file is
/// opened exclusively, so a collision usually fails with an <see cref="IOException"/>, but that is not a guarantee.</para>
/// </remarks>
public sealed class SafeTensorsFile
{
    /// <summary>The largest header accepted (the format's own reference implementation uses 100 MB).</summary>
    public const int MaxHeaderLength = 100_000_000;

    /// <summary>Saves to one target take the lock at the target path's hash (striped: a lock per path would grow forever).</summary>
    private static readonly Lock[] WriteLocks = [.. Enumerable.Range(0, 64).Select(_ => new Lock())];

    private readonly byte[] content;
    private readonly long dataStart;
    private readonly Dictionary<string, SafeTensorEntry> byName;

    private SafeTensorsFile(byte[] content, long dataStart, List<SafeTensorEntry> entries, Dictionary<string, string> metadata)
    {
        this.content = content;
        this.dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
        byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>The tensors, in the order of their data.</summary>
    public IReadOnlyList<SafeTensorEntry> Entries { get; }

    /// <summary>The <c>"__metadata__"</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Reads and validates a file.</summary>
    /// <exception cref="FileNotFoundException">No such file, or <paramref name="path"/> is a directory.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or not safetensors; the message says why.</exception>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            throw new FileNotFoundException($"{path} is a directory, not a safetensors file.", path);
        }

        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Validates the bytes of a file.</summary>
    /// <param name="content">The whole file.</param>
    /// <param name="source">A label for error messages (a path).</param>
    /// <exception cref="InvalidDataException">The content is truncated, corrupt or not safetensors.</exception>
    public static SafeTensorsFile Parse(byte[] content, string source = "the content")
    {
        ArgumentNullException.ThrowIfNull(content);
        if (content.Length < 8)
        {
            throw Invalid(source, $"it has {content.Length} bytes, fewer than the 8 of the header length");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(content);
        if (headerLength == 0 || headerLength > MaxHeaderLength || headerLength > (ulong)(content.Length - 8))
        {
            throw Invalid(source, $"the header claims {headerLength} bytes but the file has {content.Length - 8} after the length (limit {MaxHeaderLength})");
        }

        long dataStart = 8 + (long)headerLength;
        long dataLength = content.Length - dataStart;
        var entries = new List<SafeTensorEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (!System.Text.Unicode.Utf8.IsValid(content.AsSpan(8, (int)headerLength)))
        {
            throw Invalid(source, "its header is not valid UTF-8");
        }

        try
        {
            var reader = new Utf8JsonReader(content.AsSpan(8, (int)headerLength), new JsonReaderOptions { MaxDepth = 4 });
            Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject, source, "the header is not a JSON object");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                Expect(reader.TokenType == JsonTokenType.PropertyName, source, "the header has a value where a name belongs");
                string name = GetString(ref reader, source);
                Expect(names.Add(name), source, $"the name '{name}' appears twice");
                Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject, source, $"'{name}' is not a JSON object");
                if (name == "__metadata__")
                {
                    ReadMetadata(ref reader, metadata, source);
                }
                else
                {
                    entries.Add(ReadEntry(ref reader, name, dataLength, source));
                }
            }

            Expect(reader.TokenType == JsonTokenType.EndObject, source, "the header ends early");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not a valid safetensors file: its header is not valid JSON ({e.Message}).", e);
        }

        // Tensors may not overlap (the format also wants them contiguous; we only require them disjoint).
        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        for (int i = 1; i < entries.Count; i++)
        {
            if (entries[i].Begin < entries[i - 1].End)
            {
                throw Invalid(source, $"the data of '{entries[i].Name}' overlaps that of '{entries[i - 1].Name}'");
            }
        }

        return new SafeTensorsFile(content, dataStart, entries, metadata);
    }

    /// <summary>The entry named <paramref name="name"/>, or null.</summary>
    public SafeTensorEntry? Find(string name) => byName.GetValueOrDefault(name);

    /// <summary>Copies a tensor's data out as <typeparamref name="T"/>, which must match its dtype.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="InvalidDataException">The dtype is not <typeparamref name="T"/>'s.</exception>
    public T[] GetData<T>(string name)
        where T : unmanaged
    {
        var entry = Find(name) ?? throw new KeyNotFoundException($"The file has no tensor '{name}'.");
        var expected = DTypeOf<T>();
        if (entry.DType != expected)
        {
            throw new InvalidDataException($"'{name}' is stored as {entry.DType} but {expected} was asked for.");
        }

        var result = new T[entry.ElementCount];
        var bytes = content.AsSpan((int)(dataStart + entry.Begin), (int)(entry.End - entry.Begin));
        bytes.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian machines are not supported.");
        }

        return result;
    }

    /// <summary>Writes tensors (in the given order) and metadata atomically to <paramref name="path"/>.</summary>
    /// <param name="path">The target file; replaced only once the new one is complete on disk.</param>
    /// <param name="tensors">Name, shape and values of each tensor (float or double arrays).</param>
    /// <param name="metadata">Strings stored under <c>"__metadata__"</c>, or null.</param>
    /// <exception cref="ArgumentException">A name repeats, or a shape disagrees with its values.</exception>
    /// <exception cref="IOException"><paramref name="path"/> is a directory, its directory does not exist
    /// (<see cref="DirectoryNotFoundException"/>), or writing failed; the message names <paramref name="path"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory or the target may not be written; the message names
    /// <paramref name="path"/>.</exception>
    /// <remarks>The data goes to <c>.{file name}.tmp</c> beside the target, then replaces it; see the class remarks for
    /// crashes and concurrent saves.</remarks>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, Array Values)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, shape, values) in list)
            {
                if (name == "__metadata__" || !seen.Add(name))
                {
                    throw new ArgumentException($"The tensor name '{name}' is reserved or repeated.", nameof(tensors));
                }

                long count = 1;
                foreach (int size in shape)
                {
                    count *= size;
                }

                if (count != values.Length)
                {
                    throw new ArgumentException($"'{name}' has shape [{string.Join(", ", shape)}] but {values.Length} values.", nameof(tensors));
                }

                var (dtype, size8) = values switch
                {
                    float[] => ("F32", 4),
                    double[] => ("F64", 8),
                    _ => throw new ArgumentException($"'{name}' holds {values.GetType().Name}; float[] or double[] is expected.", nameof(tensors)),
                };
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (int size in shape)
                {
                    json.WriteNumberValue(size);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + count * size8);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += count * size8;
            }

            json.WriteEndObject();
        }

        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        while (header.Length % 8 != 0)
        {
            header.WriteByte((byte)' ');
        }

        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new IOException($"Cannot save {path}: it is a directory.");
        }

        string directory = Path.GetDirectoryName(full)!;
        string temp = TemporaryPath(full);
        bool opened = false;
        lock (WriteLocks[(StringComparer.Ordinal.GetHashCode(full) & int.MaxValue) % WriteLocks.Length])
        {
            try
            {
                // OpenOrCreate, then truncate: with Create, a second writer would truncate the first one's file before
                // its exclusive open fails. A leftover of a crashed save is simply overwritten.
                using (var stream = new FileStream(temp, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    opened = true;
                    stream.SetLength(0);
                    Span<byte> length = stackalloc byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                    stream.Write(length);
                    header.Position = 0;
                    header.CopyTo(stream);
                    foreach (var (_, _, values) in list)
                    {
                        stream.Write(values switch
                        {
                            float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
                            _ => MemoryMarshal.AsBytes(((double[])values).AsSpan()),
                        });
                    }

                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, full, overwrite: true);
            }
            catch (DirectoryNotFoundException e)
            {
                throw new DirectoryNotFoundException($"Cannot save {path}: the directory {directory} does not exist.", e);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new UnauthorizedAccessException($"Cannot save {path}: access denied ({e.Message}; a save writes {Path.GetFileName(temp)} in {directory}, then renames it over the target).", e);
            }
            catch (IOException e)
            {
                throw new IOException($"Cannot save {path}: {e.Message} (a save writes {Path.GetFileName(temp)} in {directory}, then renames it over the target).", e);
            }
            finally
            {
                // Only a file this save opened is its own to delete (an exclusive open that failed belongs to another writer).
                if (opened && File.Exists(temp))
                {
                    File.Delete(temp);
                }
            }
        }
    }

    /// <summary>
    /// The temporary file a save to <paramref name="path"/> writes before renaming it over the target:
    /// <c>.{file name}.tmp</c> in the same directory, one per target, so a crash leaves at most that one file.
    /// </summary>
    /// <param name="path">The target file.</param>
    public static string TemporaryPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp");
    }

    /// <summary>The dtype that stores <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float or double.</exception>
    public static SafeTensorDType DTypeOf<T>() =>
        typeof(T) == typeof(float) ? SafeTensorDType.F32
        : typeof(T) == typeof(double) ? SafeTensorDType.F64
        : throw new NotSupportedException($"{typeof(T).Name} has no safetensors dtype here.");

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string source)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            Expect(reader.TokenType == JsonTokenType.PropertyName, source, "__metadata__ is malformed");
            string key = GetString(ref reader, source);
            Expect(reader.Read() && reader.TokenType == JsonTokenType.String, source, $"__metadata__['{key}'] is not a string");
            Expect(metadata.TryAdd(key, GetString(ref reader, source)), source, $"__metadata__ repeats '{key}'");
        }
    }

    private static SafeTensorEntry ReadEntry(ref Utf8JsonReader reader, string name, long dataLength, string source)
    {
        SafeTensorDType? dtype = null;
        int[]? shape = null;
        long begin = 0, end = 0;
        bool offsets = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            Expect(reader.TokenType == JsonTokenType.PropertyName, source, $"'{name}' is malformed");
            string key = GetString(ref reader, source);
            Expect(reader.Read(), source, $"'{name}' ends early");
            switch (key)
            {
                case "dtype":
                    Expect(reader.TokenType == JsonTokenType.String, source, $"the dtype of '{name}' is not a string");
                    string text = GetString(ref reader, source);
                    dtype = text switch
                    {
                        "F32" => SafeTensorDType.F32,
                        "F64" => SafeTensorDType.F64,
                        _ => throw Invalid(source, $"'{name}' has dtype {text}; only F32 and F64 are supported"),
                    };
                    break;
                case "shape":
                    Expect(reader.TokenType == JsonTokenType.StartArray, source, $"the shape of '{name}' is not an array");
                    var dims = new List<int>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        Expect(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int d) && d >= 0 && dims.Count < 16,
                            source, $"the shape of '{name}' has a size that is not a small non-negative integer");
                        dims.Add(reader.GetInt32());
                    }

                    shape = [.. dims];
                    break;
                case "data_offsets":
                    Expect(reader.TokenType == JsonTokenType.StartArray, source, $"the data_offsets of '{name}' are not an array");
                    Expect(reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out begin), source, $"the data_offsets of '{name}' are malformed");
                    Expect(reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out end), source, $"the data_offsets of '{name}' are malformed");
                    Expect(reader.Read() && reader.TokenType == JsonTokenType.EndArray, source, $"the data_offsets of '{name}' have more than two numbers");
                    offsets = true;
                    break;
                default:
                    throw Invalid(source, $"'{name}' has an unknown field '{key}'");
            }
        }

        if (begin < 0 || end < 0)
        {
            throw Invalid(source, $"'{name}' has negative data_offsets [{begin}, {end}]; offsets count bytes from the start of the data section");
        }

        if (dtype is null || shape is null || !offsets)
        {
            throw Invalid(source, $"'{name}' lacks its dtype, shape or data_offsets");
        }

        long count = 1;
        foreach (int size in shape)
        {
            count *= size;
            if (count > dataLength)
            {
                break;
            }
        }

        int elementSize = dtype == SafeTensorDType.F32 ? 4 : 8;
        if (begin > end || end > dataLength)
        {
            throw Invalid(source, $"'{name}' claims bytes [{begin}, {end}) of a data section of {dataLength} bytes");
        }

        if (count > dataLength || count * elementSize != end - begin)
        {
            throw Invalid(source, $"'{name}' has shape [{string.Join(", ", shape)}] of {dtype} but {end - begin} bytes of data");
        }

        return new SafeTensorEntry(name, dtype.Value, shape, begin, end);
    }

    /// <summary>
    /// The current JSON string. The header is valid UTF-8, but an escape may still name an unpaired UTF-16 surrogate
    /// (<c>"\ud800"</c>), for which the reader throws <see cref="InvalidOperationException"/> (found by fuzzing).
    /// </summary>
    private static string GetString(ref Utf8JsonReader reader, string source)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"{source} is not a valid safetensors file: a string in its header escapes an unpaired UTF-16 surrogate.", e);
        }
    }

    private static void Expect(bool condition, string source, string reason)
    {
        if (!condition)
        {
            throw Invalid(source, reason);
        }
    }

    private static InvalidDataException Invalid(string source, string reason) =>
        new($"{source} is not a valid safetensors file: {reason}.");
}
