import { describe, expect, it } from 'vitest';
import { Matrix, jsKernels } from '../../src/linalg/index.js';
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
