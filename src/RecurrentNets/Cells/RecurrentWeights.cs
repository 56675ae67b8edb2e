namespace RecurrentNets.Cells;

/// <summary>The shape of a cell's recurrent weights W_hh (<see cref="RecurrentCell{T}.WeightHH"/>).</summary>
public enum RecurrentWeights
{
    /// <summary>W_hh [G·H, H]: every unit of every gate sees all of h(t-1) (Elman, LSTM, GRU). PyTorch: <c>weight_hh_lK</c>.</summary>
    Full,

    /// <summary>
    /// W_hh [G·H]: unit j of gate g sees only unit j of h(t-1), a(t) = W_ih x(t) + u ⊙ h(t-1) + b (the independently
    /// recurrent network, IndRNN; Li et al. 2018).
    /// </summary>
    Diagonal,

    /// <summary>No W_hh: the cell reads h(t-1) only through its own pointwise maths.</summary>
    None,
}
