using RecurrentNets.Cells;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Serialization;
using RecurrentNets.Tensors;
using RecurrentNets.Tests.Models;

namespace RecurrentNets.Tests.Sequence;

/// <summary>
/// The layer-normalised LSTM and GRU (Ba, Kiros and Hinton 2016): a forward written here straight from the equations,
/// gradient checks in double with sequences of different lengths (the every-loss, stack and bidirectional checks run in
/// <see cref="CellGradientTests"/>, the padded-batch checks in <see cref="VariableLengthTests"/>), the same bits on one and
/// two threads, the parameter names, and persistence.
/// </summary>
public class LayerNormCellTests
{
    /// <summary>Gains 1 + U(-0.4, 0.4) and biases U(-0.4, 0.4), so the checks do not run at the identity start.</summary>
    internal static RecurrentLayer<double> Perturb(RecurrentLayer<double> layer, SeededRandom random)
    {
        foreach (var cell in layer.Cells)
        {
            foreach (var view in cell.Parameters.Where(v => v.Name.StartsWith("ln_", StringComparison.Ordinal)))
            {
                bool gain = view.Name.Contains("_weight", StringComparison.Ordinal);
                Initializers.Uniform(view.Values, gain ? 0.6 : -0.4, gain ? 1.4 : 0.4, random);
            }
        }

        return layer;
    }

    private static RecurrentLayer<T> Build<T>(bool lstm, int inputSize, int hidden, int layers, bool bidirectional, SeededRandom random,
        MergeMode mergeMode = MergeMode.Concat, bool goBackwards = false)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => lstm
            ? new LayerNormLstm<T>(inputSize, hidden, layers, random, bidirectional: bidirectional, mergeMode: mergeMode, goBackwards: goBackwards)
            : new LayerNormGru<T>(inputSize, hidden, layers, random, bidirectional: bidirectional, mergeMode: mergeMode, goBackwards: goBackwards);

    [Theory]
    [InlineData(true, false, MergeMode.Concat, false)]
    [InlineData(true, true, MergeMode.Concat, false)]
    [InlineData(false, false, MergeMode.Concat, false)]
    [InlineData(false, true, MergeMode.Concat, false)]
    [InlineData(true, true, MergeMode.Sum, false)]
    [InlineData(false, true, MergeMode.Multiply, false)]
    [InlineData(true, false, MergeMode.Concat, true)]
    [InlineData(false, false, MergeMode.Concat, true)]
    public void GradientsWithSequencesOfDifferentLengthsMatchFiniteDifferences(bool lstm, bool bidirectional, MergeMode mergeMode, bool goBackwards)
    {
        const int steps = 6, batch = 3, inputSize = 3, hidden = 5;
        var random = new SeededRandom(17);
        var layer = Build<double>(lstm, inputSize, hidden, 2, bidirectional, random, mergeMode, goBackwards);
        Assert.Equal(mergeMode, layer.MergeMode);
        Assert.Equal(goBackwards, layer.GoBackwards);
        Perturb(layer, random);
        var x = EngineTests.Random(random, steps, batch, inputSize);
        var w = EngineTests.Random(random, steps, batch, layer.OutputSize);
        var h0 = layer.CreateState(batch);
        EngineTests.Fill(h0, random, 0.5);
        var weights = layer.CreateState(batch);
        EngineTests.Fill(weights, random, 1);
        var y = new Tensor<double>(steps, batch, layer.OutputSize);
        var dy = new Tensor<double>(steps, batch, layer.OutputSize);
        var final = layer.CreateState(batch);
        var dx = new Tensor<double>(steps, batch, inputSize);
        int[] lengths = [6, 2, 4];

        // L = Σ w ⊙ y² + Σ v ⊙ h_n (+ Σ u ⊙ C_n).
        double LossAndBackward()
        {
            layer.Forward(x, y, h0, final, lengths);
            double loss = 0;
            for (int i = 0; i < y.Length; i++)
            {
                loss += w.Data[i] * y.Data[i] * y.Data[i];
                dy.Data[i] = 2 * w.Data[i] * y.Data[i];
            }

            for (int i = 0; i < final.Hidden.Length; i++)
            {
                loss += weights.Hidden.Data[i] * final.Hidden.Data[i] + (final.Cell is null ? 0 : weights.Cell!.Data[i] * final.Cell.Data[i]);
            }

            layer.Backward(dy, weights, dx);
            return loss;
        }

        var results = GradientCheck.CheckParameters(layer.Parameters, LossAndBackward);
        Assert.Equal(layer.Parameters.Views.Count, results.Count);
        Assert.Contains(results, r => r.Name == "ln_hh_bias_l1");
        // 1e-5, as CellGradientTests allows these cells: the normalisations curve the loss, so the central difference's
        // truncation error at step 1e-5 reaches 9e-6 on some parameters (goBackwards, the summed merge); at step 3e-6 it
        // falls below 1e-6, and below that rounding takes over on the small gradients. A wrong gradient is off by far more.
        foreach (var result in results)
        {
            Assert.True(result.MaxRelativeError < 1e-5, result.ToString());
        }

        LossAndBackward();
        var input = GradientCheck.Compare("x", x.Data, (double[])dx.Data.Clone(), LossAndBackward);
        Assert.True(input.MaxRelativeError < 1e-6, input.ToString());
    }

    // LN(z; α, β) over the whole vector, written out: α ⊙ (z - μ)/√(σ² + ε) + β.
    private static double[] Ln(double[] z, ReadOnlySpan<double> alpha, ReadOnlySpan<double> beta, double epsilon)
    {
        double mean = z.Average(), variance = z.Select(v => (v - mean) * (v - mean)).Average();
        var y = new double[z.Length];
        for (int j = 0; j < z.Length; j++)
        {
            y[j] = alpha[j] * (z[j] - mean) / Math.Sqrt(variance + epsilon) + beta[j];
        }

        return y;
    }

    // W v for W [rows, columns] stored row-major.
    private static double[] Times(ReadOnlySpan<double> w, double[] v)
    {
        var result = new double[w.Length / v.Length];
        for (int i = 0; i < result.Length; i++)
        {
            for (int j = 0; j < v.Length; j++)
            {
                result[i] += w[i * v.Length + j] * v[j];
            }
        }

        return result;
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ForwardMatchesTheEquationsWrittenOut(bool lstm)
    {
        const int steps = 5, batch = 3, inputSize = 4, hidden = 6;
        const double epsilon = 1e-5;
        var random = new SeededRandom(8);
        var layer = Perturb(Build<double>(lstm, inputSize, hidden, 1, false, random), random);
        var p = layer.Parameters;
        var x = EngineTests.Random(random, steps, batch, inputSize);
        var h0 = layer.CreateState(batch);
        EngineTests.Fill(h0, random, 0.5);
        var y = new Tensor<double>(steps, batch, hidden);
        var final = layer.CreateState(batch);
        layer.Forward(x, y, h0, final);

        double worst = 0;
        for (int b = 0; b < batch; b++)
        {
            double[] h = h0.Hidden.Row(0, b).ToArray(), c = lstm ? h0.Cell!.Row(0, b).ToArray() : [];
            for (int t = 0; t < steps; t++)
            {
                double[] a = Ln(Times(p["weight_ih_l0"].Values, x.Row(t, b).ToArray()), p["ln_ih_weight_l0"].Values, p["ln_ih_bias_l0"].Values, epsilon);
                double[] u = Ln(Times(p["weight_hh_l0"].Values, h), p["ln_hh_weight_l0"].Values, p["ln_hh_bias_l0"].Values, epsilon);
                var next = new double[hidden];
                if (lstm)
                {
                    // i, f, g, o = σ, σ, tanh, σ of a + u; C = f C + i g; h = o tanh(LN(C)).
                    for (int j = 0; j < hidden; j++)
                    {
                        c[j] = Sigmoid(a[hidden + j] + u[hidden + j]) * c[j] + Sigmoid(a[j] + u[j]) * Math.Tanh(a[2 * hidden + j] + u[2 * hidden + j]);
                    }

                    double[] lc = Ln(c, p["ln_c_weight_l0"].Values, p["ln_c_bias_l0"].Values, epsilon);
                    for (int j = 0; j < hidden; j++)
                    {
                        next[j] = Sigmoid(a[3 * hidden + j] + u[3 * hidden + j]) * Math.Tanh(lc[j]);
                    }
                }
                else
                {
                    // r, z = σ(a + u); n = tanh(a_n + r u_n); h = (1 - z) n + z h.
                    for (int j = 0; j < hidden; j++)
                    {
                        double r = Sigmoid(a[j] + u[j]), z = Sigmoid(a[hidden + j] + u[hidden + j]);
                        double n = Math.Tanh(a[2 * hidden + j] + r * u[2 * hidden + j]);
                        next[j] = (1 - z) * n + z * h[j];
                    }
                }

                h = next;
                for (int j = 0; j < hidden; j++)
                {
                    worst = Math.Max(worst, Math.Abs(h[j] - y[t, b, j]));
                }
            }

            for (int j = 0; j < hidden; j++)
            {
                worst = Math.Max(worst, Math.Abs(h[j] - final.Hidden[0, b, j]));
                if (lstm)
                {
                    worst = Math.Max(worst, Math.Abs(c[j] - final.Cell![0, b, j]));
                }
            }
        }

        Assert.True(worst < 1e-13, $"largest difference from the equations: {worst:E2}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheBatchSplitOverThreadsGivesTheSameBits(bool lstm)
    {
        var split = Run(lstm, threads: 2, out var plan);
        Assert.True(Environment.ProcessorCount < 2 || plan.Directions.All(d => d.Forward == LoopStrategy.BatchSplit), "the forward loops were not split");
        var serial = Run(lstm, threads: 1, out _);
        Assert.Equal(serial, split);
    }

    // Two bidirectional float layers at (T, B, H) = (10, 32, 48).
    private static float[][] Run(bool lstm, int threads, out ExecutionPlan plan)
    {
        var random = new SeededRandom(3);
        var layer = Build<float>(lstm, 16, 48, 2, true, random);
        layer.MaxDegreeOfParallelism = threads;
        return EngineTests.ForwardBackward(layer, random, 10, 32, out plan);
    }

    [Fact]
    public void ParametersHaveTheDocumentedNamesShapesAndStart()
    {
        var lstm = new LayerNormLstm<float>(3, 5, forgetBias: 1.0);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "ln_ih_weight_l0", "ln_ih_bias_l0", "ln_hh_weight_l0", "ln_hh_bias_l0", "ln_c_weight_l0", "ln_c_bias_l0"],
            lstm.Parameters.Views.Select(v => v.Name));
        var cell = (LayerNormLstmCell<float>)lstm.Cells[0];
        Assert.Equal([20], cell.InputNormWeight.Shape);
        Assert.Equal([5], cell.CellNormBias.Shape);
        Assert.Null(cell.BiasIH);
        Assert.All(cell.RecurrentNormWeight.Values.ToArray(), v => Assert.Equal(1f, v));
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 1f, 1f, 1f, 1f, 1f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f], cell.InputNormBias.Values.ToArray());
        Assert.Equal(18 * 5 + 3, cell.StepCacheWidth);

        var gru = new LayerNormGru<float>(3, 5, numLayers: 2, bidirectional: true);
        Assert.Equal(4 * 6, gru.Parameters.Views.Count);
        Assert.Contains("ln_hh_bias_l1_reverse", gru.Parameters.Views.Select(v => v.Name));
        Assert.Equal([15, 10], gru.Parameters["weight_ih_l1"].Shape);
        Assert.Equal([15], gru.Parameters["ln_ih_weight_l1"].Shape);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LayerNormGru<float>(3, 5, epsilon: 0));
        Assert.Equal("epsilon", error.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LayerNormLstm<float>(3, 5, epsilon: double.NaN));
    }

    [Fact]
    public void AModelOfBothCellsRoundTripsThroughSafetensorsAndFreezes()
    {
        var model = new SequenceModel<double>(3, seed: 5)
            .Add(Layer.LayerNormLstm(6, numLayers: 2, bidirectional: true, forgetBias: 1, epsilon: 1e-3))
            .Add(Layer.LayerNormGru(4, name: "gru"))
            .Add(Layer.Linear(2));
        Perturb(((RecurrentAdapter<double>)model.Layers[0]).Layer, new SeededRandom(6));
        var batch = SequenceModelTests.RandomBatch<double>(5, 3, 3, [5, 2, 4], seed: 7);
        Assert.Contains("gru.ln_hh_weight_l0", model.Parameters.Views.Select(v => v.Name));

        // The frozen model keeps the step cache of the normalisations (18H + 3 per row).
        var loaded = SequenceModelTests.AssertRoundTripsAndFreezes(model, batch, "layernorm");
        Assert.Contains("\"layer_norm_epsilon\":0.001", loaded.ArchitectureJson().Replace(" ", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ALayerRoundTripsThroughACheckpoint(bool lstm)
    {
        var random = new SeededRandom(2);
        var layer = Perturb(lstm
            ? new LayerNormLstm<double>(3, 4, 2, random, bidirectional: true, epsilon: 1e-4)
            : new LayerNormGru<double>(3, 4, 2, random, epsilon: 1e-4), random);
        string path = Path.Combine(Path.GetTempPath(), $"layernorm-layer-{lstm}-{Environment.ProcessId}.safetensors");
        try
        {
            Checkpoint.Save(path, layer);
            var loaded = Checkpoint.LoadLayer<double>(path);
            Assert.IsType(layer.GetType(), loaded);
            Assert.Equal(layer.Configuration, loaded.Configuration);
            Assert.Equal("0.0001", loaded.Configuration["layer_norm_eps"]);
            Assert.Equal(layer.Parameters.Values, loaded.Parameters.Values);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
