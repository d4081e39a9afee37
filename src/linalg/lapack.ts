import { blasLibrary } from './blas.js';
import type { Kernels } from './kernels.js';
import { Matrix } from './matrix.js';

/**
 * Solving A X = B for a symmetric positive definite A (n × n, float64), as
 * kernel ridge regression needs. Two ways, the same answer:
 *
 * - LAPACK's dposv (Cholesky A = L Lᵀ, then two triangular solves), from the
 *   system library the blas provider loads when it exports it (OpenBLAS and
 *   MKL include LAPACK; the reference BLAS does not);
 * - otherwise our own blocked Cholesky, whose trailing updates go through
 *   the kernel seam's gemm (Golub & Van Loan, Matrix Computations, §4.2.9).
 *
 * Either costs n³/3 multiply-adds for the factorisation and 2n² per
 * right-hand side for the solves.
 */

type Fn = (...args: unknown[]) => unknown;

/** LAPACK from the blas provider's library, or why it is not there. */
export function loadLapack(): { library: string; dposv: Fn } | { error: string } {
  const r = blasLibrary();
  if ('error' in r) return r;
  try {
    // Fortran: every argument by reference; the hidden length of the character argument last (gfortran).
    const dposv = r.lib.func('void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb, int *info, size_t uplo_len)');
    return { library: r.library, dposv };
  } catch (e) {
    return { error: `${r.library} has no LAPACK dposv (${(e as Error).message.split('\n')[0]})` };
  }
}

/** Thrown when A is not (numerically) positive definite: the leading minor of this order is not positive. */
export class NotPositiveDefiniteError extends Error {
  override name = 'NotPositiveDefiniteError';
  constructor(readonly order: number) {
    super(`the matrix is not positive definite (leading minor of order ${order})`);
  }
}

/**
 * Solves A X = B with A symmetric positive definite. Only the lower
 * triangle of `a` (n × n, float64, row-major) is read, and it is
 * overwritten by the Cholesky factor L; `bt` holds Bᵀ, one right-hand side
 * per row (r × n, float64), and is overwritten by Xᵀ. Row-major lower is
 * column-major upper, so LAPACK gets uplo = 'U'; Bᵀ row-major is B
 * column-major, so LAPACK takes both as they are. Uses LAPACK when `kernels`
 * is the blas provider and its library has dposv; returns what solved it.
 */
export function solvePositiveDefinite(a: Matrix, bt: Matrix, kernels: Kernels, opts: { lapack?: boolean } = {}): string {
  const n = a.rows;
  if (a.cols !== n || bt.cols !== n) throw new Error(`solvePositiveDefinite: A is ${a.rows}x${a.cols}, Bᵀ is ${bt.rows}x${bt.cols}`);
  if (!(a.data instanceof Float64Array) || !(bt.data instanceof Float64Array)) throw new Error('solvePositiveDefinite: float64 only');
  if (opts.lapack !== false && kernels.name === 'blas') {
    const l = loadLapack();
    if ('dposv' in l) {
      const info = new Int32Array(1);
      l.dposv('U', new Int32Array([n]), new Int32Array([bt.rows]), a.data, new Int32Array([n]), bt.data, new Int32Array([n]), info, 1);
      if (info[0] > 0) throw new NotPositiveDefiniteError(info[0]);
      if (info[0] < 0) throw new Error(`dposv: argument ${-info[0]} is invalid`);
      return `LAPACK dposv (${l.library})`;
    }
  }
  cholesky(a, kernels);
  choleskySolve(a, bt);
  return `blocked Cholesky on the ${kernels.name} gemm`;
}

/**
 * A = L Lᵀ in place: L in the lower triangle of `a` (the upper triangle is
 * left as it was). Right-looking and blocked: for each block column k,
 *   L_kk = chol(A_kk)                 (unblocked, nb³/3)
 *   L_ik = A_ik L_kkᵀ⁻¹  for i > k     (triangular solves)
 *   A_ij ← A_ij − L_ik L_jkᵀ for j ≤ i (the trailing update: gemm)
 */
export function cholesky(a: Matrix, kernels: Kernels, nb = 128): void {
  const n = a.rows,
    A = a.data;
  const panel = new Float64Array(n * nb);
  const update = new Float64Array(nb * n);
  for (let k0 = 0; k0 < n; k0 += nb) {
    const kb = Math.min(nb, n - k0),
      k1 = k0 + kb;
    // L_kk = chol(A_kk)
    for (let j = k0; j < k1; j++) {
      let d = A[j * n + j];
      for (let p = k0; p < j; p++) d -= A[j * n + p] * A[j * n + p];
      if (!(d > 0)) throw new NotPositiveDefiniteError(j + 1);
      const ljj = Math.sqrt(d);
      A[j * n + j] = ljj;
      for (let i = j + 1; i < k1; i++) {
        let s = A[i * n + j];
        for (let p = k0; p < j; p++) s -= A[i * n + p] * A[j * n + p];
        A[i * n + j] = s / ljj;
      }
    }
    // L_ik = A_ik L_kkᵀ⁻¹: row i of the panel solves L_kk x = a_i (forward substitution)
    const m = n - k1;
    if (m === 0) break;
    for (let i = k1; i < n; i++) {
      const r = i * n;
      for (let j = k0; j < k1; j++) {
        let s = A[r + j];
        for (let p = k0; p < j; p++) s -= A[r + p] * A[j * n + p];
        A[r + j] = s / A[j * n + j];
      }
      panel.set(A.subarray(r + k0, r + k1), (i - k1) * kb); // P = L_{k1:n, k}, contiguous for gemm
    }
    // A_22 ← A_22 − P Pᵀ, lower triangle only, nb rows at a time: U = P_rows P_{0:end}ᵀ
    for (let i0 = 0; i0 < m; i0 += nb) {
      const rb = Math.min(nb, m - i0),
        cols = i0 + rb;
      const U = new Matrix(rb, cols, update.subarray(0, rb * cols));
      const Prows = new Matrix(rb, kb, panel.subarray(i0 * kb, (i0 + rb) * kb));
      const Pcols = new Matrix(cols, kb, panel.subarray(0, cols * kb));
      kernels.gemm(false, true, 1, Prows, Pcols, 0, U);
      for (let i = 0; i < rb; i++) {
        const r = (k1 + i0 + i) * n + k1,
          u = i * cols;
        for (let j = 0; j <= i0 + i; j++) A[r + j] -= U.data[u + j];
      }
    }
  }
}

/** Given L (lower triangle of `l`) with A = L Lᵀ, overwrites each row b of `bt` by A⁻¹ b: L y = b, then Lᵀ x = y. */
export function choleskySolve(l: Matrix, bt: Matrix): void {
  const n = l.rows,
    L = l.data,
    r = bt.rows;
  const xs = Array.from({ length: r }, (_, t) => bt.data.subarray(t * n, (t + 1) * n));
  // Row i of L is read once for all right-hand sides (it stays in cache).
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (const x of xs) {
      let s = x[i];
      for (let j = 0; j < i; j++) s -= L[row + j] * x[j];
      x[i] = s / L[row + i];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    const row = i * n;
    for (const x of xs) {
      const xi = (x[i] /= L[row + i]);
      for (let j = 0; j < i; j++) x[j] -= L[row + j] * xi;
    }
  }
}
