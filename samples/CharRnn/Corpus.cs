namespace CharRnn;

/// <summary>The text the sample trains on when no file is given, and its character vocabulary.</summary>
internal static class Corpus
{
    /// <summary>
    /// Short sentences in the spirit of the course's "eat food" example: after "eat " the next word is usually
    /// food, fruit or fish (so 'f' is the best guess), after "drink " usually water.
    /// </summary>
    public static readonly string BuiltIn = string.Join('\n',
        "eat food.",
        "drink water.",
        "eat bread.",
        "drink milk.",
        "eat fruit.",
        "drink water.",
        "we eat food.",
        "we drink water.",
        "cats eat fish.",
        "cats drink milk.",
        "birds eat seeds.",
        "birds drink water.",
        "eat food.",
        "drink tea.",
        "eat fish.",
        "drink water.",
        "you eat fruit.",
        "you drink juice.",
        "dogs eat food.",
        "dogs drink water.",
        "eat food.",
        "drink water.",
        "eat rice.",
        "drink milk.",
        "i eat bread.",
        "i drink tea.",
        "we eat fruit.",
        "we drink water.",
        "eat food.",
        "drink water.",
        "eat fish.",
        "drink juice.",
        "cows eat grass.",
        "cows drink water.",
        "eat soup.",
        "drink water.",
        "you eat food.",
        "you drink milk.",
        "eat fruit.",
        "drink water.",
        "i eat food.",
        "i drink water.",
        "birds eat fruit.",
        "cats drink water.",
        "eat food.",
        "drink tea.",
        "dogs eat bread.",
        "we drink milk.",
        "eat fish.",
        "drink water.",
        "eat food.",
        "drink water.") + "\n";

    /// <summary>The entropy of the character frequencies of <paramref name="text"/> in bits per character: the loss of
    /// the best model that ignores context, which a recurrent model should beat.</summary>
    public static double UnigramEntropyBits(ReadOnlySpan<int> text, int vocabularySize)
    {
        var counts = new int[vocabularySize];
        foreach (int c in text)
        {
            counts[c]++;
        }

        double entropy = 0;
        foreach (int count in counts)
        {
            if (count > 0)
            {
                double p = (double)count / text.Length;
                entropy -= p * Math.Log2(p);
            }
        }

        return entropy;
    }
}

/// <summary>The characters of a text, sorted by code point, and the index of each (the one-hot position).</summary>
internal sealed class Vocabulary
{
    private readonly char[] characters;
    private readonly Dictionary<char, int> indices;

    public Vocabulary(string text)
    {
        characters = text.Distinct().Order().ToArray();
        indices = new Dictionary<char, int>(characters.Length);
        for (int i = 0; i < characters.Length; i++)
        {
            indices.Add(characters[i], i);
        }
    }

    /// <summary>Every character, in index order (what a checkpoint stores).</summary>
    public string Characters => new(characters);

    /// <summary>V, the one-hot width.</summary>
    public int Size => characters.Length;

    public char this[int index] => characters[index];

    public bool Contains(char c) => indices.ContainsKey(c);

    public bool TryIndex(char c, out int index) => indices.TryGetValue(c, out index);

    /// <summary>The index of every character of <paramref name="text"/>, which must all be in the vocabulary.</summary>
    public int[] Encode(string text)
    {
        var encoded = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            encoded[i] = indices.TryGetValue(text[i], out int index)
                ? index
                : throw new ArgumentException($"'{text[i]}' is not in the vocabulary.", nameof(text));
        }

        return encoded;
    }

    /// <summary>A character as it reads in a table: '\n' as "\n", space as "' '".</summary>
    public static string Display(char c) => c switch
    {
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        ' ' => "' '",
        _ => c.ToString(),
    };
}
