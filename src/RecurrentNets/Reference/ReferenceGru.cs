namespace RecurrentNets.Reference;

/// <summary>The naive twin of the GRU step: scalar loops in double from the textbook equations, both reset forms.</summary>
public static class ReferenceGru
{
    /// <summary>h(t) from x(t)·W_ihᵀ + b_ih ([B, 3H]), h(t-1) ([B, H]) and the recurrent weights.</summary>
    /// <param name="inputProjection">[B, 3H].</param>
    /// <param name="hiddenPrev">[B, H].</param>
    /// <param name="weightHH">W_hh, [3H, H].</param>
    /// <param name="biasHH">b_hh, [3H].</param>
    /// <param name="resetAfter">PyTorch's form n = tanh(x_n + r ⊙ (W_hn h + b_hn)); else Cho's n = tanh(x_n + W_hn (r ⊙ h) + b_hn).</param>
    /// <param name="batchSize">B.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="hidden">Receives h(t), [B, H].</param>
    public static void Forward(ReadOnlySpan<double> inputProjection, ReadOnlySpan<double> hiddenPrev, ReadOnlySpan<double> weightHH,
        ReadOnlySpan<double> biasHH, bool resetAfter, int batchSize, int hiddenSize, Span<double> hidden)
    {
        int h = hiddenSize;
        var r = new double[h];
        var z = new double[h];
        for (int b = 0; b < batchSize; b++)
        {
            ReadOnlySpan<double> hp = hiddenPrev.Slice(b * h, h);
            for (int j = 0; j < h; j++)
            {
                r[j] = Sigmoid(inputProjection[b * 3 * h + j] + Dot(weightHH.Slice(j * h, h), hp) + biasHH[j]);
                z[j] = Sigmoid(inputProjection[b * 3 * h + h + j] + Dot(weightHH.Slice((h + j) * h, h), hp) + biasHH[h + j]);
            }

            for (int j = 0; j < h; j++)
            {
                ReadOnlySpan<double> wn = weightHH.Slice((2 * h + j) * h, h);
                double rec;
                if (resetAfter)
                {
                    rec = r[j] * (Dot(wn, hp) + biasHH[2 * h + j]);
                }
                else
                {
                    rec = biasHH[2 * h + j];
                    for (int k = 0; k < h; k++)
                    {
                        rec += wn[k] * r[k] * hp[k];
                    }
                }

                double n = Math.Tanh(inputProjection[b * 3 * h + 2 * h + j] + rec);
                hidden[b * h + j] = (1 - z[j]) * n + z[j] * hp[j];
            }
        }
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
