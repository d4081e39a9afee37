// The checkers themselves, against hand-computed values (written against the mutants
// Stryker left alive in src/check): a checker that passes everything would pass every test that uses it.
import { describe, expect, it, vi } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { backprop, Gradients, Workspace } from '../../src/nn/backprop.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { allclose, compare } from '../../src/check/compare.js';
import { centeredDifference, graphDifference, meanCost, numericalGradients } from '../../src/check/finite-diff.js';
import { BUGS } from '../../src/check/bugs.js';
import { chooseCoords, gradcheck, GRADCHECK_DEFAULTS, timeBackpropVsFiniteDifferences, TOLERANCES } from '../../src/check/gradcheck.js';
import { PARITY_TOLERANCE, trainParity } from '../../src/check/parity.js';
import * as g from '../../src/autodiff/ops.js';
import { fillBatch, identity, type Examples } from '../../src/data/dataset.js';
import { loadTf, tfGradients, tfTrain } from '../../src/check/tfjs-oracle.js';
import { graphGradients, mlpLossGraph } from '../../src/check/graph-oracle.js';
import { textTree } from '../../src/autodiff/render.js';
import { backward } from '../../src/autodiff/node.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { OPTIMIZER_DEFAULTS, type OptimizerName } from '../../src/train/optimizers.js';
import type { ActivationName } from '../../src/nn/activations.js';
import type { CostName } from '../../src/nn/costs.js';

// First in this file: the first call of loadTf() loads tfjs (later calls reuse it).
describe('loadTf', () => {
  it('tfjs-node where it loads, else tfjs on its CPU backend; in production mode, so tfjs logs no warnings', async () => {
    const optional = '@tensorflow/tfjs-node'; // by a variable: an optional dependency that npm ci may not have installed, so no types to check
    const node = await import(optional).then(
      () => true,
      () => false,
    );
    const { tf, backend } = await loadTf();
    expect(backend).toBe(node ? 'tensorflow' : 'cpu');
    expect(tf.getBackend()).toBe(backend);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(tf.registerBackend(backend, () => null as never)).toBe(false); // already registered: tfjs would warn
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
    expect(await loadTf()).toEqual({ tf, backend });
  });
});

describe('compare, by hand', () => {
  it('max absolute and relative error (relative only where |y| > floor), ‖x − y‖/‖y‖, allclose violations', () => {
    // x − y = (0.5, −0.1, 1e−9, 0); |y| = (1, 0.2, 1e−10, 2)
    const d = compare([1.5, 0.1, 1.1e-9, 2], [1, 0.2, 1e-10, 2], 0.1, 0.01);
    expect(d.maxAbs).toBeCloseTo(0.5, 15);
    expect(d.maxRel).toBeCloseTo(0.5, 12); // 0.1/0.2 and 0.5/1; 1e−9/1e−10 = 10 is under the floor 1e−8
    expect(d.tensorRel).toBeCloseTo(Math.sqrt((0.25 + 0.01 + 1e-18) / (1 + 0.04 + 1e-20 + 4)), 12);
    // |d| ≤ 0.01 + 0.1|y|: 0.5 > 0.11 (violation), 0.1 > 0.03 (violation), 1e−9 ok, 0 ok
    expect([d.violations, d.count]).toEqual([2, 4]);
    expect(compare([1, 2], [1, 2], 0, 0)).toEqual({ maxAbs: 0, maxRel: 0, tensorRel: 0, violations: 0, count: 2 });
    // at the boundary |x − y| = atol + rtol|y| is allowed
    expect(compare([1.5], [1], 0.25, 0.25).violations).toBe(0);
    expect(compare([1.5], [1], 0.25, 0.2).violations).toBe(1);
  });
  it('NaN is a violation (and the largest error when it comes last); a zero reference gives 0 or ∞', () => {
    expect(compare([NaN, 1], [1, 1], 1, 1).violations).toBe(1);
    const d = compare([1, NaN], [1, 1], 1, 1);
    expect(d.violations).toBe(1);
    expect(d.maxAbs).toBeNaN();
    expect(d.maxRel).toBeNaN();
    expect(compare([0, 0], [0, 0], 0, 0).tensorRel).toBe(0);
    expect(compare([0, 1], [0, 0], 0, 0).tensorRel).toBe(Infinity);
    expect(() => compare([1], [1, 2], 0, 0)).toThrow('compare: 1 vs 2 entries');
    expect(allclose([1, 2], [1, 2.5], 0.1, 0)).toBe(false);
    expect(allclose([1, 2], [1, 2.5], 0.2, 0)).toBe(true);
  });
});

function tinyNet(dtype: 'float32' | 'float64' = 'float64') {
  return Network.create({ sizes: [3, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(21), dtype);
}
function tinyBatch() {
  const rng = new Rng(22);
  const x = Matrix.zeros(5, 3, 'float64'),
    y = Matrix.zeros(2, 5, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  for (let j = 0; j < 5; j++) y.set(j % 2, j, 1);
  return { x, y };
}
function gradients(net: Network, x: Matrix, y: Matrix, method = backprop) {
  const ws = new Workspace(net, x.rows);
  ws.input.data.set(x.data);
  const grads = new Gradients(net);
  const total = method(net, ws, y, grads, jsKernels);
  return { grads, total };
}

describe('finite differences', () => {
  it('meanCost is Σ_x C_x / m; a centered difference is (C(θ+ε) − C(θ−ε))/2ε and leaves θ as it was', () => {
    const net = tinyNet(),
      { x, y } = tinyBatch();
    const ws = new Workspace(net, 5);
    ws.input.data.set(x.data);
    const { total } = gradients(net, x, y);
    expect(meanCost(net, ws, y)).toBeCloseTo(total / 5, 14);
    const W = net.weights[1].data,
      saved = W[3];
    const eps = 1e-3;
    W[3] = saved + eps;
    const plus = meanCost(net, ws, y);
    W[3] = saved - eps;
    const minus = meanCost(net, ws, y);
    W[3] = saved;
    expect(centeredDifference(net, ws, y, W, 3, eps)).toBe((plus - minus) / (2 * eps));
    expect(W[3]).toBe(saved);
  });
  it('numericalGradients: every entry, or only the listed ones in their order', () => {
    const net = tinyNet(),
      { x, y } = tinyBatch();
    const { grads } = gradients(net, x, y);
    const all = numericalGradients(net, x, y, 1e-6);
    for (let l = 0; l < 2; l++) {
      expect(all.gradW[l]).toHaveLength(grads.gradW[l].data.length);
      expect(allclose(all.gradW[l], grads.gradW[l].data, 1e-5, 1e-9)).toBe(true);
      expect(allclose(all.gradB[l], grads.gradB[l], 1e-5, 1e-9)).toBe(true);
    }
    const some = numericalGradients(net, x, y, 1e-6, { W: [[5, 0], [7]], b: [[3], []] });
    expect(Array.from(some.gradW[0])).toEqual([all.gradW[0][5], all.gradW[0][0]]);
    expect(Array.from(some.gradW[1])).toEqual([all.gradW[1][7]]);
    expect(Array.from(some.gradB[0])).toEqual([all.gradB[0][3]]);
    expect(some.gradB[1]).toHaveLength(0);
  });
  it('graphDifference of x³ at 2 is 12 (+ h²), and the graph keeps x = 2', () => {
    const v = g.variable('x', Matrix.from(1, 1, [2], 'float64'));
    const root = g.mul(v, g.mul(v, v));
    expect(graphDifference(root, v, 1e-3)).toBeCloseTo(12 + 1e-6, 9);
    expect(v.value.data[0]).toBe(2);
    expect(root.scalar).toBe(8);
  });
});

describe('the planted bugs are the mistakes they name', () => {
  it('no-mean is m × the gradient, sign is −1 ×, drop-fprime keeps the output layer and changes the hidden one', () => {
    const { x, y } = tinyBatch();
    const good = gradients(tinyNet(), x, y).grads;
    const noMean = gradients(tinyNet(), x, y, BUGS['no-mean']).grads;
    const sign = gradients(tinyNet(), x, y, BUGS.sign).grads;
    const drop = gradients(tinyNet(), x, y, BUGS['drop-fprime']).grads;
    for (let l = 0; l < 2; l++) {
      good.gradW[l].data.forEach((v, i) => {
        expect(noMean.gradW[l].data[i]).toBeCloseTo(5 * v, 12);
        expect(sign.gradW[l].data[i]).toBe(-v);
      });
      good.gradB[l].forEach((v, i) => {
        expect(noMean.gradB[l][i]).toBeCloseTo(5 * v, 12);
        expect(sign.gradB[l][i]).toBe(-v);
      });
    }
    expect(Array.from(drop.gradW[1].data)).toEqual(Array.from(good.gradW[1].data));
    expect(Array.from(drop.gradB[1])).toEqual(Array.from(good.gradB[1]));
    // hidden δ without tanh′: δ¹ = (W²)ᵀ δ², so ∂C/∂b¹ = δ¹ 1/m = (W²)ᵀ ∂C/∂b²
    const W2 = tinyNet().weights[1];
    for (let i = 0; i < 4; i++) expect(drop.gradB[0][i]).toBeCloseTo(W2.get(0, i) * good.gradB[1][0] + W2.get(1, i) * good.gradB[1][1], 12);
  });
});

describe('gradcheck', () => {
  it('chooseCoords: every index of a small tensor, else `coords` distinct sorted ones in range', () => {
    expect(chooseCoords(4, 4, new Rng(1))).toEqual([0, 1, 2, 3]);
    const c = chooseCoords(50, 7, new Rng(1));
    expect(c).toHaveLength(7);
    expect(new Set(c).size).toBe(7);
    expect(c).toEqual(c.slice().sort((a, b) => a - b));
    expect(c.every((i) => i >= 0 && i < 50)).toBe(true);
    expect(chooseCoords(50, 7, new Rng(1))).toEqual(c);
  });
  const opts = { ...GRADCHECK_DEFAULTS, coords: 5, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 3, tfjs: false };
  it('reports each tensor with its shape, the entries differenced and the mean loss; passes backprop', async () => {
    const net = tinyNet('float32'),
      { x, y } = tinyBatch();
    const r = await gradcheck(net, x, y, opts);
    expect(r.pass).toBe(true);
    expect([r.parameters, r.batch]).toEqual([3 * 4 + 4 + 4 * 2 + 2, 5]);
    expect(r.loss).toBeCloseTo(gradients(net.clone('float64'), x, y).total / 5, 12);
    expect(r.tensors.map((t) => [t.name, t.shape, t.size, t.finiteDifferences.checked, t.graph!.checked])).toEqual([
      ['W1', [4, 3], 12, 5, 12],
      ['b1', [4], 4, 4, 4],
      ['W2', [2, 4], 8, 5, 8],
      ['b2', [2], 2, 2, 2],
    ]);
    expect(r.tensors.every((t) => t.finiteDifferences.pass && t.graph!.pass && t.tfjs === undefined)).toBe(true);
  });
  for (const bug of (Object.keys(BUGS) as (keyof typeof BUGS)[]).filter((b) => b !== 'flip-kernel')) {
    // (flip-kernel breaks conv kernels only: test/check/gradcheck.test.ts checks it on a conv net)
    it(`fails ${bug}, on the tensors it breaks, against both finite differences and the graph`, async () => {
      const { x, y } = tinyBatch();
      const r = await gradcheck(tinyNet(), x, y, { ...opts, method: BUGS[bug] });
      expect(r.pass).toBe(false);
      const failed = r.tensors.filter((t) => !t.finiteDifferences.pass).map((t) => t.name);
      expect(r.tensors.filter((t) => !t.graph!.pass).map((t) => t.name)).toEqual(failed);
      expect(failed).toEqual(bug === 'drop-fprime' ? ['W1', 'b1'] : ['W1', 'b1', 'W2', 'b2']);
    });
  }
  it('with tfjs, its float32 gradient passes at tensor level', async () => {
    const { x, y } = tinyBatch();
    const r = await gradcheck(tinyNet(), x, y, { ...opts, tfjs: true });
    expect(r.pass).toBe(true);
    for (const t of r.tensors) {
      expect(t.tfjs!.pass).toBe(true);
      expect(t.tfjs!.checked).toBe(t.size);
      expect(t.tfjs!.tensorRel).toBeLessThan(1e-4);
    }
    const bad = await gradcheck(tinyNet(), x, y, { ...opts, tfjs: true, method: BUGS.sign });
    expect(bad.tensors.every((t) => !t.tfjs!.pass)).toBe(true);
  });
  it('timing: 2P forward passes for all of finite differences, the speedup their ratio to one backprop', () => {
    const { x, y } = tinyBatch();
    const t = timeBackpropVsFiniteDifferences(tinyNet(), x.as('float32'), y);
    expect(t.parameters).toBe(26);
    expect(t.finiteDifferencesAll).toBe(2 * 26 * t.forward);
    expect(t.speedup).toBeCloseTo(t.finiteDifferencesAll / t.backprop, 9);
    expect(t.backprop).toBeGreaterThan(0);
  });
});

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

describe('compare() keeps a NaN it has seen', () => {
  it('a NaN entry followed by finite ones reports NaN as the largest error, not the last finite one', () => {
    const d = compare([NaN, 1.5, 2], [1, 1, 2], 1e-6, 1e-9);
    expect(d.maxAbs).toBeNaN();
    expect(d.maxRel).toBeNaN();
    expect(d.violations).toBe(2);
  });
});

/** A 4-5-4 network (sigmoid hidden layer) and a batch of 3 (3 ≠ 4: rows and columns cannot be confused), scaled so that max |z^2| = zmax. */
function scaled(outputActivation: ActivationName, cost: CostName, zmax: number, seed = 7) {
  const rng = new Rng(seed);
  const net = Network.create({ sizes: [4, 5, 4], activation: 'sigmoid', outputActivation, cost }, 'xavier', rng, 'float64');
  const x = Matrix.zeros(3, 4, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  for (let i = 0; i < 4; i++) net.biases[1][i] = rng.normal();
  const ws = new Workspace(net, 3);
  ws.input.data.set(x.data);
  backprop(net, ws, Matrix.zeros(4, 3, 'float64'), new Gradients(net), jsKernels);
  const k = zmax / Math.max(...Array.from(ws.z[2].data, Math.abs));
  net.weights[1].data.forEach((v, i, W) => (W[i] = v * k));
  net.biases[1].forEach((v, i, b) => (b[i] = v * k));
  const y = Matrix.zeros(4, 3, 'float64');
  [0, 3, 1].forEach((c, j) => y.set(c, j, 1));
  return { net, x, y };
}
/** Our float64 mean loss and gradients of the same batch. */
function reference(net: Network, x: Matrix, y: Matrix) {
  const { grads, total } = gradients(net, x, y);
  return { loss: total / x.rows, grads };
}
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>) => compare(a, b, 0, 0).tensorRel;

describe('the tfjs oracle: every cost, in log space where the pairing needs it', () => {
  // [output, cost]: every accepted pairing, and two the CLI refuses (loaded from old models, outputs kept in (0, 1)).
  const pairings: [ActivationName, CostName][] = [
    ['sigmoid', 'quadratic'],
    ['relu', 'quadratic'],
    ['tanh', 'quadratic'],
    ['leaky-relu', 'quadratic'],
    ['softmax', 'quadratic'],
    ['linear', 'quadratic'],
    ['sigmoid', 'cross-entropy'],
    ['softmax', 'cross-entropy'],
    ['softmax', 'log-likelihood'],
    ['sigmoid', 'log-likelihood'],
  ];
  for (const [out, cost] of pairings)
    it(`${out} output, ${cost}: tfjs's float32 loss and gradients are ours`, async () => {
      const { net, x, y } = scaled(out, cost, 2);
      const want = reference(net, x, y);
      const tf = await tfGradients(net, x, y);
      expect(Math.abs(tf.loss - want.loss)).toBeLessThan(1e-5 * Math.max(1, want.loss));
      for (let l = 0; l < 2; l++) {
        expect(relErr(tf.gradW[l], want.grads.gradW[l].data)).toBeLessThan(1e-4);
        expect(relErr(tf.gradB[l], want.grads.gradB[l])).toBeLessThan(1e-4);
      }
      // and the graph engine's, in float64
      const graph = graphGradients(net, x.as('float64'), y);
      expect(graph.loss).toBeCloseTo(want.loss, 12);
      for (let l = 0; l < 2; l++) {
        expect(allclose(graph.gradW[l], want.grads.gradW[l].data, 1e-10, 1e-14)).toBe(true);
        expect(allclose(graph.gradB[l], want.grads.gradB[l], 1e-10, 1e-14)).toBe(true);
      }
    });

  it('cross-entropy after a linear output (refused, outputs in (0, 1)): the textbook cost in tfjs and in the graph', async () => {
    const net = new Network(
      { sizes: [2, 2], activation: 'relu', outputActivation: 'linear', cost: 'cross-entropy' },
      [Matrix.from(2, 2, [0.1, -0.2, 0.05, 0.15], 'float64')],
      [Float64Array.from([0.5, 0.4])],
    );
    const x = Matrix.from(3, 2, [0.5, 1, -1, 0.25, 0.3, -0.6], 'float64');
    const y = Matrix.from(2, 3, [1, 0, 0, 0, 1, 1], 'float64');
    const want = reference(net, x, y);
    const tf = await tfGradients(net, x, y);
    expect(Math.abs(tf.loss - want.loss)).toBeLessThan(1e-5);
    expect(relErr(tf.gradW[0], want.grads.gradW[0].data)).toBeLessThan(1e-4);
    const graph = graphGradients(net, x, y);
    expect(graph.loss).toBeCloseTo(want.loss, 12);
    expect(allclose(graph.gradW[0], want.grads.gradW[0].data, 1e-10, 1e-14)).toBe(true);
    expect(allclose(graph.gradB[0], want.grads.gradB[0], 1e-10, 1e-14)).toBe(true);
    // log-likelihood after the same linear output
    const ll = new Network({ ...net.arch, cost: 'log-likelihood' }, net.weights, net.biases);
    const wantLl = reference(ll, x, y);
    expect(Math.abs((await tfGradients(ll, x, y)).loss - wantLl.loss)).toBeLessThan(1e-5);
    expect(graphGradients(ll, x, y).loss).toBeCloseTo(wantLl.loss, 12);
  });

  for (const [out, cost] of [
    ['sigmoid', 'cross-entropy'],
    ['softmax', 'cross-entropy'],
    ['softmax', 'log-likelihood'],
  ] as [ActivationName, CostName][])
    it(`${out}, ${cost} at |z| = 40, where float32 a is exactly 0 or 1: finite, and still ours`, async () => {
      const { net, x, y } = scaled(out, cost, 40);
      const want = reference(net, x, y);
      expect(Number.isFinite(want.loss)).toBe(true);
      const tf = await tfGradients(net, x, y);
      expect(Math.abs(tf.loss - want.loss)).toBeLessThan(1e-4 * Math.max(1, want.loss));
      for (let l = 0; l < 2; l++) {
        expect(relErr(tf.gradW[l], want.grads.gradW[l].data)).toBeLessThan(1e-3);
        expect(relErr(tf.gradB[l], want.grads.gradB[l])).toBeLessThan(1e-3);
      }
    });
});

describe('the oracles at their edges', () => {
  it('tfjs, softmax cross-entropy with outputs 90 apart: shifted by each row’s max, so e^(z − c) stays finite in float32', async () => {
    // one layer, z = (45, −45, 0) for x = 1: e^90 overflows float32, e^−90 does not underflow to 0
    const net = new Network({ sizes: [1, 3], activation: 'relu', outputActivation: 'softmax', cost: 'cross-entropy' }, [Matrix.from(3, 1, [45, -45, 0], 'float64')], [new Float64Array(3)]);
    const x = Matrix.from(2, 1, [1, 1], 'float64');
    const y = Matrix.from(3, 2, [1, 0, 0, 1, 0, 0], 'float64'); // the most and the least likely class
    const want = reference(net, x, y);
    const tf = await tfGradients(net, x, y);
    expect(want.loss).toBeGreaterThan(60);
    expect(Math.abs(tf.loss - want.loss)).toBeLessThan(1e-4 * want.loss);
    expect(relErr(tf.gradW[0], want.grads.gradW[0].data)).toBeLessThan(1e-4);
  });

  it('the graph, softmax cross-entropy at z ≈ 3.4·10¹⁰ (float64): the column max is taken in float64, exactly', () => {
    // z = (2³⁵ + 2000, 2³⁵ + 1700): rounded to float32 the max would be 2³⁵, and e^(z − c) = e^2000 overflows
    const z0 = 2 ** 35 + 2000;
    const net = new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'softmax', cost: 'cross-entropy' }, [Matrix.from(2, 1, [z0, z0 - 300], 'float64')], [new Float64Array(2)]);
    const x = Matrix.from(1, 1, [1], 'float64'),
      y = Matrix.from(2, 1, [0, 1], 'float64');
    const want = reference(net, x, y);
    const graph = graphGradients(net, x, y);
    expect(want.loss).toBeCloseTo(2 * 300, 6); // −ln a₁ − ln(1 − a₀), each ≈ 300
    expect(graph.loss).toBeCloseTo(want.loss, 6);
    expect(allclose(graph.gradW[0], want.grads.gradW[0].data, 1e-10, 1e-14)).toBe(true);
  });

  it('targets other than 0 and 1 (the quadratic cost takes any): the graph and gradcheck keep them in float64', async () => {
    const net = tinyNet(),
      { x } = tinyBatch();
    const y = Matrix.zeros(2, 5, 'float64');
    for (let i = 0; i < y.data.length; i++) y.data[i] = 0.1 + 0.07 * i; // not exact in float32
    const want = reference(net, x, y);
    const graph = graphGradients(net, x, y);
    expect(graph.loss).toBeCloseTo(want.loss, 14);
    for (let l = 0; l < 2; l++) expect(allclose(graph.gradW[l], want.grads.gradW[l].data, 1e-12, 1e-15)).toBe(true);
    const r = await gradcheck(net, x, y, { ...GRADCHECK_DEFAULTS, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 3, tfjs: false });
    expect(r.loss).toBeCloseTo(want.loss, 14);
    expect(r.pass).toBe(true);
  });

  it('the loss graph names its leaves: the variables W1, b1, W2, b2 and the constants X, Y, and the log-space ones', () => {
    const { net, x, y } = scaled('softmax', 'cross-entropy', 2);
    const { loss, W, b } = mlpLossGraph(net, x, y);
    expect([...W, ...b].map((v) => v.label)).toEqual(['W1', 'W2', 'b1', 'b2']);
    backward(loss);
    const tree = textTree(loss, new Map());
    const lines = tree.split('\n').map((line) => line.replace(/^.*?#\d+ /, ''));
    for (const v of ['W1', 'b1', 'W2', 'b2']) expect(lines.some((line) => line.startsWith(`${v} (variable)`))).toBe(true);
    for (const c of ['X', 'Y', 'column max', '11ᵀ', '11ᵀ − I']) expect(lines).toContain(c); // a constant's line is its label
    const plain = mlpLossGraph(tinyNet(), tinyBatch().x, tinyBatch().y);
    expect([...plain.W, ...plain.b].map((v) => v.label)).toEqual(['W1', 'W2', 'b1', 'b2']);
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

describe('compare and gradcheck at their boundaries', () => {
  it('relative errors only where |y| is above the floor (not at it), each d/|y|, the largest kept', () => {
    expect(compare([2e-8], [1e-8], 0, 0).maxRel).toBe(0); // |y| = floor = 1e−8
    expect(compare([2e-8], [1e-8], 0, 0, 0.5e-8).maxRel).toBeCloseTo(1, 12);
    expect(compare([0.1], [0.2], 0, 0).maxRel).toBeCloseTo(0.5, 15);
    expect(compare([1.5, 0.9], [1, 0.5], 1, 1).maxRel).toBeCloseTo(0.8, 15); // 0.4/0.5 after 0.5/1
  });

  it('a tensor checked at every entry draws nothing from the stream (the next tensor’s picks stay those of the seed)', () => {
    for (const size of [3, 4]) {
      const rng = new Rng(1);
      expect(chooseCoords(size, 4, rng)).toEqual(Array.from({ length: size }, (_, i) => i));
      expect(rng.int(1000)).toBe(new Rng(1).int(1000));
    }
    const rng = new Rng(1);
    chooseCoords(5, 4, rng);
    expect(rng.int(1000)).not.toBe(new Rng(1).int(1000));
  });

  const opts = { ...GRADCHECK_DEFAULTS, coords: 5, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 3, tfjs: true };
  it('tfjs passes up to tensorRel = tfTensorRel inclusive', async () => {
    const { x, y } = tinyBatch();
    const r = await gradcheck(tinyNet(), x, y, opts);
    const worst = Math.max(...r.tensors.map((t) => t.tfjs!.tensorRel));
    expect(worst).toBeGreaterThan(0);
    const at = await gradcheck(tinyNet(), x, y, { ...opts, tfTensorRel: worst });
    expect(at.pass).toBe(true);
    const below = await gradcheck(tinyNet(), x, y, { ...opts, tfTensorRel: worst * (1 - 1e-9) });
    expect(below.tensors.filter((t) => !t.tfjs!.pass)).toHaveLength(1);
    expect(below.pass).toBe(false);
  });

  it('a tensor failing finite differences fails the check even when the graph agrees', async () => {
    const { x, y } = tinyBatch();
    const r = await gradcheck(tinyNet(), x, y, { ...opts, tfjs: false, rtol: 0, atol: 0 });
    expect(r.tensors.every((t) => !t.finiteDifferences.pass && t.graph!.pass)).toBe(true);
    expect(r.pass).toBe(false);
  });

  it('timing: the medians are in seconds, and of real passes (a forward pass of 784-30-10 on 8 examples takes well over 10 µs)', () => {
    const { x, y } = tinyBatch();
    const small = timeBackpropVsFiniteDifferences(tinyNet(), x.as('float32'), y);
    expect(small.backprop).toBeLessThan(0.1);
    expect(small.forward).toBeLessThan(0.1);
    const rng = new Rng(3);
    const big = Network.create({ sizes: [784, 30, 10], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng);
    const t = timeBackpropVsFiniteDifferences(
      big,
      Matrix.from(
        8,
        784,
        Array.from({ length: 8 * 784 }, () => rng.uniform()),
      ),
      Matrix.from(
        10,
        8,
        Array.from({ length: 80 }, (_, i) => (i % 9 === 0 ? 1 : 0)),
      ),
    );
    expect(t.forward).toBeGreaterThan(1e-5);
    expect(t.backprop).toBeGreaterThan(1e-5);
    expect(t.parameters).toBe(784 * 30 + 30 + 30 * 10 + 10);
  });
});

describe('more edges: the graph’s sigmoid cross-entropy in log space, and the timing budget', () => {
  it('the graph, sigmoid cross-entropy at z = ±40 (float64 σ(40) is exactly 1): softplus keeps it finite', () => {
    const net = new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'sigmoid', cost: 'cross-entropy' }, [Matrix.from(2, 1, [40, -40], 'float64')], [new Float64Array(2)]);
    const x = Matrix.from(1, 1, [1], 'float64'),
      y = Matrix.from(2, 1, [0, 1], 'float64'); // both outputs wrong, saturated
    const want = reference(net, x, y);
    expect(want.loss).toBeCloseTo(80, 12); // softplus(40) + softplus(40)
    const graph = graphGradients(net, x, y);
    expect(graph.loss).toBeCloseTo(want.loss, 12);
    expect(allclose(graph.gradW[0], want.grads.gradW[0].data, 1e-10, 1e-14)).toBe(true);
    expect(allclose(graph.gradB[0], want.grads.gradB[0], 1e-10, 1e-14)).toBe(true);
  });

  // "Median of repeated timings: at least 5 runs and about 0.2 s": each of the two medians runs until 0.2 s have
  // passed, or 1000 runs if those come first. Bounds from the clock alone, not from how fast this machine is.
  it('a slow pass (784-100-10 on 32 examples, > 0.5 ms) is timed for about 0.2 s per median, not 5 runs and not 1000', () => {
    const rng = new Rng(4);
    const net = Network.create({ sizes: [784, 100, 10], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng);
    const x = Matrix.from(
      32,
      784,
      Array.from({ length: 32 * 784 }, () => rng.uniform()),
    );
    const y = Matrix.from(
      10,
      32,
      Array.from({ length: 320 }, (_, i) => (i % 11 === 0 ? 1 : 0)),
    );
    const t0 = performance.now();
    const t = timeBackpropVsFiniteDifferences(net, x, y);
    const wall = (performance.now() - t0) / 1000;
    expect(t.forward).toBeGreaterThan(5e-4); // so 1000 runs would take over 1.5 s
    expect(wall).toBeGreaterThanOrEqual(0.4);
    expect(wall).toBeLessThan(0.4 + 20 * (t.backprop + t.forward) + 0.5);
  });

  it('a fast pass (3-4-2 on 5 examples) stops at 1000 runs, long before 0.2 s', () => {
    const { x, y } = tinyBatch();
    const t0 = performance.now();
    const t = timeBackpropVsFiniteDifferences(tinyNet(), x, y);
    const wall = (performance.now() - t0) / 1000;
    expect(t.backprop).toBeLessThan(5e-5); // 1000 runs: under 0.05 s
    expect(wall).toBeLessThan(0.3);
  });
});
