using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.Data;

/// <summary>
/// The motion model of a rat foraging in a square arena (Raudies and Hasselmo 2012, "Modeling boundary vector cell
/// firing given optic flow as a cue", PLoS Comput Biol 8(6)), as used to make the training data of Banino et al. 2018,
/// "Vector-based navigation using grid-like representations in artificial agents", Nature 557.
/// </summary>
/// <param name="ArenaSize">The side of the square arena in metres, centred on the origin (Banino et al.: 2.2 m).</param>
/// <param name="TimeStep">dt, the seconds per step (0.02 s).</param>
/// <param name="SpeedScale">The scale b of the Rayleigh distribution of forward speed, in m/s (mean speed b·√(π/2)).</param>
/// <param name="TurnStandardDeviation">The standard deviation of the rotational velocity, in rad/s.</param>
/// <param name="BorderRegion">Within this distance of a wall (m), an animal heading towards it slows and turns away.</param>
/// <param name="WallSlowdown">The factor on the speed inside the border region when heading towards the wall.</param>
/// <remarks>
/// Raudies and Hasselmo's values are b = 0.13 m/s and σ = 5.76 rad/s; the defaults here, b = 0.13·2π ≈ 0.82 m/s and
/// σ = 11.52 rad/s with a 0.03 m border, are those of the widely used re-implementation of Banino et al.'s supervised
/// setup (Sorscher et al. 2019), so that a 100-step trajectory crosses a good part of the 2.2 m arena.
/// </remarks>
public sealed record TrajectoryOptions(
    double ArenaSize = 2.2,
    double TimeStep = 0.02,
    double SpeedScale = 0.13 * 2 * Math.PI,
    double TurnStandardDeviation = 11.52,
    double BorderRegion = 0.03,
    double WallSlowdown = 0.25)
{
    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is not finite, not positive where it must be, the border
    /// region is half the arena or more, or the slowdown is outside (0, 1].</exception>
    public void Validate()
    {
        Positive(ArenaSize, nameof(ArenaSize));
        Positive(TimeStep, nameof(TimeStep));
        Positive(SpeedScale, nameof(SpeedScale));
        if (!(TurnStandardDeviation >= 0) || !double.IsFinite(TurnStandardDeviation))
        {
            throw new ArgumentOutOfRangeException(nameof(TurnStandardDeviation), TurnStandardDeviation, "TurnStandardDeviation must be finite and non-negative.");
        }

        if (!(BorderRegion >= 0 && BorderRegion < ArenaSize / 2))
        {
            throw new ArgumentOutOfRangeException(nameof(BorderRegion), BorderRegion, $"BorderRegion must be in [0, {ArenaSize / 2}) (half the arena).");
        }

        if (!(WallSlowdown > 0 && WallSlowdown <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(WallSlowdown), WallSlowdown, "WallSlowdown must be in (0, 1].");
        }
    }

    private static void Positive(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and finite.");
        }
    }
}

/// <summary>
/// Simulated trajectories: positions and headings of <c>batchSize</c> animals over <c>timeSteps</c> steps, with the
/// self-motion signals the network integrates.
/// </summary>
/// <remarks>Legend: T = timeSteps, B = batchSize. All arrays are time-major; index 0 of positions and headings is the
/// start, before the first step.</remarks>
public sealed class Trajectories
{
    /// <summary>Allocates the storage of <paramref name="batchSize"/> trajectories of <paramref name="timeSteps"/> steps.</summary>
    /// <param name="timeSteps">T ≥ 1.</param>
    /// <param name="batchSize">B ≥ 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public Trajectories(int timeSteps, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        TimeSteps = timeSteps;
        BatchSize = batchSize;
        Positions = new double[(timeSteps + 1) * batchSize * 2];
        Headings = new double[(timeSteps + 1) * batchSize];
        Speeds = new double[timeSteps * batchSize];
        Turns = new double[timeSteps * batchSize];
    }

    /// <summary>T.</summary>
    public int TimeSteps { get; }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>(x, y) in metres, [T + 1, B, 2]; row 0 is the start.</summary>
    public double[] Positions { get; }

    /// <summary>The heading φ in [-π, π), [T + 1, B]: φ(t) is the direction of the move from position t - 1 to t.</summary>
    public double[] Headings { get; }

    /// <summary>The forward speed of step t (distance moved / dt, m/s), [T, B].</summary>
    public double[] Speeds { get; }

    /// <summary>The change of heading at step t, φ(t+1) - φ(t) wrapped to [-π, π) (radians per step), [T, B].</summary>
    public double[] Turns { get; }
}

/// <summary>
/// Place cells (Banino et al. 2018): N centres μ_i drawn uniformly in the arena; the activity at position x is a
/// normalised Gaussian, c_i = exp(-‖x - μ_i‖² / 2σ²) / Σ_j exp(-‖x - μ_j‖² / 2σ²), a distribution over the cells.
/// </summary>
public sealed class PlaceCellEnsemble
{
    private readonly double[] centres;

    /// <summary>Draws the centres.</summary>
    /// <param name="cellCount">N (Banino et al.: 256).</param>
    /// <param name="arenaSize">The side of the arena (m); centres are uniform in [-size/2, size/2]².</param>
    /// <param name="variance">σ² in m² (0.01 m², σ = 0.1 m).</param>
    /// <param name="random">The source of the centres.</param>
    /// <exception cref="ArgumentOutOfRangeException">N is below 1, or the size or variance is not positive.</exception>
    public PlaceCellEnsemble(int cellCount, double arenaSize, double variance, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(cellCount, 1);
        if (!(arenaSize > 0) || !double.IsFinite(arenaSize))
        {
            throw new ArgumentOutOfRangeException(nameof(arenaSize), arenaSize, "arenaSize must be positive and finite.");
        }

        if (!(variance > 0) || !double.IsFinite(variance))
        {
            throw new ArgumentOutOfRangeException(nameof(variance), variance, "variance must be positive and finite.");
        }

        CellCount = cellCount;
        ArenaSize = arenaSize;
        Variance = variance;
        centres = new double[cellCount * 2];
        for (int i = 0; i < centres.Length; i++)
        {
            centres[i] = random.NextUniform(-arenaSize / 2, arenaSize / 2);
        }
    }

    /// <summary>N.</summary>
    public int CellCount { get; }

    /// <summary>The side of the arena (m).</summary>
    public double ArenaSize { get; }

    /// <summary>σ² (m²).</summary>
    public double Variance { get; }

    /// <summary>The centres μ_i, [N, 2].</summary>
    public ReadOnlySpan<double> Centres => centres;

    /// <summary>Writes the activity distribution of every position.</summary>
    /// <param name="positions">(x, y) pairs, [rows, 2].</param>
    /// <param name="activity">Receives c, [rows, N]; each row sums to one.</param>
    /// <exception cref="ArgumentException">The lengths disagree.</exception>
    public void Encode<T>(ReadOnlySpan<double> positions, Span<T> activity)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ShapeCheck.PositionRows(positions, activity.Length, CellCount, nameof(activity), "cells");

        for (int r = 0; r < rows; r++)
        {
            double x = positions[2 * r], y = positions[2 * r + 1];
            Span<T> row = activity.Slice(r * CellCount, CellCount);

            // Softmax of -d²/2σ²: subtract the largest exponent so the nearest cell's term is exp(0).
            double max = double.NegativeInfinity;
            for (int i = 0; i < CellCount; i++)
            {
                double dx = x - centres[2 * i], dy = y - centres[2 * i + 1];
                max = Math.Max(max, -(dx * dx + dy * dy) / (2 * Variance));
            }

            double sum = 0;
            for (int i = 0; i < CellCount; i++)
            {
                double dx = x - centres[2 * i], dy = y - centres[2 * i + 1];
                sum += Math.Exp(-(dx * dx + dy * dy) / (2 * Variance) - max);
            }

            for (int i = 0; i < CellCount; i++)
            {
                double dx = x - centres[2 * i], dy = y - centres[2 * i + 1];
                row[i] = T.CreateTruncating(Math.Exp(-(dx * dx + dy * dy) / (2 * Variance) - max) / sum);
            }
        }
    }

    /// <summary>
    /// Decodes a position from a predicted activity: the mean of the centres of the <paramref name="topK"/> most active
    /// cells, weighted by their activity (Banino et al. decode from the top 3).
    /// </summary>
    /// <param name="activity">One activity row, [N].</param>
    /// <param name="topK">How many cells to average, in [1, N].</param>
    /// <returns>The decoded (x, y).</returns>
    /// <exception cref="ArgumentException">The row does not have N entries.</exception>
    /// <exception cref="ArgumentOutOfRangeException">topK is outside [1, N].</exception>
    public (double X, double Y) Decode<T>(ReadOnlySpan<T> activity, int topK = 3)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (activity.Length != CellCount)
        {
            throw new ArgumentException($"activity has {activity.Length} entries but the ensemble has {CellCount} cells.", nameof(activity));
        }

        if (topK < 1 || topK > CellCount)
        {
            throw new ArgumentOutOfRangeException(nameof(topK), topK, $"topK must be in [1, {CellCount}] (the cell count).");
        }

        // Selection by repeated scans: topK is small (3), so this beats sorting and allocates nothing.
        Span<int> chosen = topK <= 16 ? stackalloc int[topK] : new int[topK];
        double wx = 0, wy = 0, weight = 0;
        for (int k = 0; k < topK; k++)
        {
            int best = -1;
            double bestValue = double.NegativeInfinity;
            for (int i = 0; i < CellCount; i++)
            {
                double v = double.CreateTruncating(activity[i]);
                if (v > bestValue && !chosen[..k].Contains(i))
                {
                    best = i;
                    bestValue = v;
                }
            }

            if (best < 0)
            {
                best = k;
            }

            chosen[k] = best;
            double w = Math.Max(bestValue, 0);
            wx += w * centres[2 * best];
            wy += w * centres[2 * best + 1];
            weight += w;
        }

        if (weight <= 0)
        {
            // No positive activity: the plain mean of the chosen centres.
            for (int k = 0; k < topK; k++)
            {
                wx += centres[2 * chosen[k]];
                wy += centres[2 * chosen[k] + 1];
            }

            return (wx / topK, wy / topK);
        }

        return (wx / weight, wy / weight);
    }
}

/// <summary>
/// Head-direction cells (Banino et al. 2018): M preferred directions μ_j drawn uniformly on the circle; the activity at
/// heading φ is a normalised von Mises, z_j = exp(κ cos(φ - μ_j)) / Σ_k exp(κ cos(φ - μ_k)).
/// </summary>
public sealed class HeadDirectionCellEnsemble
{
    private readonly double[] directions;

    /// <summary>Draws the preferred directions.</summary>
    /// <param name="cellCount">M (Banino et al.: 12).</param>
    /// <param name="concentration">κ (20).</param>
    /// <param name="random">The source of the directions.</param>
    /// <exception cref="ArgumentOutOfRangeException">M is below 1 or κ is negative or not finite.</exception>
    public HeadDirectionCellEnsemble(int cellCount, double concentration, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(cellCount, 1);
        if (!(concentration >= 0) || !double.IsFinite(concentration))
        {
            throw new ArgumentOutOfRangeException(nameof(concentration), concentration, "concentration (kappa) must be finite and non-negative.");
        }

        CellCount = cellCount;
        Concentration = concentration;
        directions = new double[cellCount];
        for (int i = 0; i < cellCount; i++)
        {
            directions[i] = random.NextUniform(-Math.PI, Math.PI);
        }
    }

    /// <summary>M.</summary>
    public int CellCount { get; }

    /// <summary>κ.</summary>
    public double Concentration { get; }

    /// <summary>The preferred directions μ_j (radians), [M].</summary>
    public ReadOnlySpan<double> Directions => directions;

    /// <summary>Writes the activity distribution of every heading.</summary>
    /// <param name="headings">φ (radians), [rows].</param>
    /// <param name="activity">Receives z, [rows, M]; each row sums to one.</param>
    /// <exception cref="ArgumentException">The lengths disagree.</exception>
    public void Encode<T>(ReadOnlySpan<double> headings, Span<T> activity)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = headings.Length;
        if (activity.Length != (long)rows * CellCount)
        {
            throw new ArgumentException($"activity has {activity.Length} elements but {rows} headings of {CellCount} cells need {(long)rows * CellCount}.", nameof(activity));
        }

        for (int r = 0; r < rows; r++)
        {
            double phi = headings[r];
            Span<T> row = activity.Slice(r * CellCount, CellCount);

            // κ cos(φ - μ) ≤ κ: subtracting κ keeps every exponent at most zero.
            double sum = 0;
            for (int j = 0; j < CellCount; j++)
            {
                sum += Math.Exp(Concentration * (Math.Cos(phi - directions[j]) - 1));
            }

            for (int j = 0; j < CellCount; j++)
            {
                row[j] = T.CreateTruncating(Math.Exp(Concentration * (Math.Cos(phi - directions[j]) - 1)) / sum);
            }
        }
    }
}

/// <summary>
/// One batch of the supervised path-integration task of Banino et al. 2018 (Extended Data Fig. 1), time-major.
/// </summary>
/// <remarks>Legend: T = timeSteps, B = batchSize, N = place cells, M = head-direction cells.</remarks>
public sealed class PathIntegrationBatch<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Allocates a batch.</summary>
    /// <param name="timeSteps">T ≥ 1.</param>
    /// <param name="batchSize">B ≥ 1.</param>
    /// <param name="placeCells">N ≥ 1.</param>
    /// <param name="headDirectionCells">M ≥ 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public PathIntegrationBatch(int timeSteps, int batchSize, int placeCells, int headDirectionCells)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(placeCells, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDirectionCells, 1);
        Trajectories = new Trajectories(timeSteps, batchSize);
        Input = new Tensor<T>(timeSteps, batchSize, 3);
        PlaceTargets = new Tensor<T>(timeSteps, batchSize, placeCells);
        HeadDirectionTargets = new Tensor<T>(timeSteps, batchSize, headDirectionCells);
        InitialActivity = new Tensor<T>(batchSize, placeCells + headDirectionCells);
    }

    /// <summary>The simulated paths.</summary>
    public Trajectories Trajectories { get; }

    /// <summary>[v, sin(ω), cos(ω)] of each step: speed (m/s) and the turn ω (radians per step), [T, B, 3].</summary>
    public Tensor<T> Input { get; }

    /// <summary>The place-cell distribution at the position after each step, [T, B, N].</summary>
    public Tensor<T> PlaceTargets { get; }

    /// <summary>The head-direction distribution of the heading after each step's turn, [T, B, M].</summary>
    public Tensor<T> HeadDirectionTargets { get; }

    /// <summary>The ground-truth activity at the start, place cells then head-direction cells, [B, N + M]: what the
    /// network's initial state is computed from.</summary>
    public Tensor<T> InitialActivity { get; }

    /// <summary>T.</summary>
    public int TimeSteps => Input.Size(0);

    /// <summary>B.</summary>
    public int BatchSize => Input.Size(1);
}

/// <summary>
/// The supervised path-integration task of Banino et al. 2018: rat-like trajectories in a square arena (Raudies and
/// Hasselmo 2012), place- and head-direction-cell ensembles, and batches of (self-motion input, initial activity,
/// target distributions). Deterministic from a seed.
/// </summary>
/// <remarks>
/// <para>The motion model, per animal and step, starting at a uniform position and heading:
/// if the animal is within <see cref="TrajectoryOptions.BorderRegion"/> of the nearest wall and heads towards it
/// (|φ - θ_wall| &lt; π/2), it turns by sign(φ - θ_wall)·(π/2 - |φ - θ_wall|) (parallel to the wall) and its speed is
/// multiplied by <see cref="TrajectoryOptions.WallSlowdown"/>; then it turns by N(0, σ²)·dt, draws a speed v ~ Rayleigh(b)
/// and moves v·dt along the new heading. A move that would still leave the arena is shortened to end on the wall
/// (rare: a final guard), and the recorded speed is the distance actually moved over dt, so the input is exact.</para>
/// <para>Unlike the Sorscher et al. re-implementation, the turn is applied before the move, so the heading the
/// head-direction cells encode is the direction of the step just taken.</para>
/// </remarks>
public sealed class PathIntegrationTask
{
    /// <summary>Builds the task with its cell ensembles (drawn from <paramref name="random"/>).</summary>
    /// <param name="options">The motion model (null: the defaults).</param>
    /// <param name="placeCells">N (Banino et al.: 256).</param>
    /// <param name="placeCellVariance">σ² of the place cells, m² (0.01).</param>
    /// <param name="headDirectionCells">M (12).</param>
    /// <param name="headDirectionConcentration">κ (20).</param>
    /// <param name="random">The source of the ensembles.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option or size is invalid (see <see cref="TrajectoryOptions.Validate"/>).</exception>
    public PathIntegrationTask(TrajectoryOptions? options, int placeCells, double placeCellVariance, int headDirectionCells,
        double headDirectionConcentration, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Options = options ?? new TrajectoryOptions();
        Options.Validate();
        PlaceCells = new PlaceCellEnsemble(placeCells, Options.ArenaSize, placeCellVariance, random);
        HeadDirectionCells = new HeadDirectionCellEnsemble(headDirectionCells, headDirectionConcentration, random);
    }

    /// <summary>The motion model.</summary>
    public TrajectoryOptions Options { get; }

    /// <summary>The place cells.</summary>
    public PlaceCellEnsemble PlaceCells { get; }

    /// <summary>The head-direction cells.</summary>
    public HeadDirectionCellEnsemble HeadDirectionCells { get; }

    /// <summary>The mean distance (m) from a uniform position in the arena to its centre, 0.3826·L: the error of a
    /// decoder that always answers the centre, the chance level for position decoding.</summary>
    public double ChanceError => 0.38259785823 * Options.ArenaSize;

    /// <summary>Allocates a batch sized for this task's ensembles.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public PathIntegrationBatch<T> CreateBatch<T>(int timeSteps, int batchSize)
        where T : unmanaged, IFloatingPointIeee754<T>
        => new(timeSteps, batchSize, PlaceCells.CellCount, HeadDirectionCells.CellCount);

    /// <summary>Simulates a batch of trajectories and fills the inputs, initial activities and targets.</summary>
    /// <param name="random">The source of the trajectories.</param>
    /// <param name="batch">Receives everything; its sizes fix T and B.</param>
    /// <exception cref="ArgumentException">The batch was made for other ensemble sizes.</exception>
    public void Generate<T>(SeededRandom random, PathIntegrationBatch<T> batch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(batch);
        int n = PlaceCells.CellCount, m = HeadDirectionCells.CellCount;
        if (batch.PlaceTargets.Size(2) != n || batch.HeadDirectionTargets.Size(2) != m)
        {
            throw new ArgumentException(
                $"batch has {batch.PlaceTargets.Size(2)} place and {batch.HeadDirectionTargets.Size(2)} head-direction cells but the task has {n} and {m}.",
                nameof(batch));
        }

        var paths = batch.Trajectories;
        Simulate(random, paths);
        int steps = paths.TimeSteps, size = paths.BatchSize;
        Span<T> input = batch.Input.AsSpan();
        for (int i = 0; i < steps * size; i++)
        {
            input[3 * i] = T.CreateTruncating(paths.Speeds[i]);
            input[3 * i + 1] = T.CreateTruncating(Math.Sin(paths.Turns[i]));
            input[3 * i + 2] = T.CreateTruncating(Math.Cos(paths.Turns[i]));
        }

        PlaceCells.Encode<T>(paths.Positions.AsSpan(2 * size), batch.PlaceTargets.AsSpan());
        HeadDirectionCells.Encode<T>(paths.Headings.AsSpan(size), batch.HeadDirectionTargets.AsSpan());
        Span<T> initial = batch.InitialActivity.AsSpan();
        for (int b = 0; b < size; b++)
        {
            Span<T> row = initial.Slice(b * (n + m), n + m);
            PlaceCells.Encode<T>(paths.Positions.AsSpan(2 * b, 2), row[..n]);
            HeadDirectionCells.Encode<T>(paths.Headings.AsSpan(b, 1), row[n..]);
        }
    }

    /// <summary>Simulates trajectories with this task's motion model.</summary>
    /// <param name="random">The source of starts, turns and speeds.</param>
    /// <param name="trajectories">Receives the paths; its sizes fix T and B.</param>
    public void Simulate(SeededRandom random, Trajectories trajectories)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(trajectories);
        var o = Options;
        int steps = trajectories.TimeSteps, size = trajectories.BatchSize;
        double half = o.ArenaSize / 2;
        double[] pos = trajectories.Positions, heading = trajectories.Headings;
        for (int b = 0; b < size; b++)
        {
            pos[2 * b] = random.NextUniform(-half, half);
            pos[2 * b + 1] = random.NextUniform(-half, half);
            heading[b] = random.NextUniform(-Math.PI, Math.PI);
        }

        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < size; b++)
            {
                int now = t * size + b, next = (t + 1) * size + b;
                double x = pos[2 * now], y = pos[2 * now + 1], phi = heading[now];

                // The nearest wall and the direction of its outward normal θ (0: +x, π/2: +y, π: -x, -π/2: -y).
                double dRight = half - x, dTop = half - y, dLeft = half + x, dBottom = half + y;
                double wall = dRight, theta = 0;
                if (dTop < wall) { wall = dTop; theta = Math.PI / 2; }
                if (dLeft < wall) { wall = dLeft; theta = Math.PI; }
                if (dBottom < wall) { wall = dBottom; theta = -Math.PI / 2; }

                double towardsWall = Wrap(phi - theta);
                double turn = 0, slow = 1;
                if (wall < o.BorderRegion && Math.Abs(towardsWall) < Math.PI / 2)
                {
                    turn = Math.Sign(towardsWall) * (Math.PI / 2 - Math.Abs(towardsWall));
                    slow = o.WallSlowdown;
                }

                turn += o.TurnStandardDeviation * o.TimeStep * random.NextNormal();
                double speed = slow * o.SpeedScale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
                double newPhi = Wrap(phi + turn);
                double distance = speed * o.TimeStep;
                double cos = Math.Cos(newPhi), sin = Math.Sin(newPhi);

                // The final guard: shorten a move that would leave the arena so it ends on the wall.
                if (cos > 0) { distance = Math.Min(distance, (half - x) / cos); }
                if (cos < 0) { distance = Math.Min(distance, (-half - x) / cos); }
                if (sin > 0) { distance = Math.Min(distance, (half - y) / sin); }
                if (sin < 0) { distance = Math.Min(distance, (-half - y) / sin); }
                distance = Math.Max(distance, 0);

                pos[2 * next] = Math.Clamp(x + distance * cos, -half, half);
                pos[2 * next + 1] = Math.Clamp(y + distance * sin, -half, half);
                heading[next] = newPhi;
                trajectories.Speeds[now] = distance / o.TimeStep;
                trajectories.Turns[now] = Wrap(newPhi - phi);
            }
        }
    }

    // The angle in [-π, π).
    private static double Wrap(double angle)
    {
        double wrapped = angle - 2 * Math.PI * Math.Floor((angle + Math.PI) / (2 * Math.PI));
        return wrapped >= Math.PI ? wrapped - 2 * Math.PI : wrapped;
    }
}
