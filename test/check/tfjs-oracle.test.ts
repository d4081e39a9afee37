import { describe, expect, it, vi } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import { allclose, compare } from '../../src/check/compare.js';
import { loadTf, tfGradients } from '../../src/check/tfjs-oracle.js';
import { graphGradients } from '../../src/check/graph-oracle.js';
import type { ActivationName } from '../../src/nn/activations.js';
import type { CostName } from '../../src/nn/costs.js';
import { referenceGradients, scaledNet } from '../helpers.js';

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>) => compare(a, b, 0, 0).tensorRel;

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
      const { net, x, y } = scaledNet(out, cost, 2);
      const want = referenceGradients(net, x, y);
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
    const want = referenceGradients(net, x, y);
    const tf = await tfGradients(net, x, y);
    expect(Math.abs(tf.loss - want.loss)).toBeLessThan(1e-5);
    expect(relErr(tf.gradW[0], want.grads.gradW[0].data)).toBeLessThan(1e-4);
    const graph = graphGradients(net, x, y);
    expect(graph.loss).toBeCloseTo(want.loss, 12);
    expect(allclose(graph.gradW[0], want.grads.gradW[0].data, 1e-10, 1e-14)).toBe(true);
    expect(allclose(graph.gradB[0], want.grads.gradB[0], 1e-10, 1e-14)).toBe(true);
    // log-likelihood after the same linear output
    const ll = new Network({ ...net.arch, cost: 'log-likelihood' }, net.weights, net.biases);
    const wantLl = referenceGradients(ll, x, y);
    expect(Math.abs((await tfGradients(ll, x, y)).loss - wantLl.loss)).toBeLessThan(1e-5);
    expect(graphGradients(ll, x, y).loss).toBeCloseTo(wantLl.loss, 12);
  });

  for (const [out, cost] of [
    ['sigmoid', 'cross-entropy'],
    ['softmax', 'cross-entropy'],
    ['softmax', 'log-likelihood'],
  ] as [ActivationName, CostName][])
    it(`${out}, ${cost} at |z| = 40, where float32 a is exactly 0 or 1: finite, and still ours`, async () => {
      const { net, x, y } = scaledNet(out, cost, 40);
      const want = referenceGradients(net, x, y);
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
    const want = referenceGradients(net, x, y);
    const tf = await tfGradients(net, x, y);
    expect(want.loss).toBeGreaterThan(60);
    expect(Math.abs(tf.loss - want.loss)).toBeLessThan(1e-4 * want.loss);
    expect(relErr(tf.gradW[0], want.grads.gradW[0].data)).toBeLessThan(1e-4);
  });
});
