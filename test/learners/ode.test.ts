import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix, type Kernels } from '../../src/linalg/index.js';
import { ODE_DEFAULTS, odeMemory, OdeLearner, OdeNet, solverOptions, type OdeGradient, type OdeOptions } from '../../src/learners/ode.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { examples, slice, type Examples } from '../../src/data/dataset.js';
import { totalBytes } from '../../src/learners/harness.js';
import type { Progress } from '../../src/learners/learner.js';
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

describe('OdeNet', () => {
  it('init draws A, W1, W2, B in that order from N(0, 1/n), N(0, 1/D), N(0, 0.1²/K), N(0, 1/D); biases and w stay 0', () => {
    const [n, D, K, C] = [5, 3, 4, 2];
    const net = new OdeNet(n, D, K, C, 'float64', jsKernels).init(new Rng(7));
    const rng = new Rng(7);
    const draw = (count: number, sd: number) => Array.from({ length: count }, () => sd * rng.normal());
    const zeros = (count: number) => new Array<number>(count).fill(0);
    const A = draw(D * n, 1 / Math.sqrt(n)),
      W1 = draw(K * D, 1 / Math.sqrt(D)),
      W2 = draw(D * K, 0.1 / Math.sqrt(K)),
      B = draw(C * D, 1 / Math.sqrt(D));
    expect(Array.from(net.theta)).toEqual([...A, ...zeros(D), ...W1, ...zeros(K), ...zeros(K), ...W2, ...zeros(D), ...B, ...zeros(C)]);
  });

  // smallNet: n = 5 inputs, state D = 3, K = 4 hidden units, C = 3 classes, a batch of m = 4; RK4 with 2 steps (8 evaluations)
  const [n, D, K, C, m] = [5, 3, 4, 3, 4];
  const rk4: SolverOptions = { method: 'rk4', steps: 2 };
  // multiply-adds ×2: h(0) = A x + a; f = W2 tanh(W1 h + …) + b2 (two D×K products); softmax(B h + c);
  // its VJP (W2ᵀ g, W1ᵀ U, g Sᵀ, U hᵀ: four); δ's products ∂B and Bᵀ δ; ∂A = a(0) X
  const inputMap = 2 * n * D * m,
    f = 4 * K * D * m,
    output = 2 * C * D * m,
    vjp = 8 * K * D * m,
    deltas = 4 * C * D * m,
    dA = 2 * n * D * m;

  it('counts its flops where they are done: a forward pass, and the gradient by backprop through the steps or by the adjoint', () => {
    const { net, x, labels } = smallNet();
    net.probabilities(x, rk4, 1);
    expect(net.flops).toBe(inputMap + 8 * f + output);
    net.flops = 0;
    const g = new Float64Array(net.theta.length);
    const unrolled = net.lossAndGradient(x, labels, rk4, 1, 'unrolled', g);
    // each step's four stages again, f's inner product recomputed for each VJP
    expect(net.flops).toBe(inputMap + 8 * f + output + deltas + 8 * (f / 2 + vjp) + dA);
    net.flops = 0;
    const adjoint = net.lossAndGradient(x, labels, rk4, 1, 'adjoint', g);
    // the augmented dynamics: f and its VJP at each of the backward solve's 8 evaluations
    expect(net.flops).toBe(inputMap + 8 * f + output + deltas + 8 * (f + vjp) + dA);
    expect([unrolled.forward, unrolled.backward, adjoint.backward]).toEqual(new Array(3).fill({ nfe: 8, steps: 2, rejected: 0 }));
    // the tape: 2 steps × 4 stage inputs of D × m float64 values; the adjoint keeps none
    expect([unrolled.tapeBytes, adjoint.tapeBytes]).toEqual([2 * 4 * D * m * 8, 0]);
  });

  it("the gradient's cost is the cost: −(1/m) Σ log p(y_j | x_j) from probabilities()", () => {
    const { net, x, labels } = smallNet(4);
    const P = net.probabilities(x, rk4, 1);
    const want = -labels.reduce((s, y, j) => s + Math.log(P.data[y * m + j]), 0) / m;
    for (const method of ['unrolled', 'adjoint'] as const) expect(net.lossAndGradient(x, labels, rk4, 1, method, new Float64Array(net.theta.length)).loss).toBeCloseTo(want, 14);
  });

  it('computes in its own precision throughout: every matrix given to the kernels is float32 for a float32 net, float64 for a float64 one', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const seen = new Set<string>();
      const spy: Kernels = {
        name: 'spy',
        gemm(ta, tb, alpha, a, b, beta, c) {
          for (const M of [a, b, c]) seen.add(M.data.constructor.name);
          jsKernels.gemm(ta, tb, alpha, a, b, beta, c);
        },
        rowSums(X, alpha, beta, out) {
          seen.add(X.data.constructor.name).add(out.constructor.name);
          jsKernels.rowSums(X, alpha, beta, out);
        },
      };
      const net = new OdeNet(5, 3, 4, 3, dtype, spy).init(new Rng(1));
      const x = Matrix.zeros(4, 5, dtype);
      x.data.forEach((_, i) => (x.data[i] = (i % 7) / 7));
      const grad = dtype === 'float64' ? new Float64Array(net.theta.length) : new Float32Array(net.theta.length);
      for (const method of ['adjoint', 'unrolled'] as const) net.lossAndGradient(x, [0, 1, 2, 0], { method: 'dopri5', rtol: 1e-3, atol: 1e-4 }, 1, method, grad);
      expect([...seen]).toEqual([dtype === 'float64' ? 'Float64Array' : 'Float32Array']);
    }
  });

  it('solverOptions: RK4 with its steps, or Dormand–Prince with its tolerances', () => {
    expect(solverOptions({ solver: 'rk4', steps: 7, rtol: 1e-3, atol: 1e-4 })).toEqual({ method: 'rk4', steps: 7 });
    expect(solverOptions({ solver: 'dopri5', steps: 7, rtol: 1e-3, atol: 1e-4 })).toEqual({ method: 'dopri5', rtol: 1e-3, atol: 1e-4 });
  });
});

describe('gradientMemory', () => {
  it('each row: the evaluations, flops and float64 tape of one gradient, as counted by hand (small sizes)', async () => {
    const [n, D, K, C, m] = [6, 3, 4, 10, 5];
    const rows = await gradientMemory(jsKernels, [2, 3], D, K, m, n);
    const f = 4 * K * D * m,
      vjp = 8 * K * D * m,
      common = 2 * n * D * m + 2 * C * D * m + 4 * C * D * m + 2 * n * D * m;
    expect(rows.map((r) => [r.steps, r.adjointEvaluations, r.unrolledEvaluations, r.adjointFlops, r.unrolledFlops, r.unrolledTape])).toEqual(
      [2, 3].map((S) => [S, 8 * S, 8 * S, common + 4 * S * f + 4 * S * (f + vjp), common + 4 * S * f + 4 * S * (f / 2 + vjp), S * 4 * D * m * 8]),
    );
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
  function referenceFit(train: Examples, o: OdeOptions, seed: number, stopAfter = Infinity): Float32Array {
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
        // (no draws without dropout)
        if (o.inputDropout > 0) for (let i = 0; i < x.data.length; i++) x.data[i] = rng.nextUint32() * 2 ** -32 < o.inputDropout ? 0 : x.data[i] / (1 - o.inputDropout);
        if (t === stopAfter) return Float32Array.from(net.theta);
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
    { ...ODE_DEFAULTS, width: 3, hidden: 5, steps: 3, time: 1, lr: 0.02, batchSize: 5, epochs: 2, inputDropout: 0, weightDecay: 0, gradient: 'unrolled' },
  ] satisfies OdeOptions[])
    it(`trains as its loop written out: dropout ${o.inputDropout}, λ ${o.weightDecay}, ${o.gradient} gradients, ${o.epochs} epochs`, async () => {
      const train = slice(ds.train, 0, 13),
        test = slice(ds.test, 0, 10);
      const l = new OdeLearner(o);
      const progress: Progress[] = [];
      const r = await l.fit({ ...ds, train, test }, { kernels: jsKernels, seed: 4, budget: {}, test, onProgress: (p) => progress.push(p) });
      const want = referenceFit(train, o, 4);
      const got = l.net!.theta;
      const worst = want.reduce((w, x, j) => (Math.abs(got[j] - x) > Math.abs(got[w] - want[w]) ? j : w), 0);
      expect(got[worst], `θ[${worst}], the farthest`).toBeCloseTo(want[worst], 6);
      const updates = o.epochs * Math.floor(13 / o.batchSize);
      expect(r.details.updates).toBe(updates);
      expect(r.trace[r.trace.length - 1].work).toBe(2 * o.batchSize * updates);
      expect(r.parametersUpdated).toBe(want.length);
      expect(l.net!.dtype).toBe('float32');
      // RK4: 4 evaluations a step, forwards and (either gradient) backwards
      const S = o.steps;
      expect(r.details).toEqual({
        epochs: o.epochs,
        updates,
        solver: 'rk4',
        gradient: o.gradient,
        'f evaluations forward': 4 * S * updates,
        'f evaluations backward': 4 * S * updates,
        'evaluations per example': 8 * S,
      });
      // trace points before training and after updates 1, 2, 3, 4, 6 (each next one at ⌈1.3·s⌉), at 2m work an update
      expect(r.trace.map((p) => p.work)).toEqual([0, 1, 2, 3, 4, 6].filter((s) => s <= updates).map((s) => 2 * o.batchSize * s));
      // the flops of each update, as counted by hand in 'OdeNet' above (n = 64 pixels, C = 10 classes)
      const [n, D, K, C, m] = [train.dim, o.width, o.hidden, 10, o.batchSize];
      const f = 4 * K * D * m,
        vjp = 8 * K * D * m;
      const backward = o.gradient === 'adjoint' ? 4 * S * (f + vjp) : 4 * S * (f / 2 + vjp);
      expect(r.trace[r.trace.length - 1].flops).toBe(updates * (2 * n * D * m + 4 * S * f + 2 * C * D * m + 4 * C * D * m + backward + 2 * n * D * m));
      expect(progress.map((p) => [p.done, p.total, p.unit])).toEqual(Array.from({ length: updates }, (_, i) => [i + 1, updates, 'updates']));
      // the buffers, plus the unrolled gradient's tape: S steps × 4 stage inputs of D × m float32 values
      expect(r.peakBytes).toBe(totalBytes(odeMemory(o, train.dim, 10)) + (o.gradient === 'unrolled' ? S * 4 * D * m * 4 : 0));
    });

  it('stops between updates when asked (a signal): θ as the loop written out stopped there, no final point', async () => {
    const o: OdeOptions = { ...ODE_DEFAULTS, width: 4, hidden: 6, steps: 2, time: 1, lr: 0.01, batchSize: 4, epochs: 2, inputDropout: 0.3, weightDecay: 0.5 };
    const train = slice(ds.train, 0, 13),
      test = slice(ds.test, 0, 10);
    const l = new OdeLearner(o);
    let done = 0;
    const r = await l.fit({ ...ds, train, test }, { kernels: jsKernels, seed: 4, budget: {}, test, onProgress: (p) => (done = p.done), shouldStop: () => done >= 4 });
    expect(r.details.updates).toBe(4);
    expect(r.details.epochs).toBe(1);
    const want = referenceFit(train, o, 4, 4);
    const got = l.net!.theta;
    const worst = want.reduce((w, x, j) => (Math.abs(got[j] - x) > Math.abs(got[w] - want[w]) ? j : w), 0);
    expect(got[worst], `θ[${worst}], the farthest`).toBeCloseTo(want[worst], 6);
    // the point due after update 4 is interrupted by the same signal, and none is added at the end
    expect(r.trace.map((p) => p.work)).toEqual([0, 8, 16, 24]);
  });

  it('passes on an error that is not a stop (a failing kernel)', async () => {
    let calls = 0;
    const failing: Kernels = {
      ...jsKernels,
      gemm(...args) {
        if (++calls === 40) throw new Error('gemm failed');
        jsKernels.gemm(...args);
      },
    };
    const l = new OdeLearner({ width: 3, hidden: 4, steps: 2, time: 1, batchSize: 4, epochs: 1 });
    const test = slice(ds.test, 0, 10);
    await expect(l.fit({ ...ds, train: slice(ds.train, 0, 12), test }, { kernels: failing, seed: 1, budget: {}, test })).rejects.toThrow('gemm failed');
    expect(calls).toBe(40);
  });

  it('describe(): the network, the solver, the gradient, Adam and the run', () => {
    expect(new OdeLearner().describe()).toBe('neural ODE, state 64, f 64-256-64 tanh, t ∈ [0, 3], RK4 6 steps, adjoint gradients, Adam η=0.002 m=64, input dropout 0.2, 15 epochs');
    expect(new OdeLearner({ solver: 'dopri5', rtol: 1e-5, atol: 1e-7, gradient: 'unrolled', weightDecay: 0.01, inputDropout: 0, epochs: 1, width: 8, hidden: 16, time: 2 }).describe()).toBe(
      'neural ODE, state 8, f 8-16-8 tanh, t ∈ [0, 2], Dormand–Prince rtol 0.00001 atol 1e-7, unrolled gradients, Adam η=0.002 m=64 λ=0.01, 1 epoch',
    );
  });

  it('predict(): refused before fit(); then the argmax of p(y | x) of each example alone, across blocks of 500', async () => {
    const o = { width: 3, hidden: 4, steps: 2, time: 1, batchSize: 4, epochs: 1, solver: 'dopri5', rtol: 1e-3, atol: 1e-4 } as const;
    const l = new OdeLearner(o);
    expect(() => l.predict(ds.test)).toThrow('ode: fit() first');
    const test = slice(ds.test, 0, 10);
    await l.fit({ ...ds, train: slice(ds.train, 0, 8), test }, { kernels: jsKernels, seed: 2, budget: {}, test });
    // 1001 examples: blocks of 500, 500 and 1
    const count = 1001,
      dim = ds.test.dim;
    const features = new Float32Array(count * dim);
    for (let j = 0; j < count; j++) features.set(ds.test.features.subarray((j % ds.test.count) * dim, ((j % ds.test.count) + 1) * dim), j * dim);
    const ex = examples(features, new Uint8Array(count), dim);
    const want = Array.from({ length: count }, (_, j) => {
      const P = l.net!.probabilities(new Matrix(1, dim, features.subarray(j * dim, (j + 1) * dim)), { method: 'dopri5', rtol: 1e-3, atol: 1e-4 }, 1);
      return P.data.indexOf(Math.max(...P.data));
    });
    expect(new Set(want).size).toBeGreaterThan(1);
    expect(Array.from(l.predict(ex))).toEqual(want);
  });
});

// Last: 1.4 GFLOP of gradients (3 s, longer under Stryker), which every mutant of OdeNet and of the solvers would otherwise run before the tests that kill it.
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
