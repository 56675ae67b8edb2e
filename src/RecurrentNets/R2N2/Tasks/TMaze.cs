using RecurrentNets.Init;
using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2.Tasks;

/// <summary>
/// The delayed-alternation T-maze of Cheng and Brown 2025 (their <c>TMazeNavTask</c>): a vertical stem of cue + delay
/// cells, then a horizontal arm of 2·branch + 1 cells whose middle cell is the junction. The first <c>cue</c> stem cells
/// show the cue (observation 1 or 2: which arm is rewarded), the rest of the stem is the delay corridor (0), the junction
/// shows 3 and the arm cells 4. The agent starts at the top of the stem; actions 0 left, 1 up, 2 right, 3 down; walls
/// block moves. The episode ends at either arm end, with reward 1 only at the left end for cue 1 and the right end for cue 2.
/// </summary>
public sealed class TMaze
{
    /// <summary>Actions.</summary>
    public const int Left = 0, Up = 1, Right = 2, Down = 3;

    /// <summary>The network's input width: one-hot previous action (4) + one-hot reward (2) + one-hot observation (5).</summary>
    public const int InputSize = 11;

    /// <summary>Creates a maze.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A length is below 1 or the cue type is not 1 or 2.</exception>
    public TMaze(int cue, int delay, int branch, int cueType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cue, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(branch, 1);
        if (cueType is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(cueType), cueType, "The cue is 1 (reward on the left) or 2 (reward on the right).");
        }

        Cue = cue;
        Delay = delay;
        Branch = branch;
        CueType = cueType;
        Reset();
    }

    /// <summary>Stem cells that show the cue.</summary>
    public int Cue { get; }

    /// <summary>Stem cells of the delay corridor.</summary>
    public int Delay { get; }

    /// <summary>Arm cells on each side of the junction.</summary>
    public int Branch { get; }

    /// <summary>1: reward on the left; 2: on the right.</summary>
    public int CueType { get; }

    /// <summary>Row (0 = top of the stem; Cue + Delay = the arm).</summary>
    public int Row { get; private set; }

    /// <summary>Column (Branch = the stem and junction).</summary>
    public int Column { get; private set; }

    /// <summary>Whether an arm end was reached.</summary>
    public bool Done { get; private set; }

    /// <summary>The distance walked along the maze: the row in the stem, then Cue + Delay + |Column − Branch| in the arm.</summary>
    public int Position => Row + Math.Abs(Column - Branch);

    /// <summary>The number of actions of an optimal trajectory: Cue + Delay + Branch.</summary>
    public int OptimalLength => Cue + Delay + Branch;

    /// <summary>The observation code of the current cell: cue type, 0 (delay), 3 (junction) or 4 (arm).</summary>
    public int Observation => Row < Cue ? CueType : Row < Cue + Delay ? 0 : Column == Branch ? 3 : 4;

    /// <summary>Back to the top of the stem.</summary>
    public void Reset()
    {
        Row = 0;
        Column = Branch;
        Done = false;
    }

    /// <summary>Takes an action; moves into walls leave the agent in place.</summary>
    /// <returns>The reward (1 at the rewarded arm end, else 0).</returns>
    /// <exception cref="InvalidOperationException">The episode is over.</exception>
    public int Step(int action)
    {
        if (Done)
        {
            throw new InvalidOperationException("The episode is over: call Reset.");
        }

        int arm = Cue + Delay;
        switch (action)
        {
            case Down when Row < arm:
                Row++;
                break;
            case Up when Row > 0 && Column == Branch:
                Row--;
                break;
            case Left when Row == arm && Column > 0:
                Column--;
                break;
            case Right when Row == arm && Column < 2 * Branch:
                Column++;
                break;
        }

        if (Row == arm && (Column == 0 || Column == 2 * Branch))
        {
            Done = true;
            return (Column == 0) == (CueType == 1) ? 1 : 0;
        }

        return 0;
    }

    /// <summary>Writes the network input for (previous action, reward, current observation) into <paramref name="input"/> [11].</summary>
    public void Encode(int previousAction, int reward, Span<double> input)
    {
        input.Clear();
        input[previousAction] = 1;
        input[4 + reward] = 1;
        input[6 + Observation] = 1;
    }

    /// <summary>
    /// The optimal trajectory as a network sequence [OptimalLength + 1, 11]: input 0 is (up, no reward, start), then after
    /// each optimal action (down × (Cue + Delay), then left or right × Branch) its (action, reward, observation); plus
    /// N(0, noise²) on every entry.
    /// </summary>
    public Tensor<double> OptimalSequence(double noise, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Reset();
        var x = new Tensor<double>(OptimalLength + 1, InputSize);
        Encode(Up, 0, x.Data.AsSpan(0, InputSize));
        for (int t = 0; t < OptimalLength; t++)
        {
            int action = OptimalAction();
            int reward = Step(action);
            Encode(action, reward, x.Data.AsSpan((t + 1) * InputSize, InputSize));
        }

        if (noise > 0)
        {
            for (int i = 0; i < x.Length; i++)
            {
                x.Data[i] += random.NextNormal(0, noise);
            }
        }

        Reset();
        return x;
    }

    /// <summary>The optimal next action from the current cell.</summary>
    public int OptimalAction() => Row < Cue + Delay ? Down : CueType == 1 ? Left : Right;

    /// <summary>
    /// The training set: every (cue, delay, branch, cue type) combination of the ranges, <paramref name="repeats"/> noisy
    /// copies each. The paper's: cue 20…23, delay 50…55, branch 20…25, 10 repeats → 2 880 trajectories of 91–104 inputs.
    /// </summary>
    public static List<(TMaze Maze, Tensor<double> Sequence)> OptimalTrajectories(Range cues, Range delays, Range branches, int repeats,
        double noise, SeededRandom random)
    {
        var set = new List<(TMaze, Tensor<double>)>();
        for (int cue = cues.Start.Value; cue <= cues.End.Value; cue++)
        {
            for (int delay = delays.Start.Value; delay <= delays.End.Value; delay++)
            {
                for (int branch = branches.Start.Value; branch <= branches.End.Value; branch++)
                {
                    foreach (int type in new[] { 1, 2 })
                    {
                        var maze = new TMaze(cue, delay, branch, type);
                        for (int r = 0; r < repeats; r++)
                        {
                            set.Add((maze, maze.OptimalSequence(noise, random)));
                        }
                    }
                }
            }
        }

        return set;
    }
}

/// <summary>A closed-loop trial's outcome.</summary>
/// <param name="Rewarded">Whether the agent reached the rewarded arm end.</param>
/// <param name="Steps">Actions taken.</param>
/// <param name="Positions">The maze position after every step.</param>
/// <param name="Activity">Group B's rates after every step, [Steps, n] row-major.</param>
public sealed record TMazeTrial(bool Rewarded, int Steps, int[] Positions, double[] Activity);

/// <summary>Closed-loop testing of a consolidator in the T-maze: its predicted next action is taken, its input built from the result.</summary>
public static class TMazeClosedLoop
{
    /// <summary>
    /// Runs one trial: from a random ±0.2 state, feed (up, no reward, start) and take argmax(y[0:4]) as the action at each
    /// step, until an arm end or 2·OptimalLength steps.
    /// </summary>
    public static TMazeTrial Run(R2N2Consolidator network, TMaze maze, double noise, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(maze);
        ArgumentNullException.ThrowIfNull(random);
        maze.Reset();
        network.RandomizeState();
        var input = new double[TMaze.InputSize];
        var y = new double[network.OutputSize];
        int limit = 2 * maze.OptimalLength;
        var positions = new List<int>();
        var activity = new List<double>();
        int action = TMaze.Up, reward = 0;
        while (!maze.Done && positions.Count < limit)
        {
            maze.Encode(action, reward, input);
            for (int i = 0; i < input.Length; i++)
            {
                input[i] += noise > 0 ? random.NextNormal(0, noise) : 0;
            }

            network.Forward(input);
            network.ComputeOutput(y);
            action = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<double>(y.AsSpan(0, 4));
            reward = maze.Step(action);
            positions.Add(maze.Position);
            activity.AddRange(network.RateB.ToArray());
        }

        return new TMazeTrial(reward == 1, positions.Count, [.. positions], [.. activity]);
    }
}
