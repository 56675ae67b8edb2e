namespace RecurrentNets.Diagnostics;

/// <summary>The gridness of one rate map: the score and the rotational correlations it is made of.</summary>
/// <param name="Score">min(r60, r120) - max(r30, r90, r150); above about 0.3 reads as grid-like.</param>
/// <param name="R30">The correlation of the autocorrelogram with itself rotated by 30°, inside the annulus.</param>
/// <param name="R60">… by 60°.</param>
/// <param name="R90">… by 90°.</param>
/// <param name="R120">… by 120°.</param>
/// <param name="R150">… by 150°.</param>
/// <param name="InnerRadius">The annulus's inner radius, as a fraction of the map's side in bins.</param>
/// <param name="OuterRadius">The annulus's outer radius, as a fraction of the map's side in bins.</param>
public readonly record struct GridScoreResult(double Score, double R30, double R60, double R90, double R120, double R150,
    double InnerRadius, double OuterRadius);

/// <summary>
/// The gridness score of a spatial rate map (Sargolini et al. 2006, Science 312; Langston et al. 2010, Science 328;
/// Banino et al. 2018): the spatial autocorrelogram of the map is correlated with rotated copies of itself inside an
/// annulus around the centre; a hexagonal pattern correlates at 60° and 120° and not at 30°, 90° and 150°.
/// </summary>
/// <remarks>
/// <para>Legend: n = the side of the rate map in bins; the autocorrelogram is (2n - 1) × (2n - 1), its centre at (n - 1, n - 1).</para>
/// <para>Autocorrelogram: for every lag (dx, dy), the Pearson correlation of the map with itself shifted by the lag, over
/// the bins where both are defined (NaN marks an unvisited bin); 0 where it is undefined.
/// Score: r_θ = Pearson(A, rot_θ(A)) over the bins with inner·n &lt; distance to the centre ≤ outer·n (rotation about
/// the centre, bilinear interpolation, 0 outside), and gridness = min(r60, r120) - max(r30, r90, r150).
/// <see cref="Compute(ReadOnlySpan{double}, int)"/> takes the best score over the annuli of Banino et al.'s code
/// (inner 0.2, outer 0.4 to 1.0 in ten steps), which spares choosing the annulus for an unknown grid scale.</para>
/// </remarks>
public static class GridScore
{
    private static readonly double[] Angles = [30, 60, 90, 120, 150];

    /// <summary>The spatial autocorrelogram of a rate map.</summary>
    /// <param name="rateMap">The map, [n, n] row-major (row = y bin); NaN for unvisited bins.</param>
    /// <param name="size">n ≥ 2.</param>
    /// <param name="autocorrelogram">Receives the autocorrelogram, [2n - 1, 2n - 1]; entry (n - 1 + dy, n - 1 + dx) is the
    /// correlation at lag (dx, dy).</param>
    /// <exception cref="ArgumentException">A length disagrees with n.</exception>
    /// <exception cref="ArgumentOutOfRangeException">n is below 2.</exception>
    public static void Autocorrelogram(ReadOnlySpan<double> rateMap, int size, Span<double> autocorrelogram)
    {
        CheckMap(rateMap, size);
        int side = 2 * size - 1;
        if (autocorrelogram.Length != side * side)
        {
            throw new ArgumentException($"autocorrelogram has {autocorrelogram.Length} elements but a {size}-bin map needs [{side}, {side}] = {side * side}.", nameof(autocorrelogram));
        }

        for (int dy = -(size - 1); dy < size; dy++)
        {
            for (int dx = -(size - 1); dx < size; dx++)
            {
                var sums = new PearsonSums();
                int y0 = Math.Max(0, -dy), y1 = Math.Min(size, size - dy);
                int x0 = Math.Max(0, -dx), x1 = Math.Min(size, size - dx);
                for (int y = y0; y < y1; y++)
                {
                    for (int x = x0; x < x1; x++)
                    {
                        double a = rateMap[y * size + x], b = rateMap[(y + dy) * size + x + dx];
                        if (double.IsNaN(a) || double.IsNaN(b))
                        {
                            continue;
                        }

                        sums.Add(a, b);
                    }
                }

                autocorrelogram[(size - 1 + dy) * side + size - 1 + dx] = sums.Correlation;
            }
        }
    }

    /// <summary>The best gridness over Banino et al.'s ten annuli (inner radius 0.2·n, outer 0.4·n to 1.0·n).</summary>
    /// <param name="rateMap">The map, [n, n] row-major; NaN for unvisited bins.</param>
    /// <param name="size">n ≥ 2.</param>
    /// <returns>The result of the annulus with the highest score.</returns>
    /// <exception cref="ArgumentException">The map's length is not n².</exception>
    /// <exception cref="ArgumentOutOfRangeException">n is below 2.</exception>
    public static GridScoreResult Compute(ReadOnlySpan<double> rateMap, int size)
    {
        CheckMap(rateMap, size);
        int side = 2 * size - 1;
        double[] sac = new double[side * side];
        Autocorrelogram(rateMap, size, sac);
        double[][] rotated = Rotations(sac, side);
        GridScoreResult best = default;
        for (int k = 0; k < 10; k++)
        {
            double outer = 0.4 + k * (0.6 / 9);
            var result = ScoreInAnnulus(sac, rotated, side, size, 0.2, outer);
            if (k == 0 || result.Score > best.Score)
            {
                best = result;
            }
        }

        return best;
    }

    /// <summary>The gridness in one annulus.</summary>
    /// <param name="rateMap">The map, [n, n] row-major; NaN for unvisited bins.</param>
    /// <param name="size">n ≥ 2.</param>
    /// <param name="innerRadius">The inner radius as a fraction of n, ≥ 0 (excludes the central peak).</param>
    /// <param name="outerRadius">The outer radius as a fraction of n, in (innerRadius, √2].</param>
    /// <returns>The score and its correlations.</returns>
    /// <exception cref="ArgumentException">The map's length is not n².</exception>
    /// <exception cref="ArgumentOutOfRangeException">n is below 2 or the radii are out of range.</exception>
    public static GridScoreResult Compute(ReadOnlySpan<double> rateMap, int size, double innerRadius, double outerRadius)
    {
        CheckMap(rateMap, size);
        if (!(innerRadius >= 0) || !double.IsFinite(innerRadius))
        {
            throw new ArgumentOutOfRangeException(nameof(innerRadius), innerRadius, "innerRadius must be finite and non-negative.");
        }

        if (!(outerRadius > innerRadius && outerRadius <= Math.Sqrt(2)))
        {
            throw new ArgumentOutOfRangeException(nameof(outerRadius), outerRadius, $"outerRadius must be in ({innerRadius} (innerRadius), √2].");
        }

        int side = 2 * size - 1;
        double[] sac = new double[side * side];
        Autocorrelogram(rateMap, size, sac);
        return ScoreInAnnulus(sac, Rotations(sac, side), side, size, innerRadius, outerRadius);
    }

    private static double[][] Rotations(double[] sac, int side)
    {
        var rotated = new double[Angles.Length][];
        for (int k = 0; k < Angles.Length; k++)
        {
            rotated[k] = new double[sac.Length];
            Rotate(sac, side, Angles[k] * Math.PI / 180, rotated[k]);
        }

        return rotated;
    }

    // rotated(p) = source(R(-angle)·(p - c) + c): bilinear interpolation, 0 outside the source.
    private static void Rotate(double[] source, int side, double angle, double[] rotated)
    {
        double c = (side - 1) / 2.0, cos = Math.Cos(angle), sin = Math.Sin(angle);
        for (int y = 0; y < side; y++)
        {
            for (int x = 0; x < side; x++)
            {
                double u = x - c, v = y - c;
                double sx = cos * u + sin * v + c, sy = -sin * u + cos * v + c;
                int ix = (int)Math.Floor(sx), iy = (int)Math.Floor(sy);
                double fx = sx - ix, fy = sy - iy;
                double value = 0;
                for (int j = 0; j < 2; j++)
                {
                    for (int i = 0; i < 2; i++)
                    {
                        int px = ix + i, py = iy + j;
                        if (px >= 0 && px < side && py >= 0 && py < side)
                        {
                            value += (i == 0 ? 1 - fx : fx) * (j == 0 ? 1 - fy : fy) * source[py * side + px];
                        }
                    }
                }

                rotated[y * side + x] = value;
            }
        }
    }

    private static GridScoreResult ScoreInAnnulus(double[] sac, double[][] rotated, int side, int size, double inner, double outer)
    {
        double c = (side - 1) / 2.0, rIn = inner * size, rOut = outer * size;
        Span<double> r = stackalloc double[Angles.Length];
        for (int k = 0; k < Angles.Length; k++)
        {
            var sums = new PearsonSums();
            for (int y = 0; y < side; y++)
            {
                for (int x = 0; x < side; x++)
                {
                    double d = Math.Sqrt((x - c) * (x - c) + (y - c) * (y - c));
                    if (d <= rIn || d > rOut)
                    {
                        continue;
                    }

                    sums.Add(sac[y * side + x], rotated[k][y * side + x]);
                }
            }

            r[k] = sums.Correlation;
        }

        double score = Math.Min(r[1], r[3]) - Math.Max(r[0], Math.Max(r[2], r[4]));
        return new GridScoreResult(score, r[0], r[1], r[2], r[3], r[4], inner, outer);
    }

    // Running sums of a Pearson correlation between paired samples a and b.
    private struct PearsonSums
    {
        private double count, sa, sb, saa, sbb, sab;

        public void Add(double a, double b)
        {
            count++;
            sa += a;
            sb += b;
            saa += a * a;
            sbb += b * b;
            sab += a * b;
        }

        // r in [-1, 1]; 0 with fewer than two samples or a constant side.
        public readonly double Correlation
        {
            get
            {
                if (count < 2)
                {
                    return 0;
                }

                double n2 = count * count;
                double cov = sab / count - sa * sb / n2;
                double va = saa / count - sa * sa / n2, vb = sbb / count - sb * sb / n2;
                double denominator = Math.Sqrt(Math.Max(va, 0) * Math.Max(vb, 0));
                return denominator > 1e-12 ? Math.Clamp(cov / denominator, -1, 1) : 0;
            }
        }
    }

    private static void CheckMap(ReadOnlySpan<double> rateMap, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        if (rateMap.Length != size * size)
        {
            throw new ArgumentException($"rateMap has {rateMap.Length} elements but a {size} × {size} map (size) needs {size * size}.", nameof(rateMap));
        }
    }
}
