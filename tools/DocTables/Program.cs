using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RecurrentNets.DocTables;

// Regenerates (or checks) the tables of README.md and docs/*.md that sit between <!-- table: ... --> markers by running
// the command each marker names. See docs/testing.md, "Tables in the docs".
const string Usage = """
    Usage: dotnet run -c Release --project tools/DocTables -- <list|regenerate|check> [options]
      list                     every generated table: kind, doc and line, command, caption
      regenerate               run each table's command and write its output into the doc, with a caption naming the
                               command, the date, the CPU and the vector path
      check                    run each table's command and report the cells that differ from the doc (exit code 1)
    Options:
      --kind fast,slow,timing  only these kinds (default: all for list and regenerate; fast,slow for check)
      --doc docs/x.md          only this doc (repeatable)
      --match TEXT             only the tables whose command contains TEXT
    """;

if (args.Length == 0 || args[0] is not ("list" or "regenerate" or "check"))
{
    Console.Error.WriteLine(Usage);
    return 2;
}

string verb = args[0];
var kinds = new HashSet<DocTableKind>(verb == "check" ? [DocTableKind.Fast, DocTableKind.Slow] : Enum.GetValues<DocTableKind>());
var docs = new List<string>();
string? match = null;
for (int i = 1; i < args.Length; i++)
{
    string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
    switch (args[i])
    {
        case "--kind":
            kinds = [.. value.Split(',').Select(k => Enum.Parse<DocTableKind>(k, ignoreCase: true))];
            break;
        case "--doc":
            docs.Add(value.Replace('\\', '/'));
            break;
        case "--match":
            match = value;
            break;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]}.\n{Usage}");
            return 2;
    }

    i++;
}

string root = DocTableBlocks.RepositoryRoot(Directory.GetCurrentDirectory());
string date = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
string cpu = CpuName();
string vectorPath = VectorPath();
int failures = 0, done = 0;
var outputs = new Dictionary<string, string?>(); // one run per command when several docs show the same table
foreach (string doc in DocTableBlocks.DocPaths(root).Where(d => docs.Count == 0 || docs.Contains(d)))
{
    string path = Path.Combine(root, doc);
    // Later blocks of a doc shift when an earlier one changes length, so parse again after each rewrite.
    for (int index = 0; ; index++)
    {
        var blocks = DocTableBlocks.Parse(doc, File.ReadAllText(path));
        if (index >= blocks.Count)
        {
            break;
        }

        var block = blocks[index];
        if (!kinds.Contains(block.Kind) || (match is not null && !block.Command.Contains(match, StringComparison.Ordinal)))
        {
            continue;
        }

        if (verb == "list")
        {
            Console.WriteLine($"{block.Kind,-6} {block.Doc}:{block.Line}  {block.Command}\n       {(block.Caption.Length > 0 ? block.Caption : "(never generated)")}");
            continue;
        }

        Console.Error.WriteLine($"== {block}");
        var clock = Stopwatch.StartNew();
        if (!outputs.TryGetValue(block.Command, out string? output))
        {
            output = outputs[block.Command] = Run(block);
        }

        done++;
        if (output is null)
        {
            failures++;
            continue;
        }

        Console.Error.WriteLine($"   {clock.Elapsed.TotalSeconds:F0} s");
        if (verb == "regenerate")
        {
            string caption = DocTableBlocks.Caption(block, date, cpu, vectorPath);
            File.WriteAllText(path, DocTableBlocks.Replace(File.ReadAllText(path), block, caption, output));
        }
        else
        {
            var differences = DocTableBlocks.Compare(block.Content, output);
            if (differences.Count > 0)
            {
                failures++;
                Console.WriteLine($"{block} differs from what the command prints today:\n  {string.Join("\n  ", differences)}");
            }
        }
    }
}

if (verb != "list")
{
    Console.Error.WriteLine($"{done} tables {(verb == "check" ? "checked" : "regenerated")}, {failures} {(verb == "check" ? "differ or failed" : "failed")}.");
}

return failures == 0 ? 0 : 1;

// Runs the block's command in a temporary folder (the samples write their PNGs into the current folder) and returns
// what it wrote with --markdown FILE (or on stdout), or null when it failed.
string? Run(DocTableBlock block)
{
    string work = Directory.CreateTempSubdirectory("doctables-").FullName;
    try
    {
        string markdown = Path.Combine(work, "table.md");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = work, UseShellExecute = false, RedirectStandardOutput = block.PrintsToStandardOutput };
        string[] arguments = block.PrintsToStandardOutput ? block.Arguments : [.. block.Arguments, "--markdown", markdown];
        foreach (string argument in (string[])["run", "-c", "Release", "--project", Path.Combine(root, block.Project), "--", .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string? printed = block.PrintsToStandardOutput ? process.StandardOutput.ReadToEnd() : null;
        process.WaitForExit();
        if (process.ExitCode != 0 || (printed is null && !File.Exists(markdown)))
        {
            Console.Error.WriteLine($"{block}: exit code {process.ExitCode}{(printed is not null || File.Exists(markdown) ? "" : ", no Markdown written")}");
            return null;
        }

        return printed ?? File.ReadAllText(markdown);
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

// The CPU's model name (Linux: /proc/cpuinfo; Windows: PROCESSOR_IDENTIFIER), else the architecture.
static string CpuName()
{
    if (File.Exists("/proc/cpuinfo"))
    {
        string? model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        if (model is not null)
        {
            return model[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
    }

    return Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER") ?? RuntimeInformation.ProcessArchitecture.ToString();
}

// The widest vector path the runtime uses here; the child process inherits the same DOTNET_Enable* variables.
static string VectorPath()
{
    if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
    {
        return "AVX-512 path";
    }

    if (Avx2.IsSupported)
    {
        return Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0" ? "AVX2 path (DOTNET_EnableAVX512=0)" : "AVX2 path";
    }

    return RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86
        ? Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0" ? "Vector128 path (DOTNET_EnableAVX2=0)" : "Vector128 path"
        : $"{RuntimeInformation.ProcessArchitecture} (Vector128)";
}
