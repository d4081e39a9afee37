#!/usr/bin/env python3
"""PyTorch reference for `backprop bench --torch`: one epoch of mini-batch SGD
on Fashion-MNIST (60k) for the same configurations as src/cli/bench.ts, timed
the same way. Reads the IDX files with the standard library and numpy; prints
one JSON line.

  python3 torch_reference.py --data DIR --config N|W|C10|C64 --repeats 3 [--threads N] [--limit n]
"""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
    with opener(path, 'rb') as f:
        data = f.read()
    ndims = data[3]
    shape = struct.unpack('>' + 'I' * ndims, data[4:4 + 4 * ndims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(shape)


def find(d, base):
    for name in (base, base + '.gz'):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise SystemExit(f'{d}: missing {base}')


CONFIGS = {
    # sizes, hidden activation, output activation, cost, batch size, learning rate
    'N': ([784, 30, 10], torch.nn.Sigmoid, torch.nn.Sigmoid, 'quadratic', 10, 3.0),
    'W': ([784, 256, 128, 10], torch.nn.ReLU, None, 'log-likelihood', 128, 0.1),
    # Nielsen's ch. 6 ReLU net (network3.py): conv 5x5x20, pool 2, conv 5x5x40, pool 2, 100, 10
    'C10': ('conv', torch.nn.ReLU, None, 'log-likelihood', 10, 0.03),
    'C64': ('conv', torch.nn.ReLU, None, 'log-likelihood', 64, 0.03),
}


def conv_net():
    """The same layers as backprop's conv5x5x20,pool2,conv5x5x40,pool2,100 (activation, then pooling)."""
    nn = torch.nn
    return [nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(640, 100), nn.ReLU(), nn.Linear(100, 10)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--config', choices=CONFIGS, required=True)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=0, help="0: PyTorch's own default")
    p.add_argument('--limit', type=int, default=0, help='0: every training example; n: the first n')
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.from_numpy(read_idx(find(a.data, 'train-images-idx3-ubyte')).reshape(-1, 784).astype(np.float32) / 255)
    labels = torch.from_numpy(read_idx(find(a.data, 'train-labels-idx1-ubyte')).astype(np.int64))
    if a.limit > 0:
        x, labels = x[:a.limit], labels[:a.limit]
    y = torch.nn.functional.one_hot(labels, 10).float()
    sizes, act, out, cost, m, lr = CONFIGS[a.config]
    layers = []
    if sizes == 'conv':
        x = x.reshape(-1, 1, 28, 28)
        layers, sizes = conv_net(), []
    for i in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[i - 1], sizes[i]))
        if i < len(sizes) - 1:
            layers.append(act())
        elif out is not None:
            layers.append(out())
    times = []
    for _ in range(a.repeats):
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        t0 = time.perf_counter()
        perm = torch.randperm(x.shape[0])
        for s in range(0, x.shape[0], m):
            idx = perm[s:s + m]
            xb, out_ = x[idx], model(x[idx])
            if cost == 'quadratic':
                loss = 0.5 * ((out_ - y[idx]) ** 2).sum(1).mean()
            else:
                loss = torch.nn.functional.cross_entropy(out_, labels[idx])  # softmax + log-likelihood
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'seconds': times}))


if __name__ == '__main__':
    main()
