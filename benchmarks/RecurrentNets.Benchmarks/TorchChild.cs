using System.Diagnostics;
using System.Globalization;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// A persistent /usr/bin/python3 child (Debian's python3-torch) that times a call of libtorch on request, so ours and
/// libtorch's can alternate round by round in one run. The script defines <c>call()</c> (and <c>reset()</c>, run before
/// each call outside the timed region, when it needs one) from <c>sys.argv</c>; the child prints a version line, then
/// for each call count n it reads, times n calls after 3 warm-up calls and prints the median in ms.
/// </summary>
internal sealed class TorchChild : IDisposable
{
    private const string Loop = """

        if "reset" not in globals():
            def reset():
                pass
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
        for line in sys.stdin:
            n = int(line)
            if n == 0:
                break
            for _ in range(3):
                reset()
                call()
            times = []
            for _ in range(n):
                reset()
                start = time.perf_counter()
                call()
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            print(times[n // 2], flush=True)
        """;

    private readonly Process process;
    private readonly string script;

    private TorchChild(Process process, string script)
    {
        this.process = process;
        this.script = script;
        Version = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"python3 exited: {process.StandardError.ReadToEnd()}");
    }

    /// <summary>The child's torch version and thread count.</summary>
    public string Version { get; }

    /// <summary>Starts the child on <paramref name="setup"/> (imports sys, time and torch are given) with
    /// <paramref name="arguments"/> as its <c>sys.argv[1:]</c>.</summary>
    public static TorchChild Start(string setup, string arguments)
    {
        string script = Path.Combine(Path.GetTempPath(), $"torch_timer_{Environment.ProcessId}_{Guid.NewGuid():N}.py");
        File.WriteAllText(script, "import sys, time\nimport torch\n" + setup + Loop);
        var process = Process.Start(new ProcessStartInfo("/usr/bin/python3", $"{script} {arguments}")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        return new TorchChild(process, script);
    }

    /// <summary>
    /// Alternates <paramref name="rounds"/> rounds of <paramref name="calls"/> timed calls of <paramref name="ours"/> (after 3
    /// untimed ones) and of the child's call; returns the best round's medians (ms) of each.
    /// </summary>
    public (double Ours, double Torch) BestOfRounds(Action ours, int rounds, int calls)
    {
        double bestOurs = double.MaxValue, bestTorch = double.MaxValue;
        var times = new double[calls];
        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < calls + 3; i++)
            {
                long start = Stopwatch.GetTimestamp();
                ours();
                if (i >= 3)
                {
                    times[i - 3] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }

            Array.Sort(times);
            bestOurs = Math.Min(bestOurs, times[calls / 2]);
            process.StandardInput.WriteLine(calls.ToString(CultureInfo.InvariantCulture));
            process.StandardInput.Flush();
            bestTorch = Math.Min(bestTorch, double.Parse(process.StandardOutput.ReadLine()!, CultureInfo.InvariantCulture));
        }

        return (bestOurs, bestTorch);
    }

    /// <summary>Tells the child to stop, waits for it and deletes its script.</summary>
    public void Dispose()
    {
        try
        {
            process.StandardInput.WriteLine("0");
            process.StandardInput.Flush();
            process.WaitForExit();
        }
        finally
        {
            process.Dispose();
            File.Delete(script);
        }
    }

    /// <summary>The value after <paramref name="name"/> in <paramref name="args"/>, or <paramref name="fallback"/>.</summary>
    public static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
