using System.Numerics;
using RecurrentNets.Cells;

namespace RecurrentNets.Interop;

/// <summary>
/// Maps the weights of one direction of an ONNX <c>LSTM</c> operator onto an <see cref="LstmCell{T}"/> and back.
/// </summary>
/// <remarks>
/// <para>
/// ONNX stacks the gates in the order i, o, f, c (<c>W [4H, I]</c>, <c>R [4H, H]</c>, <c>B [8H] = [Wb, Rb]</c>,
/// <c>P [3H] = [P_i, P_o, P_f]</c>); RecurrentNets uses PyTorch's i, f, g, o, with g = ONNX's c.
/// </para>
/// <para>
/// Coupled gates: ONNX's <c>input_forget = 1</c> keeps the input gate and sets f = 1 - i, while the course's CIFG (and
/// <see cref="LstmCell{T}"/> with coupling) keeps the forget gate and sets i = 1 - f. Since 1 - σ(a) = σ(-a), the two
/// are the same model: our f-block weights, bias and peephole are ONNX's i-block ones negated, and ONNX's f-block
/// (unused there) has no counterpart.
/// </para>
/// </remarks>
public static class OnnxLstm
{
    private const int OnnxI = 0, OnnxO = 1, OnnxF = 2, OnnxC = 3;

    /// <summary>Loads one direction of ONNX LSTM weights into <paramref name="cell"/>.</summary>
    /// <param name="cell">The cell to fill: its coupling must equal <paramref name="inputForget"/>, and it has peepholes
    /// exactly when <paramref name="p"/> is given.</param>
    /// <param name="w">ONNX <c>W</c> of this direction, [4H, I].</param>
    /// <param name="r">ONNX <c>R</c> of this direction, [4H, H].</param>
    /// <param name="b">ONNX <c>B</c> of this direction, [8H] (Wb then Rb); empty for zero biases.</param>
    /// <param name="p">ONNX <c>P</c> of this direction, [3H] (P_i, P_o, P_f); empty without peepholes.</param>
    /// <param name="inputForget">ONNX's <c>input_forget</c> attribute.</param>
    /// <exception cref="ArgumentException">A length or the variant disagrees with the cell, or the cell has projections
    /// (ONNX's LSTM has no W_hr).</exception>
    public static void Import<T>(LstmCell<T> cell, ReadOnlySpan<float> w, ReadOnlySpan<float> r, ReadOnlySpan<float> b,
        ReadOnlySpan<float> p, bool inputForget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cell);
        CheckNoProjection(cell);
        int h = cell.HiddenSize, i = cell.InputSize;
        Check(w.Length, 4 * h * i, nameof(w), "[4·hiddenSize, inputSize]");
        Check(r.Length, 4 * h * h, nameof(r), "[4·hiddenSize, hiddenSize]");
        if (!b.IsEmpty)
        {
            Check(b.Length, 8 * h, nameof(b), "[8·hiddenSize]");
        }

        if (inputForget != cell.CoupledInputForget)
        {
            throw new ArgumentException($"input_forget is {(inputForget ? 1 : 0)} but the cell {(cell.CoupledInputForget ? "couples" : "does not couple")} its input and forget gates.", nameof(inputForget));
        }

        if (p.IsEmpty == cell.Peephole)
        {
            throw new ArgumentException(cell.Peephole ? "The cell has peepholes but no P was given." : "P was given but the cell has no peepholes.", nameof(p));
        }

        if (!p.IsEmpty)
        {
            Check(p.Length, 3 * h, nameof(p), "[3·hiddenSize]");
        }

        if (b.IsEmpty != (cell.BiasIH is null))
        {
            throw new ArgumentException(cell.BiasIH is null ? "B was given but the cell has no biases." : "The cell has biases but no B was given.", nameof(b));
        }

        // Our blocks, in order, as (ONNX block, sign).
        (int Block, float Sign)[] map = cell.CoupledInputForget
            ? [(OnnxI, -1f), (OnnxC, 1f), (OnnxO, 1f)]
            : [(OnnxI, 1f), (OnnxF, 1f), (OnnxC, 1f), (OnnxO, 1f)];
        Span<T> wih = cell.WeightIH.Values, whh = cell.WeightHH!.Values;
        for (int k = 0; k < map.Length; k++)
        {
            (int block, float sign) = map[k];
            CopyBlock(w.Slice(block * h * i, h * i), wih.Slice(k * h * i, h * i), sign);
            CopyBlock(r.Slice(block * h * h, h * h), whh.Slice(k * h * h, h * h), sign);
            if (!b.IsEmpty)
            {
                CopyBlock(b.Slice(block * h, h), cell.BiasIH!.Values.Slice(k * h, h), sign);
                CopyBlock(b.Slice(4 * h + block * h, h), cell.BiasHH!.Values.Slice(k * h, h), sign);
            }
        }

        if (!p.IsEmpty)
        {
            // P = [P_i, P_o, P_f]
            if (cell.CoupledInputForget)
            {
                CopyBlock(p[..h], cell.PeepholeForget!.Values, -1f);
            }
            else
            {
                CopyBlock(p[..h], cell.PeepholeInput!.Values, 1f);
                CopyBlock(p.Slice(2 * h, h), cell.PeepholeForget!.Values, 1f);
            }

            CopyBlock(p.Slice(h, h), cell.PeepholeOutput!.Values, 1f);
        }
    }

    /// <summary>Writes one direction of <paramref name="cell"/>'s weights in ONNX's <c>LSTM</c> layout: the inverse of
    /// <see cref="Import{T}"/>.</summary>
    /// <param name="cell">The cell to read.</param>
    /// <param name="w">Receives ONNX <c>W</c> of this direction, [4H, I] (gates i, o, f, c).</param>
    /// <param name="r">Receives ONNX <c>R</c> of this direction, [4H, H].</param>
    /// <param name="b">Receives ONNX <c>B</c> of this direction, [8H] (Wb then Rb); empty when the cell has no biases.</param>
    /// <param name="p">Receives ONNX <c>P</c> of this direction, [3H] (P_i, P_o, P_f); empty when the cell has no peepholes.</param>
    /// <returns>ONNX's <c>input_forget</c> attribute: true for a coupled cell. Its i block is then our f block negated
    /// (1 - σ(a) = σ(-a)) and its unused f block is written as zeros.</returns>
    /// <exception cref="ArgumentException">A length disagrees with the cell, or the cell has projections (ONNX's LSTM has no
    /// W_hr).</exception>
    public static bool Export<T>(LstmCell<T> cell, Span<float> w, Span<float> r, Span<float> b, Span<float> p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cell);
        CheckNoProjection(cell);
        int h = cell.HiddenSize, i = cell.InputSize;
        Check(w.Length, 4 * h * i, nameof(w), "[4·hiddenSize, inputSize]");
        Check(r.Length, 4 * h * h, nameof(r), "[4·hiddenSize, hiddenSize]");
        Check(b.Length, cell.BiasIH is null ? 0 : 8 * h, nameof(b), cell.BiasIH is null ? "a cell without biases" : "[8·hiddenSize]");
        Check(p.Length, cell.Peephole ? 3 * h : 0, nameof(p), cell.Peephole ? "[3·hiddenSize]" : "a cell without peepholes");

        // ONNX's f block is ignored under input_forget: leave it zero.
        w.Clear();
        r.Clear();
        b.Clear();
        p.Clear();
        (int Block, float Sign)[] map = cell.CoupledInputForget
            ? [(OnnxI, -1f), (OnnxC, 1f), (OnnxO, 1f)]
            : [(OnnxI, 1f), (OnnxF, 1f), (OnnxC, 1f), (OnnxO, 1f)];
        ReadOnlySpan<T> wih = cell.WeightIH.Values, whh = cell.WeightHH!.Values;
        for (int k = 0; k < map.Length; k++)
        {
            (int block, float sign) = map[k];
            ExportBlock(wih.Slice(k * h * i, h * i), w.Slice(block * h * i, h * i), sign);
            ExportBlock(whh.Slice(k * h * h, h * h), r.Slice(block * h * h, h * h), sign);
            if (!b.IsEmpty)
            {
                ExportBlock(cell.BiasIH!.Values.Slice(k * h, h), b.Slice(block * h, h), sign);
                ExportBlock(cell.BiasHH!.Values.Slice(k * h, h), b.Slice(4 * h + block * h, h), sign);
            }
        }

        if (!p.IsEmpty)
        {
            // P = [P_i, P_o, P_f]
            if (cell.CoupledInputForget)
            {
                ExportBlock(cell.PeepholeForget!.Values, p[..h], -1f);
            }
            else
            {
                ExportBlock(cell.PeepholeInput!.Values, p[..h], 1f);
                ExportBlock(cell.PeepholeForget!.Values, p.Slice(2 * h, h), 1f);
            }

            ExportBlock(cell.PeepholeOutput!.Values, p.Slice(h, h), 1f);
        }

        return cell.CoupledInputForget;
    }

    private static void ExportBlock<T>(ReadOnlySpan<T> source, Span<float> destination, float sign)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int k = 0; k < source.Length; k++)
        {
            destination[k] = sign * float.CreateTruncating(source[k]);
        }
    }

    private static void CopyBlock<T>(ReadOnlySpan<float> source, Span<T> destination, float sign)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int k = 0; k < source.Length; k++)
        {
            destination[k] = T.CreateTruncating(sign * source[k]);
        }
    }

    private static void Check(int length, int expected, string name, string meaning)
    {
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements but {meaning} needs {expected}.", name);
        }
    }

    private static void CheckNoProjection<T>(LstmCell<T> cell)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (cell.ProjectionSize > 0)
        {
            throw new ArgumentException(
                $"The cell has projections (proj_size {cell.ProjectionSize}), which ONNX's LSTM operator does not have (no W_hr).", nameof(cell));
        }
    }
}
