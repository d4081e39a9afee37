import type { Architecture } from '../../src/nn/network.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { slice, type Dataset } from '../../src/data/dataset.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { jsKernels, Matrix, type Kernels } from '../../src/linalg/index.js';
import { GA_DEFAULTS, GaLearner } from '../../src/learners/ga.js';
import { drain, Harness, networkAccuracy, rowBlocks, Stop, totalBytes, TraceSchedule, YIELD_MS } from '../../src/learners/harness.js';
import { Network } from '../../src/nn/network.js';
import { evaluate } from '../../src/train/metrics.js';
import { Rng } from '../../src/base/rng.js';
import type { FitContext, Progress, TracePoint } from '../../src/learners/learner.js';
import type { Learner } from '../../src/learners/learner.js';
import { NtkLearner } from '../../src/learners/ntk.js';
import { OdeLearner } from '../../src/learners/ode.js';
import { RbmLearner } from '../../src/learners/rbm.js';
import { SgdLearner } from '../../src/learners/sgd.js';
import { randomMatrix } from '../helpers.js';

// Every learner runs in the harness of src/learners/harness.ts, which checks
// for a stop between pieces of work no larger than a gemm or a solver step
// (and yields to the event loop every 50 ms, so a signal handler gets to run).
// Measured without a clock: a "signal" (ctx.shouldStop turning true) arrives
// after the N-th gemm, and the learner must return after only a few more.
// Before the harness, the RBM finished its update and its evaluation, the ODE
// its whole gradient (hundreds of gemms), the NTK its whole kernel.

const full = loadEmbedded();
const ds: Dataset = { ...full, train: slice(full.train, 0, 1200), test: slice(full.test, 0, 600) };
const arch: Architecture = { sizes: [784, 30, 10], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' };

/** jsKernels counting its gemms; `signal` turns true after the N-th. */
function counting(N: number): { kernels: Kernels; gemms: () => number; signal: () => boolean } {
  let n = 0;
  const kernels: Kernels = {
    ...jsKernels,
    gemm: (...args: Parameters<Kernels['gemm']>) => {
      n++;
      jsKernels.gemm(...args);
    },
  };
  return { kernels, gemms: () => n, signal: () => n >= N };
}

const cases: [string, () => Learner, number, number][] = [
  // name, learner, gemm after which the signal comes (inside training or an evaluation), gemms allowed after it
  ['sgd', () => new SgdLearner(arch, { lr: 0.5, batchSize: 10, epochs: 50, init: 'normal' }), 200, 12],
  ['ga', () => new GaLearner(arch, { ...GA_DEFAULTS, population: 20, generations: 1000, init: 'normal' }), 300, 2],
  ['ntk: in the kernel', () => new NtkLearner({ hidden: 2, ridge: 1e-4, maxExamples: 1200 }, 10), 1, 0],
  ['rbm: inside an update', () => new RbmLearner({ hidden: 300, batchSize: 600, epochs: 50 }), 4, 2],
  ['rbm: inside an evaluation', () => new RbmLearner({ hidden: 300, batchSize: 600, epochs: 50 }), 1, 0],
  ['ode: inside a solve', () => new OdeLearner({ width: 8, hidden: 16, batchSize: 100, epochs: 50, steps: 20 }), 400, 30],
];

// The unit tests first: under Stryker a mutant they kill is not run through every learner's fit.
describe('Harness', () => {
  it('a trace schedule at ×1.3 from step 1: 1, 2, 3, 4, 6, 8, 11, 15, …', () => {
    const s = new TraceSchedule(1.3);
    const due = Array.from({ length: 20 }, (_, i) => i + 1).filter((i) => s.due(i));
    expect(due).toEqual([1, 2, 3, 4, 6, 8, 11, 15, 20]);
  });

  it('drain runs a generator to its value; run() stops it with Stop when asked, point() then records nothing', async () => {
    function* work(): Generator<unknown, number> {
      for (let i = 0; i < 5; i++) yield i;
      return 42;
    }
    expect(drain(work())).toBe(42);
    let stop = false;
    const h = new Harness({ kernels: jsKernels, seed: 1, budget: {}, test: ds.test, shouldStop: () => stop, yieldMs: 0 });
    expect(await h.run(work())).toBe(42);
    await h.point(work());
    expect(h.trace.map((p) => p.testAccuracy)).toEqual([42]);
    stop = true;
    await expect(h.run(work())).rejects.toThrow('stopped');
    await h.point(work());
    expect(h.trace).toHaveLength(1);
    expect(h.stopped).toBe('signal');
  });

  describe('on a fake clock', () => {
    afterEach(() => vi.useRealTimers());
    const ctx = (over: Partial<FitContext> = {}): FitContext => ({ kernels: jsKernels, seed: 1, budget: {}, test: ds.test, yieldMs: 0, ...over });
    function* pieces(n: number, ms: number, value = 0.5): Generator<unknown, number> {
      for (let i = 0; i < n; i++) {
        vi.advanceTimersByTime(ms);
        yield i;
      }
      return value;
    }

    it('seconds leave out the evaluations, wall seconds do not; each point records seconds, work, flops and accuracy', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const points: TracePoint[] = [];
      const h = new Harness(ctx({ onPoint: (p) => points.push(p) }));
      vi.advanceTimersByTime(1000);
      expect([h.seconds(), h.wallSeconds(), h.evalSeconds()]).toEqual([1, 1, 0]);
      h.work = 3;
      h.flops = 4;
      h.pointNow(() => (vi.advanceTimersByTime(500), 0.25));
      expect([h.seconds(), h.wallSeconds(), h.evalSeconds()]).toEqual([1, 1.5, 0.5]);
      vi.advanceTimersByTime(250);
      h.work = 5;
      await h.point(pieces(2, 100, 0.75));
      expect([h.seconds(), h.wallSeconds(), h.evalSeconds()]).toEqual([1.25, 1.95, 0.7]);
      expect(h.trace).toEqual([
        { seconds: 1, work: 3, flops: 4, testAccuracy: 0.25 },
        { seconds: 1.25, work: 5, flops: 4, testAccuracy: 0.75 },
      ]);
      expect(points).toEqual(h.trace);
    });

    it('the budget stops the learner once its seconds are spent, but not inside an evaluation; a signal overrides it', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const h = new Harness(ctx({ budget: { seconds: 2 } }));
      vi.advanceTimersByTime(1999);
      expect(h.shouldStop()).toBe(false);
      // an evaluation that runs past the budget (but is shorter than the budget itself) still records its point
      await h.point(pieces(3, 600, 0.5));
      expect(h.trace.map((p) => p.testAccuracy)).toEqual([0.5]);
      expect(h.stopped).toBeUndefined();
      vi.advanceTimersByTime(1);
      expect(h.shouldStop()).toBe(true);
      expect(h.stopped).toBe('budget');
      // the learner's final evaluation, after the budget has stopped it, still records its point (it threw Stop)
      await h.point(pieces(2, 900, 0.25));
      expect(h.trace.map((p) => p.testAccuracy)).toEqual([0.5, 0.25]);
      expect(h.shouldStop()).toBe(true);
      let signal = false;
      const g = new Harness(ctx({ budget: { seconds: 1 }, shouldStop: () => signal }));
      vi.advanceTimersByTime(1000);
      expect(g.shouldStop()).toBe(true);
      expect(g.stopped).toBe('budget');
      signal = true;
      expect(g.shouldStop()).toBe(true);
      expect(g.stopped).toBe('signal');
      signal = false;
      expect(g.shouldStop()).toBe(true);
      expect(g.stopped).toBe('signal'); // ??= : the budget does not overwrite a signal
      // no budget: never stops by itself
      const free = new Harness(ctx());
      vi.advanceTimersByTime(1e9);
      expect(free.shouldStop()).toBe(false);
    });

    // An evaluation is not the budget's time, but it was not bounded by anything else: the ODE's first test point
    // through 10⁸ RK4 steps ran on at --seconds 2 until a signal.
    it('an evaluation that outlasts the budget itself (at least 1 s) is abandoned: no point, the learner stops', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const h = new Harness(ctx({ budget: { seconds: 3 } }));
      let spent = 0;
      function* long(): Generator<unknown, number> {
        for (;;) {
          vi.advanceTimersByTime(1000);
          spent++;
          yield;
        }
      }
      await h.point(long());
      expect(spent).toBe(3); // abandoned after its third second: 3 s ≥ the budget of 3 s
      expect(h.trace).toEqual([]);
      expect(h.stopped).toBe('evaluation');
      expect(h.shouldStop()).toBe(true); // the learner stops at its next check
      await h.finalPoint(() => long()); // and measures no final point
      expect(spent).toBe(3);
      // a budget under 1 s: an evaluation still gets 1 s (an ordinary test evaluation is not cut at --seconds 0.1)
      const g = new Harness(ctx({ budget: { seconds: 0.1 } }));
      await g.point(pieces(9, 100, 0.5));
      expect(g.trace.map((p) => p.testAccuracy)).toEqual([0.5]);
      let n = 0;
      function* slow(): Generator<unknown, number> {
        for (;;) {
          vi.advanceTimersByTime(250);
          n++;
          yield;
        }
      }
      await g.point(slow());
      expect(n).toBe(4);
      expect(g.stopped).toBe('evaluation');
      // outside an evaluation, the time since the last one began is not the evaluation's: 2.8 s of work at 3.9 s of wall
      // time (1.1 s of it evaluating, from 0.5 s) is within a budget of 3 s
      const later = new Harness(ctx({ budget: { seconds: 3 } }));
      vi.advanceTimersByTime(500);
      await later.point(pieces(1, 1100, 0.5));
      vi.advanceTimersByTime(2300);
      expect(later.shouldStop()).toBe(false);
      expect(later.stopped).toBeUndefined();
      // no budget: only a signal stops an evaluation
      const free = new Harness(ctx());
      await free.point(pieces(100, 1e6, 0.5));
      expect(free.trace).toHaveLength(1);
    });

    it('run() stops between pieces and closes the generator; an error in an evaluation is thrown on', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const h = new Harness(ctx({ budget: { seconds: 1 } }));
      let closed = false,
        done = 0;
      function* work(): Generator<unknown, number> {
        try {
          for (let i = 0; i < 10; i++) {
            vi.advanceTimersByTime(400);
            done++;
            yield i;
          }
          return 1;
        } finally {
          closed = true;
        }
      }
      await expect(h.run(work())).rejects.toBeInstanceOf(Stop);
      expect(done).toBe(3); // 1.2 s after the third piece
      expect(closed).toBe(true);
      function* failing(): Generator<unknown, number> {
        yield 0;
        throw new Error('broken');
      }
      await expect(new Harness(ctx()).point(failing())).rejects.toThrow('broken');
    });

    it('the clocks count from the harness’s creation, not from the clock’s zero', () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      vi.advanceTimersByTime(5000);
      const h = new Harness(ctx());
      vi.advanceTimersByTime(1000);
      expect([h.seconds(), h.wallSeconds()]).toEqual([1, 1]);
    });

    it('tick() yields to the event loop once YIELD_MS (or ctx.yieldMs) have passed since the last yield, and not before', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      vi.advanceTimersByTime(5000);
      const yields = vi.spyOn(globalThis, 'setImmediate');
      try {
        const h = new Harness({ kernels: jsKernels, seed: 1, budget: {}, test: ds.test }); // the default cadence
        vi.advanceTimersByTime(49);
        expect(await h.tick()).toBe(false);
        expect(yields).toHaveBeenCalledTimes(0);
        vi.advanceTimersByTime(1);
        await h.tick();
        expect(yields).toHaveBeenCalledTimes(1);
        await h.tick(); // it has just yielded
        expect(yields).toHaveBeenCalledTimes(1);
        vi.advanceTimersByTime(50);
        await h.tick();
        expect(yields).toHaveBeenCalledTimes(2);
        const g = new Harness(ctx({ yieldMs: 10 }));
        vi.advanceTimersByTime(9);
        await g.tick();
        expect(yields).toHaveBeenCalledTimes(2);
        vi.advanceTimersByTime(1);
        await g.tick();
        expect(yields).toHaveBeenCalledTimes(3);
      } finally {
        yields.mockRestore();
      }
    });

    it('run() of a learner already told to stop throws Stop before the first piece of work', async () => {
      let started = 0;
      function* work(): Generator<unknown, number> {
        started++;
        yield;
        return 1;
      }
      await expect(new Harness(ctx({ shouldStop: () => true })).run(work())).rejects.toBeInstanceOf(Stop);
      expect(started).toBe(0);
    });

    it('progress reports done, total, unit, both clocks and the last accuracy', () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const seen: Progress[] = [];
      const h = new Harness(ctx({ onProgress: (p) => seen.push(p) }));
      vi.advanceTimersByTime(2000);
      h.progress(1, 4, 'generations');
      h.pointNow(() => (vi.advanceTimersByTime(1000), 0.5));
      h.progress(2, 4, 'generations');
      expect(seen).toEqual([
        { done: 1, total: 4, unit: 'generations', seconds: 2, wallSeconds: 2, testAccuracy: undefined },
        { done: 2, total: 4, unit: 'generations', seconds: 2, wallSeconds: 3, testAccuracy: 0.5 },
      ]);
      new Harness(ctx()).progress(1, 1, 'x'); // no onProgress: nothing to call
    });
  });

  it('finalPoint measures a point only where the trace has none at the current work, and not after a signal', async () => {
    let asked = 0;
    const acc = function* (): Generator<unknown, number> {
      asked++;
      yield;
      return 0.5;
    };
    const h = new Harness({ kernels: jsKernels, seed: 1, budget: {}, test: ds.test, yieldMs: 0 });
    await h.finalPoint(acc);
    expect(h.trace.map((p) => p.work)).toEqual([0]);
    await h.finalPoint(acc); // a point at work 0 already
    expect(asked).toBe(1);
    h.work = 7;
    await h.finalPoint(acc);
    expect(h.trace.map((p) => p.work)).toEqual([0, 7]);
    let signal = false;
    const s = new Harness({ kernels: jsKernels, seed: 1, budget: {}, test: ds.test, yieldMs: 0, shouldStop: () => signal });
    s.work = 1;
    signal = true;
    s.shouldStop();
    signal = false;
    await s.finalPoint(acc);
    expect(s.trace).toEqual([]);
    expect(asked).toBe(2);
  });

  it('trace schedules from another first step and factor; totalBytes; the yield cadence default', () => {
    const s = new TraceSchedule(2, 3);
    expect(Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => s.due(i))).toEqual([3, 6, 12, 24]);
    const t = new TraceSchedule(1.5);
    expect([t.due(5), t.due(6), t.due(7), t.due(8)]).toEqual([true, false, false, true]);
    const u = new TraceSchedule(1); // a step asked twice is due once
    expect([u.due(1), u.due(1), u.due(2), u.due(2)]).toEqual([true, false, true, false]);
    expect(totalBytes({ a: 1, b: 2.5, c: 1e9 })).toBe(1e9 + 3.5);
    expect(totalBytes({})).toBe(0);
    expect(YIELD_MS).toBe(50);
  });

  it("networkAccuracy is evaluate()'s accuracy over chunks, one yield a chunk; 0 on no examples", () => {
    const net = Network.create({ sizes: [784, 10, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', new Rng(4));
    const ex = slice(ds.test, 0, 250);
    const want = evaluate(net, ex, jsKernels).correct / 250;
    const g = networkAccuracy(net, ex, jsKernels, 100);
    let yields = 0;
    let r = g.next();
    for (; !r.done; r = g.next()) yields++;
    expect(yields).toBe(3);
    expect(r.value).toBe(want);
    expect(drain(networkAccuracy(net, ex, jsKernels))).toBe(want);
    expect(drain(networkAccuracy(net, slice(ds.test, 0, 0), jsKernels))).toBe(0);
    const even = networkAccuracy(net, slice(ds.test, 0, 200), jsKernels, 100); // a whole number of chunks: no empty one
    let n = 0;
    while (!even.next().done) n++;
    expect(n).toBe(2);
  });
});

describe('every learner stops within a gemm or a solver step of a signal', () => {
  for (const [name, make, N, allowed] of cases)
    it(`${name}: signal after gemm ${N}, at most ${allowed} more`, async () => {
      const c = counting(N);
      const r = await make().fit(ds, { kernels: c.kernels, seed: 1, budget: {}, test: ds.test, shouldStop: c.signal, yieldMs: 0 });
      expect(c.gemms() - N).toBeLessThanOrEqual(allowed);
      expect(c.gemms()).toBeGreaterThanOrEqual(N);
      for (const p of r.trace) expect(p.testAccuracy).toBeGreaterThanOrEqual(0);
    }, 60_000);
});

describe('rowBlocks: a long product in pieces, yielding between them', () => {
  it('gives gemm’s bits in blocks of 4·k rows of at most maxWork multiply-adds, yielding after each', () => {
    const rng = new Rng(3);
    const A = randomMatrix(rng, 37, 11, 'float32'),
      X = randomMatrix(rng, 9, 11, 'float32'),
      C0 = randomMatrix(rng, 37, 9, 'float32');
    const whole = new Matrix(37, 9, Float32Array.from(C0.data)),
      pieces = new Matrix(37, 9, Float32Array.from(C0.data));
    jsKernels.gemm(false, true, 0.5, A, X, 1, whole);
    const gen = rowBlocks(jsKernels, true, 0.5, A, X, 1, pieces, 8 * 11 * 9); // 8 rows a piece: 5 pieces for 37 rows
    let yields = 0;
    while (!gen.next().done) yields++;
    expect(yields).toBe(5);
    expect(Array.from(pieces.data)).toEqual(Array.from(whole.data));
    const once = rowBlocks(jsKernels, true, 0.5, A, X, 1, new Matrix(37, 9, new Float32Array(37 * 9)));
    let n = 0;
    while (!once.next().done) n++;
    expect(n).toBe(1); // small enough for one gemm
    const exact = rowBlocks(jsKernels, true, 0.5, randomMatrix(rng, 40, 11, 'float32'), X, 0, new Matrix(40, 9, new Float32Array(40 * 9)), 8 * 11 * 9);
    let k = 0;
    while (!exact.next().done) k++;
    expect(k).toBe(5); // 40 rows in pieces of 8: no empty sixth
  });
});
