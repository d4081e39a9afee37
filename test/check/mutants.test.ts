// The checkers themselves, against hand-computed values (written against the mutants
// Stryker left alive in src/check): a checker that passes everything would pass every test that uses it.
import { describe, expect, it } from 'vitest';
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
import type { Examples } from '../../src/data/dataset.js';

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
    expect(r.tensors.map((t) => [t.name, t.shape, t.size, t.finiteDifferences.checked, t.graph.checked])).toEqual([
      ['W1', [4, 3], 12, 5, 12],
      ['b1', [4], 4, 4, 4],
      ['W2', [2, 4], 8, 5, 8],
      ['b2', [2], 2, 2, 2],
    ]);
    expect(r.tensors.every((t) => t.finiteDifferences.pass && t.graph.pass && t.tfjs === undefined)).toBe(true);
  });
  for (const bug of Object.keys(BUGS) as (keyof typeof BUGS)[]) {
    it(`fails ${bug}, on the tensors it breaks, against both finite differences and the graph`, async () => {
      const { x, y } = tinyBatch();
      const r = await gradcheck(tinyNet(), x, y, { ...opts, method: BUGS[bug] });
      expect(r.pass).toBe(false);
      const failed = r.tensors.filter((t) => !t.finiteDifferences.pass).map((t) => t.name);
      expect(r.tensors.filter((t) => !t.graph.pass).map((t) => t.name)).toEqual(failed);
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
});

describe('compare() keeps a NaN it has seen', () => {
  it('a NaN entry followed by finite ones reports NaN as the largest error, not the last finite one', () => {
    const d = compare([NaN, 1.5, 2], [1, 1, 2], 1e-6, 1e-9);
    expect(d.maxAbs).toBeNaN();
    expect(d.maxRel).toBeNaN();
    expect(d.violations).toBe(2);
  });
});
