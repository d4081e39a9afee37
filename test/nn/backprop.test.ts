import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { allFinite, backprop, feedforward, Gradients, passFinite, sgdStep, Workspace } from '../../src/nn/backprop.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { type ActivationName, ACTIVATIONS } from '../../src/nn/activations.js';
import { cost as cost_, type CostName, COSTS } from '../../src/nn/costs.js';
import { numericalGradients } from '../../src/check/finite-diff.js';
import { compare } from '../../src/check/compare.js';
import { columns, oneHot, randomMatrix } from '../helpers.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import type { Examples } from '../../src/data/dataset.js';

const sig = (z: number) => 1 / (1 + Math.exp(-z));

describe('the four equations on a 2-2-1 network, by hand', () => {
  // W1 = [[0.1, 0.2], [0.3, 0.4]], b1 = [0.5, 0.6], W2 = [[0.7, 0.8]], b2 = [0.9]; sigmoid, quadratic cost.
  const arch: Architecture = { sizes: [2, 2, 1], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' };
  const net = () => new Network(arch, [Matrix.from(2, 2, [0.1, 0.2, 0.3, 0.4], 'float64'), Matrix.from(1, 2, [0.7, 0.8], 'float64')], [Float64Array.from([0.5, 0.6]), Float64Array.from([0.9])]);

  it('one example: z, a, δ and the gradients match the chain rule written out', () => {
    const x = [1, 2];
    const y = 1;
    // forward, written out
    const z1 = [0.1 * x[0] + 0.2 * x[1] + 0.5, 0.3 * x[0] + 0.4 * x[1] + 0.6];
    const a1 = z1.map(sig);
    const z2 = 0.7 * a1[0] + 0.8 * a1[1] + 0.9;
    const a2 = sig(z2);
    // BP1: δ2 = (a − y) σ'(z2);  BP2: δ1 = W2ᵀ δ2 ⊙ σ'(z1)
    const d2 = (a2 - y) * a2 * (1 - a2);
    const d1 = [0.7 * d2 * a1[0] * (1 - a1[0]), 0.8 * d2 * a1[1] * (1 - a1[1])];

    const n = net();
    const ws = new Workspace(n, 1);
    ws.input.data.set(x);
    const g = new Gradients(n);
    const total = backprop(n, ws, Matrix.from(1, 1, [y], 'float64'), g, jsKernels);

    expect(total).toBeCloseTo(0.5 * (a2 - y) ** 2, 15);
    expect(Array.from(ws.z[1].data)).toEqual(z1.map((v) => expect.closeTo(v, 15)));
    expect(ws.a[2].data[0]).toBeCloseTo(a2, 15);
    expect(ws.delta[2].data[0]).toBeCloseTo(d2, 15);
    expect(ws.delta[1].data[0]).toBeCloseTo(d1[0], 15);
    expect(ws.delta[1].data[1]).toBeCloseTo(d1[1], 15);
    // BP3/BP4: ∂C/∂b = δ, ∂C/∂W = δ aᵀ
    expect(g.gradB[1][0]).toBeCloseTo(d2, 15);
    expect(Array.from(g.gradW[1].data)).toEqual([d2 * a1[0], d2 * a1[1]].map((v) => expect.closeTo(v, 15)));
    expect(Array.from(g.gradW[0].data)).toEqual([d1[0] * x[0], d1[0] * x[1], d1[1] * x[0], d1[1] * x[1]].map((v) => expect.closeTo(v, 15)));
    expect(Array.from(g.gradB[0])).toEqual(d1.map((v) => expect.closeTo(v, 15)));
  });

  it('a batch of two gives the mean of the per-example gradients', () => {
    const n = net();
    const per = [
      [1, 2, 1],
      [-1, 0.5, 0],
    ].map(([x0, x1, y]) => {
      const ws = new Workspace(n, 1);
      ws.input.data.set([x0, x1]);
      const g = new Gradients(n);
      backprop(n, ws, Matrix.from(1, 1, [y], 'float64'), g, jsKernels);
      return g;
    });
    const ws = new Workspace(n, 2);
    ws.input.data.set([1, 2, -1, 0.5]); // X = (A^0)ᵀ: rows are examples
    const g = new Gradients(n);
    backprop(n, ws, Matrix.from(1, 2, [1, 0], 'float64'), g, jsKernels);
    for (let l = 0; l < 2; l++) {
      g.gradW[l].data.forEach((v, i) => expect(v).toBeCloseTo((per[0].gradW[l].data[i] + per[1].gradW[l].data[i]) / 2, 15));
      g.gradB[l].forEach((v, i) => expect(v).toBeCloseTo((per[0].gradB[l][i] + per[1].gradB[l][i]) / 2, 15));
    }
  });
});

describe('backprop against centered finite differences (float64, allclose rtol 1e-6)', () => {
  const hidden: ActivationName[] = ['sigmoid', 'tanh', 'relu', 'leaky-relu'];
  // every output activation × cost the CLI accepts
  const combos: [ActivationName, CostName][] = ACTIVATIONS.flatMap((out) => COSTS.filter((cost) => !cost_(cost).refuses(out)).map((cost): [ActivationName, CostName] => [out, cost]));
  // refused by the CLI, but a model file written before the refusal may hold it: the textbook ∇_a C ⊙ f'(z)
  combos.push(['sigmoid', 'log-likelihood']);
  for (const act of hidden)
    for (const [out, cost] of combos)
      it(`${act} hidden, ${out} output, ${cost}`, () => {
        const rng = new Rng(act.length * 31 + out.length * 7 + cost.length);
        const sizes = [5, 4, 3, 4];
        const net = Network.create({ sizes, activation: act, outputActivation: out, cost }, 'xavier', rng, 'float64');
        for (const b of net.biases) for (let i = 0; i < b.length; i++) b[i] = 0.1 * rng.normal();
        const m = 3;
        const x = randomMatrix(rng, m, sizes[0]); // X = (A^0)ᵀ, one example per row
        const y = oneHot([0, 3, 1], sizes[3]);
        const ws = new Workspace(net, m);
        ws.input.data.set(x.data);
        const g = new Gradients(net);
        backprop(net, ws, y, g, jsKernels);
        const num = numericalGradients(net, x, y, 1e-6);
        for (let l = 0; l < net.depth; l++) {
          const dW = compare(g.gradW[l].data, num.gradW[l], 1e-6, 1e-9);
          const db = compare(g.gradB[l], num.gradB[l], 1e-6, 1e-9);
          expect(dW.violations, `W${l + 1} ${JSON.stringify(dW)}`).toBe(0);
          expect(db.violations, `b${l + 1} ${JSON.stringify(db)}`).toBe(0);
        }
      });

  it('a wrong backward pass (f′(z) dropped) is caught', () => {
    const rng = new Rng(3);
    const net = Network.create({ sizes: [4, 3, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', rng, 'float64');
    const x = randomMatrix(rng, 2, 4);
    const y = oneHot([0, 1], 2);
    const ws = new Workspace(net, 2);
    ws.input.data.set(x.data);
    const g = new Gradients(net);
    // Break BP2 by making the hidden activation's backward pass forget f'(z).
    const broken = net.withActivations((a, l) => (l === 0 ? { ...a, backward: (_z, _a, gr, d) => d.data.set(gr.data) } : a));
    expect(broken.weights).toBe(net.weights); // the same numbers: only the backward pass differs
    expect([broken.biases, broken.cost, broken.activations[1]]).toEqual([net.biases, net.cost, net.activations[1]]);
    expect(broken.activations[0].backward).not.toBe(net.activations[0].backward); // the original is untouched
    backprop(broken, ws, y, g, jsKernels);
    const num = numericalGradients(net, x, y, 1e-6);
    expect(compare(g.gradW[0].data, num.gradW[0], 1e-6, 1e-9).violations).toBeGreaterThan(0);
  });
});

describe('the order of the bias add (float32, bit for bit)', () => {
  for (const act of ['tanh', 'relu'] as const)
    it(`${act} layers: Z = fl(fl(W A) + b), the gemm (beta = 0) then the bias in f's pass; softmax's: the bias first, as gemm's C (beta = 1)`, () => {
      const rng = new Rng(17),
        m = 8;
      const net = Network.create({ sizes: [20, 16, 12, 4], activation: act, outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng, 'float32');
      for (const b of net.biases) for (let i = 0; i < b.length; i++) b[i] = rng.normal();
      const ws = new Workspace(net, m);
      ws.input.data.set(randomMatrix(rng, m, 20, 'float32').data);
      feedforward(net, ws, jsKernels);
      for (let l = 1; l <= net.depth; l++) {
        const b = net.biases[l - 1],
          expected = Matrix.zeros(b.length, m, 'float32');
        if (l < net.depth) {
          // hidden: W A rounded to float32 by the gemm, then + b rounded once more
          jsKernels.gemm(false, l === 1, 1, net.weights[l - 1], l === 1 ? ws.x : ws.a[l - 1], 0, expected);
          for (let i = 0; i < b.length; i++) for (let j = 0; j < m; j++) expected.data[i * m + j] = Math.fround(expected.data[i * m + j] + b[i]);
        } else {
          for (let i = 0; i < b.length; i++) expected.data.fill(b[i], i * m, (i + 1) * m);
          jsKernels.gemm(false, false, 1, net.weights[l - 1], ws.a[l - 1], 1, expected);
        }
        expect(Array.from(ws.z[l].data), `Z${l}`).toEqual(Array.from(expected.data));
      }
      // the two orders round differently: the test can tell them apart
      const other = Matrix.zeros(16, m, 'float32');
      for (let i = 0; i < 16; i++) other.data.fill(net.biases[0][i], i * m, (i + 1) * m);
      jsKernels.gemm(false, true, 1, net.weights[0], ws.x, 1, other);
      expect(Array.from(other.data)).not.toEqual(Array.from(ws.z[1].data));
    });
});

describe('weight decay shrinks W and never b', () => {
  const arch: Architecture = { sizes: [2, 3, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' };
  const lr = 0.5,
    lambda = 0.2;
  function stepped(decay: number, viaUpdate: boolean) {
    const net = Network.create(arch, 'normal', new Rng(9), 'float64');
    const w0 = net.weights.map((W) => Float64Array.from(W.data));
    const ex: Examples = { count: 4, dim: 2, features: Float32Array.from([0.1, 0.9, 0.8, 0.2, 0.5, 0.5, 0.3, 0.7]), labels: Uint8Array.from([0, 1, 1, 0]) };
    // a gradient method given explicitly takes SgdTrainer.update's path instead of sgdStep
    const gradient = viaUpdate ? backprop : undefined;
    const trainer = new SgdTrainer(net, { lr, batchSize: 4, weightDecay: decay }, jsKernels, gradient);
    trainer.step(ex, [0, 1, 2, 3], 0, 4);
    return { net, w0 };
  }
  for (const viaUpdate of [false, true]) {
    it(`${viaUpdate ? 'SgdTrainer.update' : 'sgdStep'}: b is the same with and without λ; W differs by exactly −ηλW`, () => {
      const plain = stepped(0, viaUpdate),
        decayed = stepped(lambda, viaUpdate);
      for (let l = 0; l < 2; l++) {
        expect(Array.from(decayed.net.biases[l])).toEqual(Array.from(plain.net.biases[l]));
        const W0 = plain.w0[l],
          Wp = plain.net.weights[l].data,
          Wd = decayed.net.weights[l].data;
        for (let i = 0; i < W0.length; i++) expect(Wd[i] - Wp[i]).toBeCloseTo(-lr * lambda * W0[i], 12);
      }
    });
  }
  it('sgdStep with λ = 0 moves W and b by exactly −η ∂C/∂W and −η ∂C/∂b', () => {
    const net = Network.create(arch, 'normal', new Rng(3), 'float64');
    const ws = new Workspace(net, 2);
    ws.input.data.set([0.3, -0.4, 0.9, 0.1]);
    const y = columns([
      [1, 0],
      [0, 1],
    ]);
    const g = new Gradients(net);
    backprop(net, ws, y, g, jsKernels);
    const before = net.clone();
    const total = sgdStep(net, ws, y, lr, 0, jsKernels);
    expect(Number.isFinite(total)).toBe(true);
    for (let l = 0; l < 2; l++) {
      for (let i = 0; i < g.gradB[l].length; i++) expect(net.biases[l][i]).toBeCloseTo(before.biases[l][i] - lr * g.gradB[l][i], 12);
      for (let i = 0; i < g.gradW[l].data.length; i++) expect(net.weights[l].data[i]).toBeCloseTo(before.weights[l].data[i] - lr * g.gradW[l].data[i], 12);
    }
  });
});

describe('passFinite: every δ finite, read from the row sums s^l = δ^l 1', () => {
  for (const dtype of ['float32', 'float64'] as const)
    it(`${dtype}: the answer of allFinite on every δ, for NaN, ±∞ and (float64) sums that overflow from finite entries`, () => {
      const net = Network.create({ sizes: [3, 4, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(2), dtype);
      const ws = new Workspace(net, 5);
      const rng = new Rng(3);
      const check = () => {
        for (let l = 1; l <= 2; l++) jsKernels.rowSums(ws.delta[l], 1, 0, ws.sums[l]);
        const oracle = ws.delta.every((d) => allFinite(d.data));
        expect(passFinite(net, ws, 1)).toBe(oracle);
        return oracle;
      };
      for (let l = 1; l <= 2; l++) ws.delta[l].data.set(Array.from(ws.delta[l].data, () => rng.normal()));
      expect(check()).toBe(true);
      expect(passFinite(net, ws, NaN)).toBe(false); // the cost
      expect(passFinite(net, ws, Infinity)).toBe(false);
      for (const bad of [NaN, Infinity, -Infinity])
        for (const l of [1, 2]) {
          const d = ws.delta[l].data,
            k = d.length - 1,
            was = d[k];
          d[k] = bad;
          expect(check()).toBe(false);
          d[k] = was;
        }
      // +∞ and −∞ in one row: their sum is NaN, still caught
      ws.delta[1].data[0] = Infinity;
      ws.delta[1].data[1] = -Infinity;
      expect(check()).toBe(false);
      ws.delta[1].data.fill(0.5);
      const big = dtype === 'float64' ? 1e308 : 3e38; // float64: the sum of a row overflows though every entry is finite; float32: it cannot
      ws.delta[1].data.fill(big, 0, 5);
      expect(check()).toBe(true);
      if (dtype === 'float64') expect(ws.sums[1][0]).toBe(Infinity);
      else expect(Number.isFinite(ws.sums[1][0])).toBe(true);
    });
});
