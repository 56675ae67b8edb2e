using System.Runtime.CompilerServices;

namespace RecurrentNets.Kernels;

/// <summary>
/// The double-precision functions the library calls outside its vector kernels (optimisers' bias corrections, learning-rate
/// schedules, losses, random normals, reservoir construction), written with +, −, ×, ÷ only, so that every CPU gives the
/// same bits. <see cref="Math.Log(double)"/>, <see cref="Math.Exp"/>, <see cref="Math.Pow"/> and <see cref="Math.Cos"/>
/// call the C library, which picks its own code by CPU: glibc 2.36's FMA and non-FMA versions of exp, log, pow, cos and
/// tanh differ in the last bit on about 1 input in 1,000 to 10,000 (measured on 2 million random inputs each), so a CPU
/// without FMA would train other weights from the same seed.
/// </summary>
/// <remarks>
/// <see cref="Log"/> is fdlibm's <c>__ieee754_log</c> (Sun Microsystems, 1993): error below 1 ulp. <see cref="Exp"/> is
/// <see cref="VectorMath.Exp(double)"/>. <see cref="Power"/> multiplies by repeated squaring (relative error about n ulp,
/// as n multiplications). <see cref="Pow"/> is e^(y·ln x) (a few ulp more than the C library's pow).
/// <see cref="CosPi"/> evaluates sin's Taylor polynomial after an exact reduction: absolute error below 1e-16.
/// </remarks>
public static class ScalarMath
{
    private const double Ln2Hi = 6.93147180369123816490e-01;
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double TwoTo54 = 1.80143985094819840000e+16;
    private const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
        Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01, Lg7 = 1.479819860511658591e-01;

    /// <summary>ln x (NaN for x &lt; 0 or NaN, −∞ at 0, +∞ at +∞).</summary>
    public static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int hx = (int)(bits >> 32);
        uint lx = (uint)bits;
        int k = 0;
        if (hx < 0x00100000)
        {
            // Zero, negative or subnormal.
            if (((hx & 0x7fffffff) | (int)lx) == 0)
                return double.NegativeInfinity;
            if (hx < 0)
                return double.NaN;
            k -= 54;
            x *= TwoTo54;
            hx = (int)(BitConverter.DoubleToInt64Bits(x) >> 32);
        }

        if (hx >= 0x7ff00000)
            return x + x;

        // x = 2^k·m with m in [√2/2, √2): f = m − 1.
        k += (hx >> 20) - 1023;
        hx &= 0x000fffff;
        int i = (hx + 0x95f64) & 0x100000;
        x = BitConverter.Int64BitsToDouble(((long)(hx | (i ^ 0x3ff00000)) << 32) | (BitConverter.DoubleToInt64Bits(x) & 0xffffffffL));
        k += i >> 20;
        double f = x - 1.0, dk = k;
        if ((0x000fffff & (2 + hx)) < 3)
        {
            // |f| < 2^-20.
            if (f == 0)
                return k == 0 ? 0 : dk * Ln2Hi + dk * Ln2Lo;
            double r0 = f * f * (0.5 - 0.33333333333333333 * f);
            return k == 0 ? f - r0 : dk * Ln2Hi - ((r0 - dk * Ln2Lo) - f);
        }

        // ln(1 + f) = 2s + s·R(s²), s = f/(2 + f).
        double s = f / (2.0 + f);
        double z = s * s;
        i = hx - 0x6147a;
        double w = z * z;
        int j = 0x6b851 - hx;
        double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
        double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
        i |= j;
        double r = t2 + t1;
        if (i > 0)
        {
            double hfsq = 0.5 * f * f;
            return k == 0 ? f - (hfsq - s * (hfsq + r)) : dk * Ln2Hi - ((hfsq - (s * (hfsq + r) + dk * Ln2Lo)) - f);
        }

        return k == 0 ? f - s * (f - r) : dk * Ln2Hi - ((s * (f - r) - dk * Ln2Lo) - f);
    }

    /// <summary>e^x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Exp(double x) => VectorMath.Exp(x);

    /// <summary>x^n for an integer n, by repeated squaring (relative error about |n| ulp).</summary>
    public static double Power(double x, long n)
    {
        if (n < 0)
            return 1 / Power(x, -n);
        double result = 1, square = x;
        while (n > 0)
        {
            if ((n & 1) != 0)
                result *= square;
            n >>= 1;
            if (n > 0)
                square *= square;
        }

        return result;
    }

    /// <summary>x^y = e^(y·ln x) for x &gt; 0 (NaN for x &lt; 0; x = 0 gives 0 for y &gt; 0).</summary>
    public static double Pow(double x, double y) => x == 0 && y > 0 ? 0 : Exp(y * Log(x));

    // sin z = z + z³·Σ c_k z^(2k), Taylor coefficients to z^23 (|z| ≤ π/2: remainder below 1e-19).
    private const double S3 = -1.0 / 6, S5 = 1.0 / 120, S7 = -1.0 / 5040, S9 = 1.0 / 362880, S11 = -1.0 / 39916800,
        S13 = 1.0 / 6227020800, S15 = -1.0 / 1307674368000, S17 = 1.0 / 355687428096000, S19 = -1.0 / 121645100408832000,
        S21 = 1.0 / 51090942171709440000.0, S23 = -1.0 / 25852016738884976640000.0;

    /// <summary>cos(π·t).</summary>
    public static double CosPi(double t)
    {
        if (!double.IsFinite(t))
            return double.NaN;

        // t − 2·round(t/2) is exact: a = |r| in [0, 1], cos(πa) = −sin(π(a − 1/2)).
        double a = Math.Abs(t - 2 * Math.Round(t / 2));
        double z = Math.PI * (a - 0.5), z2 = z * z;
        double p = S23;
        p = S21 + z2 * p;
        p = S19 + z2 * p;
        p = S17 + z2 * p;
        p = S15 + z2 * p;
        p = S13 + z2 * p;
        p = S11 + z2 * p;
        p = S9 + z2 * p;
        p = S7 + z2 * p;
        p = S5 + z2 * p;
        p = S3 + z2 * p;
        return -(z + z * z2 * p);
    }
}
