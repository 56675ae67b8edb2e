using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RecurrentNets.Kernels;

/// <summary>
/// One pass of a cell's pointwise step over the units of a batch row, written once over the lane type: what it computes
/// for the lanes that start at unit j of <typeparamref name="TRow"/> (the row's buffers).
/// </summary>
/// <typeparam name="TRow">The kernel's ref struct of buffer references.</typeparam>
internal interface IUnitPass<TRow>
    where TRow : allows ref struct
{
    /// <summary>Computes units j .. j + <c>TL.Count</c> of the row.</summary>
    static abstract void Run<TV, TL>(ref TRow row, nuint j)
        where TV : struct
        where TL : struct, IFloatLanes<TV>;
}

/// <summary>
/// Runs a pointwise step as passes over a row's units, each pass over every unit before the next begins. A pass that
/// has at most one σ or tanh on each unit's critical path lets the CPU overlap many units; one pass that chains several
/// per unit runs at the latency of that chain (docs/engine.md, "Pointwise passes and the GEMM's last rows"). Each
/// element sees the same operations in either arrangement, so the bits do not change.
/// </summary>
internal static class UnitPasses
{
    /// <summary>Runs <typeparamref name="TPass"/> over units [j, end) of <paramref name="row"/>: the widest vectors, then
    /// one float at a time with the same operations (the same bits in body and tail). Never inlined: each pass is compiled
    /// on its own, so the JIT's inlining budget covers its σ and tanh whatever the caller (inlined into a large caller,
    /// the pass ran out of budget and called the FMA helper per vector).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run<TPass, TRow>(ref TRow row, int j, int end)
        where TPass : struct, IUnitPass<TRow>
        where TRow : allows ref struct
    {
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j <= end - Vector512<float>.Count; j += Vector512<float>.Count)
                TPass.Run<Vector512<float>, Lanes512>(ref row, (nuint)j);
        }
        else if (Vector.IsHardwareAccelerated)
        {
            for (; j <= end - Vector<float>.Count; j += Vector<float>.Count)
                TPass.Run<Vector<float>, LanesVector>(ref row, (nuint)j);
        }

        for (; j < end; j++)
            TPass.Run<float, Lanes1>(ref row, (nuint)j);
    }
}
