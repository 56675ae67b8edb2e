using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using RecurrentNets.DocTables;

namespace RecurrentNets.Readme.Tests;

/// <summary>
/// The generated tables of README.md and docs/*.md (between <c>&lt;!-- table: ... --&gt;</c> markers) hold what their
/// commands print today. Each command is a sample's: it runs here in-process, through the sample's own entry point with
/// the marker's arguments and <c>--markdown FILE</c>, so the check costs what the sample costs and nothing is spawned.
/// Results are the same bits on every vector path (SameBitsTests), so these tables must match on any x64 CPU; timing
/// tables (<c>table timing:</c>) are never compared. Regenerate with <c>dotnet run -c Release --project tools/DocTables
/// -- regenerate</c> (docs/testing.md, "Tables in the docs").
/// </summary>
[Collection(CurrentDirectory)]
public class DocTableTests
{
    /// <summary>
    /// The tests that use the process's current folder: the README's programs run in a temporary one, and the samples
    /// write their PNGs into it, so they must not run at the same time.
    /// </summary>
    public const string CurrentDirectory = "current directory";

    private static readonly string Root = DocTableBlocks.RepositoryRoot(AppContext.BaseDirectory);

    // One run per command: results.md and learning-tasks.md show the same adding-problem table.
    private static readonly ConcurrentDictionary<string, Lazy<string>> Outputs = new();

    private static IReadOnlyList<DocTableBlock> AllBlocks() =>
        DocTableBlocks.DocPaths(Root).SelectMany(doc => DocTableBlocks.Parse(doc, File.ReadAllText(Path.Combine(Root, doc)))).ToList();

    public static TheoryData<string> FastTables() => Ids(DocTableKind.Fast);

    public static TheoryData<string> SlowTables() => Ids(DocTableKind.Slow);

    [Theory]
    [MemberData(nameof(FastTables))]
    public void AFastTableIsWhatItsCommandPrintsToday(string id) => AssertCurrent(Find(id));

    [Theory]
    [MemberData(nameof(SlowTables))]
    [Trait("Category", "Slow")]
    public void ASlowTableIsWhatItsCommandPrintsToday(string id) => AssertCurrent(Find(id));

    [Fact]
    public void EveryTableBlockNamesARunnableCommandAndCarriesItsCaption()
    {
        var blocks = AllBlocks();
        Assert.Contains(blocks, b => b.Kind == DocTableKind.Fast);
        foreach (var block in blocks)
        {
            Assert.True(block.Caption.Length > 0, $"{block} has no caption: run tools/DocTables regenerate on it.");
            Assert.True(Directory.Exists(Path.Combine(Root, block.Project)), $"{block}: there is no project folder {block.Project}.");
            Assert.True(block.Content.Contains("\n|---", StringComparison.Ordinal) || block.Content.StartsWith("| ", StringComparison.Ordinal),
                $"{block} holds no Markdown table.");
            if (block.Kind != DocTableKind.Timing)
            {
                // The in-process check needs the sample referenced by this project (samples/*/*.csproj are).
                Assert.NotNull(EntryPoint(block));
            }
        }
    }

    [Fact]
    public void TheCheckNamesTheCellsThatDiffer()
    {
        // An edited number in a documented table must fail the check with the row, the column and both values.
        var block = AllBlocks().First(b => b.Kind == DocTableKind.Fast);
        string[] lines = block.Content.Split('\n');
        int row = Array.FindLastIndex(lines, l => l.StartsWith('|'));
        string[] cells = lines[row].Split('|');
        int column = Array.FindLastIndex(cells, c => c.Any(char.IsDigit));
        string edited = cells[column].Trim();
        int digit = edited.IndexOfAny("0123456789".ToCharArray());
        string changed = edited[..digit] + (char)('0' + (edited[digit] - '0' + 1) % 10) + edited[(digit + 1)..];
        cells[column] = cells[column].Replace(edited, changed, StringComparison.Ordinal);
        lines[row] = string.Join('|', cells);

        var differences = DocTableBlocks.Compare(string.Join('\n', lines), block.Content);

        string difference = Assert.Single(differences);
        string rowName = cells[1].Trim();
        Assert.Contains($"row '{rowName}'", difference, StringComparison.Ordinal);
        Assert.Contains($"the doc says '{changed}', the command prints '{edited}'", difference, StringComparison.Ordinal);
        Assert.Empty(DocTableBlocks.Compare(block.Content, block.Content));
        Assert.NotEmpty(DocTableBlocks.Compare(block.Content, string.Join('\n', block.Content.Split('\n').SkipLast(1))));
    }

    private static TheoryData<string> Ids(DocTableKind kind)
    {
        var data = new TheoryData<string>();
        foreach (var block in AllBlocks().Where(b => b.Kind == kind))
        {
            data.Add($"{block.Doc}:{block.Line}");
        }

        return data;
    }

    private static DocTableBlock Find(string id) => AllBlocks().Single(b => $"{b.Doc}:{b.Line}" == id);

    private static MethodInfo? EntryPoint(DocTableBlock block)
    {
        try
        {
            return Assembly.Load(new AssemblyName(block.AssemblyName)).EntryPoint;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static void AssertCurrent(DocTableBlock block)
    {
        string printed = Outputs.GetOrAdd(block.Command, _ => new Lazy<string>(() => Run(block))).Value;
        var differences = DocTableBlocks.Compare(block.Content, printed);
        Assert.True(differences.Count == 0,
            $"{block.Doc}, the table at line {block.Line} (`{block.Command}`) differs from what the command prints today:\n  "
            + string.Join("\n  ", differences)
            + "\nIf the change is intended, regenerate it: dotnet run -c Release --project tools/DocTables -- regenerate --doc "
            + $"{block.Doc} --match \"{block.Project}\"");
    }

    // Runs the sample's entry point with the marker's arguments and --markdown FILE; returns what it wrote there. A
    // sample that prints its table on stdout (the marker's arguments hold the --markdown flag) runs in its own process,
    // from its build output, since the console is shared by every test of this process.
    private static string Run(DocTableBlock block)
    {
        var entry = EntryPoint(block)
            ?? throw new InvalidOperationException($"{block}: {block.AssemblyName} is not referenced by RecurrentNets.Readme.Tests.");
        if (block.PrintsToStandardOutput)
        {
            return RunInItsOwnProcess(block);
        }

        string file = Path.Combine(Path.GetTempPath(), $"doctable-{Guid.NewGuid():N}.md");
        try
        {
            object? exitCode = entry.Invoke(null, [(string[])[.. block.Arguments, "--markdown", file]]);
            Assert.True(exitCode is 0 or null, $"{block} exited with {exitCode}.");
            Assert.True(File.Exists(file), $"{block} wrote no Markdown table: does the sample take --markdown FILE?");
            return File.ReadAllText(file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string RunInItsOwnProcess(DocTableBlock block)
    {
        // This test runs from tests/RecurrentNets.Readme.Tests/bin/<configuration>/<framework>/: the sample's build
        // output has the same two last folders.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string dll = Path.Combine(Root, block.Project, "bin", output.Parent!.Name, output.Name, block.AssemblyName + ".dll");
        Assert.True(File.Exists(dll), $"{block}: {dll} is not built.");
        string work = Directory.CreateTempSubdirectory("doctable-").FullName;
        try
        {
            var start = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string argument in (string[])[dll, .. block.Arguments])
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            string printed = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{block} exited with {process.ExitCode}.");
            return printed;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
