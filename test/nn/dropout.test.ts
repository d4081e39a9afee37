import { describe, expect, it } from 'vitest';
import { type Architecture, Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { jsKernels } from '../../src/linalg/js.js';
import { backprop, drawDropoutMasks, feedforward, Gradients, totalCost, Workspace } from '../../src/nn/backprop.js';
import { oneHot, randomMatrix } from '../helpers.js';
import { TOLERANCES } from '../../src/check/gradcheck.js';

describe('inverted dropout', () => {
  const arch = { sizes: [5, 6, 4, 3], activation: 'sigmoid' as const, outputActivation: 'softmax' as const, cost: 'log-likelihood' as const };
  const m = 4;
  function setup(p: number) {
    const rng = new Rng(7);
    const net = Network.create(arch, 'xavier', rng, 'float64');
    const ws = new Workspace(net, m);
    ws.enableDropout();
    ws.input.data.set(randomMatrix(rng, m, 5).data);
    const y = oneHot([0, 2, 1, 2], 3);
    drawDropoutMasks(ws, p, () => rng.uniform());
    return { net, ws, y };
  }

  it('masks are 0 or 1/(1 − p) on the hidden layers, about a fraction p of them 0', () => {
    const { ws } = setup(0.25);
    const values = [...(ws.mask?.[1].data ?? []), ...(ws.mask?.[2].data ?? [])];
    expect(values).toHaveLength((6 + 4) * m);
    expect(values.every((v) => v === 0 || v === 1 / 0.75)).toBe(true);
    const big = new Workspace(Network.create({ ...arch, sizes: [5, 500, 3] }, 'xavier', new Rng(1), 'float64'), 40);
    big.enableDropout();
    const r = new Rng(3);
    drawDropoutMasks(big, 0.25, () => r.uniform());
    const d = big.mask?.[1].data ?? new Float64Array();
    expect(d.filter((v) => v === 0).length / d.length).toBeCloseTo(0.25, 1);
  });

  it('gradcheck with a fixed mask: backprop agrees with centered differences of the masked cost', () => {
    const { net, ws, y } = setup(0.5);
    const grads = new Gradients(net);
    backprop(net, ws, y, grads, jsKernels);
    const cost = () => {
      feedforward(net, ws, jsKernels);
      return totalCost(net, ws, y) / m;
    };
    const h = 1e-5;
    let worst = 0; // max |Δ| / (atol + rtol·|g|): ≤ 1 passes, the tolerances of gradcheck's finite differences
    for (let l = 0; l < net.depth; l++) {
      const params: [Float64Array | Float32Array, Float64Array | Float32Array][] = [
        [net.weights[l].data, grads.gradW[l].data],
        [net.biases[l], grads.gradB[l]],
      ];
      for (const [theta, g] of params) {
        for (let i = 0; i < theta.length; i++) {
          const t = theta[i];
          theta[i] = t + h;
          const up = cost();
          theta[i] = t - h;
          const down = cost();
          theta[i] = t;
          const fd = (up - down) / (2 * h);
          worst = Math.max(worst, Math.abs(fd - g[i]) / (TOLERANCES.finiteDifferences.atol + TOLERANCES.finiteDifferences.rtol * Math.abs(g[i])));
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    // and the mask matters: without it the gradient of layer 1 is a different one
    const plain = new Workspace(net, m);
    plain.input.data.set(ws.input.data);
    const g2 = new Gradients(net);
    backprop(net, plain, y, g2, jsKernels);
    const diff = Math.max(...g2.gradW[0].data.map((v, i) => Math.abs(v - grads.gradW[0].data[i])));
    expect(diff).toBeGreaterThan(1e-4);
  });
});

describe('dropout masks: drawn for the hidden layers only, u < p dropped', () => {
  const arch: Architecture = { sizes: [2, 3, 2, 2], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' };
  it('one uniform draw per hidden unit and example, none for the output layer; a unit is dropped where u < p (u = p keeps it)', () => {
    const ws = new Workspace(Network.create(arch, 'xavier', new Rng(1), 'float64'), 2);
    ws.enableDropout();
    const draws = [0.5, 0.49, 0.51, 0, 0.99, 0.25, 0.5, 0.1, 0.9, 0.75];
    let next = 0;
    drawDropoutMasks(ws, 0.5, () => draws[next++]);
    expect(next).toBe((3 + 2) * 2);
    expect(ws.mask?.length).toBe(3); // layers 1 and 2 (index 0 unused): no mask for the output layer
    expect(Array.from(ws.mask?.[1].data ?? [])).toEqual([2, 0, 2, 0, 2, 0]);
    expect(Array.from(ws.mask?.[2].data ?? [])).toEqual([2, 0, 2, 2]);
  });
  it('without enableDropout it draws nothing and feedforward multiplies nothing', () => {
    const net = Network.create(arch, 'xavier', new Rng(2), 'float64');
    const ws = new Workspace(net, 2);
    let drawn = 0;
    drawDropoutMasks(ws, 0.5, () => (drawn++, 0));
    expect(drawn).toBe(0);
    expect(ws.mask).toBeUndefined();
    ws.input.data.set([0.3, -0.7, 1.1, 0.2]);
    const a = Array.from(feedforward(net, ws, jsKernels).data);
    expect(ws.previous(2)).toBe(ws.a[1]);
    expect(a.every(Number.isFinite)).toBe(true);
  });
  it('Ã = A ⊙ mask on each hidden layer feeds the next; the output layer is not masked', () => {
    const net = Network.create(arch, 'xavier', new Rng(3), 'float64');
    const ws = new Workspace(net, 2);
    ws.enableDropout();
    ws.input.data.set([0.3, -0.7, 1.1, 0.2]);
    const draws = [0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9];
    let next = 0;
    drawDropoutMasks(ws, 0.25, () => draws[next++]);
    feedforward(net, ws, jsKernels);
    for (const l of [1, 2]) {
      const A = ws.a[l].data,
        M = ws.mask?.[l].data ?? [];
      expect(Array.from(ws.previous(l + 1).data)).toEqual(Array.from(A, (v, i) => v * M[i]));
      expect(ws.previous(l + 1)).not.toBe(ws.mask?.[l]);
    }
    const out = ws.output.data;
    expect(out[0] + out[2]).toBeCloseTo(1, 14); // softmax columns still sum to 1
  });
});
