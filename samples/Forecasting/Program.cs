using System.CommandLine;
using ForecastingSample;

var cell = new Option<string>("--cell") { Description = "Recurrent layer: lstm or gru.", DefaultValueFactory = _ => "lstm" };
cell.AcceptOnlyFromAmong("lstm", "gru");
var hidden = new Option<int>("--hidden") { Description = "Hidden units.", DefaultValueFactory = _ => 64 };
var epochs = new Option<int>("--epochs") { Description = "Epochs at most (early stopping, patience 5, keeps the best).", DefaultValueFactory = _ => 30 };
var seed = new Option<ulong>("--seed") { Description = "Seed of the weights, the shuffling and the noise.", DefaultValueFactory = _ => 1UL };
var window = new Option<int>("--window") { Description = "Observed steps per input window W.", DefaultValueFactory = _ => 48 };
var horizon = new Option<int>("--horizon") { Description = "Steps ahead to forecast H.", DefaultValueFactory = _ => 12 };
var noise = new Option<double>("--noise") { Description = "Observation noise, as a fraction of each variable's standard deviation.", DefaultValueFactory = _ => 0.05 };
var save = new Option<FileInfo?>("--save") { Description = "Save the trained forecaster (weights, architecture, normaliser) to this safetensors file." };
var markdown = new Option<FileInfo?>("--markdown") { Description = "Also write the error table as Markdown to this file (for the docs)." };
var output = new Option<DirectoryInfo>("--output") { Description = "Folder for the PNG.", DefaultValueFactory = _ => new DirectoryInfo(".") };
foreach (var option in new[] { hidden, epochs, window, horizon })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

var root = new RootCommand(
    "Multi-step forecasting of the Lorenz system (x, y, z) with observation noise: an LSTM or GRU reads W observed steps "
    + "and predicts the next H steps of all three variables. Chronological 70/15/15 split, normaliser fitted on the "
    + "training part only, early stopping with the best weights restored; MAE and RMSE per horizon step on the held-out "
    + "final part against persistence and a linear autoregression, and a PNG of one held-out forecast.")
{
    cell, hidden, epochs, seed, window, horizon, noise, save, output, markdown,
};
root.SetAction(parse => ForecastApp.Run(
    new ForecastSettings
    {
        Cell = parse.GetValue(cell)!, Hidden = parse.GetValue(hidden), Epochs = parse.GetValue(epochs), Seed = parse.GetValue(seed),
        Window = parse.GetValue(window), Horizon = parse.GetValue(horizon), Noise = parse.GetValue(noise),
    },
    parse.GetValue(save), parse.GetValue(output)!, parse.GetValue(markdown)));
return root.Parse(args).Invoke();
