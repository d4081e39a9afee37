import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { Workspace } from '../../src/nn/backprop.js';
import { allclose } from '../../src/check/compare.js';
import { centeredDifference, graphDifference, meanCost, numericalGradients } from '../../src/check/finite-diff.js';
import { backpropGradients, tinyBatch, tinyNet } from '../helpers.js';
import * as g from '../../src/autodiff/ops.js';

describe('finite differences', () => {
  it('meanCost is Σ_x C_x / m; a centered difference is (C(θ+ε) − C(θ−ε))/2ε and leaves θ as it was', () => {
    const net = tinyNet(),
      { x, y } = tinyBatch();
    const ws = new Workspace(net, 5);
    ws.input.data.set(x.data);
    const { total } = backpropGradients(net, x, y);
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
    const { grads } = backpropGradients(net, x, y);
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
