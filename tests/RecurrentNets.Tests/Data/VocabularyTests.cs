using RecurrentNets.Data;

namespace RecurrentNets.Tests.Data;

/// <summary>Vocabulary: building (order, minCount, maxSize, special tokens), encode/decode round trips, misses, JSON.</summary>
public class VocabularyTests
{
    [Fact]
    public void CharactersAreSortedAndRoundTrip()
    {
        var vocabulary = Vocabulary.FromCharacters("hello world");
        Assert.Equal(VocabularyKind.Characters, vocabulary.Kind);
        Assert.Equal(" dehlorw", string.Concat(Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i])));
        Assert.Equal((int?)null, vocabulary.PaddingIndex);
        int[] encoded = vocabulary.Encode("world hello");
        Assert.Equal(7, encoded[0]);
        Assert.Equal("world hello", vocabulary.Decode(encoded));
        Assert.Equal(3, vocabulary.IndexOf("h"));
        Assert.Equal(-1, vocabulary.IndexOf("z"));
        Assert.False(vocabulary.TryGetIndex("z", out _));
    }

    [Fact]
    public void SurrogatePairIsOneCharacter()
    {
        var vocabulary = Vocabulary.FromCharacters("a😀b");
        Assert.Equal(3, vocabulary.Count);
        Assert.Equal("b😀a", vocabulary.Decode(vocabulary.Encode("b😀a")));
    }

    [Fact]
    public void WordsSplitPunctuationAndSortByFrequency()
    {
        var vocabulary = Vocabulary.FromWords("the cat, the dog (and the cat's toy).", addPadding: true, addUnknown: true);
        Assert.Equal((0, 1), (vocabulary.PaddingIndex, vocabulary.UnknownIndex));
        Assert.Equal(["<pad>", "<unk>", "the", "cat", ",", "dog", "(", "and", "cat's", "toy", ")", "."],
            Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i]));
        int[] encoded = vocabulary.Encode("the bird, the cat");
        Assert.Equal([2, 1, 4, 2, 3], encoded);
        Assert.Equal("the <unk> , the cat", vocabulary.Decode(encoded));
        Assert.Equal("the cat", vocabulary.Decode([0, 2, 0, 3, 0]));   // padding is left out
    }

    [Fact]
    public void MinCountAndMaxSizeDropRareTokens()
    {
        const string text = "a a a b b c d d d d";
        var byCount = Vocabulary.FromWords(text, minCount: 2, addUnknown: true);
        Assert.Equal(["<unk>", "d", "a", "b"], Enumerable.Range(0, byCount.Count).Select(i => byCount[i]));
        Assert.Equal([3, 0], byCount.Encode("b c"));
        var bySize = Vocabulary.FromWords(text, maxSize: 3, addUnknown: true);
        Assert.Equal(["<unk>", "d", "a"], Enumerable.Range(0, bySize.Count).Select(i => bySize[i]));
        var chars = Vocabulary.FromCharacters("aaabbc", maxSize: 2);
        Assert.Equal(["a", "b"], Enumerable.Range(0, chars.Count).Select(i => chars[i]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Vocabulary.FromWords(text, maxSize: 1, addPadding: true, addUnknown: true));
        Assert.Throws<ArgumentException>(() => Vocabulary.FromWords(text, minCount: 5));
    }

    [Fact]
    public void MissWithoutUnknownNamesTokenAndPosition()
    {
        var words = Vocabulary.FromWords("one two three");
        var e = Assert.Throws<ArgumentException>(() => words.Encode("one two four three"));
        Assert.Contains("'four' at word 2 (at character 8)", e.Message, StringComparison.Ordinal);
        var chars = Vocabulary.FromCharacters("abc");
        e = Assert.Throws<ArgumentException>(() => chars.Encode("abxc"));
        Assert.Contains("'x' at character 2", e.Message, StringComparison.Ordinal);
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => chars.Decode([0, 9]));
        Assert.Contains("index 9 at position 1", outside.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFileReadsUtf8()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vocabulary-{Environment.ProcessId}.txt");
        try
        {
            File.WriteAllText(path, "größe größe klein");
            var vocabulary = Vocabulary.FromFile(path, VocabularyKind.Words);
            Assert.Equal(["größe", "klein"], Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i]));
            Assert.Equal(11, Vocabulary.FromFile(path, VocabularyKind.Characters, addPadding: true).Count);   // <pad>, g r ö ß e, space, k l i n
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(VocabularyKind.Characters, false, false)]
    [InlineData(VocabularyKind.Characters, true, true)]
    [InlineData(VocabularyKind.Words, true, false)]
    [InlineData(VocabularyKind.Words, false, true)]
    public void JsonRoundTrips(VocabularyKind kind, bool padding, bool unknown)
    {
        const string text = "Quoth the \"Raven\", nevermore! 😀 \\ tab\tend";
        var vocabulary = kind == VocabularyKind.Words
            ? Vocabulary.FromWords(text, addPadding: padding, addUnknown: unknown)
            : Vocabulary.FromCharacters(text, addPadding: padding, addUnknown: unknown);
        var copy = Vocabulary.FromJson(vocabulary.ToJson());
        Assert.Equal((vocabulary.Kind, vocabulary.Count, vocabulary.PaddingIndex, vocabulary.UnknownIndex), (copy.Kind, copy.Count, copy.PaddingIndex, copy.UnknownIndex));
        Assert.Equal(Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i]), Enumerable.Range(0, copy.Count).Select(i => copy[i]));
        Assert.Equal(vocabulary.Encode(text), copy.Encode(text));
    }

    [Theory]
    [InlineData("{\"kind\": \"words\", \"tokens\": [\"a\"", "malformed")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"kind\": \"bytes\", \"tokens\": [\"a\"]}", "'kind'")]
    [InlineData("{\"kind\": \"words\"}", "'tokens'")]
    [InlineData("{\"kind\": \"words\", \"tokens\": [\"a\", 3]}", "token 1 is not a string")]
    [InlineData("{\"kind\": \"words\", \"tokens\": [\"a\", \"b\", \"a\"]}", "token 2 ('a') repeats token 0")]
    [InlineData("{\"kind\": \"words\", \"tokens\": [\"a\"], \"paddingIndex\": 0}", "'paddingIndex'")]
    [InlineData("{\"kind\": \"words\", \"tokens\": [\"<unk>\"], \"unknownIndex\": 4}", "'unknownIndex'")]
    [InlineData("{\"kind\": \"characters\", \"tokens\": [\"ab\"]}", "token 0 ('ab') of a character vocabulary")]
    public void CorruptJsonThrowsInvalidDataWithTheReason(string json, string reason)
    {
        var e = Assert.Throws<InvalidDataException>(() => Vocabulary.FromJson(json));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
