using MathNet.Numerics.LinearAlgebra;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;
using RecurrentNets.Optimizers;

namespace ForecastingSample;

/// <summary>The experiment's sizes (the command-line options).</summary>
internal sealed record ForecastSettings
{
    public string Cell { get; init; } = "lstm";
    public int Hidden { get; init; } = 64;
    public int Epochs { get; init; } = 30;
    public ulong Seed { get; init; } = 1;
    public int Window { get; init; } = 48;
    public int Horizon { get; init; } = 12;
    public int Length { get; init; } = 12_000;
    public double Noise { get; init; } = 0.05;
    public int TrainStride { get; init; } = 1;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 3e-3;
    public int Patience { get; init; } = 5;
}

/// <summary>
/// The noisy Lorenz series split chronologically 70 / 15 / 15 % into training, validation and test parts, normalised
/// with statistics of the training part only, and windowed: W observed steps of (x, y, z) predict the next H steps of
/// all three. Legend: W = window, H = horizon, F = 3 features.
/// </summary>
internal sealed class LorenzForecastData
{
    public const int Features = 3;
    public static readonly string[] Names = ["x", "y", "z"];

    public LorenzForecastData(ForecastSettings settings)
    {
        (Window, Horizon) = (settings.Window, settings.Horizon);

        // Observation noise of sd = noise · (the variable's sd) on a clean RK4 trajectory, sampled every 0.02 time units.
        double[] lorenz = LorenzSeries.Generate(settings.Length);
        var random = new SeededRandom(settings.Seed + 1000);
        Clean = new float[settings.Length, Features];
        var observed = new float[settings.Length, Features];
        for (int f = 0; f < Features; f++)
        {
            double mean = 0, squares = 0;
            for (int n = 0; n < settings.Length; n++)
            {
                mean += lorenz[3 * n + f] / settings.Length;
            }

            for (int n = 0; n < settings.Length; n++)
            {
                squares += (lorenz[3 * n + f] - mean) * (lorenz[3 * n + f] - mean);
            }

            double noise = settings.Noise * Math.Sqrt(squares / settings.Length);
            for (int n = 0; n < settings.Length; n++)
            {
                Clean[n, f] = (float)lorenz[3 * n + f];
                observed[n, f] = (float)(lorenz[3 * n + f] + noise * random.NextNormal());
            }
        }

        var (train, rest) = TimeSeriesWindows.Split(observed, 0.7);
        var (validation, test) = TimeSeriesWindows.Split(rest, 0.5);
        Normalizer = Normalizer<float>.Fit(train);
        (TrainPart, TestPart, TestStart) = (Normalizer.Transform(train), test, train.GetLength(0) + validation.GetLength(0));
        Train = TimeSeriesWindows.Create(TrainPart, Window, Horizon, stride: settings.TrainStride);
        Validation = TimeSeriesWindows.Create(Normalizer.Transform(validation), Window, Horizon);
        Test = TimeSeriesWindows.Create(Normalizer.Transform(test), Window, Horizon);
    }

    public int Window { get; }
    public int Horizon { get; }

    /// <summary>The noise-free trajectory, [N, 3] in original units (for the figure only).</summary>
    public float[,] Clean { get; }

    /// <summary>Fitted on the training part only.</summary>
    public Normalizer<float> Normalizer { get; }

    /// <summary>The normalised training part, [Ntrain, 3].</summary>
    public float[,] TrainPart { get; }

    /// <summary>The held-out test part, [Ntest, 3] in original units; test window i covers its rows i .. i + W + H - 1.</summary>
    public float[,] TestPart { get; }

    /// <summary>The row of the whole series where the test part starts.</summary>
    public int TestStart { get; }

    public SequenceDataset<float> Train { get; }
    public SequenceDataset<float> Validation { get; }

    /// <summary>Every test window (stride 1), normalised.</summary>
    public SequenceDataset<float> Test { get; }

    /// <summary>The true future of test window i, [H·3] laid out [H, 3], in original units.</summary>
    public float[] TestTarget(int i) => Rows(TestPart, i + Window, Horizon);

    /// <summary>Persistence: the last observed row of test window i repeated H times, [H·3].</summary>
    public float[] Persistence(int i)
    {
        var forecast = new float[Horizon * Features];
        for (int h = 0; h < Horizon; h++)
        {
            Rows(TestPart, i + Window - 1, 1).CopyTo(forecast, h * Features);
        }

        return forecast;
    }

    /// <summary>The noise-free future of test window i, [H·3]: its error against the observations is the noise floor.</summary>
    public float[] NoiseFree(int i) => Rows(Clean, TestStart + i + Window, Horizon);

    /// <summary>Rows [start, start + count) of a [N, 3] series, flattened.</summary>
    public static float[] Rows(float[,] series, int start, int count)
    {
        var rows = new float[count * Features];
        Buffer.BlockCopy(series, start * Features * sizeof(float), rows, 0, rows.Length * sizeof(float));
        return rows;
    }
}

/// <summary>The forecasters: the recurrent model, a ridge-regression linear baseline, and their errors.</summary>
internal static class Forecaster
{
    /// <summary>A recurrent layer on the window, its last step, a linear head to the H·3 outputs; MSE in normalised units.
    /// The normaliser, window and horizon go into the metadata, so the saved file is the whole forecaster.</summary>
    public static SequenceModel<float> Create(ForecastSettings settings, Normalizer<float> normalizer)
    {
        var model = new SequenceModel<float>(LorenzForecastData.Features, settings.Seed)
            .Add(settings.Cell == "gru" ? Layer.Gru(settings.Hidden) : Layer.Lstm(settings.Hidden))
            .Add(Layer.LastStep())
            .Add(Layer.Linear(settings.Horizon * LorenzForecastData.Features));
        model.Compile(new MeanSquaredError<float>(), p => new Adam<float>(p, settings.LearningRate), new MeanAbsoluteError<float>());
        model.Normalizer = normalizer;
        model.Metadata["window"] = settings.Window.ToString(System.Globalization.CultureInfo.InvariantCulture);
        model.Metadata["horizon"] = settings.Horizon.ToString(System.Globalization.CultureInfo.InvariantCulture);
        model.Metadata["features"] = string.Join(",", LorenzForecastData.Names);
        return model;
    }

    /// <summary>The model's forecasts of every window of a normalised data set, [N][H·3] in original units, with the
    /// normaliser read back from the model's own metadata.</summary>
    public static float[][] Forecast(SequenceModel<float> model, SequenceDataset<float> windows)
    {
        var normalizer = model.Normalizer!;
        var forecasts = model.Predict(windows, batchSize: 256);
        foreach (var forecast in forecasts)
        {
            normalizer.InverseTargets(forecast, [0, 1, 2]);
        }

        return forecasts;
    }

    /// <summary>A linear autoregression: ridge regression from the W·3 normalised inputs of a window (and a bias) to its
    /// H·3 targets, fitted on every training window; returns its forecasts of the test windows in original units.</summary>
    public static float[][] LinearBaseline(LorenzForecastData data, double ridge = 1e-4)
    {
        int inputs = data.Window * LorenzForecastData.Features + 1, outputs = data.Horizon * LorenzForecastData.Features;
        int windows = data.TrainPart.GetLength(0) - data.Window - data.Horizon + 1;
        var x = Matrix<double>.Build.Dense(windows, inputs);
        var y = Matrix<double>.Build.Dense(windows, outputs);
        for (int i = 0; i < windows; i++)
        {
            x.SetRow(i, Features(LorenzForecastData.Rows(data.TrainPart, i, data.Window)));
            y.SetRow(i, Array.ConvertAll(LorenzForecastData.Rows(data.TrainPart, i + data.Window, data.Horizon), v => (double)v));
        }

        var gram = x.TransposeThisAndMultiply(x) + ridge * windows * Matrix<double>.Build.DenseIdentity(inputs);
        var weights = gram.Cholesky().Solve(x.TransposeThisAndMultiply(y));     // [inputs, outputs]
        var normalized = data.Normalizer.Transform(data.TestPart);
        var forecasts = new float[data.Test.Count][];
        for (int i = 0; i < forecasts.Length; i++)
        {
            var row = weights.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(Features(LorenzForecastData.Rows(normalized, i, data.Window))));
            forecasts[i] = Array.ConvertAll(row.ToArray(), v => (float)v);
            data.Normalizer.InverseTargets(forecasts[i], [0, 1, 2]);
        }

        return forecasts;

        static double[] Features(float[] window) => [.. window.Select(v => (double)v), 1.0];
    }

    /// <summary>MAE and RMSE of each horizon step h = 1..H over every test window and the three variables, in original units.</summary>
    public static (double[] Mae, double[] Rmse) Errors(LorenzForecastData data, IReadOnlyList<float[]> forecasts)
    {
        int f = LorenzForecastData.Features;
        double[] mae = new double[data.Horizon], rmse = new double[data.Horizon];
        for (int i = 0; i < forecasts.Count; i++)
        {
            var truth = data.TestTarget(i);
            for (int k = 0; k < truth.Length; k++)
            {
                double e = forecasts[i][k] - truth[k];
                mae[k / f] += Math.Abs(e);
                rmse[k / f] += e * e;
            }
        }

        double count = (double)forecasts.Count * f;
        for (int h = 0; h < data.Horizon; h++)
        {
            mae[h] /= count;
            rmse[h] = Math.Sqrt(rmse[h] / count);
        }

        return (mae, rmse);
    }
}
