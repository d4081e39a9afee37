import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { ODE_DEFAULTS, OdeLearner, OdeNet, solverOptions, type OdeGradient, type OdeOptions } from '../../src/learners/ode.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { slice, type Examples } from '../../src/data/dataset.js';
import { gradientMemory, memoryTable } from '../../src/learners/ode-memory.js';
import type { SolverOptions } from '../../src/learners/ode-solvers.js';
import { Rng } from '../../src/base/rng.js';

/** A small float64 neural ODE with every parameter N(0, 0.7²), so that f moves h substantially over t ∈ [0, 1]. */
function smallNet(seed = 1): { net: OdeNet; x: Matrix; labels: number[] } {
  const net = new OdeNet(5, 3, 4, 3, 'float64', jsKernels);
  const rng = new Rng(seed);
  for (let i = 0; i < net.theta.length; i++) net.theta[i] = 0.7 * rng.normal();
  const x = Matrix.zeros(4, 5, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform();
  return { net, x, labels: [0, 2, 1, 2] };
}

function gradient(net: OdeNet, x: Matrix, labels: number[], opts: SolverOptions, method: OdeGradient): Float64Array {
  const g = new Float64Array(net.theta.length);
  net.lossAndGradient(x, labels, opts, 1, method, g);
  return g;
}

/** Central differences of the cost, parameter by parameter. */
function finiteDifferences(net: OdeNet, x: Matrix, labels: number[], opts: SolverOptions, eps = 1e-5): Float64Array {
  const g = new Float64Array(net.theta.length);
  for (let i = 0; i < g.length; i++) {
    const keep = net.theta[i];
    net.theta[i] = keep + eps;
    const up = net.loss(x, labels, opts, 1);
    net.theta[i] = keep - eps;
    const down = net.loss(x, labels, opts, 1);
    net.theta[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/** ‖a − b‖ / max(‖a‖, ‖b‖). */
function relativeError(a: Float64Array, b: Float64Array): number {
  let d = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(na, nb));
}

describe('neural ODE gradients', () => {
  it('backprop through the RK4 steps is the exact gradient of the discrete solve (finite differences)', () => {
    const { net, x, labels } = smallNet();
    const rk4: SolverOptions = { method: 'rk4', steps: 6 };
    const unrolled = gradient(net, x, labels, rk4, 'unrolled');
    expect(relativeError(unrolled, finiteDifferences(net, x, labels, rk4))).toBeLessThan(1e-7);
  });

  it('adjoint = unrolled = finite differences (relative error ≤ 1e-4) with Dormand–Prince at tight tolerances', () => {
    const { net, x, labels } = smallNet(2);
    const tight: SolverOptions = { method: 'dopri5', rtol: 1e-10, atol: 1e-12 };
    const adjoint = gradient(net, x, labels, tight, 'adjoint');
    const unrolled = gradient(net, x, labels, tight, 'unrolled');
    const fd = finiteDifferences(net, x, labels, tight);
    expect(relativeError(adjoint, unrolled)).toBeLessThan(1e-4);
    expect(relativeError(adjoint, fd)).toBeLessThan(1e-4);
    expect(relativeError(unrolled, fd)).toBeLessThan(1e-4);
  });

  it('the adjoint with fixed RK4 steps approaches the exact gradient as O(h⁴)', () => {
    const { net, x, labels } = smallNet(3);
    const exact = gradient(net, x, labels, { method: 'dopri5', rtol: 1e-11, atol: 1e-13 }, 'unrolled');
    const errors = [4, 8, 16].map((steps) => relativeError(gradient(net, x, labels, { method: 'rk4', steps }, 'adjoint'), exact));
    expect(errors[2]).toBeLessThan(1e-4);
    // halving h divides the error by about 2⁴ = 16
    expect(errors[0] / errors[1]).toBeGreaterThan(8);
    expect(errors[1] / errors[2]).toBeGreaterThan(8);
  });
});

describe('neural ODE gradient memory', () => {
  it('the adjoint peak stays flat as the number of RK4 steps grows; backprop through the steps grows with it', async () => {
    const rows = await gradientMemory(jsKernels, [8, 32, 128]);
    console.log(memoryTable(rows));
    const adjoint = rows.map((r) => r.adjointPeak),
      unrolled = rows.map((r) => r.unrolledPeak);
    expect(Math.max(...adjoint) / Math.min(...adjoint)).toBeLessThan(1.1);
    // 16× the steps: the stored stages grow 16×, and the measured peak follows them
    expect(rows[2].unrolledTape).toBe(16 * rows[0].unrolledTape);
    expect(unrolled[2] / unrolled[0]).toBeGreaterThan(8);
    expect(unrolled[2]).toBeGreaterThan(rows[2].unrolledTape);
    expect(rows.every((r) => r.adjointEvaluations === r.unrolledEvaluations)).toBe(true); // RK4: 4 evaluations a step each way
  });
});

describe('memoryTable', () => {
  it('one row per step count: KB rounded, evaluations, MFLOP to one decimal, columns aligned (the first to the left)', () => {
    const row = { steps: 8, adjointPeak: 2048, unrolledPeak: 1_536_000, unrolledTape: 511, adjointEvaluations: 64, unrolledEvaluations: 64, adjointFlops: 1_250_000, unrolledFlops: 12_345_678 };
    expect(memoryTable([row, { ...row, steps: 128, adjointPeak: 1023, unrolledEvaluations: 1024, unrolledFlops: 50_000 }]).split('\n')).toEqual([
      'RK4 steps  adjoint peak  unrolled peak  unrolled tape  evals adjoint  evals unrolled  work adjoint  work unrolled',
      '8                  2 KB        1500 KB           0 KB             64              64     1.3 MFLOP     12.3 MFLOP',
      '128                1 KB        1500 KB           0 KB             64            1024     1.3 MFLOP      0.1 MFLOP',
    ]);
  });
});

describe('neural ODE learner', () => {
  const ds = loadEmbedded(); // once: reading the embedded digits takes a second on a busy machine
  /**
   * The training loop written out: the same initialisation, each epoch's shuffle, inverted input dropout
   * (Srivastava et al. 2014: each pixel 0 with probability p, the rest × 1/(1 − p)), the gradient of OdeNet (checked
   * above against finite differences), then AdamW by hand (Kingma & Ba 2015 with its bias corrections; the decay
   * decoupled, Loshchilov & Hutter 2019) at the cosine rate η_t = η·½(1 + cos(π(t − 1)/T)) over the T updates.
   */
  function referenceFit(train: Examples, o: OdeOptions, seed: number): Float32Array {
    const rng = new Rng(seed);
    const net = new OdeNet(train.dim, o.width, o.hidden, 10, 'float32', jsKernels).init(rng);
    const P = net.theta.length,
      m = o.batchSize,
      batches = Math.floor(train.count / m),
      T = o.epochs * batches;
    const m1 = new Float64Array(P),
      m2 = new Float64Array(P);
    const order = new Uint32Array(train.count).map((_, i) => i);
    let t = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      rng.shuffle(order);
      for (let b = 0; b < batches; b++) {
        const x = Matrix.zeros(m, train.dim);
        const labels = Array.from({ length: m }, (_, j) => train.labels[order[b * m + j]]);
        for (let j = 0; j < m; j++) x.data.set(train.features.subarray(order[b * m + j] * train.dim, (order[b * m + j] + 1) * train.dim), j * train.dim);
        for (let i = 0; i < x.data.length; i++) x.data[i] = rng.nextUint32() * 2 ** -32 < o.inputDropout ? 0 : x.data[i] / (1 - o.inputDropout);
        const g = new Float32Array(P);
        net.lossAndGradient(x, labels, solverOptions(o), o.time, o.gradient, g);
        t++;
        const eta = o.lr * 0.5 * (1 + Math.cos((Math.PI * (t - 1)) / T));
        for (let j = 0; j < P; j++) {
          m1[j] = 0.9 * m1[j] + 0.1 * g[j];
          m2[j] = 0.999 * m2[j] + 0.001 * g[j] * g[j];
          net.theta[j] -= eta * (m1[j] / (1 - 0.9 ** t) / (Math.sqrt(m2[j] / (1 - 0.999 ** t)) + 1e-8) + o.weightDecay * net.theta[j]);
        }
      }
    }
    return Float32Array.from(net.theta);
  }

  for (const o of [
    { ...ODE_DEFAULTS, width: 4, hidden: 6, steps: 2, time: 1, lr: 0.01, batchSize: 4, epochs: 2, inputDropout: 0.3, weightDecay: 0.5 },
    { ...ODE_DEFAULTS, width: 3, hidden: 5, steps: 3, time: 1, lr: 0.02, batchSize: 5, epochs: 1, inputDropout: 0, weightDecay: 0, gradient: 'unrolled' },
  ] satisfies OdeOptions[])
    it(`trains as its loop written out: dropout ${o.inputDropout}, λ ${o.weightDecay}, ${o.gradient} gradients, ${o.epochs} epochs`, async () => {
      const train = slice(ds.train, 0, 13),
        test = slice(ds.test, 0, 10);
      const l = new OdeLearner(o);
      const r = await l.fit({ ...ds, train, test }, { kernels: jsKernels, seed: 4, budget: {}, test });
      const want = referenceFit(train, o, 4);
      const got = l.net!.theta;
      const worst = want.reduce((w, x, j) => (Math.abs(got[j] - x) > Math.abs(got[w] - want[w]) ? j : w), 0);
      expect(got[worst], `θ[${worst}], the farthest`).toBeCloseTo(want[worst], 6);
      const updates = o.epochs * Math.floor(13 / o.batchSize);
      expect(r.details.updates).toBe(updates);
      expect(r.trace[r.trace.length - 1].work).toBe(2 * o.batchSize * updates);
      expect(r.parametersUpdated).toBe(want.length);
    });
});
