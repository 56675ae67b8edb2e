using RecurrentNets.Init;

namespace RecurrentNets.Data;

/// <summary>The seeded shuffles of the data sets: the same seed and epoch give the same order, whatever came before.</summary>
internal static class Shuffling
{
    /// <summary>Fisher-Yates.</summary>
    public static void Shuffle(Span<int> values, SeededRandom random)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>SplitMix64's finaliser over (seed, epoch): the epochs of one seed get unrelated streams.</summary>
    public static ulong EpochSeed(ulong seed, int epoch)
    {
        ulong z = seed ^ ((ulong)epoch * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// A seeded split of items 0..count-1 into two parts of firstFraction·count (rounded) and the rest, each in ascending
    /// order (the items keep their original order).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A part would be empty; the message says what
    /// <paramref name="firstFraction"/> gives.</exception>
    public static (int[] First, int[] Second) Split(int count, double firstFraction, ulong seed, string items)
    {
        int firstCount = double.IsFinite(firstFraction) ? (int)Math.Round(firstFraction * count) : -1;
        if (firstCount < 1 || firstCount > count - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(firstFraction), firstFraction,
                $"firstFraction must leave at least one of the {count} {items} in each part (it gives {firstCount} and {count - firstCount}).");
        }

        int[] shuffled = new int[count];
        for (int i = 0; i < count; i++)
        {
            shuffled[i] = i;
        }

        Shuffle(shuffled, new SeededRandom(seed));
        int[] first = shuffled[..firstCount], second = shuffled[firstCount..];
        Array.Sort(first);
        Array.Sort(second);
        return (first, second);
    }
}
