import type { Float, Matrix } from './matrix.js';

/** Transpose flag of gemm: op(X) = X or Xᵀ. */
export type Trans = boolean;

/**
 * The kernel seam: every provider (js, blas, wasm, tensorflow) implements this
 * interface and is held to the js provider's answers.
 */
export interface Kernels {
  readonly name: string;
  /**
   * BLAS gemm: C ← alpha · op(A) · op(B) + beta · C, with op(X) = Xᵀ when the
   * flag is set. C must not alias A or B. beta = 0 ignores C's old contents
   * (even NaN), as BLAS does.
   */
  gemm(transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void;
  /** out_i ← alpha · Σ_j X_ij + beta · out_i (the bias gradient δ·1). */
  rowSums(x: Matrix, alpha: number, beta: number, out: Float): void;
}

/** Checks gemm operand shapes; shared by every provider. */
export function gemmShape(transA: Trans, transB: Trans, a: Matrix, b: Matrix, c: Matrix): { m: number; n: number; k: number } {
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb || c.rows !== m || c.cols !== n) {
    throw new Error(`gemm shape mismatch: op(A) ${m}x${k}, op(B) ${kb}x${n}, C ${c.rows}x${c.cols}`);
  }
  return { m, n, k };
}
