"""Golden data for LSTM with projections (tests/RecurrentNets.Tests/Sequence/LstmProjectionGoldenTests.cs):
torch.nn.LSTM(proj_size=P) in double precision, outputs, final states and every gradient. TorchSharp has no proj_size,
so this uses Debian's python3-torch (libtorch 1.13): /usr/bin/python3 scripts/make_lstmp.py (from the Golden folder).

Each case: the module's parameters (default init, then each overwritten with 0.5*randn in state_dict order), x, h0 [L*D, B, P],
c0 [L*D, B, H], and the loss sum(output*R) + sum(h_n*R_hn) + sum(c_n*R_cn), so dL/doutput = R, dL/dh_n = R_hn, dL/dc_n = R_cn.
"""
import json

import torch

torch.set_default_dtype(torch.float64)


def tensor(t):
    return {"shape": list(t.shape), "data": t.detach().flatten().tolist()}


def case(file, seed, input_size, hidden, proj, layers, bidirectional, steps, batch, bias=True):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(input_size, hidden, num_layers=layers, bias=bias, bidirectional=bidirectional, proj_size=proj)
    names = [name for name, _ in lstm.named_parameters()]
    with torch.no_grad():
        for _, p in lstm.named_parameters():
            p.copy_(0.5 * torch.randn(p.shape))
    d = 2 if bidirectional else 1
    x = torch.randn(steps, batch, input_size, requires_grad=True)
    h0 = (0.5 * torch.randn(layers * d, batch, proj)).requires_grad_()
    c0 = (0.5 * torch.randn(layers * d, batch, hidden)).requires_grad_()
    r = torch.randn(steps, batch, d * proj)
    r_hn = torch.randn(layers * d, batch, proj)
    r_cn = torch.randn(layers * d, batch, hidden)
    output, (h_n, c_n) = lstm(x, (h0, c0))
    loss = (output * r).sum() + (h_n * r_hn).sum() + (c_n * r_cn).sum()
    loss.backward()
    out = {
        "source": f"python3-torch {torch.__version__}, torch.nn.LSTM(proj_size={proj}), float64, CPU",
        "sizes": {"input_size": input_size, "hidden_size": hidden, "proj_size": proj, "num_layers": layers,
                  "directions": d, "seq_len": steps, "batch": batch},
        "bias": bias,
        "seed": seed,
        "parameters": names,
        "init": "torch.manual_seed(seed); module built; each parameter overwritten with 0.5*randn in named_parameters order; "
                "then x=randn(T,B,I), h0=0.5*randn(L*D,B,P), c0=0.5*randn(L*D,B,H), R=randn(T,B,D*P), R_hn, R_cn",
        "loss": "sum(output * R) + sum(h_n * R_hn) + sum(c_n * R_cn)",
        "x": tensor(x), "h0": tensor(h0), "c0": tensor(c0), "R": tensor(r), "R_hn": tensor(r_hn), "R_cn": tensor(r_cn),
        "output": tensor(output), "h_n": tensor(h_n), "c_n": tensor(c_n), "loss_value": loss.item(),
        "grad_x": tensor(x.grad), "grad_h0": tensor(h0.grad), "grad_c0": tensor(c0.grad),
    }
    for name, p in lstm.named_parameters():
        out[name] = tensor(p)
        out["grad_" + name] = tensor(p.grad)
    with open(file, "w") as f:
        json.dump(out, f)


case("torch-lstmp.json", 20261207, input_size=3, hidden=5, proj=2, layers=1, bidirectional=False, steps=7, batch=2)
case("torch-lstmp-stack.json", 20261208, input_size=4, hidden=6, proj=3, layers=2, bidirectional=True, steps=5, batch=3)
case("torch-lstmp-nobias.json", 20261209, input_size=2, hidden=7, proj=4, layers=2, bidirectional=False, steps=6, batch=2, bias=False)
