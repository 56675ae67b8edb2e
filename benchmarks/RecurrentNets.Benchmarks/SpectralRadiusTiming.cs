using System.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// `spectral [n] [degree|connectivity] [repeats] [krylov] [wanted] [tolerance]`: Stopwatch median of
/// SpectralRadius.EstimateArnoldi on the reservoir W of Reservoir.Create with Seed = 1 (issue 18, item 4).
/// </summary>
internal static class SpectralRadiusTiming
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 10_000;
        string kind = args.Length > 1 ? args[1] : "degree";
        int repeats = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
        int krylov = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : SpectralRadius.DefaultKrylov;
        int wanted = args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : SpectralRadius.DefaultWanted;
        double tolerance = args.Length > 5 ? double.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : SpectralRadius.DefaultTolerance;
        int power = args.Length > 6 ? int.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var init = kind == "degree" ? new SparseRandomInitializer { Degree = 10 } : new SparseRandomInitializer { Connectivity = 0.01 };
        var w = init.Create(n, n, new SeededRandom(1).Fork());
        if (Environment.GetEnvironmentVariable("SPECTRAL_EXPORT") is string path)
        {
            // The CSR arrays for a cross-check with SciPy's ARPACK (int32 pointers, int32 indices, float64 values).
            using var file = new BinaryWriter(File.Create(path));
            foreach (int p in w.RowPointers)
            {
                file.Write(p);
            }

            foreach (int c in w.ColumnIndices)
            {
                file.Write(c);
            }

            foreach (double x in w.Values)
            {
                file.Write(x);
            }

            Console.WriteLine(FormattableString.Invariant($"wrote {path}: n={n} nnz={w.NonZeros}"));
            return 0;
        }

        var xv = new double[n];
        var yv = new double[n];
        xv.AsSpan().Fill(1.0 / n);
        w.Multiply(xv, yv);
        var mv = Stopwatch.StartNew();
        for (int i = 0; i < 100; i++)
        {
            w.Multiply(xv, yv);
        }

        Console.WriteLine(FormattableString.Invariant($"one product {mv.Elapsed.TotalMilliseconds / 100:F3} ms"));
        var times = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            var e = SpectralRadius.EstimateArnoldi(w, krylov, wanted, tolerance, 1_000_000, (ulong)(r + 1), power);
            sw.Stop();
            times.Add(sw.Elapsed.TotalSeconds);
            Console.WriteLine(FormattableString.Invariant(
                $"n={n} {kind} seed={r + 1}: rho={e.Radius:R} residual={e.RelativeResidual:E2} products={e.Products} restarts={e.Restarts} {sw.Elapsed.TotalSeconds:F3} s"));
        }


        times.Sort();
        Console.WriteLine(FormattableString.Invariant($"median {times[times.Count / 2]:F3} s"));
        return 0;
    }
}
