using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xunit;

namespace RecurrentNets.Tests;

/// <summary>The CPU features some tests need, and why such a test is skipped without them.</summary>
internal static class CpuFeatures
{
    /// <summary>Whether the runtime takes the AVX-512 paths (the CPU has AVX-512F and DOTNET_EnableAVX512 is not 0).</summary>
    public static bool HasAvx512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    public const string NoAvx512 = "needs the AVX-512 path: this CPU lacks AVX-512F, or DOTNET_EnableAVX512=0 turns it off";

    /// <summary>Whether the runtime may use AVX instructions (the CPU has AVX and DOTNET_EnableAVX is not 0).</summary>
    public static bool HasAvx => Avx.IsSupported;

    public const string NoAvx = "needs AVX: this CPU lacks it, or DOTNET_EnableAVX=0 turns it off";

    /// <summary>Whether the library's worker pool has a thread besides the caller (two or more processors).</summary>
    public static bool HasTwoProcessors => Environment.ProcessorCount >= 2;

    public const string OneProcessor = "needs two processors to split a loop over two threads: this machine has one";
}

/// <summary>A fact that tests code written with AVX instructions: reported as skipped, with the reason, on a CPU without AVX.</summary>
public sealed class AvxFactAttribute : FactAttribute
{
    public AvxFactAttribute()
    {
        if (!CpuFeatures.HasAvx)
        {
            Skip = CpuFeatures.NoAvx;
        }
    }
}

/// <summary>A fact that tests code only the AVX-512 path runs: reported as skipped, with the reason, on a CPU without it.</summary>
public sealed class Avx512FactAttribute : FactAttribute
{
    public Avx512FactAttribute()
    {
        if (!CpuFeatures.HasAvx512)
        {
            Skip = CpuFeatures.NoAvx512;
        }
    }
}

/// <summary>A theory that tests code only the AVX-512 path runs: reported as skipped, with the reason, on a CPU without it.</summary>
public sealed class Avx512TheoryAttribute : TheoryAttribute
{
    public Avx512TheoryAttribute()
    {
        if (!CpuFeatures.HasAvx512)
        {
            Skip = CpuFeatures.NoAvx512;
        }
    }
}

/// <summary>A theory that compares a loop split over two threads with one thread: reported as skipped, with the reason,
/// on a machine with one processor (where both runs would take one thread).</summary>
public sealed class TwoThreadTheoryAttribute : TheoryAttribute
{
    public TwoThreadTheoryAttribute()
    {
        if (!CpuFeatures.HasTwoProcessors)
        {
            Skip = CpuFeatures.OneProcessor;
        }
    }
}
