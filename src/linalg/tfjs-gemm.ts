import type * as TF from '@tensorflow/tfjs';
import type { Kernels, Trans } from './kernels.js';
import { gemmShape } from './kernels.js';
import { jsKernels } from './js.js';
import type { Matrix } from './matrix.js';

/** Below this many multiply-adds the tensor round trip costs more than the js loops. */
export const TFJS_MIN_WORK = 32_768;

/**
 * Kernels on a TensorFlow.js backend (wasm or tensorflow): gemm is tf.matMul
 * on tensors made from our buffers, float32 only (tfjs has no float64
 * matmul), so float64 and tiny products stay on the js loops.
 */
export function tfjsKernels(tf: typeof TF, backend: string, name: string): Kernels {
  return {
    name,
    gemm(transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void {
      const { m, n, k } = gemmShape(transA, transB, a, b, c);
      if (c.data instanceof Float64Array || m * n * k < TFJS_MIN_WORK) return jsKernels.gemm(transA, transB, alpha, a, b, beta, c);
      if (tf.getBackend() !== backend) void tf.setBackend(backend); // another user of tfjs may have switched it
      // tfjs-backend-wasm's matMul with transpose flags is ~10× slower than
      // without, so transposed operands are transposed here first (O(n²)).
      const [A, ar, ac] = transA ? transposed(a, 0) : [a.data as Float32Array, a.rows, a.cols];
      const [B, br, bc] = transB ? transposed(b, 1) : [b.data as Float32Array, b.rows, b.cols];
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(A, [ar, ac]), tf.tensor2d(B, [br, bc])));
      const P = product.dataSync();
      product.dispose();
      const C = c.data;
      if (beta === 0) for (let i = 0; i < C.length; i++) C[i] = alpha * P[i];
      else for (let i = 0; i < C.length; i++) C[i] = alpha * P[i] + beta * C[i];
    },
    rowSums: jsKernels.rowSums,
  };
}

const scratch = [new Float32Array(0), new Float32Array(0)];

/** Xᵀ in reusable scratch buffer `slot` (one per operand), blocked for cache locality. */
function transposed(x: Matrix, slot: 0 | 1): [Float32Array, number, number] {
  const r = x.rows, c = x.cols, X = x.data;
  if (scratch[slot].length < r * c) scratch[slot] = new Float32Array(r * c);
  const T = scratch[slot].subarray(0, r * c);
  const B = 32;
  for (let i0 = 0; i0 < r; i0 += B)
    for (let j0 = 0; j0 < c; j0 += B)
      for (let i = i0; i < Math.min(r, i0 + B); i++)
        for (let j = j0; j < Math.min(c, j0 + B); j++) T[j * r + i] = X[i * c + j];
  return [T, c, r];
}
