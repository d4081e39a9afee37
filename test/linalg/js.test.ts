import { describe, expect, it } from 'vitest';
import { type DType, jsKernels, Matrix } from '../../src/linalg/index.js';
import { Rng } from '../../src/base/rng.js';
import { gemmOperands, randomMatrix } from '../helpers.js';

/** C = alpha op(A) op(B) + beta C by the definition, in float64. */
function naive(tA: boolean, tB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): number[] {
  const m = c.rows,
    n = c.cols,
    k = tA ? a.rows : a.cols;
  const out: number[] = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (tA ? a.get(p, i) : a.get(i, p)) * (tB ? b.get(j, p) : b.get(p, j));
      out.push(alpha * s + beta * c.get(i, j));
    }
  return out;
}

describe('js gemm', () => {
  const rng = new Rng(7);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 9, 5],
    [7, 1, 3],
    [5, 6, 1],
    [13, 11, 17],
    [33, 2, 65],
  ];
  for (const dtype of ['float64', 'float32'] as const)
    for (const [m, n, k] of shapes)
      for (const tA of [false, true])
        for (const tB of [false, true])
          it(`${dtype} ${m}x${n}x${k} transA=${tA} transB=${tB}`, () => {
            const [a, b] = gemmOperands(rng, tA, tB, m, n, k, dtype);
            const c = randomMatrix(rng, m, n, dtype);
            const alpha = 0.5 + rng.uniform(),
              beta = rng.uniform() - 0.5;
            const want = naive(tA, tB, alpha, a, b, beta, c);
            jsKernels.gemm(tA, tB, alpha, a, b, beta, c);
            const tol = dtype === 'float64' ? 1e-12 : 1e-4;
            Array.from(c.data).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]))));
          });

  it('beta = 0 ignores NaN in C, as BLAS does', () => {
    const a = Matrix.from(2, 2, [1, 2, 3, 4], 'float64');
    const c = Matrix.from(2, 2, [NaN, NaN, NaN, NaN], 'float64');
    jsKernels.gemm(false, false, 1, a, a, 0, c);
    expect(c.toArray()).toEqual([
      [7, 10],
      [15, 22],
    ]);
  });

  it('rejects mismatched shapes', () => {
    expect(() => jsKernels.gemm(false, false, 1, Matrix.zeros(2, 3), Matrix.zeros(2, 3), 0, Matrix.zeros(2, 3))).toThrow(/shape/);
  });

  it('rowSums gives alpha·X·1 + beta·out', () => {
    const out = Float64Array.from([1, 1]);
    jsKernels.rowSums(Matrix.from(2, 3, [1, 2, 3, 4, 5, 6], 'float64'), 0.5, 2, out);
    expect(Array.from(out)).toEqual([5, 9.5]);
  });
});

/** Entries of mixed sign and magnitude (1e-3 … 1e3), so that sums in another order round differently. */
function wild(rng: Rng, rows: number, cols: number, dtype: DType): Matrix {
  return Matrix.from(
    rows,
    cols,
    Array.from({ length: rows * cols }, () => rng.normal() * 10 ** (rng.int(7) - 3)),
    dtype,
  );
}

/**
 * C ← alpha·op(A)·op(B) + beta·C in the js provider's order, element by element: C is first scaled (beta = 0 clears
 * it, beta = 1 leaves it), then, in the rows that fall in whole blocks of four, each whole group of four products
 * (p = 4t … 4t+3) is summed left to right in float64 and added to C_ij, and the remaining products are added one at
 * a time; the last m mod 4 rows add every product one at a time. Each product is (alpha·op(A)_ip)·op(B)_pj, and each
 * addition to C is rounded to C's precision.
 */
function reference(tA: boolean, tB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix, blocks = true): number[] {
  const m = c.rows,
    n = c.cols,
    k = tA ? a.rows : a.cols;
  const round = c.dtype === 'float32' ? Math.fround : (x: number) => x;
  const A = (i: number, p: number) => alpha * (tA ? a.get(p, i) : a.get(i, p));
  const B = (p: number, j: number) => (tB ? b.get(j, p) : b.get(p, j));
  const blockedRows = blocks ? 4 * Math.floor(m / 4) : 0; // without blocks: one product at a time everywhere
  const out: number[] = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let v = beta === 0 ? 0 : beta === 1 ? c.get(i, j) : round(beta * c.get(i, j));
      if (alpha !== 0) {
        let p = 0;
        if (i < blockedRows) for (; p + 4 <= k; p += 4) v = round(v + (A(i, p) * B(p, j) + A(i, p + 1) * B(p + 1, j) + A(i, p + 2) * B(p + 2, j) + A(i, p + 3) * B(p + 3, j)));
        for (; p < k; p++) v = round(v + A(i, p) * B(p, j));
      }
      out.push(v);
    }
  return out;
}

/** out_i ← alpha·s_i + beta·out_i with s_i = (s0 + s1) + (s2 + s3), s_r the float64 sum of X_i,4t+r over whole groups of four, the tail added to s0. */
function rowSumsReference(x: Matrix, alpha: number, beta: number, out: ArrayLike<number>, dtype: DType): number[] {
  const round = dtype === 'float32' ? Math.fround : (v: number) => v;
  const n = x.cols;
  return Array.from({ length: x.rows }, (_, i) => {
    const s = [0, 0, 0, 0];
    let j = 0;
    for (; j + 4 <= n; j += 4) for (let r = 0; r < 4; r++) s[r] += x.get(i, j + r);
    for (; j < n; j++) s[0] += x.get(i, j);
    return round(alpha * (s[0] + s[1] + (s[2] + s[3])) + (beta === 0 ? 0 : beta * out[i]));
  });
}

// The js provider is the reference every other provider is held to, and "the same seed and provider give the same
// numbers bit for bit" (docs/architecture.md): so its results are pinned here to the last bit, against its summation
// order written out per element, not only within a tolerance.
describe('js gemm, bit for bit', () => {
  for (const dtype of ['float64', 'float32'] as const)
    for (const tA of [false, true])
      for (const tB of [false, true])
        it(`${dtype} transA=${tA} transB=${tB}: every m, k in 1…9 (whole blocks of four and every tail), n = 1 and 3, beta = 0, 1, −0.75`, () => {
          const rng = new Rng(41);
          let differs = 0; // entries where this order and one product at a time round differently
          for (let m = 1; m <= 9; m++)
            for (let k = 1; k <= 9; k++)
              for (const n of [1, 3])
                for (const beta of [0, 1, -0.75]) {
                  const a = tA ? wild(rng, k, m, dtype) : wild(rng, m, k, dtype);
                  const b = tB ? wild(rng, n, k, dtype) : wild(rng, k, n, dtype);
                  const c = wild(rng, m, n, dtype);
                  const alpha = [1, -1.5, 0.3][rng.int(3)];
                  const want = reference(tA, tB, alpha, a, b, beta, c);
                  const plain = reference(tA, tB, alpha, a, b, beta, c, false);
                  jsKernels.gemm(tA, tB, alpha, a, b, beta, c);
                  expect(Array.from(c.data), `${m}x${n}x${k} alpha=${alpha} beta=${beta}`).toEqual(want);
                  differs += plain.filter((v, i) => v !== want[i]).length;
                }
          expect(differs).toBeGreaterThan(10); // so these entries tell the blocked order from the plain one
        });

  it('the blocked order is not the plain dot product: the two differ in the last bit on these entries', () => {
    // So the test above can tell the 4×4 blocks from one product at a time: for m = k = 4, n = 1,
    // C = 1 + (2^53 − 2^53 + 0 + 0) = 1 in the blocked order, but ((1 + 2^53) − 2^53) = 0 one product at a time.
    for (const dtype of ['float64'] as const) {
      const a = Matrix.from(4, 4, [2 ** 53, -(2 ** 53), 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], dtype);
      const b = Matrix.from(4, 1, [1, 1, 1, 1], dtype);
      const c = Matrix.from(4, 1, [1, 0, 0, 0], dtype);
      jsKernels.gemm(false, false, 1, a, b, 1, c);
      expect(Array.from(c.data)).toEqual([1, 4, 8, 12]);
    }
  });

  it('a single row of three (the row tail) adds one product at a time: 1 + 2^53 − 2^53 is 0 there', () => {
    const a = Matrix.from(1, 4, [2 ** 53, -(2 ** 53), 0, 0], 'float64');
    const b = Matrix.from(4, 1, [1, 1, 1, 1], 'float64');
    const c = Matrix.from(1, 1, [1], 'float64');
    jsKernels.gemm(false, false, 1, a, b, 1, c);
    expect(c.get(0, 0)).toBe(0);
  });

  it('alpha = 0 leaves beta·C and never reads A or B, as BLAS does (∞ and NaN in them do not leak in)', () => {
    for (const dtype of ['float64', 'float32'] as const)
      for (const [tA, tB] of [
        [false, false],
        [true, true],
      ]) {
        const a = Matrix.from(
          5,
          5,
          Array.from({ length: 25 }, (_, i) => (i % 2 ? Infinity : NaN)),
          dtype,
        );
        const c = Matrix.from(
          5,
          5,
          Array.from({ length: 25 }, (_, i) => i - 12),
          dtype,
        );
        jsKernels.gemm(tA, tB, 0, a, a, 0.5, c);
        expect(Array.from(c.data)).toEqual(Array.from({ length: 25 }, (_, i) => 0.5 * (i - 12)));
        jsKernels.gemm(tA, tB, 0, a, a, 1, c);
        expect(Array.from(c.data)).toEqual(Array.from({ length: 25 }, (_, i) => 0.5 * (i - 12)));
      }
  });

  it('k = 0: op(A)·op(B) is the zero matrix, so C = beta·C', () => {
    const c = Matrix.from(2, 3, [1, 2, 3, 4, 5, 6], 'float64');
    jsKernels.gemm(false, false, 2, Matrix.zeros(2, 0, 'float64'), Matrix.zeros(0, 3, 'float64'), -2, c);
    expect(Array.from(c.data)).toEqual([-2, -4, -6, -8, -10, -12]);
    jsKernels.gemm(true, true, 2, Matrix.zeros(0, 2, 'float64'), Matrix.zeros(3, 0, 'float64'), 0, c);
    expect(Array.from(c.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('beta = 1 accumulates onto C; beta = 0 overwrites it, NaN and all', () => {
    const a = Matrix.from(5, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'float32');
    const b = Matrix.from(2, 1, [1, -1], 'float32');
    const c = Matrix.from(5, 1, [100, 200, 300, 400, 500], 'float32');
    jsKernels.gemm(false, false, 1, a, b, 1, c);
    expect(Array.from(c.data)).toEqual([99, 199, 299, 399, 499]);
    c.data.fill(NaN);
    jsKernels.gemm(false, false, 1, a, b, 0, c);
    expect(Array.from(c.data)).toEqual([-1, -1, -1, -1, -1]);
  });

  it('operands that are views into larger buffers: only the view of C is written', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const rng = new Rng(5);
      const Buf = dtype === 'float64' ? Float64Array : Float32Array;
      const buffer = new Buf(3 + 7 * 5 + 3).fill(42);
      const c = new Matrix(7, 5, buffer.subarray(3, 3 + 35));
      for (const [tA, tB] of [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ]) {
        const a = tA ? wild(rng, 6, 7, dtype) : wild(rng, 7, 6, dtype);
        const b = tB ? wild(rng, 5, 6, dtype) : wild(rng, 6, 5, dtype);
        const want = reference(tA, tB, 1, a, b, 0.5, c);
        jsKernels.gemm(tA, tB, 1, a, b, 0.5, c);
        expect(Array.from(c.data)).toEqual(want);
        expect([...buffer.subarray(0, 3), ...buffer.subarray(38)]).toEqual([42, 42, 42, 42, 42, 42]);
      }
    }
  });

  it('transB after a larger product: the reused scratch buffer holds only this Bᵀ', () => {
    const rng = new Rng(8);
    const big = wild(rng, 20, 30, 'float64');
    jsKernels.gemm(false, true, 1, wild(rng, 2, 30, 'float64'), big, 0, Matrix.zeros(2, 20, 'float64'));
    const a = wild(rng, 3, 2, 'float64'),
      b = wild(rng, 4, 2, 'float64'),
      c = Matrix.zeros(3, 4, 'float64');
    jsKernels.gemm(false, true, 1, a, b, 0, c);
    expect(Array.from(c.data)).toEqual(reference(false, true, 1, a, b, 0, c));
  });
});
describe('js rowSums', () => {
  for (const dtype of ['float64', 'float32'] as const)
    it(`${dtype}: bit for bit, for rows of 1…13 entries (whole groups of four and every tail), beta = 0, 1, 0.5`, () => {
      const rng = new Rng(77);
      for (let n = 1; n <= 13; n++)
        for (const beta of [0, 1, 0.5]) {
          const x = wild(rng, 3, n, dtype);
          const out = wild(rng, 3, 1, dtype).data;
          const alpha = [1, -0.25][rng.int(2)];
          const want = rowSumsReference(x, alpha, beta, out, dtype);
          jsKernels.rowSums(x, alpha, beta, out);
          expect(Array.from(out), `n=${n} beta=${beta}`).toEqual(want);
        }
    });

  it('sums with four running sums: 1 + 2^53 + 1 − 2^53 is 1, not the 0 of one add at a time', () => {
    const out = new Float64Array(2);
    jsKernels.rowSums(Matrix.from(2, 4, [1, 2 ** 53, 1, -(2 ** 53), 1, 2, 3, 4], 'float64'), 1, 0, out);
    expect(Array.from(out)).toEqual([1, 10]);
  });

  it('exact sums of rows longer than four, scaled, plus beta·out', () => {
    const out = Float64Array.from([3, -2]);
    jsKernels.rowSums(Matrix.from(2, 9, [1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -4, -8, -16, -32, -64, -128, -256], 'float64'), 0.5, 2, out);
    expect(Array.from(out)).toEqual([0.5 * 45 + 6, 0.5 * -511 - 4]);
  });

  it('beta = 0 ignores NaN in out, as gemm does', () => {
    const out = Float32Array.from([NaN, NaN]);
    jsKernels.rowSums(Matrix.from(2, 2, [1, 2, 3, 4], 'float32'), 1, 0, out);
    expect(Array.from(out)).toEqual([3, 7]);
  });

  it('refuses an out of the wrong length', () => {
    expect(() => jsKernels.rowSums(Matrix.zeros(3, 2), 1, 0, new Float32Array(2))).toThrow('rowSums: out has 2 entries, X has 3 rows');
    expect(() => jsKernels.rowSums(Matrix.zeros(3, 2), 1, 0, new Float32Array(4))).toThrow('rowSums: out has 4 entries, X has 3 rows');
  });
});
