using System.CommandLine;
using GridCellsSample;
using RecurrentNets.Data;

var fullOption = new Option<bool>("--full")
{
    Description = "The length of Banino et al.'s released training run: 1,000,000 steps of 10 trajectories (days on two cores). "
        + "Explicit options override it.",
};
var stepsOption = new Option<int?>("--steps") { Description = "Adam steps per condition (default 1,000; 1,000,000 with --full)." };
var batchOption = new Option<int>("--batch") { Description = "Trajectories per step (Banino et al.: 10).", DefaultValueFactory = _ => 10 };
var timeStepsOption = new Option<int>("--time-steps") { Description = "Steps per trajectory (100 of 0.02 s).", DefaultValueFactory = _ => 100 };
var hiddenOption = new Option<int>("--hidden") { Description = "LSTM units.", DefaultValueFactory = _ => 128 };
var bottleneckOption = new Option<int>("--bottleneck") { Description = "Units of the linear layer g.", DefaultValueFactory = _ => 256 };
var dropoutOption = new Option<double>("--dropout")
{
    Description = "Dropout on g in the dropout condition (Banino et al.: 0.5; the course slide says 20%). The other condition uses 0.",
    DefaultValueFactory = _ => 0.5,
};
var learningRateOption = new Option<double>("--learning-rate") { Description = "Adam's learning rate.", DefaultValueFactory = _ => 3e-3 };
var clipOption = new Option<double>("--clip") { Description = "Gradient-norm clipping threshold.", DefaultValueFactory = _ => 1.0 };
var weightDecayOption = new Option<double>("--weight-decay") { Description = "L2 weight decay on all parameters (Adam).", DefaultValueFactory = _ => 0.0 };
var placeCellsOption = new Option<int>("--place-cells") { Description = "Place cells.", DefaultValueFactory = _ => 256 };
var placeVarianceOption = new Option<double>("--place-variance") { Description = "σ² of the place cells (m²).", DefaultValueFactory = _ => 0.01 };
var hdCellsOption = new Option<int>("--hd-cells") { Description = "Head-direction cells.", DefaultValueFactory = _ => 12 };
var kappaOption = new Option<double>("--kappa") { Description = "Concentration κ of the head-direction cells.", DefaultValueFactory = _ => 20.0 };
var speedOption = new Option<double>("--speed-scale")
{
    Description = "Rayleigh scale of the speed, m/s (0.13·2π ≈ 0.82; Raudies and Hasselmo: 0.13).",
    DefaultValueFactory = _ => 0.13 * 2 * Math.PI,
};
var turnOption = new Option<double>("--turn-sd")
{
    Description = "Standard deviation of the rotational velocity, rad/s (11.52; Raudies and Hasselmo: 5.76).",
    DefaultValueFactory = _ => 11.52,
};
var binsOption = new Option<int>("--bins") { Description = "Rate-map bins per side.", DefaultValueFactory = _ => 32 };
var mapOption = new Option<int>("--map-trajectories")
{
    Description = "Held-out trajectories for the losses, the decoding error and the rate maps.",
    DefaultValueFactory = _ => 2000,
};
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the results table (without the training times) as Markdown to this file (for the docs)." };
var thresholdOption = new Option<double>("--threshold") { Description = "Gridness above which a unit counts as grid-like.", DefaultValueFactory = _ => 0.3 };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the cells, weights and data.", DefaultValueFactory = _ => 1UL };
var outputOption = new Option<string>("--output")
{
    Description = "Prefix of the PNGs (-ratemaps.png, -gridness.png, -trajectory.png).",
    DefaultValueFactory = _ => "grid-cells",
};

foreach (var option in new[] { batchOption, timeStepsOption, hiddenOption, bottleneckOption, placeCellsOption, hdCellsOption, mapOption })
{
    option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<int>() < 1)
        {
            result.AddError($"{option.Name} must be at least 1.");
        }
    });
}

stepsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 1)
    {
        result.AddError("--steps must be at least 1.");
    }
});
binsOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 4)
    {
        result.AddError("--bins must be at least 4.");
    }
});
dropoutOption.Validators.Add(result =>
{
    double p = result.GetValueOrDefault<double>();
    if (!(p >= 0 && p < 1))
    {
        result.AddError("--dropout must be in [0, 1).");
    }
});
foreach (var option in new[] { learningRateOption, clipOption, placeVarianceOption, speedOption })
{
    option.Validators.Add(result =>
    {
        if (!(result.GetValueOrDefault<double>() > 0))
        {
            result.AddError($"{option.Name} must be positive.");
        }
    });
}

foreach (var option in new[] { weightDecayOption, kappaOption, turnOption })
{
    option.Validators.Add(result =>
    {
        if (!(result.GetValueOrDefault<double>() >= 0))
        {
            result.AddError($"{option.Name} must not be negative.");
        }
    });
}

var root = new RootCommand(
    "Trains Banino et al.'s (2018) supervised path-integration network (LSTM 128, linear bottleneck 256, place- and "
    + "head-direction-cell softmax heads) with and without dropout on the bottleneck, then computes each bottleneck unit's "
    + "rate map and gridness score. Prints losses, position-decoding error and grid-unit counts; writes rate maps of the "
    + "top units, the gridness histograms and a decoded trajectory as PNGs.")
{
    fullOption, stepsOption, batchOption, timeStepsOption, hiddenOption, bottleneckOption, dropoutOption, learningRateOption, clipOption,
    weightDecayOption, placeCellsOption, placeVarianceOption, hdCellsOption, kappaOption, speedOption, turnOption, binsOption, mapOption,
    thresholdOption, seedOption, outputOption, markdownOption,
};

root.SetAction(parseResult =>
{
    bool full = parseResult.GetValue(fullOption);
    var settings = new Settings(
        parseResult.GetValue(stepsOption) ?? (full ? 1_000_000 : 1_000),
        parseResult.GetValue(batchOption),
        parseResult.GetValue(timeStepsOption),
        parseResult.GetValue(hiddenOption),
        parseResult.GetValue(bottleneckOption),
        parseResult.GetValue(dropoutOption),
        parseResult.GetValue(learningRateOption),
        parseResult.GetValue(clipOption),
        parseResult.GetValue(weightDecayOption),
        parseResult.GetValue(placeCellsOption),
        parseResult.GetValue(placeVarianceOption),
        parseResult.GetValue(hdCellsOption),
        parseResult.GetValue(kappaOption),
        new TrajectoryOptions(SpeedScale: parseResult.GetValue(speedOption), TurnStandardDeviation: parseResult.GetValue(turnOption)),
        parseResult.GetValue(binsOption),
        parseResult.GetValue(mapOption),
        parseResult.GetValue(thresholdOption),
        parseResult.GetValue(seedOption),
        parseResult.GetValue(outputOption)!,
        parseResult.GetValue(markdownOption));
    return GridApp.Run(settings);
});

return root.Parse(args).Invoke();
