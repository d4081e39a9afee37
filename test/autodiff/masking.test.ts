import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { backward, forward, topologicalOrder, type Node } from '../../src/autodiff/node.js';
import * as g from '../../src/autodiff/ops.js';
import { Rng } from '../../src/base/rng.js';
import { cli } from '../helpers.js';

/** sqrt(max(e, 0)): where e < 0, an infinite local derivative (sqrt at 0) meets a zero one (relu below 0). */
const sqrtRelu = (e: Node) => g.pow(g.relu(e), g.constant(0.5));

describe('zero local derivatives mask, they do not multiply (∞ · 0 is not NaN)', () => {
  it('sqrt(relu(x)) at x = −1 has derivative 0, as PyTorch gives', () => {
    const x = g.variable('x', -1);
    const f = sqrtRelu(x);
    backward(f);
    expect(f.scalar).toBe(0);
    expect(x.grad.data[0]).toBe(0);
  });

  it('saturated sigmoid and tanh, exp underflowing to 0, and leaky-relu stay masked where their derivative is exactly 0', () => {
    for (const op of [(e: Node) => g.sigmoid(g.mul(g.constant(1000), e)), (e: Node) => g.tanh(g.mul(g.constant(1000), e)), (e: Node) => g.exp(g.mul(g.constant(-1000), e))]) {
      const x = g.variable('x', 1);
      const f = g.pow(g.sub(g.constant(1), op(x)), g.constant(0.5)); // √(1 − 1) or √(1 − 0): the first has ∞ above a 0
      backward(f);
      expect(Number.isNaN(x.grad.data[0])).toBe(false);
    }
  });

  it('matmul: ∂/∂A_ip = G_ij B_pj is 0 where B_pj = 0 even when G_ij = ∞, and ∞ (not NaN) elsewhere', () => {
    const A = g.variable('A', [[0, 2]]);
    const B = g.variable('B', [[3], [0]]);
    backward(g.sum(g.pow(g.matmul(A, B), g.constant(0.5)))); // √(AB) with AB = 0: G = ∞
    expect(Array.from(A.grad.data)).toEqual([Infinity, 0]);
    expect(Array.from(B.grad.data)).toEqual([0, Infinity]);
  });

  it('softmax: an ∞ gradient into an output that rounded to 0 is masked', () => {
    const Z = g.variable('Z', [[0], [-800]]); // softmax = [1, 0] exactly
    const s = g.softmax(Z);
    expect(Array.from(s.value.data)).toEqual([1, 0]);
    backward(g.sum(g.pow(s, g.constant(0.5))));
    expect(Array.from(Z.grad.data).every((v) => !Number.isNaN(v))).toBe(true);
  });

  it('the fused softmax log-likelihood stays finite where softmax rounds to 0 (log space)', () => {
    const Z = g.variable('Z', [[0], [-800]]);
    const Y = g.constant([[0], [1]]);
    const f = g.softmaxLogLikelihood(Z, Y);
    backward(f);
    expect(f.scalar).toBeCloseTo(800, 9);
    expect(Array.from(Z.grad.data)).toEqual([1, -1]);
  });
});

/**
 * Random expressions of x and y, built from every element-wise op, with
 * sqrt(relu(·)) and log-like and max-like branches over-represented so that
 * many points have a relu below 0 under an infinite derivative.
 */
function randomExpr(rng: Rng, depth: number, x: Node, y: Node): Node {
  if (depth === 0 || rng.uniform() < 0.15) {
    const r = rng.uniform();
    return r < 0.4 ? x : r < 0.8 ? y : g.constant(Math.round(10 * (rng.uniform() * 4 - 2)) / 10);
  }
  const sub = () => randomExpr(rng, depth - 1, x, y);
  switch (rng.int(16)) {
    case 0:
      return g.add(sub(), sub());
    case 1:
      return g.sub(sub(), sub());
    case 2:
      return g.mul(sub(), sub());
    case 3:
      return g.div(sub(), g.add(g.constant(1.5), g.mul(sub(), sub()))); // 1.5 + e²: no pole
    case 4:
      return g.neg(sub());
    case 5:
      return g.sin(sub());
    case 6:
      return g.tanh(sub());
    case 7:
      return g.sigmoid(sub());
    case 8:
      return g.relu(sub());
    case 9:
      return g.leakyRelu(sub(), 0.01);
    case 10:
      return g.softplus(sub());
    case 11:
      return g.pow(sub(), g.constant(2));
    case 12:
      return g.exp(g.mul(g.constant(0.3), sub()));
    case 13:
      return g.log(g.add(g.constant(1e-3), sqrtRelu(sub()))); // log near 0 where relu is 0
    default:
      return sqrtRelu(sub());
  }
}

describe('random expressions against finite differences, where relu, max-like and sqrt-like branches meet infinities', () => {
  it('the engine agrees with centered differences wherever the function is smooth, and is never NaN there', () => {
    const rng = new Rng(2024);
    let checked = 0,
      masked = 0;
    for (let trial = 0; trial < 600; trial++) {
      const x = g.variable('x', 0),
        y = g.variable('y', 0);
      const f = randomExpr(rng, 4, x, y);
      const order = topologicalOrder(f);
      const reluInputs = order.filter((n) => n.op === 'relu').map((n) => n.children[0]);
      for (let p = 0; p < 4; p++) {
        const at = [2 * rng.normal(), 2 * rng.normal()];
        const value = (vx: number, vy: number) => {
          x.value.data[0] = vx;
          y.value.data[0] = vy;
          return forward(f, order).scalar;
        };
        const f0 = value(at[0], at[1]);
        if (!Number.isFinite(f0)) continue;
        // Smooth here: both steps of the centered difference agree, and no relu input is within 1e-3 of its kink.
        const fd = (v: 0 | 1, h: number) => {
          const d = [0, 0];
          d[v] = h;
          return (value(at[0] + d[0], at[1] + d[1]) - value(at[0] - d[0], at[1] - d[1])) / (2 * h);
        };
        const numeric = [0, 1].map((v) => [fd(v as 0 | 1, 1e-5), fd(v as 0 | 1, 1e-6)]);
        value(at[0], at[1]);
        if (reluInputs.some((n) => Math.abs(n.value.data[0]) < 1e-3)) continue;
        if (numeric.some(([a, b]) => !Number.isFinite(a) || Math.abs(a - b) > 1e-4 * (1 + Math.abs(a)))) continue;
        const zeroRelu = reluInputs.some((n) => n.value.data[0] < 0);
        backward(f, order);
        const grad = [x.grad.data[0], y.grad.data[0]];
        for (let v = 0; v < 2; v++) {
          expect(Number.isNaN(grad[v]), `${textOf(f)} at ${at}`).toBe(false);
          expect(Math.abs(grad[v] - numeric[v][1]), `∂/∂${'xy'[v]} of a random expression at ${at}: ${grad[v]} vs ${numeric[v][1]}`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(numeric[v][1])));
        }
        checked++;
        if (zeroRelu) masked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(masked).toBeGreaterThan(300); // points where a relu below 0 had to mask what came back to it
  });
});

function textOf(n: Node): string {
  return n.op === 'variable' ? n.label! : n.op === 'constant' ? String(n.value.data[0]) : `${n.op}(${n.children.map(textOf).join(', ')})`;
}

// A shape check that matrices still take the fast gemm path when the gradient is finite.
it('matmul with finite gradients equals G Bᵀ and Aᵀ G', () => {
  const A = g.variable('A', Matrix.from(2, 2, [1, 2, 3, 4], 'float64'));
  const B = g.variable('B', Matrix.from(2, 1, [5, 6], 'float64'));
  backward(g.sum(g.matmul(A, B)));
  expect(Array.from(A.grad.data)).toEqual([5, 6, 5, 6]);
  expect(Array.from(B.grad.data)).toEqual([4, 6]);
});

describe('backprop grad on the command line', () => {
  it('"sqrt(relu(x))" --at x=-1 --json gives 0', () => {
    const r = cli(['grad', 'sqrt(relu(x))', '--at', 'x=-1', '--json', '--check']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.value).toBe(0);
    expect(j.gradient.x).toBe(0);
  });
});
