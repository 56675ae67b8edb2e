using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

namespace GridCellsSample;

/// <summary>
/// The supervised grid-cell network of Banino et al. 2018 (Extended Data Fig. 1): an LSTM over [v, sin ω, cos ω] whose
/// initial state (h0, C0) is a linear map of the ground-truth place- and head-direction-cell activity at the start; a
/// linear bottleneck g (no nonlinearity) with dropout; two linear heads whose softmax predicts the place-cell and
/// head-direction-cell distributions, trained on the sum of the two soft-target cross-entropies with Adam and
/// gradient-norm clipping. Every parameter lives in one block.
/// </summary>
/// <remarks>Legend: T = timeSteps, B = batchSize, H = LSTM units, G = bottleneck units, N = place cells, M = head-direction
/// cells. Rows of the per-step layers are the T·B (step, sequence) pairs.</remarks>
internal sealed class PathIntegrationModel
{
    private readonly Lstm<float> lstm;
    private readonly Linear<float> initHidden, initCell, bottleneck, placeHead, headDirectionHead;
    private readonly Dropout<float> dropout;
    private readonly Adam<float> optimizer;
    private readonly double clipNorm;
    private readonly int placeCells, headDirectionCells;
    private RecurrentState<float> state = null!, dState = null!;
    private Tensor<float> lstmOutput = null!, dLstmOutput = null!;
    private float[] g = [], gDropped = [], dG = [], dGHead = [], placeLogits = [], dPlaceLogits = [], hdLogits = [], dHdLogits = [];
    private float[] probabilities = [];
    private int steps, batch;

    public PathIntegrationModel(int placeCells, int headDirectionCells, int hiddenSize, int bottleneckSize, double dropoutRate,
        double learningRate, double clipNorm, double weightDecay, SeededRandom random, double forgetBias = 1.0)
    {
        this.placeCells = placeCells;
        this.headDirectionCells = headDirectionCells;
        this.clipNorm = clipNorm;
        Parameters = new ParameterBlock<float>();
        int cells = placeCells + headDirectionCells;
        lstm = new Lstm<float>(3, hiddenSize, random: random, parameters: Parameters, forgetBias: forgetBias);
        initHidden = new Linear<float>(cells, hiddenSize, random: random, parameters: Parameters, name: "init_hidden");
        initCell = new Linear<float>(cells, hiddenSize, random: random, parameters: Parameters, name: "init_cell");
        bottleneck = new Linear<float>(hiddenSize, bottleneckSize, random: random, parameters: Parameters, name: "bottleneck");
        placeHead = new Linear<float>(bottleneckSize, placeCells, random: random, parameters: Parameters, name: "place_head");
        headDirectionHead = new Linear<float>(bottleneckSize, headDirectionCells, random: random, parameters: Parameters, name: "hd_head");
        dropout = new Dropout<float>(dropoutRate, random.Fork());
        optimizer = new Adam<float>(Parameters, learningRate, weightDecay: weightDecay);
        HiddenSize = hiddenSize;
        BottleneckSize = bottleneckSize;
    }

    public ParameterBlock<float> Parameters { get; }

    public int HiddenSize { get; }

    public int BottleneckSize { get; }

    /// <summary>g of the last forward pass (before dropout), [T·B, G].</summary>
    public ReadOnlySpan<float> Bottleneck => g.AsSpan(0, steps * batch * BottleneckSize);

    /// <summary>The place-cell logits of the last forward pass, [T·B, N] (softmax gives the prediction).</summary>
    public ReadOnlySpan<float> PlaceLogits => placeLogits.AsSpan(0, steps * batch * placeCells);

    /// <summary>One Adam step; returns the place and head-direction cross-entropies before the step.</summary>
    public (double Place, double HeadDirection) TrainStep(PathIntegrationBatch<float> data)
    {
        optimizer.ZeroGradients();
        var losses = Forward(data, training: true, wantGradient: true);
        Backward(data);
        GradientClipping.ClipGradientNorm(Parameters, clipNorm);
        optimizer.Step();
        return losses;
    }

    /// <summary>Runs the network (dropout off when not training) and returns the two cross-entropies.</summary>
    public (double Place, double HeadDirection) Forward(PathIntegrationBatch<float> data, bool training, bool wantGradient = false)
    {
        Ensure(data.TimeSteps, data.BatchSize);
        int rows = steps * batch, gs = BottleneckSize;

        // (h0, C0) = W·[c(0), z(0)] + b: the initial state read from the ground-truth cells.
        ReadOnlySpan<float> initial = data.InitialActivity.AsSpan();
        initHidden.Forward(initial, batch, state.Hidden.AsSpan());
        initCell.Forward(initial, batch, state.Cell!.AsSpan());

        lstm.Training = training;
        lstm.Forward(data.Input, lstmOutput, state);
        bottleneck.Forward(lstmOutput.AsSpan(), rows, g.AsSpan(0, rows * gs));
        dropout.Training = training;
        dropout.Forward(g.AsSpan(0, rows * gs), gDropped.AsSpan(0, rows * gs));
        placeHead.Forward(gDropped.AsSpan(0, rows * gs), rows, placeLogits.AsSpan(0, rows * placeCells));
        headDirectionHead.Forward(gDropped.AsSpan(0, rows * gs), rows, hdLogits.AsSpan(0, rows * headDirectionCells));
        double place = CrossEntropyLoss.ComputeSoft<float>(placeLogits.AsSpan(0, rows * placeCells), data.PlaceTargets.AsSpan(), placeCells,
            wantGradient ? dPlaceLogits.AsSpan(0, rows * placeCells) : default);
        double hd = CrossEntropyLoss.ComputeSoft<float>(hdLogits.AsSpan(0, rows * headDirectionCells), data.HeadDirectionTargets.AsSpan(),
            headDirectionCells, wantGradient ? dHdLogits.AsSpan(0, rows * headDirectionCells) : default);
        return (place, hd);
    }

    private void Backward(PathIntegrationBatch<float> data)
    {
        int rows = steps * batch, gs = BottleneckSize;
        Span<float> dGSpan = dG.AsSpan(0, rows * gs), dGHeadSpan = dGHead.AsSpan(0, rows * gs);
        ReadOnlySpan<float> dropped = gDropped.AsSpan(0, rows * gs);

        // dg = dropout'(dL/dg_dropped from both heads).
        placeHead.Backward(dropped, dPlaceLogits.AsSpan(0, rows * placeCells), rows, dGSpan);
        headDirectionHead.Backward(dropped, dHdLogits.AsSpan(0, rows * headDirectionCells), rows, dGHeadSpan);
        System.Numerics.Tensors.TensorPrimitives.Add(dGSpan, dGHeadSpan, dGSpan);
        dropout.Backward(dGSpan, dGSpan);
        bottleneck.Backward(lstmOutput.AsSpan(), dGSpan, rows, dLstmOutput.AsSpan());

        // Through time, then into the initial-state maps.
        lstm.Backward(dLstmOutput, dInitialState: dState);
        ReadOnlySpan<float> initial = data.InitialActivity.AsSpan();
        initHidden.Backward(initial, dState.Hidden.AsSpan(), batch, default);
        initCell.Backward(initial, dState.Cell!.AsSpan(), batch, default);
    }

    /// <summary>The mean distance (m) between the decoded and the true positions of the last forward pass.</summary>
    public double PositionError(PathIntegrationTask task, PathIntegrationBatch<float> data)
    {
        int rows = steps * batch;
        if (probabilities.Length < placeCells)
        {
            probabilities = new float[placeCells];
        }

        double sum = 0;
        ReadOnlySpan<double> positions = data.Trajectories.Positions.AsSpan(2 * batch);
        for (int r = 0; r < rows; r++)
        {
            Span<float> p = probabilities.AsSpan(0, placeCells);
            RecurrentNets.Kernels.Softmax.Row<float>(placeLogits.AsSpan(r * placeCells, placeCells), p);
            var (x, y) = task.PlaceCells.Decode<float>(p);
            double dx = x - positions[2 * r], dy = y - positions[2 * r + 1];
            sum += Math.Sqrt(dx * dx + dy * dy);
        }

        return sum / rows;
    }

    /// <summary>The position decoded from the place-cell prediction of row <paramref name="row"/> (= t·B + b) of the last forward pass.</summary>
    public (double X, double Y) Decode(PathIntegrationTask task, int row)
    {
        if (probabilities.Length < placeCells)
        {
            probabilities = new float[placeCells];
        }

        Span<float> p = probabilities.AsSpan(0, placeCells);
        RecurrentNets.Kernels.Softmax.Row<float>(placeLogits.AsSpan(row * placeCells, placeCells), p);
        return task.PlaceCells.Decode<float>(p);
    }

    private void Ensure(int timeSteps, int batchSize)
    {
        if (timeSteps == steps && batchSize == batch)
        {
            return;
        }

        steps = timeSteps;
        batch = batchSize;
        int rows = steps * batch, gs = BottleneckSize;
        state = lstm.CreateState(batch);
        dState = lstm.CreateState(batch);
        lstmOutput = new Tensor<float>(steps, batch, HiddenSize);
        dLstmOutput = new Tensor<float>(steps, batch, HiddenSize);
        g = new float[rows * gs];
        gDropped = new float[rows * gs];
        dG = new float[rows * gs];
        dGHead = new float[rows * gs];
        placeLogits = new float[rows * placeCells];
        dPlaceLogits = new float[rows * placeCells];
        hdLogits = new float[rows * headDirectionCells];
        dHdLogits = new float[rows * headDirectionCells];
    }
}
