using System.Diagnostics;
using System.Globalization;
using RecurrentNets.Kernels;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// Times the pieces of one recurrent step in isolation (best of many calls, in µs): the recurrent products on W_hh
/// read in place and prepacked, and the LSTM pointwise kernel. Usage: <c>probe [--points 1x128,1x512]</c>.
/// </summary>
internal static class StepProbe
{
    public static int Run(string[] args)
    {
        KernelOptions.MaxDegreeOfParallelism = 1;
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
            Report(point, "bwd in place", () => Gemm.Compute<float>(false, false, b, h, gw, gates, gw, w, h, dh, h, false));
            Report(point, "bwd packed", () => Gemm.Compute<float>(false, b, h, gw, gates, gw, bwd, dh, h, false));
            Report(point, "pack fwd", () => Gemm.Pack<float>(true, h, gw, w, h, fwd));
            Report(point, "lstm pointwise", () =>
            {
                Array.Fill(gates, 0.1f);
                LstmKernels.Forward<float, Off, Off>(gates, c, c2, tc, hv, default, default, default, b, h);
            });
            Report(point, "fill only", () => Array.Fill(gates, 0.1f));
        }

        return 0;
    }

    private static void Report(string point, string name, Action call)
    {
        // Warm up for 0.5 s so the JIT's tier-1 code has replaced the first tier.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.5)
            call();
        double best = double.MaxValue;
        for (int rep = 0; rep < 50; rep++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < 20; i++)
                call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / 20);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{point} {name}: {best:F2} us"));
    }
}
