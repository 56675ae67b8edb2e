namespace RecurrentNets.R2N2.Baselines;

/// <summary>
/// The ways the RFLO code released with Cheng and Brown 2025 (github.com/CogControlLab/R2N2, commit e25b9e6,
/// <c>rflo_model.py</c> <c>RfloRNN.run_trial</c> as called by <c>exp_anbn/rflo.py</c> and <c>esn.py</c>) differs from
/// the textbook RFLO of <see cref="Rflo"/>. Each flag reproduces one of them, so their effect can be measured one at a
/// time; <see cref="ReleasedCode"/> sets all of them and reproduces the authors' baselines.
/// </summary>
/// <remarks>
/// Items s_0 … s_{L−1}; the textbook step t = 1 … L − 1 feeds s_{t−1} and predicts s_t.
/// </remarks>
[Flags]
public enum RfloQuirks
{
    /// <summary>The textbook RFLO (Murray 2019), trained on every prediction of the sequence.</summary>
    None = 0,

    /// <summary>W_in ~ U[−0.1, 0] (the code's <c>0.1·(rand − 1)</c>, probably meant U[−0.1, 0.1]; spec §8.8).</summary>
    NonPositiveInputWeights = 1,

    /// <summary>
    /// s_0 is never fed: the state stays h_0 for the first prediction, whose output is y = 0 (never driven, no error
    /// fed back) but which is still scored against s_1 (argmax of zeros is symbol 0, so it counts as correct when s_1
    /// is symbol 0) and counted in the loss; the network then sees s_1 … s_{L−2} and predicts s_2 … s_{L−1}.
    /// </summary>
    FirstInputSkipped = 2,

    /// <summary>
    /// The input eligibility trace takes the item before the one fed at a step (the code's <c>x[tt]</c> where the step
    /// fed <c>x[tt + 1]</c>), and starts at (1/τ)·(that item of the first step)ᵀ for every unit (zero when there is none).
    /// </summary>
    LaggedInputTrace = 4,

    /// <summary>tanh'(u) in the traces is 1/cosh²(10·tanh(u/10)) (a soft clip against overflow), not 1 − tanh²(u).</summary>
    SoftClippedDerivative = 8,

    /// <summary>The step is lr·ΔW/(L − 1) (the number of outputs) instead of lr·ΔW/L.</summary>
    StepOverOutputs = 16,

    /// <summary>All of the above: the released code's behaviour.</summary>
    ReleasedCode = NonPositiveInputWeights | FirstInputSkipped | LaggedInputTrace | SoftClippedDerivative | StepOverOutputs,
}
