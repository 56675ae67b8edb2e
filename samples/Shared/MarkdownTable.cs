using System.Globalization;
using System.Text;

namespace RecurrentNets.Samples;

/// <summary>
/// A result table written as Markdown (GitHub's pipe tables), for the samples' <c>--markdown FILE</c> option. The docs
/// hold these tables between <c>&lt;!-- table: ... --&gt;</c> markers; <c>tools/DocTables</c> regenerates them and
/// the test suite checks the fast ones against what the sample prints today (docs/testing.md, "Tables in the docs").
/// </summary>
internal sealed class MarkdownTable
{
    private readonly List<(string Header, bool Right)> columns = [];
    private readonly List<string[]> rows = [];

    /// <summary>Adds a left-aligned column.</summary>
    public MarkdownTable Column(string header) => Add(header, right: false);

    /// <summary>Adds a right-aligned column (numbers).</summary>
    public MarkdownTable NumberColumn(string header) => Add(header, right: true);

    /// <summary>Adds a row, one cell per column.</summary>
    /// <exception cref="ArgumentException">The row has another number of cells than the table has columns.</exception>
    public MarkdownTable Row(params string[] cells)
    {
        if (cells.Length != columns.Count)
        {
            throw new ArgumentException($"the row has {cells.Length} cells but the table has {columns.Count} columns", nameof(cells));
        }

        rows.Add(cells);
        return this;
    }

    /// <summary>The table as Markdown, one line per row, ending with a newline.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", columns.Select(c => Escape(c.Header))).Append(" |\n");
        text.Append('|').AppendJoin('|', columns.Select(c => c.Right ? "---:" : "---")).Append("|\n");
        foreach (string[] row in rows)
        {
            text.Append("| ").AppendJoin(" | ", row.Select(Escape)).Append(" |\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// Writes the table to <paramref name="file"/> when it is given (the <c>--markdown</c> option), after
    /// <paramref name="title"/> (what the numbers are) and an empty line.
    /// </summary>
    public void WriteTo(FileInfo? file, string? title = null)
    {
        if (file is not null)
        {
            File.WriteAllText(file.FullName, title is null ? ToString() : $"{title}\n\n{this}");
        }
    }

    /// <summary>A number with thousands separators, as the docs print step and sequence counts (1,200).</summary>
    public static string Count(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A number in the docs' scientific notation with three significant digits (3.63e-5).</summary>
    public static string Scientific(double value) => value.ToString("0.00e-0", CultureInfo.InvariantCulture);

    private MarkdownTable Add(string header, bool right)
    {
        columns.Add((header, right));
        return this;
    }

    private static string Escape(string cell) => cell.Replace("|", "\\|", StringComparison.Ordinal).Replace('\n', ' ');
}
