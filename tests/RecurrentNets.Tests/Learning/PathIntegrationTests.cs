using RecurrentNets.Data;
using RecurrentNets.Init;

namespace RecurrentNets.Tests.Learning;

/// <summary>The path-integration task of Banino et al. 2018: trajectories, cell ensembles, batches.</summary>
public class PathIntegrationTests
{
    private static PathIntegrationTask Task(TrajectoryOptions? options = null, ulong seed = 1) =>
        new(options, placeCells: 256, placeCellVariance: 0.01, headDirectionCells: 12, headDirectionConcentration: 20, new SeededRandom(seed));

    [Theory]
    [InlineData(0.13 * 2 * Math.PI, 11.52)]
    [InlineData(3.0, 2.0)]     // fast and straight: the walls are hit often, so the final guard runs
    [InlineData(0.13, 5.76)]   // Raudies and Hasselmo's values
    public void TrajectoriesStayInsideTheArenaAndTheInputsReproduceThePath(double speedScale, double turnSd)
    {
        var task = Task(new TrajectoryOptions(SpeedScale: speedScale, TurnStandardDeviation: turnSd));
        var paths = new Trajectories(timeSteps: 400, batchSize: 64);
        task.Simulate(new SeededRandom(7), paths);
        double half = task.Options.ArenaSize / 2, dt = task.Options.TimeStep;
        int size = paths.BatchSize;
        foreach (double coordinate in paths.Positions)
        {
            Assert.InRange(coordinate, -half, half);
        }

        // Dead reckoning from the start with the recorded speeds and turns lands on every recorded position.
        for (int b = 0; b < size; b++)
        {
            double x = paths.Positions[2 * b], y = paths.Positions[2 * b + 1], phi = paths.Headings[b];
            for (int t = 0; t < paths.TimeSteps; t++)
            {
                int i = t * size + b, next = (t + 1) * size + b;
                Assert.InRange(paths.Speeds[i], 0, double.MaxValue);
                Assert.InRange(paths.Turns[i], -Math.PI, Math.PI);
                phi += paths.Turns[i];
                x += paths.Speeds[i] * dt * Math.Cos(phi);
                y += paths.Speeds[i] * dt * Math.Sin(phi);
                Assert.Equal(paths.Positions[2 * next], x, 6);
                Assert.Equal(paths.Positions[2 * next + 1], y, 6);
                Assert.Equal(Math.Cos(paths.Headings[next]), Math.Cos(phi), 9);
            }
        }
    }

    [Fact]
    public void TheDefaultMotionModelCoversTheArenaWithRatLikeSpeeds()
    {
        var task = Task();
        var paths = new Trajectories(timeSteps: 100, batchSize: 500);
        task.Simulate(new SeededRandom(2), paths);

        // Mean speed of a Rayleigh(b) is b·√(π/2) ≈ 1.02 m/s for b = 0.82 (a little less: walls slow the animal).
        double meanSpeed = paths.Speeds.Average();
        Assert.InRange(meanSpeed, 0.85, 1.05);

        // Every cell of a 4 × 4 partition of the arena is visited.
        var visits = new int[16];
        for (int i = 0; i < paths.Positions.Length / 2; i++)
        {
            int cx = Math.Min(3, (int)((paths.Positions[2 * i] + 1.1) / 0.55)), cy = Math.Min(3, (int)((paths.Positions[2 * i + 1] + 1.1) / 0.55));
            visits[cy * 4 + cx]++;
        }

        Assert.All(visits, v => Assert.True(v > 1000, $"A quarter-arena cell has only {v} visits."));
    }

    [Fact]
    public void BatchesHaveTheRightShapesAndDistributionsThatSumToOne()
    {
        var task = Task();
        var batch = task.CreateBatch<double>(timeSteps: 20, batchSize: 5);
        task.Generate(new SeededRandom(3), batch);
        Assert.True(batch.Input.HasShape(20, 5, 3));
        Assert.True(batch.PlaceTargets.HasShape(20, 5, 256));
        Assert.True(batch.HeadDirectionTargets.HasShape(20, 5, 12));
        Assert.True(batch.InitialActivity.HasShape(5, 268));
        AssertRowsSumToOne(batch.PlaceTargets.Data, 256);
        AssertRowsSumToOne(batch.HeadDirectionTargets.Data, 12);
        for (int b = 0; b < 5; b++)
        {
            Assert.Equal(1, batch.InitialActivity.Data.AsSpan(b * 268, 256).ToArray().Sum(), 12);
            Assert.Equal(1, batch.InitialActivity.Data.AsSpan(b * 268 + 256, 12).ToArray().Sum(), 12);
        }

        // Input channels: speed, sin and cos of the turn.
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(batch.Trajectories.Speeds[i], batch.Input.Data[3 * i], 12);
            Assert.Equal(Math.Sin(batch.Trajectories.Turns[i]), batch.Input.Data[3 * i + 1], 12);
            Assert.Equal(Math.Cos(batch.Trajectories.Turns[i]), batch.Input.Data[3 * i + 2], 12);
        }

        // The place target is centred on the position after the step: decoding the top 3 cells lands near it (the
        // centres are random, about 14 cm apart, so the decoder's own error is several cm, more near the walls).
        double sumError = 0, maxError = 0;
        for (int i = 0; i < 100; i++)
        {
            var (x, y) = task.PlaceCells.Decode<double>(batch.PlaceTargets.Data.AsSpan(i * 256, 256));
            double dx = x - batch.Trajectories.Positions[2 * (5 + i)], dy = y - batch.Trajectories.Positions[2 * (5 + i) + 1];
            sumError += Math.Sqrt(dx * dx + dy * dy);
            maxError = Math.Max(maxError, Math.Sqrt(dx * dx + dy * dy));
        }

        Assert.True(sumError / 100 < 0.08 && maxError < 0.25, $"Decoding the targets: mean error {sumError / 100:F3} m, max {maxError:F3} m.");

        // The head-direction target peaks at the preferred direction nearest the heading.
        for (int i = 0; i < 100; i++)
        {
            double heading = batch.Trajectories.Headings[5 + i];
            var row = batch.HeadDirectionTargets.Data.AsSpan(i * 12, 12).ToArray();
            int peak = Array.IndexOf(row, row.Max());
            double best = Enumerable.Range(0, 12).Max(j => Math.Cos(heading - task.HeadDirectionCells.Directions[j]));
            Assert.Equal(best, Math.Cos(heading - task.HeadDirectionCells.Directions[peak]), 12);
        }
    }

    [Fact]
    public void TheSameSeedGivesTheSameBatchBitForBit()
    {
        var first = Task(seed: 9).CreateBatch<float>(50, 4);
        var second = Task(seed: 9).CreateBatch<float>(50, 4);
        var other = Task(seed: 9).CreateBatch<float>(50, 4);
        Task(seed: 9).Generate(new SeededRandom(11), first);
        Task(seed: 9).Generate(new SeededRandom(11), second);
        Task(seed: 9).Generate(new SeededRandom(12), other);
        Assert.Equal(first.Input.Data, second.Input.Data);
        Assert.Equal(first.PlaceTargets.Data, second.PlaceTargets.Data);
        Assert.Equal(first.HeadDirectionTargets.Data, second.HeadDirectionTargets.Data);
        Assert.Equal(first.InitialActivity.Data, second.InitialActivity.Data);
        Assert.Equal(first.Trajectories.Positions, second.Trajectories.Positions);
        Assert.NotEqual(first.Trajectories.Positions, other.Trajectories.Positions);
        Assert.Equal(Task(seed: 9).PlaceCells.Centres.ToArray(), Task(seed: 9).PlaceCells.Centres.ToArray());
        Assert.NotEqual(Task(seed: 9).PlaceCells.Centres.ToArray(), Task(seed: 10).PlaceCells.Centres.ToArray());
    }

    [Fact]
    public void BadInputIsRejectedWithTheArgumentNamed()
    {
        Assert.Equal("ArenaSize", Assert.Throws<ArgumentOutOfRangeException>(() => Task(new TrajectoryOptions(ArenaSize: 0))).ParamName);
        Assert.Equal("BorderRegion", Assert.Throws<ArgumentOutOfRangeException>(() => Task(new TrajectoryOptions(BorderRegion: 1.1))).ParamName);
        Assert.Equal("WallSlowdown", Assert.Throws<ArgumentOutOfRangeException>(() => Task(new TrajectoryOptions(WallSlowdown: 0))).ParamName);
        Assert.Equal("TimeStep", Assert.Throws<ArgumentOutOfRangeException>(() => Task(new TrajectoryOptions(TimeStep: double.NaN))).ParamName);
        Assert.Equal("variance", Assert.Throws<ArgumentOutOfRangeException>(
            () => new PlaceCellEnsemble(10, 2.2, -1, new SeededRandom(1))).ParamName);
        Assert.Equal("concentration", Assert.Throws<ArgumentOutOfRangeException>(
            () => new HeadDirectionCellEnsemble(12, double.PositiveInfinity, new SeededRandom(1))).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trajectories(0, 3));

        var task = Task();
        var wrong = new PathIntegrationBatch<float>(10, 2, placeCells: 100, headDirectionCells: 12);
        var error = Assert.Throws<ArgumentException>(() => task.Generate(new SeededRandom(1), wrong));
        Assert.Equal("batch", error.ParamName);
        Assert.Contains("100", error.Message);
        Assert.Contains("256", error.Message);

        var encode = Assert.Throws<ArgumentException>(() => task.PlaceCells.Encode<float>(new double[4], new float[256]));
        Assert.Equal("activity", encode.ParamName);
        Assert.Contains("512", encode.Message);
        Assert.Equal("positions", Assert.Throws<ArgumentException>(() => task.PlaceCells.Encode<float>(new double[3], new float[256])).ParamName);
        Assert.Equal("activity", Assert.Throws<ArgumentException>(() => task.HeadDirectionCells.Encode<float>(new double[2], new float[12])).ParamName);
        Assert.Equal("topK", Assert.Throws<ArgumentOutOfRangeException>(() => task.PlaceCells.Decode<float>(new float[256], 0)).ParamName);
        Assert.Equal("activity", Assert.Throws<ArgumentException>(() => task.PlaceCells.Decode<float>(new float[255])).ParamName);
    }

    private static void AssertRowsSumToOne(double[] data, int width)
    {
        for (int r = 0; r < data.Length / width; r++)
        {
            double sum = 0;
            for (int c = 0; c < width; c++)
            {
                Assert.InRange(data[r * width + c], 0, 1);
                sum += data[r * width + c];
            }

            Assert.Equal(1, sum, 12);
        }
    }
}
