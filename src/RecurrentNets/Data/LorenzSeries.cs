namespace RecurrentNets.Data;

/// <summary>
/// The Lorenz (1963) system dx/dt = σ(y - x), dy/dt = x(ρ - z) - y, dz/dt = xy - βz, integrated with classical
/// fourth-order Runge-Kutta at a fixed step.
/// </summary>
public static class LorenzSeries
{
    /// <summary>Integrates and samples every <paramref name="dt"/>.</summary>
    /// <param name="length">Samples T.</param>
    /// <param name="dt">Sample interval (0.02 by default).</param>
    /// <param name="subSteps">RK4 steps per sample.</param>
    /// <param name="sigma">σ (10).</param>
    /// <param name="rho">ρ (28).</param>
    /// <param name="beta">β (8/3).</param>
    /// <param name="x0">Initial x (Gauthier et al. 2021 start on the attractor at (17.677, 12.931, 43.914)).</param>
    /// <param name="y0">Initial y.</param>
    /// <param name="z0">Initial z.</param>
    /// <returns>[T, 3] row-major (x, y, z).</returns>
    public static double[] Generate(int length, double dt = 0.02, int subSteps = 10, double sigma = 10, double rho = 28,
        double beta = 8.0 / 3, double x0 = 17.67715816276679, double y0 = 12.931379185960404, double z0 = 43.91404334248268)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(subSteps, 1);
        if (!(dt > 0) || !double.IsFinite(dt))
        {
            throw new ArgumentOutOfRangeException(nameof(dt), dt, "the sample interval must be positive and finite");
        }

        Finite(sigma, nameof(sigma));
        Finite(rho, nameof(rho));
        Finite(beta, nameof(beta));
        Finite(x0, nameof(x0));
        Finite(y0, nameof(y0));
        Finite(z0, nameof(z0));

        var result = new double[length * 3];
        double x = x0, y = y0, z = z0, h = dt / subSteps;
        for (int t = 0; t < length; t++)
        {
            result[3 * t] = x;
            result[3 * t + 1] = y;
            result[3 * t + 2] = z;
            for (int s = 0; s < subSteps; s++)
            {
                (double ax, double ay, double az) = F(x, y, z);
                (double bx, double by, double bz) = F(x + 0.5 * h * ax, y + 0.5 * h * ay, z + 0.5 * h * az);
                (double cx, double cy, double cz) = F(x + 0.5 * h * bx, y + 0.5 * h * by, z + 0.5 * h * bz);
                (double dx, double dy, double dz) = F(x + h * cx, y + h * cy, z + h * cz);
                x += h / 6 * (ax + 2 * bx + 2 * cx + dx);
                y += h / 6 * (ay + 2 * by + 2 * cy + dy);
                z += h / 6 * (az + 2 * bz + 2 * cz + dz);
            }
        }

        return result;

        (double, double, double) F(double px, double py, double pz) => (sigma * (py - px), px * (rho - pz) - py, px * py - beta * pz);
    }

    private static void Finite(double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite");
        }
    }
}
