import { describe, expect, it } from 'vitest';
import { cholesky, choleskySolve, loadLapack, nativeBlocks, NotPositiveDefiniteError, solvePositiveDefinite, solvePositiveDefiniteSteps } from '../../src/linalg/lapack.js';
import { choleskySteps, solveWork } from '../../src/linalg/cholesky.js';
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
  // 300 > the block size 64, so the blocked path runs its panel solves and gemm updates, with a ragged last block (44).
  for (const n of [7, 300])
    for (const r of loaded)
      for (const lapack of r.name === 'blas' ? ([false, true, 'dposv'] as const) : [false])
        // LAPACK comes only with the blas provider
        it(`n = ${n}, ${r.name} provider, ${lapack === 'dposv' ? 'LAPACK dposv' : lapack ? "blocked Cholesky on LAPACK's blocks" : 'blocked Cholesky on its gemm'}: agrees with Gaussian elimination`, (ctx) => {
          if (!('kernels' in r)) return providerUnavailable(ctx, r);
          const rng = new Rng(n);
          const a = spd(rng, n),
            bt = randomMatrix(rng, 3, n);
          const want = gaussSolve(a, bt);
          const got = bt.clone();
          const lower = a.clone(); // only the lower triangle is read: the upper one is garbage here
          for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) lower.set(i, j, NaN);
          const how = solvePositiveDefinite(lower, got, r.kernels, { lapack, nb: 64 });
          if (lapack === 'dposv') expect(how, 'loadLapack: ' + JSON.stringify(loadLapack())).toMatch(/^LAPACK dposv/);
          else if (lapack) expect(how, 'loadLapack: ' + JSON.stringify(loadLapack())).toMatch(/^blocked Cholesky, LAPACK dpotrf, dtrsm, dsyrk and dgemm \(/);
          else expect(how).toBe(`blocked Cholesky on the ${r.name} gemm`);
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
    choleskySolve(l, x, jsKernels, 64);
    const ax = Matrix.zeros(n, 2, 'float64');
    jsKernels.gemm(false, true, 1, a, x, 0, ax);
    for (let i = 0; i < n; i++) for (let t = 0; t < 2; t++) expect(ax.get(i, t)).toBeCloseTo(bt.get(t, i), 9);
  });

  it('a matrix that is not positive definite is refused with the order of the failing minor', () => {
    const a = Matrix.from(3, 3, [4, 2, 0, 2, 1, 0, 0, 0, 1], 'float64'); // the 2×2 leading minor is 0
    expect(() => cholesky(a.clone(), jsKernels)).toThrow(NotPositiveDefiniteError);
    expect(() => cholesky(a.clone(), jsKernels)).toThrow(/order 2/);
  });

  // A singular minor in the second block (nb = 3): its order counts from the matrix's first column, as LAPACK's info does.
  for (const r of loaded)
    it(`${r.name} provider: a minor that is not positive in a later block is refused with its order (4)`, (ctx) => {
      if (!('kernels' in r)) return providerUnavailable(ctx, r);
      const a = Matrix.zeros(6, 6, 'float64');
      for (const i of [0, 1, 2, 4, 5]) a.set(i, i, 1); // diag(1, 1, 1, 0, 1, 1)
      const bt = Matrix.zeros(1, 6, 'float64');
      expect(() => solvePositiveDefinite(a.clone(), bt.clone(), r.kernels, { nb: 3 })).toThrow(/order 4\)$/);
      if (r.name === 'blas') expect(() => solvePositiveDefinite(a.clone(), bt.clone(), r.kernels, { lapack: 'dposv' })).toThrow(/order 4\)$/); // LAPACK's own answer
    });

  /*
   * The blocked factor against the unblocked one (nb = n: column by column, LAPACK's dpotf2), and LAPACK's dposv.
   * Each computed factor L̂ is the exact factor of a nearby matrix: L̂L̂ᵀ = A + E with |E| ≤ γ_(n+1)|L̂||L̂ᵀ|,
   * γ_k = ku/(1 − ku), u = 2⁻⁵³ (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., Thm 10.3). The proof
   * needs only that each l_ij is its defining sum evaluated in some order; the blocked algorithm sums the same
   * products in another order (partly inside gemm, then subtracted), so the bound holds for both. Then
   * ‖E‖_F ≤ γ_(n+1)‖L̂‖_F² = γ_(n+1)·trace(A) (to first order), and the perturbation bound of the Cholesky factor
   * (Sun 1991; Higham Thm 10.8), ‖ΔL‖_F ≤ 2^(−1/2) κ₂(A) ‖L‖₂ ‖E‖_F / ‖A‖₂ with ‖L‖₂ = ‖A‖₂^(1/2), gives for two
   * computed factors (each within that of the exact L)
   *   ‖L̂_blocked − L̂_unblocked‖_F ≤ √2 · κ₂(A) · γ_(n+1) · trace(A) / ‖A‖₂^(1/2).
   * For A = G Gᵀ + nI: λ_min ≥ n, λ_max ≤ n + ‖G‖_F², so κ₂(A) ≤ 1 + ‖G‖_F²/n, and ‖A‖₂ ≥ max_i a_ii.
   * At n = 300 the bound is 9.9e-8 (‖L‖_F = 424); measured: 1.6e-13 (js, wasm, blas), 1.8e-13 (blas with LAPACK's
   * pieces). A block step that went wrong (a piece of the trailing update skipped or doubled) is off by O(1).
   */
  const n = 300,
    rng = new Rng(11),
    g = randomMatrix(rng, n, n);
  const A = Matrix.zeros(n, n, 'float64');
  jsKernels.gemm(false, true, 1, g, g, 0, A);
  for (let i = 0; i < n; i++) A.data[i * n + i] += n;
  let trace = 0,
    maxDiag = 0;
  for (let i = 0; i < n; i++) {
    trace += A.get(i, i);
    maxDiag = Math.max(maxDiag, A.get(i, i));
  }
  let frobenius2 = 0; // ‖G‖_F²
  for (const x of g.data) frobenius2 += x * x;
  const kappa = 1 + frobenius2 / n;
  const u = 2 ** -53,
    gamma = ((n + 1) * u) / (1 - (n + 1) * u);
  const bound = (Math.SQRT2 * kappa * gamma * trace) / Math.sqrt(maxDiag);
  const unblocked = A.clone();
  cholesky(unblocked, jsKernels, n);
  /** ‖L̂₁ − L̂₂‖_F over the lower triangles. */
  const distance = (l1: Matrix, l2: Matrix) => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) s += (l1.get(i, j) - l2.get(i, j)) ** 2;
    return Math.sqrt(s);
  };

  for (const r of loaded)
    for (const native of r.name === 'blas' ? [false, true] : [false])
      it(`${r.name} provider${native ? " on LAPACK's blocks" : ''}: the blocked factor (nb = 64) equals the unblocked one to rounding (‖ΔL‖_F within the bound)`, (ctx) => {
        if (!('kernels' in r)) return providerUnavailable(ctx, r);
        const blocks = native ? nativeBlocks(r.kernels) : undefined;
        if (native) expect(blocks, 'loadLapack: ' + JSON.stringify(loadLapack())).toBeDefined();
        const blocked = A.clone();
        cholesky(blocked, r.kernels, 64, blocks);
        const d = distance(blocked, unblocked);
        expect(d).toBeLessThan(bound); // NaN fails here too
      });

  it("LAPACK's dposv factor equals the unblocked one within the same bound", (ctx) => {
    const blas = loaded.find((r) => r.name === 'blas');
    if (!blas || !('kernels' in blas)) return providerUnavailable(ctx, blas ?? { name: 'blas', error: 'not loaded' });
    const l = A.clone();
    expect(solvePositiveDefinite(l, Matrix.zeros(1, n, 'float64'), blas.kernels, { lapack: 'dposv' })).toMatch(/^LAPACK dposv/);
    expect(distance(l, unblocked)).toBeLessThan(bound);
  });

  it('the steps yield after pieces of at most pieceWork, their counts rising to solveWork(n, r)', () => {
    const a = A.clone(),
      bt = randomMatrix(new Rng(12), 3, n);
    const counts: number[] = [];
    const steps = solvePositiveDefiniteSteps(a, bt, jsKernels, { nb: 64, pieceWork: 64 * 64 * 20, lapack: false });
    for (let r = steps.next(); !r.done; r = steps.next()) counts.push(r.value);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]);
    expect(counts.at(-1)).toBeCloseTo(solveWork(n, 3), 6);
    // 5 blocks: trsm pieces of 40 rows, update pieces of ≥ 4 rows, and one yield per block of each triangular solve
    expect(counts.length).toBeGreaterThan(50);
    // the factorisation's own counts: n³/6 at its end (Σ_j (n − j)²/2 multiply-adds, Golub & Van Loan's n³/3 flops)
    const c = [...choleskySteps(A.clone(), jsKernels, { nb: 64 })];
    expect(c.at(-1)).toBeCloseTo(n ** 3 / 6, 6);
  });
});
