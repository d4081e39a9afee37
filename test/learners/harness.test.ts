import type { Architecture } from '../../src/nn/network.js';
import { describe, expect, it } from 'vitest';
import { slice, type Dataset } from '../../src/data/dataset.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { jsKernels, Matrix, type Kernels } from '../../src/linalg/index.js';
import { GA_DEFAULTS, GaLearner } from '../../src/learners/ga.js';
import { drain, Harness, rowBlocks, TraceSchedule } from '../../src/learners/harness.js';
import type { Learner } from '../../src/learners/learner.js';
import { NtkLearner } from '../../src/learners/ntk.js';
import { OdeLearner } from '../../src/learners/ode.js';
import { RbmLearner } from '../../src/learners/rbm.js';
import { SgdLearner } from '../../src/learners/sgd.js';
import { Rng } from '../../src/base/rng.js';
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
  });
});
