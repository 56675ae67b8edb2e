using RecurrentNets.Data;
using RecurrentNets.Init;

namespace Seq2SeqSample;

/// <summary>A words-to-digits task: source words, target digits (NumberWords' target vocabulary, &lt;bos&gt;, &lt;eos&gt;).</summary>
internal interface ITranslationTask
{
    string Description { get; }

    int SourceVocabularySize { get; }

    int MaxSourceLength { get; }

    int MaxTargetLength { get; }

    void Fill(SeededRandom random, bool heldOut, TokenBatch source, TokenBatch target);

    string FormatSource(ReadOnlySpan<int> tokens);
}

/// <summary>The library's task: numbers up to 10^d - 1 (d ≤ 6) as words.</summary>
internal sealed class ShortTask(NumberWords task) : ITranslationTask
{
    public string Description => $"English words of 0 .. {task.MaxNumber:N0} -> digits (\"five thousand twelve\" -> \"5012\"); "
        + $"{NumberWords.SourceVocabularySize} words, {NumberWords.TargetVocabularySize} target tokens with <bos>, <eos>";

    public int SourceVocabularySize => NumberWords.SourceVocabularySize;

    public int MaxSourceLength => task.MaxSourceLength;

    public int MaxTargetLength => task.MaxTargetLength;

    public void Fill(SeededRandom random, bool heldOut, TokenBatch source, TokenBatch target) => task.Fill(random, heldOut, source, target);

    public string FormatSource(ReadOnlySpan<int> tokens) => NumberWords.FormatSource(tokens);
}

/// <summary>
/// The long-input variant: numbers up to 10^12 - 1 written in words with their digits grouped in threes by scale
/// words ("seven hundred one billion twenty million five thousand nine" -> "701020005009"): NumberWords' 30 words plus
/// "million" and "billion", up to 19 words in, 12 digits out. The decoder must copy each group's digits into the right
/// place and write the zeros of the groups the words leave out. Split as NumberWords: a number of 100 or more is held
/// out when a seeded SplitMix64 hash of it is divisible by 10; draws pick the digit count uniformly (1 to 12 for
/// training, 3 to 12 held out).
/// </summary>
internal sealed class LongTask(ulong splitSeed) : ITranslationTask
{
    public const int Million = 30, Billion = 31, Digits = 12;
    private const int Thousand = 29;
    private static readonly string[] ExtraWords = ["million", "billion"];
    private readonly int[] words = new int[24];
    private readonly int[] digits = new int[Digits];

    public string Description => "English words of 0 .. 999,999,999,999 -> digits (\"seven hundred one billion twenty million five thousand nine\" "
        + $"-> \"701020005009\"); {SourceVocabularySize} words, {NumberWords.TargetVocabularySize} target tokens with <bos>, <eos>";

    public int SourceVocabularySize => NumberWords.SourceVocabularySize + 2;

    public int MaxSourceLength => 19;

    public int MaxTargetLength => Digits;

    public bool IsHeldOut(long number) => number >= 100 && Mix((ulong)number ^ (splitSeed * 0x9E3779B97F4A7C15UL)) % 10 == 0;

    public long SampleNumber(SeededRandom random, bool heldOut)
    {
        int low = heldOut ? 3 : 1;
        int count = low + random.NextInt(Digits - low + 1);
        long first = count == 1 ? 0 : Pow10(count - 1), end = Pow10(count);
        while (true)
        {
            long number = first + (long)(random.NextUInt64() % (ulong)(end - first));
            if (IsHeldOut(number) == heldOut)
            {
                return number;
            }
        }
    }

    public void Fill(SeededRandom random, bool heldOut, TokenBatch source, TokenBatch target)
    {
        for (int b = 0; b < source.BatchSize; b++)
        {
            long number = SampleNumber(random, heldOut);
            source.Set(b, words.AsSpan(0, ToWords(number, words)));
            target.Set(b, digits.AsSpan(0, ToDigits(number, digits)));
        }
    }

    public static int ToWords(long number, Span<int> tokens)
    {
        if (number == 0)
        {
            tokens[0] = 0;
            return 1;
        }

        int count = 0;
        ReadOnlySpan<(long Scale, int Word)> scales = [(1_000_000_000, Billion), (1_000_000, Million), (1_000, Thousand), (1, -1)];
        foreach (var (scale, word) in scales)
        {
            int group = (int)(number / scale % 1000);
            if (group == 0)
            {
                continue;
            }

            count += NumberWords.ToWords(group, tokens[count..]);
            if (word >= 0)
            {
                tokens[count++] = word;
            }
        }

        return count;
    }

    public static int ToDigits(long number, Span<int> tokens)
    {
        int count = 1;
        for (long rest = number / 10; rest > 0; rest /= 10)
        {
            count++;
        }

        for (int i = count - 1; i >= 0; i--)
        {
            tokens[i] = (int)(number % 10);
            number /= 10;
        }

        return count;
    }

    public string FormatSource(ReadOnlySpan<int> tokens)
    {
        var parts = new string[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            int t = tokens[i];
            parts[i] = t >= NumberWords.SourceVocabularySize ? ExtraWords[t - NumberWords.SourceVocabularySize] : NumberWords.FormatSource([t]);
        }

        return string.Join(' ', parts);
    }

    private static long Pow10(int exponent)
    {
        long value = 1;
        for (int i = 0; i < exponent; i++)
        {
            value *= 10;
        }

        return value;
    }

    // SplitMix64's finaliser.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
