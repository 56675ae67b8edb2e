namespace RecurrentNets.R2N2;

/// <summary>What one training episode (forward replay + reverse sweep) measured.</summary>
/// <param name="Loss">Σ_k ½‖y_k − x_k‖² over the L − 1 predictions (before the 1/L scaling).</param>
/// <param name="Predictions">L − 1.</param>
/// <param name="Correct">Predictions whose argmax equals the target's argmax.</param>
/// <param name="ReconstructionError">max |ŝ₀ − s₀| after the reverse sweep.</param>
public readonly record struct EpisodeResult(double Loss, int Predictions, int Correct, double ReconstructionError)
{
    /// <summary>The authors' AnBn score of one sequence: correct at all but at most one position.</summary>
    public bool AllButOneCorrect => Correct >= Predictions - 1;

    /// <summary>The mean per-prediction squared error ½‖e‖².</summary>
    public double MeanLoss => Predictions > 0 ? Loss / Predictions : 0;
}
