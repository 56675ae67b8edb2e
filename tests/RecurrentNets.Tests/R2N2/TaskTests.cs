using RecurrentNets.Init;
using RecurrentNets.R2N2;
using RecurrentNets.R2N2.Tasks;
using Xunit;

namespace RecurrentNets.Tests.R2N2;

/// <summary>The task generators reproduce the authors' formats (Cheng and Brown 2025).</summary>
public class TaskTests
{
    [Fact]
    public void AnBnSequencesAreNASeparatorNBSeparator()
    {
        var x = AnBnTask.Sequence(3);
        Assert.True(x.HasShape(8, 3));
        int[] symbols = Enumerable.Range(0, 8).Select(t => Enumerable.Range(0, 3).First(s => x[t, s] == 1)).ToArray();
        Assert.Equal([0, 0, 0, 2, 1, 1, 1, 2], symbols);
        Assert.Equal([1, 2, 3, 4], AnBnTask.Range(1).Select(s => (s.Size(0) - 2) / 2));
    }

    [Fact]
    public void TheTMazeTrainingSetHas2880OptimalTrajectoriesOf91To104Inputs()
    {
        var set = TMaze.OptimalTrajectories(20..23, 50..55, 20..25, 10, 0.01, new SeededRandom(1));
        Assert.Equal(2880, set.Count);
        Assert.Equal(91, set.Min(s => s.Sequence.Size(0)));
        Assert.Equal(104, set.Max(s => s.Sequence.Size(0)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheOptimalTrajectoryIsRewardedAndItsInputsEncodeActionRewardObservation(int cue)
    {
        var maze = new TMaze(2, 3, 2, cue);
        var x = maze.OptimalSequence(0, new SeededRandom(1));
        Assert.True(x.HasShape(8, TMaze.InputSize));
        Assert.Equal(1, x[0, TMaze.Up]);
        Assert.Equal(1, x[0, 6 + cue]);                       // the cue is seen at the start
        Assert.Equal(1, x[5, TMaze.Down]);
        Assert.Equal(1, x[5, 6 + 3]);                         // the junction after cue + delay downs
        int turn = cue == 1 ? TMaze.Left : TMaze.Right;
        Assert.Equal(1, x[7, turn]);
        Assert.Equal(1, x[7, 5]);                             // rewarded at the arm end
        Assert.Equal(1, x[6, 4]);                             // no reward before

        maze.Reset();
        Assert.Equal(0, maze.Step(TMaze.Up));                 // wall: stays
        Assert.Equal(0, maze.Position);
        for (int i = 0; i < 5; i++)
        {
            maze.Step(TMaze.Down);
        }

        maze.Step(cue == 1 ? TMaze.Right : TMaze.Left);
        Assert.Equal(0, maze.Step(cue == 1 ? TMaze.Right : TMaze.Left));
        Assert.True(maze.Done);                               // the wrong arm ends the episode unrewarded
    }

    [Fact]
    public void ClosedLoopRunsTheConsolidatorInTheMaze()
    {
        var net = new R2N2Consolidator(new R2N2Options { GroupSize = 8, InputSize = TMaze.InputSize, OutputSize = TMaze.InputSize });
        var maze = new TMaze(2, 3, 2, 1);
        var trial = TMazeClosedLoop.Run(net, maze, 0.01, new SeededRandom(2));
        Assert.InRange(trial.Steps, 1, 2 * maze.OptimalLength);
        Assert.Equal(trial.Steps * 8, trial.Activity.Length);
    }
}
