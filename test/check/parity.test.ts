import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { backprop } from '../../src/nn/backprop.js';
import { Rng } from '../../src/base/rng.js';
import { BUGS } from '../../src/check/bugs.js';
import { PARITY_TOLERANCE, trainParity } from '../../src/check/parity.js';
import { type Examples, fillBatch, identity } from '../../src/data/dataset.js';
import { tfTrain } from '../../src/check/tfjs-oracle.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { OPTIMIZER_DEFAULTS, type OptimizerName } from '../../src/train/optimizers.js';
import { tinyNet } from '../helpers.js';

describe('training parity with tf.train.sgd', () => {
  const rng = new Rng(5),
    n = 9;
  const train: Examples = { features: Float32Array.from({ length: 3 * n }, () => rng.normal()), labels: Uint8Array.from({ length: n }, (_, i) => i % 2), count: n, dim: 3 };
  it('passes our SGD (batches wrapping past the end of the set) and fails it with a planted bug', async () => {
    const ok = await trainParity(tinyNet('float32'), train, { steps: 4, batchSize: 4, lr: 0.5, seed: 1 }, jsKernels);
    expect(ok.pass).toBe(true);
    expect([ok.steps, ok.batchSize, ok.lr]).toEqual([4, 4, 0.5]);
    expect(ok.perTensor.map((t) => t.name)).toEqual(['W1', 'b1', 'W2', 'b2']);
    expect(ok.maxWeightDiff).toBe(Math.max(...ok.perTensor.map((t) => t.maxDiff)));
    expect(ok.maxWeightDiff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    const bad = await trainParity(tinyNet('float32'), train, { steps: 4, batchSize: 4, lr: 0.5, seed: 1 }, jsKernels, BUGS.sign);
    expect(bad.pass).toBe(false);
    expect(bad.maxWeightDiff).toBeGreaterThan(PARITY_TOLERANCE);
    expect(bad.maxWeightDiff).toBe(Math.max(...bad.perTensor.map((t) => t.maxDiff)));
  });

  it('a NaN weight fails parity even when finite entries follow it (it was once overwritten by them)', async () => {
    const nanFirst: typeof BUGS.sign = (net, ws, y, grads, k) => {
      const total = backprop(net, ws, y, grads, k);
      grads.gradW[0].data[0] = NaN;
      return total;
    };
    const r = await trainParity(tinyNet('float32'), train, { steps: 1, batchSize: 4, lr: 0.5, seed: 1 }, jsKernels, nanFirst);
    expect(r.pass).toBe(false);
    expect(r.perTensor[0].maxDiff).toBeNaN();
    expect(r.maxWeightDiff).toBeNaN();
  });
});
describe('training parity, against the batches and weights it claims', () => {
  const rng = new Rng(5),
    n = 9;
  const train: Examples = { features: Float32Array.from({ length: 3 * n }, () => rng.normal()), labels: Uint8Array.from({ length: n }, (_, i) => i % 2), count: n, dim: 3 };
  /** The batches trainParity describes: consecutive slices of seeded permutations of the set, one after another. */
  function batches(seed: number, steps: number, m: number) {
    const r = new Rng(seed),
      order: number[] = [];
    while (order.length < steps * m) order.push(...r.shuffle(identity(n)));
    return Array.from({ length: steps }, (_, k) => {
      const x = Matrix.zeros(m, 3),
        y = Matrix.zeros(2, m);
      fillBatch(train, order, k * m, x, y);
      return { x, y, order: order.slice(k * m, (k + 1) * m) };
    });
  }
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

  it('each tensor’s largest difference between our trainer and tfTrain on those batches (wrapping past the end of the set)', async () => {
    const steps = 4,
      m = 4,
      lr = 0.5,
      optimizer = { name: 'momentum' as const, ...OPTIMIZER_DEFAULTS },
      weightDecay = 0.01;
    const p = await trainParity(tinyNet(), train, { steps, batchSize: m, lr, seed: 1, optimizer, weightDecay }, jsKernels);
    const start = tinyNet().clone('float32'),
      ours = start.clone();
    const t = new SgdTrainer(ours, { lr, batchSize: m, weightDecay, optimizer }, jsKernels);
    const bs = batches(1, steps, m);
    bs.forEach((b) => t.step(train, b.order, 0, m));
    const theirs = await tfTrain(start, bs, lr, optimizer, weightDecay);
    const want = [maxDiff(ours.weights[0].data, theirs.W[0]), maxDiff(ours.biases[0], theirs.b[0]), maxDiff(ours.weights[1].data, theirs.W[1]), maxDiff(ours.biases[1], theirs.b[1])];
    expect(p.perTensor.map((d) => d.maxDiff)).toEqual(want);
    // float32 on both sides, the weight gradients' products summed in another order: not bit-equal (the biases
    // may be: both forward passes compute W A, then + b)
    expect([want[0], want[2]].every((d) => d > 0)).toBe(true);
    expect(p).toMatchObject({ steps, batchSize: m, lr, optimizer: 'momentum', weightDecay, maxWeightDiff: Math.max(...want), pass: true });
  });

  it('a NaN in the data (example 5) reaches every weight on both sides: NaN differences, and parity fails', async () => {
    const bad: Examples = { ...train, features: train.features.slice() };
    bad.features[3 * 5 + 1] = NaN;
    const p = await trainParity(tinyNet(), bad, { steps: 3, batchSize: 4, lr: 0.5, seed: 1 }, jsKernels);
    expect(p.maxWeightDiff).toBeNaN();
    expect(p.perTensor.every((t) => Number.isNaN(t.maxDiff))).toBe(true);
    expect(p.pass).toBe(false);
  });

  it('every optimizer, with and without λ, agrees with tfjs’s; the rules differ from one another by far more than the tolerance', async () => {
    const cases: [OptimizerName, number][] = [
      ['sgd', 0.1],
      ['momentum', 0.1],
      ['nesterov', 0],
      ['adam', 0.1],
      ['adamw', 0.1],
      ['adamw', 0],
    ];
    for (const [name, weightDecay] of cases) {
      const lr = name.startsWith('adam') ? 0.05 : 0.5;
      const p = await trainParity(tinyNet(), train, { steps: 5, batchSize: 4, lr, seed: 2, optimizer: { name, ...OPTIMIZER_DEFAULTS }, weightDecay }, jsKernels);
      expect(p.pass, `${name} λ = ${weightDecay}: ${p.maxWeightDiff}`).toBe(true);
    }
    const bs = batches(2, 5, 4),
      start = tinyNet().clone('float32');
    const run = (name: OptimizerName, lr: number, weightDecay = 0) => tfTrain(start, bs, lr, { name, ...OPTIMIZER_DEFAULTS }, weightDecay);
    const far = (a: { W: Float32Array[] }, b: { W: Float32Array[] }) => expect(Math.max(...a.W.map((w, l) => maxDiff(w, b.W[l])))).toBeGreaterThan(10 * PARITY_TOLERANCE);
    const sgd = await run('sgd', 0.5);
    far(sgd, await run('momentum', 0.5));
    far(await run('momentum', 0.5), await run('nesterov', 0.5));
    far(sgd, await run('sgd', 0.5, 0.1));
    far(await run('adam', 0.05, 0.1), await run('adamw', 0.05, 0.1));
    far(await run('adam', 0.05), await run('adam', 0.05, 0.1));
    far(await run('adamw', 0.05), await run('adamw', 0.05, 0.1));
    expect(await tfTrain(start, bs, 0.5)).toEqual(sgd); // plain SGD unless told otherwise
  });
});
