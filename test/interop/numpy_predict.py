#!/usr/bin/env python3
"""Reads a backprop safetensors model with only the standard library and numpy,
runs the forward pass z = W a + b on inputs given as raw little-endian float32
rows, and prints the predicted classes and outputs as JSON.

  python3 numpy_predict.py MODEL.safetensors INPUTS.f32 N DIM
"""
import json, struct, sys

import numpy as np

path, inputs, n, dim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path, 'rb') as f:
    data = f.read()
(header_len,) = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + header_len])
meta = header.pop('__metadata__')
base = 8 + header_len
dtypes = {'F32': '<f4', 'F64': '<f8'}


def tensor(name):
    info = header[name]
    start, end = info['data_offsets']
    return np.frombuffer(data[base + start:base + end], dtype=dtypes[info['dtype']]).reshape(info['shape'])


sizes = [int(s) for s in meta['sizes'].split(',')]
acts = {
    'sigmoid': lambda z: 1 / (1 + np.exp(-z)),
    'relu': lambda z: np.maximum(z, 0),
    'tanh': np.tanh,
    'leaky-relu': lambda z: np.where(z > 0, z, 0.01 * z),
    'linear': lambda z: z,
    'softmax': lambda z: np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0),
}
x = np.fromfile(inputs, dtype='<f4').reshape(n, dim)
a = x.T.astype(np.float64)  # one example per column, as in the equations
for l in range(1, len(sizes)):
    z = tensor(f'W{l}') @ a + tensor(f'b{l}')[:, None]
    a = acts[meta['output_activation'] if l == len(sizes) - 1 else meta['activation']](z)
print(json.dumps({'predictions': a.argmax(0).tolist(), 'outputs': a.T.tolist()}))
