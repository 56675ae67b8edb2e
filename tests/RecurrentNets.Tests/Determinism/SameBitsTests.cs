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
    /// <summary>Cases a (H = 5, B = 1) and d (H = 37, two layers, B = 3, ragged) of every cell, Fit, ESN and R2N2.</summary>
    private static readonly Dictionary<string, ulong> Small = new()
    {
        ["float rnn-tanh"] = 0xa7c91b0807917792, ["double rnn-tanh"] = 0x659ca5bfdd307a9a,
        ["float rnn-relu"] = 0xd4ccb59ae319c0c3, ["double rnn-relu"] = 0xef3d5b323487fe59,
        ["float lstm"] = 0x624ac3271cbfe548, ["double lstm"] = 0x8e7feddbddac7fc9,
        ["float lstm-peep"] = 0x106c18445f9607dc, ["double lstm-peep"] = 0xf7d76bb35dd8568d,
        ["float lstm-cifg"] = 0xd1e9c030b982df06, ["double lstm-cifg"] = 0xf4c1b8275fc8b364,
        ["float lstm-cifg-peep"] = 0x95dec713101d98f8, ["double lstm-cifg-peep"] = 0x1d3b1fea5e97a7ae,
        ["float gru"] = 0xf0afb02e2c498860, ["double gru"] = 0xc837bd0e0c437730,
        ["float gru-cho"] = 0xfd7d19b435574da3, ["double gru-cho"] = 0x458147248b126ff6,
        ["float fit"] = 0xe7a6ff75ea7adfd5, ["double fit"] = 0x2e4e99975723a202,
        ["double reservoir"] = 0x5cc0a949c9b5e31c, ["float reservoir"] = 0xaf5fcc7b944d797d,
        ["double r2n2"] = 0x7bbe8b976c4e2926,
    };

    /// <summary>Cases b (H = 37, two bidirectional layers, B = 32, dropout), c (H = 128, B = 32, recurrent dropout, MSE)
    /// and e (H = 256, B = 1: the unit split over threads and, on AVX-512, the guest tiles) of every cell.</summary>
    private static readonly Dictionary<string, ulong> Large = new()
    {
        ["float rnn-tanh"] = 0x2488d635dacaac42, ["double rnn-tanh"] = 0x1e2c72222f348a3a,
        ["float rnn-relu"] = 0xcaf500b450e3426b, ["double rnn-relu"] = 0xd33807d5b68e212d,
        ["float lstm"] = 0xccad655cfdb19f5e, ["double lstm"] = 0xb902965ed7efeec4,
        ["float lstm-peep"] = 0x380144cdabd723f4, ["double lstm-peep"] = 0x7cc896910095b28c,
        ["float lstm-cifg"] = 0x455b37dfcc5dc487, ["double lstm-cifg"] = 0xe34431dc7a10d13e,
        ["float lstm-cifg-peep"] = 0x0191d992e84607b7, ["double lstm-cifg-peep"] = 0xc9212d48c7e39e97,
        ["float gru"] = 0x48d3d349b3721d56, ["double gru"] = 0x066de65718d5459d,
        ["float gru-cho"] = 0x731775e2a8d83928, ["double gru-cho"] = 0x9c9e307cd0b1e4f0,
    };

    [Fact]
    public void FixedTrainingRunsGiveThePinnedBitsOnEveryPath() =>
        Check(Small, SameBitsProbe.CellGroups(["a", "d"], trainSteps: 4).Concat(SameBitsProbe.ModelGroups()));

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
