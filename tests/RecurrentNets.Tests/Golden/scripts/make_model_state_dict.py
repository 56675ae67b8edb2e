"""Golden data for the model layer's PyTorch interop (tests/RecurrentNets.Tests/Models/PyTorchStateDictTests.cs).

A PyTorch module with attributes embedding, rnn and head, in double precision: its state_dict is written as
safetensors (by hand: 8-byte little-endian header length, JSON header, raw data; the safetensors package is not in
Debian), with the output on a token batch and the gradients of L = sum(w * output) beside it in JSON.
Run with Debian's python3-torch: /usr/bin/python3 scripts/make_model_state_dict.py (from the Golden folder).
"""
import json
import math
import struct

import torch
from torch import nn

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(11, 5)
        self.rnn = nn.LSTM(5, 6, num_layers=2, bidirectional=True)
        self.head = nn.Linear(12, 4)

    def forward(self, tokens):
        y, _ = self.rnn(self.embedding(tokens))
        return self.head(y)


def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F64", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


net = Net()
steps, batch = 6, 3
tokens = torch.tensor([[(3 * t + 5 * b + 1) % 11 for b in range(batch)] for t in range(steps)])
out = net(tokens)
w = torch.tensor([[[math.sin(1 + t * 0.7 + b * 1.3 + j * 0.37) for j in range(4)] for b in range(batch)] for t in range(steps)])
(w * out).sum().backward()
save_safetensors("torch-model-state-dict.safetensors", net.state_dict())
with open("torch-model-state-dict.json", "w") as f:
    json.dump({
        "tokens": tokens.flatten().tolist(),
        "steps": steps,
        "batch": batch,
        "output": out.detach().flatten().tolist(),
        "gradients": {name: p.grad.flatten().tolist() for name, p in net.named_parameters()},
    }, f)
