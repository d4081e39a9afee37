import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { backward, forward, type Node, topologicalOrder } from '../../src/autodiff/node.js';
import { Rng } from '../../src/base/rng.js';
import * as g from '../../src/autodiff/ops.js';

const m64 = (rows: number, cols: number, values: number[]) => Matrix.from(rows, cols, values, 'float64');

/** Entries of mixed sign and magnitude, so that sums in another order round differently. */
function wild(rng: Rng, rows: number, cols: number): Matrix {
  return m64(
    rows,
    cols,
    Array.from({ length: rows * cols }, () => rng.normal() * 10 ** (rng.int(5) - 2)),
  );
}

/** The gradient a node sends to its children for an incoming gradient G (children's gradients cleared first). */
function pushBack(n: Node, G: number[]): void {
  for (const c of n.children) c.grad.data.fill(0);
  n.grad.data.set(G);
  n.propagate();
}

/** ∂(sum of f(x))/∂x at each entry of x, by the engine. */
function gradOf(op: (x: Node) => Node, values: number[]): { value: number[]; grad: number[] } {
  const x = g.variable('x', m64(1, values.length, values));
  const y = op(x);
  backward(g.sum(y));
  return { value: Array.from(y.value.data), grad: Array.from(x.grad.data) };
}

describe('element-wise ops: values and derivatives by their formulas', () => {
  const at = [-2.5, -0.3, 0.4, 1.7];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const cases: [string, (x: Node) => Node, (v: number) => number, (v: number) => number][] = [
    ['neg', g.neg, (v) => -v, () => -1],
    ['exp', g.exp, Math.exp, Math.exp],
    ['sin', g.sin, Math.sin, Math.cos],
    ['cos', g.cos, Math.cos, (v) => -Math.sin(v)],
    ['tanh', g.tanh, Math.tanh, (v) => 1 - Math.tanh(v) ** 2],
    ['sigmoid', g.sigmoid, sig, (v) => sig(v) * (1 - sig(v))],
    ['softplus', g.softplus, (v) => Math.log(1 + Math.exp(v)), sig],
    ['relu', g.relu, (v) => Math.max(v, 0), (v) => (v > 0 ? 1 : 0)],
    ['leaky-relu', (x) => g.leakyRelu(x, 0.1), (v) => (v > 0 ? v : 0.1 * v), (v) => (v > 0 ? 1 : 0.1)],
  ];
  for (const [name, op, f, df] of cases)
    it(`${name} at ${at.join(', ')}`, () => {
      const r = gradOf(op, at);
      at.forEach((v, i) => {
        expect(r.value[i], `${name}(${v})`).toBeCloseTo(f(v), 14);
        expect(r.grad[i], `${name}′(${v})`).toBeCloseTo(df(v), 14);
      });
    });

  it('log at 0.5, 1.7 and 4 (its domain): ln x and 1/x', () => {
    const r = gradOf(g.log, [0.5, 1.7, 4]);
    expect(r.value).toEqual([Math.log(0.5), Math.log(1.7), Math.log(4)]);
    expect(r.grad).toEqual([2, 1 / 1.7, 0.25]);
  });

  it('sigmoid(0) = 1/2 exactly, and sigmoid(±40) is 1 and e^−40 to the last digits', () => {
    const r = gradOf(g.sigmoid, [0, 40, -40]);
    expect(r.value[0]).toBe(0.5);
    expect(r.grad[0]).toBe(0.25);
    expect(r.value[1]).toBe(1);
    expect(r.value[2]).toBeCloseTo(Math.exp(-40), 30);
  });

  it('softplus stays finite and exact at ±800, where ln(1 + eˣ) overflows', () => {
    const r = gradOf(g.softplus, [800, -800, 0]);
    expect(r.value).toEqual([800, 0, Math.LN2]);
    expect(r.grad).toEqual([1, 0, 0.5]);
  });

  it('relu: at 0 and −0 the value is +0 and the derivative 0 (the kink takes the left side)', () => {
    const r = gradOf(g.relu, [0, -0]);
    expect(r.value.map((v) => Object.is(v, 0))).toEqual([true, true]); // 1/relu(−0) is +∞, as 1/max(−0, 0) in IEEE (+0 wins)
    expect(r.grad).toEqual([0, 0]);
  });

  it('leaky relu is slope·x up to and including 0: the derivative at 0 is the slope, and a negative slope flips the sign of zero', () => {
    const r = gradOf((x) => g.leakyRelu(x, 0.25), [0, -0, -4]);
    expect(r.value).toEqual([0, -0, -1]);
    expect(Object.is(r.value[1], -0)).toBe(true);
    expect(r.grad).toEqual([0.25, 0.25, 0.25]);
    const neg = gradOf((x) => g.leakyRelu(x, -0.5), [0, 2]);
    expect(Object.is(neg.value[0], -0)).toBe(true); // −0.5 · (+0)
    expect(neg.value[1]).toBe(2);
  });

  it('every entry of a matrix goes through the op, forward and backward (first and last too)', () => {
    const x = g.variable('x', m64(2, 3, [1, 2, 3, 4, 5, 6]));
    const y = g.mul(g.constant(m64(2, 3, [1, 10, 100, 1000, 1e4, 1e5])), g.exp(x));
    backward(g.sum(y));
    expect(Array.from(y.value.data)).toEqual([1, 10, 100, 1000, 1e4, 1e5].map((c, i) => c * Math.exp(i + 1)));
    expect(Array.from(x.grad.data)).toEqual(Array.from(y.value.data));
  });
});
describe('binary ops: values, broadcasting a scalar, shapes', () => {
  const row = [0.5, -2, 3];
  const cases: [string, (a: Node, b: Node) => Node, (a: number, b: number) => number][] = [
    ['add', g.add, (a, b) => a + b],
    ['sub', g.sub, (a, b) => a - b],
    ['mul', g.mul, (a, b) => a * b],
    ['div', g.div, (a, b) => a / b],
    ['pow', g.pow, (a, b) => a ** b],
  ];
  for (const [name, op, f] of cases) {
    it(`${name}: a row (1×3) with a scalar on either side is 1×3, and the scalar's gradient sums the row's`, () => {
      for (const scalarFirst of [false, true]) {
        const v = g.variable('v', m64(1, 3, name === 'pow' ? [0.5, 2, 3] : row));
        const s = g.variable('s', 1.5);
        const y = scalarFirst ? op(s, v) : op(v, s);
        expect([y.rows, y.cols]).toEqual([1, 3]);
        const want = Array.from(v.value.data, (x) => (scalarFirst ? f(1.5, x) : f(x, 1.5)));
        expect(Array.from(y.value.data)).toEqual(want);
        backward(g.sum(y));
        const h = 1e-6;
        const num = (name === 'pow' ? [0.5, 2, 3] : row).reduce((t, x) => t + ((scalarFirst ? f(1.5 + h, x) : f(x, 1.5 + h)) - (scalarFirst ? f(1.5 - h, x) : f(x, 1.5 - h))) / (2 * h), 0);
        expect(s.grad.data[0]).toBeCloseTo(num, 6);
      }
    });
    it(`${name}: a column (3×1) with a 3×1 matrix, entry by entry`, () => {
      const a = g.variable('a', m64(3, 1, [0.5, 2, 3])),
        b = g.variable('b', m64(3, 1, [1.5, -1, 2]));
      expect(Array.from(op(a, b).value.data)).toEqual([f(0.5, 1.5), f(2, -1), f(3, 2)]);
    });
  }

  it('shapes that differ in rows only or in columns only are refused, with both shapes in the message', () => {
    const r = g.variable('r', m64(1, 2, [1, 2])),
      c = g.variable('c', m64(2, 1, [1, 2])),
      sq = g.variable('sq', m64(2, 2, [1, 2, 3, 4]));
    expect(() => g.add(r, sq)).toThrow('add: shapes 1x2 and 2x2 do not match');
    expect(() => g.mul(sq, c)).toThrow('mul: shapes 2x2 and 2x1 do not match');
    expect(() => g.pow(c, sq)).toThrow('pow: shapes 2x1 and 2x2 do not match');
  });

  it('two scalars stay a scalar', () => {
    const y = g.sub(g.constant(5), g.constant(7));
    expect([y.rows, y.cols, y.scalar]).toEqual([1, 1, -2]);
  });

  it('pow: ∂/∂a of a⁰ is 0 even at a = 0 (not 0 · 0⁻¹ = NaN)', () => {
    const a = g.variable('a', 0);
    const y = g.pow(a, g.constant(0));
    backward(y);
    expect(y.scalar).toBe(1);
    expect(a.grad.data[0]).toBe(0);
  });

  it('pow: ∂/∂b = aᵇ ln a for a > 0; 0 at a = 0 where aᵇ = 0; NaN for a < 0 (and at 0⁰, where it has no limit)', () => {
    const at = (a: number, b: number) => {
      const bv = g.variable('b', b);
      backward(g.pow(g.constant(a), bv));
      return bv.grad.data[0];
    };
    expect(at(2, 3)).toBe(8 * Math.LN2);
    expect(at(0, 2)).toBe(0);
    expect(at(-2, 3)).toBeNaN();
    expect(at(0, 0)).toBeNaN();
  });

  it('op names, as the graph view prints them', () => {
    const x = g.variable('x', m64(2, 2, [1, 2, 3, 4])),
      b = g.variable('b', m64(2, 1, [1, 2])),
      y = g.constant(m64(2, 2, [1, 0, 0, 1]));
    const nodes: [Node, string][] = [
      [x, 'variable'],
      [g.constant(1), 'constant'],
      [g.add(x, x), 'add'],
      [g.sub(x, x), 'sub'],
      [g.mul(x, x), 'mul'],
      [g.div(x, x), 'div'],
      [g.pow(x, x), 'pow'],
      [g.neg(x), 'neg'],
      [g.exp(x), 'exp'],
      [g.log(x), 'log'],
      [g.sin(x), 'sin'],
      [g.cos(x), 'cos'],
      [g.tanh(x), 'tanh'],
      [g.sigmoid(x), 'sigmoid'],
      [g.softplus(x), 'softplus'],
      [g.relu(x), 'relu'],
      [g.leakyRelu(x, 0.01), 'leaky-relu'],
      [g.matmul(x, x), 'matmul'],
      [g.transpose(x), 'transpose'],
      [g.sum(x), 'sum'],
      [g.mean(x), 'mean'],
      [g.addBias(x, b), 'add-bias'],
      [g.softmax(x), 'softmax'],
      [g.softmaxLogLikelihood(x, y), 'softmax-log-likelihood'],
    ];
    for (const [n, op] of nodes) expect(n.op).toBe(op);
    expect(x.label).toBe('x');
  });
});
describe('leaves', () => {
  it('a variable or constant from rows of numbers holds them row by row', () => {
    const v = g.variable('v', [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect([v.rows, v.cols]).toEqual([2, 3]);
    expect(Array.from(v.value.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const c = g.constant([Float32Array.from([0.5, 1]), Float32Array.from([2, 4]), Float32Array.from([8, 16])], 'k');
    expect(c.value.toArray()).toEqual([
      [0.5, 1],
      [2, 4],
      [8, 16],
    ]);
    expect(c.label).toBe('k');
    expect(g.constant([]).value.data.length).toBe(0);
  });

  it('a leaf from a float32 Matrix is a float64 copy: the graph computes in float64 and never writes the caller’s matrix', () => {
    const m = Matrix.from(1, 2, [0.1, 3], 'float32');
    const v = g.variable('v', m);
    expect(v.value.dtype).toBe('float64');
    expect(v.value.data[0]).toBe(Math.fround(0.1));
    v.value.data[1] = 7;
    expect(m.data[1]).toBe(3);
  });
});
describe('matmul', () => {
  it('values, and a 2×3 · 3×4 gradient against centered differences', () => {
    const A = g.variable('A', m64(2, 3, [1, 2, 3, 4, 5, 6]));
    const B = g.variable('B', m64(3, 4, [1, 0, -1, 2, 0.5, 1, 0, -2, 3, 1, 1, 0]));
    const C = g.matmul(A, B);
    expect(C.value.toArray()).toEqual([
      [1 + 1 + 9, 0 + 2 + 3, -1 + 0 + 3, 2 - 4 + 0],
      [4 + 2.5 + 18, 0 + 5 + 6, -4 + 0 + 6, 8 - 10 + 0],
    ]);
    const W = g.constant(m64(2, 4, [1, -2, 3, -4, 5, -6, 7, -8]));
    backward(g.sum(g.mul(W, C)));
    // ∂/∂A = W Bᵀ, ∂/∂B = Aᵀ W
    expect(A.grad.toArray()).toEqual([
      [1 * 1 + -2 * 0 + 3 * -1 + -4 * 2, 0.5 - 2 + 0 + 8, 3 - 2 + 3 + 0],
      [5 * 1 + 0 + 7 * -1 + -8 * 2, 2.5 - 6 + 0 + 16, 15 - 6 + 7 + 0],
    ]);
    expect(B.grad.toArray()).toEqual([
      [1 + 20, -2 - 24, 3 + 28, -4 - 32],
      [2 + 25, -4 - 30, 6 + 35, -8 - 40],
      [3 + 30, -6 - 36, 9 + 42, -12 - 48],
    ]);
  });

  it('with a finite incoming gradient, ∂/∂A and ∂/∂B are gemm’s G Bᵀ and Aᵀ G bit for bit (not term-by-term sums)', () => {
    // 9×6 · 6×9: both products have an inner dimension of 9, two blocks of four and a tail in gemm's order
    const rng = new Rng(3);
    const a = wild(rng, 9, 6),
      b = wild(rng, 6, 9),
      G = wild(rng, 9, 9);
    const M = g.matmul(g.variable('A', a), g.variable('B', b));
    pushBack(M, Array.from(G.data));
    const [A, B] = M.children;
    const wantA = Matrix.zeros(9, 6, 'float64'),
      wantB = Matrix.zeros(6, 9, 'float64');
    jsKernels.gemm(false, true, 1, G, b, 1, wantA);
    jsKernels.gemm(true, false, 1, a, G, 1, wantB);
    expect(Array.from(A.grad.data)).toEqual(Array.from(wantA.data));
    expect(Array.from(B.grad.data)).toEqual(Array.from(wantB.data));
    // and those differ from one product at a time somewhere, so the check above can tell them apart
    let differs = 0;
    for (let i = 0; i < 9; i++)
      for (let p = 0; p < 6; p++) {
        let sa = 0,
          sb = 0;
        for (let j = 0; j < 9; j++) sa += G.get(i, j) * b.get(p, j);
        for (let r = 0; r < 9; r++) sb += a.get(r, p) * G.get(r, i);
        if (sa !== wantA.get(i, p)) differs++;
        if (sb !== wantB.get(p, i)) differs++;
      }
    expect(differs).toBeGreaterThan(0);
  });

  it('with an ∞ in the incoming gradient: term by term, each term masked where its B or A entry is 0', () => {
    // A 2×3, B 3×2; G has ∞ at (0, 1) only. ∂/∂A_ip = Σ_j G_ij B_pj, ∂/∂B_pj = Σ_i G_ij A_ip.
    const a = m64(2, 3, [1, 0, 2, -3, 4, 0.5]),
      b = m64(3, 2, [2, 0, -1, 3, 0.25, -2]);
    const M = g.matmul(g.variable('A', a), g.variable('B', b));
    pushBack(M, [1, Infinity, -2, 0.5]);
    const [A, B] = M.children;
    // row 0 of G is (1, ∞): B_p1 = 0 masks the ∞ at p = 0; row 1 is finite.
    expect(A.grad.toArray()).toEqual([
      [1 * 2, Infinity, -Infinity],
      [-2 * 2 + 0.5 * 0, -2 * -1 + 0.5 * 3, -2 * 0.25 + 0.5 * -2],
    ]);
    // column 1 of G is (∞, 0.5): A_0p = 0 masks the ∞ at p = 1.
    expect(B.grad.toArray()).toEqual([
      [1 * 1 - 2 * -3, Infinity],
      [1 * 0 - 2 * 4, 0.5 * 4],
      [1 * 2 - 2 * 0.5, Infinity],
    ]);
  });

  it('refuses inner dimensions that differ, naming both shapes', () => {
    expect(() => g.matmul(g.constant(m64(2, 3, [1, 2, 3, 4, 5, 6])), g.constant(m64(2, 3, [1, 2, 3, 4, 5, 6])))).toThrow('matmul: 2x3 times 2x3');
  });
});
describe('transpose, sum, mean, addBias', () => {
  it('transpose of a 2×3: values and gradient', () => {
    const x = g.variable('x', m64(2, 3, [1, 2, 3, 4, 5, 6]));
    const t = g.transpose(x);
    expect(t.value.toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    backward(g.sum(g.mul(t, g.constant(m64(3, 2, [1, 2, 3, 4, 5, 6])))));
    expect(x.grad.toArray()).toEqual([
      [1, 3, 5],
      [2, 4, 6],
    ]);
  });

  it('sum and mean of a 2×3: values, and gradients 1 and 1/6 in every entry', () => {
    for (const [op, scale] of [
      [g.sum, 1],
      [g.mean, 1 / 6],
    ] as const) {
      const x = g.variable('x', m64(2, 3, [1, 2, 3, 4, 5, 6]));
      const y = op(x);
      expect(y.scalar).toBe(21 * scale);
      backward(g.mul(g.constant(3), y));
      expect(Array.from(x.grad.data)).toEqual(Array(6).fill(3 * scale));
    }
  });

  it('addBias: Z + b1ᵀ, ∂/∂b the row sums of G; recomputed by forward() when Z’s inputs change', () => {
    const w = g.variable('w', 2);
    const z = g.mul(w, g.constant(m64(2, 3, [1, 2, 3, 4, 5, 6])));
    const b = g.variable('b', m64(2, 1, [10, 20]));
    const y = g.addBias(z, b);
    expect(y.value.toArray()).toEqual([
      [12, 14, 16],
      [28, 30, 32],
    ]);
    const root = g.sum(g.mul(y, g.constant(m64(2, 3, [1, 2, 3, 4, 5, 6]))));
    expect(topologicalOrder(root)).toContain(z);
    backward(root);
    expect(Array.from(b.grad.data)).toEqual([6, 15]);
    expect(w.grad.data[0]).toBe(1 + 4 + 9 + 16 + 25 + 36); // through Z: the gradient reaches below add-bias
    w.value.data[0] = 1;
    forward(root);
    expect(y.value.toArray()).toEqual([
      [11, 12, 13],
      [24, 25, 26],
    ]);
  });

  it('addBias refuses a bias that is not a column of Z’s height', () => {
    const z = g.constant(m64(2, 3, [1, 2, 3, 4, 5, 6]));
    expect(() => g.addBias(z, g.constant(m64(3, 1, [1, 2, 3])))).toThrow('addBias: bias 3x1 for 2x3');
    expect(() => g.addBias(z, g.constant(m64(2, 2, [1, 2, 3, 4])))).toThrow('addBias: bias 2x2 for 2x3');
    expect(() => g.addBias(z, g.constant(m64(1, 2, [1, 2])))).toThrow('addBias: bias 1x2 for 2x3');
  });
});
describe('softmax', () => {
  const sm = (col: number[]) => {
    const e = col.map((v) => Math.exp(v - Math.max(...col)));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };

  it('per column, finite at logits of ±1000 (shifted by the column maximum); forward() recomputes it', () => {
    const z = g.variable('z', m64(3, 2, [1000, -1000, 999, -1001, 0, -2000]));
    const s = g.softmax(z);
    const c0 = sm([1000, 999, 0]),
      c1 = sm([-1000, -1001, -2000]);
    expect(Array.from(s.value.data)).toEqual([c0[0], c1[0], c0[1], c1[1], c0[2], c1[2]]);
    const root = g.sum(g.mul(s, g.constant(m64(3, 2, [1, 0, 0, 0, 0, 0]))));
    expect(topologicalOrder(root)).toContain(z);
    z.value.data.set([0, 0, 0, 0, 0, 0]);
    forward(root);
    expect(Array.from(s.value.data)).toEqual(Array(6).fill(1 / 3));
  });

  it('with a finite incoming gradient, ∂/∂z = s ⊙ (G − Gᵀs) per column, bit for bit', () => {
    const rng = new Rng(4);
    const z = wild(rng, 5, 3),
      G = wild(rng, 5, 3);
    const s = g.softmax(g.variable('z', z));
    pushBack(s, Array.from(G.data));
    const S = s.value;
    const want: number[] = Array(15).fill(0);
    let differs = 0; // against Σ_i G_i s_i (δ_ik − s_k), the same sum term by term
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let i = 0; i < 5; i++) dot += G.get(i, j) * S.get(i, j);
      for (let k = 0; k < 5; k++) {
        want[k * 3 + j] = S.get(k, j) * (G.get(k, j) - dot);
        let t = 0;
        for (let i = 0; i < 5; i++) t += G.get(i, j) * (S.get(i, j) * ((i === k ? 1 : 0) - S.get(k, j)));
        if (t !== want[k * 3 + j]) differs++;
      }
    }
    expect(Array.from(s.children[0].grad.data)).toEqual(want);
    expect(differs).toBeGreaterThan(0);
  });

  it('with an ∞ in the incoming gradient: term by term, Σ_i G_i s_i (δ_ik − s_k), masked where s_i rounds to 0', () => {
    // Column 0: z = (0, −800, 1), s_1 = 0 exactly, G = (1, ∞, 2): the ∞ meets only zero local derivatives.
    // Column 1: z = (0.5, 0, −0.5), G = (∞, 0, 0): +∞ into z_0, −∞ into the others.
    const z = g.variable('z', m64(3, 2, [0, 0.5, -800, 0, 1, -0.5]));
    const s = g.softmax(z);
    pushBack(s, [1, Infinity, Infinity, 0, 2, 0]);
    const S = s.value;
    const c0 = [0, 1, 2].map((k) => [0, 2].reduce((t, i) => t + [1, Infinity, 2][i] * S.get(i, 0) * ((i === k ? 1 : 0) - S.get(k, 0)), 0));
    expect(S.get(1, 0)).toBe(0);
    const GZ = z.grad;
    for (let k = 0; k < 3; k++) expect(GZ.get(k, 0), `∂/∂z_${k}`).toBeCloseTo(c0[k], 14);
    expect(GZ.get(1, 0)).toBe(0);
    expect(GZ.get(0, 0)).toBeCloseTo(S.get(0, 0) * (1 - S.get(0, 0)) - 2 * S.get(2, 0) * S.get(0, 0), 14);
    expect([GZ.get(0, 1), GZ.get(1, 1), GZ.get(2, 1)]).toEqual([Infinity, -Infinity, -Infinity]);
  });
});
describe('softmax log-likelihood', () => {
  it('value and gradient (s − y)/m on a 3×2 batch at logits of 1000, where e^z overflows', () => {
    const z = g.variable('z', m64(3, 2, [1000, 0, 999, 1, 0, 2]));
    const y = g.constant(m64(3, 2, [0, 0, 1, 0, 0, 1]));
    const f = g.softmaxLogLikelihood(z, y);
    const lse0 = 1000 + Math.log(1 + Math.exp(-1) + Math.exp(-1000)),
      lse1 = 2 + Math.log(Math.exp(-2) + Math.exp(-1) + 1);
    expect(f.scalar).toBeCloseTo((lse0 - 999 + (lse1 - 2)) / 2, 12);
    backward(f);
    const s0 = [1, Math.exp(-1), 0].map((v) => v / (1 + Math.exp(-1))),
      s1 = [Math.exp(-2), Math.exp(-1), 1].map((v) => v / (Math.exp(-2) + Math.exp(-1) + 1));
    const want = [(s0[0] - 0) / 2, (s1[0] - 0) / 2, (s0[1] - 1) / 2, (s1[1] - 0) / 2, (s0[2] - 0) / 2, (s1[2] - 1) / 2];
    Array.from(z.grad.data).forEach((v, i) => expect(v, `entry ${i}`).toBeCloseTo(want[i], 14));
  });

  it('a logit of −∞ whose target is 0 adds nothing (not 0 · ∞)', () => {
    const z = g.variable('z', m64(2, 2, [0, 0, -Infinity, 1]));
    const y = g.constant(m64(2, 2, [1, 0, 0, 1]));
    const f = g.softmaxLogLikelihood(z, y);
    expect(f.scalar).toBeCloseTo((0 + Math.log(1 + Math.exp(-1))) / 2, 14);
  });

  it('refuses targets of another shape than the logits', () => {
    const z = g.constant(m64(2, 2, [1, 2, 3, 4]));
    expect(() => g.softmaxLogLikelihood(z, g.constant(m64(2, 1, [1, 0])))).toThrow('softmaxLogLikelihood: targets must match the logits');
    expect(() => g.softmaxLogLikelihood(z, g.constant(m64(1, 2, [1, 0])))).toThrow('softmaxLogLikelihood: targets must match the logits');
  });
});
