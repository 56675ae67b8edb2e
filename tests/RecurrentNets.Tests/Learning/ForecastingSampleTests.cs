using ForecastingSample;
using RecurrentNets.Models;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Learning;

/// <summary>
/// The Forecasting sample, small: a GRU trained for a few epochs on the noisy Lorenz system forecasts 6 steps ahead far
/// better than persistence, and its saved file alone (weights, architecture, normaliser) gives the same forecasts.
/// </summary>
public class ForecastingSampleTests(ITestOutputHelper output)
{
    [Fact]
    public void ASmallForecasterBeatsPersistenceAndItsFileStandsAlone()
    {
        var settings = new ForecastSettings { Cell = "gru", Hidden = 16, Epochs = 4, Window = 24, Horizon = 6, Length = 3000, TrainStride = 2, BatchSize = 32, LearningRate = 1e-2 };
        var data = new LorenzForecastData(settings);
        var model = Forecaster.Create(settings, data.Normalizer);
        var history = model.Fit(data.Train, data.Validation, new FitOptions { Epochs = settings.Epochs, BatchSize = settings.BatchSize, EarlyStoppingPatience = 2 });
        var forecasts = Forecaster.Forecast(model, data.Test);
        var (modelMae, _) = Forecaster.Errors(data, forecasts);
        var (persistenceMae, _) = Forecaster.Errors(data, [.. Enumerable.Range(0, data.Test.Count).Select(data.Persistence)]);
        var (linearMae, _) = Forecaster.Errors(data, Forecaster.LinearBaseline(data));
        output.WriteLine($"MAE at h=6: GRU {modelMae[^1]:F3}, linear {linearMae[^1]:F3}, persistence {persistenceMae[^1]:F3}; {string.Join("; ", history.Epochs)}");
        Assert.True(modelMae[^1] < 0.3 * persistenceMae[^1], $"GRU MAE {modelMae[^1]:F3} at h=6 is not 30 % of persistence's {persistenceMae[^1]:F3}.");
        Assert.True(linearMae[^1] < persistenceMae[^1], $"linear MAE {linearMae[^1]:F3} at h=6 is not below persistence's {persistenceMae[^1]:F3}.");

        string path = Path.Combine(Path.GetTempPath(), $"forecaster-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(path);
            var loaded = SequenceModel<float>.Load(path);
            Assert.Equal("24", loaded.Metadata["window"]);
            var reloaded = Forecaster.Forecast(loaded, data.Test);
            for (int i = 0; i < forecasts.Length; i++)
            {
                Assert.Equal(forecasts[i], reloaded[i]);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
