using System.Numerics;
using RecurrentNets.Init;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

/// <summary>
/// One layer of a <see cref="SequenceModel{T}"/>: a forward and backward pair on time-major tensors. The model owns the
/// tensors and calls the layers in order, so a layer written by a user (PyTorch: an <c>nn.Module</c> whose
/// <c>forward</c> takes [T, B, I]) runs in the model as the built-in ones do.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Legend: T = steps, B = batch, I = <see cref="InputSize"/>, O = <see cref="OutputSize"/>, T' = <see cref="OutputSteps"/>(T).
/// A layer keeps what its backward pass needs from the last forward pass (the model passes the same tensor objects to
/// <see cref="Backward"/>); it adds its parameter gradients to the model's gradient block, and must not allocate per
/// call once it has seen a shape.
/// </remarks>
public interface ISequenceLayer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>I, the features of each input step.</summary>
    int InputSize { get; }

    /// <summary>O, the features of each output step.</summary>
    int OutputSize { get; }

    /// <summary>Whether the model is training (dropout on) or evaluating. PyTorch: <c>train()</c> / <c>eval()</c>.</summary>
    bool Training { get; set; }

    /// <summary>T', the output steps for <paramref name="steps"/> input steps: <paramref name="steps"/>, or 1 for a
    /// reduction over time.</summary>
    int OutputSteps(int steps) => steps;

    /// <summary>Computes the output of a batch.</summary>
    /// <param name="input">x, [T, B, I]; zero past each sequence's end for the first layer (later layers may see any
    /// values there).</param>
    /// <param name="output">Receives y, [T', B, O].</param>
    /// <param name="lengths">The length of each sequence, [B], each in [1, T]; after a reduction over time, all 1.</param>
    void Forward(Tensor<T> input, Tensor<T> output, ReadOnlySpan<int> lengths);

    /// <summary>Backpropagates the last forward pass: adds the parameter gradients and writes dL/dx.</summary>
    /// <param name="dOutput">dL/dy, [T', B, O].</param>
    /// <param name="dInput">Receives (overwritten) dL/dx, [T, B, I], or null when no earlier layer needs it.</param>
    void Backward(Tensor<T> dOutput, Tensor<T>? dInput);
}

/// <summary>What a layer is built with: the model's parameter block (inside the layer's naming scope), its input
/// size and a random source for its initialisation.</summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <param name="Parameters">The model's block; parameters added now get the layer's prefix (e.g. <c>rnn.</c>).</param>
/// <param name="InputSize">I, the previous layer's output size (or the model's input size).</param>
/// <param name="Random">The initialisation source, forked from the model's seed in layer order.</param>
/// <param name="Name">The layer's module name (e.g. <c>rnn</c>, <c>head</c>).</param>
/// <param name="InputDirections">2 when the previous layer is a bidirectional recurrent layer (its output is
/// [forward, reverse] halves), else 1.</param>
public sealed record LayerContext<T>(ParameterBlock<T> Parameters, int InputSize, SeededRandom Random, string Name, int InputDirections)
    where T : unmanaged, IFloatingPointIeee754<T>;
