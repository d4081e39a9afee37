import { describe, expect, it } from 'vitest';
import { Matrix, jsKernels } from '../../src/linalg/index.js';
import { backprop, Gradients, Workspace } from '../../src/nn/backprop.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/nn/rng.js';
import { examples, fillBatch, splitDataset, type Dataset } from '../../src/data/dataset.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { evaluate } from '../../src/train/metrics.js';

/** Two Gaussian blobs in 2-D, separated along x = y. */
function blobs(n: number, seed: number) {
  const rng = new Rng(seed);
  const f = new Float32Array(2 * n);
  const l = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    l[i] = c;
    f[2 * i] = (c ? 1 : -1) + 0.3 * rng.normal();
    f[2 * i + 1] = (c ? 1 : -1) + 0.3 * rng.normal();
  }
  return examples(f, l, 2);
}

describe('mini-batch SGD', () => {
  it('one step is exactly W ← W − η(∂C/∂W + λW), b ← b − η ∂C/∂b', () => {
    const rng = new Rng(5);
    const net = Network.create({ sizes: [2, 3, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng, 'float64');
    const before = net.clone();
    const ex = blobs(4, 1);
    const order = [0, 1, 2, 3];
    const lr = 0.5, lambda = 0.1;
    new SgdTrainer(net, { lr, batchSize: 4, epochs: 1, weightDecay: lambda }, jsKernels).step(ex, order, 0, 4);
    // the same gradients computed separately
    const ws = new Workspace(before, 4);
    const y = Matrix.zeros(2, 4, 'float64');
    fillBatch(ex, order, 0, ws.input, y);
    const g = new Gradients(before);
    backprop(before, ws, y, g, jsKernels);
    for (let l = 0; l < 2; l++) {
      net.weights[l].data.forEach((w, i) => {
        const w0 = before.weights[l].data[i];
        expect(w).toBeCloseTo(w0 - lr * (g.gradW[l].data[i] + lambda * w0), 14);
      });
      net.biases[l].forEach((b, i) => expect(b).toBeCloseTo(before.biases[l][i] - lr * g.gradB[l][i], 14));
    }
  });

  it('reaches 100% on a separable problem', () => {
    const rng = new Rng(11);
    const train = blobs(200, 2);
    const test = blobs(100, 3);
    const net = Network.create({ sizes: [2, 8, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'cross-entropy' }, 'xavier', rng);
    const before = evaluate(net, test, jsKernels).accuracy;
    const history = new SgdTrainer(net, { lr: 1, batchSize: 10, epochs: 20, weightDecay: 0 }, jsKernels).fit(train, test, rng);
    expect(before).toBeLessThan(1);
    expect(history.at(-1)!.testAccuracy).toBe(1);
    expect(history.at(-1)!.loss).toBeLessThan(history[0].loss);
  });

  it('same seed and inputs give bit-identical weights; another seed does not', () => {
    const run = (seed: number) => {
      const rng = new Rng(seed);
      const net = Network.create({ sizes: [2, 5, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', rng);
      new SgdTrainer(net, { lr: 0.1, batchSize: 7, epochs: 3, weightDecay: 1e-3 }, jsKernels).fit(blobs(50, 4), blobs(10, 5), rng);
      return Buffer.concat(net.weights.map((w) => Buffer.from(w.data.buffer)));
    };
    expect(run(1).equals(run(1))).toBe(true);
    expect(run(1).equals(run(2))).toBe(false);
  });

  it('the last, smaller batch of an epoch is trained too', () => {
    const rng = new Rng(1);
    const net = Network.create({ sizes: [2, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', rng);
    const seen: number[] = [];
    new SgdTrainer(net, { lr: 0.1, batchSize: 4, epochs: 1, weightDecay: 0 }, jsKernels).fit(blobs(10, 1), blobs(2, 2), rng, {
      onBatch: (_e, b) => seen.push(b),
    });
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('splitting', () => {
  const ds: Dataset = { name: 't', classes: 2, train: blobs(100, 1), test: blobs(40, 2) };
  it('--validation holds out a disjoint seeded sample; --limit and --test-limit cut', () => {
    const s = splitDataset(ds, { validation: 0.2, limit: 50, testLimit: 10, seed: 3 });
    expect([s.validation!.count, s.train.count, s.test.count]).toEqual([20, 50, 10]);
    const key = (f: Float32Array, i: number) => `${f[2 * i]},${f[2 * i + 1]}`;
    const val = new Set(Array.from({ length: 20 }, (_, i) => key(s.validation!.features, i)));
    for (let i = 0; i < 50; i++) expect(val.has(key(s.train.features, i))).toBe(false);
  });
  it('rejects a validation split that leaves nothing to train on', () => {
    expect(() => splitDataset(ds, { validation: 100 })).toThrow(/--validation 100 must leave examples/);
  });
});
