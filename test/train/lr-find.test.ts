import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { identity, take } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/load.js';
import { jsKernels } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import { rangeRate, rangeTest, steepestDescent, type RangePoint } from '../../src/train/lr-find.js';
import { evaluate } from '../../src/train/metrics.js';
import { SgdTrainer } from '../../src/train/sgd.js';

const train = loadData({ data: 'embedded', limit: 400, seed: 1 }).train;
const arch = { sizes: [784, 16, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
const setup = (seed = 1) => {
  const rng = new Rng(seed);
  const net = Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', rng);
  return { net, rng, trainer: new SgdTrainer(net, { lr: 0.1, batchSize: 32, weightDecay: 0 }, jsKernels) };
};

describe('the LR range test (Smith 2017)', () => {
  it('η grows by the same factor each mini-batch, from --start-lr to --end-lr', () => {
    const o = { startLr: 1e-5, endLr: 1e-1, steps: 5 };
    expect([0, 1, 2, 3, 4].map((i) => rangeRate(o, i))).toEqual([1e-5, 1e-4, 1e-3, 1e-2, 1e-1].map((x, i) => expect.closeTo(x, 15 - i)));
    const { trainer, rng } = setup();
    const r = rangeTest(trainer, train, rng, { startLr: 1e-4, endLr: 1e-2, steps: 30, smoothing: 0.9, divergence: 4 });
    expect(r.points).toHaveLength(30);
    expect(r.stopped).toBeUndefined();
    expect(r.points[0].lr).toBe(1e-4);
    expect(r.points[29].lr).toBeCloseTo(1e-2, 15);
    for (let i = 1; i < 30; i++) expect(r.points[i].lr / r.points[i - 1].lr).toBeCloseTo(100 ** (1 / 29), 12);
  });

  it('the first point is the cost of the first batch of the seeded shuffle, before any step; the smoothing is the bias-corrected average', () => {
    const { net, trainer, rng } = setup(3);
    const before = net.clone();
    const beta = 0.8;
    const r = rangeTest(trainer, train, rng, { startLr: 1e-3, endLr: 1, steps: 20, smoothing: beta, divergence: 4 });
    const fresh = new Rng(3); // the RNG as the test finds it: after Network.create's draws
    Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', fresh);
    const first = fresh.shuffle(identity(train.count)).subarray(0, 32);
    expect(r.points[0].loss).toBeCloseTo(evaluate(before, take(train, first), jsKernels).loss, 5);
    // s_i = Σ_j (1 − β) β^(i−j) C_j / (1 − β^(i+1)), written out as a sum (not the recursion the code uses)
    r.points.forEach((p, i) => {
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += (1 - beta) * beta ** (i - j) * r.points[j].loss;
      expect(p.smoothed).toBeCloseTo(sum / (1 - beta ** (i + 1)), 12);
    });
  });

  it('stops at the first mini-batch whose smoothed cost passes k times its lowest, and is the same for the same seed', () => {
    const run = () => {
      const { trainer, rng } = setup(5);
      return rangeTest(trainer, train, rng, { startLr: 1e-3, endLr: 1e4, steps: 200, smoothing: 0.5, divergence: 4 });
    };
    const r = run();
    expect(r.stopped).toBeDefined();
    const n = r.points.length;
    expect(n).toBeLessThan(200);
    let low = Infinity;
    r.points.forEach((p, i) => {
      if (i === n - 1 && r.stopped!.why === 'diverged') expect(p.smoothed).toBeGreaterThan(4 * low);
      else expect(p.smoothed).toBeLessThanOrEqual(4 * Math.min(low, p.smoothed));
      low = Math.min(low, p.smoothed);
    });
    expect(run()).toEqual(r);
  });

  it('suggests the steepest descent of the smoothed cost against log η, before its lowest point and after the first tenth', () => {
    // η = 10^(i−10); s dips at i = 1 (in the first tenth: the average settling), falls fastest at i = 13, is lowest at 15, then climbs.
    const s = [3, 2.0, 3, 3, 3, 3, 3, 3, 3, 3, 2.9, 2.8, 2.6, 2.0, 1.6, 1.5, 1.9, 3];
    const points: RangePoint[] = s.map((v, i) => ({ step: i + 1, lr: 10 ** (i - 10), loss: v, smoothed: v }));
    const { steepest, lowest } = steepestDescent(points);
    expect(lowest?.step).toBe(16);
    // ds per decade: i = 0 (one-sided) −1.0, i = 12 −0.4, i = 13 −0.5, i = 14 −0.25; i = 0 is skipped, so i = 13 (step 14)
    expect(steepest?.step).toBe(14);
    expect(steepestDescent(points.slice(0, 1))).toEqual({ lowest: points[0] });
    expect(steepestDescent([]).steepest).toBeUndefined();
  });
});
