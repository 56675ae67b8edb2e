using RecurrentNets.Data;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Tests.Reservoirs;

/// <summary>The benchmark protocols of ../shared/peers/reservoirpy/bench.py, on this library.</summary>
internal static class Protocols
{
    private static double[]? mgSeries;

    /// <summary>tanh(x - 1) of ReservoirPy's MG series, constant history 1.2, 1,000 samples dropped, 30,000 kept.</summary>
    public static double[] MgSeries => mgSeries ??= MackeyGlassSeries.Squash(MackeyGlassSeries.ReservoirPy(30000));

    public sealed record MgRun(double OneStepNrmse, double[][] ForkErrors); // ForkErrors[fork][k-1], raw error

    /// <summary>
    /// One MG run of bench.py: offset o, reservoir seed; washout 1,000, training 3,000; teacher-forced test of 1,000
    /// steps with a free run of <paramref name="horizon"/> steps from the end of training and every 100 steps.
    /// Returns one result per ridge (the Gram is accumulated once).
    /// </summary>
    public sealed record MgParams(double LeakRate = 0.5, double SpectralRadius = 1.0, double InputScaling = 0.5, double Bias = 0.0);

    public static MgRun[] MackeyGlassRun(int offset, ulong seed, double[] ridges, int forks, int horizon, int units = 1000,
        MgParams? p = null, int every = 100)
    {
        p ??= new MgParams();
        var s = MgSeries;
        var reservoir = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = units,
            LeakRate = p.LeakRate,
            SpectralRadius = p.SpectralRadius,
            InputScaling = p.InputScaling,
            BiasScaling = p.Bias,
            InputConnectivity = 1.0,
            Connectivity = 0.01,
            Seed = seed,
        });
        var readout = new RidgeReadout<double>(units, 1, ridges[0]);
        var esn = new EchoStateNetwork<double>(reservoir, readout);
        const int washout = 1000, nTf = 4000;
        int test = Math.Max(1000, forks * every);
        var state = esn.CreateState();
        esn.Train(state, s.AsSpan(offset, nTf), s.AsSpan(offset + 1, nTf), washout, fit: false);
        var results = new MgRun[ridges.Length];
        var pred = new double[horizon];
        var oneStep = new double[test];
        for (int r = 0; r < ridges.Length; r++)
        {
            readout.Fit(ridges[r]);
            var st = state.Clone();
            var errs = new double[forks][];
            for (int f = 0; f < forks; f++)
            {
                int pos = offset + nTf + f * every;
                var fork = st.Clone();
                esn.Generate(fork, pred);
                errs[f] = new double[horizon];
                for (int k = 0; k < horizon; k++)
                {
                    errs[f][k] = pred[k] - s[pos + k];
                }

                if (f + 1 < forks)
                {
                    esn.Force(st, s.AsSpan(pos, every), s.AsSpan(pos, every), default);
                }
            }

            // One-step predictions over the whole teacher-forced test part.
            var st2 = state.Clone();
            esn.Force(st2, s.AsSpan(offset + nTf, test), s.AsSpan(offset + nTf, test), oneStep);
            double oneStepNrmse = ReservoirMetrics.Nrmse(oneStep, s.AsSpan(offset + nTf + 1, test), Sigma(s));
            results[r] = new MgRun(oneStepNrmse, errs);
        }

        return results;
    }

    /// <summary>
    /// The Mackey-Glass run of <see cref="MackeyGlassRun"/> with the whole network in float32 (state, weights, readout
    /// input; the Gram is accumulated in double as always): offset o, reservoir seed, washout 1,000, training 3,000, bias
    /// U(±0.2), one free run of <paramref name="horizon"/> steps from the end of training per ridge. Returns the raw
    /// errors of each ridge's free run.
    /// </summary>
    public static double[][] MackeyGlassFloatRun(int offset, ulong seed, double[] ridges, int horizon)
    {
        var s = MgSeries;
        var sf = s.Select(v => (float)v).ToArray();
        var reservoir = Reservoir<float>.Create(new ReservoirOptions
        {
            Units = 1000, LeakRate = 0.5, SpectralRadius = 1.0, InputScaling = 0.5, BiasScaling = 0.2, Connectivity = 0.01, Seed = seed,
        });
        var readout = new RidgeReadout<float>(1000, 1, ridges[0]);
        var esn = new EchoStateNetwork<float>(reservoir, readout);
        var state = esn.CreateState();
        esn.Train(state, sf.AsSpan(offset, 4000), sf.AsSpan(offset + 1, 4000), 1000, fit: false);
        var pred = new float[horizon];
        var errs = new double[ridges.Length][];
        for (int r = 0; r < ridges.Length; r++)
        {
            readout.Fit(ridges[r]);
            esn.Generate(state.Clone(), pred);
            errs[r] = new double[horizon];
            for (int k = 0; k < horizon; k++)
            {
                errs[r][k] = pred[k] - s[offset + 4000 + k];
            }
        }

        return errs;
    }

    private static double? sigma;

    public static double Sigma(double[] s) => sigma ??= ReservoirMetrics.StandardDeviation(s);

    /// <summary>NARMA-10 test NRMSE of bench.py's protocol: washout 200, train 5,000, test 2,000, readout on [x, u].</summary>
    public static double[] Narma(int units, ulong reservoirSeed, ulong dataSeed, double[] ridges)
    {
        const int washout = 200, train = 5000, test = 2000;
        var (u, y) = NarmaSeries.Generate(washout + train + test, dataSeed);
        bool big = units >= 400;
        var reservoir = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = units,
            LeakRate = 1.0,
            SpectralRadius = big ? 0.9 : 0.8,
            InputScaling = big ? 0.01 : 0.03,
            InputConnectivity = 1.0,
            Connectivity = 0.1,
            BiasScaling = big ? 0.2 : 0.5,
            Seed = reservoirSeed,
        });
        var readout = new RidgeReadout<double>(units + 1, 1, ridges[0]);
        var esn = new EchoStateNetwork<double>(reservoir, readout, ReadoutFeatures.InputAndState);
        var state = esn.CreateState();
        esn.Train(state, u.AsSpan(0, washout + train), y.AsSpan(0, washout + train), washout, fit: false);
        var result = new double[ridges.Length];
        var pred = new double[test];
        for (int r = 0; r < ridges.Length; r++)
        {
            readout.Fit(ridges[r]);
            var st = state.Clone();
            esn.Run(st, u.AsSpan(washout + train, test), pred);
            result[r] = ReservoirMetrics.Nrmse(pred, y.AsSpan(washout + train, test));
        }

        return result;
    }

    private static double[]? jaegerSeries;
    private static double? jaegerSigma;

    /// <summary>Samples of one run of Jaeger's protocol: 3,000 training steps, then 20 test blocks of 1,084.</summary>
    public const int JaegerStretch = 3000 + 20 * 1084;

    /// <summary>Jaeger's series (Euler 0.1 subsampled by 10, 1,000 samples dropped), squashed: ten consecutive stretches of <see cref="JaegerStretch"/>.</summary>
    public static double[] JaegerSeries => jaegerSeries ??= MackeyGlassSeries.Squash(MackeyGlassSeries.Jaeger(10 * JaegerStretch));

    /// <summary>
    /// Jaeger 2001 (GMD Report 148 §6): 400 leaky units (C = 0.44, a = 0.9), W 1.25 % dense with ±0.4 weights scaled to
    /// ρ = 0.79, constant input 0.2 with weights 0/±0.14, output feedback U[-0.56, 0.56]; teacher-forced training from a
    /// zero state, 1,000 washout + 2,000 training steps; test blocks: 1,000 teacher-forced steps from a zero state, then
    /// 84 free-running steps; NRMSE84 in original coordinates with σ² = 0.067.
    /// The run uses the <paramref name="stretch"/>-th stretch of <see cref="JaegerStretch"/> samples of the series (0: the
    /// first 3,000 samples train, the next 20 × 1,084 test). Returns NRMSE84, the worst block's |err84|/σ and whether any
    /// block diverged.
    /// </summary>
    public static (double Nrmse84, double Worst, bool Diverged) Jaeger(int units, ulong seed, double ridge, int blocks, int stretch = 0) =>
        JaegerTest(JaegerNetwork(units, seed, new RidgeReadout<double>(units, 1, ridge), stretch), blocks, stretch);

    /// <summary>
    /// Jaeger's network (see <see cref="Jaeger"/>) with reservoir <paramref name="seed"/>, its readout trained on the
    /// first 3,000 samples of stretch <paramref name="stretch"/> (1,000 washout + 2,000 training steps).
    /// </summary>
    public static EchoStateNetwork<double> JaegerNetwork(int units, ulong seed, IOfflineReadout<double> readout, int stretch)
    {
        CheckStretch(stretch, 20);
        var s = JaegerSeries.AsSpan(stretch * JaegerStretch, JaegerStretch);
        var reservoir = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = units,
            Inputs = 1,
            FeedbackSize = 1,
            Connectivity = 0.0125,
            RecurrentDistribution = WeightDistribution.Bernoulli,
            SpectralRadius = 0.79,
            LeakRate = 0.44 * 0.9,
            ActivationGain = 0.44,
            InputScaling = 0.14,
            InputConnectivity = 0.5,
            FeedbackScaling = 0.56,
            FeedbackDistribution = WeightDistribution.Uniform,
            Seed = seed,
        });
        var esn = new EchoStateNetwork<double>(reservoir, readout);
        var input = new double[3000];
        Array.Fill(input, 0.2);
        esn.Train(esn.CreateState(), input, s[..3000], 1000);
        return esn;
    }

    /// <summary>
    /// NRMSE84 of a trained network on the first <paramref name="blocks"/> test blocks of stretch
    /// <paramref name="stretch"/> (samples 3,000 + b·1,084 of the stretch: 1,000 forced from a zero state, 84 free).
    /// </summary>
    public static (double Nrmse84, double Worst, bool Diverged) JaegerTest(EchoStateNetwork<double> esn, int blocks, int stretch)
    {
        CheckStretch(stretch, blocks);
        var s = JaegerSeries.AsSpan(stretch * JaegerStretch, JaegerStretch);
        double divergenceSigma = jaegerSigma ??= ReservoirMetrics.StandardDeviation(JaegerSeries);
        const double sigma = 0.2588; // sqrt(0.067)
        double ss = 0, worst = 0;
        bool diverged = false;
        var forced = new double[1000];
        Array.Fill(forced, 0.2);
        var free = new double[84];
        var freeIn = new double[84];
        Array.Fill(freeIn, 0.2);
        for (int b = 0; b < blocks; b++)
        {
            int start = 3000 + b * 1084;
            var state = esn.CreateState();
            esn.Force(state, forced, s.Slice(start, 1000), default);
            esn.RunFree(state, freeIn, free);
            double p = Math.Clamp(free[83], -0.999999, 0.999999);
            double e = MackeyGlassSeries.Unsquash(p) - MackeyGlassSeries.Unsquash(s[start + 1083]);
            var report = ReservoirMetrics.FreeRun(free, s.Slice(start + 1000, 84), divergenceSigma);
            diverged |= report.Diverged;
            ss += e * e;
            worst = Math.Max(worst, Math.Abs(e) / sigma);
        }

        return (Math.Sqrt(ss / blocks) / sigma, worst, diverged);
    }

    private static void CheckStretch(int stretch, int blocks)
    {
        if (blocks < 1 || blocks > 20 || stretch < 0 || stretch >= 10)
        {
            throw new ArgumentOutOfRangeException(nameof(stretch), $"a run uses one of 10 stretches with 1 to 20 blocks (stretch {stretch}, {blocks} blocks)");
        }
    }

    /// <summary>One reservoir of a validation selection: its seed, its validation NRMSE84 and whether a validation block diverged.</summary>
    public sealed record JaegerCandidate(ulong Seed, double Validation, bool Diverged);

    /// <summary>
    /// The outcome of <see cref="JaegerSelect"/>: every candidate, the chosen one, and NRMSE84 on each test stretch (same
    /// order as the test stretches given) of the chosen network itself (<see cref="Frozen"/>: readout unchanged) and of the
    /// chosen reservoir run through the whole protocol on the stretch (<see cref="Retrained"/>: readout trained on the
    /// stretch's first 3,000 samples, as Jaeger's test blocks follow his training data).
    /// </summary>
    public sealed record JaegerSelection(JaegerCandidate[] Candidates, JaegerCandidate Chosen, double[] Frozen, double[] Retrained, bool TestDiverged);

    /// <summary>Upper median (element n/2 of the sorted values).</summary>
    public static double UpperMedian(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v[v.Length / 2];
    }

    /// <summary>
    /// Model selection on validation data, as one would pick "one network": every seed's network is trained on the first
    /// 3,000 samples of <paramref name="validationStretch"/> and scored on that stretch's <paramref name="blocks"/> test
    /// blocks; the lowest NRMSE84 without a diverged block wins (ties: the first seed). The choice is then scored on each
    /// of <paramref name="testStretches"/>, which it never saw, frozen and, with <paramref name="retrain"/>, retrained (see
    /// <see cref="JaegerSelection"/>; without it <see cref="JaegerSelection.Retrained"/> is empty).
    /// </summary>
    public static JaegerSelection JaegerSelect(IReadOnlyList<ulong> seeds, Func<IOfflineReadout<double>> readout, int blocks,
        int validationStretch, IReadOnlyList<int> testStretches, bool retrain = true, int units = 400)
    {
        if (testStretches.Contains(validationStretch))
        {
            throw new ArgumentException($"stretch {validationStretch} is both the validation and a test stretch", nameof(testStretches));
        }

        var candidates = new JaegerCandidate[seeds.Count];
        EchoStateNetwork<double>? best = null;
        JaegerCandidate? chosen = null;
        for (int i = 0; i < seeds.Count; i++)
        {
            var esn = JaegerNetwork(units, seeds[i], readout(), validationStretch);
            var (v, _, diverged) = JaegerTest(esn, blocks, validationStretch);
            candidates[i] = new JaegerCandidate(seeds[i], v, diverged);
            if (!diverged && double.IsFinite(v) && (chosen is null || v < chosen.Validation))
            {
                chosen = candidates[i];
                best = esn;
            }
        }

        if (chosen is null)
        {
            throw new InvalidOperationException("every candidate network diverged on the validation blocks");
        }

        var frozen = new double[testStretches.Count];
        var retrained = new double[retrain ? testStretches.Count : 0];
        bool testDiverged = false;
        for (int k = 0; k < frozen.Length; k++)
        {
            var (t, _, d) = JaegerTest(best!, blocks, testStretches[k]);
            frozen[k] = t;
            testDiverged |= d;
            if (retrain)
            {
                (retrained[k], _, bool dr) = JaegerTest(JaegerNetwork(units, chosen.Seed, readout(), testStretches[k]), blocks, testStretches[k]);
                testDiverged |= dr;
            }
        }

        return new JaegerSelection(candidates, chosen, frozen, retrained, testDiverged);
    }

    /// <summary>ReservoirPy's docstring settings: 100 tanh units, lr 1, sr 1, input scaling 1, input connectivity 0.1,
    /// connectivity 0.1, ridge 1e-4; u ~ U[-0.8, 0.8]; k = 1..200.</summary>
    public static double[] MemoryCapacityTanh(ulong reservoirSeed, ulong dataSeed, int length, int test)
    {
        var reservoir = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = 100,
            LeakRate = 1.0,
            SpectralRadius = 1.0,
            InputScaling = 1.0,
            InputConnectivity = 0.1,
            Connectivity = 0.1,
            Seed = reservoirSeed,
        });
        return ReservoirMetrics.MemoryCapacity(reservoir, Uniform(length, dataSeed), 200, test, 1e-4);
    }

    /// <summary>A linear reservoir with a random orthogonal W scaled to 0.95 (White, Lee &amp; Sompolinsky 2004).</summary>
    public static double[] MemoryCapacityLinear(ulong seed, int length, int test, double ridge, int units = 100, int maxDelay = 200)
    {
        var reservoir = Reservoir<double>.Create(new ReservoirOptions
        {
            Units = units,
            Activation = Activation.Identity,
            Recurrent = new OrthogonalInitializer(),
            SpectralRadius = 0.95,
            InputScaling = 0.1,
            InputConnectivity = 1.0,
            InputDistribution = WeightDistribution.Normal,
            Seed = seed,
        });
        return ReservoirMetrics.MemoryCapacity(reservoir, Uniform(length, seed + 100), maxDelay, test, ridge);
    }

    public static double[] Uniform(int length, ulong seed)
    {
        var random = new Init.SeededRandom(seed);
        var u = new double[length];
        for (int i = 0; i < length; i++)
        {
            u[i] = random.NextUniform(-0.8, 0.8);
        }

        return u;
    }
}
