using RecurrentNets.Models;
using RecurrentNets.Tensors;

namespace RecurrentNets.Tests.Models.Losses;

/// <summary>
/// The losses against numbers PyTorch 1.13.1 (Debian's python3-torch) printed for one small per-step batch with a
/// padded sequence: T' = 3, B = 2, O = 3, lengths [3, 1], so rows (1, 1) and (2, 1) are padding.
/// </summary>
/// <remarks>
/// The script (PyTorch has no lengths, so padded rows get target -1, or are left out for soft targets and MSE):
/// <code>
/// import torch
/// logits = torch.tensor([[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]],
///                        [[-2.0, 0.0, 1.0], [9.0, 9.0, 9.0]],
///                        [[0.3, 0.2, 0.1], [9.0, 9.0, 9.0]]], dtype=torch.float64, requires_grad=True)
/// classes = torch.tensor([[2, 0], [-1, -1], [1, -1]])
/// loss = torch.nn.CrossEntropyLoss(ignore_index=-1)(logits.reshape(-1, 3), classes.reshape(-1)); loss.backward()
/// print(repr(loss.item()), [repr(v) for v in logits.grad.reshape(-1).tolist()])
/// p = torch.tensor([[[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]],
///                   [[0.1, 0.1, 0.8], [0.0, 0.0, 0.0]],
///                   [[0.6, 0.4, 0.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)
/// valid = torch.tensor([[True, True], [True, False], [True, False]])
/// logits.grad = None; loss = torch.nn.CrossEntropyLoss()(logits[valid], p[valid]); loss.backward()   # soft
/// logits.grad = None; loss = torch.nn.MSELoss()(logits[valid], p[valid]); loss.backward()            # mse
/// </code>
/// </remarks>
public class PyTorchGoldenTests
{
    private static readonly double[] Logits =
    [
        0.5, -1.0, 2.0, 1.5, 0.25, -0.75,
        -2.0, 0.0, 1.0, 9.0, 9.0, 9.0,
        0.3, 0.2, 0.1, 9.0, 9.0, 9.0,
    ];

    private static readonly double[] Probabilities =
    [
        0.2, 0.3, 0.5, 1.0, 0.0, 0.0,
        0.1, 0.1, 0.8, double.NaN, double.NaN, double.NaN,
        0.6, 0.4, 0.0, double.NaN, double.NaN, double.NaN,
    ];

    private static SequenceBatch<double> Batch(TargetKind kind)
    {
        var batch = new SequenceBatch<double>(3, 2, 1, kind, 3, 3);
        batch.Lengths[1] = 1;
        if (kind == TargetKind.Classes)
        {
            int[] classes = [2, 0, -1, 7, 1, 7]; // 7: out of range, but on padded rows
            classes.CopyTo(batch.Classes!, 0);
        }
        else
        {
            Probabilities.CopyTo(batch.Values!.Data, 0);
        }

        return batch;
    }

    private static void Check(ILoss<double> loss, TargetKind kind, double expectedLoss, double[] expectedGradient)
    {
        var logits = Tensor<double>.FromArray((double[])Logits.Clone(), 3, 2, 3);
        var dLogits = new Tensor<double>(3, 2, 3);
        Assert.Equal(expectedLoss, loss.Compute(logits, Batch(kind), dLogits), 14);
        for (int i = 0; i < expectedGradient.Length; i++)
        {
            Assert.Equal(expectedGradient[i], dLogits.Data[i], 15);
        }
    }

    [Fact]
    public void CrossEntropyWithClassTargetsMatchesPyTorch() => Check(new CrossEntropy<double>(), TargetKind.Classes, 0.5579755847645419,
    [
        0.05843013071334556, 0.013037524423562482, -0.07146765513690803, -0.09385321961631168, 0.06861220133255051, 0.02524101828376117,
        0, 0, 0, 0, 0, 0,
        0.12238846703697512, -0.2225916688222176, 0.10020320178524242, 0, 0, 0,
    ]);

    [Fact]
    public void CrossEntropyWithSoftTargetsMatchesPyTorch() => Check(new CrossEntropy<double>(), TargetKind.Values, 0.8907347427654531,
    [
        -0.006177401964990829, -0.06522185668232813, 0.07139925864731897, -0.07038991471223377, 0.05145915099941289, 0.01893076371282088,
        -0.016220243260165072, 0.03987411508560477, -0.023653871825439737, 0, 0, 0,
        -0.05820864972226865, -0.016943751616663213, 0.07515240133893182, 0, 0, 0,
    ]);

    [Fact]
    public void MeanSquaredErrorMatchesPyTorch() => Check(new MeanSquaredError<double>(), TargetKind.Values, 0.7920833333333333,
    [
        0.049999999999999996, -0.21666666666666667, 0.25, 0.08333333333333333, 0.041666666666666664, -0.125,
        -0.35, -0.016666666666666666, 0.033333333333333326, 0, 0, 0,
        -0.049999999999999996, -0.03333333333333333, 0.016666666666666666, 0, 0, 0,
    ]);

    [Fact]
    public void PerplexityAndBitsPerCharacterMatchPyTorchsLoss()
    {
        var logits = Tensor<double>.FromArray((double[])Logits.Clone(), 3, 2, 3);
        var perplexity = new Perplexity<double>();
        var bits = new BitsPerCharacter<double>();
        perplexity.Update(logits, Batch(TargetKind.Classes));
        bits.Update(logits, Batch(TargetKind.Classes));
        Assert.Equal(Math.Exp(0.5579755847645419), perplexity.Result, 14);
        Assert.Equal(0.5579755847645419 / Math.Log(2), bits.Result, 14);
    }
}
