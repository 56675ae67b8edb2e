using System.Reflection;
using System.Reflection.Emit;
using System.Text.RegularExpressions;
using RecurrentNets.Kernels;

namespace RecurrentNets.Tests.Kernels;

/// <summary>
/// Kernels/ is a leaf (docs/GUIDE: it names no layer, cell or reservoir): nothing in the namespace RecurrentNets.Kernels
/// refers to RecurrentNets.Layers, .Reservoirs, .Reference, .Cells or .Sequence. Checked twice: over the compiled types
/// (signatures, fields, locals, attributes and every type, method and field token of the IL), and over the source files
/// (usings, qualified names and crefs, which leave no trace in the IL).
/// </summary>
public sealed partial class KernelsAreALeafTests
{
    private static readonly string[] Forbidden =
        ["RecurrentNets.Layers", "RecurrentNets.Reservoirs", "RecurrentNets.Reference", "RecurrentNets.Cells", "RecurrentNets.Sequence"];

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    [Fact]
    public void NoKernelTypeRefersToALayerCellReservoirOrReference()
    {
        var types = typeof(Gemm).Assembly.GetTypes().Where(t => t.Namespace == "RecurrentNets.Kernels").ToArray();
        var scan = new Scan();
        foreach (var type in types)
        {
            scan.Type(type);
        }

        // Not vacuous: the namespace has its kernels, and the IL of their methods was read and resolved.
        Assert.True(types.Length >= 30, $"only {types.Length} types in RecurrentNets.Kernels");
        Assert.True(scan.MethodBodies >= 300, $"only {scan.MethodBodies} method bodies read");
        Assert.True(scan.Tokens >= 2_000, $"only {scan.Tokens} IL tokens resolved");
        Assert.Empty(scan.Unresolved);
        string[] offences = [.. scan.References.Where(r => IsForbidden(r.Type)).Select(r => $"{r.From} -> {r.Type.FullName}").Distinct().Order()];
        Assert.True(offences.Length == 0, "Kernels refers to:\n" + string.Join("\n", offences));
    }

    [Fact]
    public void TheScanFindsReferencesThatOnlyTheIlHolds()
    {
        // Gemm.Compute names GemmDriver only in its body, and the recurrent layer refers to the cells: a scan that saw
        // neither could not see a forbidden reference either.
        var gemm = new Scan();
        gemm.Type(typeof(Gemm));
        Assert.Contains(gemm.References, r => r.Type == typeof(GemmDriver));

        var layer = new Scan();
        layer.Type(typeof(RecurrentNets.Sequence.RecurrentLayer<>));
        Assert.Contains(layer.References, r => IsForbidden(r.Type) && r.Type.Namespace == "RecurrentNets.Cells");
    }

    [Fact]
    public void NoKernelSourceNamesALayerCellReservoirOrReference()
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "KernelSources");
        string[] files = Directory.GetFiles(folder, "*.cs");
        Assert.Contains(files, f => Path.GetFileName(f) == "Gemm.cs");
        Assert.True(files.Length >= 20, $"only {files.Length} sources copied from src/RecurrentNets/Kernels");
        var offences = new List<string>();
        foreach (string file in files)
        {
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                // Code: a using or a qualified name; comments: only crefs (prose may mention the twins by name).
                string line = lines[i];
                int comment = line.IndexOf("//", StringComparison.Ordinal);
                string code = comment < 0 ? line : line[..comment];
                string doc = comment < 0 ? "" : line[comment..];
                if (QualifiedName().IsMatch(code) || CrefName().IsMatch(doc))
                {
                    offences.Add($"{Path.GetFileName(file)}:{i + 1}: {line.Trim()}");
                }
            }
        }

        Assert.True(offences.Count == 0, "Kernels names:\n" + string.Join("\n", offences));
    }

    [Theory]
    [InlineData("using RecurrentNets.Layers;", true)]
    [InlineData("using static RecurrentNets.Reference.ReferenceGemm;", true)]
    [InlineData("using R = RecurrentNets.Reservoirs.Reservoir<float>;", true)]
    [InlineData("        Reference.ReferenceSparse.AccumulateGramUpper(x, rows, columns, gram);", true)]
    [InlineData("    public static void Apply<T>(Layers.Activation activation, Span<T> values)", true)]
    [InlineData("    private global::RecurrentNets.Cells.CellStep<float> step;", true)]
    [InlineData("    public static void Apply<T>(Activation activation, Span<T> values)", false)]
    [InlineData("using RecurrentNets.Tensors;", false)]
    public void TheSourcePatternsCatchEachFormOfReference(string line, bool caught) =>
        Assert.Equal(caught, QualifiedName().IsMatch(line));

    [Theory]
    [InlineData("/// The naive twin is <see cref=\"Reference.ReferenceSparse.AccumulateGramUpper\"/>.", true)]
    [InlineData("/// <seealso cref=\"RecurrentNets.Sequence.RecurrentLayer{T}\"/>", true)]
    [InlineData("/// The naive twin is <c>Reference.ReferenceSparse.AccumulateGramUpper</c>.", false)]
    public void TheCrefPatternCatchesADocumentationLink(string line, bool caught) => Assert.Equal(caught, CrefName().IsMatch(line));

    private static bool IsForbidden(Type type) =>
        type.Namespace is string ns && Forbidden.Any(f => ns == f || ns.StartsWith(f + ".", StringComparison.Ordinal));

    // A using of the namespaces, or a name qualified by one of them (with or without RecurrentNets. and global::).
    [GeneratedRegex(@"(\busing\s+(static\s+)?(\w+\s*=\s*)?(global::)?RecurrentNets\.(Layers|Reservoirs|Reference|Cells|Sequence)\b)|(\b(Layers|Reservoirs|Reference|Cells|Sequence)\.[A-Za-z_])")]
    private static partial Regex QualifiedName();

    [GeneratedRegex(@"cref=""(global::)?(RecurrentNets\.)?(Layers|Reservoirs|Reference|Cells|Sequence)\.")]
    private static partial Regex CrefName();

    /// <summary>Every type one type's members and IL refer to, each element type and generic argument unwrapped.</summary>
    private sealed class Scan
    {
        private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

        public List<(string From, Type Type)> References { get; } = [];

        public List<string> Unresolved { get; } = [];

        public int MethodBodies { get; private set; }

        public int Tokens { get; private set; }

        public void Type(Type type)
        {
            string name = type.FullName ?? type.Name;
            Add(name, type.BaseType);
            foreach (var i in type.GetInterfaces())
            {
                Add(name, i);
            }

            foreach (var g in type.GetGenericArguments())
            {
                AddConstraints(name, g);
            }

            Attributes(name, type.GetCustomAttributesData());
            foreach (var field in type.GetFields(All))
            {
                Add($"{name}.{field.Name}", field.FieldType);
                Attributes(name, field.GetCustomAttributesData());
            }

            foreach (var property in type.GetProperties(All))
            {
                Add($"{name}.{property.Name}", property.PropertyType);
            }

            foreach (var e in type.GetEvents(All))
            {
                Add($"{name}.{e.Name}", e.EventHandlerType);
            }

            foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                Method($"{name}.{method.Name}", method);
            }
        }

        private void Method(string name, MethodBase method)
        {
            if (method is MethodInfo info)
            {
                Add(name, info.ReturnType);
            }

            foreach (var parameter in method.GetParameters())
            {
                Add(name, parameter.ParameterType);
            }

            if (method.IsGenericMethodDefinition)
            {
                foreach (var g in method.GetGenericArguments())
                {
                    AddConstraints(name, g);
                }
            }

            Attributes(name, method.GetCustomAttributesData());
            var body = method.GetMethodBody();
            if (body is null)
            {
                return;
            }

            MethodBodies++;
            foreach (var local in body.LocalVariables)
            {
                Add(name, local.LocalType);
            }

            Il(name, method, body.GetILAsByteArray() ?? []);
        }

        // Walks the instructions; resolves every method, field, type and ldtoken operand in the method's generic context.
        private void Il(string name, MethodBase method, byte[] il)
        {
            var module = method.Module;
            Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
            Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
            int at = 0;
            while (at < il.Length)
            {
                short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
                at += il[at] == 0xFE ? 2 : 1;
                var op = OpCodesByValue[value];
                switch (op.OperandType)
                {
                    case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                        int token = BitConverter.ToInt32(il, at);
                        try
                        {
                            switch (module.ResolveMember(token, typeArguments, methodArguments))
                            {
                                case Type t:
                                    Add(name, t);
                                    break;
                                case FieldInfo f:
                                    Add(name, f.DeclaringType);
                                    Add(name, f.FieldType);
                                    break;
                                case MethodBase m:
                                    Add(name, m.DeclaringType);
                                    if (m is MethodInfo mi)
                                    {
                                        Add(name, mi.ReturnType);
                                        foreach (var a in mi.IsGenericMethod ? mi.GetGenericArguments() : [])
                                        {
                                            Add(name, a);
                                        }
                                    }

                                    foreach (var p in m.GetParameters())
                                    {
                                        Add(name, p.ParameterType);
                                    }

                                    break;
                            }

                            Tokens++;
                        }
                        catch (ArgumentException e)
                        {
                            Unresolved.Add($"{name}: token 0x{token:X8}: {e.Message}");
                        }

                        at += 4;
                        break;
                    case OperandType.InlineSwitch:
                        at += 4 + (4 * BitConverter.ToInt32(il, at));
                        break;
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        at += 1;
                        break;
                    case OperandType.InlineVar:
                        at += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        at += 8;
                        break;
                    default: // InlineBrTarget, InlineI, InlineSig (a calli's signature), InlineString, ShortInlineR
                        at += 4;
                        break;
                }
            }
        }

        private void Attributes(string name, IEnumerable<CustomAttributeData> attributes)
        {
            foreach (var attribute in attributes)
            {
                Add(name, attribute.AttributeType);
            }
        }

        private void AddConstraints(string name, Type parameter)
        {
            foreach (var c in parameter.GetGenericParameterConstraints())
            {
                Add(name, c);
            }
        }

        private void Add(string from, Type? type)
        {
            if (type is null || type.IsGenericParameter)
            {
                return;
            }

            if (type.HasElementType)
            {
                Add(from, type.GetElementType());
                return;
            }

            if (type.IsFunctionPointer)
            {
                Add(from, type.GetFunctionPointerReturnType());
                foreach (var p in type.GetFunctionPointerParameterTypes())
                {
                    Add(from, p);
                }

                return;
            }

            if (type.IsGenericType && !type.IsGenericTypeDefinition)
            {
                foreach (var a in type.GetGenericArguments())
                {
                    Add(from, a);
                }

                type = type.GetGenericTypeDefinition();
            }

            References.Add((from, type));
        }
    }
}
