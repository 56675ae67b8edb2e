using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Determinism;

/// <summary>
/// Same seed, same bits on every x64 CPU: fixed training runs give the same pinned checksums on the AVX-512, AVX2 and
/// Vector128 paths (CI runs these tests on all three). A change that moves a checksum on purpose (a new kernel order)
/// updates the constants, after checking that the new ones hold on every path.
/// </summary>
/// <remarks>
/// To find where two paths part, run the failing test on both with <c>BITS_PROBE_OUT=file</c> and compare the files:
/// each line is one stage (initial weights, first loss, first gradient of each parameter, weights after each step,
/// evaluation outputs) of one run.
/// </remarks>
[Collection(Kernels.GemmCollection.Name)]
public class SameBitsTests(ITestOutputHelper output)
{
    /// <summary>Cases a (H = 5, B = 1) and d (H = 37, two layers, B = 3, ragged) of every cell, and the two Fit runs.</summary>
    private static readonly Dictionary<string, ulong> Small = new()
    {
        ["float rnn-tanh"] = 0x8216c4cc4e4c300a, ["double rnn-tanh"] = 0x33ed8038392ffb82,
        ["float rnn-relu"] = 0xd4ccb59ae319c0c3, ["double rnn-relu"] = 0x0a0ed690c5117297,
        ["float lstm"] = 0x624ac3271cbfe548, ["double lstm"] = 0x1980652c4f25040f,
        ["float lstm-peep"] = 0x106c18445f9607dc, ["double lstm-peep"] = 0x823f8b7a3e600531,
        ["float lstm-cifg"] = 0x61edcdcbc7aaf020, ["double lstm-cifg"] = 0xb798d2436b1fcad6,
        ["float lstm-cifg-peep"] = 0x95dec713101d98f8, ["double lstm-cifg-peep"] = 0x5d8df2ca83c5c99f,
        ["float gru"] = 0x74744d2633e78763, ["double gru"] = 0x3776fe9d66333ee1,
        ["float gru-cho"] = 0xbf232000c5c17c79, ["double gru-cho"] = 0x827132e177607f81,
        ["float lnlstm"] = 0xd1a3b5590bec96c2, ["double lnlstm"] = 0x1f673698b0b6f087,
        ["float lngru"] = 0x460b5365721426e7, ["double lngru"] = 0x181cc3a18691c31f,
        ["float lstmp"] = 0xc3421f77aadb592a, ["double lstmp"] = 0x14b0b8a93b85a269,
        ["float fit"] = 0x68b4da24ae844f49, ["double fit"] = 0x506b839137769f1b,
        ["double reservoir"] = 0x5cc0a949c9b5e31c, ["float reservoir"] = 0xaf5fcc7b944d797d,
        ["double r2n2"] = 0x7bbe8b976c4e2926,
    };

    /// <summary>The echo state networks (tanh and σ reservoirs, double and float) and R2N2 (aⁿbⁿ, reversal).</summary>
    private static readonly Dictionary<string, ulong> Reservoirs = new()
    {
        ["double reservoir"] = 0x50af068011005c0e, ["float reservoir"] = 0x6197652ea313ee29, ["double r2n2"] = 0xa7675f152edbccbd,
    };

    /// <summary>Cases b (H = 37, two bidirectional layers, B = 32, dropout), c (H = 128, B = 32, recurrent dropout, MSE)
    /// and e (H = 256, B = 1: the unit split over threads and, on AVX-512, the guest tiles) of every cell.</summary>
    private static readonly Dictionary<string, ulong> Large = new()
    {
        ["float rnn-tanh"] = 0x79c7fd5db6640ce1, ["double rnn-tanh"] = 0x4c5de82cc6bac64e,
        ["float rnn-relu"] = 0xcaf500b450e3426b, ["double rnn-relu"] = 0x2e56b573d3919362,
        ["float lstm"] = 0x78259b63fe02b20c, ["double lstm"] = 0x62577b513561032e,
        ["float lstm-peep"] = 0x339e7bdf32592419, ["double lstm-peep"] = 0x9b12a3bb623867a8,
        ["float lstm-cifg"] = 0x455b37dfcc5dc487, ["double lstm-cifg"] = 0x83881d3979c5463e,
        ["float lstm-cifg-peep"] = 0x0a2df65b9980c1cd, ["double lstm-cifg-peep"] = 0x3843d016ef37b08e,
        ["float gru"] = 0xa8cd3638a3a5531d, ["double gru"] = 0xb95264d19e9f0c4a,
        ["float gru-cho"] = 0x72672fc8f22eaa9b, ["double gru-cho"] = 0x349571f025ef65e9,
        ["float lnlstm"] = 0x865d28234c73ea5e, ["double lnlstm"] = 0xbc3e813f1b3c8491,
        ["float lngru"] = 0x6be7d7989d3bf7bc, ["double lngru"] = 0xbbf25cab051614a3,
        ["float lstmp"] = 0x00f24f527523f0af, ["double lstmp"] = 0x36fbb6b4a165604b,
    };

    /// <summary>Cases f (H = 37, two bidirectional layers merged by mul, B = 32, dropout), g (H = 5, merged by ave, B = 3,
    /// MSE) and h (H = 37, two goBackwards layers, B = 3) of every cell, all ragged.</summary>
    private static readonly Dictionary<string, ulong> KerasOptions = new()
    {
        ["float rnn-tanh"] = 0x71d3690c4e3fea75, ["double rnn-tanh"] = 0x80e0d55cb9be2228,
        ["float rnn-relu"] = 0x051cbd20e65fdc41, ["double rnn-relu"] = 0x8cac90efdc2b4a5b,
        ["float lstm"] = 0xccbf0c7ef2cc07f7, ["double lstm"] = 0x64efce7dd9b86042,
        ["float lstm-peep"] = 0xc97206780084393b, ["double lstm-peep"] = 0x8b2dff2d121243e7,
        ["float lstm-cifg"] = 0x2d15931ceb29e5a3, ["double lstm-cifg"] = 0x386934d7f9125fb9,
        ["float lstm-cifg-peep"] = 0xf74b45b76e68f558, ["double lstm-cifg-peep"] = 0x5720d268b3ca18d7,
        ["float gru"] = 0x99231b666beea3de, ["double gru"] = 0x7e6b691dbd062a40,
        ["float gru-cho"] = 0x9666ba6b74d123c5, ["double gru-cho"] = 0x984df7f4b38a1688,
        ["float lnlstm"] = 0x06a2a3a9723a18c0, ["double lnlstm"] = 0x357a5df0f69f291b,
        ["float lngru"] = 0x0f013eb5a3ae9bd8, ["double lngru"] = 0xf2befbeedfbd25a9,
        ["float lstmp"] = 0x825584a843cc0951, ["double lstmp"] = 0xed28ad7c56f9734f,
    };

    [Fact]
    public void MergeModesAndGoBackwardsGiveThePinnedBitsOnEveryPath() =>
        Check(KerasOptions, SameBitsProbe.CellGroups(["f", "g", "h"], trainSteps: 3));

    [Fact]
    public void FixedTrainingRunsGiveThePinnedBitsOnEveryPath() =>
        Check(Small, SameBitsProbe.CellGroups(["a", "d"], trainSteps: 4).Concat(SameBitsProbe.FitGroups()));

    [Fact]
    public void ReservoirsAndR2N2GiveThePinnedBitsOnEveryPath() => Check(Reservoirs, SameBitsProbe.ReservoirGroups());

    [Fact]
    public void LargerTrainingRunsGiveThePinnedBitsOnEveryPath() =>
        Check(Large, SameBitsProbe.CellGroups(["b", "c", "e"], trainSteps: 4));

    private void Check(Dictionary<string, ulong> expected, IEnumerable<SameBitsProbe.Group> groups)
    {
        Assert.True(RecurrentNets.Kernels.Determinism.SameBitsOnEveryCpu);
        var text = new StringBuilder($"# Vector512 {Vector512.IsHardwareAccelerated}, Vector256 {Vector256.IsHardwareAccelerated}, " +
            $"AVX2 {Avx2.IsSupported}, FMA {Fma.IsSupported}, Vector<float> {Vector<float>.Count} lanes\n");
        var wrong = new List<string>();
        foreach (var group in groups)
        {
            foreach (var (stage, hash) in group.Stages)
                text.AppendLine($"{group.Name} {stage} {hash:x16}");
            text.AppendLine($"{group.Name} combined {group.Combined:x16}");
            if (!expected.TryGetValue(group.Name, out ulong pinned) || pinned != group.Combined)
                wrong.Add($"[\"{group.Name}\"] = 0x{group.Combined:x16}");
        }

        string? file = Environment.GetEnvironmentVariable("BITS_PROBE_OUT");
        if (file is not null)
            File.AppendAllText(file, text.ToString());
        output.WriteLine(text.ToString());
        Assert.True(wrong.Count == 0, $"{wrong.Count} groups give other bits than pinned (the stages are in the output): {string.Join(", ", wrong)}");
    }
}
