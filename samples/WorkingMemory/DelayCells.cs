using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Samples;

namespace WorkingMemorySample;

/// <summary>One hidden unit's tuning: its selectivity and its mean activity per cue location at every step.</summary>
/// <param name="Unit">The unit's index in h.</param>
/// <param name="Separation">The one-way ANOVA F statistic of its mean delay-period activity by cue location.</param>
/// <param name="Selectivity">η² of its mean delay-period activity by cue location, in [0, 1].</param>
/// <param name="LateSelectivity">The same η² over the last quarter of the delay only.</param>
/// <param name="PreferredLocation">The location with the highest mean delay activity.</param>
/// <param name="MeanActivity">Mean h(t) over the trials of each location, [locations][trial length].</param>
internal sealed record UnitTuning(int Unit, double Separation, double Selectivity, double LateSelectivity, int PreferredLocation, double[][] MeanActivity);

/// <summary>The delay-period analysis of one trained cell.</summary>
internal sealed record DelayAnalysis(CellKind Kind, int Delay, int Trials, double[] Selectivity, double[] LateSelectivity, IReadOnlyList<UnitTuning> Top)
{
    /// <summary>Units whose mean delay activity has η² ≥ <paramref name="threshold"/>.</summary>
    public int CountSelective(double threshold) => Selectivity.Count(s => s >= threshold);

    /// <summary>Units whose mean activity over the last quarter of the delay has η² ≥ <paramref name="threshold"/>.</summary>
    public int CountLateSelective(double threshold) => LateSelectivity.Count(s => s >= threshold);
}

/// <summary>
/// Finds the hidden units that hold the cue through the delay, the analogue of the dorsolateral prefrontal delay cells
/// (Funahashi et al. 1989). Selection rule: for unit j and trial b, m_j(b) = the mean of h_j(t) over the delay steps
/// t = 1..d; a one-way ANOVA of m_j by cue location gives the between- and within-location sums of squares SS_b and
/// SS_w; units are ranked by F = (SS_b / (k - 1)) / (SS_w / (n - k)), how far apart the locations' means are in units of
/// the trial-to-trial spread (ties, which occur only without input noise, by SS_b). η² = SS_b / (SS_b + SS_w), the fraction
/// of the variance explained by the cue, is reported beside it.
/// </summary>
internal static class DelayCells
{
    public static DelayAnalysis Analyse(CellKind kind, MemoryModel model, DelayedResponseTask task, int delay, int trials, int top, SeededRandom random)
    {
        var fixedDelay = new DelayedResponseTask(task.Locations, delay, delay, task.ResponseSteps, task.InputNoise, task.Fixation);
        var set = new TrialSet(fixedDelay, trials).Draw(random);
        model.Forward(set.Input);
        var h = model.Hidden;
        int hidden = model.HiddenSize, length = fixedDelay.TrialLength(delay), locations = task.Locations;
        int lateStart = 1 + delay - Math.Max(1, delay / 4);

        var selectivity = new double[hidden];
        var separation = new double[hidden];
        var spread = new double[hidden];
        var late = new double[hidden];
        var delayMean = new double[trials];
        var lateMean = new double[trials];
        for (int j = 0; j < hidden; j++)
        {
            for (int b = 0; b < trials; b++)
            {
                double sum = 0, lateSum = 0;
                for (int t = 1; t <= delay; t++)
                {
                    sum += h[t, b, j];
                    if (t >= lateStart)
                    {
                        lateSum += h[t, b, j];
                    }
                }

                delayMean[b] = sum / delay;
                lateMean[b] = lateSum / (delay + 1 - lateStart);
            }

            (selectivity[j], separation[j], spread[j]) = Anova(delayMean, set.Cues, locations);
            late[j] = Anova(lateMean, set.Cues, locations).EtaSquared;
        }

        var ranked = Enumerable.Range(0, hidden).OrderByDescending(j => separation[j]).ThenByDescending(j => spread[j]).ThenBy(j => j).Take(top);
        var tunings = new List<UnitTuning>();
        foreach (int j in ranked)
        {
            var mean = new double[locations][];
            var counts = new int[locations];
            for (int c = 0; c < locations; c++)
            {
                mean[c] = new double[length];
            }

            for (int b = 0; b < trials; b++)
            {
                counts[set.Cues[b]]++;
                for (int t = 0; t < length; t++)
                {
                    mean[set.Cues[b]][t] += h[t, b, j];
                }
            }

            int preferred = 0;
            double best = double.NegativeInfinity;
            for (int c = 0; c < locations; c++)
            {
                double delayActivity = 0;
                for (int t = 0; t < length; t++)
                {
                    mean[c][t] /= Math.Max(1, counts[c]);
                    if (t is >= 1 && t <= delay)
                    {
                        delayActivity += mean[c][t];
                    }
                }

                if (delayActivity > best)
                {
                    best = delayActivity;
                    preferred = c;
                }
            }

            tunings.Add(new UnitTuning(j, separation[j], selectivity[j], late[j], preferred, mean));
        }

        return new DelayAnalysis(kind, delay, trials, selectivity, late, tunings);
    }

    /// <summary>One-way ANOVA of <paramref name="values"/> grouped by <paramref name="groups"/>: η², F and SS_between.</summary>
    private static (double EtaSquared, double F, double Between) Anova(double[] values, int[] groups, int groupCount)
    {
        var sums = new double[groupCount];
        var counts = new int[groupCount];
        double total = 0;
        for (int b = 0; b < values.Length; b++)
        {
            sums[groups[b]] += values[b];
            counts[groups[b]]++;
            total += values[b];
        }

        double mean = total / values.Length, between = 0, within = 0;
        int present = 0;
        for (int c = 0; c < groupCount; c++)
        {
            if (counts[c] > 0)
            {
                double groupMean = sums[c] / counts[c];
                between += counts[c] * (groupMean - mean) * (groupMean - mean);
                present++;
            }
        }

        for (int b = 0; b < values.Length; b++)
        {
            double groupMean = sums[groups[b]] / counts[groups[b]];
            within += (values[b] - groupMean) * (values[b] - groupMean);
        }

        double etaSquared = between + within > 1e-12 ? between / (between + within) : 0;
        double f = within > 0 && present > 1 ? between / (present - 1) / (within / (values.Length - present))
            : between > 0 ? double.PositiveInfinity : 0;
        return (etaSquared, f, between);
    }
}
