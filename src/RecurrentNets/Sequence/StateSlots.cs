using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Parameters;

namespace RecurrentNets.Sequence;

/// <summary>Where a pass's initial state ([B, S] h and [B, H] C per layer and direction) comes from: the caller's state, the learned one broadcast over the batch, or zeros.</summary>
internal readonly struct StateSource<T>(RecurrentState<T>? given, ParameterView<T>? learnedHidden, ParameterView<T>? learnedCell, int stateSize, int hiddenSize)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether the learned state is used (its gradient is then the sum over the batch).</summary>
    public bool UsesLearned => given is null && learnedHidden is not null;

    /// <summary>h(0) and C(0) of layer and direction <paramref name="index"/> into <paramref name="h0"/>, <paramref name="c0"/>.</summary>
    public void Load(int index, int batch, Span<T> h0, Span<T> c0)
    {
        int h = stateSize, c = hiddenSize;
        if (given is not null)
        {
            given.Hidden.Step(index).CopyTo(h0);
            if (!c0.IsEmpty)
            {
                given.Cell!.Step(index).CopyTo(c0);
            }
        }
        else if (learnedHidden is not null)
        {
            for (int b = 0; b < batch; b++)
            {
                learnedHidden.Values.Slice(index * h, h).CopyTo(h0.Slice(b * h, h));
                if (!c0.IsEmpty)
                {
                    learnedCell!.Values.Slice(index * c, c).CopyTo(c0.Slice(b * c, c));
                }
            }
        }
        else
        {
            h0.Clear();
            c0.Clear();
        }
    }
}

/// <summary>Where dL/d initial state goes: the caller's state, and the learned state's gradient when it was used.</summary>
internal readonly struct StateSink<T>(RecurrentState<T>? dInitial, ParameterView<T>? learnedHidden, ParameterView<T>? learnedCell, int stateSize, int hiddenSize)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Store(int index, int batch, ReadOnlySpan<T> dh, ReadOnlySpan<T> dc)
    {
        int h = stateSize, c = hiddenSize;
        if (dInitial is not null)
        {
            dh.CopyTo(dInitial.Hidden.Step(index));
            if (!dc.IsEmpty)
            {
                dc.CopyTo(dInitial.Cell!.Step(index));
            }
        }

        if (learnedHidden is not null)
        {
            // The learned state was broadcast over the batch: its gradient is the sum over batch rows.
            Elementwise.AddColumnSums(dh, batch, h, learnedHidden.Gradients.Slice(index * h, h));
            if (!dc.IsEmpty)
            {
                Elementwise.AddColumnSums(dc, batch, c, learnedCell!.Gradients.Slice(index * c, c));
            }
        }
    }
}
