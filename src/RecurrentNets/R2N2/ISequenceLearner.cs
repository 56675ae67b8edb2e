using RecurrentNets.Tensors;

namespace RecurrentNets.R2N2;

/// <summary>
/// A model trained one sequence at a time on next-item prediction (items x_0 … x_{L−1}: inputs x_0 … x_{L−2}, targets
/// x_1 … x_{L−1}), so R2N2 and its baselines run under the same protocol.
/// </summary>
public interface ISequenceLearner
{
    /// <summary>A short display name.</summary>
    string Name { get; }

    /// <summary>Trains on one sequence [L, n_x] and reports the predictions made while doing so.</summary>
    EpisodeResult TrainSequence(Tensor<double> sequence);
}
