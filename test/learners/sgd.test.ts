import { describe, expect, it } from 'vitest';
import { divergedAdvice, SGD_DEFAULTS, SgdLearner } from '../../src/learners/sgd.js';
import type { Progress } from '../../src/learners/learner.js';
import { examples, type Dataset } from '../../src/data/dataset.js';
import { jsKernels } from '../../src/linalg/index.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { evaluate } from '../../src/train/metrics.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { SgdTrainer } from '../../src/train/sgd.js';

// SgdLearner (src/learners/sgd.ts) on a small problem: the weights of `backprop train`'s loop, and the
// work, flops, trace and memory it reports, by hand.

const rng = new Rng(9);
const make = (n: number) =>
  examples(
    Float32Array.from({ length: n * 4 }, () => rng.uniform()),
    Uint8Array.from({ length: n }, (_, i) => i % 3),
    4,
  );
const ds: Dataset = { name: 't', classes: 3, train: make(25), test: make(12) };
const arch: Architecture = { sizes: [4, 5, 3], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' };

describe('SgdLearner', () => {
  it('describes itself; has no network before fit()', () => {
    const l = new SgdLearner(arch, { lr: 0.5, batchSize: 10, epochs: 1, init: 'normal' });
    expect(l.describe()).toBe('SGD + backprop 4-5-3: η=0.5, m=10, 1 epoch, init normal');
    expect(new SgdLearner(arch, { lr: 0.2, batchSize: 32, epochs: 3, init: 'he' }).describe()).toBe('SGD + backprop 4-5-3: η=0.2, m=32, 3 epochs, init he');
    expect(() => l.network).toThrow('sgd: fit() first');
    expect(SGD_DEFAULTS).toEqual({ lr: 0.2, batchSize: 32, epochs: 3 });
  });

  it("trains exactly as backprop train's loop, and reports work, flops, the trace, progress and memory by hand", async () => {
    const l = new SgdLearner(arch, { lr: 0.5, batchSize: 10, epochs: 2, init: 'normal' });
    const progress: Progress[] = [];
    const r = await l.fit(ds, { kernels: jsKernels, seed: 3, budget: {}, test: ds.test, yieldMs: 0, onProgress: (p) => progress.push(p) });
    // the same run by hand
    const g = new Rng(3);
    const net = Network.create(arch, 'normal', g);
    await runTraining(new SgdTrainer(net, { lr: 0.5, batchSize: 10, weightDecay: 0 }, jsKernels), ds.train, g, initialState(25), { epochs: 2, evaluate: false });
    l.network.weights.forEach((W, i) => expect(Array.from(W.data)).toEqual(Array.from(net.weights[i].data)));
    l.network.biases.forEach((b, i) => expect(Array.from(b)).toEqual(Array.from(net.biases[i])));
    // batches of 10, 10, 5 per epoch: 2 example-forwards each; a point at initialisation and after every step (×1.15 from 0)
    expect(r.trace.map((p) => p.work)).toEqual([0, 20, 40, 50, 70, 90, 100]);
    expect(r.trace.map((p) => p.flops)).toEqual([0, 20, 40, 50, 70, 90, 100].map((w) => 3 * 35 * w));
    expect(r.trace[r.trace.length - 1].testAccuracy).toBe(evaluate(net, ds.test, jsKernels).accuracy);
    expect(r.details).toEqual({ steps: 6, epochs: 2 });
    expect(r.parametersUpdated).toBe(43);
    // networkBytes, the estimate that refuses a network: the 43 parameters and their gradients, and Z, A, δ of the 4 + 5 + 3
    // units over max(m, 1000) examples (evaluation runs in batches of 1000), 4 bytes each
    expect(r.peakBytes).toBe(4 * (2 * 43 + 3 * 1000 * (4 + 5 + 3)));
    expect(r.wallSeconds).toBeGreaterThan(0);
    expect(progress.map((p) => [p.done, p.total, p.unit])).toEqual([1, 2, 3, 4, 5, 6].map((d) => [d, 6, 'updates']));
    expect(Array.from(l.predict(ds.test))).toEqual(Array.from(evaluate(net, ds.test, jsKernels).predictions));
    // predict() runs on the kernels the learner was fitted with
    let gemms = 0;
    const counted = { ...jsKernels, gemm: (...a: Parameters<typeof jsKernels.gemm>) => (gemms++, jsKernels.gemm(...a)) };
    const c = new SgdLearner(arch, { lr: 0.5, batchSize: 10, epochs: 1, init: 'normal' });
    await c.fit(ds, { kernels: counted, seed: 3, budget: {}, test: ds.test, yieldMs: 0 });
    const before = gemms;
    c.predict(ds.test);
    expect(gemms).toBeGreaterThan(before);
  });

  it('a long run: trace points thin out geometrically, and a final point at the end', async () => {
    const l = new SgdLearner(arch, { lr: 0.5, batchSize: 1, epochs: 2, init: 'normal' });
    const r = await l.fit(ds, { kernels: jsKernels, seed: 3, budget: {}, test: ds.test, yieldMs: 0 });
    // steps 1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 15, 18, 21, 25, 29, 34, 40, 46, then 50 (the end)
    expect(r.trace.map((p) => p.work / 2)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 15, 18, 21, 25, 29, 34, 40, 46, 50]);
  });

  it('a signal ends the run without a final point', async () => {
    const l = new SgdLearner(arch, { lr: 0.5, batchSize: 1, epochs: 2, init: 'normal' });
    let asked = 0;
    const r = await l.fit(ds, { kernels: jsKernels, seed: 3, budget: {}, test: ds.test, yieldMs: 0, shouldStop: () => ++asked > 16 });
    expect(r.details.steps).toBeLessThan(18);
    expect(r.details.steps).toBeGreaterThan(15);
    expect(r.trace[r.trace.length - 1].work).toBeLessThan(2 * Number(r.details.steps));
  });

  // runTraining stops at the first non-finite loss, while the weights are often still finite: the learner returned its
  // accuracy as a result (`learners --lr 1e10` exit 0 with 4%, where `train` says "training diverged", exit 1).
  it("a run that runTraining stopped as diverged says so, with train's diagnosis, even when its weights are finite", async () => {
    const relu: Architecture = { ...arch, activation: 'relu' };
    const opts = { lr: 1e20, batchSize: 5, epochs: 10, init: 'normal' } as const;
    const l = new SgdLearner(relu, opts);
    const r = await l.fit(ds, { kernels: jsKernels, seed: 3, budget: {}, test: ds.test, yieldMs: 0 });
    const g = new Rng(3);
    const net = Network.create(relu, 'normal', g);
    const run = await runTraining(new SgdTrainer(net, { lr: opts.lr, batchSize: 5, weightDecay: 0 }, jsKernels), ds.train, g, initialState(25), { epochs: 10, evaluate: false });
    if (run.status !== 'diverged') throw new Error(`expected a diverged run, got ${run.status}`);
    expect(r.diverged).toBe(`at epoch ${run.epoch}, batch ${run.batch}: ${run.diagnosis.message}`);
    expect(r.diverged).toMatch(/; try a smaller learning rate, e.g. --lr 10000000000000000000$/);
    expect(r.details.steps).toBeLessThanOrEqual((run.epoch - 1) * 5 + run.batch); // it stopped there
    // an ordinary run has no such note
    expect((await new SgdLearner(relu, { ...opts, lr: 0.5 }).fit(ds, { kernels: jsKernels, seed: 3, budget: {}, test: ds.test, yieldMs: 0 })).diverged).toBeUndefined();
  });

  it("the diverged note drops train's --dtype float64 advice (the learners have no such flag)", () => {
    expect(divergedAdvice(2, 7, 'layer 1 overflowed float32 (z^1 became Infinity): try a smaller learning rate, e.g. --lr 0.1, or --dtype float64')).toBe(
      'at epoch 2, batch 7: layer 1 overflowed float32 (z^1 became Infinity): try a smaller learning rate, e.g. --lr 0.1',
    );
  });
});
