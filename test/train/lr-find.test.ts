import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { identity, take } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/load.js';
import { jsKernels } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import { rangeRate, rangeTest, rangeTestUntil, steepestDescent, type RangePoint } from '../../src/train/lr-find.js';
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

describe('the LR range test, its rules one by one (a scripted trainer)', () => {
  // A stand-in for SgdTrainer that returns the scripted mean costs and records where each batch starts.
  const scripted = (losses: number[], count = 4, batchSize = 2, dtype = 'float32') => {
    const starts: number[] = [];
    let shuffles = 0;
    const trainer = {
      opts: { batchSize },
      lr: 0,
      net: { dtype },
      step: (_t: unknown, _o: unknown, at: number, m: number) => (starts.push(at), losses[starts.length - 1] * m),
    } as unknown as SgdTrainer;
    const rng = { shuffle: (o: Uint32Array) => (shuffles++, o) } as unknown as Rng;
    const examples = { count } as unknown as typeof train;
    return { trainer, rng, examples, starts, shuffles: () => shuffles };
  };
  const o = { startLr: 1e-3, endLr: 1e3, smoothing: 0, divergence: 2 };

  it('one step: η is --start-lr (not 0/0)', () => expect(rangeRate({ startLr: 0.5, endLr: 2, steps: 1 }, 0)).toBe(0.5));

  // end/start overflowed: 1e300 / 1e-300 = ∞, so every η after the first was ∞ (the test said "the loss was not finite
  // at η Infinity" and suggested 1e-300), and 1e200 / 1e-200 gave ∞ at step 2 (JSON "lr": null) instead of ~1e-156.
  it('η at the extremes of float64: in log space, by hand, never ∞ or 0', () => {
    const rel = (x: number, want: number) => expect(Math.abs(x / want - 1)).toBeLessThan(1e-12);
    // step 2 of 10 from 1e-200 to 1e200: 10^(−200 + 400/9) = 10^−155.56 = 2.78e-156
    rel(rangeRate({ startLr: 1e-200, endLr: 1e200, steps: 10 }, 1), 10 ** (-200 + 400 / 9));
    expect(rangeRate({ startLr: 1e-200, endLr: 1e200, steps: 10 }, 1)).toBeCloseTo(2.7826e-156, 159);
    // step 3 of 100 from 1e-300 to 1e300: 10^(−300 + 600·2/99) = 10^−287.88; the midpoint of 1e-300 … 1e300 in 3 steps is 1
    rel(rangeRate({ startLr: 1e-300, endLr: 1e300, steps: 100 }, 2), 10 ** (-300 + 1200 / 99));
    rel(rangeRate({ startLr: 1e-300, endLr: 1e300, steps: 3 }, 1), 1);
    // the whole range of positive doubles, 5e-324 (subnormal) to 1.8e308: finite, increasing, the ends exact
    const o = { startLr: Number.MIN_VALUE, endLr: Number.MAX_VALUE, steps: 1000 };
    const rates = Array.from({ length: o.steps }, (_, i) => rangeRate(o, i));
    expect(rates[0]).toBe(Number.MIN_VALUE);
    expect(rates[999]).toBe(Number.MAX_VALUE);
    for (let i = 1; i < rates.length; i++) {
      expect(Number.isFinite(rates[i]) && rates[i] > 0).toBe(true);
      expect(rates[i]).toBeGreaterThan(rates[i - 1]);
    }
    // halfway on the log axis between 2^−1074 and (2 − 2^−52)·2^1023: e^((log 2^−1074 + log MAX)/2) ≈ 2^−25.5 = 2.1e-8
    rel(rangeRate({ ...o, steps: 3 }, 1), Math.exp((Math.log(Number.MIN_VALUE) + Math.log(Number.MAX_VALUE)) / 2));
  });

  it('batches follow one shuffle to its end before the next (4 examples, batches of 2: a new pass every 2 steps)', () => {
    const s = scripted([1, 1, 1, 1, 1]);
    rangeTest(s.trainer, s.examples, s.rng, { ...o, steps: 5, divergence: 100 });
    expect(s.starts).toEqual([0, 2, 0, 2, 0]);
    expect(s.shuffles()).toBe(3);
  });

  it('stops at a step whose cost is not finite, or beyond float32 in a float64 network, and says where', () => {
    for (const [bad, dtype] of [
      [NaN, 'float32'],
      [Infinity, 'float32'],
      [1e39, 'float64'],
    ] as const) {
      const s = scripted([1, 1, bad, 1], 4, 2, dtype);
      const r = rangeTest(s.trainer, s.examples, s.rng, { ...o, steps: 4, divergence: 100 });
      expect(r.points.map((p) => p.step)).toEqual([1, 2]);
      expect(r.stopped).toEqual({ step: 3, lr: rangeRate({ ...o, steps: 4 }, 2), why: 'not finite' });
    }
    // 1e39 in a float32 network cannot happen (it would be Infinity); in float64 only past float32's range counts
    const s = scripted([1, 1e38, 1], 4, 2, 'float64');
    expect(rangeTest(s.trainer, s.examples, s.rng, { ...o, steps: 3, divergence: 1e300 }).stopped).toBeUndefined();
  });

  it('rangeTestUntil never stopped is rangeTest: the same points, the same divergence, no interrupted', async () => {
    const a = scripted([2, 1, 2, 5, 1]),
      b = scripted([2, 1, 2, 5, 1]);
    const r = await rangeTestUntil(a.trainer, a.examples, a.rng, { ...o, steps: 5 }, () => false, 0);
    expect(r).toStrictEqual(rangeTest(b.trainer, b.examples, b.rng, { ...o, steps: 5 }));
    expect(r.stopped?.why).toBe('diverged');
    expect(a.starts).toEqual(b.starts);
  });

  it('rangeTestUntil asks shouldStop at each yield and ends with the points run, their suggestion and interrupted', async () => {
    const s = scripted([3, 2, 1, 0.5, 0.4, 0.3]);
    let asked = 0;
    const r = await rangeTestUntil(s.trainer, s.examples, s.rng, { ...o, steps: 6, divergence: 100 }, () => ++asked === 4, 0); // yieldMs 0: a yield after every step
    expect(r.points.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(s.starts).toHaveLength(4);
    expect(r).toStrictEqual({ points: r.points, stopped: undefined, ...steepestDescent(r.points), interrupted: true });
    expect(r.steepest).toBeDefined();
  });

  it('rangeTestUntil yields to the event loop (a signal handler runs there), and only once yieldMs have passed', async () => {
    const s = scripted([3, 2, 1, 0.5]);
    let ran = false;
    setImmediate(() => (ran = true)); // as a signal handler would: it runs only if the test yields
    const r = await rangeTestUntil(s.trainer, s.examples, s.rng, { ...o, steps: 4, divergence: 100 }, () => ran, 0);
    expect(r.points).toHaveLength(1);
    expect(r.interrupted).toBe(true);
    const t = scripted([3, 2, 1, 0.5]);
    const never = await rangeTestUntil(t.trainer, t.examples, t.rng, { ...o, steps: 4, divergence: 100 }, () => true, 1e9); // no yield: never asked
    expect(never.points).toHaveLength(4);
    expect(never.interrupted).toBeUndefined();
  });

  it('diverged: the first smoothed cost strictly above divergence × the lowest so far (β = 0: s = C)', () => {
    const s = scripted([2, 1, 2, 5, 1]);
    const r = rangeTest(s.trainer, s.examples, s.rng, { ...o, steps: 5 });
    // step 3: 2 = 2 × 1 is not above; step 4: 5 > 2 × 1
    expect(r.points.map((p) => [p.step, p.smoothed])).toEqual([
      [1, 2],
      [2, 1],
      [3, 2],
      [4, 5],
    ]);
    expect(r.stopped).toEqual({ step: 4, lr: rangeRate({ ...o, steps: 5 }, 3), why: 'diverged' });
  });
});

describe('steepestDescent, by hand', () => {
  const pts = (s: number[], lr = (i: number) => 10 ** i): RangePoint[] => s.map((v, i) => ({ step: i + 1, lr: lr(i), loss: v, smoothed: v }));

  it('no points: nothing at all', () => expect(steepestDescent([])).toStrictEqual({}));

  it('the lowest is the first of equal lowest values; two points give a one-sided slope, the first of equal slopes wins', () => {
    const p = pts([2, 1, 1]);
    // upto = [2, 1]: slopes (1 − 2)/ln 10 at both i = 0 and i = 1; the first is kept
    expect(steepestDescent(p)).toStrictEqual({ steepest: p[0], lowest: p[1] });
  });

  it('the slope is taken before the lowest point only: one-sided there, not across it', () => {
    // s = 5, 4, 3, 1, 1.0001 per decade: up to the lowest (i = 3), slopes −1, −1, −1.5 (central), −2 (one-sided at i = 3) → step 4.
    // Across the lowest, i = 3 would be (1.0001 − 3)/2 ≈ −1 and i = 2 −1.5 would win.
    const p = pts([5, 4, 3, 1, 1.0001]);
    expect(steepestDescent(p)).toStrictEqual({ steepest: p[3], lowest: p[3] });
  });

  it('ds/d(ln η) by central differences on an uneven axis', () => {
    // ln η = 0, 1, 3, 4 (η = e^x); s = 3, 2, 1.5, 1.4. Slopes: i = 0: −1; i = 1: (1.5 − 3)/3 = −0.5; i = 2: (1.4 − 2)/3 = −0.2; i = 3: −0.1.
    const x = [0, 1, 3, 4];
    const p = pts([3, 2, 1.5, 1.4], (i) => Math.exp(x[i]));
    expect(steepestDescent(p).steepest).toBe(p[0]);
    // s = 3, 2.9, 1, 0.9: i = 0: −0.1; i = 1: (1 − 3)/3 ≈ −0.67; i = 2: (0.9 − 2.9)/3 ≈ −0.67 (later, not kept); i = 3: −0.1 → step 2
    const q = pts([3, 2.9, 1, 0.9], (i) => Math.exp(x[i]));
    expect(steepestDescent(q).steepest).toBe(q[1]);
  });

  it('after skipping the first tenth, fewer than two points before the lowest: only the lowest', () => {
    // 20 points: skip 2. Lowest at i = 1: upto has 2 points, 2 − 2 < 2.
    const s = Array.from({ length: 20 }, (_, i) => (i === 1 ? 0.5 : 1 + i));
    expect(steepestDescent(pts(s))).toStrictEqual({ lowest: pts(s)[1] });
    // Lowest at i = 3: upto has 4 points, 4 − 2 = 2 left (i = 2, 3): i = 2 (3 − 2.5)/… > 0, i = 3 one-sided (0.5 − 3) → step 4
    const t = Array.from({ length: 20 }, (_, i) => [3, 2.5, 3, 0.5][i] ?? 9);
    expect(steepestDescent(pts(t)).steepest?.step).toBe(4);
  });
});
