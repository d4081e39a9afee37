import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { activation } from '../../src/nn/activations.js';
import { cost, smoothingProblem, smoothTargets } from '../../src/nn/costs.js';
import { loadTf } from '../../src/check/tfjs-oracle.js';
import { Rng } from '../../src/base/rng.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import type * as TF from '@tensorflow/tfjs';
import { SgdTrainer } from '../../src/train/sgd.js';
import { jsKernels } from '../../src/linalg/js.js';
import { loadData } from '../../src/data/load.js';
import { backprop, Gradients, Workspace } from '../../src/nn/backprop.js';
import { fillBatch, identity } from '../../src/data/dataset.js';

/** K × m logits and one-hot targets (float64), one example per column. */
function batch(K: number, m: number, seed: number): { z: Matrix; y: Matrix; labels: number[] } {
  const rng = new Rng(seed);
  const z = Matrix.zeros(K, m, 'float64'),
    y = Matrix.zeros(K, m, 'float64');
  const labels = Array.from({ length: m }, () => Math.floor(rng.uniform() * K));
  for (let i = 0; i < K * m; i++) z.data[i] = 3 * rng.normal();
  labels.forEach((c, j) => (y.data[c * m + j] = 1));
  return { z, y, labels };
}

describe('label smoothing: y′ = (1 − ε)y + ε/K', () => {
  it('smoothTargets by hand: 1 − ε + ε/K on the true class, ε/K elsewhere; each column still sums to 1', () => {
    const y = Matrix.zeros(4, 2, 'float64');
    y.data[0 * 2 + 0] = 1;
    y.data[3 * 2 + 1] = 1;
    smoothTargets(y, 0.2);
    [0.85, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.85].forEach((v, i) => expect(y.data[i]).toBeCloseTo(v, 15));
    for (const j of [0, 1]) expect(y.data[j] + y.data[2 + j] + y.data[4 + j] + y.data[6 + j]).toBeCloseTo(1, 15);
  });

  it('softmax + log-likelihood: C and δ^L = ∂C/∂z against tf.losses.softmaxCrossEntropy(labelSmoothing = ε) under tf.grad', async () => {
    const { tf } = await loadTf();
    const K = 10,
      m = 6,
      eps = 0.1;
    const { z, y, labels } = batch(K, m, 5);
    const softmax = activation('softmax');
    const a = Matrix.zeros(K, m, 'float64');
    softmax.forward(z, a);
    smoothTargets(y, eps);
    const ll = cost('log-likelihood');
    const delta = Matrix.zeros(K, m, 'float64');
    ll.delta(softmax, z, a, y, delta);
    const total = ll.total(softmax, z, a, y);

    // tfjs: logits m × K (examples as rows), one-hot labels, the smoothing its own; summed over the batch
    const logits = tf.tensor2d(
      Array.from({ length: m * K }, (_, k) => z.data[(k % K) * m + Math.floor(k / K)]),
      [m, K],
      'float32',
    );
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), K);
    const loss = (l: TF.Tensor) => tf.losses.softmaxCrossEntropy(onehot, l, undefined, eps, tf.Reduction.SUM);
    const theirs = tf.grad(loss)(logits).dataSync();
    const theirLoss = loss(logits).dataSync()[0];
    let most = 0;
    for (let j = 0; j < m; j++) for (let i = 0; i < K; i++) most = Math.max(most, Math.abs(delta.data[i * m + j] - theirs[j * K + i]));
    expect(most).toBeLessThan(1e-6); // float32 on tfjs's side
    expect(total).toBeCloseTo(theirLoss, 4);
    // and it is not the unsmoothed gradient: ε moves δ^L by ε(a − 1/K)-sized amounts
    const plain = tf
      .grad((l: TF.Tensor) => tf.losses.softmaxCrossEntropy(onehot, l, undefined, 0, tf.Reduction.SUM))(logits)
      .dataSync();
    expect(Math.max(...Array.from(theirs, (v, k) => Math.abs(v - plain[k])))).toBeGreaterThan(1e-3);
  });

  it('sigmoid + cross-entropy: δ^L = a − y′, by hand', () => {
    const { z, y } = batch(3, 2, 8);
    const sigmoid = activation('sigmoid');
    const a = Matrix.zeros(3, 2, 'float64');
    sigmoid.forward(z, a);
    smoothTargets(y, 0.3);
    const delta = Matrix.zeros(3, 2, 'float64');
    cost('cross-entropy').delta(sigmoid, z, a, y, delta);
    for (let i = 0; i < 6; i++) expect(delta.data[i]).toBeCloseTo(a.data[i] - y.data[i], 15);
    expect(y.data.every((v) => Math.abs(v - 0.1) < 1e-15 || Math.abs(v - 0.8) < 1e-15)).toBe(true); // 0.3/3 and 0.7 + 0.1
  });

  it('is refused with the quadratic cost only, in one line', () => {
    expect(smoothingProblem('log-likelihood')).toBeUndefined();
    expect(smoothingProblem('cross-entropy')).toBeUndefined();
    expect(smoothingProblem('quadratic')).toMatch(/^label smoothing .*--cost quadratic has none/);
    expect(smoothingProblem('quadratic')).not.toContain('\n');
  });

  it('the trainer smooths the targets of every training step: its step is backprop on y′', () => {
    const ds = loadData({ data: 'embedded', limit: 64, testLimit: 10, seed: 1 });
    const arch: Architecture = { sizes: [784, 8, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
    const a = Network.create(arch, 'he', new Rng(2), 'float64'),
      b = a.clone();
    const order = identity(ds.train.count);
    new SgdTrainer(a, { lr: 0.1, batchSize: 16, weightDecay: 0, labelSmoothing: 0.2 }, jsKernels).step(ds.train, order, 0, 16);
    // by hand: the same batch, y′, backprop, W ← W − η ∂C/∂W
    const ws = new Workspace(b, 16),
      y = Matrix.zeros(10, 16, 'float64'),
      g = new Gradients(b);
    fillBatch(ds.train, order, 0, ws.input, y);
    smoothTargets(y, 0.2);
    backprop(b, ws, y, g, jsKernels);
    b.weights.forEach((W, l) => W.data.forEach((w, i) => (W.data[i] = w - 0.1 * g.gradW[l].data[i])));
    a.weights.forEach((W, l) => W.data.forEach((w, i) => expect(w).toBeCloseTo(b.weights[l].data[i], 14)));
  });
});
