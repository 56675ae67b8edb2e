using RecurrentNets.Reservoirs;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Reservoirs;

/// <summary>
/// The acceptance numbers of issue 4, on the protocols of ../shared/peers/reservoirpy/bench.py (ReservoirPy 0.4.2 on
/// this machine) and of Jaeger 2001. Full protocols carry the Slow trait; each has a fast version in the default run.
/// </summary>
public class ReservoirAcceptanceTests(ITestOutputHelper output)
{
    private static double At(IEnumerable<double[]> errors, int k, double sigma)
    {
        var e = errors.Select(x => x[k - 1]).ToArray();
        return Math.Sqrt(e.Average(v => v * v)) / sigma;
    }

    /// <summary>
    /// bench.py's Mackey-Glass protocol over reservoir seeds <paramref name="firstSeed"/>.. (run j: offset 10000 + 500 j).
    /// NRMSE@84 of the end fork is taken over the runs none of whose forks diverged (|err| > σ); the diverged forks are
    /// counted, never averaged away, and none may diverge.
    /// </summary>
    private void MackeyGlass(ulong firstSeed, int runs, int forks, int horizon, double[] ridges, double[] maxNrmse84, double[] maxOneStep,
        double bias = 0.2)
    {
        var s = Protocols.MgSeries;
        double sigma = Protocols.Sigma(s);
        var all = ridges.Select(_ => new List<Protocols.MgRun>()).ToArray();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int j = 0; j < runs; j++)
        {
            var r = Protocols.MackeyGlassRun(10000 + 500 * j, firstSeed + (ulong)j, ridges, forks, horizon, p: new Protocols.MgParams(Bias: bias));
            for (int i = 0; i < ridges.Length; i++)
            {
                all[i].Add(r[i]);
            }
        }

        static bool Left(double[] e, double sigma) => e.Any(v => !(Math.Abs(v) <= sigma));
        var failures = new List<(bool Ok, string Message)>();
        for (int i = 0; i < ridges.Length; i++)
        {
            var kept = all[i].Where(r => !r.ForkErrors.Any(e => Left(e, sigma))).ToList();
            var endFork = kept.Select(r => r.ForkErrors[0]).ToList();
            var allForks = kept.SelectMany(r => r.ForkErrors).ToList();
            double endFork84 = endFork.Count > 0 ? At(endFork, 84, sigma) : double.NaN;
            double oneStep = all[i].Average(r => r.OneStepNrmse);
            var diverged = all[i].SelectMany(r => r.ForkErrors).Select(e => ReservoirMetrics.FreeRun(e, new double[e.Length], sigma)).Where(r => r.Diverged).ToList();
            output.WriteLine($"MG bias ±{bias}, ridge {ridges[i]:E0}, seeds {firstSeed}-{firstSeed + (ulong)runs - 1}: one-step NRMSE {oneStep:E3}; " +
                $"NRMSE@84 end fork {endFork84:E3} over the {kept.Count} runs without a diverged fork" +
                (allForks.Count > 0 ? $", all their {allForks.Count} forks {At(allForks, 84, sigma):E3}" : string.Empty) +
                (horizon >= 500 && endFork.Count > 0 ? $"; NRMSE@500 end fork {At(endFork, 500, sigma):E3}, all forks {At(allForks, 500, sigma):E3}" : string.Empty) +
                $"; forks diverged (|err| > σ): {diverged.Count}" + (diverged.Count > 0 ? $", first at step {diverged.Min(d => d.DivergenceStep)}" : string.Empty));
            output.WriteLine("  runs with a diverged fork (seeds): " + string.Join(" ", all[i].Select((r, j) => (r, j)).Where(p => p.r.ForkErrors.Any(e => Left(e, sigma))).Select(p => firstSeed + (ulong)p.j)));
            failures.Add((endFork84 <= maxNrmse84[i], $"NRMSE@84 {endFork84:E3} vs {maxNrmse84[i]:E2} at ridge {ridges[i]:E0}"));
            failures.Add((oneStep <= maxOneStep[i], $"one-step NRMSE {oneStep:E3} vs {maxOneStep[i]:E2} at ridge {ridges[i]:E0}"));
            failures.Add((diverged.Count == 0, $"{diverged.Count} diverged forks at ridge {ridges[i]:E0} (none allowed)"));
        }

        Assert.True(failures.All(f => f.Ok), string.Join("; ", failures.Where(f => !f.Ok).Select(f => f.Message)));

        output.WriteLine($"{sw.Elapsed.TotalSeconds:F1} s");
    }

    // The bounds below are the measured values (docs/reservoirs.md, "Over three seed sets"; SeedSetTests prints them)
    // plus about 7 %, rounded up: a regression of 10 % or more fails. The AVX-512, AVX2 and Vector128 paths give the same
    // bits (SameBitsTests), so one measurement holds for all three (the slow runs below were checked on AVX-512 and AVX2).
    // The ridge-1e-12 numbers are those of the compensated Cholesky (Reductions.CompensatedDot): with plain fixed-order
    // dots 15 to 17 of each set's 20 systems lost positive definiteness and fell back to LU, and 146 to 150 of 200 forks
    // diverged (one-step 1.76e-4 on seeds 1000-1019).

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassFreeRunFullProtocol()
    {
        // ReservoirPy, 20 runs (its seeds 1000-1019): NRMSE@84 (end fork) 5.92e-5 at ridge 1e-12 and 3.32e-5 at 1e-11; one-step 9.2e-6 and 1.45e-5.
        // Settings: the issue's (1,000 units, 1 %, leak 0.5, ρ 1.0, input scaling 0.5) plus a bias U(±0.2), which bench.py's
        // own selection protocol (mg-tune: the same grid on the validation part s[0:10000], seeds 100-101) picks for this
        // library's random draws (validation NRMSE@84 1.3e-5). With bias 0 (ReservoirPy's pick for its draws) none of our 20
        // test runs leaves the attractor at ridge 1e-12 (NRMSE@84 2.9e-4) and NRMSE@84 is 6.6e-4 at 1e-11: see docs/reservoirs.md.
        // Measured on seeds 1000-1019: NRMSE@84 3.32e-5 at 1e-12, 3.19e-5 at 1e-11; one-step 7.65e-6 and 1.360e-5; no fork
        // diverged. Bounds: 3.55e-5, 3.42e-5; 8.2e-6, 1.46e-5.
        MackeyGlass(1000, 20, 10, 500, [1e-12, 1e-11], [3.55e-5, 3.42e-5], [8.2e-6, 1.46e-5]);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassFreeRunOnSeeds500To519()
    {
        // Measured: NRMSE@84 1.53e-5 at 1e-12, 2.76e-5 at 1e-11; one-step 7.44e-6 and 1.276e-5; no fork diverged. Bounds:
        // 1.64e-5, 2.96e-5; 8.0e-6, 1.37e-5.
        MackeyGlass(500, 20, 10, 500, [1e-12, 1e-11], [1.64e-5, 2.96e-5], [8.0e-6, 1.37e-5]);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassFreeRunOnSeeds9000To9019()
    {
        // Reservoir 9003, whose 10 forks all left the attractor at ridge 1e-12 before the Cholesky kernel was compensated (its
        // system was the one of 20 that fell back to LU), now stays. Measured: NRMSE@84 2.03e-5 at 1e-12, 3.44e-5 at 1e-11;
        // one-step 7.46e-6 and 1.354e-5; no fork diverged. Bounds: 2.17e-5, 3.68e-5; 8.0e-6, 1.45e-5.
        MackeyGlass(9000, 20, 10, 500, [1e-12, 1e-11], [2.17e-5, 3.68e-5], [8.0e-6, 1.45e-5]);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassFreeRunWithoutBiasIsReportedNotAsserted()
    {
        // ReservoirPy's own selection (bias 0) on our draws: printed for docs/reservoirs.md; only "no crash" is asserted.
        var s = Protocols.MgSeries;
        double sigma = Protocols.Sigma(s);
        var runs = Enumerable.Range(0, 20).Select(j => Protocols.MackeyGlassRun(10000 + 500 * j, 1000 + (ulong)j, [1e-12, 1e-11], 1, 84, p: new Protocols.MgParams(Bias: 0))).ToList();
        for (int i = 0; i < 2; i++)
        {
            var e = runs.Select(r => r[i].ForkErrors[0]).ToList();
            output.WriteLine($"MG bias 0, ridge {(i == 0 ? "1e-12" : "1e-11")}: NRMSE@84 end fork {At(e, 84, sigma):E3}; runs with |err| > σ: {e.Count(x => x.Any(v => !(Math.Abs(v) <= sigma)))}");
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassValidationSelectsTheTestSettings()
    {
        // bench.py's mg-tune protocol with this library: the grid sr × lr × input scaling × bias × ridge on the
        // validation part s[0:10000] (offsets 0 and 500, seeds 100 and 101, 10 forks 500 apart, NRMSE@84 over the
        // 20 forks). It selects the bias and ridge the test protocol uses (1.5 to 5 minutes on the shared machine).
        var s = Protocols.MgSeries;
        double sigma = Protocols.Sigma(s);
        double[] ridges = [1e-12, 1e-10, 1e-8, 1e-6];
        var rows = new List<(double Value, Protocols.MgParams P, double Ridge)>();
        foreach (double sr in new[] { 0.8, 1.0, 1.25 })
        {
            foreach (double lr in new[] { 0.3, 0.5, 1.0 })
            {
                foreach (double isc in new[] { 0.25, 0.5, 1.0 })
                {
                    foreach (double bias in new[] { 0.0, 0.2 })
                    {
                        var p = new Protocols.MgParams(lr, sr, isc, bias);
                        var e84 = ridges.Select(_ => new List<double>()).ToArray();
                        for (int rep = 0; rep < 2; rep++)
                        {
                            var runs = Protocols.MackeyGlassRun(rep * 500, 100 + (ulong)rep, ridges, 10, 84, p: p, every: 500);
                            for (int i = 0; i < ridges.Length; i++)
                            {
                                e84[i].AddRange(runs[i].ForkErrors.Select(e => e[83]));
                            }
                        }

                        for (int i = 0; i < ridges.Length; i++)
                        {
                            double v = Math.Sqrt(e84[i].Average(x => x * x)) / sigma;
                            rows.Add((double.IsFinite(v) ? v : double.MaxValue, p, ridges[i]));
                        }
                    }
                }
            }
        }

        foreach (var r in rows.OrderBy(r => r.Value).Take(5))
        {
            output.WriteLine($"{r.Value:E3} {r.P} ridge {r.Ridge:E0}");
        }

        // The issue fixes leak 0.5, ρ 1.0 and input scaling 0.5; among those rows the grid picks the bias and the ridge.
        // (Over the whole grid leak 1.0 with bias ±0.2 is a near tie: 1.22e-5 against 1.30e-5.)
        var best = rows.Where(r => r.P.LeakRate == 0.5 && r.P.SpectralRadius == 1.0 && r.P.InputScaling == 0.5).OrderBy(r => r.Value).First();
        output.WriteLine($"selected with the issue's fixed settings: {best.Value:E3} {best.P} ridge {best.Ridge:E0}");
        Assert.Equal(0.2, best.P.Bias);
        Assert.Equal(1e-12, best.Ridge);
    }

    [Fact]
    public void MackeyGlassFreeRunFast()
    {
        // 4 runs (seeds 1000-1003), the end-of-training fork only, ridge 1e-11. Measured: NRMSE@84 4.33e-5 (4.30e-5 before
        // the reservoir's two-rounding tanh), one-step 1.32e-5 (before the compensated Cholesky, AVX-512 / AVX2: 4.15e-5 / 4.30e-5, 1.31e-5 / 1.30e-5). Bounds 4.6e-5 and
        // 1.4e-5 (were 5.9e-5 and 1.5e-5).
        MackeyGlass(1000, 4, 1, 84, [1e-11], [4.6e-5], [1.4e-5]);
    }

    /// <summary>
    /// The whole network in float32 (state, weights, readout input), reservoir seeds <paramref name="firstSeed"/>.., the
    /// end-of-training fork, 500 free steps: NRMSE@84 per ridge held to <paramref name="maxNrmse84"/>, no run may leave
    /// the attractor (|err| > σ) within the 500 steps.
    /// </summary>
    private void MackeyGlassFloat(ulong firstSeed, int runs, double[] ridges, double[] maxNrmse84)
    {
        var s = Protocols.MgSeries;
        double sigma = Protocols.Sigma(s);
        var errs = Enumerable.Range(0, runs).Select(j => Protocols.MackeyGlassFloatRun(10000 + 500 * j, firstSeed + (ulong)j, ridges, 500)).ToList();
        for (int i = 0; i < ridges.Length; i++)
        {
            var e = errs.Select(x => x[i]).ToList();
            double nrmse84 = At(e, 84, sigma);
            var left = e.Select((x, j) => (x, j)).Where(p => p.x.Any(v => !(Math.Abs(v) <= sigma))).Select(p => firstSeed + (ulong)p.j).ToList();
            output.WriteLine($"MG float32, ridge {ridges[i]:E0}, seeds {firstSeed}-{firstSeed + (ulong)runs - 1}: NRMSE@84 end fork {nrmse84:E3} " +
                $"({string.Join(" ", e.Select(x => (Math.Abs(x[83]) / sigma).ToString("E1")))}); runs diverged within 500 steps: {left.Count}");
            Assert.True(left.Count == 0, $"float runs {string.Join(",", left)} left the attractor at ridge {ridges[i]:E0}");
            Assert.True(nrmse84 <= maxNrmse84[i], $"float NRMSE@84 {nrmse84:E3} > {maxNrmse84[i]:E2} at ridge {ridges[i]:E0}");
        }
    }

    [Fact]
    public void MackeyGlassFreeRunInFloat()
    {
        // The whole network in float32 (state, weights, readout input); ridge 1e-11 as in ReservoirPy's float32 rows
        // (whose arithmetic was float64 on float32 weights: 3.70e-5 over its 20 runs). 4 runs (seeds 1000-1003), end fork.
        // Measured: 5.09e-5 (before the compensated Cholesky: 6.36e-5 on AVX-512, 5.08e-5 on AVX2); 4 runs are noisy
        // (20 runs: 4.03e-5). Bound 6.8e-5 = the larger of the earlier two + 7 % (was 2e-4).
        MackeyGlassFloat(1000, 4, [1e-11], [6.8e-5]);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassFreeRunInFloatOverThreeSeedSets()
    {
        // 20 runs per set, both ridges. Measured NRMSE@84 (the same on every path) since the reservoir's tanh rounds every
        // multiply-add twice, no run left the attractor within 500 steps; the bounds are these + 7 %, rounded up:
        //   seeds 1000-1019: 3.71e-5 at 1e-12, 4.22e-5 at 1e-11 -> bounds 3.97e-5, 4.52e-5
        //   seeds 500-519:   2.73e-5 at 1e-12, 2.89e-5 at 1e-11 -> bounds 2.92e-5, 3.10e-5
        //   seeds 9000-9019: 3.70e-5 at 1e-12, 3.41e-5 at 1e-11 -> bounds 3.97e-5, 3.66e-5
        // (With the single-rounding tanh: 5.03e-5, 4.03e-5; 2.42e-5, 3.57e-5; 3.38e-5, 4.38e-5.)
        // (Before the compensated Cholesky, AVX-512 / AVX2: 4.84e-5 / 4.79e-5, 3.93e-5 / 3.84e-5; 3.33e-5 / 3.87e-5,
        // 4.14e-5 / 4.06e-5; 3.39e-5 / 3.42e-5, 4.10e-5 / 3.38e-5: the float runs move both ways, level on the mean.)
        MackeyGlassFloat(1000, 20, [1e-12, 1e-11], [3.97e-5, 4.52e-5]);
        MackeyGlassFloat(500, 20, [1e-12, 1e-11], [2.92e-5, 3.10e-5]);
        MackeyGlassFloat(9000, 20, [1e-12, 1e-11], [3.97e-5, 3.66e-5]);
    }

    /// <summary>NRMSE84 of Jaeger's protocol for reservoir seeds 1..<paramref name="seeds"/> on one stretch of the series.</summary>
    private static double[] Jaeger(int seeds, int blocks, int stretch = 0)
    {
        var v = new double[seeds];
        for (int j = 0; j < seeds; j++)
        {
            var (nrmse, _, diverged) = Protocols.Jaeger(400, (ulong)j + 1, 1e-12, blocks, stretch);
            Assert.False(diverged, $"seed {j + 1}, stretch {stretch}: a test block left the attractor");
            v[j] = nrmse;
        }

        return v;
    }

    /// <summary>The upper median (element n/2 of the sorted values).</summary>
    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v[v.Length / 2];
    }

    private const double JaegerNrmse84 = 2.8e-4; // GMD Report 148: one hand-picked 400-unit network, 3,000 training steps

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassJaegerProtocol()
    {
        // Jaeger's 2.8e-4 (one network) is NOT reached in the median over reservoir draws: seeds 1-20 give a median of
        // 4.9e-4 and none at or below 2.8e-4. Every reading of the report checked in docs/reservoirs.md (series, network,
        // readout, test, noise) leaves the median above it. This asserts what is reached, not his number.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var v = Jaeger(20, 20);
        double median = Median(v);
        output.WriteLine($"Jaeger 2001 protocol, 400 units, ridge 1e-12, 20 blocks, seeds 1-20: NRMSE84 {string.Join(" ", v.Select(x => x.ToString("E2")))}; " +
            $"median {median:E2}, range {v.Min():E2} .. {v.Max():E2}, at or below {JaegerNrmse84:E1}: {v.Count(x => x <= JaegerNrmse84)} of 20; {sw.Elapsed.TotalSeconds:F1} s");
        Assert.True(median <= 5.5e-4, $"median NRMSE84 {median:E2} > 5.5e-4");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassJaegerProtocolOverTenStretchesOfTheAttractor()
    {
        // The same 20 reservoirs trained and tested on ten consecutive stretches of the series (3,000 + 20 × 1,084 samples
        // each): the median moves by a factor of two with the data alone, and Jaeger's 2.8e-4 sits near the tenth
        // percentile of the 200 runs (see docs/reservoirs.md).
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var all = new List<double>();
        var medians = new double[10];
        for (int k = 0; k < 10; k++)
        {
            var v = Jaeger(20, 20, k);
            medians[k] = Median(v);
            all.AddRange(v);
            output.WriteLine($"stretch {k}: median {medians[k]:E2}, range {v.Min():E2} .. {v.Max():E2}, at or below {JaegerNrmse84:E1}: {v.Count(x => x <= JaegerNrmse84)} of 20");
        }

        double pooled = Median(all);
        int hits = all.Count(x => x <= JaegerNrmse84);
        output.WriteLine($"200 runs: median {pooled:E2}, at or below {JaegerNrmse84:E1}: {hits} ({100.0 * hits / all.Count:F1} %); {sw.Elapsed.TotalSeconds:F1} s");
        Assert.True(pooled <= 5e-4, $"median NRMSE84 over 200 runs {pooled:E2} > 5e-4");
        Assert.True(medians.Max() <= 7.5e-4, $"a stretch's median NRMSE84 {medians.Max():E2} > 7.5e-4");
    }

    [Fact]
    public void MackeyGlassJaegerProtocolFast()
    {
        var v = Jaeger(1, 5);
        output.WriteLine($"Jaeger 2001 protocol, seed 1, 5 blocks: NRMSE84 {v[0]:E2}");
        Assert.True(v[0] <= 1e-3, $"NRMSE84 {v[0]:E2} > 1e-3");
    }

    /// <summary>
    /// Validation selection on Jaeger's protocol (<see cref="Protocols.JaegerSelect"/>) over seeds
    /// <paramref name="firstSeed"/>.. (<paramref name="seeds"/> of them): stretch 0 validates, <paramref name="tests"/> test.
    /// </summary>
    private Protocols.JaegerSelection JaegerSelection(string name, Func<IOfflineReadout<double>> readout, int firstSeed, int seeds, int blocks, int[] tests,
        bool retrain = true)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var pool = Enumerable.Range(firstSeed, seeds).Select(j => (ulong)j).ToArray();
        var sel = Protocols.JaegerSelect(pool, readout, blocks, 0, tests, retrain);
        var frozen = Protocols.UpperMedian(sel.Frozen);
        output.WriteLine($"{name}, seeds {pool[0]}-{pool[^1]}, {blocks} blocks: validation (stretch 0) " +
            string.Join(" ", sel.Candidates.Select(c => $"{c.Seed}:{c.Validation:E2}{(c.Diverged ? " (diverged)" : string.Empty)}")));
        output.WriteLine($"  chosen: seed {sel.Chosen.Seed}, validation NRMSE84 {sel.Chosen.Validation:E2} (median of the candidates {Protocols.UpperMedian(sel.Candidates.Select(c => c.Validation)):E2})");
        output.WriteLine($"  test stretches {string.Join(",", tests)}, the chosen network frozen: {string.Join(" ", sel.Frozen.Select(v => v.ToString("E2")))}; " +
            $"median {frozen:E2}, worst {sel.Frozen.Max():E2}, at or below {JaegerNrmse84:E1}: {sel.Frozen.Count(v => v <= JaegerNrmse84)} of {tests.Length}");
        if (retrain)
        {
            output.WriteLine($"  the chosen reservoir retrained on each test stretch: {string.Join(" ", sel.Retrained.Select(v => v.ToString("E2")))}; " +
                $"median {Protocols.UpperMedian(sel.Retrained):E2}, worst {sel.Retrained.Max():E2}, at or below {JaegerNrmse84:E1}: {sel.Retrained.Count(v => v <= JaegerNrmse84)} of {tests.Length}");
        }

        output.WriteLine($"  a test block diverged: {sel.TestDiverged}; {sw.Elapsed.TotalSeconds:F1} s");
        return sel;
    }

    private static readonly int[] JaegerTestStretches = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    private static IOfflineReadout<double> JaegerPseudoInverse() => new PseudoInverseReadout<double>(400, 1);

    private static IOfflineReadout<double> JaegerRidge() => new RidgeReadout<double>(400, 1, 1e-12);

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassJaegerNetworkChosenOnValidationData()
    {
        // "One network", chosen honestly: seeds 1-20 trained on stretch 0 and scored on its 20 blocks (validation); the
        // best is tested on stretches 1-9, never seen by the choice: frozen (that trained network) and retrained (that
        // reservoir through Jaeger's whole protocol on each stretch). Numbers in docs/reservoirs.md.
        var pinv = JaegerSelection("pseudo-inverse", JaegerPseudoInverse, 1, 20, 20, JaegerTestStretches);
        var ridge = JaegerSelection("ridge 1e-12", JaegerRidge, 1, 20, 20, JaegerTestStretches);
        Assert.False(pinv.TestDiverged || ridge.TestDiverged, "a test block of a chosen network left the attractor");

        // Measured: the pseudo-inverse picks seed 6 (validation 1.35e-4). Run through Jaeger's protocol on stretches 1-9 that
        // reservoir gives a median of 1.4e-4, at or below Jaeger's 2.8e-4, but the network trained on stretch 0 and kept
        // frozen gives 4.1e-4 (seed 6 was the luckiest of 20 noisy validation scores; seeds 4, 8 and 18, frozen, are at
        // 1.6e-4 … 2.4e-4). Ridge 1e-12 picks seed 6 as well: 2.8e-4 retrained (just above), 4.5e-4 frozen.
        double pinvRetrained = Protocols.UpperMedian(pinv.Retrained), pinvFrozen = Protocols.UpperMedian(pinv.Frozen);
        double ridgeRetrained = Protocols.UpperMedian(ridge.Retrained), ridgeFrozen = Protocols.UpperMedian(ridge.Frozen);
        Assert.True(pinvRetrained <= JaegerNrmse84, $"pseudo-inverse, chosen reservoir retrained: median NRMSE84 {pinvRetrained:E2} > {JaegerNrmse84:E1}");
        Assert.True(pinvFrozen <= 4.5e-4, $"pseudo-inverse, chosen network frozen: median NRMSE84 {pinvFrozen:E2} > 4.5e-4");
        Assert.True(ridgeRetrained <= 3e-4, $"ridge, chosen reservoir retrained: median NRMSE84 {ridgeRetrained:E2} > 3e-4");
        Assert.True(ridgeFrozen <= 5e-4, $"ridge, chosen network frozen: median NRMSE84 {ridgeFrozen:E2} > 5e-4");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MackeyGlassJaegerNetworkChosenOnValidationDataInFourMorePools()
    {
        // The selection above repeated on independent pools of 20 reservoirs (seeds 21-40, 41-60, 61-80, 81-100), so the
        // outcome is not one pool's luck. Prints, per pool and readout, the chosen seed and the medians over stretches 1-9;
        // docs/reservoirs.md tabulates them with seeds 1-20 (about 2 minutes).
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var pinv = new List<Protocols.JaegerSelection>();
        var ridge = new List<Protocols.JaegerSelection>();
        for (int pool = 1; pool < 5; pool++)
        {
            pinv.Add(JaegerSelection("pseudo-inverse", JaegerPseudoInverse, 20 * pool + 1, 20, 20, JaegerTestStretches));
            ridge.Add(JaegerSelection("ridge 1e-12", JaegerRidge, 20 * pool + 1, 20, 20, JaegerTestStretches));
        }

        int Passing(List<Protocols.JaegerSelection> s, Func<Protocols.JaegerSelection, double[]> which) =>
            s.Count(x => Protocols.UpperMedian(which(x)) <= JaegerNrmse84);
        output.WriteLine($"pools at or below {JaegerNrmse84:E1} (of 4): pseudo-inverse retrained {Passing(pinv, x => x.Retrained)}, frozen {Passing(pinv, x => x.Frozen)}; " +
            $"ridge retrained {Passing(ridge, x => x.Retrained)}, frozen {Passing(ridge, x => x.Frozen)}; {sw.Elapsed.TotalSeconds:F0} s");
        Assert.DoesNotContain(pinv.Concat(ridge), x => x.TestDiverged);

        // Measured: the pseudo-inverse's chosen reservoir, retrained, is at or below 2.8e-4 in 3 of these 4 pools (and with
        // seeds 1-20: 4 of 5); the chosen network frozen in 2 of 4 (2 of 5), never above 3.9e-4. Ridge: 1 of 4 retrained
        // (1 of 5), none frozen, at most 6.7e-4.
        Assert.True(Passing(pinv, x => x.Retrained) >= 3, "the pseudo-inverse's chosen reservoir, retrained, reaches 2.8e-4 in fewer than 3 of 4 pools");
        Assert.True(Passing(pinv, x => x.Frozen) >= 2, "the pseudo-inverse's chosen network, frozen, reaches 2.8e-4 in fewer than 2 of 4 pools");
        Assert.All(pinv, x => Assert.True(Protocols.UpperMedian(x.Frozen) <= 4.5e-4, $"pseudo-inverse, seed {x.Chosen.Seed} frozen: {Protocols.UpperMedian(x.Frozen):E2} > 4.5e-4"));
        Assert.All(ridge, x => Assert.True(Protocols.UpperMedian(x.Frozen) <= 7e-4, $"ridge, seed {x.Chosen.Seed} frozen: {Protocols.UpperMedian(x.Frozen):E2} > 7e-4"));
    }

    [Fact]
    public void MackeyGlassJaegerNetworkChosenOnValidationDataFast()
    {
        // The same selection with the pseudo-inverse, seeds 1-4, 10 blocks, test stretches 1-3, the chosen network frozen
        // (5-8 s). Measured: seed 4 chosen (validation 3.0e-4, seed 1 3.1e-4), test median 2.7e-4. Unselected draws
        // are typically 2-4 times worse (seed 1, the runner-up here, has a median of 6.3e-4 on stretches 1-9 at 20 blocks).
        var sel = JaegerSelection("pseudo-inverse", JaegerPseudoInverse, 1, 4, 10, [1, 2, 3], retrain: false);
        Assert.False(sel.TestDiverged, "a test block of the chosen network left the attractor");
        double median = Protocols.UpperMedian(sel.Frozen);
        Assert.True(median <= 4e-4, $"the chosen network's median NRMSE84 over test stretches 1-3 is {median:E2} > 4e-4");
    }

    // NARMA-10 and memory capacity agree on both vector paths (AVX-512 and AVX2) to the printed digits; their margins
    // cover rounding-level changes, and a regression of about 3 % (NARMA) or 0.3 (memory capacity) fails. Measured values:
    // docs/reservoirs.md, "Over three seed sets" (printed by SeedSetTests).

    private void Narma(int units, ulong reservoirSeed, ulong dataSeed, int runs, double maxMean)
    {
        var v = Enumerable.Range(0, runs).Select(j => Protocols.Narma(units, reservoirSeed + (ulong)j, dataSeed + (ulong)j, [1e-12])[0]).ToArray();
        output.WriteLine($"NARMA-10, {units} units, ridge 1e-12, reservoir seeds {reservoirSeed}-{reservoirSeed + (ulong)runs - 1}, data {dataSeed}-{dataSeed + (ulong)runs - 1}: " +
            $"mean {v.Average():F4} ± {ReservoirMetrics.StandardDeviation(v):F4}, runs {string.Join(" ", v.Select(x => x.ToString("F4")))}");
        Assert.True(v.Average() <= maxMean, $"mean NRMSE {v.Average():F4} > {maxMean}");
    }

    [Fact]
    public void Narma10With100Units()
    {
        // ReservoirPy (its seeds 2000-2009 / 3000-3009): 0.241 ± 0.132 (ridge 1e-12), 0.216 ± 0.034 (1e-10).
        // Measured on the same seeds: 0.1933 ± 0.0296. Bound 0.199 = 0.1933 + 3 % (was 0.22).
        Narma(100, 2000, 3000, 10, 0.199);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Narma10With100UnitsOnTwoMoreSeedSets()
    {
        // Measured: 0.2051 ± 0.0243 (500-509 / 1500-1509), 0.2079 ± 0.0258 (1000-1009 / 2500-2509); bounds + 3 %.
        Narma(100, 500, 1500, 10, 0.2113);
        Narma(100, 1000, 2500, 10, 0.2142);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Narma10With400Units()
    {
        // ReservoirPy (seeds 2000-2009 / 3000-3009): 0.105 ± 0.018. Measured: 0.0875 ± 0.0241 on those seeds, 0.0993 ± 0.0190
        // (500-509 / 1500-1509), 0.1024 ± 0.0219 (1000-1009 / 2500-2509). Bounds + 3 % (was 0.105 on the first set only).
        Narma(400, 2000, 3000, 10, 0.0902);
        Narma(400, 500, 1500, 10, 0.1023);
        Narma(400, 1000, 2500, 10, 0.1055);
    }

    [Fact]
    public void Narma10With400UnitsFast()
    {
        // Seeds 2000-2002 / 3000-3002: measured 0.0892 (0.1371, 0.0680, 0.0624). Bound 0.0919 = + 3 % (was 0.105).
        Narma(400, 2000, 3000, 3, 0.0919);
    }

    private void MemoryCapacityTanh(ulong reservoirSeed, ulong dataSeed, int length, int test, double measured)
    {
        var mc = Enumerable.Range(0, 10).Select(j => Protocols.MemoryCapacityTanh(reservoirSeed + (ulong)j, dataSeed + (ulong)j, length, test).Sum()).ToArray();
        output.WriteLine($"MC tanh (ReservoirPy doc settings), reservoir {reservoirSeed}-{reservoirSeed + 9}, data {dataSeed}-{dataSeed + 9}, {length} steps / {test} test: " +
            $"{mc.Average():F2} ± {ReservoirMetrics.StandardDeviation(mc):F2} ({string.Join(" ", mc.Select(x => x.ToString("F1")))})");
        Assert.InRange(mc.Average(), measured - 0.3, measured + 0.3);
        Assert.All(mc, v => Assert.InRange(v, 0, 100));
    }

    [Fact]
    public void MemoryCapacityOfTanhReservoirIsAbout18()
    {
        // ReservoirPy (same seeds): 18.26 ± 0.98. Measured 18.71 ± 1.51; bound 18.71 ± 0.3 (was 16.5 ... 20.5).
        MemoryCapacityTanh(4000, 5000, 2000, 400, 18.71);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MemoryCapacityOfTanhReservoirLongProtocol()
    {
        // ReservoirPy (same seeds): 18.50 ± 0.91. Measured 19.03 ± 1.52, 19.32 ± 3.34, 19.34 ± 2.24 on the three sets
        // (2,000 steps: 18.71, 18.99, 18.96); each held to ± 0.3 (was 16.5 ... 20.5 on the first set).
        MemoryCapacityTanh(4000, 5000, 20000, 5000, 19.03);
        MemoryCapacityTanh(500, 1500, 20000, 5000, 19.32);
        MemoryCapacityTanh(1000, 2500, 20000, 5000, 19.34);
        MemoryCapacityTanh(500, 1500, 2000, 400, 18.99);
        MemoryCapacityTanh(1000, 2500, 2000, 400, 18.96);
    }

    private void MemoryCapacityLinear(ulong firstSeed, int runs, double measuredMin)
    {
        var mc = Enumerable.Range(0, runs).Select(j => Protocols.MemoryCapacityLinear(firstSeed + (ulong)j, 20000, 5000, 1e-10).Sum()).ToArray();
        output.WriteLine($"MC linear orthogonal ρ = 0.95, 100 units, 20,000 steps, seeds {firstSeed}-{firstSeed + (ulong)runs - 1}: " +
            $"{mc.Average():F2} ± {ReservoirMetrics.StandardDeviation(mc):F2} ({string.Join(" ", mc.Select(x => x.ToString("F2")))})");
        // At least the measured minimum less 0.3, never above N (+ the estimator's K/test bias).
        Assert.All(mc, v => Assert.InRange(v, measuredMin - 0.3, 100 + 200.0 / 5000));
    }

    [Fact]
    public void MemoryCapacityOfLinearOrthogonalReservoirIsAbove98()
    {
        // Seed 1: measured 98.63; bound 98.33 (was 80).
        MemoryCapacityLinear(1, 1, 98.63);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MemoryCapacityOfLinearOrthogonalReservoirOverThreeSeedSets()
    {
        // Measured 98.77 ± 0.36 (seeds 1-10, min 97.96), 98.72 ± 0.27 (500-509, min 98.37), 98.76 ± 0.12 (1000-1009,
        // min 98.54); every run held to its set's minimum less 0.3 (was 80).
        MemoryCapacityLinear(1, 10, 97.96);
        MemoryCapacityLinear(500, 10, 98.37);
        MemoryCapacityLinear(1000, 10, 98.54);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(12)]
    public void MemoryCapacityNeverExceedsTheNumberOfUnits(int units)
    {
        // A linear orthogonal reservoir near its bound, with many more delays than units: the metric must saturate at N.
        var r2 = Protocols.MemoryCapacityLinear(3, 22000, 20000, 1e-12, units, 60);
        double mc = r2.Sum();
        output.WriteLine($"N = {units}: MC = {mc:F3}");
        Assert.All(r2, v => Assert.InRange(v, 0, 1));
        Assert.InRange(mc, units * 0.8, units + 60.0 / 20000 * 3);
    }

    [Fact]
    public void DivergingFreeRunsAreReportedWithTheirStep()
    {
        var s = Protocols.MgSeries;
        double sigma = Protocols.Sigma(s);
        var reservoir = Reservoir<double>.Create(new ReservoirOptions { Units = 200, LeakRate = 0.5, SpectralRadius = 1.0, InputScaling = 0.5, Connectivity = 0.05, Seed = 3 });
        var readout = new RidgeReadout<double>(200, 1, 1e-8);
        var esn = new EchoStateNetwork<double>(reservoir, readout);
        var state = esn.CreateState();
        esn.Train(state, s.AsSpan(0, 2000), s.AsSpan(1, 2000), 200);
        var pred = new double[500];
        esn.Generate(state.Clone(), pred);
        var good = ReservoirMetrics.FreeRun(pred.AsSpan(0, 20), s.AsSpan(2000, 20), sigma);
        Assert.False(good.Diverged);

        // A readout whose weights are off by 30 % leaves the attractor: reported as diverged, with the step.
        for (int i = 0; i < readout.Weights.Length; i++)
        {
            readout.Weights[i] *= 1.3;
        }

        esn.Generate(state.Clone(), pred);
        var bad = ReservoirMetrics.FreeRun(pred, s.AsSpan(2000, 500), sigma);
        output.WriteLine(bad.ToString());
        Assert.True(bad.Diverged);
        Assert.NotNull(bad.DivergenceStep);
        Assert.True(bad.At(bad.DivergenceStep!.Value) > 1);
        Assert.True(bad.DivergenceStep == 1 || bad.At(bad.DivergenceStep.Value - 1) <= 1);
        Assert.Contains("diverged at step", bad.ToString());

        var synthetic = ReservoirMetrics.FreeRun([0.0, 0.1, 5.0, 0.0], [0.0, 0.0, 0.0, 0.0], 1.0);
        Assert.Equal(3, synthetic.DivergenceStep);
    }
}
