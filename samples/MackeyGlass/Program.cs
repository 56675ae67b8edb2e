using System.CommandLine;
using MackeyGlass;

var unitsOption = new Option<int>("--units") { Description = "Reservoir units N (1% connectivity).", DefaultValueFactory = _ => 1000 };
var ridgeOption = new Option<double>("--ridge") { Description = "Ridge parameter of the readout.", DefaultValueFactory = _ => 1e-11 };
var biasOption = new Option<double>("--bias") { Description = "Bias scaling b: biases drawn from U(-b, b).", DefaultValueFactory = _ => 0.2 };
var horizonOption = new Option<int>("--horizon") { Description = "Free-running steps after training.", DefaultValueFactory = _ => 500 };
var seedOption = new Option<ulong>("--seed") { Description = "Seed of the reservoir's weights.", DefaultValueFactory = _ => 1000UL };
var floatOption = new Option<bool>("--float") { Description = "Run the reservoir in float instead of double." };
var outputOption = new Option<FileInfo>("--output") { Description = "PNG written with the prediction against the truth.", DefaultValueFactory = _ => new FileInfo("mackey-glass.png") };
var markdownOption = new Option<FileInfo?>("--markdown") { Description = "Also write the error table as Markdown to this file (for the docs)." };

foreach (var option in new[] { unitsOption, horizonOption })
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
    "Trains a leaky echo-state network (Jaeger 2001) on the Mackey-Glass series (tau = 17, ReservoirPy's generator, "
    + "squashed by tanh(x - 1)), with washout 1,000 and 3,000 training steps, runs it free (its output fed back as its "
    + "input), prints the NRMSE at steps 84 and 500 and writes a PNG of prediction against truth.")
{
    unitsOption, ridgeOption, biasOption, horizonOption, seedOption, floatOption, outputOption, markdownOption,
};
root.SetAction(parse => ForecastApp.Run(
    parse.GetValue(unitsOption), parse.GetValue(ridgeOption), parse.GetValue(biasOption), parse.GetValue(horizonOption),
    parse.GetValue(seedOption), parse.GetValue(floatOption), parse.GetValue(outputOption)!, parse.GetValue(markdownOption)));

var mcOutput = new Option<FileInfo>("--output") { Description = "PNG of the memory-capacity curve.", DefaultValueFactory = _ => new FileInfo("memory-capacity.png") };
var mcUnits = new Option<int>("--units") { Description = "Reservoir units N.", DefaultValueFactory = _ => 100 };
var mcMarkdown = new Option<FileInfo?>("--markdown") { Description = "Also write the memory capacities as a Markdown table to this file (for the docs)." };
var memory = new Command("memory", "Memory capacity (Jaeger 2002): squared correlation between u(t-k) and its trained "
    + "reconstruction against the delay k, for a tanh reservoir (ReservoirPy's documented settings) and a linear reservoir "
    + "with a random orthogonal matrix scaled to 0.95; 20,000 steps of i.i.d. U[-0.8, 0.8] input.")
{
    mcUnits, mcOutput, mcMarkdown,
};
memory.SetAction(parse => MemoryApp.Run(parse.GetValue(mcUnits), parse.GetValue(mcOutput)!, parse.GetValue(mcMarkdown)));
root.Subcommands.Add(memory);

return root.Parse(args).Invoke();
