import { blasLibrary } from './blas.js';
import { DEFAULT_PIECE_WORK, NotPositiveDefiniteError, solveSteps, type CholeskyOptions, type NativeBlocks } from './cholesky.js';
import type { Kernels } from './kernels.js';
import { Matrix } from './matrix.js';

export { cholesky, choleskySolve, NotPositiveDefiniteError } from './cholesky.js';

/**
 * Solving A X = B for a symmetric positive definite A (n × n, float64), as
 * kernel ridge regression needs. Two ways, the same answer:
 *
 * - our blocked Cholesky (cholesky.ts: LAPACK dpotrf's loop, Golub & Van
 *   Loan §4.2), whose trailing updates go through the kernel seam's gemm, or,
 *   when the blas provider's library exports LAPACK (OpenBLAS and MKL do; the
 *   reference BLAS does not), whose blocks are its dpotrf, dtrsm, dgemm and
 *   dsyrk in place (nativeBlocks). It yields between blocks:
 *   solvePositiveDefiniteSteps is what the NTK learner runs, so a signal
 *   stops its solve within one block;
 * - LAPACK's dposv in one call (Cholesky, then two triangular solves), which
 *   cannot be interrupted: solvePositiveDefinite with `lapack: 'dposv'`,
 *   kept as the tests' independent answer.
 *
 * Either costs n³/6 multiply-adds (n³/3 flops) for the factorisation and n² per
 * right-hand side for the two solves.
 */

type Fn = (...args: unknown[]) => unknown;

/** LAPACK (dposv, dpotrf) and CBLAS's dtrsm, dsyrk and dgemm from the blas provider's library, or why they are not there. */
export function loadLapack(): { library: string; dposv: Fn; dpotrf: Fn; dtrsm: Fn; dsyrk: Fn; dgemm: Fn } | { error: string } {
  const r = blasLibrary();
  if ('error' in r) return r;
  try {
    // Fortran: every argument by reference; the hidden length of the character argument last (gfortran).
    const dposv = r.lib.func('void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb, int *info, size_t uplo_len)');
    const dpotrf = r.lib.func('void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len)');
    const dtrsm = r.lib.func('void cblas_dtrsm(int order, int side, int uplo, int transa, int diag, int m, int n, double alpha, const double *a, int lda, double *b, int ldb)');
    const dsyrk = r.lib.func('void cblas_dsyrk(int order, int uplo, int trans, int n, int k, double alpha, const double *a, int lda, double beta, double *c, int ldc)');
    const dgemm = r.lib.func('void cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc)');
    return { library: r.library, dposv, dpotrf, dtrsm, dsyrk, dgemm };
  } catch (e) {
    return { error: `${r.library} has no LAPACK dposv and dpotrf or no cblas_dtrsm (${(e as Error).message.split('\n')[0]})` };
  }
}

const ROW_MAJOR = 101,
  NO_TRANS = 111,
  TRANS = 112,
  LOWER = 122,
  NON_UNIT = 131,
  RIGHT = 142;

/**
 * The blocked Cholesky's two small steps from LAPACK and CBLAS, when
 * `kernels` is the blas provider and its library has them; on A's memory in
 * place (koffi passes a typed array's subarray as a pointer to its first
 * entry, no copy). Row-major lower is column-major upper: dpotrf gets uplo
 * 'U'. dtrsm solves X op(L11) = B with op = ᵀ, on the right: X = B L11⁻ᵀ.
 */
export function nativeBlocks(kernels: Kernels): NativeBlocks | undefined {
  if (kernels.name !== 'blas') return undefined;
  const l = loadLapack();
  if ('error' in l) return undefined;
  const info = new Int32Array(1);
  /**
   * X = B L⁻ᵀ by halves of L = [La 0; Lb Lc] (and of B = [B1 B2], X = [X1 X2]): X1 Laᵀ = B1, then
   * X2 Lcᵀ = B2 − X1 Lbᵀ, the product through dgemm: OpenBLAS's dtrsm runs at a fraction of its dgemm's rate,
   * and this leaves it blocks of at most 64 columns. The same substitution sums, in another order.
   */
  const trsm = (a: Float64Array, lAt: number, bAt: number, rows: number, kb: number, ld: number): void => {
    if (kb <= 64) {
      l.dtrsm(ROW_MAJOR, RIGHT, LOWER, TRANS, NON_UNIT, rows, kb, 1, a.subarray(lAt), ld, a.subarray(bAt), ld);
      return;
    }
    const h = 32 * Math.ceil(kb / 64);
    trsm(a, lAt, bAt, rows, h, ld);
    l.dgemm(ROW_MAJOR, NO_TRANS, TRANS, rows, kb - h, h, -1, a.subarray(bAt), ld, a.subarray(lAt + h * ld), ld, 1, a.subarray(bAt + h), ld);
    trsm(a, lAt + h * ld + h, bAt + h, rows, kb - h, ld);
  };
  return {
    name: `LAPACK dpotrf, dtrsm, dsyrk and dgemm (${l.library})`,
    potrf: (a, at, kb, ld) => {
      l.dpotrf('U', new Int32Array([kb]), a.subarray(at), new Int32Array([ld]), info, 1);
      if (info[0] < 0) throw new Error(`dpotrf: argument ${-info[0]} is invalid`);
      return info[0];
    },
    trsm,
    update: (a, rAt, cAt, tAt, rows, cols, kb, ld) => {
      if (cols > 0) l.dgemm(ROW_MAJOR, NO_TRANS, TRANS, rows, cols, kb, -1, a.subarray(rAt), ld, a.subarray(cAt), ld, 1, a.subarray(tAt), ld);
      l.dsyrk(ROW_MAJOR, LOWER, NO_TRANS, rows, kb, -1, a.subarray(rAt), ld, 1, a.subarray(tAt + cols), ld);
    },
  };
}

/** Block width of the blocked solve: the trailing update's products then have an inner dimension of 256, where gemm runs near its peak. */
export const SOLVE_BLOCK = 256;

/**
 * A piece of native work may be this many times `pieceWork`: that size is
 * tens of milliseconds in our js and wasm loops, and OpenBLAS's dgemm is
 * about ten times faster per core. Pieces of 2^26 multiply-adds made the
 * solve at n = 8,000 1.5–3× slower than dposv (each product of 32 rows
 * repacked its whole second operand); pieces of 2^29 matched it.
 */
export const NATIVE_PIECE_SCALE = 8;

/**
 * A X = B by the blocked Cholesky, yielding the multiply-adds done so far (of
 * solveWork(n, r)) between pieces of at most about `pieceWork` (times
 * NATIVE_PIECE_SCALE for LAPACK's pieces); returns what solved it. `a` and
 * `bt` as in solvePositiveDefinite.
 */
export function* solvePositiveDefiniteSteps(a: Matrix, bt: Matrix, kernels: Kernels, opts: CholeskyOptions & { lapack?: boolean } = {}): Generator<number, string> {
  const native = opts.lapack === false ? undefined : nativeBlocks(kernels);
  const pieceWork = (opts.pieceWork ?? DEFAULT_PIECE_WORK) * (native ? NATIVE_PIECE_SCALE : 1);
  yield* solveSteps(a, bt, kernels, { nb: SOLVE_BLOCK, ...opts, pieceWork, native });
  return native ? `blocked Cholesky, ${native.name}` : `blocked Cholesky on the ${kernels.name} gemm`;
}

/**
 * Solves A X = B with A symmetric positive definite. Only the lower
 * triangle of `a` (n × n, float64, row-major) is read, and it is
 * overwritten by the Cholesky factor L; `bt` holds Bᵀ, one right-hand side
 * per row (r × n, float64), and is overwritten by Xᵀ. Row-major lower is
 * column-major upper, so LAPACK gets uplo = 'U'; Bᵀ row-major is B
 * column-major, so LAPACK takes both as they are. With `lapack: 'dposv'`,
 * LAPACK's dposv in one call when `kernels` is the blas provider and its
 * library has it; otherwise solvePositiveDefiniteSteps run to its end (with
 * LAPACK's pieces unless `lapack` is false). Returns what solved it.
 */
export function solvePositiveDefinite(a: Matrix, bt: Matrix, kernels: Kernels, opts: { lapack?: boolean | 'dposv'; nb?: number } = {}): string {
  const n = a.rows;
  if (a.cols !== n || bt.cols !== n) throw new Error(`solvePositiveDefinite: A is ${a.rows}x${a.cols}, Bᵀ is ${bt.rows}x${bt.cols}`);
  if (!(a.data instanceof Float64Array) || !(bt.data instanceof Float64Array)) throw new Error('solvePositiveDefinite: float64 only');
  if (opts.lapack === 'dposv' && kernels.name === 'blas') {
    const l = loadLapack();
    if ('dposv' in l) {
      const info = new Int32Array(1);
      l.dposv('U', new Int32Array([n]), new Int32Array([bt.rows]), a.data, new Int32Array([n]), bt.data, new Int32Array([n]), info, 1);
      if (info[0] > 0) throw new NotPositiveDefiniteError(info[0]);
      if (info[0] < 0) throw new Error(`dposv: argument ${-info[0]} is invalid`);
      return `LAPACK dposv (${l.library})`;
    }
  }
  const steps = solvePositiveDefiniteSteps(a, bt, kernels, { lapack: opts.lapack !== false, ...(opts.nb ? { nb: opts.nb } : {}) });
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
