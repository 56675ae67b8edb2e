using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace RecurrentNets.Kernels;

/// <summary>
/// The scratch rows of one <see cref="CtcKernels.ForwardBackward{T}"/> call, grown on demand and reused, so a thread that
/// runs sequence after sequence allocates only when a sequence is longer than all before it.
/// </summary>
internal sealed class CtcWorkspace<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>log α, [T, W + 2]: two −∞ lanes before each row so α_{t−1}(s − 1) and α_{t−1}(s − 2) are plain loads.</summary>
    public T[] Alpha = [];

    /// <summary>ln y_t(l'_s), [T, W], −∞ past S.</summary>
    public T[] Emissions = [];

    /// <summary>0 where the skip s − 2 → s is allowed (a label unlike the label before it), else −∞, [W].</summary>
    public T[] SkipForward = [];

    /// <summary>0 where the skip s → s + 2 is allowed, else −∞, [W].</summary>
    public T[] SkipBackward = [];

    /// <summary>log β_{t+1} (emission at t + 1 included), [W + 2], −∞ past S.</summary>
    public T[] Beta = [];

    /// <summary>log β̃_t = log β_t − ln y_t(l'_s) (emission at t excluded), [W].</summary>
    public T[] BetaExcluded = [];

    /// <summary>The posterior occupancy of each state at t, exp(α + β̃ − ln p), [W].</summary>
    public T[] Occupancy = [];

    /// <summary>γ_t(c) = Σ over the states labelled c of the occupancy, [C].</summary>
    public T[] Gamma = [];

    /// <summary>exp(ln y_t(c)), [C].</summary>
    public T[] Probabilities = [];

    public void Ensure(int timeSteps, int width, int classes)
    {
        Grow(ref Alpha, (long)timeSteps * (width + 2));
        Grow(ref Emissions, (long)timeSteps * width);
        Grow(ref SkipForward, width);
        Grow(ref SkipBackward, width);
        Grow(ref Beta, width + 2);
        Grow(ref BetaExcluded, width);
        Grow(ref Occupancy, width);
        Grow(ref Gamma, classes);
        Grow(ref Probabilities, classes);
    }

    private static void Grow(ref T[] array, long length)
    {
        if (array.Length < length)
        {
            array = new T[checked((int)length)];
        }
    }
}

/// <summary>
/// Connectionist temporal classification (Graves, Fernández, Gomez and Schmidhuber 2006) for one sequence: the α and β
/// recursions in log space over the extended label sequence l' = (blank, l_1, blank, l_2, ..., l_L, blank) of
/// S = 2L + 1 states, and the gradient from the state posteriors.
/// </summary>
/// <remarks>
/// Legend: T = input length, L = target length, S = 2L + 1 states, W = S rounded up to <see cref="Vector{T}"/>'s width,
/// C = classes, y_t(c) = exp(logProbs[t, c]). Each time step is one vector pass over the states (the recursion runs over
/// t only), with log-sum-exp by our exp and a log written with +, −, ×, ÷ only, and the rows padded to W with −∞, so
/// there is no scalar tail: a state gives the same bits at every vector width. Twin: <c>Reference.ReferenceCtc</c>.
/// </remarks>
internal static class CtcKernels
{
    /// <summary>
    /// −ln p(l | x) of one sequence and, when <paramref name="gradient"/> is not empty and the loss is finite, its gradient
    /// rows t &lt; <paramref name="inputLength"/> (overwritten; the caller owns the rows past it).
    /// </summary>
    /// <param name="logProbs">ln y, the sequence's row t at t·<paramref name="stride"/>, C values each.</param>
    /// <param name="stride">The distance between time steps (B·C in a time-major batch).</param>
    /// <param name="classes">C.</param>
    /// <param name="inputLength">T, in [0, rows].</param>
    /// <param name="labels">l, L labels in [0, C), none equal to <paramref name="blank"/> (checked by the caller).</param>
    /// <param name="blank">The blank class.</param>
    /// <param name="workspace">Scratch rows.</param>
    /// <param name="gradient">Rows like <paramref name="logProbs"/>, or empty for the loss alone.</param>
    /// <param name="scale">The factor of the gradient (the reduction's).</param>
    /// <param name="addProbabilities">True: gradient = (y − γ)·scale, PyTorch's (the gradient with respect to the logits
    /// when ln y = log_softmax(logits)); false: −γ·scale, the partial derivative with respect to ln y.</param>
    /// <returns>−ln p(l | x): +∞ when no path fits (the gradient is then left to the caller).</returns>
    public static double ForwardBackward<T>(ReadOnlySpan<T> logProbs, int stride, int classes, int inputLength, ReadOnlySpan<int> labels,
        int blank, CtcWorkspace<T> workspace, Span<T> gradient, T scale, bool addProbabilities)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = labels.Length, states = 2 * length + 1, lanes = Vector<T>.Count;
        if (inputLength == 0)
        {
            return length == 0 ? 0 : double.PositiveInfinity;
        }

        int width = (states + lanes - 1) / lanes * lanes, alphaStride = width + 2;
        workspace.Ensure(inputLength, width, classes);
        T negInf = T.NegativeInfinity;
        Span<T> emissions = workspace.Emissions.AsSpan(0, inputLength * width);
        Span<T> skipForward = workspace.SkipForward.AsSpan(0, width), skipBackward = workspace.SkipBackward.AsSpan(0, width);

        // ln y_t(l'_s) for every step and state; the skip masks of l'.
        for (int t = 0; t < inputLength; t++)
        {
            ReadOnlySpan<T> row = logProbs.Slice(t * stride, classes);
            Span<T> e = emissions.Slice(t * width, width);
            for (int s = 0; s < states; s++)
            {
                e[s] = row[(s & 1) == 0 ? blank : labels[s >> 1]];
            }

            e[states..].Fill(negInf);
        }

        for (int s = 0; s < width; s++)
        {
            skipForward[s] = (s & 1) == 1 && s >= 3 && s < states && labels[s >> 1] != labels[(s >> 1) - 1] ? T.Zero : negInf;
        }

        for (int s = 0; s < width; s++)
        {
            skipBackward[s] = s + 2 < width ? skipForward[s + 2] : negInf;
        }

        // α_0 = (y_0(blank), y_0(l_1), −∞, ...); α_t(s) = y_t(l'_s) + lse(α_{t−1}(s), α_{t−1}(s−1), skip + α_{t−1}(s−2)).
        Span<T> alpha = workspace.Alpha.AsSpan(0, inputLength * alphaStride);
        alpha[..alphaStride].Fill(negInf);
        alpha[2] = emissions[0];
        if (states > 1)
        {
            alpha[3] = emissions[1];
        }

        ref T skipF = ref MemoryMarshal.GetReference(skipForward);
        for (int t = 1; t < inputLength; t++)
        {
            ref T previous = ref alpha[(t - 1) * alphaStride];
            ref T current = ref alpha[t * alphaStride];
            ref T e = ref emissions[t * width];
            current = negInf;
            Unsafe.Add(ref current, 1) = negInf;
            for (int s = 0; s < width; s += lanes)
            {
                nuint i = (nuint)s;
                var stay = Vector.LoadUnsafe(ref previous, i + 2);
                var advance = Vector.LoadUnsafe(ref previous, i + 1);
                var skip = Vector.LoadUnsafe(ref previous, i) + Vector.LoadUnsafe(ref skipF, i);
                (Vector.LoadUnsafe(ref e, i) + LogSumExp(stay, advance, skip)).StoreUnsafe(ref current, i + 2);
            }
        }

        // ln p = lse(α_{T−1}(S−1), α_{T−1}(S−2)).
        ReadOnlySpan<T> last = alpha.Slice((inputLength - 1) * alphaStride + 2, states);
        double end = double.CreateTruncating(last[states - 1]);
        double beforeEnd = states > 1 ? double.CreateTruncating(last[states - 2]) : double.NegativeInfinity;
        double top = Math.Max(end, beforeEnd);
        double nll = double.IsNegativeInfinity(top)
            ? double.PositiveInfinity
            : -(top + ScalarMath.Log(ScalarMath.Exp(end - top) + ScalarMath.Exp(beforeEnd - top)));
        if (gradient.IsEmpty || !double.IsFinite(nll))
        {
            return nll;
        }

        // β backwards, with the gradient of each step as soon as its β̃ is known: occupancy_t(s) = exp(α_t(s) + β̃_t(s) + nll),
        // β̃_{T−1} = 0 at the two final states, β̃_t(s) = lse(β_{t+1}(s), β_{t+1}(s+1), skip + β_{t+1}(s+2)).
        Span<T> beta = workspace.Beta.AsSpan(0, width + 2), betaExcluded = workspace.BetaExcluded.AsSpan(0, width);
        Span<T> occupancy = workspace.Occupancy.AsSpan(0, width);
        Span<T> gamma = workspace.Gamma.AsSpan(0, classes), probabilities = workspace.Probabilities.AsSpan(0, classes);
        var logLikelihood = new Vector<T>(T.CreateTruncating(nll));
        ref T skipB = ref MemoryMarshal.GetReference(skipBackward);
        ref T b = ref MemoryMarshal.GetReference(beta);
        ref T bx = ref MemoryMarshal.GetReference(betaExcluded);
        ref T occ = ref MemoryMarshal.GetReference(occupancy);
        beta.Fill(negInf);
        for (int t = inputLength - 1; t >= 0; t--)
        {
            if (t == inputLength - 1)
            {
                betaExcluded.Fill(negInf);
                betaExcluded[states - 1] = T.Zero;
                if (states > 1)
                {
                    betaExcluded[states - 2] = T.Zero;
                }
            }
            else
            {
                for (int s = 0; s < width; s += lanes)
                {
                    nuint i = (nuint)s;
                    var skip = Vector.LoadUnsafe(ref b, i + 2) + Vector.LoadUnsafe(ref skipB, i);
                    LogSumExp(Vector.LoadUnsafe(ref b, i), Vector.LoadUnsafe(ref b, i + 1), skip).StoreUnsafe(ref bx, i);
                }
            }

            ref T a = ref alpha[t * alphaStride + 2];
            ref T e = ref emissions[t * width];
            for (int s = 0; s < width; s += lanes)
            {
                nuint i = (nuint)s;
                var excluded = Vector.LoadUnsafe(ref bx, i);
                Exp(Vector.LoadUnsafe(ref a, i) + excluded + logLikelihood).StoreUnsafe(ref occ, i);
                (Vector.LoadUnsafe(ref e, i) + excluded).StoreUnsafe(ref b, i);
            }

            // γ_t(c) = Σ_{s: l'_s = c} occupancy(s), summed in the order of s.
            gamma.Clear();
            for (int s = 0; s < states; s++)
            {
                gamma[(s & 1) == 0 ? blank : labels[s >> 1]] += occupancy[s];
            }

            Span<T> g = gradient.Slice(t * stride, classes);
            if (addProbabilities)
            {
                VectorMath.Exp<T>(logProbs.Slice(t * stride, classes), probabilities);
                TP.Subtract(probabilities, gamma, g);
                TP.Multiply(g, scale, g);
            }
            else
            {
                TP.Multiply(gamma, -scale, g);
            }
        }

        return nll;
    }

    /// <summary>ln(e^a + e^b + e^c) per lane: m + ln(1 + e^(n − m) + e^(o − m)), m the largest and n, o the others
    /// (two exps, not three); −∞ when all three are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<T> LogSumExp<T>(Vector<T> a, Vector<T> b, Vector<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var negInf = new Vector<T>(T.NegativeInfinity);
        var high = Vector.Max(a, b);
        var m = Vector.Max(high, c);
        var middle = Vector.Min(high, c);
        var low = Vector.Min(a, b);
        var empty = Vector.Equals(m, negInf);
        var shift = Vector.ConditionalSelect(empty, Vector<T>.Zero, m);
        var sum = Vector<T>.One + Exp(middle - shift) + Exp(low - shift);
        return Vector.ConditionalSelect(empty, negInf, shift + Log(sum));
    }

    /// <summary>e^x per lane, <see cref="VectorMath"/>'s (the same bits at every width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<T> Exp<T>(Vector<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return Vector.As<float, T>(VectorMath.Exp<Vector<float>, LanesVector>(Vector.As<T, float>(x)));
        }

        return Vector.As<double, T>(VectorMath.Exp(Vector.As<T, double>(x)));
    }

    /// <summary>ln x per lane for positive normal x (fdlibm's <c>__ieee754_log</c> and <c>__ieee754_logf</c> reduction
    /// and polynomials, with +, −, ×, ÷ only, so every CPU and width gives the same bits); error about 1 ulp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<T> Log<T>(Vector<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return Vector.As<float, T>(LogFloat(Vector.As<T, float>(x)));
        }

        return Vector.As<double, T>(LogDouble(Vector.As<T, double>(x)));
    }

    private const double Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;
    private const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
        Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01, Lg7 = 1.479819860511658591e-01;

    private const float Ln2HiF = 6.9313812256e-01f, Ln2LoF = 9.0580006145e-06f;
    private const float Lg1F = 0.66666662693f, Lg2F = 0.40000972152f, Lg3F = 0.28498786688f, Lg4F = 0.24279078841f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> LogDouble(Vector<double> x)
    {
        // x = 2^k·m, m in [√2/2, √2); f = m − 1, s = f/(2 + f), ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²)).
        var bits = Vector.AsVectorInt64(x);
        var k = Vector.ShiftRightArithmetic(bits, 52) - new Vector<long>(1023);
        var m = Vector.AsVectorDouble((bits & new Vector<long>(0x000fffffffffffffL)) | new Vector<long>(0x3ff0000000000000L));
        var high = Vector.GreaterThan(m, new Vector<double>(1.4142135623730951));
        m = Vector.ConditionalSelect(high, m * new Vector<double>(0.5), m);
        k -= high;
        var f = m - Vector<double>.One;
        var s = f / (new Vector<double>(2.0) + f);
        var z = s * s;
        var w = z * z;
        var t1 = w * (new Vector<double>(Lg2) + w * (new Vector<double>(Lg4) + w * new Vector<double>(Lg6)));
        var t2 = z * (new Vector<double>(Lg1) + w * (new Vector<double>(Lg3) + w * (new Vector<double>(Lg5) + w * new Vector<double>(Lg7))));
        var r = t2 + t1;
        var hfsq = new Vector<double>(0.5) * f * f;
        var dk = Vector.ConvertToDouble(k);
        return dk * new Vector<double>(Ln2Hi) - ((hfsq - (s * (hfsq + r) + dk * new Vector<double>(Ln2Lo))) - f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> LogFloat(Vector<float> x)
    {
        var bits = Vector.AsVectorInt32(x);
        var k = Vector.ShiftRightArithmetic(bits, 23) - new Vector<int>(127);
        var m = Vector.AsVectorSingle((bits & new Vector<int>(0x007fffff)) | new Vector<int>(0x3f800000));
        var high = Vector.GreaterThan(m, new Vector<float>(1.41421356f));
        m = Vector.ConditionalSelect(high, m * new Vector<float>(0.5f), m);
        k -= high;
        var f = m - Vector<float>.One;
        var s = f / (new Vector<float>(2f) + f);
        var z = s * s;
        var w = z * z;
        var t1 = w * (new Vector<float>(Lg2F) + w * new Vector<float>(Lg4F));
        var t2 = z * (new Vector<float>(Lg1F) + w * new Vector<float>(Lg3F));
        var r = t2 + t1;
        var hfsq = new Vector<float>(0.5f) * f * f;
        var dk = Vector.ConvertToSingle(k);
        return dk * new Vector<float>(Ln2HiF) - ((hfsq - (s * (hfsq + r) + dk * new Vector<float>(Ln2LoF))) - f);
    }
}
