using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecurrentNets.Data;

/// <summary>What a token of a <see cref="Vocabulary"/> is.</summary>
public enum VocabularyKind
{
    /// <summary>One Unicode character (a <see cref="Rune"/>: a surrogate pair is one token).</summary>
    Characters,

    /// <summary>A word or a punctuation mark (see <see cref="Vocabulary.FromWords"/>).</summary>
    Words,
}

/// <summary>
/// A token ↔ index table for text models: characters (char-rnn) or words, with optional padding and unknown tokens,
/// stored as JSON beside a model's weights.
/// </summary>
/// <remarks>
/// <para>Words: the text is split on whitespace, then punctuation and symbols (<see cref="char.IsPunctuation(char)"/>,
/// <see cref="char.IsSymbol(char)"/>) at the start or end of a piece become tokens of their own, one per character:
/// "(Hello, world!)" is "(", "Hello", ",", "world", "!", ")". Punctuation inside a piece stays ("don't", "e.g",
/// "well-known"). Case is kept.</para>
/// <para>Order: <see cref="PaddingToken"/> first when requested (index 0), then <see cref="UnknownToken"/> when requested,
/// then characters in ordinal order, or words by falling frequency (ties: first appearance), like torchtext's and
/// Keras's word vocabularies. PyTorch/torchtext: <c>torchtext.vocab.build_vocab_from_iterator</c> with
/// <c>specials</c> and <c>set_default_index</c>.</para>
/// </remarks>
public sealed class Vocabulary
{
    /// <summary>The padding token's text, "&lt;pad&gt;".</summary>
    public const string PaddingToken = "<pad>";

    /// <summary>The unknown token's text, "&lt;unk&gt;".</summary>
    public const string UnknownToken = "<unk>";

    private readonly string[] tokens;
    private readonly Dictionary<string, int> indices;

    private Vocabulary(VocabularyKind kind, string[] tokens, int? paddingIndex, int? unknownIndex)
    {
        Kind = kind;
        this.tokens = tokens;
        PaddingIndex = paddingIndex;
        UnknownIndex = unknownIndex;
        indices = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++)
        {
            indices.Add(tokens[i], i);
        }
    }

    /// <summary>Characters or words.</summary>
    public VocabularyKind Kind { get; }

    /// <summary>The number of tokens, special tokens included (the embedding's or the output layer's size).</summary>
    public int Count => tokens.Length;

    /// <summary>The index of <see cref="PaddingToken"/> (0), or null when the vocabulary has none.</summary>
    public int? PaddingIndex { get; }

    /// <summary>The index of <see cref="UnknownToken"/>, or null when the vocabulary has none (then <see cref="Encode"/> throws on a miss).</summary>
    public int? UnknownIndex { get; }

    /// <summary>The token at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, Count).</exception>
    public string this[int index]
    {
        get
        {
            if ((uint)index >= (uint)tokens.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {tokens.Length}) (the vocabulary's tokens).");
            }

            return tokens[index];
        }
    }

    /// <summary>Builds a character vocabulary of <paramref name="text"/>.</summary>
    /// <param name="text">The corpus, with at least one character.</param>
    /// <param name="minCount">Characters seen fewer times are left out (they encode as unknown), at least 1.</param>
    /// <param name="maxSize">The most tokens, special tokens included; the most frequent characters are kept. Null: no limit.</param>
    /// <param name="addPadding">Add <see cref="PaddingToken"/> at index 0.</param>
    /// <param name="addUnknown">Add <see cref="UnknownToken"/>, the index of every character not in the vocabulary.</param>
    /// <exception cref="ArgumentException"><paramref name="text"/> is empty or no character is kept.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> or <paramref name="maxSize"/> is out of range.</exception>
    public static Vocabulary FromCharacters(string text, int minCount = 1, int? maxSize = null, bool addPadding = false, bool addUnknown = false) =>
        Build(text, VocabularyKind.Characters, minCount, maxSize, addPadding, addUnknown);

    /// <summary>Builds a word vocabulary of <paramref name="text"/> (words split as the class remarks say).</summary>
    /// <param name="text">The corpus, with at least one word.</param>
    /// <param name="minCount">Words seen fewer times are left out (they encode as unknown), at least 1.</param>
    /// <param name="maxSize">The most tokens, special tokens included; the most frequent words are kept. Null: no limit.</param>
    /// <param name="addPadding">Add <see cref="PaddingToken"/> at index 0.</param>
    /// <param name="addUnknown">Add <see cref="UnknownToken"/>, the index of every word not in the vocabulary.</param>
    /// <exception cref="ArgumentException"><paramref name="text"/> has no words or no word is kept.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> or <paramref name="maxSize"/> is out of range.</exception>
    public static Vocabulary FromWords(string text, int minCount = 1, int? maxSize = null, bool addPadding = false, bool addUnknown = false) =>
        Build(text, VocabularyKind.Words, minCount, maxSize, addPadding, addUnknown);

    /// <summary>Builds a vocabulary of a UTF-8 text file (<see cref="FromCharacters"/> or <see cref="FromWords"/>).</summary>
    /// <param name="path">The file.</param>
    /// <param name="kind">Characters or words.</param>
    /// <param name="minCount">Tokens seen fewer times are left out, at least 1.</param>
    /// <param name="maxSize">The most tokens, special tokens included. Null: no limit.</param>
    /// <param name="addPadding">Add <see cref="PaddingToken"/> at index 0.</param>
    /// <param name="addUnknown">Add <see cref="UnknownToken"/>.</param>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="ArgumentException">The file has no tokens.</exception>
    public static Vocabulary FromFile(string path, VocabularyKind kind, int minCount = 1, int? maxSize = null, bool addPadding = false, bool addUnknown = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Build(File.ReadAllText(path, Encoding.UTF8), kind, minCount, maxSize, addPadding, addUnknown);
    }

    /// <summary>The index of <paramref name="token"/>, or -1 when it is not in the vocabulary (no unknown mapping).</summary>
    public int IndexOf(string token) => TryGetIndex(token, out int index) ? index : -1;

    /// <summary>Looks <paramref name="token"/> up exactly (no unknown mapping).</summary>
    /// <returns>Whether the token is in the vocabulary.</returns>
    public bool TryGetIndex(string token, out int index)
    {
        ArgumentNullException.ThrowIfNull(token);
        return indices.TryGetValue(token, out index);
    }

    /// <summary>The indices of the tokens of <paramref name="text"/>, split as the vocabulary was built.</summary>
    /// <param name="text">The text.</param>
    /// <returns>[tokens in the text]; a token not in the vocabulary becomes <see cref="UnknownIndex"/>.</returns>
    /// <exception cref="ArgumentException">A token is not in the vocabulary and there is no unknown token; the message names it and its position.</exception>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = Split(text, Kind);
        int[] encoded = new int[pieces.Count];
        for (int i = 0; i < pieces.Count; i++)
        {
            var (token, position) = pieces[i];
            if (indices.TryGetValue(token, out int index))
            {
                encoded[i] = index;
            }
            else if (UnknownIndex is int unknown)
            {
                encoded[i] = unknown;
            }
            else
            {
                string where = Kind == VocabularyKind.Words ? $"word {i} (at character {position})" : $"character {position}";
                throw new ArgumentException($"'{token}' at {where} is not in the vocabulary, which has no unknown token ({UnknownToken}).", nameof(text));
            }
        }

        return encoded;
    }

    /// <summary>The text of <paramref name="indices"/>: characters concatenated, or words joined by single spaces.</summary>
    /// <remarks>Padding tokens are left out; an unknown token reads "&lt;unk&gt;". Word text does not restore the original
    /// spacing: "Hello, world!" decodes as "Hello , world !".</remarks>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, Count); the message gives its position.</exception>
    public string Decode(ReadOnlySpan<int> indices)
    {
        var text = new StringBuilder();
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)tokens.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), index, $"index {index} at position {i} is outside [0, {tokens.Length}) (the vocabulary's tokens).");
            }

            if (index == PaddingIndex)
            {
                continue;
            }

            if (Kind == VocabularyKind.Words && text.Length > 0)
            {
                text.Append(' ');
            }

            text.Append(tokens[index]);
        }

        return text.ToString();
    }

    /// <summary>The vocabulary as JSON: <c>{"kind": "characters"|"words", "tokens": [...], "paddingIndex": 0|null, "unknownIndex": n|null}</c>.</summary>
    public string ToJson()
    {
        var tokenArray = new JsonArray();
        foreach (string token in tokens)
        {
            tokenArray.Add((JsonNode)JsonValue.Create(token));
        }

        var json = new JsonObject
        {
            ["kind"] = Kind == VocabularyKind.Words ? "words" : "characters",
            ["tokens"] = tokenArray,
            ["paddingIndex"] = PaddingIndex,
            ["unknownIndex"] = UnknownIndex,
        };
        return json.ToJsonString();
    }

    /// <summary>Reads a vocabulary written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The JSON is malformed or does not describe a vocabulary; the message says why.</exception>
    public static Vocabulary FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Vocabulary JSON is malformed: {e.Message}", e);
        }

        if (root is not JsonObject obj)
        {
            throw Corrupt("it is not a JSON object");
        }

        VocabularyKind kind = (obj["kind"] is JsonValue k && k.TryGetValue(out string? kindName) ? kindName : null) switch
        {
            "characters" => VocabularyKind.Characters,
            "words" => VocabularyKind.Words,
            _ => throw Corrupt("'kind' must be \"characters\" or \"words\""),
        };
        if (obj["tokens"] is not JsonArray array || array.Count == 0)
        {
            throw Corrupt("'tokens' must be a non-empty array of strings");
        }

        string[] tokens = new string[array.Count];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++)
        {
            if (array[i] is not JsonValue v || !v.TryGetValue(out string? token))
            {
                throw Corrupt($"token {i} is not a string");
            }

            if (!seen.TryAdd(token, i))
            {
                throw Corrupt($"token {i} ('{token}') repeats token {seen[token]}");
            }

            tokens[i] = token;
        }

        int? padding = SpecialIndex(obj, "paddingIndex", PaddingToken, tokens);
        int? unknown = SpecialIndex(obj, "unknownIndex", UnknownToken, tokens);
        if (kind == VocabularyKind.Characters)
        {
            for (int i = 0; i < tokens.Length; i++)
            {
                if (i != padding && i != unknown && (!Rune.TryGetRuneAt(tokens[i], 0, out Rune rune) || rune.Utf16SequenceLength != tokens[i].Length))
                {
                    throw Corrupt($"token {i} ('{tokens[i]}') of a character vocabulary is not one character");
                }
            }
        }

        return new Vocabulary(kind, tokens, padding, unknown);
    }

    private static int? SpecialIndex(JsonObject obj, string name, string expected, string[] tokens)
    {
        JsonNode? node = obj[name];
        if (node is null)
        {
            return null;
        }

        if (node is not JsonValue v || !v.TryGetValue(out int index) || (uint)index >= (uint)tokens.Length || tokens[index] != expected)
        {
            throw Corrupt($"'{name}' must be null or the index of '{expected}' among the {tokens.Length} tokens");
        }

        return index;
    }

    private static InvalidDataException Corrupt(string reason) => new($"Vocabulary JSON is invalid: {reason}.");

    private static Vocabulary Build(string text, VocabularyKind kind, int minCount, int? maxSize, bool addPadding, bool addUnknown)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        var specials = new List<string>();
        if (addPadding)
        {
            specials.Add(PaddingToken);
        }

        if (addUnknown)
        {
            specials.Add(UnknownToken);
        }

        if (maxSize is int max)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, specials.Count + 1, nameof(maxSize));
        }

        // Counts in order of first appearance; a special token in the text is the special token.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstSeen = new List<string>();
        foreach (var (token, _) in Split(text, kind))
        {
            if (specials.Contains(token))
            {
                continue;
            }

            if (counts.TryAdd(token, 1))
            {
                firstSeen.Add(token);
            }
            else
            {
                counts[token]++;
            }
        }

        // Stable sort by falling count keeps first appearance among ties.
        var kept = firstSeen.Where(t => counts[t] >= minCount).OrderByDescending(t => counts[t]).ToList();
        if (maxSize is int limit && kept.Count > limit - specials.Count)
        {
            kept.RemoveRange(limit - specials.Count, kept.Count - (limit - specials.Count));
        }

        if (kept.Count == 0)
        {
            throw new ArgumentException($"text has no {(kind == VocabularyKind.Words ? "word" : "character")} seen at least {minCount} times (minCount).", nameof(text));
        }

        if (kind == VocabularyKind.Characters)
        {
            kept.Sort(StringComparer.Ordinal);
        }

        return new Vocabulary(kind, [.. specials, .. kept], addPadding ? 0 : null, addUnknown ? specials.Count - 1 : null);
    }

    /// <summary>The tokens of <paramref name="text"/> with the character position where each starts.</summary>
    private static List<(string Token, int Position)> Split(string text, VocabularyKind kind)
    {
        var pieces = new List<(string, int)>();
        if (kind == VocabularyKind.Characters)
        {
            int position = 0;
            foreach (Rune rune in text.EnumerateRunes())
            {
                pieces.Add((rune.ToString(), position));
                position += rune.Utf16SequenceLength;
            }

            return pieces;
        }

        static bool IsMark(char c) => char.IsPunctuation(c) || char.IsSymbol(c);
        int i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                i++;
                continue;
            }

            int start = i, end = i;
            while (end < text.Length && !char.IsWhiteSpace(text[end]))
            {
                end++;
            }

            int wordStart = start, wordEnd = end;
            while (wordStart < wordEnd && IsMark(text[wordStart]))
            {
                wordStart++;
            }

            while (wordEnd > wordStart && IsMark(text[wordEnd - 1]))
            {
                wordEnd--;
            }

            for (int p = start; p < wordStart; p++)
            {
                pieces.Add((text[p].ToString(), p));
            }

            if (wordEnd > wordStart)
            {
                pieces.Add((text[wordStart..wordEnd], wordStart));
            }

            for (int p = wordEnd; p < end; p++)
            {
                pieces.Add((text[p].ToString(), p));
            }

            i = end;
        }

        return pieces;
    }
}
