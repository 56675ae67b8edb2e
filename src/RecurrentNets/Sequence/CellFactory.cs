using System.Numerics;
using RecurrentNets.Cells;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>Creates the cell of one stacked layer and direction.</summary>
/// <param name="block">The parameter block the cell adds its parameters to.</param>
/// <param name="layer">The layer index l (0 is the bottom).</param>
/// <param name="inputSize">The cell's input width: the layer's input size for l = 0, the output width of layer l - 1 above
/// (D·S, or S when two directions merge other than by concat; S = <see cref="RecurrentCell{T}.StateSize"/>).</param>
/// <param name="nameSuffix">The PyTorch parameter-name suffix, e.g. <c>_l1</c> or <c>_l1_reverse</c>.</param>
public delegate RecurrentCell<T> CellFactory<T>(ParameterBlock<T> block, int layer, int inputSize, string nameSuffix)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>Builds and checks the cells of a stack of L layers and D directions, in the order layer-major, forward first.</summary>
internal static class CellStack
{
    public static RecurrentCell<T>[] Build<T>(CellFactory<T> factory, ParameterBlock<T> parameters, int numLayers, int directions,
        int inputSize, int hiddenSize, bool merged)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cells = new RecurrentCell<T>[numLayers * directions];
        for (int l = 0; l < numLayers; l++)
        {
            // Layer l + 1 reads layer l's output: D·S (concat) or S (merged).
            int cellInput = l == 0 ? inputSize : (merged ? 1 : directions) * cells[0].StateSize;
            for (int d = 0; d < directions; d++)
            {
                var cell = factory(parameters, l, cellInput, d == 0 ? $"_l{l}" : $"_l{l}_reverse");
                if (cell.InputSize != cellInput || cell.HiddenSize != hiddenSize)
                {
                    throw new ArgumentException(
                        $"The cell of layer {l} has inputSize {cell.InputSize} and hiddenSize {cell.HiddenSize} but the layer needs {cellInput} and {hiddenSize}.",
                        "cellFactory");
                }

                if (cells[0] is not null && cell.HasCellState != cells[0].HasCellState)
                {
                    throw new ArgumentException("Every cell must agree on whether it has a cell state.", "cellFactory");
                }

                if (cells[0] is not null && cell.StateSize != cells[0].StateSize)
                {
                    throw new ArgumentException(
                        $"Every cell must have the same stateSize, but the cell of layer {l} has {cell.StateSize} and the first {cells[0].StateSize}.", "cellFactory");
                }

                cells[l * directions + d] = cell;
            }
        }

        return cells;
    }
}
