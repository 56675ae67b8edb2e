using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecurrentNets.Data;

/// <summary>
/// Per-feature standardisation, z = (x - mean) / sd, fitted on training data only so that no statistic of the
/// validation data leaks into training. Legend: N = rows, F = <see cref="FeatureCount"/>.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// The mean and the population standard deviation (divisor N) of each column over every row of every fitted series,
/// computed in double. A constant column has sd 0; it gets sd = 1 instead, so it maps to 0 (x - mean) and never to NaN.
/// Targets made by <see cref="TimeSeriesWindows"/> from transformed series are in normalized units of their column:
/// <see cref="InverseTargets"/> maps a prediction back with x = z·sd + mean. scikit-learn: <c>StandardScaler</c>.
/// </remarks>
public sealed class Normalizer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] mean;
    private readonly T[] standardDeviation;

    /// <summary>A normalizer with given statistics.</summary>
    /// <param name="mean">[F], finite.</param>
    /// <param name="standardDeviation">[F], finite and positive.</param>
    /// <exception cref="ArgumentException">The arrays are empty or differ in length, or a value is out of range.</exception>
    public Normalizer(T[] mean, T[] standardDeviation)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(standardDeviation);
        if (mean.Length == 0 || mean.Length != standardDeviation.Length)
        {
            throw new ArgumentException($"mean has {mean.Length} features but standardDeviation has {standardDeviation.Length}; both need the same, at least 1.", nameof(standardDeviation));
        }

        for (int f = 0; f < mean.Length; f++)
        {
            if (!T.IsFinite(mean[f]))
            {
                throw new ArgumentException($"mean of feature {f} is {mean[f]}; it must be finite.", nameof(mean));
            }

            if (!T.IsFinite(standardDeviation[f]) || standardDeviation[f] <= T.Zero)
            {
                throw new ArgumentException($"standardDeviation of feature {f} is {standardDeviation[f]}; it must be finite and positive.", nameof(standardDeviation));
            }
        }

        this.mean = (T[])mean.Clone();
        this.standardDeviation = (T[])standardDeviation.Clone();
    }

    /// <summary>F.</summary>
    public int FeatureCount => mean.Length;

    /// <summary>The mean of each feature, [F].</summary>
    public ReadOnlySpan<T> Mean => mean;

    /// <summary>The standard deviation of each feature, [F] (1 for a constant feature).</summary>
    public ReadOnlySpan<T> StandardDeviation => standardDeviation;

    /// <summary>Fits the statistics of every row of every series (typically the training parts of <see cref="TimeSeriesWindows.Split{T}(IReadOnlyList{T[,]}, double)"/>).</summary>
    /// <param name="series">Each [N, F] with the same F and finite values.</param>
    /// <exception cref="ArgumentException">The list is empty, series differ in F, or a value is not finite (the message names series, row and feature).</exception>
    public static Normalizer<T> Fit(IReadOnlyList<T[,]> series)
    {
        int features = TimeSeriesWindows.CheckSeries(series, nameof(series));
        double[] sum = new double[features], squares = new double[features];
        long rows = 0;
        for (int k = 0; k < series.Count; k++)
        {
            T[,] s = series[k];
            for (int n = 0; n < s.GetLength(0); n++)
            {
                for (int f = 0; f < features; f++)
                {
                    if (!T.IsFinite(s[n, f]))
                    {
                        throw new ArgumentException($"series {k} has {s[n, f]} at row {n}, feature {f}; values must be finite.", nameof(series));
                    }

                    sum[f] += double.CreateChecked(s[n, f]);
                }
            }

            rows += s.GetLength(0);
        }

        // Two passes: the centred sum of squares does not cancel catastrophically.
        for (int f = 0; f < features; f++)
        {
            sum[f] /= rows;
        }

        foreach (T[,] s in series)
        {
            for (int n = 0; n < s.GetLength(0); n++)
            {
                for (int f = 0; f < features; f++)
                {
                    double d = double.CreateChecked(s[n, f]) - sum[f];
                    squares[f] += d * d;
                }
            }
        }

        var mean = new T[features];
        var sd = new T[features];
        for (int f = 0; f < features; f++)
        {
            mean[f] = T.CreateChecked(sum[f]);
            sd[f] = T.CreateChecked(Math.Sqrt(squares[f] / rows));
            if (!(sd[f] > T.Zero))
            {
                sd[f] = T.One;
            }
        }

        return new Normalizer<T>(mean, sd);
    }

    /// <summary>Fits the statistics of one series [N, F].</summary>
    /// <exception cref="ArgumentException">As for several series.</exception>
    public static Normalizer<T> Fit(T[,] series)
    {
        ArgumentNullException.ThrowIfNull(series);
        return Fit([series]);
    }

    /// <summary>z = (x - mean) / sd for every row of <paramref name="series"/>.</summary>
    /// <param name="series">[N, F].</param>
    /// <returns>A new [N, F] array.</returns>
    /// <exception cref="ArgumentException">The series has a different F.</exception>
    public T[,] Transform(T[,] series) => Map(series, inverse: false);

    /// <summary>Transforms each series (<see cref="Transform(T[,])"/>).</summary>
    /// <exception cref="ArgumentException">A series has a different F.</exception>
    public T[][,] Transform(IReadOnlyList<T[,]> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var result = new T[series.Count][,];
        for (int k = 0; k < result.Length; k++)
        {
            result[k] = Map(series[k], inverse: false);
        }

        return result;
    }

    /// <summary>x = z·sd + mean for every row of <paramref name="normalized"/>.</summary>
    /// <param name="normalized">[N, F].</param>
    /// <returns>A new [N, F] array.</returns>
    /// <exception cref="ArgumentException">The array has a different F.</exception>
    public T[,] Inverse(T[,] normalized) => Map(normalized, inverse: true);

    /// <summary>
    /// Maps normalized targets back in place: element h·TF + j (of any number of [H, TF] rows laid end to end, e.g. a
    /// batch of predictions [B, H·TF]) becomes z·sd + mean of feature <c>targetFeatures[j]</c>. Allocates nothing.
    /// </summary>
    /// <param name="targets">[rows·TF], normalized.</param>
    /// <param name="targetFeatures">The TF target columns the windows were made with, each in [0, F).</param>
    /// <exception cref="ArgumentException">targetFeatures is empty or holds a column outside [0, F), or the length of targets is not a multiple of TF.</exception>
    public void InverseTargets(Span<T> targets, ReadOnlySpan<int> targetFeatures)
    {
        int width = targetFeatures.Length;
        if (width == 0 || targets.Length % width != 0)
        {
            throw new ArgumentException($"targets has {targets.Length} values, not a multiple of the {width} target features.", nameof(targets));
        }

        foreach (int f in targetFeatures)
        {
            if ((uint)f >= (uint)mean.Length)
            {
                throw new ArgumentException($"target feature {f} is outside [0, {mean.Length}) (the normalizer's features).", nameof(targetFeatures));
            }
        }

        for (int i = 0; i < targets.Length; i++)
        {
            int f = targetFeatures[i % width];
            targets[i] = targets[i] * standardDeviation[f] + mean[f];
        }
    }

    /// <summary>The statistics as JSON: <c>{"mean": [...], "standardDeviation": [...]}</c> (numbers as double).</summary>
    public string ToJson()
    {
        var json = new JsonObject { ["mean"] = ToArray(mean), ["standardDeviation"] = ToArray(standardDeviation) };
        return json.ToJsonString();
    }

    /// <summary>Reads a normalizer written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The JSON is malformed or its statistics are invalid; the message says why.</exception>
    public static Normalizer<T> FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            if (JsonNode.Parse(json) is not JsonObject obj)
            {
                throw new InvalidDataException("Normalizer JSON is invalid: it is not a JSON object.");
            }

            return new Normalizer<T>(FromArray(obj, "mean"), FromArray(obj, "standardDeviation"));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Normalizer JSON is malformed: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Normalizer JSON is invalid: {e.Message}", e);
        }
    }

    private static JsonArray ToArray(T[] values)
    {
        var array = new JsonArray();
        foreach (T x in values)
        {
            array.Add((JsonNode)JsonValue.Create(double.CreateChecked(x)));
        }

        return array;
    }

    private static T[] FromArray(JsonObject obj, string name)
    {
        if (obj[name] is not JsonArray array)
        {
            throw new InvalidDataException($"Normalizer JSON is invalid: '{name}' is not an array.");
        }

        var values = new T[array.Count];
        for (int i = 0; i < values.Length; i++)
        {
            if (array[i] is not JsonValue v || !v.TryGetValue(out double x))
            {
                throw new InvalidDataException($"Normalizer JSON is invalid: {name}[{i}] is not a number.");
            }

            values[i] = T.CreateChecked(x);
        }

        return values;
    }

    private T[,] Map(T[,] series, bool inverse)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.GetLength(1) != mean.Length)
        {
            throw new ArgumentException($"series has {series.GetLength(1)} features but the normalizer has {mean.Length}.", nameof(series));
        }

        var result = new T[series.GetLength(0), mean.Length];
        for (int n = 0; n < series.GetLength(0); n++)
        {
            for (int f = 0; f < mean.Length; f++)
            {
                result[n, f] = inverse ? series[n, f] * standardDeviation[f] + mean[f] : (series[n, f] - mean[f]) / standardDeviation[f];
            }
        }

        return result;
    }
}
