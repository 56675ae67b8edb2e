using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace RecurrentNets.Readme.Tests;

/// <summary>
/// Every C# block of the README is a whole program: each is compiled with Roslyn against the library (with the SDK's
/// implicit usings) and run, in a temporary folder, so the README cannot drift from the API.
/// </summary>
[Collection(DocTableTests.CurrentDirectory)]
public partial class ReadmeSnippetTests
{
    private const string GlobalUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    public static TheoryData<int> Blocks()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Snippets().Count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Fact]
    public void TheReadmeHasTheFirstProgramAndItIsAtMostThirtyLines()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        var match = FirstProgram().Match(readme);
        Assert.True(match.Success, "README.md has no first-program block between its markers.");
        int lines = match.Groups[1].Value.Split('\n').Count(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith("using ", StringComparison.Ordinal));
        Assert.True(lines <= 30, $"The first program has {lines} lines of code (using directives and blank lines aside).");
        Assert.DoesNotContain("../shared", readme, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void EveryCSharpBlockCompilesAndRuns(int index)
    {
        string code = Snippets()[index];
        var trees = new[] { CSharpSyntaxTree.ParseText(GlobalUsings), CSharpSyntaxTree.ParseText(code) };
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create($"ReadmeBlock{index}", trees, references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var assembly = new MemoryStream();
        var result = compilation.Emit(assembly);
        Assert.True(result.Success, $"README block {index} does not compile:\n{string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))}\n{code}");

        var context = new AssemblyLoadContext($"readme{index}", isCollectible: true);
        string folder = Directory.CreateTempSubdirectory("readme").FullName;
        string previous = Environment.CurrentDirectory;
        var output = new StringWriter();
        var console = Console.Out;
        try
        {
            assembly.Position = 0;
            var entry = context.LoadFromStream(assembly).EntryPoint!;
            Environment.CurrentDirectory = folder;
            Console.SetOut(output);
            entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
        }
        catch (TargetInvocationException e)
        {
            Assert.Fail($"README block {index} threw {e.InnerException}\n{output}");
        }
        finally
        {
            Console.SetOut(console);
            Environment.CurrentDirectory = previous;
            context.Unload();
            Directory.Delete(folder, recursive: true);
        }

        string printed = output.ToString();
        console.WriteLine(printed);
        if (code.Contains("held-out accuracy", StringComparison.Ordinal))
        {
            var accuracy = AccuracyLine().Match(printed);
            Assert.True(accuracy.Success, $"README block {index} prints no held-out accuracy:\n{printed}");
            Assert.True(double.Parse(accuracy.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 90,
                $"The first program's held-out accuracy is {accuracy.Groups[1].Value} %, below the 90 % the README implies.\n{printed}");
        }

        if (code.Contains("NRMSE over", StringComparison.Ordinal))
        {
            var nrmse = NrmseLine().Match(printed);
            Assert.True(nrmse.Success && double.Parse(nrmse.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 1e-3,
                $"README block {index}: the echo state network's free run should stay within 1e-3 NRMSE (7e-5 measured).\n{printed}");
        }
    }

    private static List<string> Snippets()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        return [.. CSharpBlock().Matches(readme).Select(m => m.Groups[1].Value)];
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"<!-- first-program:start -->\s*```csharp\n(.*?)```\s*<!-- first-program:end -->", RegexOptions.Singleline)]
    private static partial Regex FirstProgram();

    [GeneratedRegex(@"held-out accuracy ([0-9.]+) ?%")]
    private static partial Regex AccuracyLine();

    [GeneratedRegex(@"NRMSE over [0-9]+ free-running steps: ([0-9.Ee+-]+)")]
    private static partial Regex NrmseLine();
}
