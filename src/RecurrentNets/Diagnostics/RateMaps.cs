using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Diagnostics;

/// <summary>
/// Spatial rate maps of many units: the mean activity of each unit in each bin of an n × n grid over a square arena,
/// accumulated over visited positions.
/// </summary>
/// <remarks>Legend: U = units, n = bins per side. Bin (i, j) covers x in [-L/2 + i·L/n, -L/2 + (i+1)·L/n) and likewise y
/// (row j); positions on the upper walls fall in the last bin. Map(u)[j, i] = Σ activity_u / visits over the samples in
/// the bin; NaN for a bin never visited.</remarks>
public sealed class RateMaps
{
    private readonly double[] sums;
    private readonly long[] visits;

    /// <summary>Allocates the accumulators.</summary>
    /// <param name="units">U ≥ 1.</param>
    /// <param name="bins">n ≥ 2.</param>
    /// <param name="arenaSize">L, the side of the arena centred on the origin (m).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range or L is not positive.</exception>
    public RateMaps(int units, int bins, double arenaSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 2);
        if (!(arenaSize > 0) || !double.IsFinite(arenaSize))
        {
            throw new ArgumentOutOfRangeException(nameof(arenaSize), arenaSize, "arenaSize must be positive and finite.");
        }

        Units = units;
        Bins = bins;
        ArenaSize = arenaSize;
        sums = new double[bins * bins * units];
        visits = new long[bins * bins];
    }

    /// <summary>U.</summary>
    public int Units { get; }

    /// <summary>n.</summary>
    public int Bins { get; }

    /// <summary>L.</summary>
    public double ArenaSize { get; }

    /// <summary>The number of samples in each bin, [n, n].</summary>
    public ReadOnlySpan<long> Visits => visits;

    /// <summary>Adds samples: the activity of every unit at each position.</summary>
    /// <param name="positions">(x, y) pairs, [rows, 2]; positions outside the arena go to the nearest edge bin.</param>
    /// <param name="activity">The units' activity, [rows, U].</param>
    /// <exception cref="ArgumentException">The lengths disagree.</exception>
    public void Add<T>(ReadOnlySpan<double> positions, ReadOnlySpan<T> activity)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ShapeCheck.PositionRows(positions, activity.Length, Units, nameof(activity), "units");

        for (int r = 0; r < rows; r++)
        {
            int bin = BinOf(positions[2 * r + 1]) * Bins + BinOf(positions[2 * r]);
            visits[bin]++;
            Span<double> sum = sums.AsSpan(bin * Units, Units);
            ReadOnlySpan<T> a = activity.Slice(r * Units, Units);
            for (int u = 0; u < Units; u++)
            {
                sum[u] += double.CreateTruncating(a[u]);
            }
        }
    }

    /// <summary>The rate map of one unit.</summary>
    /// <param name="unit">The unit, in [0, U).</param>
    /// <param name="map">Receives the mean activity per bin, [n, n] row-major (row = y bin); NaN where unvisited.</param>
    /// <exception cref="ArgumentOutOfRangeException">The unit is out of range.</exception>
    /// <exception cref="ArgumentException">The map's length is not n².</exception>
    public void GetMap(int unit, Span<double> map)
    {
        if (unit < 0 || unit >= Units)
        {
            throw new ArgumentOutOfRangeException(nameof(unit), unit, $"unit must be in [0, {Units}) (units).");
        }

        if (map.Length != Bins * Bins)
        {
            throw new ArgumentException($"map has {map.Length} elements but [{Bins}, {Bins}] (bins) needs {Bins * Bins}.", nameof(map));
        }

        for (int bin = 0; bin < map.Length; bin++)
        {
            map[bin] = visits[bin] == 0 ? double.NaN : sums[bin * Units + unit] / visits[bin];
        }
    }

    private int BinOf(double coordinate)
    {
        double scaled = (coordinate + ArenaSize / 2) / ArenaSize * Bins;
        return double.IsNaN(scaled) ? 0 : (int)Math.Clamp(Math.Floor(scaled), 0, Bins - 1);
    }
}
