import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/linalg/index.js';
import { ACTIVATIONS } from '../../src/nn/activations.js';
import { COSTS } from '../../src/nn/costs.js';
import { feedforward, outputDelta, totalCost, Workspace } from '../../src/nn/backprop.js';
import { Network, pairingProblem, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { gradcheck, GRADCHECK_DEFAULTS, TOLERANCES } from '../../src/check/gradcheck.js';
import { oneHot, randomMatrix } from '../helpers.js';

const accepted = ACTIVATIONS.flatMap((activation) => ACTIVATIONS.flatMap((outputActivation) => COSTS.map((cost) => ({ activation, outputActivation, cost })))).filter((c) => !pairingProblem(c));

/**
 * A 4-5-4 network and a batch of 3 whose pre-activations reach |z| = zmax in
 * every layer: each layer's W and b are scaled, in turn, until its largest |z| is zmax.
 */
function extreme(arch: Omit<Architecture, 'sizes'>, zmax: number, seed: number) {
  const rng = new Rng(seed);
  const net = Network.create({ sizes: [4, 5, 4], ...arch }, 'xavier', rng, 'float64');
  const x = randomMatrix(rng, 3, 4);
  const ws = new Workspace(net, 3);
  ws.input.data.set(x.data);
  for (let l = 1; l <= net.depth; l++) {
    for (let i = 0; i < net.biases[l - 1].length; i++) net.biases[l - 1][i] = rng.normal();
    feedforward(net, ws, jsKernels);
    const k = zmax / Math.max(...Array.from(ws.z[l].data, Math.abs));
    net.weights[l - 1].data.forEach((v, i, W) => (W[i] = v * k));
    net.biases[l - 1].forEach((v, i, b) => (b[i] = v * k));
  }
  feedforward(net, ws, jsKernels);
  return { net, x, y: oneHot([0, 3, 1], 4), ws };
}

describe('gradcheck at extreme pre-activations (|z| up to 50), every accepted combination, float64', () => {
  for (const c of accepted)
    it(`${c.activation} → ${c.outputActivation}, ${c.cost}`, async () => {
      const { net, x, y, ws } = extreme(c, 50, 7);
      expect(Math.max(...Array.from(ws.z[2].data, Math.abs))).toBeCloseTo(50, 6);
      // Finite differences of a cost of size |C| carry rounding ≈ ε|C|/h (|C| reaches ~10³ with a linear output at |z| = 50):
      // the default atol, scaled by max(1, |C|).
      const { rtol, atol } = TOLERANCES.finiteDifferences;
      const C = Math.abs(totalCost(net, ws, y) / 3);
      const r = await gradcheck(net, x, y, { ...GRADCHECK_DEFAULTS, rtol, atol: atol * Math.max(1, C), tfTensorRel: 1e-4, seed: 1, tfjs: false });
      const failed = r.tensors.filter((t) => !t.finiteDifferences.pass || !t.graph!.pass);
      expect(failed.map((t) => `${t.name} ${JSON.stringify(t.finiteDifferences)} ${JSON.stringify(t.graph)}`)).toEqual([]);
      expect(Number.isFinite(r.loss)).toBe(true);
    });
});

describe('δ^L stays finite in float32 at extreme pre-activations', () => {
  for (const c of accepted.filter((c) => c.activation === 'relu'))
    it(`${c.outputActivation}, ${c.cost}: |z| = 50 and 1000`, () => {
      for (const zmax of [50, 1000]) {
        const { net, x, y } = extreme(c, zmax, 11);
        const reference = new Workspace(net, 3);
        reference.input.data.set(x.data);
        feedforward(net, reference, jsKernels);
        const want = outputDelta(net, reference, y).data;
        const net32 = net.clone('float32');
        const ws = new Workspace(net32, 3);
        ws.input.data.set(x.data);
        feedforward(net32, ws, jsKernels);
        const got = outputDelta(net32, ws, y.as('float32')).data;
        expect(Array.from(got).every(Number.isFinite)).toBe(true);
        // float32 against float64: within float32 rounding of the inputs to δ (|z| large makes δ itself O(|z|) for unbounded outputs)
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-4 * scale));
      }
    });
});
