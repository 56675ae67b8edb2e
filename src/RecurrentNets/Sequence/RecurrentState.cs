using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Sequence;

/// <summary>
/// The state of a stacked recurrent layer between two calls: h of every layer and, for cells with a cell state
/// (LSTM), C. It is a value: pass it in as the initial state, get it back as the final state.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>PyTorch: <c>h_0</c>/<c>h_n</c> [numLayers, batchSize, H_out] and <c>c_0</c>/<c>c_n</c> [numLayers, batchSize,
/// hiddenSize], where H_out is the hidden size, or the projection size of an LSTM with projections (<c>proj_size</c>).</remarks>
public sealed class RecurrentState<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a zero state.</summary>
    /// <param name="numLayers">L, the stacked layers (times the directions).</param>
    /// <param name="batchSize">B.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="hasCell">Whether to include the cell state C.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public RecurrentState(int numLayers, int batchSize, int hiddenSize, bool hasCell)
        : this(numLayers, batchSize, hiddenSize, hasCell ? hiddenSize : 0)
    {
    }

    /// <summary>Creates a zero state whose h and C differ in width (an LSTM with projections).</summary>
    /// <param name="numLayers">L, the stacked layers (times the directions).</param>
    /// <param name="batchSize">B.</param>
    /// <param name="stateSize">The width of h: H_out (PyTorch: <c>proj_size</c>, or <c>hidden_size</c> without projections).</param>
    /// <param name="cellSize">The width of C (PyTorch: <c>hidden_size</c>), or 0 for no cell state.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or <paramref name="cellSize"/> is negative.</exception>
    public RecurrentState(int numLayers, int batchSize, int stateSize, int cellSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cellSize);
        Hidden = new Tensor<T>(numLayers, batchSize, stateSize);
        Cell = cellSize > 0 ? new Tensor<T>(numLayers, batchSize, cellSize) : null;
    }

    /// <summary>h, [numLayers, batchSize, H_out]. PyTorch: <c>h_0</c> / <c>h_n</c>.</summary>
    public Tensor<T> Hidden { get; }

    /// <summary>C, [numLayers, batchSize, hiddenSize], or null for cells without a cell state. PyTorch: <c>c_0</c> / <c>c_n</c>.</summary>
    public Tensor<T>? Cell { get; }

    /// <summary>B.</summary>
    public int BatchSize => Hidden.Size(1);

    /// <summary>Sets the state to zero.</summary>
    public void Clear()
    {
        Hidden.Clear();
        Cell?.Clear();
    }

    /// <summary>Copies another state of the same shape into this one (carrying a state across windows).</summary>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public void CopyFrom(RecurrentState<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        ShapeCheck.Require(other.Hidden, Hidden.Shape, nameof(other), "[numLayers, batchSize, H_out]");
        if ((other.Cell is null) != (Cell is null))
        {
            throw new ArgumentException("One state has a cell state and the other does not.", nameof(other));
        }

        if (Cell is not null)
        {
            ShapeCheck.Require(other.Cell!, Cell.Shape, nameof(other) + ".Cell", "[numLayers, batchSize, hiddenSize]");
        }

        other.Hidden.Data.CopyTo(Hidden.Data, 0);
        other.Cell?.Data.CopyTo(Cell!.Data, 0);
    }

    // Checks this state against a layer of `layers` layers and directions: the message names the argument and both shapes.
    // The names are built only on failure: the check runs on every step of a training loop.
    internal void Require(int layers, int batch, int stateSize, int hiddenSize, bool needsCell, string name)
    {
        if (!Hidden.HasShape(layers, batch, stateSize))
        {
            ShapeCheck.Require(Hidden, [layers, batch, stateSize], name + ".Hidden",
                stateSize == hiddenSize ? "[numLayers·directions, batchSize, hiddenSize]" : "[numLayers·directions, batchSize, projSize]");
        }

        if (!needsCell)
        {
            return;
        }

        if (Cell is null)
        {
            throw new ArgumentException($"{name} has no cell state but the layer's cells need one.", name);
        }

        if (!Cell.HasShape(layers, batch, hiddenSize))
        {
            ShapeCheck.Require(Cell, [layers, batch, hiddenSize], name + ".Cell", "[numLayers·directions, batchSize, hiddenSize]");
        }
    }
}
