using BenchmarkDotNet.Attributes;
using RecurrentNets.Init;
using RecurrentNets.Kernels;
using RecurrentNets.Reference;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// Reservoir steps as in ../shared/peers/reservoirpy/bench.py (section speed): 1-D input u ~ U[-1, 1], leak 0.5, ρ 0.9,
/// Win ±1 at 10 % connectivity, no bias; W normal at 1 % connectivity for 1,000 units, exactly 10 nonzeros a row above.
/// Each invocation runs <see cref="StepsPerInvoke"/> steps, so the Mean column is the time of one step.
/// ns per nonzero = Mean / nnz(W) (nnz = 10·N here).
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class ReservoirStepBenchmarks
{
    private const int StepsPerInvoke = 10;
    private Reservoir<float> rf = null!;
    private Reservoir<double> rd = null!;
    private float[] xf = null!, nf = null!, uf = null!;
    private double[] xd = null!, nd = null!, ud = null!;
    private float[] batchX = null!, batchNext = null!;
    private double[] batchXd = null!, batchNextd = null!;
    private int t;

    [Params(1_000, 10_000, 100_000, 1_000_000)]
    public int Units { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new ReservoirOptions
        {
            Units = Units,
            LeakRate = 0.5,
            SpectralRadius = 0.9,
            // ReservoirPy scaled its 100,000-unit W by the circular law too (its ARPACK call took 205 s).
            SpectralRadiusMethod = Units <= 10_000 ? SpectralRadiusMethod.Arnoldi : SpectralRadiusMethod.CircularLaw,
            InputScaling = 1.0,
            InputConnectivity = 0.1,
            Connectivity = 0.01,
            Degree = Units > 1_000 ? 10 : null,
            Seed = 1,
        };
        rd = Reservoir<double>.Create(options);
        rf = new Reservoir<float>(rd.Weights.Convert<float>(), rd.DriveWeights.Select(v => (float)v).ToArray(), null, 1, 0, 0.5);
        var random = new SeededRandom(7);
        ud = Enumerable.Range(0, 10_000).Select(_ => random.NextUniform(-1, 1)).ToArray();
        uf = ud.Select(v => (float)v).ToArray();
        xd = new double[Units];
        nd = new double[Units];
        xf = new float[Units];
        nf = new float[Units];
        batchX = new float[8 * Units];
        batchNext = new float[8 * Units];
        batchXd = new double[8 * Units];
        batchNextd = new double[8 * Units];
        Console.WriteLine($"// nnz(W) = {rd.Weights.NonZeros}, load {File.ReadAllText("/proc/loadavg").Trim()}");
    }

    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public void StepFloat()
    {
        for (int s = 0; s < StepsPerInvoke; s++)
        {
            rf.Step(xf, uf.AsSpan(t++ % 10_000, 1), nf);
            (xf, nf) = (nf, xf);
        }
    }

    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public void StepDouble()
    {
        for (int s = 0; s < StepsPerInvoke; s++)
        {
            rd.Step(xd, ud.AsSpan(t++ % 10_000, 1), nd);
            (xd, nd) = (nd, xd);
        }
    }

    [Benchmark(OperationsPerInvoke = StepsPerInvoke, Baseline = true)]
    public void StepDoubleReference()
    {
        var w = rd.Weights;
        for (int s = 0; s < StepsPerInvoke; s++)
        {
            ReferenceSparse.LeakyStep<double>(w.RowPointers, w.ColumnIndices, w.Values, xd, rd.DriveWeights, ud.AsSpan(t++ % 10_000, 1), [], 0.5, 0.5, Activation.Tanh, nd);
            (xd, nd) = (nd, xd);
        }
    }

    /// <summary>Eight independent double streams per step, each driven by its own u (Mean is the time of one step of all eight).</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public void StepDoubleBatch8()
    {
        for (int s = 0; s < StepsPerInvoke; s++)
        {
            rd.StepBatch(batchXd, ud.AsSpan(t++ % 9_992, 8), 8, batchNextd);
            (batchXd, batchNextd) = (batchNextd, batchXd);
        }
    }

    /// <summary>Eight independent float streams per step, each driven by its own u (Mean is the time of one step of all eight).</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public void StepFloatBatch8()
    {
        for (int s = 0; s < StepsPerInvoke; s++)
        {
            rf.StepBatch(batchX, uf.AsSpan(t++ % 9_992, 8), 8, batchNext);
            (batchX, batchNext) = (batchNext, batchX);
        }
    }
}

/// <summary>
/// The ridge readout fit of bench.py (section ridge): states of the 1,000-unit speed reservoir over 10,000 steps
/// (double), target u(t+1), λ = 1e-6; Gram accumulation [10,000 × 1,001] plus the solve. ReservoirPy + OpenBLAS
/// (2 threads): 0.331 s (XᵀX alone 0.181 s).
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class RidgeFitBenchmarks
{
    private const int Steps = 10_000, Units = 1_000;
    private double[] states = null!, targets = null!;
    private double[] gram = null!, pack = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var r = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = Units, LeakRate = 0.5, SpectralRadius = 0.9, InputScaling = 1.0, InputConnectivity = 0.1, Connectivity = 0.01, Seed = 1,
        });
        var random = new SeededRandom(7);
        var u = Enumerable.Range(0, Steps + 1).Select(_ => random.NextUniform(-1, 1)).ToArray();
        states = new double[Steps * Units];
        targets = new double[Steps];
        var x = new double[Units];
        for (int t = 0; t < Steps; t++)
        {
            r.Step(x, u.AsSpan(t, 1), states.AsSpan(t * Units, Units));
            states.AsSpan(t * Units, Units).CopyTo(x);
            targets[t] = u[t + 1];
        }

        gram = new double[(Units + 1) * (Units + 1)];
        pack = new double[GramKernels.PackLength(Units + 1)];
        Console.WriteLine($"// load {File.ReadAllText("/proc/loadavg").Trim()}");
    }

    [Benchmark]
    public double RidgeFit()
    {
        using var scope = KernelScope.Enter(Threads);
        var readout = new RidgeReadout<double>(Units, 1, 1e-6);
        readout.AccumulateRows(states, targets, Steps);
        readout.Fit();
        return readout.Intercept[0];
    }

    /// <summary>ZᵀZ alone (features without the intercept column), for comparison with numpy's X.T @ X.</summary>
    [Benchmark]
    public void GramOnly()
    {
        using var scope = KernelScope.Enter(Threads);
        GramKernels.AccumulateUpper(states, Steps, Units, gram, pack);
    }
}
