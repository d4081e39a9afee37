import { describe, expect, it } from 'vitest';
import { cholesky, choleskySolve, loadLapack, NotPositiveDefiniteError, solvePositiveDefinite } from '../../src/linalg/lapack.js';
import { jsKernels, loadProvider, Matrix, PROVIDERS } from '../../src/linalg/index.js';
import { Rng } from '../../src/base/rng.js';
import { providerUnavailable, randomMatrix } from '../helpers.js';

const loaded = await Promise.all(PROVIDERS.map((p) => loadProvider(p)));

/** A = G Gᵀ + n I: symmetric positive definite and well conditioned. */
function spd(rng: Rng, n: number): Matrix {
  const g = randomMatrix(rng, n, n);
  const a = Matrix.zeros(n, n, 'float64');
  jsKernels.gemm(false, true, 1, g, g, 0, a);
  for (let i = 0; i < n; i++) a.data[i * n + i] += n;
  return a;
}

/** The direct solve: Gaussian elimination with partial pivoting on [A | B], written out here. */
function gaussSolve(a: Matrix, bt: Matrix): Matrix {
  const n = a.rows,
    r = bt.rows;
  const M = a.toArray().map((row, i) => [...row, ...Array.from({ length: r }, (_, t) => bt.get(t, i))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(M[i][c]) > Math.abs(M[p][c])) p = i;
    [M[c], M[p]] = [M[p], M[c]];
    for (let i = c + 1; i < n; i++) {
      const f = M[i][c] / M[c][c];
      for (let j = c; j < n + r; j++) M[i][j] -= f * M[c][j];
    }
  }
  const x = Matrix.zeros(r, n, 'float64');
  for (let t = 0; t < r; t++)
    for (let i = n - 1; i >= 0; i--) {
      let s = M[i][n + t];
      for (let j = i + 1; j < n; j++) s -= M[i][j] * x.get(t, j);
      x.set(t, i, s / M[i][i]);
    }
  return x;
}

describe('kernel solve (A X = B, A symmetric positive definite)', () => {
  // 300 > the block size 128, so the blocked path runs its panel solves and gemm updates, with a ragged last block.
  for (const n of [7, 300])
    for (const r of loaded)
      for (const lapack of r.name === 'blas' ? [false, true] : [false])
        // LAPACK comes only with the blas provider
        it(`n = ${n}, ${r.name} provider, ${lapack ? 'LAPACK when the provider has it' : 'blocked Cholesky on its gemm'}: agrees with Gaussian elimination`, (ctx) => {
          if (!('kernels' in r)) return providerUnavailable(ctx, r);
          const rng = new Rng(n);
          const a = spd(rng, n),
            bt = randomMatrix(rng, 3, n);
          const want = gaussSolve(a, bt);
          const got = bt.clone();
          const lower = a.clone(); // only the lower triangle is read: the upper one is garbage here
          for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) lower.set(i, j, NaN);
          const how = solvePositiveDefinite(lower, got, r.kernels, { lapack });
          if (lapack) expect(how, 'loadLapack: ' + JSON.stringify(loadLapack())).toMatch(/^LAPACK dposv/);
          else expect(how).toMatch(/^blocked Cholesky/);
          for (let i = 0; i < want.data.length; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThan(1e-10 * (1 + Math.abs(want.data[i])));
        });

  it('the factor L satisfies L Lᵀ = A', () => {
    const n = 200,
      a = spd(new Rng(5), n),
      l = a.clone();
    cholesky(l, jsKernels, 64);
    const L = Matrix.zeros(n, n, 'float64');
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) L.set(i, j, l.get(i, j));
    const llt = Matrix.zeros(n, n, 'float64');
    jsKernels.gemm(false, true, 1, L, L, 0, llt);
    for (let i = 0; i < n * n; i++) expect(Math.abs(llt.data[i] - a.data[i])).toBeLessThan(1e-9);
    const bt = randomMatrix(new Rng(6), 2, n),
      x = bt.clone();
    choleskySolve(l, x);
    const ax = Matrix.zeros(n, 2, 'float64');
    jsKernels.gemm(false, true, 1, a, x, 0, ax);
    for (let i = 0; i < n; i++) for (let t = 0; t < 2; t++) expect(ax.get(i, t)).toBeCloseTo(bt.get(t, i), 9);
  });

  it('a matrix that is not positive definite is refused with the order of the failing minor', () => {
    const a = Matrix.from(3, 3, [4, 2, 0, 2, 1, 0, 0, 0, 1], 'float64'); // the 2×2 leading minor is 0
    expect(() => cholesky(a.clone(), jsKernels)).toThrow(NotPositiveDefiniteError);
    expect(() => cholesky(a.clone(), jsKernels)).toThrow(/order 2/);
  });
});
