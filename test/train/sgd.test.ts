import { describe, expect, it } from 'vitest';
import { Matrix, jsKernels } from '../../src/linalg/index.js';
import { backprop, drawDropoutMasks, type GradientMethod, Gradients, sgdStep, Workspace } from '../../src/nn/backprop.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { type Dataset, examples, type Examples, fillBatch, splitDataset } from '../../src/data/dataset.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { evaluate } from '../../src/train/metrics.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { Optimizer, OPTIMIZER_DEFAULTS } from '../../src/train/optimizers.js';
import type { Augmenter } from '../../src/data/augment.js';
import { orderedPoints, tanhTrainer } from '../helpers.js';

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
    const lr = 0.5,
      lambda = 0.1;
    new SgdTrainer(net, { lr, batchSize: 4, weightDecay: lambda }, jsKernels).step(ex, order, 0, 4);
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

  it('reaches 100% on a separable problem', async () => {
    const rng = new Rng(11);
    const train = blobs(200, 2);
    const test = blobs(100, 3);
    const net = Network.create({ sizes: [2, 8, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'cross-entropy' }, 'xavier', rng);
    const before = evaluate(net, test, jsKernels).accuracy;
    const state = initialState(train.count);
    const r = await runTraining(new SgdTrainer(net, { lr: 1, batchSize: 10, weightDecay: 0 }, jsKernels), train, rng, state, { epochs: 20, test });
    expect(r.status).toBe('done');
    const history = state.history;
    expect(before).toBeLessThan(1);
    expect(history.at(-1)!.testAccuracy).toBe(1);
    expect(history.at(-1)!.loss).toBeLessThan(history[0].loss);
  });

  it('same seed and inputs give bit-identical weights; another seed does not', async () => {
    const run = async (seed: number) => {
      const rng = new Rng(seed);
      const net = Network.create({ sizes: [2, 5, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', rng);
      const train = blobs(50, 4);
      await runTraining(new SgdTrainer(net, { lr: 0.1, batchSize: 7, weightDecay: 1e-3 }, jsKernels), train, rng, initialState(50), { epochs: 3 });
      return Buffer.concat(net.weights.map((w) => Buffer.from(w.data.buffer)));
    };
    expect((await run(1)).equals(await run(1))).toBe(true);
    expect((await run(1)).equals(await run(2))).toBe(false);
  });

  it('the last, smaller batch of an epoch is trained too', async () => {
    const rng = new Rng(1);
    const net = Network.create({ sizes: [2, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', rng);
    const seen: number[] = [];
    await runTraining(new SgdTrainer(net, { lr: 0.1, batchSize: 4, weightDecay: 0 }, jsKernels), blobs(10, 1), rng, initialState(10), {
      epochs: 1,
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

describe('interrupting and continuing (runTraining)', () => {
  const arch: Architecture = { sizes: [2, 6, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' };
  const opts = { lr: 0.3, batchSize: 8, weightDecay: 1e-3 };
  it('stopping after any batch and continuing from the state gives the same weights bit for bit', async () => {
    const train = blobs(100, 7);
    const straight = async () => {
      const rng = new Rng(5);
      const net = Network.create({ ...arch }, 'xavier', rng);
      await runTraining(new SgdTrainer(net, opts, jsKernels), train, rng, initialState(100), { epochs: 4 });
      return net;
    };
    const want = await straight();
    const straightHistory = async () => {
      const rng = new Rng(5);
      const net = Network.create({ ...arch }, 'xavier', rng);
      const s = initialState(100);
      await runTraining(new SgdTrainer(net, opts, jsKernels), train, rng, s, { epochs: 4 });
      return s.history;
    };
    for (const stopAfter of [1, 13, 26, 40]) {
      const rng = new Rng(5);
      const net = Network.create({ ...arch }, 'xavier', rng);
      const state = initialState(100);
      let batches = 0;
      const trainer = new SgdTrainer(net, opts, jsKernels);
      const r1 = await runTraining(trainer, train, rng, state, {
        epochs: 4,
        yieldMs: 0, // ask shouldStop after every batch
        onBatch: () => batches++,
        shouldStop: () => batches >= stopAfter,
      });
      expect(r1.status).toBe('interrupted');
      expect(batches).toBe(stopAfter);
      const saved = new Rng(rng.state());
      const copy = net.clone();
      const state2 = { ...state, order: state.order.slice(), history: [...state.history] };
      await runTraining(new SgdTrainer(copy, opts, jsKernels), train, saved, state2, { epochs: 4 });
      expect(state2.history.map((h) => h.loss)).toEqual((await straightHistory()).map((h) => h.loss));
      copy.weights.forEach((w, l) => expect(Array.from(w.data)).toEqual(Array.from(want.weights[l].data)));
    }
  });

  it('a NaN loss stops the run as diverged, naming epoch and batch', async () => {
    const rng = new Rng(1);
    const net = Network.create({ sizes: [2, 4, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', rng);
    const r = await runTraining(new SgdTrainer(net, { lr: 1e30, batchSize: 5, weightDecay: 0 }, jsKernels), blobs(50, 1), rng, initialState(50), { epochs: 3 });
    expect(r.status).toBe('diverged');
    if (r.status === 'diverged') {
      expect(r.epoch).toBe(1);
      expect(r.batch).toBeGreaterThan(0);
    }
  });

  it('a run that diverges in epoch 2 keeps the epoch-1 checkpoint: no checkpoint is written after the NaN', async () => {
    const rng = new Rng(1);
    const net = Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng);
    let calls = 0;
    // A gradient that turns NaN on the 20th batch (epoch 2 of 10-batch epochs).
    const poisoned: GradientMethod = (n, ws, y, g, k) => (++calls === 20 ? NaN : backprop(n, ws, y, g, k));
    const checkpoints: number[] = [];
    const r = await runTraining(new SgdTrainer(net, { lr: 0.1, batchSize: 5, weightDecay: 0 }, jsKernels, poisoned), blobs(50, 1), rng, initialState(50), {
      epochs: 3,
      onCheckpoint: (s) => void checkpoints.push(s.epoch),
    });
    expect(r).toMatchObject({ status: 'diverged', epoch: 2, batch: 10, what: 'the loss is NaN' });
    expect(checkpoints).toEqual([2]); // written once, at the end of epoch 1 (pointing at epoch 2)
  });
});

describe('SgdTrainer', () => {
  const train = orderedPoints(1);
  it('its update W ← (1 − ηλ)W − η∂C/∂W, b ← b − η∂C/∂b (for another gradient method) gives sgdStep’s weights', () => {
    for (const weightDecay of [0, 0.1]) {
      const make = () => Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' }, 'xavier', new Rng(11), 'float64');
      const a = new SgdTrainer(make(), { lr: 0.5, batchSize: 5, weightDecay }, jsKernels);
      const b = new SgdTrainer(make(), { lr: 0.5, batchSize: 5, weightDecay }, jsKernels, (n, w, y, g, k) => backprop(n, w, y, g, k));
      const order = Uint32Array.from({ length: 12 }, (_, i) => i);
      for (const start of [0, 5]) {
        a.step(train, order, start, 5);
        b.step(train, order, start, 5);
      }
      for (let l = 0; l < 2; l++) {
        a.net.weights[l].data.forEach((v, i) => expect(b.net.weights[l].data[i]).toBeCloseTo(v, 13));
        a.net.biases[l].forEach((v, i) => expect(b.net.biases[l][i]).toBeCloseTo(v, 13));
      }
    }
  });
  it('correct counts the batch examples the network classified right before the update; diagnose() before any step answers', () => {
    const t = tanhTrainer();
    const order = Uint32Array.from([3, 1, 4, 0, 5, 9, 2, 6, 8, 7, 11, 10]);
    const before = t.net.clone();
    const batch: Examples = { features: new Float32Array(8), labels: new Uint8Array(4), count: 4, dim: 2 };
    for (let j = 0; j < 4; j++) {
      batch.features.set(train.features.subarray(2 * order[2 + j], 2 * order[2 + j] + 2), 2 * j);
      batch.labels[j] = train.labels[order[2 + j]];
    }
    t.step(train, order, 2, 4);
    const right = evaluate(before, batch, jsKernels).correct;
    expect(t.correct).toBe(right);
    // and over every batch of an epoch, with some right and some wrong
    let total = 0,
      wrong = 0;
    for (const start of [0, 4, 8]) {
      const net = t.net.clone();
      const ex: Examples = { features: new Float32Array(8), labels: new Uint8Array(4), count: 4, dim: 2 };
      for (let j = 0; j < 4; j++) {
        ex.features.set(train.features.subarray(2 * order[start + j], 2 * order[start + j] + 2), 2 * j);
        ex.labels[j] = train.labels[order[start + j]];
      }
      t.step(train, order, start, 4);
      const e = evaluate(net, ex, jsKernels);
      expect(t.correct).toBe(e.correct);
      total += e.correct;
      wrong += 4 - e.correct;
    }
    expect(total).toBeGreaterThan(0);
    expect(wrong).toBeGreaterThan(0);
    expect(typeof tanhTrainer().diagnose({}).message).toBe('string');
  });
});
describe('SgdTrainer: optimizers and dropout', () => {
  const train = orderedPoints(1),
    order = Uint32Array.from({ length: 12 }, (_, i) => i);
  const make = () => Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' }, 'xavier', new Rng(11), 'float64');
  const weightsOf = (net: Network) => [...net.weights.map((w) => Array.from(w.data)), ...net.biases.map((b) => Array.from(b))];
  const batchOf = (net: Network, start: number, m: number) => {
    const ws = new Workspace(net, m),
      y = Matrix.zeros(2, m, 'float64');
    fillBatch(train, order, start, ws.input, y);
    return { ws, y };
  };

  it('augment: each step distorts the batch it filled (its m images, with the run’s rng) before the passes, which see the distorted inputs', () => {
    const rng = new Rng(5);
    const calls: { length: number; m: number; rng: Rng }[] = [];
    const augmenter = {
      batch(x: Float32Array | Float64Array, m: number, r: Rng) {
        calls.push({ length: x.length, m, rng: r });
        for (let i = 0; i < 2 * m; i++) x[i] = -x[i];
      },
    } as unknown as Augmenter;
    const a = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, augment: { augmenter, rng } }, jsKernels);
    const b = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0 }, jsKernels);
    const negated: Examples = { ...train, features: train.features.map((v) => -v) };
    for (const start of [0, 4]) expect(a.step(train, order, start, 4)).toBe(b.step(negated, order, start, 4));
    expect(weightsOf(a.net)).toEqual(weightsOf(b.net));
    expect(calls.map((c) => [c.length, c.m, c.rng === rng])).toEqual([
      [8, 4, true],
      [8, 4, true],
    ]);
  });

  it('optimizer sgd is the plain fused step, with no optimizer state', () => {
    const a = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0.1, optimizer: { name: 'sgd', ...OPTIMIZER_DEFAULTS } }, jsKernels);
    const b = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0.1 }, jsKernels);
    expect(a.optimizer).toBeUndefined();
    for (const start of [0, 4]) expect(a.step(train, order, start, 4)).toBe(b.step(train, order, start, 4));
    expect(weightsOf(a.net)).toEqual(weightsOf(b.net));
  });

  it('another optimizer: backprop’s gradients, then its rule (Optimizer.step at η and λ)', () => {
    for (const name of ['momentum', 'adam'] as const) {
      const config = { name, ...OPTIMIZER_DEFAULTS };
      const t = new SgdTrainer(make(), { lr: 0.05, batchSize: 4, weightDecay: 0.1, optimizer: config }, jsKernels);
      const ref = make(),
        o = new Optimizer(config, ref),
        g = new Gradients(ref);
      for (const start of [0, 4, 8]) {
        const total = t.step(train, order, start, 4);
        const { ws, y } = batchOf(ref, start, 4);
        expect(total).toBe(backprop(ref, ws, y, g, jsKernels));
        o.step(g, 0.05, 0.1);
      }
      expect(t.optimizer!.t).toBe(3);
      expect(weightsOf(t.net)).toEqual(weightsOf(ref));
    }
  });

  it('with an optimizer, a step whose loss or any δ is not finite returns NaN and changes neither the weights nor the optimizer', () => {
    const poisoned =
      (what: 'loss' | 'delta'): GradientMethod =>
      (net, ws, y, grads, k) => {
        const total = backprop(net, ws, y, grads, k);
        if (what === 'loss') return NaN;
        ws.delta[1].data[2] = NaN; // δ¹ only: δ² is finite
        return total;
      };
    for (const what of ['loss', 'delta'] as const) {
      const t = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, optimizer: { name: 'momentum', ...OPTIMIZER_DEFAULTS } }, jsKernels, poisoned(what));
      const before = weightsOf(t.net);
      expect(t.step(train, order, 0, 4)).toBeNaN();
      expect(weightsOf(t.net)).toEqual(before);
      expect(t.optimizer!.t).toBe(0);
      expect(t.optimizer!.slots[0].every((s) => s.every((v) => v === 0))).toBe(true);
    }
  });

  it('with an optimizer and backprop itself (δ read through ∂C/∂b = δ1/m), a non-finite pass returns NaN and changes nothing', () => {
    for (const layer of [0, 1]) {
      const t = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, optimizer: { name: 'adam', ...OPTIMIZER_DEFAULTS } }, jsKernels);
      const was = t.net.biases[layer][0];
      t.net.biases[layer][0] = NaN; // z^l NaN: the loss and every δ above it (Infinity would saturate to a finite pass)
      const before = weightsOf(t.net);
      expect(t.step(train, order, 0, 4)).toBeNaN();
      expect(weightsOf(t.net)).toEqual(before);
      expect(t.optimizer!.t).toBe(0);
      t.net.biases[layer][0] = was;
      expect(t.step(train, order, 0, 4)).not.toBeNaN(); // the same batch, repaired, steps
      expect(t.optimizer!.t).toBe(1);
    }
  });

  it('dropout: each step draws the hidden masks from its RNG, then takes the fused step on the masked pass', () => {
    const t = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, dropout: { p: 0.5, rng: new Rng(9) } }, jsKernels);
    const plain = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0 }, jsKernels);
    const ref = make(),
      rng = new Rng(9);
    const ws = new Workspace(ref, 4),
      y = Matrix.zeros(2, 4, 'float64');
    ws.enableDropout();
    for (const start of [0, 4, 8]) {
      const total = t.step(train, order, start, 4);
      plain.step(train, order, start, 4);
      fillBatch(train, order, start, ws.input, y);
      drawDropoutMasks(ws, 0.5, () => rng.uniform());
      expect(total).toBe(sgdStep(ref, ws, y, 0.5, 0, jsKernels));
    }
    expect(weightsOf(t.net)).toEqual(weightsOf(ref));
    expect(weightsOf(t.net)).not.toEqual(weightsOf(plain.net));
    const noRng = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, dropout: { p: 0.5 } as unknown as { p: number; rng: Rng } }, jsKernels);
    expect(() => noRng.step(train, order, 0, 4)).toThrow('dropout without its RNG');
  });
});

describe('SgdTrainer: a gradient method of its own with an optimizer, and clipping', () => {
  it('a finite step with another gradient method and an optimizer updates the weights by the rule from that method’s gradients', () => {
    const t = tanhTrainer();
    const arch = t.net.arch;
    const net = Network.create(arch, 'xavier', new Rng(11), 'float64');
    const twin = net.clone();
    const momentum = { ...OPTIMIZER_DEFAULTS, name: 'momentum' as const };
    // The method: backprop itself, passed as a method of its own (the general path of the gradient checks)
    const trainer = new SgdTrainer(net, { lr: 0.5, batchSize: 5, weightDecay: 0, optimizer: momentum }, jsKernels, backprop);
    const order = Array.from({ length: 12 }, (_, i) => i);
    const total = trainer.step(orderedPoints(1), order, 0, 5);
    expect(Number.isFinite(total)).toBe(true);
    // By hand: the same gradients from backprop, then momentum's first step v = g, θ ← θ − η v
    const ws = new Workspace(twin, 5),
      y = Matrix.zeros(2, 5, 'float64'),
      grads = new Gradients(twin);
    fillBatch(orderedPoints(1), order, 0, ws.input, y);
    expect(backprop(twin, ws, y, grads, jsKernels)).toBe(total);
    new Optimizer(momentum, twin).step(grads, 0.5, 0);
    net.weights.forEach((W, l) => expect(Array.from(W.data)).toEqual(Array.from(twin.weights[l].data)));
  });

  it('clipped is false before any step, and says whether the last step was clipped', () => {
    const t = tanhTrainer();
    const c = new SgdTrainer(t.net, { lr: 0.5, batchSize: 5, weightDecay: 0, clipNorm: 1e-9 }, jsKernels);
    expect(c.clipped).toBe(false);
    c.step(
      orderedPoints(1),
      Array.from({ length: 12 }, (_, i) => i),
      0,
      5,
    );
    expect(c.clipped).toBe(true);
  });
});
