using System.Numerics;

namespace RecurrentNets.Reference;

/// <summary>
/// The naive twin of the fused LSTM pointwise kernels: one scalar loop per unit, computed in double from the
/// textbook equations, for the standard cell (i, f, g, o) and the coupled cell (f, g, o; i = 1 - f), with or without
/// peepholes.
/// </summary>
public static class ReferenceLstm
{
    /// <summary>One forward step from pre-activations [B, G·H] (the peephole terms not yet added).</summary>
    /// <param name="preActivations">[B, G·H].</param>
    /// <param name="cellPrev">C(t-1), [B, H].</param>
    /// <param name="peepholeI">P_i [H] (ignored when coupled), or empty without peepholes.</param>
    /// <param name="peepholeF">P_f [H], or empty.</param>
    /// <param name="peepholeO">P_o [H], or empty.</param>
    /// <param name="coupled">The coupled input-forget form.</param>
    /// <param name="batchSize">B.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="activations">Receives σ/tanh of each gate, [B, G·H].</param>
    /// <param name="cell">Receives C(t), [B, H].</param>
    /// <param name="hidden">Receives h(t), [B, H].</param>
    public static void Forward(ReadOnlySpan<double> preActivations, ReadOnlySpan<double> cellPrev, ReadOnlySpan<double> peepholeI,
        ReadOnlySpan<double> peepholeF, ReadOnlySpan<double> peepholeO, bool coupled, int batchSize, int hiddenSize,
        Span<double> activations, Span<double> cell, Span<double> hidden)
    {
        int h = hiddenSize, gw = (coupled ? 3 : 4) * h;
        bool peep = !peepholeF.IsEmpty;
        for (int b = 0; b < batchSize; b++)
        {
            for (int j = 0; j < h; j++)
            {
                double cp = cellPrev[b * h + j];
                int r = b * gw;
                double af, ag, ao, ai = 0;
                if (coupled)
                {
                    (af, ag, ao) = (preActivations[r + j], preActivations[r + h + j], preActivations[r + 2 * h + j]);
                }
                else
                {
                    (ai, af, ag, ao) = (preActivations[r + j], preActivations[r + h + j], preActivations[r + 2 * h + j], preActivations[r + 3 * h + j]);
                }

                if (peep)
                {
                    af += peepholeF[j] * cp;
                    if (!coupled)
                    {
                        ai += peepholeI[j] * cp;
                    }
                }

                double f = Sigmoid(af), g = Math.Tanh(ag);
                double i = coupled ? 1 - f : Sigmoid(ai);
                double c = f * cp + i * g;
                if (peep)
                {
                    ao += peepholeO[j] * c;
                }

                double o = Sigmoid(ao);
                cell[b * h + j] = c;
                hidden[b * h + j] = o * Math.Tanh(c);
                if (coupled)
                {
                    (activations[r + j], activations[r + h + j], activations[r + 2 * h + j]) = (f, g, o);
                }
                else
                {
                    (activations[r + j], activations[r + h + j], activations[r + 2 * h + j], activations[r + 3 * h + j]) = (i, f, g, o);
                }
            }
        }
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
