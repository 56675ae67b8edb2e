using System.Diagnostics;
using System.Globalization;
using System.Text;
using RecurrentNets.Serialization;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Serialization;

/// <summary>Issue 18, item 2: what a crash mid-save leaves behind, and what a failed save or load says.</summary>
public sealed class CrashLeftoverTests(ITestOutputHelper output) : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("rn-crash-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void AChildKilledMidSaveLeavesTheCheckpointWholeAndAtMostOneLeftoverThatTheNextSaveRemoves()
    {
        const int Seed = 18, Kills = 24, Floats = 1 << 21; // 8 MB a save: long enough for most kills to land mid-write
        output.WriteLine($"seed {Seed}");
        var random = new Random(Seed);
        string target = Path.Combine(directory, "model.safetensors");
        SafeTensorsFile.Write(target, [("w", [Floats], new float[Floats])], new Dictionary<string, string> { ["k"] = "0" });
        string writer = Path.Combine(AppContext.BaseDirectory, "RecurrentNets.CrashWriter.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        int leftovers = 0;
        var seen = new HashSet<int>();
        for (int kill = 0; kill < Kills; kill++)
        {
            var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(writer);
            start.ArgumentList.Add(target);
            start.ArgumentList.Add(Floats.ToString(CultureInfo.InvariantCulture));
            using (var child = Process.Start(start)!)
            {
                Assert.Equal("started", child.StandardOutput.ReadLine());
                Thread.Sleep(random.Next(0, 250));
                child.Kill();
                child.WaitForExit();
            }

            // The target is one whole version: every value equals the version in its metadata.
            var file = SafeTensorsFile.Read(target);
            int k = int.Parse(file.Metadata["k"], CultureInfo.InvariantCulture);
            float[] w = file.GetData<float>("w");
            Assert.Equal(Floats, w.Length);
            Assert.All(w, x => Assert.Equal(k, x));
            seen.Add(k);

            // At most one leftover, the target's own temporary file.
            string[] others = [.. Directory.GetFiles(directory).Select(Path.GetFileName).Where(f => f != "model.safetensors")!];
            Assert.True(others.Length <= 1, string.Join(", ", others));
            if (others.Length == 1)
            {
                Assert.Equal(SafeTensorsFile.TemporaryPath(target), Path.Combine(directory, others[0]));
                leftovers++;
            }
        }

        output.WriteLine($"{Kills} kills: {leftovers} left the temporary file, versions seen {string.Join(" ", seen.Order())}");
        Assert.True(leftovers > 0, "no kill landed mid-write: the test proves nothing");

        // The next save removes the leftover.
        SafeTensorsFile.Write(target, [("w", [2], new float[2])]);
        Assert.Equal(["model.safetensors"], Directory.GetFiles(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void ConcurrentSavesToOneTargetInOneProcessDoNotCollide()
    {
        string target = Path.Combine(directory, "shared.safetensors");
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var values = new float[50_000];
            Array.Fill(values, i);
            SafeTensorsFile.Write(target, [("w", [values.Length], values)], new Dictionary<string, string> { ["i"] = $"{i}" });
        });
        var file = SafeTensorsFile.Read(target);
        int i = int.Parse(file.Metadata["i"], CultureInfo.InvariantCulture);
        Assert.All(file.GetData<float>("w"), x => Assert.Equal(i, x));
        Assert.Equal(["shared.safetensors"], Directory.GetFiles(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void AFailedSaveNamesTheUsersPathNotTheTemporaryFile()
    {
        // The target's directory does not exist.
        string target = Path.Combine(directory, "missing", "model.safetensors");
        var e = Assert.ThrowsAny<IOException>(() => SafeTensorsFile.Write(target, [("w", [1], new float[1])]));
        Assert.StartsWith($"Cannot save {target}: the directory", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);

        // The target is a directory.
        string folder = Path.Combine(directory, "folder.safetensors");
        Directory.CreateDirectory(folder);
        e = Assert.ThrowsAny<IOException>(() => SafeTensorsFile.Write(folder, [("w", [1], new float[1])]));
        Assert.Equal($"Cannot save {folder}: it is a directory.", e.Message);
        Assert.Equal(["folder.safetensors"], Directory.GetFileSystemEntries(directory).Select(Path.GetFileName));
    }

    [Fact]
    public void LoadingADirectorySaysItIsADirectory()
    {
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Read(directory));
        Assert.Contains(directory, e.Message, StringComparison.Ordinal);
        Assert.Contains("is a directory", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(directory, new RecurrentNets.Parameters.ParameterBlock<float>()));
        Assert.Contains("is a directory", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-8, 0)]
    [InlineData(0, -4)]
    [InlineData(-8, -4)]
    public void NegativeDataOffsetsAreReportedAsNegative(long begin, long end)
    {
        string header = """{"w":{"dtype":"F32","shape":[1],"data_offsets":[""" + $"{begin},{end}" + "]}}";
        byte[] h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + 4];
        BitConverter.TryWriteBytes(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(bytes, "neg.safetensors"));
        Assert.Contains("negative", e.Message, StringComparison.Ordinal);
        Assert.Contains("'w'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("lacks", e.Message, StringComparison.Ordinal);
    }
}
