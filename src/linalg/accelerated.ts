import { gemmShape, type Kernels, type Trans } from './kernels.js';
import { jsKernels } from './js.js';
import type { Matrix } from './matrix.js';

/** The products an accelerated provider computes itself. */
export interface Takes {
  /** The fewest multiply-adds m·n·k worth a call: below, the call costs more than the product. */
  minWork: number;
  /** Whether it computes float64 (blas does; wasm and tfjs are float32 only). */
  float64: boolean;
}

/** An accelerated provider's own gemm, given the operands' shape, for the products it takes. */
export type OwnGemm = (transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix, shape: { m: number; n: number; k: number }) => void;

/**
 * An accelerated provider's kernels (blas, wasm, tensorflow) from its own gemm,
 * with the preamble they share written once: the operand shapes checked
 * (gemmShape, which throws on a mismatch); the products the provider does not
 * take left to the js loops, which give the reference's answers — those under
 * `minWork` multiply-adds (an empty product, k = 0, among them: C ← beta·C)
 * and float64 ones when it computes float32 only; and operands of mixed
 * precision refused. rowSums stays the js loop: one pass over δ, bound by
 * memory, where no library call would gain.
 */
export function acceleratedKernels(name: string, takes: Takes, own: OwnGemm): Kernels {
  return {
    name,
    gemm(transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void {
      const shape = gemmShape(transA, transB, a, b, c);
      const f64 = c.dtype === 'float64';
      if (shape.m * shape.n * shape.k < takes.minWork || (f64 && !takes.float64)) return jsKernels.gemm(transA, transB, alpha, a, b, beta, c);
      if (a.dtype !== c.dtype || b.dtype !== c.dtype) throw new Error(`${name} gemm: A, B and C must have the same precision`);
      own(transA, transB, alpha, a, b, beta, c, shape);
    },
    rowSums: jsKernels.rowSums,
  };
}
