using System.Diagnostics;
using System.Globalization;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// Times the pieces of one recurrent step in isolation (best of many calls, in µs): the recurrent products on W_hh
/// read in place and prepacked, a two-thread unit split's share of the forward product and pointwise step, the input
/// projection of all T = 100 steps (per step), the LSTM and GRU pointwise kernels, the activations alone, and the whole
/// layer's forward pass (per step). Usage: <c>probe [--points 1x128,1x512]</c>.
/// </summary>
internal static class StepProbe
{
    public static int Run(string[] args)
    {
        using var scope = KernelScope.Enter(1);
        if (args is ["--loop", string loopCell, string loopPoint, string seconds, ..])
        {
            // For a sampling profiler (perf with DOTNET_PerfMapEnabled=1): the layer's forward pass, over and over.
            string[] lp = loopPoint.Split('x');
            int lb = int.Parse(lp[0], CultureInfo.InvariantCulture), lh = int.Parse(lp[1], CultureInfo.InvariantCulture);
            RecurrentLayer<float> loopLayer = loopCell == "lstm" ? new Lstm<float>(lh, lh, random: new SeededRandom(1)) : new Gru<float>(lh, lh, random: new SeededRandom(1));
            var loopInput = new Tensor<float>(100, lb, lh);
            loopInput.AsSpan().Fill(0.1f);
            var loopOutput = new Tensor<float>(100, lb, lh);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < double.Parse(seconds, CultureInfo.InvariantCulture))
                loopLayer.Forward(loopInput, loopOutput);
            return 0;
        }

        string points = args.Length > 1 && args[0] == "--points" ? args[1] : "1x128,1x512,32x128,32x512";
        foreach (string point in points.Split(','))
        {
            string[] p = point.Split('x');
            int b = int.Parse(p[0], CultureInfo.InvariantCulture), h = int.Parse(p[1], CultureInfo.InvariantCulture), gw = 4 * h;
            var rng = new Random(1);
            float[] w = Enumerable.Range(0, gw * h).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            float[] hPrev = Enumerable.Range(0, b * h).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            float[] gates = new float[b * gw], dh = new float[b * h], c = new float[b * h], c2 = new float[b * h], tc = new float[b * h], hv = new float[b * h];
            var fwd = new PackedMatrix<float>();
            var bwd = new PackedMatrix<float>();
            Gemm.Pack<float>(true, h, gw, w, h, fwd);
            Gemm.Pack<float>(false, gw, h, w, h, bwd);
            Report(point, "fwd in place", () => Gemm.Compute<float>(false, true, b, gw, h, hPrev, h, w, h, gates, gw, true));
            Report(point, "fwd packed", () => Gemm.Compute<float>(false, b, gw, h, hPrev, h, fwd, gates, gw, true));
            // A unit split's share on two threads: half the units of every gate block in one call (h(t-1) packed once)
            // or one call per block, against half the columns in one range; the LSTM pointwise step on half the units.
            int half = h / 2;
            if (half % Gemm.ColumnAlignment == 0)
            {
                Report(point, "fwd packed, half units, one call per gate", () =>
                {
                    for (int g = 0; g < 4; g++)
                        Gemm.ComputeColumns<float>(b, gw, h, hPrev, h, fwd, gates, gw, true, g * h, g * h + half);
                });
                Report(point, "fwd packed, half units, one call", () => Gemm.ComputeColumnGroups<float>(b, gw, h, hPrev, h, fwd, gates, gw, true, 0, half, 4, h));
                Report(point, "fwd packed, half columns", () => Gemm.ComputeColumns<float>(b, gw, h, hPrev, h, fwd, gates, gw, true, 0, gw / 2));
                Report(point, "lstm pointwise, half units", () =>
                {
                    Array.Fill(gates, 0.1f);
                    LstmKernels.ForwardFloat<Off, Off>(gates, c, c2, tc, hv, default, default, default, b, h, 0, half);
                });
            }

            Report(point, "bwd in place", () => Gemm.Compute<float>(false, false, b, h, gw, gates, gw, w, h, dh, h, false));
            Report(point, "bwd packed", () => Gemm.Compute<float>(false, b, h, gw, gates, gw, bwd, dh, h, false));
            Report(point, "pack fwd", () => Gemm.Pack<float>(true, h, gw, w, h, fwd));
            Report(point, "pack bwd", () => Gemm.Pack<float>(false, gw, h, w, h, bwd));
            Report(point, "lstm pointwise", () =>
            {
                Array.Fill(gates, 0.1f);
                LstmKernels.Forward<float, Off, Off>(gates, c, c2, tc, hv, default, default, default, b, h);
            });
            Report(point, "fill only", () => Array.Fill(gates, 0.1f));
            Report(point, "sigmoid 4BH (TP)", () => TP.Sigmoid<float>(gates, gates));
            Report(point, "tanh 4BH (TP)", () => TP.Tanh<float>(gates, gates));
            Report(point, "sigmoid 4BH (ours)", () => VectorMath.Sigmoid(gates, gates));
            Report(point, "tanh 4BH (ours)", () => VectorMath.Tanh(gates, gates));
            float[] gruGates = new float[b * 3 * h], rec = new float[b * 3 * h + 40], recN = new float[b * h];
            Report(point, "gru pointwise", () =>
            {
                Array.Fill(gruGates, 0.1f);
                GruKernels.ForwardResetAfter(gruGates, rec, hPrev, recN, hv, b, h);
            });

            // The input projection of 100 steps at once, per step: X[100·B, H]·W_ihᵀ.
            const int steps = 100;
            float[] x = Enumerable.Range(0, steps * b * h).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            float[] projected = new float[steps * b * gw];
            Report(point, "lstm projection / step", () => Gemm.MultiplyTransposeB<float>(x, w, projected, steps * b, h, gw), steps);
            float[] bias = new float[gw];
            if (steps * b <= 128)
            {
                Report(point, "projection in 50-row calls / step", () =>
                {
                    for (int r0 = 0; r0 < steps * b; r0 += 50)
                        Gemm.Compute<float>(false, true, Math.Min(50, steps * b - r0), gw, h, x.AsSpan(r0 * h), h, w, h, projected.AsSpan(r0 * gw), gw, false);
                }, steps);
            }

            Report(point, "lstm bias + projection / step", () =>
            {
                Elementwise.BroadcastRows<float>(bias, steps * b, projected);
                Gemm.MultiplyTransposeB<float>(x, w, projected, steps * b, h, gw, accumulate: true);
            }, steps);
            Report(point, "fwd packed, all steps' gates / step", () =>
            {
                for (int t = 0; t < steps; t++)
                    Gemm.Compute<float>(false, b, gw, h, hPrev, h, fwd, projected.AsSpan(t * b * gw, b * gw), gw, true);
            }, steps);
            foreach (string cell in new[] { "lstm", "gru" })
            {
                var random = new SeededRandom(1);
                RecurrentLayer<float> layer = cell == "lstm" ? new Lstm<float>(h, h, random: random) : new Gru<float>(h, h, random: random);
                var input = new Tensor<float>(steps, b, h);
                x.AsSpan(0, input.Length).CopyTo(input.AsSpan());
                var output = new Tensor<float>(steps, b, h);
                Report(point, $"{cell} layer forward / step", () => layer.Forward(input, output), steps);
            }
        }

        return 0;
    }

    private static void Report(string point, string name, Action call, int perCall = 1)
    {
        // Warm up for 0.5 s so the JIT's tier-1 code has replaced the first tier.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.5)
            call();
        double best = double.MaxValue;
        for (int rep = 0; rep < (perCall > 1 ? 10 : 50); rep++)
        {
            long start = Stopwatch.GetTimestamp();
            int calls = perCall > 1 ? 2 : 20;
            for (int i = 0; i < calls; i++)
                call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{point} {name}: {best / perCall:F2} us"));
    }
}
