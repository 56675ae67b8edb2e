namespace RecurrentNets.Kernels;

/// <summary>
/// Whether results are the same bits on every x64 CPU: the AVX-512, AVX2 and Vector128 paths of every kernel (and so
/// every training run and every inference) give bit-identical results for the same seed. On by default.
/// </summary>
/// <remarks>
/// <para>
/// What it takes: sums run in an order fixed by the code, not by the vector width (<see cref="Reductions"/>, the GEMM's
/// small-M dot products); σ, tanh and exp are ours, with one set of operations per element whether it falls in a
/// vector body or a scalar tail (<see cref="VectorMath"/>); and every multiply-add rounds once, also on CPUs without
/// the FMA instruction (x64 CPUs without AVX2, or <c>DOTNET_EnableAVX2=0</c>). Only that last part costs anything, and
/// only on those CPUs: there the FMA is emulated with SSE2 arithmetic, which makes a recurrent layer 12 to 15 times
/// slower than a multiply then an add (docs/testing.md has the measurements). The reservoir step is the exception: it
/// multiplies and adds with two roundings on every CPU (activation included), which gives the same bits everywhere
/// without the emulation, so this switch does not change it.
/// </para>
/// <para>
/// Turning it off (the <see cref="AppContext"/> switch <c>RecurrentNets.SameBitsOnEveryCpu</c> set to false, in the
/// project file as <c>&lt;RuntimeHostConfigurationOption Include="RecurrentNets.SameBitsOnEveryCpu" Value="false" /&gt;</c>
/// or by <see cref="AppContext.SetSwitch"/> before the first kernel call) makes CPUs without FMA multiply and add with two
/// roundings: fast there, but their bits then differ from those of AVX2 and AVX-512 CPUs. CPUs with FMA are not
/// affected either way.
/// </para>
/// </remarks>
public static class Determinism
{
    /// <summary>The name of the <see cref="AppContext"/> switch that turns <see cref="SameBitsOnEveryCpu"/> off.</summary>
    public const string SwitchName = "RecurrentNets.SameBitsOnEveryCpu";

    /// <summary>
    /// Whether CPUs without the FMA instruction emulate it, so that every CPU gives the same bits (true unless the
    /// <see cref="SwitchName"/> switch is false). Read once, when the kernels first run.
    /// </summary>
    public static bool SameBitsOnEveryCpu { get; } = !AppContext.TryGetSwitch(SwitchName, out bool enabled) || enabled;
}
