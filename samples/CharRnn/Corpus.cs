namespace CharRnn;

/// <summary>The text the sample trains on when no file is given, the held-out split and the unigram baseline.</summary>
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

    /// <summary>
    /// Splits off held-out text: for a file, its last <paramref name="fraction"/> (from a line start when one is near);
    /// for the built-in corpus, every (1/fraction)-th sentence, so that whole sentences are held out.
    /// </summary>
    public static (string Train, string HeldOut, string Note) Split(string text, bool builtIn, double fraction)
    {
        if (fraction <= 0)
        {
            return (text, "", "none (--holdout 0)");
        }

        if (builtIn)
        {
            string[] lines = text.TrimEnd('\n').Split('\n');
            int every = Math.Max(2, (int)Math.Round(1 / fraction));
            var train = new System.Text.StringBuilder();
            var held = new System.Text.StringBuilder();
            int heldLines = 0;
            for (int i = 0; i < lines.Length; i++)
            {
                bool hold = i % every == every - 1;
                (hold ? held : train).Append(lines[i]).Append('\n');
                heldLines += hold ? 1 : 0;
            }

            return (train.ToString(), held.ToString(), $"every {every}th sentence ({heldLines} of {lines.Length})");
        }

        int cut = (int)Math.Round(text.Length * (1 - fraction));
        int lineStart = text.LastIndexOf('\n', Math.Max(0, cut - 1)) + 1;
        if (lineStart > 0 && cut - lineStart < 1000)
        {
            cut = lineStart;
        }

        return (text[..cut], text[cut..], $"the last {fraction:P0} of the file");
    }
}
