using System.Text;
using System.Text.RegularExpressions;

namespace RecurrentNets.DocTables;

/// <summary>How a table between markers is made and whether the test suite holds it to its command.</summary>
public enum DocTableKind
{
    /// <summary>Deterministic and fast: the default <c>dotnet test -c Release</c> checks it (same bits on every CPU).</summary>
    Fast,

    /// <summary>Deterministic but minutes long: the tests with the Slow trait check it.</summary>
    Slow,

    /// <summary>Timings: regenerated (re-measured) by the tool, never checked; the caption keeps the date and CPU.</summary>
    Timing,
}

/// <summary>
/// One generated table of a doc: the lines between <c>&lt;!-- table: PROJECT -- ARGS --&gt;</c> (or <c>table slow:</c>,
/// <c>table timing:</c>) and <c>&lt;!-- /table --&gt;</c>. The first line inside is the caption the tool writes (command,
/// date, CPU, vector path); the rest is what <c>dotnet run -c Release --project PROJECT -- ARGS --markdown FILE</c>
/// wrote to FILE (or, when ARGS hold <c>--markdown</c> as a flag, what the command printed on stdout).
/// </summary>
/// <param name="Doc">The doc's path relative to the repository root, with '/' separators (docs/reservoirs.md).</param>
/// <param name="Line">The 1-based line of the opening marker.</param>
/// <param name="Kind">Fast, slow or timing.</param>
/// <param name="Project">The project folder relative to the repository root (samples/MackeyGlass).</param>
/// <param name="Arguments">The sample's arguments before <c>--markdown FILE</c>.</param>
/// <param name="BodyStart">The 0-based index of the first line after the opening marker.</param>
/// <param name="BodyEnd">The 0-based index of the closing marker.</param>
/// <param name="Caption">The caption line (empty when the block was never generated).</param>
/// <param name="Content">The command's output as the doc holds it, without the caption.</param>
public sealed record DocTableBlock(
    string Doc, int Line, DocTableKind Kind, string Project, string[] Arguments, int BodyStart, int BodyEnd, string Caption, string Content)
{
    /// <summary>The assembly (and folder) name of the project: samples/MackeyGlass → MackeyGlass.</summary>
    public string AssemblyName => Project[(Project.LastIndexOf('/') + 1)..];

    /// <summary>
    /// Whether the sample prints the table on stdout: the marker's arguments hold <c>--markdown</c> themselves (a flag,
    /// progress on stderr). Otherwise the sample takes <c>--markdown FILE</c> and the tool and the tests add it.
    /// </summary>
    public bool PrintsToStandardOutput => Arguments.Contains("--markdown");

    /// <summary>The command as a user types it; FILE stands for the Markdown file.</summary>
    public string Command => $"dotnet run -c Release --project {Project} -- {string.Join(' ', Arguments)}"
        + (PrintsToStandardOutput ? " > FILE" : $"{(Arguments.Length > 0 ? " " : "")}--markdown FILE");

    /// <summary>A short name for messages: the doc, the line and the command.</summary>
    public override string ToString() => $"{Doc}:{Line} `{Command}`";
}

/// <summary>Finds, rewrites and compares the generated tables of the docs (tools/DocTables and the docs' tests).</summary>
public static partial class DocTableBlocks
{
    /// <summary>The caption's first words; a block's first line starts with them once the tool has written it.</summary>
    public const string CaptionPrefix = "Produced by `dotnet run";

    /// <summary>The repository root: the first folder from <paramref name="start"/> up that holds RecurrentNets.sln.</summary>
    /// <exception cref="InvalidOperationException">No folder above holds it.</exception>
    public static string RepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RecurrentNets.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No RecurrentNets.sln in {start} or any folder above it: run this inside the repository.");
    }

    /// <summary>The docs whose tables are looked for: README.md and docs/*.md.</summary>
    public static IEnumerable<string> DocPaths(string root) =>
        new[] { "README.md" }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md")
            .Select(p => "docs/" + Path.GetFileName(p)).Order(StringComparer.Ordinal));

    /// <summary>Every block of one doc.</summary>
    /// <exception cref="FormatException">A marker is malformed, not closed, or blocks nest.</exception>
    public static IReadOnlyList<DocTableBlock> Parse(string doc, string text)
    {
        string[] lines = text.Split('\n');
        var blocks = new List<DocTableBlock>();
        bool fenced = false; // markers inside ``` code blocks are examples, not tables
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }

            if (fenced)
            {
                continue;
            }

            if (!line.StartsWith("<!-- table", StringComparison.Ordinal))
            {
                if (line.StartsWith("<!-- /table", StringComparison.Ordinal))
                {
                    throw new FormatException($"{doc}:{i + 1}: a closing <!-- /table --> without an opening marker");
                }

                continue;
            }

            var open = OpeningMarker().Match(line);
            if (!open.Success)
            {
                throw new FormatException($"{doc}:{i + 1}: '{line}' is not '<!-- table[ slow| timing]: PROJECT[ -- ARGS] -->'");
            }

            int end = i + 1;
            while (end < lines.Length && !lines[end].StartsWith("<!-- /table -->", StringComparison.Ordinal))
            {
                if (lines[end].StartsWith("<!-- table", StringComparison.Ordinal))
                {
                    throw new FormatException($"{doc}:{end + 1}: a table marker inside the block opened at line {i + 1}");
                }

                end++;
            }

            if (end == lines.Length)
            {
                throw new FormatException($"{doc}:{i + 1}: the table block is not closed by <!-- /table -->");
            }

            var kind = open.Groups["kind"].Value switch
            {
                "" => DocTableKind.Fast,
                "slow" => DocTableKind.Slow,
                _ => DocTableKind.Timing,
            };
            string[] arguments = open.Groups["args"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var body = lines[(i + 1)..end].Select(l => l.TrimEnd('\r')).ToList();
            string caption = body.Count > 0 && body[0].StartsWith(CaptionPrefix, StringComparison.Ordinal) ? body[0] : "";
            string content = string.Join('\n', (caption.Length > 0 ? body.Skip(1) : body).SkipWhile(l => l.Length == 0)).TrimEnd();
            blocks.Add(new DocTableBlock(doc, i + 1, kind, open.Groups["project"].Value, arguments, i + 1, end, caption, content));
            i = end;
        }

        return blocks;
    }

    /// <summary>The caption the tool writes above a table.</summary>
    /// <param name="block">The block.</param>
    /// <param name="date">The date of the run (UTC, yyyy-MM-dd).</param>
    /// <param name="cpu">The CPU's name.</param>
    /// <param name="vectorPath">AVX-512, AVX2 or Vector128 (and how it was forced).</param>
    public static string Caption(DocTableBlock block, string date, string cpu, string vectorPath)
    {
        string check = block.Kind switch
        {
            DocTableKind.Fast => "deterministic (the same on every CPU); `dotnet test -c Release` checks it",
            DocTableKind.Slow => "deterministic (the same on every CPU); the slow tests check it",
            _ => "timings, measured: not checked",
        };
        return $"Produced by `{block.Command}` on {date}, {cpu}, {vectorPath}; {check}.";
    }

    /// <summary>The doc's text with the block's body replaced by the caption, an empty line and the command's output.</summary>
    public static string Replace(string text, DocTableBlock block, string caption, string output)
    {
        var lines = text.Split('\n').ToList();
        lines.RemoveRange(block.BodyStart, block.BodyEnd - block.BodyStart);
        lines.InsertRange(block.BodyStart, [caption, "", .. output.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r'))]);
        return string.Join('\n', lines);
    }

    /// <summary>
    /// Where the doc's content differs from what the command writes today: for the rows of a Markdown table, one
    /// message per differing cell naming its row (first cell) and column (header); for other lines, the line.
    /// Empty when they agree.
    /// </summary>
    public static IReadOnlyList<string> Compare(string documented, string printed)
    {
        string[] expected = documented.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        string[] actual = printed.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var differences = new List<string>();
        string[]? header = null;
        for (int i = 0; i < Math.Max(expected.Length, actual.Length); i++)
        {
            string? doc = i < expected.Length ? expected[i] : null;
            string? now = i < actual.Length ? actual[i] : null;
            if (doc is not null && now is not null && IsTableRow(doc) && IsTableRow(now))
            {
                string[] docCells = Cells(doc), nowCells = Cells(now);
                if (header is null)
                {
                    header = nowCells;
                }

                if (docCells.Length != nowCells.Length)
                {
                    differences.Add($"line {i + 1}: the doc has {docCells.Length} cells, the command prints {nowCells.Length}: '{doc}' against '{now}'");
                    continue;
                }

                for (int c = 0; c < docCells.Length; c++)
                {
                    if (docCells[c] != nowCells[c])
                    {
                        string column = c < header.Length ? header[c] : $"column {c + 1}";
                        differences.Add($"row '{nowCells[0]}', column '{column}': the doc says '{docCells[c]}', the command prints '{nowCells[c]}'");
                    }
                }

                continue;
            }

            header = now is not null && IsTableRow(now) ? header : null;
            if (doc != now)
            {
                differences.Add($"line {i + 1}: the doc says '{doc ?? "(nothing)"}', the command prints '{now ?? "(nothing)"}'");
            }
        }

        return differences;
    }

    private static bool IsTableRow(string line) => line.StartsWith('|');

    /// <summary>The cells of a Markdown table row, trimmed, with escaped pipes kept inside their cell.</summary>
    private static string[] Cells(string row)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] == '\\' && i + 1 < row.Length && row[i + 1] == '|')
            {
                cell.Append('|');
                i++;
            }
            else if (row[i] == '|')
            {
                cells.Add(cell.ToString().Trim());
                cell.Clear();
            }
            else
            {
                cell.Append(row[i]);
            }
        }

        return [.. cells];
    }

    [GeneratedRegex(@"^<!-- table(?: (?<kind>slow|timing))?: (?<project>[A-Za-z0-9_./-]+)(?: -- (?<args>.*?))? -->$")]
    private static partial Regex OpeningMarker();
}
