using RecurrentNets.Init;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using SharpFuzz;

namespace RecurrentNets.Fuzz;

/// <summary>
/// Coverage-guided fuzz target (SharpFuzz, AFL++ fork-server mode) for the checkpoint loader: every input goes through
/// <see cref="SafeTensorsFile.Parse"/> and, when that accepts it, through <see cref="Checkpoint.Load{T}"/> into a
/// float and a double LSTM and <see cref="Checkpoint.LoadOptimizer{T}"/> into an Adam. Only the documented
/// exceptions are caught; any other exception escapes and AFL records the input as a crash.
/// </summary>
internal static class Program
{
    private static readonly string TempPath = Path.Combine(
        Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(),
        $"recurrentnets-fuzz-{Environment.ProcessId}.safetensors");

    private static readonly ParameterBlock<float> FloatBlock = new Lstm<float>(2, 3, random: new SeededRandom(1)).Parameters;
    private static readonly ParameterBlock<double> DoubleBlock = new Lstm<double>(2, 3, random: new SeededRandom(2)).Parameters;
    private static readonly Adam<float> Optimizer = new(FloatBlock, 0.01);

    private static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "--make-corpus")
        {
            MakeCorpus(args[1]);
            return 0;
        }

        if (args.Length >= 2 && args[0] == "--run")
        {
            // Replays inputs outside AFL (triage, minimisation, regression); an undocumented exception propagates.
            foreach (string file in args.Skip(1))
            {
                Console.WriteLine($"{file}: {Target(File.ReadAllBytes(file))}");
            }

            return 0;
        }

        if (args.Length != 0)
        {
            Console.Error.WriteLine("usage: RecurrentNets.Fuzz [--make-corpus DIR | --run FILE...]  (no argument: fuzz under afl-fuzz)");
            return 2;
        }

        try
        {
            Fuzzer.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                Target(buffer.ToArray());
            });
        }
        finally
        {
            File.Delete(TempPath);
        }

        return 0;
    }

    /// <summary>Runs one input; returns what happened, or throws if the loader broke its contract.</summary>
    private static string Target(byte[] content)
    {
        try
        {
            _ = SafeTensorsFile.Parse(content, "fuzz input");
        }
        catch (InvalidDataException)
        {
            return "rejected by Parse";
        }

        File.WriteAllBytes(TempPath, content);
        string result = $"parsed; float {LoadInto(FloatBlock)}; double {LoadInto(DoubleBlock)}";
        try
        {
            Checkpoint.LoadOptimizer(TempPath, Optimizer);
            return result + "; optimizer loaded";
        }
        catch (InvalidDataException)
        {
            return result + "; optimizer rejected";
        }
        catch (ArgumentException e) when (e.GetType() == typeof(ArgumentException))
        {
            return result + "; optimizer mismatched";
        }
    }

    private static string LoadInto<T>(ParameterBlock<T> block)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var before = block.Values.ToArray();
        try
        {
            _ = Checkpoint.Load(TempPath, block);
            return "loaded";
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException
            || e.GetType() == typeof(ArgumentException))
        {
            // A failed load must leave the block untouched (the loader checks everything before writing).
            if (!before.AsSpan().SequenceEqual(block.Values))
            {
                throw new InvalidOperationException($"A failed load ({e.GetType().Name}) changed the parameters.", e);
            }

            return e is InvalidDataException ? "rejected" : "mismatched";
        }
    }

    /// <summary>Writes the seed corpus: valid checkpoints as <see cref="Checkpoint"/> saves them, and a few variants.</summary>
    private static void MakeCorpus(string directory)
    {
        Directory.CreateDirectory(directory);
        var metadata = new Dictionary<string, string> { ["model"] = "lstm", ["input_size"] = "2", ["hidden_size"] = "3" };
        Checkpoint.Save(Path.Combine(directory, "lstm-f32.safetensors"), FloatBlock, metadata);
        Checkpoint.Save(Path.Combine(directory, "lstm-f64.safetensors"), DoubleBlock);
        Checkpoint.Save(Path.Combine(directory, "lstm-f32-prefixed.safetensors"), FloatBlock, prefix: "rnn.");
        Checkpoint.Save(Path.Combine(directory, "tiny-lstm-f32.safetensors"), new Lstm<float>(1, 1, random: new SeededRandom(3)).Parameters);
        Checkpoint.SaveOptimizer(Path.Combine(directory, "adam-f32.safetensors"), Optimizer);
        SafeTensorsFile.Write(Path.Combine(directory, "edge-shapes.safetensors"),
            [("scalar", [], new float[] { 1 }), ("empty", [0, 3], Array.Empty<float>()), ("d", [2, 1], new double[] { 1, 2 })],
            new Dictionary<string, string> { ["k"] = "v" });
        foreach (string file in Directory.GetFiles(directory))
        {
            Console.WriteLine($"{file}: {new FileInfo(file).Length} bytes");
        }
    }
}
