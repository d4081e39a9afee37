"""Loads a backprop conv model (safetensors) into PyTorch and prints the class of each input.

usage: torch_conv_predict.py MODEL INPUTS COUNT
INPUTS: COUNT examples of float32, one per row, as backprop stores them (c, h, w order).
The model is rebuilt from __metadata__ alone (layers, input, activations): conv
weights are used as stored, [out, in, kh, kw], which is PyTorch's Conv2d layout.
"""
import json
import struct
import sys

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "leaky-relu": lambda: nn.LeakyReLU(0.01), "linear": nn.Identity, "softmax": lambda: nn.Softmax(dim=1),
}


def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        s, e = info["data_offsets"]
        dtype = torch.float32 if info["dtype"] == "F32" else torch.float64
        tensors[name] = torch.frombuffer(bytearray(data[s:e]), dtype=dtype).reshape(info["shape"]).float()
    return meta, tensors


def build(meta, tensors):
    c, h, w = (int(v) for v in meta["input"].split(","))
    tokens = meta["layers"].split(",")
    modules = [nn.Unflatten(1, (c, h, w))]
    l = 0
    total = sum(1 for t in tokens if t.isdigit() or t.startswith("conv"))
    flat = False
    for t in tokens:
        if t.startswith("conv"):
            l += 1
            W = tensors[f"W{l}"]
            pad = int(t.split("p")[1]) if "p" in t[4:] else 0
            conv = nn.Conv2d(W.shape[1], W.shape[0], (W.shape[2], W.shape[3]), padding=pad)
            conv.weight.data = W
            conv.bias.data = tensors[f"b{l}"]
            modules += [conv, ACTIVATIONS[meta["activation"]]()]
        elif "pool" in t:
            size = int(t.split("pool")[1])
            modules.append((nn.AvgPool2d if t.startswith("avg") else nn.MaxPool2d)(size, size))
        else:
            if not flat:
                modules.append(nn.Flatten())
                flat = True
            l += 1
            W = tensors[f"W{l}"]
            lin = nn.Linear(W.shape[1], W.shape[0])
            lin.weight.data = W
            lin.bias.data = tensors[f"b{l}"]
            last = l == total
            modules += [lin, ACTIVATIONS[meta["output_activation" if last else "activation"]]()]
    return nn.Sequential(*modules)


def main():
    model_path, inputs_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    meta, tensors = load(model_path)
    net = build(meta, tensors).eval()
    x = torch.frombuffer(bytearray(open(inputs_path, "rb").read()), dtype=torch.float32).reshape(count, -1)
    with torch.no_grad():
        y = net(x)
    print(" ".join(str(int(i)) for i in y.argmax(dim=1)))


main()
