using System.Numerics;

namespace RecurrentNets.Data;

/// <summary>
/// Sliding windows over time series for forecasting: each window of <c>window</c> rows is an input sequence and the
/// <c>horizon</c> rows after it, in the target columns, its target. Legend: N = a series' rows, F = features,
/// W = window, H = horizon, TF = target features.
/// </summary>
/// <remarks>
/// <para>Windows never cross from one series into the next: series k gives windows starting at rows 0, stride,
/// 2·stride, … as long as start + W + H ≤ N. Item targets are per sequence, of size H·TF, laid out [H, TF] row-major:
/// element h·TF + j is column <c>targetFeatures[j]</c> of the row h + 1 steps after the window's last row.</para>
/// <para>The usual recipe: <see cref="Split{T}(IReadOnlyList{T[,]}, double)"/> each series chronologically, fit a
/// <see cref="Normalizer{T}"/> on the first (training) parts only, transform both parts, then window them; predictions
/// are in normalized units and <see cref="Normalizer{T}.InverseTargets"/> maps them back. Keras:
/// <c>keras.utils.timeseries_dataset_from_array</c>.</para>
/// </remarks>
public static class TimeSeriesWindows
{
    /// <summary>The windows of several series, none crossing from one series into another.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="series">The series, each [N, F] with the same F and finite values.</param>
    /// <param name="window">W, the input steps, at least 1.</param>
    /// <param name="horizon">H, the steps ahead to predict, at least 1.</param>
    /// <param name="targetFeatures">The target columns, distinct, each in [0, F); null (or empty) for every column.</param>
    /// <param name="stride">The distance between consecutive window starts, at least 1.</param>
    /// <returns>A dataset with inputs [W, F] and per-sequence real targets [H·TF].</returns>
    /// <exception cref="ArgumentOutOfRangeException">window, horizon or stride is below 1.</exception>
    /// <exception cref="ArgumentException">The list is empty, series differ in F, a target column is invalid, or no series is W + H rows long.</exception>
    public static SequenceDataset<T> Create<T>(IReadOnlyList<T[,]> series, int window, int horizon = 1, int[]? targetFeatures = null, int stride = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int features = CheckSeries(series, nameof(series));
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        int[] columns = CheckColumns(targetFeatures, features, nameof(targetFeatures));
        var items = new List<(T[,], T[])>();
        int longest = 0;
        foreach (T[,] s in series)
        {
            int rows = s.GetLength(0);
            longest = Math.Max(longest, rows);
            for (int start = 0; start + window + horizon <= rows; start += stride)
            {
                var input = new T[window, features];
                for (int t = 0; t < window; t++)
                {
                    for (int f = 0; f < features; f++)
                    {
                        input[t, f] = s[start + t, f];
                    }
                }

                var target = new T[horizon * columns.Length];
                for (int h = 0; h < horizon; h++)
                {
                    for (int j = 0; j < columns.Length; j++)
                    {
                        target[h * columns.Length + j] = s[start + window + h, columns[j]];
                    }
                }

                items.Add((input, target));
            }
        }

        if (items.Count == 0)
        {
            throw new ArgumentException($"no series has window + horizon = {window + horizon} rows (the longest has {longest}).", nameof(series));
        }

        return SequenceDataset<T>.Create(items);
    }

    /// <summary>The windows of one series, [N, F]; see <see cref="Create{T}(IReadOnlyList{T[,]}, int, int, int[], int)"/>.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="series">[N, F].</param>
    /// <param name="window">W, at least 1.</param>
    /// <param name="horizon">H, at least 1.</param>
    /// <param name="targetFeatures">The target columns; null for every column.</param>
    /// <param name="stride">The distance between window starts, at least 1.</param>
    /// <exception cref="ArgumentException">As for several series.</exception>
    public static SequenceDataset<T> Create<T>(T[,] series, int window, int horizon = 1, int[]? targetFeatures = null, int stride = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(series);
        return Create([series], window, horizon, targetFeatures, stride);
    }

    /// <summary>Splits each series chronologically: its first round(firstFraction·N) rows, and the rest.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="series">The series, each [N, F].</param>
    /// <param name="firstFraction">In (0, 1); both parts of every series must get at least one row.</param>
    /// <returns>The first parts (training) and the second parts (validation), series by series.</returns>
    /// <exception cref="ArgumentException">The list is empty, series differ in F, or a part of a series would be empty (the message names the series).</exception>
    public static (T[][,] First, T[][,] Second) Split<T>(IReadOnlyList<T[,]> series, double firstFraction)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int features = CheckSeries(series, nameof(series));
        var first = new T[series.Count][,];
        var second = new T[series.Count][,];
        for (int k = 0; k < series.Count; k++)
        {
            int rows = series[k].GetLength(0);
            int split = double.IsFinite(firstFraction) ? (int)Math.Round(firstFraction * rows) : -1;
            if (split < 1 || split > rows - 1)
            {
                throw new ArgumentException($"series {k} has {rows} rows; firstFraction {firstFraction} splits them into {split} and {rows - split}, and each part needs at least one.", nameof(firstFraction));
            }

            first[k] = new T[split, features];
            second[k] = new T[rows - split, features];
            Array.Copy(series[k], first[k], split * features);
            Array.Copy(series[k], split * features, second[k], 0, (rows - split) * features);
        }

        return (first, second);
    }

    /// <summary>Splits one series [N, F] chronologically; see <see cref="Split{T}(IReadOnlyList{T[,]}, double)"/>.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="series">[N, F].</param>
    /// <param name="firstFraction">In (0, 1).</param>
    /// <exception cref="ArgumentException">A part would be empty.</exception>
    public static (T[,] First, T[,] Second) Split<T>(T[,] series, double firstFraction)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(series);
        var (first, second) = Split([series], firstFraction);
        return (first[0], second[0]);
    }

    /// <summary>Checks that the list is non-empty and every series has rows and the same F; returns F.</summary>
    internal static int CheckSeries<T>(IReadOnlyList<T[,]> series, string paramName)
    {
        ArgumentNullException.ThrowIfNull(series, paramName);
        if (series.Count == 0)
        {
            throw new ArgumentException("the list of series is empty.", paramName);
        }

        int features = -1;
        for (int k = 0; k < series.Count; k++)
        {
            T[,] s = series[k] ?? throw new ArgumentException($"series {k} is null.", paramName);
            if (s.GetLength(0) == 0 || s.GetLength(1) == 0)
            {
                throw new ArgumentException($"series {k} is empty ([{s.GetLength(0)}, {s.GetLength(1)}]).", paramName);
            }

            if (features < 0)
            {
                features = s.GetLength(1);
            }
            else if (s.GetLength(1) != features)
            {
                throw new ArgumentException($"series {k} has {s.GetLength(1)} features but series 0 has {features}.", paramName);
            }
        }

        return features;
    }

    /// <summary>Checks target columns (distinct, in [0, F)); null or empty means all F.</summary>
    internal static int[] CheckColumns(ReadOnlySpan<int> columns, int features, string paramName)
    {
        if (columns.IsEmpty)
        {
            int[] all = new int[features];
            for (int f = 0; f < features; f++)
            {
                all[f] = f;
            }

            return all;
        }

        for (int j = 0; j < columns.Length; j++)
        {
            if ((uint)columns[j] >= (uint)features)
            {
                throw new ArgumentException($"target column {j} is {columns[j]} but the series have {features} features.", paramName);
            }

            if (columns[..j].Contains(columns[j]))
            {
                throw new ArgumentException($"target column {columns[j]} is listed twice.", paramName);
            }
        }

        return columns.ToArray();
    }
}
