using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Data;

/// <summary>
/// The embedded Reber grammar, a next-symbol prediction task with a long-lag dependency: experiment 1 of Hochreiter and
/// Schmidhuber 1997, "Long Short-Term Memory", Neural Computation 9(8) (after Cleeremans, Servan-Schreiber and
/// McClelland 1989; Fahlman 1991).
/// </summary>
/// <remarks>
/// <para>Seven symbols, one-hot: B, T, P, S, X, V, E (indices 0 to 6, <see cref="Alphabet"/>). A Reber string is
/// B, then a walk through the Reber graph, then E: from the start T or P; after T, S (loop) or X; after that X, S (to the
/// end) or X; after P, T (loop) or V; after that V, P (back to the X branch) or V (to the end); then E. Every choice
/// has probability 1/2. An embedded string is B, T or P, a Reber string, the same T or P again, E: to predict the
/// second-to-last symbol the network must remember the second symbol across the whole inner string.</para>
/// <para>At every position but the last the task is to predict the next symbol. Because the walk is random, the next
/// symbol is not determined, but the SET of legal next symbols is (one or two symbols):
/// <see cref="ReberString.NextSymbols"/> holds it as a bit mask (bit s for symbol s). The paper's criterion: a string
/// is predicted when at every position the legal next symbols are the most active outputs (a trial succeeds when every
/// symbol of every training and test string is predicted, with 256 training and 256 test strings).</para>
/// <para>Training on the actual next symbol with a softmax cross-entropy is enough: its minimiser is the true next-symbol
/// distribution, 1/2 on each of two legal symbols (or 1 on a single one) and 0 on the others.</para>
/// </remarks>
public static class EmbeddedReberGrammar
{
    /// <summary>The number of symbols (7).</summary>
    public const int SymbolCount = 7;

    /// <summary>The symbols in index order: B, T, P, S, X, V, E.</summary>
    public const string Alphabet = "BTPSXVE";

    private const int B = 0, TSymbol = 1, P = 2, S = 3, X = 4, V = 5, E = 6;

    // The inner Reber graph: for node n, the two edges (symbol, next node); node 6 is the final node (then E).
    private static readonly (int Symbol, int Next)[][] Graph =
    [
        [(TSymbol, 1), (P, 2)], // 0: after B
        [(S, 1), (X, 3)],       // 1: the T branch, S loops
        [(TSymbol, 2), (V, 4)], // 2: the P branch, T loops
        [(X, 2), (S, 5)],       // 3: after the first X: X to the P branch's loop, S to the end
        [(P, 3), (V, 5)],       // 4: after the first V: P to node 3, V to the end
    ];

    /// <summary>Draws one embedded Reber string.</summary>
    /// <param name="random">The source of every choice.</param>
    /// <returns>The string, its symbols and the legal next symbols at each position.</returns>
    public static ReberString Generate(SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var symbols = new List<int>(32);
        var next = new List<byte>(32);

        // Outer B, then T or P.
        int branch = random.NextInt(2) == 0 ? TSymbol : P;
        Emit(B, Mask(TSymbol, P));
        Emit(branch, Mask(B));

        // Inner Reber string: B, walk, E.
        Emit(B, Mask(TSymbol, P));
        int node = 0;
        while (node != 5)
        {
            var edge = Graph[node][random.NextInt(2)];
            node = edge.Next;
            Emit(edge.Symbol, node == 5 ? Mask(E) : Mask(Graph[node][0].Symbol, Graph[node][1].Symbol));
        }

        Emit(E, Mask(branch));

        // The remembered branch symbol, then the outer E (nothing follows it).
        Emit(branch, Mask(E));
        Emit(E, 0);
        return new ReberString([.. symbols], [.. next]);

        void Emit(int symbol, byte legalNext)
        {
            symbols.Add(symbol);
            next.Add(legalNext);
        }
    }

    /// <summary>Draws <paramref name="count"/> embedded Reber strings.</summary>
    public static ReberString[] Generate(int count, SeededRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var strings = new ReberString[count];
        for (int i = 0; i < strings.Length; i++)
        {
            strings[i] = Generate(random);
        }

        return strings;
    }

    /// <summary>The symbols of an index string, e.g. "BTBPVVETE".</summary>
    public static string ToText(ReadOnlySpan<int> symbols)
    {
        return string.Create(symbols.Length, symbols.ToArray(), static (span, s) =>
        {
            for (int i = 0; i < s.Length; i++)
            {
                span[i] = Alphabet[s[i]];
            }
        });
    }

    /// <summary>
    /// Writes a batch of strings as a time-major one-hot input (every symbol but the last) and, per step, the actual
    /// next symbol as a class target; steps past a string's end are zero input and target -1 (ignored by
    /// <see cref="Losses.CrossEntropyLoss"/>; the network is causal, so padding at the end changes no earlier output).
    /// </summary>
    /// <param name="strings">B strings.</param>
    /// <param name="input">Receives the one-hot symbols, [timeSteps, B, 7] with timeSteps ≥ the longest string's length - 1.</param>
    /// <param name="targets">Receives the next symbol of each step, [timeSteps · B] (row t·B + b), -1 past the end.</param>
    /// <exception cref="ArgumentException">The shapes disagree or a string is too long.</exception>
    public static void WriteBatch<T>(ReadOnlySpan<ReberString> strings, Tensor<T> input, Span<int> targets)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(1) != strings.Length || input.Size(2) != SymbolCount)
        {
            throw new ArgumentException($"input has shape {Tensor<T>.FormatShape(input.Shape)} but [timeSteps, {strings.Length}, {SymbolCount}] is expected for {strings.Length} strings.", nameof(input));
        }

        int steps = input.Size(0), batch = strings.Length;
        if (targets.Length != steps * batch)
        {
            throw new ArgumentException($"targets has {targets.Length} elements but [timeSteps·batchSize] = {steps * batch} are needed.", nameof(targets));
        }

        input.Clear();
        targets.Fill(-1);
        Span<T> x = input.AsSpan();
        for (int b = 0; b < batch; b++)
        {
            int[] symbols = strings[b].Symbols;
            if (symbols.Length - 1 > steps)
            {
                throw new ArgumentException($"String {b} has {symbols.Length} symbols but input has only {steps} time steps (needs length - 1).", nameof(strings));
            }

            for (int t = 0; t < symbols.Length - 1; t++)
            {
                x[(t * batch + b) * SymbolCount + symbols[t]] = T.One;
                targets[t * batch + b] = symbols[t + 1];
            }
        }
    }

    private static byte Mask(int a) => (byte)(1 << a);

    private static byte Mask(int a, int b) => (byte)((1 << a) | (1 << b));
}

/// <summary>One embedded Reber string.</summary>
/// <param name="Symbols">The symbol indices (0 to 6, see <see cref="EmbeddedReberGrammar.Alphabet"/>), starting with B
/// and ending with E.</param>
/// <param name="NextSymbols">For each position, the bit mask of legal next symbols (bit s set when symbol s may follow);
/// 0 at the last position.</param>
public sealed record ReberString(int[] Symbols, byte[] NextSymbols)
{
    /// <summary>The number of symbols.</summary>
    public int Length => Symbols.Length;

    /// <summary>Whether symbol <paramref name="symbol"/> may follow position <paramref name="position"/>.</summary>
    public bool IsLegalNext(int position, int symbol) => (NextSymbols[position] >> symbol & 1) != 0;

    /// <summary>
    /// The paper's criterion at one position: every legal next symbol scores higher than every illegal one.
    /// </summary>
    /// <param name="position">A position before the last.</param>
    /// <param name="scores">The network's output for the 7 symbols (probabilities, logits or activations).</param>
    public bool PredictsNext<T>(int position, ReadOnlySpan<T> scores)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (scores.Length != EmbeddedReberGrammar.SymbolCount)
        {
            throw new ArgumentException($"scores has {scores.Length} elements but there are {EmbeddedReberGrammar.SymbolCount} symbols.", nameof(scores));
        }

        T lowestLegal = T.PositiveInfinity, highestIllegal = T.NegativeInfinity;
        for (int s = 0; s < scores.Length; s++)
        {
            if (IsLegalNext(position, s))
            {
                lowestLegal = T.Min(lowestLegal, scores[s]);
            }
            else
            {
                highestIllegal = T.Max(highestIllegal, scores[s]);
            }
        }

        return lowestLegal > highestIllegal;
    }

    /// <summary>The string as text, e.g. "BTBTSXSETE".</summary>
    public override string ToString() => EmbeddedReberGrammar.ToText(Symbols);
}
