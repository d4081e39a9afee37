import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { backward, forward, topologicalOrder, type Node } from '../../src/autodiff/node.js';
import * as g from '../../src/autodiff/ops.js';
import { textTree } from '../../src/autodiff/render.js';
import { Rng } from '../../src/base/rng.js';

/** Centered differences of a scalar graph with respect to every entry of a variable. */
function numeric(root: Node, v: Node, h = 1e-6): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.value.data.length; i++) {
    const s = v.value.data[i];
    v.value.data[i] = s + h;
    const p = forward(root).scalar;
    v.value.data[i] = s - h;
    const m = forward(root).scalar;
    v.value.data[i] = s;
    out.push((p - m) / (2 * h));
  }
  forward(root);
  return out;
}

function expectGradients(root: Node, vars: Node[]) {
  backward(root);
  for (const v of vars) {
    const num = numeric(root, v);
    Array.from(v.grad.data).forEach((x, i) => expect(Math.abs(x - num[i])).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(num[i])));
  }
}

const rand = (rng: Rng, r: number, c: number) =>
  Matrix.from(
    r,
    c,
    Array.from({ length: r * c }, () => rng.normal()),
    'float64',
  );

describe('computation graph', () => {
  it('x·x + x gives 2x + 1: gradients accumulate over a node’s parents', () => {
    const x = g.variable('x', 3);
    const f = g.add(g.mul(x, x), x);
    backward(f);
    expect(f.scalar).toBe(12);
    expect(x.grad.data[0]).toBe(7);
    expect(topologicalOrder(f)).toHaveLength(3); // x is one node with three uses
  });

  it('a second backward pass starts from zero gradients', () => {
    const x = g.variable('x', 2);
    const f = g.mul(x, g.sin(x));
    backward(f);
    const first = x.grad.data[0];
    backward(f);
    expect(x.grad.data[0]).toBe(first);
  });

  it('x*y + sin(x) at (1, 2): the README’s worked example', () => {
    const x = g.variable('x', 1),
      y = g.variable('y', 2);
    const f = g.add(g.mul(x, y), g.sin(x));
    backward(f);
    expect(f.scalar).toBeCloseTo(2.8414709848, 10);
    expect(x.grad.data[0]).toBeCloseTo(2.5403023059, 10);
    expect(y.grad.data[0]).toBe(1);
  });

  it('forward() re-evaluates after a variable changes', () => {
    const x = g.variable('x', 1);
    const f = g.exp(g.mul(x, g.constant(2)));
    x.value.data[0] = 0;
    expect(forward(f).scalar).toBe(1);
  });

  it('a shared subgraph is visited once: 2^100 paths, 101 nodes', () => {
    const x = g.variable('x', 1);
    let y: Node = x;
    for (let k = 0; k < 100; k++) y = g.add(y, y); // y = 2^100 x
    const order = topologicalOrder(y);
    expect(order).toHaveLength(101);
    backward(y, order);
    expect(x.grad.data[0]).toBe(2 ** 100);
  });

  it('a chain of 10,000 nodes does not overflow the stack', () => {
    const x = g.variable('x', 0.5);
    let y: Node = x;
    for (let k = 0; k < 10_000; k++) y = g.mul(y, g.constant(1.0001));
    backward(y);
    expect(y.scalar).toBeCloseTo(0.5 * 1.0001 ** 10_000, 8);
    expect(x.grad.data[0]).toBeCloseTo(1.0001 ** 10_000, 8);
    expect(textTree(y, new Map()).split('\n').length).toBe(20_001);
  });

  const rng = new Rng(12);
  const scalarOps: [string, (x: Node) => Node, number][] = [
    ['neg', g.neg, 0.7],
    ['exp', g.exp, 0.3],
    ['log', g.log, 1.7],
    ['sin', g.sin, 0.4],
    ['cos', g.cos, 0.4],
    ['tanh', g.tanh, -0.6],
    ['sigmoid', g.sigmoid, 0.9],
    ['relu', g.relu, 0.8],
    ['relu<0', g.relu, -0.8],
    ['leaky-relu', (x) => g.leakyRelu(x, 0.01), -0.5],
  ];
  for (const [name, op, at] of scalarOps)
    it(`${name} against finite differences`, () => {
      const x = g.variable('x', at);
      expectGradients(g.mul(op(x), g.constant(1.5)), [x]);
    });

  for (const [name, op] of [
    ['add', g.add],
    ['sub', g.sub],
    ['mul', g.mul],
    ['div', g.div],
    ['pow', g.pow],
  ] as const)
    it(`${name} of matrices and with a broadcast scalar`, () => {
      const a = g.variable('a', Matrix.from(2, 2, [0.5, 1.2, 0.8, 2.1], 'float64'));
      const b = g.variable('b', Matrix.from(2, 2, [1.1, 0.4, 1.9, 0.7], 'float64'));
      const s = g.variable('s', 1.3);
      expectGradients(g.sum(g.add(op(a, b), g.mul(op(s, a), op(b, s)))), [a, b, s]);
    });

  it('matmul, transpose, addBias, mean', () => {
    const A = g.variable('A', rand(rng, 3, 4)),
      B = g.variable('B', rand(rng, 4, 2)),
      b = g.variable('b', rand(rng, 3, 1));
    expectGradients(g.mean(g.tanh(g.addBias(g.matmul(A, B), b))), [A, B, b]);
    expectGradients(g.sum(g.sin(g.transpose(g.matmul(A, B)))), [A, B]);
  });

  it('softmax (per column) and the fused softmax log-likelihood', () => {
    const Z = g.variable('Z', rand(rng, 4, 3));
    const Y = g.constant(Matrix.from(4, 3, [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0], 'float64'));
    expectGradients(g.sum(g.mul(g.softmax(Z), g.constant(rand(rng, 4, 3)))), [Z]);
    const fused = g.softmaxLogLikelihood(Z, Y);
    const composed = g.mul(g.constant(-1 / 3), g.sum(g.mul(Y, g.log(g.softmax(Z)))));
    expect(fused.scalar).toBeCloseTo(composed.scalar, 14);
    expectGradients(fused, [Z]);
    const softmaxCols = g.softmax(Z).value;
    for (let j = 0; j < 3; j++) expect(softmaxCols.get(0, j) + softmaxCols.get(1, j) + softmaxCols.get(2, j) + softmaxCols.get(3, j)).toBeCloseTo(1, 14);
  });

  it('rejects mismatched shapes and non-scalar roots', () => {
    expect(() => g.add(g.variable('a', [[1, 2]]), g.variable('b', [[1], [2]]))).toThrow(/do not match/);
    expect(() => g.matmul(g.variable('a', [[1, 2]]), g.variable('b', [[1, 2]]))).toThrow(/matmul/);
    expect(() => backward(g.variable('a', [[1, 2]]))).toThrow(/scalar root/);
  });
});
