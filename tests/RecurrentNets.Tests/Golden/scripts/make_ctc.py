"""Golden data for the CTC loss (tests/RecurrentNets.Tests/Losses/CtcGoldenTests.cs): torch.nn.functional.ctc_loss on
generated cases in double precision, the loss and the gradient of log_probs (a leaf tensor, so the gradient is what
PyTorch's CTC backward returns: exp(log_probs) - gamma, scaled by the reduction). For reduction='none' the gradient is
that of the sum of the per-sequence losses. Non-finite numbers are written as the strings "inf", "-inf" and "nan".
Run with Debian's python3-torch: /usr/bin/python3 scripts/make_ctc.py (from the Golden folder).
"""
import json
import math

import torch

torch.manual_seed(19)
torch.set_default_dtype(torch.float64)


def number(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def numbers(t):
    return [number(v) for v in t.detach().flatten().tolist()]


def case(name, steps, batch, classes, targets, input_lengths, target_lengths, blank=0, reduction="mean",
         zero_infinity=False, concatenated=False, scale=1.0):
    """targets: a list of label lists; padded to [B, S] with (blank + 1) % C unless concatenated."""
    logits = torch.randn(steps, batch, classes) * scale
    log_probs = logits.log_softmax(2).detach().requires_grad_()
    longest = max([len(t) for t in targets] + [0])
    if concatenated:
        flat = [label for t in targets for label in t]
        target_tensor = torch.tensor(flat, dtype=torch.long)
    else:
        pad = (blank + 1) % classes
        target_tensor = torch.tensor([t + [pad] * (longest - len(t)) for t in targets], dtype=torch.long).reshape(batch, longest)
    loss = torch.nn.functional.ctc_loss(log_probs, target_tensor, torch.tensor(input_lengths), torch.tensor(target_lengths),
                                        blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    (loss.sum() if reduction == "none" else loss).backward()
    return {
        "name": name,
        "steps": steps,
        "batch": batch,
        "classes": classes,
        "blank": blank,
        "reduction": reduction,
        "zero_infinity": zero_infinity,
        "concatenated": concatenated,
        "max_target_length": longest,
        "targets": target_tensor.flatten().tolist(),
        "input_lengths": input_lengths,
        "target_lengths": target_lengths,
        "log_probs": numbers(log_probs),
        "loss": numbers(loss),
        "grad": numbers(log_probs.grad),
    }


cases = []
small = dict(steps=6, batch=3, classes=5, targets=[[1, 2, 2], [3], [4, 1]], input_lengths=[6, 4, 5], target_lengths=[3, 1, 2])
for reduction in ("mean", "sum", "none"):
    cases.append(case(f"small-{reduction}", reduction=reduction, **small))
cases.append(case("small-concatenated", reduction="mean", concatenated=True, **small))
cases.append(case("repeats", 12, 2, 4, [[1, 1, 1, 2, 2], [3, 3]], [12, 9], [5, 2], reduction="sum"))
cases.append(case("empty-target", 5, 2, 3, [[], [1, 2]], [5, 3], [0, 2], reduction="mean"))
cases.append(case("blank-last", 8, 3, 6, [[0, 1, 2], [4, 4], [3]], [8, 7, 2], [3, 2, 1], blank=5, reduction="mean"))
# Infeasible: sequence 1 needs 2 + 1 (a blank between the repeats) = 3 steps but has 2; sequence 2's target is longer than its input.
infeasible = dict(steps=5, batch=3, classes=4, targets=[[1, 2], [3, 3], [1, 2, 3, 1]], input_lengths=[5, 2, 3], target_lengths=[2, 2, 4])
for zero_infinity in (False, True):
    for reduction in ("mean", "none"):
        cases.append(case(f"infeasible-{reduction}-zero_infinity={zero_infinity}", reduction=reduction, zero_infinity=zero_infinity, **infeasible))
# Larger, and peaked (trained-network-like) distributions.
lengths = [17, 9, 0, 12, 15]
cases.append(case("large-sum", 40, 5, 12, [[(3 * b + 7 * i) % 11 + 1 for i in range(n)] for b, n in enumerate(lengths)],
                  [40, 31, 20, 40, 33], lengths, reduction="sum", scale=4.0))
cases.append(case("large-mean-concatenated", 40, 5, 12, [[(5 * b + 3 * i) % 11 + 1 for i in range(n)] for b, n in enumerate(lengths)],
                  [40, 31, 20, 40, 33], lengths, reduction="mean", concatenated=True, scale=4.0))

with open("torch-ctc.json", "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f)
