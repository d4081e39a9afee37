import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { relu, type Activation, type ActivationName } from '../../src/nn/activations.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { graphGradients, mlpLossGraph } from '../../src/check/graph-oracle.js';
import { allclose } from '../../src/check/compare.js';
import { gradcheck, GRADCHECK_DEFAULTS, TOLERANCES } from '../../src/check/gradcheck.js';
import { textTree } from '../../src/autodiff/render.js';
import { backward } from '../../src/autodiff/node.js';
import { referenceGradients, scaledNet, tinyBatch, tinyNet } from '../helpers.js';

describe('graph oracle', () => {
  const net = Network.create({ sizes: [2, 3, 1], activation: 'relu', outputActivation: 'sigmoid', cost: 'quadratic' }, 'he', new Rng(1), 'float64');
  const x = Matrix.from(2, 2, [0.5, -1, 0.25, 2], 'float64'); // one example per row
  const y = Matrix.from(1, 2, [1, 0], 'float64');

  it('differentiates the network it is given', () => {
    expect(Number.isFinite(graphGradients(net, x, y).loss)).toBe(true);
  });

  it('refuses an activation it has no op for, rather than treating it as linear', () => {
    const swish: Activation = { ...relu, name: 'swish' as ActivationName };
    const odd = Network.create({ sizes: [2, 3, 1], activation: 'relu', outputActivation: 'sigmoid', cost: 'quadratic' }, 'he', new Rng(1), 'float64');
    odd.activations[0] = swish;
    expect(() => graphGradients(odd, x, y)).toThrow(/no op for the activation "swish"/);
  });
});

describe('the oracles at their edges', () => {
  it('the graph, softmax cross-entropy at z ≈ 3.4·10¹⁰ (float64): the column max is taken in float64, exactly', () => {
    // z = (2³⁵ + 2000, 2³⁵ + 1700): rounded to float32 the max would be 2³⁵, and e^(z − c) = e^2000 overflows
    const z0 = 2 ** 35 + 2000;
    const net = new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'softmax', cost: 'cross-entropy' }, [Matrix.from(2, 1, [z0, z0 - 300], 'float64')], [new Float64Array(2)]);
    const x = Matrix.from(1, 1, [1], 'float64'),
      y = Matrix.from(2, 1, [0, 1], 'float64');
    const want = referenceGradients(net, x, y);
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
    const want = referenceGradients(net, x, y);
    const graph = graphGradients(net, x, y);
    expect(graph.loss).toBeCloseTo(want.loss, 14);
    for (let l = 0; l < 2; l++) expect(allclose(graph.gradW[l], want.grads.gradW[l].data, 1e-12, 1e-15)).toBe(true);
    const r = await gradcheck(net, x, y, { ...GRADCHECK_DEFAULTS, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 3, tfjs: false });
    expect(r.loss).toBeCloseTo(want.loss, 14);
    expect(r.pass).toBe(true);
  });

  it('the loss graph names its leaves: the variables W1, b1, W2, b2 and the constants X, Y, and the log-space ones', () => {
    const { net, x, y } = scaledNet('softmax', 'cross-entropy', 2);
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
describe('more edges: the graph’s sigmoid cross-entropy in log space, and the timing budget', () => {
  it('the graph, sigmoid cross-entropy at z = ±40 (float64 σ(40) is exactly 1): softplus keeps it finite', () => {
    const net = new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'sigmoid', cost: 'cross-entropy' }, [Matrix.from(2, 1, [40, -40], 'float64')], [new Float64Array(2)]);
    const x = Matrix.from(1, 1, [1], 'float64'),
      y = Matrix.from(2, 1, [0, 1], 'float64'); // both outputs wrong, saturated
    const want = referenceGradients(net, x, y);
    expect(want.loss).toBeCloseTo(80, 12); // softplus(40) + softplus(40)
    const graph = graphGradients(net, x, y);
    expect(graph.loss).toBeCloseTo(want.loss, 12);
    expect(allclose(graph.gradW[0], want.grads.gradW[0].data, 1e-10, 1e-14)).toBe(true);
    expect(allclose(graph.gradB[0], want.grads.gradB[0], 1e-10, 1e-14)).toBe(true);
  });
});
