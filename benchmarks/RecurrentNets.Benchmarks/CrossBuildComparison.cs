using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using RecurrentNets.Kernels;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// <c>ab &lt;other build's bin folder&gt; [rounds] [point filters]</c>: this build's <see cref="RnnBenchmarks"/> (and <see cref="ModelBenchmarks"/>)
/// against another build's, alternated in one process. The other build (say main, built in another worktree) is loaded
/// into its own <see cref="AssemblyLoadContext"/>, so both run side by side on the same machine state: each round times a
/// few calls of one, then of the other, and the ratio of the medians over the rounds cancels the drift of a shared
/// machine that separate BenchmarkDotNet runs pick up. The last column is the ratio of each build's fastest round.
/// </summary>
public static class CrossBuildComparison
{
    public static int Run(string[] args)
    {
        if (args.Length < 1 || !File.Exists(Path.Combine(args[0], "RecurrentNets.Benchmarks.dll")))
        {
            Console.Error.WriteLine("usage: ab <folder holding the other build's RecurrentNets.Benchmarks.dll> [rounds] [texts a point's name contains, comma-separated]");
            return 1;
        }

        string folder = Path.GetFullPath(args[0]);
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;
        // Comma-separated; a point runs when its name contains any of them ("B=1 ,B=32 " skips the (64, 1024) points).
        string[] filters = args.Length > 2 ? args[2].Split(',') : [""];
        bool Selected(string name) => filters.Any(f => name.Contains(f, StringComparison.Ordinal));
        Assembly other = new FolderContext(folder).LoadFromAssemblyPath(Path.Combine(folder, "RecurrentNets.Benchmarks.dll"));

        string library = other.GetReferencedAssemblies().Any(n => n.Name == "RecurrentNets")
            ? AssemblyLoadContext.GetLoadContext(other)!.LoadFromAssemblyName(new AssemblyName("RecurrentNets")).Location : "?";
        Console.WriteLine($"# this build: {typeof(Gemm).Assembly.Location}; other: {library}; {rounds} rounds");
        // The best round too: on a machine whose other tenants take cycles at random (steal time), the fastest of many
        // rounds shows what each build can do, where the medians still move by several per cent from run to run.
        Console.WriteLine("| benchmark | point | this median ms | other median ms | this / other | this / other, best rounds |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var point in RnnBenchmarks.Points().Where(p => Selected(p.ToString())))
        {
            var mine = new RnnBenchmarks { Point = point };
            object theirs = Create(other, "RecurrentNets.Benchmarks.RnnBenchmarks");
            Type pointType = other.GetType("RecurrentNets.Benchmarks.RnnPoint")!;
            Type cellType = other.GetType("RecurrentNets.Benchmarks.CellKind")!;
            object theirPoint = Activator.CreateInstance(pointType, Enum.ToObject(cellType, (int)point.Cell), point.Batch, point.Hidden, point.Threads)!;
            theirs.GetType().GetProperty("Point")!.SetValue(theirs, theirPoint);
            foreach (string method in new[] { "Train", "Inference", "InferenceFrozen" })
                Compare("RnnBenchmarks." + method, point.ToString(), mine, theirs, method, rounds);
        }

        foreach (int batch in new[] { 1, 32 }.Where(b => Selected($"ModelBenchmarks B={b} t=1")))
        {
            var mine = new ModelBenchmarks { Batch = batch, Threads = 1 };
            object theirs = Create(other, "RecurrentNets.Benchmarks.ModelBenchmarks");
            theirs.GetType().GetProperty("Batch")!.SetValue(theirs, batch);
            theirs.GetType().GetProperty("Threads")!.SetValue(theirs, 1);
            Compare("ModelBenchmarks.Model", $"B={batch} t=1", mine, theirs, "Model", rounds);
            Compare("ModelBenchmarks.Engine", $"B={batch} t=1", mine, theirs, "Engine", rounds);
        }

        return 0;
    }

    // The other build's assemblies (the library, the benchmarks, their packages) from its folder, never this build's;
    // the shared framework from the runtime.
    private sealed class FolderContext(string folder) : AssemblyLoadContext("other build")
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            string path = Path.Combine(folder, assemblyName.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }

    private static object Create(Assembly assembly, string type) => Activator.CreateInstance(assembly.GetType(type)!)!;

    private static void Compare(string name, string point, object mine, object theirs, string method, int rounds)
    {
        Action a = Bind(mine, method), b = Bind(theirs, method);
        mine.GetType().GetMethod("Setup")!.Invoke(mine, null);
        theirs.GetType().GetMethod("Setup")!.Invoke(theirs, null);

        // Warm up both (tiered JIT: with 0.3 s, the first point of a process came out up to 1.8x apart between runs),
        // and size a batch of calls to about 50 ms.
        var clock = Stopwatch.StartNew();
        int calls = 0;
        while (clock.ElapsedMilliseconds < 2000 || calls < 4)
        {
            a();
            b();
            calls++;
        }

        int batch = Math.Max(1, (int)(calls * 50.0 / clock.ElapsedMilliseconds));
        var ta = new List<double>();
        var tb = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            // Alternate which goes first, so neither always follows the other.
            if (round % 2 == 0)
            {
                ta.Add(Time(a, batch));
                tb.Add(Time(b, batch));
            }
            else
            {
                tb.Add(Time(b, batch));
                ta.Add(Time(a, batch));
            }
        }

        mine.GetType().GetMethod("Cleanup")?.Invoke(mine, null); // builds since the engine redesign have none
        theirs.GetType().GetMethod("Cleanup")?.Invoke(theirs, null);
        double ma = Median(ta), mb = Median(tb);
        Console.WriteLine(FormattableString.Invariant($"| {name} | {point} | {ma:F4} | {mb:F4} | {ma / mb:F3} | {ta.Min() / tb.Min():F3} |"));
    }

    private static Action Bind(object target, string method)
    {
        MethodInfo info = target.GetType().GetMethod(method)!;
        if (info.ReturnType == typeof(void))
            return (Action)Delegate.CreateDelegate(typeof(Action), target, info);
        var f = (Func<double>)Delegate.CreateDelegate(typeof(Func<double>), target, info);
        return () => f();
    }

    private static double Time(Action action, int calls)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
            action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds / calls;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
