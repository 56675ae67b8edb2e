using RecurrentNets.Init;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;

namespace RecurrentNets.Samples;

/// <summary>The recurrent cells compared.</summary>
internal enum CellKind
{
    /// <summary>Elman tanh RNN.</summary>
    Rnn,

    /// <summary>LSTM with a forget gate (PyTorch's).</summary>
    Lstm,

    /// <summary>LSTM with peepholes (Gers and Schmidhuber 2000).</summary>
    Peephole,

    /// <summary>LSTM with coupled input and forget gates (Greff et al. 2017).</summary>
    Cifg,

    /// <summary>GRU (Cho et al. 2014, PyTorch form).</summary>
    Gru,

    /// <summary>Layer-normalised LSTM (Ba, Kiros and Hinton 2016).</summary>
    LayerNormLstm,

    /// <summary>Layer-normalised GRU.</summary>
    LayerNormGru,
}

internal static class CellKinds
{
    public static string Name(this CellKind kind) => kind switch
    {
        CellKind.Rnn => "RNN",
        CellKind.Lstm => "LSTM",
        CellKind.Peephole => "Peephole LSTM",
        CellKind.Cifg => "CIFG LSTM",
        CellKind.LayerNormLstm => "LN-LSTM",
        CellKind.LayerNormGru => "LN-GRU",
        _ => "GRU",
    };

    public static RecurrentLayer<float> Create(this CellKind kind, int inputSize, int hiddenSize, SeededRandom random,
        ParameterBlock<float> parameters, double forgetBias) => kind switch
    {
        CellKind.Rnn => new Rnn<float>(inputSize, hiddenSize, random: random, parameters: parameters),
        CellKind.Gru => new Gru<float>(inputSize, hiddenSize, random: random, parameters: parameters),
        CellKind.LayerNormLstm => new LayerNormLstm<float>(inputSize, hiddenSize, random: random, parameters: parameters, forgetBias: forgetBias),
        CellKind.LayerNormGru => new LayerNormGru<float>(inputSize, hiddenSize, random: random, parameters: parameters),
        _ => new Lstm<float>(inputSize, hiddenSize, random: random, parameters: parameters,
            peephole: kind == CellKind.Peephole, coupledInputForget: kind == CellKind.Cifg, forgetBias: forgetBias),
    };

    public static bool TryParse(string text, out CellKind kind)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "rnn" or "elman": kind = CellKind.Rnn; return true;
            case "lstm": kind = CellKind.Lstm; return true;
            case "peephole": kind = CellKind.Peephole; return true;
            case "cifg": kind = CellKind.Cifg; return true;
            case "gru": kind = CellKind.Gru; return true;
            case "lnlstm" or "ln-lstm": kind = CellKind.LayerNormLstm; return true;
            case "lngru" or "ln-gru": kind = CellKind.LayerNormGru; return true;
            default: kind = default; return false;
        }
    }
}
