using RecurrentNets.Init;

namespace RecurrentNets.Data;

/// <summary>
/// A toy translation task for sequence-to-sequence models: English number words to digits, "three hundred forty two
/// thousand five" → "342005", for the numbers 0 to 10^maxDigits - 1, with a held-out split that shares no number with
/// the training split.
/// </summary>
/// <remarks>
/// <para>Source: one token per word (<see cref="Words"/>: zero, one … nineteen, twenty … ninety, hundred, thousand; 30
/// tokens), without "and" or hyphens: 42 is "forty two", 1,005 is "one thousand five", 0 is "zero". Target: one token per
/// digit (token d is digit d), with no leading zeros; <see cref="BeginToken"/> = 10 and <see cref="EndToken"/> = 11 make
/// a target vocabulary of 12. Translating needs more than a word-by-word lookup: "five thousand twelve" is "5012", so the
/// decoder must count the places the words leave out.</para>
/// <para>Split: every number below 100 is a training number (their words are the vocabulary); of the others, a number is
/// held out when a seeded hash of it is divisible by <see cref="HeldOutEvery"/> (10 by default, so about 10% are held
/// out). <see cref="Fill(SeededRandom, bool, TokenBatch, TokenBatch, Span{int})"/> draws the number of digits uniformly from 1 to maxDigits (3 to maxDigits for held-out
/// numbers), then the number uniformly among those with that many digits in the requested split, so short numbers are
/// as common as long ones. The same seed gives the same numbers; nothing is allocated.</para>
/// </remarks>
public sealed class NumberWords
{
    /// <summary>The source vocabulary, in token order.</summary>
    public static readonly IReadOnlyList<string> Words =
    [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand",
    ];

    /// <summary>The number of source tokens (30).</summary>
    public const int SourceVocabularySize = 30;

    /// <summary>The number of target tokens: ten digits, &lt;bos&gt; and &lt;eos&gt; (12).</summary>
    public const int TargetVocabularySize = 12;

    /// <summary>&lt;bos&gt; in the target vocabulary.</summary>
    public const int BeginToken = 10;

    /// <summary>&lt;eos&gt; in the target vocabulary.</summary>
    public const int EndToken = 11;

    private const int Hundred = 28, Thousand = 29, Twenty = 20;

    /// <summary>Defines the task.</summary>
    /// <param name="maxDigits">The longest number, in digits, from 1 to 6 (numbers up to 999,999).</param>
    /// <param name="heldOutEvery">One in this many numbers of 100 or more is held out (at least 2).</param>
    /// <param name="splitSeed">The seed of the split's hash.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range.</exception>
    public NumberWords(int maxDigits = 6, int heldOutEvery = 10, ulong splitSeed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDigits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDigits, 6);
        ArgumentOutOfRangeException.ThrowIfLessThan(heldOutEvery, 2);
        MaxDigits = maxDigits;
        HeldOutEvery = heldOutEvery;
        SplitSeed = splitSeed;
        MaxNumber = (int)Math.Pow(10, maxDigits) - 1;
        MaxSourceLength = maxDigits switch { 1 => 1, 2 => 2, 3 => 4, 4 => 6, 5 => 7, _ => 9 };
    }

    /// <summary>The longest number, in digits.</summary>
    public int MaxDigits { get; }

    /// <summary>The largest number, 10^maxDigits - 1.</summary>
    public int MaxNumber { get; }

    /// <summary>One in this many numbers of 100 or more is held out.</summary>
    public int HeldOutEvery { get; }

    /// <summary>The seed of the split.</summary>
    public ulong SplitSeed { get; }

    /// <summary>The most words a number of the task needs (9 for six digits: "seven hundred seventy seven thousand seven
    /// hundred seventy seven").</summary>
    public int MaxSourceLength { get; }

    /// <summary>The most digits of a target.</summary>
    public int MaxTargetLength => MaxDigits;

    /// <summary>Whether <paramref name="number"/> belongs to the held-out split.</summary>
    /// <param name="number">In [0, <see cref="MaxNumber"/>].</param>
    /// <exception cref="ArgumentOutOfRangeException">The number is outside [0, <see cref="MaxNumber"/>].</exception>
    public bool IsHeldOut(int number)
    {
        if ((uint)number > (uint)MaxNumber)
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, $"number must be in [0, {MaxNumber}].");
        }

        return number >= 100 && Mix((ulong)number ^ (SplitSeed * 0x9E3779B97F4A7C15UL)) % (ulong)HeldOutEvery == 0;
    }

    /// <summary>Draws a number of the chosen split: digits uniform in [1, maxDigits] ([3, maxDigits] held out), then a
    /// number with that many digits, by rejection.</summary>
    /// <param name="random">The source of the draw.</param>
    /// <param name="heldOut">Draw from the held-out split rather than the training split.</param>
    /// <exception cref="InvalidOperationException">A held-out number is asked for but maxDigits is below 3.</exception>
    public int SampleNumber(SeededRandom random, bool heldOut)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (heldOut && MaxDigits < 3)
        {
            throw new InvalidOperationException($"Held-out numbers have at least 3 digits but maxDigits is {MaxDigits}.");
        }

        int low = heldOut ? 3 : 1;
        int digits = low + random.NextInt(MaxDigits - low + 1);
        int first = digits == 1 ? 0 : (int)Math.Pow(10, digits - 1), end = (int)Math.Pow(10, digits);
        while (true)
        {
            int number = first + random.NextInt(end - first);
            if (IsHeldOut(number) == heldOut)
            {
                return number;
            }
        }
    }

    /// <summary>Every held-out number in increasing order (about a tenth of the numbers from 100 to <see cref="MaxNumber"/>).</summary>
    public IEnumerable<int> HeldOutNumbers()
    {
        for (int n = 100; n <= MaxNumber; n++)
        {
            if (IsHeldOut(n))
            {
                yield return n;
            }
        }
    }

    /// <summary>Fills a batch with random numbers of one split: their words as the source, their digits as the target.</summary>
    /// <param name="random">The source of the numbers.</param>
    /// <param name="heldOut">Draw from the held-out split rather than the training split.</param>
    /// <param name="source">Receives the words; capacity at least <see cref="MaxSourceLength"/>.</param>
    /// <param name="target">Receives the digits; capacity at least <see cref="MaxTargetLength"/>, the same batch size.</param>
    /// <param name="numbers">Receives the numbers, [batchSize], when not empty.</param>
    /// <exception cref="ArgumentException">A capacity is too small or the batch sizes differ.</exception>
    public void Fill(SeededRandom random, bool heldOut, TokenBatch source, TokenBatch target, Span<int> numbers = default)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckBatches(source, target, numbers);
        for (int b = 0; b < source.BatchSize; b++)
        {
            int number = SampleNumber(random, heldOut);
            Write(number, b, source, target);
            if (!numbers.IsEmpty)
            {
                numbers[b] = number;
            }
        }
    }

    /// <summary>Writes the given numbers as sequence b = 0, 1, … of a batch.</summary>
    /// <param name="numbers">[batchSize], each in [0, <see cref="MaxNumber"/>].</param>
    /// <param name="source">Receives the words; capacity at least <see cref="MaxSourceLength"/>.</param>
    /// <param name="target">Receives the digits; capacity at least <see cref="MaxTargetLength"/>.</param>
    /// <exception cref="ArgumentException">A capacity is too small, the batch sizes differ from the count of numbers, or a
    /// number is out of range.</exception>
    public void Fill(ReadOnlySpan<int> numbers, TokenBatch source, TokenBatch target)
    {
        CheckBatches(source, target, default);
        if (numbers.Length != source.BatchSize)
        {
            throw new ArgumentException($"numbers has {numbers.Length} entries but the batches hold {source.BatchSize} sequences.", nameof(numbers));
        }

        for (int b = 0; b < numbers.Length; b++)
        {
            if ((uint)numbers[b] > (uint)MaxNumber)
            {
                throw new ArgumentException($"numbers[{b}] is {numbers[b]}, outside [0, {MaxNumber}].", nameof(numbers));
            }

            Write(numbers[b], b, source, target);
        }
    }

    /// <summary>Writes the word tokens of <paramref name="number"/> and returns how many there are.</summary>
    /// <param name="number">In [0, 999,999].</param>
    /// <param name="tokens">At least 9 long.</param>
    /// <exception cref="ArgumentOutOfRangeException">The number is outside [0, 999,999].</exception>
    public static int ToWords(int number, Span<int> tokens)
    {
        if ((uint)number > 999_999)
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, "number must be in [0, 999999].");
        }

        if (number == 0)
        {
            tokens[0] = 0;
            return 1;
        }

        int count = 0;
        if (number >= 1000)
        {
            count = BelowThousand(number / 1000, tokens);
            tokens[count++] = Thousand;
        }

        return count + BelowThousand(number % 1000, tokens[count..]);
    }

    /// <summary>Writes the digit tokens of <paramref name="number"/> (no leading zeros) and returns how many there are.</summary>
    /// <param name="number">Non-negative.</param>
    /// <param name="tokens">At least as long as the number has digits (10 for any int).</param>
    /// <exception cref="ArgumentOutOfRangeException">The number is negative.</exception>
    public static int ToDigits(int number, Span<int> tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        int count = 1;
        for (int rest = number / 10; rest > 0; rest /= 10)
        {
            count++;
        }

        for (int i = count - 1; i >= 0; i--)
        {
            tokens[i] = number % 10;
            number /= 10;
        }

        return count;
    }

    /// <summary>The words of a source sequence joined by spaces.</summary>
    /// <param name="tokens">Source tokens; one outside the vocabulary shows as &lt;n&gt;.</param>
    public static string FormatSource(ReadOnlySpan<int> tokens)
    {
        var parts = new string[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            parts[i] = (uint)tokens[i] < SourceVocabularySize ? Words[tokens[i]] : $"<{tokens[i]}>";
        }

        return string.Join(' ', parts);
    }

    /// <summary>The digits of a target sequence (&lt;bos&gt; and &lt;eos&gt; shown as such).</summary>
    /// <param name="tokens">Target tokens.</param>
    public static string FormatTarget(ReadOnlySpan<int> tokens)
    {
        var text = new System.Text.StringBuilder(tokens.Length);
        foreach (int token in tokens)
        {
            text.Append(token switch { >= 0 and <= 9 => (char)('0' + token), BeginToken => "<bos>", EndToken => "<eos>", _ => $"<{token}>" });
        }

        return text.ToString();
    }

    private void Write(int number, int b, TokenBatch source, TokenBatch target)
    {
        Span<int> scratch = stackalloc int[9];
        source.Set(b, scratch[..ToWords(number, scratch)]);
        target.Set(b, scratch[..ToDigits(number, scratch)]);
    }

    private void CheckBatches(TokenBatch source, TokenBatch target, Span<int> numbers)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.Capacity < MaxSourceLength)
        {
            throw new ArgumentException($"source holds {source.Capacity} tokens per sequence but numbers of {MaxDigits} digits need {MaxSourceLength} words.", nameof(source));
        }

        if (target.Capacity < MaxTargetLength)
        {
            throw new ArgumentException($"target holds {target.Capacity} tokens per sequence but numbers of {MaxDigits} digits need {MaxTargetLength}.", nameof(target));
        }

        if (target.BatchSize != source.BatchSize)
        {
            throw new ArgumentException($"target has {target.BatchSize} sequences but source has {source.BatchSize}.", nameof(target));
        }

        if (!numbers.IsEmpty && numbers.Length != source.BatchSize)
        {
            throw new ArgumentException($"numbers has {numbers.Length} entries but the batches hold {source.BatchSize} sequences.", nameof(numbers));
        }
    }

    // 1 to 999 (0 writes nothing): [units] hundred [tens] [units], or [ten .. nineteen].
    private static int BelowThousand(int number, Span<int> tokens)
    {
        int count = 0;
        if (number >= 100)
        {
            tokens[count++] = number / 100;
            tokens[count++] = Hundred;
            number %= 100;
        }

        if (number >= 20)
        {
            tokens[count++] = Twenty + number / 10 - 2;
            number %= 10;
        }

        if (number > 0)
        {
            tokens[count++] = number;
        }

        return count;
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
