import type { Kernels } from './kernels.js';
import { Matrix } from './matrix.js';

/**
 * Solving A X = B for a symmetric positive definite A (n × n, float64) by
 * the blocked Cholesky factorisation A = L Lᵀ and two triangular solves,
 * written as generators that yield between blocks: a caller on the event
 * loop (the learner harness) can stop between any two pieces, each at most
 * about `pieceWork` multiply-adds, and a synchronous caller drains them.
 *
 * The factorisation is right-looking by block columns of width nb, as
 * LAPACK's dpotrf (Golub & Van Loan, Matrix Computations, 4th ed., §4.2,
 * block Cholesky; Anderson et al., LAPACK Users' Guide, 3rd ed., dpotrf). With
 *
 *   A = [ A11  A21ᵀ ]     L = [ L11   0  ]     A11, L11: nb × nb
 *       [ A21  A22  ]         [ L21  L22 ]
 *
 * A = L Lᵀ reads, block by block,
 *
 *   A11 = L11 L11ᵀ                ⇒  L11 = chol(A11)            (potrf, nb³/6)
 *   A21 = L21 L11ᵀ                ⇒  L21 = A21 L11⁻ᵀ            (trsm, (n−nb)·nb²/2)
 *   A22 = L21 L21ᵀ + L22 L22ᵀ     ⇒  L22 = chol(A22 − L21 L21ᵀ) (syrk: the trailing update, (n−nb)²·nb/2)
 *
 * and the last line is the same problem, nb smaller: the loop below runs it
 * for k = 0, nb, 2nb, … Almost all of the n³/6 multiply-adds (n³/3 flops) are in the
 * trailing updates, a block of rows at a time, the lower triangle only:
 * through the kernel seam's gemm on contiguous copies of L21 (Matrix has no
 * leading dimension), the product then subtracted. potrf and trsm are our
 * loops below. With the blas provider all three are LAPACK's dpotrf and
 * BLAS's dtrsm, dgemm and dsyrk on A's memory in place (`native`, see
 * lapack.ts), as dpotrf itself runs them. Each entry of L is the same sum as
 * in the unblocked algorithm (nb = n), in another order: the two agree to
 * rounding (test/learners/solve.test.ts states the bound).
 */

/** Thrown when A is not (numerically) positive definite: the leading minor of this order is not positive. */
export class NotPositiveDefiniteError extends Error {
  override name = 'NotPositiveDefiniteError';
  constructor(readonly order: number) {
    super(`the matrix is not positive definite (leading minor of order ${order})`);
  }
}

/**
 * The two small steps of a block from a native library, on A's own memory
 * (row-major, leading dimension `ld`), in place; offsets are indices into `a`.
 */
export interface NativeBlocks {
  /** What they are, for the solver's name: `LAPACK dpotrf, dtrsm, dsyrk and dgemm (libopenblas.so.0)`. */
  readonly name: string;
  /** L11 = chol(A11) of the kb × kb block at `at`; 0, or the order (1 … kb) of the block's leading minor that is not positive. */
  potrf(a: Float64Array, at: number, kb: number, ld: number): number;
  /** B ← B L⁻ᵀ for the `rows` × kb block B at `bAt`, L the kb × kb lower triangle at `lAt`. */
  trsm(a: Float64Array, lAt: number, bAt: number, rows: number, kb: number, ld: number): void;
  /**
   * The trailing update of `rows` rows in place, lower triangle only: with R the rows × kb block of L21 at `rAt`,
   * C the cols × kb block at `cAt` (the panel's first cols rows) and T the target at `tAt`:
   * T[:, 0:cols] −= R Cᵀ (gemm), T[:, cols:cols+rows] −= R Rᵀ on and below its diagonal (syrk).
   */
  update?(a: Float64Array, rAt: number, cAt: number, tAt: number, rows: number, cols: number, kb: number, ld: number): void;
}

export interface CholeskyOptions {
  /** Block width (columns of L per step). */
  nb?: number;
  /** Multiply-adds in one piece between yields (the learner harness's PIECE_WORK). */
  pieceWork?: number;
  /** Native potrf and trsm; our loops without. */
  native?: NativeBlocks;
}

/** Multiply-adds in one piece unless told (the learner harness's PIECE_WORK, which the NTK passes). */
export const DEFAULT_PIECE_WORK = 2 ** 26;

/** The multiply-adds of columns 0 … k−1 of an n × n factorisation: Σ_(j<k) (n − j)²/2 ≈ (n³ − (n − k)³)/6. */
function factored(n: number, k: number): number {
  return (n ** 3 - (n - k) ** 3) / 6;
}

/** Multiply-adds of solve(): the factorisation's n³/6 and n² per right-hand side for the two triangular solves. */
export function solveWork(n: number, rhs: number): number {
  return factored(n, n) + rhs * n * n;
}

/**
 * A = L Lᵀ in place: L in the lower triangle of `a` (the upper triangle is
 * neither read nor written). Yields the multiply-adds done so far (of
 * n³/6) after each piece.
 */
export function* choleskySteps(a: Matrix, kernels: Kernels, opts: CholeskyOptions = {}): Generator<number, void> {
  const n = a.rows,
    A = float64(a);
  const nb = Math.max(1, Math.min(opts.nb ?? 128, n)),
    piece = opts.pieceWork ?? DEFAULT_PIECE_WORK;
  const potrf = opts.native ? opts.native.potrf : jsPotrf,
    trsm = opts.native ? opts.native.trsm : jsTrsm;
  const scratch = { panel: new Float64Array(0), update: new Float64Array(0) };
  for (let k0 = 0; k0 < n; k0 += nb) {
    const kb = Math.min(nb, n - k0),
      k1 = k0 + kb,
      m = n - k1;
    // Progress: this block's share of n³/6, in proportion to the work done in it.
    const blockWork = kb ** 3 / 6 + (m * kb * kb) / 2 + (m * m * kb) / 2;
    let done = 0;
    const at = () => factored(n, k0) + Math.min(1, done / blockWork) * (factored(n, k1) - factored(n, k0));
    // L11 = chol(A11)
    const bad = potrf(A, k0 * n + k0, kb, n);
    if (bad) throw new NotPositiveDefiniteError(k0 + bad);
    done += kb ** 3 / 6;
    if (m === 0) {
      yield at();
      break;
    }
    // L21 = A21 L11⁻ᵀ, a block of rows at a time
    const trsmRows = Math.max(1, Math.floor(piece / ((kb * kb) / 2)));
    for (let r0 = 0; r0 < m; r0 += trsmRows) {
      const rows = Math.min(trsmRows, m - r0);
      trsm(A, k0 * n + k0, (k1 + r0) * n + k0, rows, kb, n);
      done += (rows * kb * kb) / 2;
      yield at();
    }
    // A22 ← A22 − L21 L21ᵀ, lower triangle: rows i0 … i0+rb of the trailing matrix against its columns 0 … i0+rb.
    const rb = Math.min(m, Math.max(4, 4 * Math.floor(piece / (m * kb) / 4)));
    const update = opts.native?.update ? nativeUpdate(opts.native.update, A, n, k0, kb, rb) : seamUpdate(kernels, A, n, k0, kb, rb, scratch);
    for (const w of update) {
      done += w;
      yield at();
    }
  }
}

/** The trailing update in place, rb rows at a time: gemm for the rectangle left of their diagonal block, syrk for that block. Yields each piece's multiply-adds. */
function* nativeUpdate(update: NonNullable<NativeBlocks['update']>, A: Float64Array, n: number, k0: number, kb: number, rb: number): Generator<number> {
  const k1 = k0 + kb,
    m = n - k1;
  for (let i0 = 0; i0 < m; i0 += rb) {
    const rows = Math.min(rb, m - i0);
    update(A, (k1 + i0) * n + k0, k1 * n + k0, (k1 + i0) * n + k1, rows, i0, kb, n);
    yield rows * (i0 + rows) * kb;
  }
}

/**
 * The trailing update through the seam's gemm on contiguous copies, rb rows at a time: P = L21 copied, then
 * U = P[rows] P[0 : i0+rb]ᵀ and A22 −= U on and below the diagonal. Yields each piece's multiply-adds.
 */
function* seamUpdate(kernels: Kernels, A: Float64Array, n: number, k0: number, kb: number, rb: number, scratch: { panel: Float64Array; update: Float64Array }): Generator<number> {
  const k1 = k0 + kb,
    m = n - k1;
  if (scratch.panel.length < m * kb) scratch.panel = new Float64Array(m * kb);
  if (scratch.update.length < rb * m) scratch.update = new Float64Array(rb * m);
  const P = scratch.panel,
    update = scratch.update;
  for (let i = 0; i < m; i++) P.set(A.subarray((k1 + i) * n + k0, (k1 + i) * n + k1), i * kb);
  for (let i0 = 0; i0 < m; i0 += rb) {
    const rows = Math.min(rb, m - i0),
      cols = i0 + rows;
    const U = new Matrix(rows, cols, update.subarray(0, rows * cols));
    kernels.gemm(false, true, 1, new Matrix(rows, kb, P.subarray(i0 * kb, cols * kb)), new Matrix(cols, kb, P.subarray(0, cols * kb)), 0, U);
    for (let i = 0; i < rows; i++) {
      const r = (k1 + i0 + i) * n + k1,
        u = i * cols;
      for (let j = 0; j <= i0 + i; j++) A[r + j] -= update[u + j];
    }
    yield rows * cols * kb;
  }
}

/**
 * Given L (the lower triangle of `l`) with A = L Lᵀ, overwrites each row b
 * of `bt` (one right-hand side per row) by A⁻¹ b: L y = b, then Lᵀ x = y, by
 * blocks of nb unknowns. With Y = Bᵀ's transpose (n × r, a block of unknowns
 * is then a block of rows) and K = k0 … k1:
 *
 *   Y_K ← L_KK⁻¹ (Y_K − L_(K, <k0) Y_(<k0))       forward, k0 = 0, nb, …
 *   X_K ← L_KK⁻ᵀ (Y_K − L_(>k1, K)ᵀ X_(>k1))      backward, from the last block
 *
 * the products through gemm, the small triangles in our loops. Yields the
 * multiply-adds done so far (of r·n²).
 */
export function* choleskySolveSteps(l: Matrix, bt: Matrix, kernels: Kernels, opts: CholeskyOptions = {}): Generator<number, void> {
  const n = l.rows,
    r = bt.rows,
    L = float64(l),
    B = float64(bt);
  const nb = Math.max(1, Math.min(opts.nb ?? 128, n));
  const Y = new Float64Array(n * r);
  for (let t = 0; t < r; t++) for (let i = 0; i < n; i++) Y[i * r + t] = B[t * n + i];
  const strip = new Float64Array(nb * n); // L_(K, <k0) or L_(>k1, K), contiguous for gemm
  const G = new Float64Array(nb * r);
  let done = 0;
  for (let k0 = 0; k0 < n; k0 += nb) {
    const kb = Math.min(nb, n - k0),
      k1 = k0 + kb;
    if (k0 > 0) {
      // Y_K −= L_(K, <k0) Y_(<k0)
      for (let i = 0; i < kb; i++) strip.set(L.subarray((k0 + i) * n, (k0 + i) * n + k0), i * k0);
      const g = new Matrix(kb, r, G.subarray(0, kb * r));
      kernels.gemm(false, false, 1, new Matrix(kb, k0, strip.subarray(0, kb * k0)), new Matrix(k0, r, Y.subarray(0, k0 * r)), 0, g);
      for (let q = 0; q < kb * r; q++) Y[k0 * r + q] -= G[q];
    }
    // L_KK y_K = Y_K: y_i = (Y_i − Σ_(k0≤j<i) L_ij y_j) / L_ii
    for (let i = k0; i < k1; i++)
      for (let t = 0; t < r; t++) {
        let s = Y[i * r + t];
        for (let j = k0; j < i; j++) s -= L[i * n + j] * Y[j * r + t];
        Y[i * r + t] = s / L[i * n + i];
      }
    done += (r * (k1 * k1 - k0 * k0)) / 2;
    yield done;
  }
  for (let k0 = Math.floor((n - 1) / nb) * nb; k0 >= 0; k0 -= nb) {
    const k1 = Math.min(k0 + nb, n),
      kb = k1 - k0,
      m = n - k1;
    if (m > 0) {
      // X_K −= L_(>k1, K)ᵀ X_(>k1)
      for (let i = 0; i < m; i++) strip.set(L.subarray((k1 + i) * n + k0, (k1 + i) * n + k1), i * kb);
      const g = new Matrix(kb, r, G.subarray(0, kb * r));
      kernels.gemm(true, false, 1, new Matrix(m, kb, strip.subarray(0, m * kb)), new Matrix(m, r, Y.subarray(k1 * r, n * r)), 0, g);
      for (let q = 0; q < kb * r; q++) Y[k0 * r + q] -= G[q];
    }
    // L_KKᵀ x_K = Y_K: x_i = (Y_i − Σ_(i<j<k1) L_ji x_j) / L_ii, from the last; once x_i is known, its terms
    // L_ij x_i are taken from every Y_j, j < i, along row i of L (contiguous, where column i is not).
    for (let i = k1 - 1; i >= k0; i--) {
      const li = i * n;
      for (let t = 0; t < r; t++) Y[i * r + t] /= L[li + i];
      for (let j = k0; j < i; j++) {
        const lij = L[li + j];
        for (let t = 0; t < r; t++) Y[j * r + t] -= lij * Y[i * r + t];
      }
    }
    done += (r * ((n - k0) ** 2 - m * m)) / 2;
    yield done;
  }
  for (let t = 0; t < r; t++) for (let i = 0; i < n; i++) B[t * n + i] = Y[i * r + t];
}

/** A X = B: choleskySteps then choleskySolveSteps; yields the multiply-adds done so far, of solveWork(n, r). */
export function* solveSteps(a: Matrix, bt: Matrix, kernels: Kernels, opts: CholeskyOptions = {}): Generator<number, void> {
  const n = a.rows;
  if (a.cols !== n || bt.cols !== n) throw new Error(`solve: A is ${a.rows}x${a.cols}, Bᵀ is ${bt.rows}x${bt.cols}`);
  yield* choleskySteps(a, kernels, opts);
  const base = factored(n, n);
  for (const d of choleskySolveSteps(a, bt, kernels, opts)) yield base + d;
}

/** choleskySteps() run to its end. */
export function cholesky(a: Matrix, kernels: Kernels, nb = 128, native?: NativeBlocks): void {
  for (const _ of choleskySteps(a, kernels, { nb, native }));
}

/** choleskySolveSteps() run to its end. */
export function choleskySolve(l: Matrix, bt: Matrix, kernels: Kernels, nb = 128): void {
  for (const _ of choleskySolveSteps(l, bt, kernels, { nb }));
}

function float64(m: Matrix): Float64Array {
  if (!(m.data instanceof Float64Array)) throw new Error('cholesky: float64 only');
  return m.data;
}

/**
 * The unblocked Cholesky (LAPACK's dpotf2) of the kb × kb block at `at`, column by column:
 *   l_jj = √(a_jj − Σ_(p<j) l_jp²),   l_ij = (a_ij − Σ_(p<j) l_ip l_jp) / l_jj  for i > j.
 */
function jsPotrf(A: Float64Array, at: number, kb: number, ld: number): number {
  for (let j = 0; j < kb; j++) {
    const rj = at + j * ld;
    let d = A[rj + j];
    for (let p = 0; p < j; p++) d -= A[rj + p] * A[rj + p];
    if (!(d > 0)) return j + 1;
    const ljj = Math.sqrt(d);
    A[rj + j] = ljj;
    for (let i = j + 1; i < kb; i++) {
      const ri = at + i * ld;
      let s = A[ri + j];
      for (let p = 0; p < j; p++) s -= A[ri + p] * A[rj + p];
      A[ri + j] = s / ljj;
    }
  }
  return 0;
}

/** B ← B L⁻ᵀ row by row: each row b of B solves L x = b by forward substitution, x_j = (b_j − Σ_(p<j) x_p l_jp) / l_jj. */
function jsTrsm(A: Float64Array, lAt: number, bAt: number, rows: number, kb: number, ld: number): void {
  for (let i = 0; i < rows; i++) {
    const r = bAt + i * ld;
    for (let j = 0; j < kb; j++) {
      const lj = lAt + j * ld;
      let s = A[r + j];
      for (let p = 0; p < j; p++) s -= A[r + p] * A[lj + p];
      A[r + j] = s / A[lj + j];
    }
  }
}
