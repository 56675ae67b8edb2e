using System.Diagnostics;
using RecurrentNets.Data;
using RecurrentNets.Diagnostics;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Tasks;
using RecurrentNets.Reservoirs;
using RecurrentNets.Sequence;
using Xunit.Abstractions;

namespace RecurrentNets.Tests.Foundation;

/// <summary>
/// Issue 18, item 3: every public options type and constructor refuses NaN, ±Inf, negative, zero and out-of-range values
/// with an <see cref="ArgumentException"/> whose ParamName names the argument or the option.
/// </summary>
public sealed class ValidationSweepTests(ITestOutputHelper output)
{
    private const double NaN = double.NaN, Inf = double.PositiveInfinity;

    private static readonly R2N2Options R2N2 = new() { InputSize = 3, OutputSize = 3, GroupSize = 4 };

    /// <summary>Case name → (the call that must throw, the expected ParamName).</summary>
    private static readonly Dictionary<string, (Action Call, string ParamName)> Cases = new()
    {
        // Recurrent layers.
        ["Lstm forgetBias NaN"] = (() => _ = new Lstm<float>(2, 3, forgetBias: NaN), "forgetBias"),
        ["Lstm forgetBias +Inf"] = (() => _ = new Lstm<float>(2, 3, forgetBias: Inf), "forgetBias"),
        ["Lstm inputSize 0"] = (() => _ = new Lstm<float>(0, 3), "inputSize"),
        ["Lstm hiddenSize -1"] = (() => _ = new Lstm<float>(2, -1), "hiddenSize"),
        ["Lstm numLayers 0"] = (() => _ = new Lstm<float>(2, 3, numLayers: 0), "numLayers"),
        ["Lstm dropout NaN"] = (() => _ = new Lstm<float>(2, 3, numLayers: 2, dropout: NaN), "dropout"),
        ["Gru dropout 1"] = (() => _ = new Gru<float>(2, 3, numLayers: 2, dropout: 1), "dropout"),
        ["Rnn dropout -0.1"] = (() => _ = new Rnn<float>(2, 3, numLayers: 2, dropout: -0.1), "dropout"),
        ["Gru recurrentDropout +Inf"] = (() => _ = new Gru<float>(2, 3, recurrentDropout: Inf), "recurrentDropout"),
        ["TruncatedBptt windowLength 0"] = (() => _ = new TruncatedBptt<float>(new Rnn<float>(2, 3), 0, 1), "windowLength"),
        ["TruncatedBptt batchSize 0"] = (() => _ = new TruncatedBptt<float>(new Rnn<float>(2, 3), 4, 0), "batchSize"),

        // Layers.
        ["Dropout probability NaN"] = (() => _ = new Dropout<float>(NaN), "probability"),
        ["Dropout probability -0.5"] = (() => _ = new Dropout<float>(-0.5), "probability"),
        ["Dropout probability 1.5"] = (() => _ = new Dropout<float>(1.5), "probability"),
        ["Linear inFeatures 0"] = (() => _ = new Linear<float>(0, 3), "inFeatures"),
        ["Linear outFeatures -2"] = (() => _ = new Linear<float>(3, -2), "outFeatures"),
        ["Embedding numEmbeddings 0"] = (() => _ = new Embedding<float>(0, 3), "numEmbeddings"),
        ["Embedding embeddingDim 0"] = (() => _ = new Embedding<float>(4, 0), "embeddingDim"),
        ["Embedding paddingIndex 4 of 4"] = (() => _ = new Embedding<float>(4, 3, paddingIndex: 4), "paddingIndex"),
        ["TimeDelayLayer kernelSize 0"] = (() => _ = new TimeDelayLayer<float>(2, 3, 0), "kernelSize"),
        ["TimeDelayLayer dilation 0"] = (() => _ = new TimeDelayLayer<float>(2, 3, 2, dilation: 0), "dilation"),
        ["TimeDelayLayer outputSize 0"] = (() => _ = new TimeDelayLayer<float>(2, 0, 2), "outputSize"),

        // Optimisers.
        ["Sgd learningRate NaN"] = (() => _ = new Sgd<float>(Block(), NaN), "learningRate"),
        ["Sgd learningRate -1"] = (() => _ = new Sgd<float>(Block(), -1), "learningRate"),
        ["Adam learningRate +Inf"] = (() => _ = new Adam<float>(Block(), Inf), "learningRate"),
        ["Sgd momentum NaN"] = (() => _ = new Sgd<float>(Block(), 0.1, momentum: NaN), "momentum"),
        ["Sgd momentum 1"] = (() => _ = new Sgd<float>(Block(), 0.1, momentum: 1), "momentum"),
        ["Sgd weightDecay +Inf"] = (() => _ = new Sgd<float>(Block(), 0.1, weightDecay: Inf), "weightDecay"),
        ["Adam beta1 NaN"] = (() => _ = new Adam<float>(Block(), beta1: NaN), "beta1"),
        ["Adam beta2 1"] = (() => _ = new Adam<float>(Block(), beta2: 1), "beta2"),
        ["Adam epsilon 0"] = (() => _ = new Adam<float>(Block(), epsilon: 0), "epsilon"),
        ["Adam epsilon +Inf"] = (() => _ = new Adam<float>(Block(), epsilon: Inf), "epsilon"),
        ["Adam weightDecay -1"] = (() => _ = new Adam<float>(Block(), weightDecay: -1), "weightDecay"),
        ["ClipGradientNorm maxNorm NaN"] = (() => GradientClipping.ClipGradientNorm(Block(), NaN), "maxNorm"),
        ["ClipGradientNorm maxNorm 0"] = (() => GradientClipping.ClipGradientNorm(Block(), 0), "maxNorm"),

        // Reservoirs.
        ["ReservoirOptions InputScaling NaN"] = (() => Reservoir(new() { InputScaling = NaN }), "InputScaling"),
        ["ReservoirOptions InputScaling +Inf"] = (() => Reservoir(new() { InputScaling = Inf }), "InputScaling"),
        ["ReservoirOptions InputScaling -1"] = (() => Reservoir(new() { InputScaling = -1 }), "InputScaling"),
        ["ReservoirOptions InputScalings NaN"] = (() => Reservoir(new() { Inputs = 2, InputScalings = [1, NaN] }), "InputScalings"),
        ["ReservoirOptions InputScalings -1"] = (() => Reservoir(new() { Inputs = 2, InputScalings = [-1, 1] }), "InputScalings"),
        ["ReservoirOptions FeedbackScaling NaN"] = (() => Reservoir(new() { FeedbackSize = 1, FeedbackScaling = NaN }), "FeedbackScaling"),
        ["ReservoirOptions FeedbackScaling -1"] = (() => Reservoir(new() { FeedbackSize = 1, FeedbackScaling = -1 }), "FeedbackScaling"),
        ["ReservoirOptions BiasScaling NaN"] = (() => Reservoir(new() { BiasScaling = NaN }), "BiasScaling"),
        ["ReservoirOptions SpectralRadius +Inf"] = (() => Reservoir(new() { SpectralRadius = Inf }), "SpectralRadius"),
        ["ReservoirOptions LeakRate NaN"] = (() => Reservoir(new() { LeakRate = NaN }), "LeakRate"),
        ["ReservoirOptions LeakRate 0"] = (() => Reservoir(new() { LeakRate = 0 }), "LeakRate"),
        ["ReservoirOptions ActivationGain NaN"] = (() => Reservoir(new() { ActivationGain = NaN }), "ActivationGain"),
        ["ReservoirOptions Connectivity NaN"] = (() => Reservoir(new() { Connectivity = NaN }), "Connectivity"),
        ["ReservoirOptions Units 0"] = (() => Reservoir(new() { Units = 0 }), "Units"),
        ["ReservoirOptions Degree 0"] = (() => Reservoir(new() { Degree = 0 }), "Degree"),
        ["ReservoirOptions Activation 99"] = (() => Reservoir(new() { Activation = (Activation)99 }), "Activation"),
        ["ReservoirOptions SpectralRadiusMethod 99"] = (() => Reservoir(new() { SpectralRadiusMethod = (SpectralRadiusMethod)99 }), "SpectralRadiusMethod"),
        ["ReservoirOptions InputDistribution 99"] = (() => Reservoir(new() { InputDistribution = (WeightDistribution)99 }), "InputDistribution"),
        ["ReservoirOptions RecurrentDistribution 99"] = (() => Reservoir(new() { RecurrentDistribution = (WeightDistribution)99 }), "RecurrentDistribution"),
        ["ReservoirOptions FeedbackDistribution 99"] = (() => Reservoir(new() { FeedbackSize = 1, FeedbackDistribution = (WeightDistribution)99 }), "FeedbackDistribution"),
        ["RidgeReadout ridge NaN"] = (() => _ = new RidgeReadout<double>(3, 1, ridge: NaN), "ridge"),
        ["RidgeReadout ridge -1"] = (() => _ = new RidgeReadout<double>(3, 1, ridge: -1), "ridge"),
        ["RidgeReadout ridge +Inf"] = (() => _ = new RidgeReadout<double>(3, 1, ridge: Inf), "ridge"),
        ["RidgeReadout folds 0"] = (() => _ = new RidgeReadout<double>(3, 1, folds: 0), "folds"),
        ["RidgeReadout features 0"] = (() => _ = new RidgeReadout<double>(0, 1), "features"),
        ["RidgeReadout outputs 0"] = (() => _ = new RidgeReadout<double>(3, 0), "outputs"),
        ["LmsReadout learningRate NaN"] = (() => _ = new LmsReadout<double>(3, 1, NaN), "learningRate"),
        ["LmsReadout learningRate -1"] = (() => _ = new LmsReadout<double>(3, 1, -1), "learningRate"),
        ["RlsReadout alpha 0"] = (() => _ = new RlsReadout<double>(3, 1, alpha: 0), "alpha"),
        ["RlsReadout alpha NaN"] = (() => _ = new RlsReadout<double>(3, 1, alpha: NaN), "alpha"),
        ["RlsReadout forgetting 0"] = (() => _ = new RlsReadout<double>(3, 1, forgetting: 0), "forgetting"),
        ["RlsReadout forgetting 1.5"] = (() => _ = new RlsReadout<double>(3, 1, forgetting: 1.5), "forgetting"),
        ["RlsReadout forgetting NaN"] = (() => _ = new RlsReadout<double>(3, 1, forgetting: NaN), "forgetting"),
        ["PseudoInverseReadout relativeTolerance NaN"] = (() => _ = new PseudoInverseReadout<double>(3, 1, relativeTolerance: NaN), "relativeTolerance"),
        ["PseudoInverseReadout relativeTolerance -1"] = (() => _ = new PseudoInverseReadout<double>(3, 1, relativeTolerance: -1), "relativeTolerance"),

        // R2N2.
        ["R2N2Options Tau +Inf"] = (() => _ = new R2N2Consolidator(R2N2 with { Tau = Inf }), "Tau"),
        ["R2N2Options Tau NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { Tau = NaN }), "Tau"),
        ["R2N2Options Tau 1"] = (() => _ = new R2N2Consolidator(R2N2 with { Tau = 1 }), "Tau"),
        ["R2N2Options ForwardGain NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { ForwardGain = NaN }), "ForwardGain"),
        ["R2N2Options ForwardGain -1"] = (() => _ = new R2N2Consolidator(R2N2 with { ForwardGain = -1 }), "ForwardGain"),
        ["R2N2Options BackwardGain -1"] = (() => _ = new R2N2Consolidator(R2N2 with { BackwardGain = -1 }), "BackwardGain"),
        ["R2N2Options BackwardGain +Inf"] = (() => _ = new R2N2Consolidator(R2N2 with { BackwardGain = Inf }), "BackwardGain"),
        ["R2N2Options InputOutputScale NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { InputOutputScale = NaN }), "InputOutputScale"),
        ["R2N2Options LmsRate NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { LmsRate = NaN }), "LmsRate"),
        ["R2N2Options LearningRate -1"] = (() => _ = new R2N2Consolidator(R2N2 with { LearningRate = -1 }), "LearningRate"),
        ["R2N2Options LearningRate NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { LearningRate = NaN }), "LearningRate"),
        ["R2N2Options InitialStateMagnitude NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { InitialStateMagnitude = NaN }), "InitialStateMagnitude"),
        ["R2N2Options ReconstructionTolerance -1"] = (() => _ = new R2N2Consolidator(R2N2 with { ReconstructionTolerance = -1 }), "ReconstructionTolerance"),
        ["R2N2Options ReconstructionLimit NaN"] = (() => _ = new R2N2Consolidator(R2N2 with { ReconstructionLimit = NaN }), "ReconstructionLimit"),
        ["R2N2Options ScoredOutputs 4 of 3"] = (() => _ = new R2N2Consolidator(R2N2 with { ScoredOutputs = 4 }), "ScoredOutputs"),
        ["R2N2Options ScoredOutputs -1"] = (() => _ = new R2N2Consolidator(R2N2 with { ScoredOutputs = -1 }), "ScoredOutputs"),
        ["R2N2Options GroupSize 0"] = (() => _ = new R2N2Consolidator(R2N2 with { GroupSize = 0 }), "GroupSize"),
        ["R2N2Options InputSize 0"] = (() => _ = new R2N2Consolidator(R2N2 with { InputSize = 0 }), "InputSize"),
        ["R2N2Options OutputSize -1"] = (() => _ = new R2N2Consolidator(R2N2 with { OutputSize = -1 }), "OutputSize"),
        ["R2N2Options Feedback 9"] = (() => _ = new R2N2Consolidator(R2N2 with { Feedback = (FeedbackMode)9 }), "Feedback"),
        ["R2N2Options Optimizer 9"] = (() => _ = new R2N2Consolidator(R2N2 with { Optimizer = (R2N2Optimizer)9 }), "Optimizer"),
        ["R2N2Learner cacheSize -1"] = (() => _ = new R2N2Learner(R2N2, cacheSize: -1), "cacheSize"),
        ["HopfieldSequenceCache size 0"] = (() => _ = new HopfieldSequenceCache(0), "size"),
        ["HopfieldSequenceCache settleSteps 0"] = (() => _ = new HopfieldSequenceCache(100, settleSteps: 0), "settleSteps"),
        ["HopfieldSequenceCache halfCycle 0"] = (() => _ = new HopfieldSequenceCache(100, halfCycle: 0), "halfCycle"),
        ["HopfieldSequenceCache tau NaN"] = (() => _ = new HopfieldSequenceCache(100, tau: NaN), "tau"),
        ["HopfieldSequenceCache tau +Inf"] = (() => _ = new HopfieldSequenceCache(100, tau: Inf), "tau"),
        ["CacheReplay keyDensity NaN"] = (() => _ = new CacheReplay(new HopfieldSequenceCache(100), 3, new SeededRandom(1), keyDensity: NaN), "keyDensity"),
        ["Baseline ESN tau +Inf"] = (() => _ = new RecurrentNets.R2N2.Baselines.EchoStateNetwork(2, 4, 2, 1, tau: Inf), "tau"),
        ["Baseline ESN learningRate NaN"] = (() => _ = new RecurrentNets.R2N2.Baselines.EchoStateNetwork(2, 4, 2, 1, learningRate: NaN), "learningRate"),
        ["Baseline ESN gain NaN"] = (() => _ = new RecurrentNets.R2N2.Baselines.EchoStateNetwork(2, 4, 2, 1, gain: NaN), "gain"),
        ["Baseline ESN hiddenSize 0"] = (() => _ = new RecurrentNets.R2N2.Baselines.EchoStateNetwork(2, 0, 2, 1), "hiddenSize"),
        ["Rflo tau 0.5"] = (() => _ = new RecurrentNets.R2N2.Baselines.Rflo(2, 4, 2, 1, tau: 0.5), "tau"),
        ["Rflo learningRate -1"] = (() => _ = new RecurrentNets.R2N2.Baselines.Rflo(2, 4, 2, 1, learningRate: -1), "learningRate"),
        ["Rflo initialHidden NaN"] = (() => _ = new RecurrentNets.R2N2.Baselines.Rflo(2, 4, 2, 1, initialHidden: NaN), "initialHidden"),
        ["TMaze delay -1"] = (() => _ = new TMaze(1, -1, 1, 0), "delay"),

        // Data and diagnostics.
        ["DelayedResponseTask locations 0"] = (() => _ = new DelayedResponseTask(0, 1, 2), "locations"),
        ["DelayedResponseTask minimumDelay -1"] = (() => _ = new DelayedResponseTask(4, -1, 2), "minimumDelay"),
        ["DelayedResponseTask maximumDelay < minimum"] = (() => _ = new DelayedResponseTask(4, 3, 2), "maximumDelay"),
        ["DelayedResponseTask inputNoise NaN"] = (() => _ = new DelayedResponseTask(4, 1, 2, inputNoise: NaN), "inputNoise"),
        ["DelayedResponseTask inputNoise -1"] = (() => _ = new DelayedResponseTask(4, 1, 2, inputNoise: -1), "inputNoise"),
        ["NumberWords maxDigits 0"] = (() => _ = new NumberWords(maxDigits: 0), "maxDigits"),
        ["NumberWords heldOutEvery 0"] = (() => _ = new NumberWords(heldOutEvery: 0), "heldOutEvery"),
        ["MackeyGlass length -1"] = (() => MackeyGlassSeries.Jaeger(-1), "length"),
        ["MackeyGlass tau 0"] = (() => MackeyGlassSeries.Jaeger(10, tau: 0), "tau"),
        ["MackeyGlass subSteps 0"] = (() => MackeyGlassSeries.Jaeger(10, subSteps: 0), "subSteps"),
        ["MackeyGlass history NaN"] = (() => MackeyGlassSeries.Jaeger(10, history: NaN), "history"),
        ["Narma order 0"] = (() => NarmaSeries.Generate(10, 1, order: 0), "order"),
        ["Narma length -1"] = (() => NarmaSeries.Generate(-1, 1), "length"),
        ["Lorenz dt NaN"] = (() => LorenzSeries.Generate(10, dt: NaN), "dt"),
        ["Lorenz dt 0"] = (() => LorenzSeries.Generate(10, dt: 0), "dt"),
        ["Lorenz sigma +Inf"] = (() => LorenzSeries.Generate(10, sigma: Inf), "sigma"),
        ["PlaceCellEnsemble arenaSize NaN"] = (() => _ = new PlaceCellEnsemble(4, NaN, 0.01, new SeededRandom(1)), "arenaSize"),
        ["PlaceCellEnsemble variance 0"] = (() => _ = new PlaceCellEnsemble(4, 2.2, 0, new SeededRandom(1)), "variance"),
        ["PlaceCellEnsemble cellCount 0"] = (() => _ = new PlaceCellEnsemble(0, 2.2, 0.01, new SeededRandom(1)), "cellCount"),
        ["HeadDirectionCellEnsemble concentration NaN"] = (() => _ = new HeadDirectionCellEnsemble(4, NaN, new SeededRandom(1)), "concentration"),
        ["TrajectoryOptions SpeedScale +Inf"] = (() => new TrajectoryOptions(SpeedScale: Inf).Validate(), "SpeedScale"),
        ["RateMaps arenaSize NaN"] = (() => _ = new RateMaps(4, 10, NaN), "arenaSize"),
        ["RateMaps bins 0"] = (() => _ = new RateMaps(4, 0, 2.2), "bins"),
        ["TokenBatch capacity 0"] = (() => _ = new TokenBatch(0, 1), "capacity"),
        ["Trajectories timeSteps 0"] = (() => _ = new Trajectories(0, 1), "timeSteps"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ABadValueThrowsNamingTheParameter(string name)
    {
        var (call, paramName) = Cases[name];
        var e = Assert.ThrowsAny<ArgumentException>(call);
        output.WriteLine($"{e.GetType().Name} ({e.ParamName}): {e.Message}");
        Assert.Equal(paramName, e.ParamName);
    }

    [Fact]
    public void DropoutOnAOneLayerStackWarnsAsPyTorchDoes()
    {
        using var listener = new CapturingListener();
        Trace.Listeners.Add(listener);
        try
        {
            _ = new Lstm<float>(2, 3, dropout: 0.37);
            _ = new Gru<float>(2, 3, numLayers: 2, dropout: 0.41);
        }
        finally
        {
            Trace.Listeners.Remove(listener);
        }

        string text = listener.Text;
        Assert.Contains("dropout adds dropout after all but the last recurrent layer", text, StringComparison.Ordinal);
        Assert.Contains("non-zero dropout (0.37) expects numLayers greater than 1, but got numLayers = 1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("(0.41)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheR2N2OptionsFailBeforeAnyReversalAndNameTheOptionNotThePrecision()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new R2N2Consolidator(R2N2 with { ForwardGain = NaN }));
        Assert.Contains("ForwardGain", e.Message, StringComparison.Ordinal);
    }

    private static ParameterBlock<float> Block()
    {
        var block = new ParameterBlock<float>();
        block.Add("w", 2);
        return block;
    }

    private static void Reservoir(ReservoirOptions options) => Reservoir<double>.Create(options);

}
