import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { gemmShape } from '../../src/linalg/kernels.js';

describe('gemm operand shapes', () => {
  it('gives m, n, k for every transpose flag', () => {
    const a = Matrix.zeros(2, 3),
      b = Matrix.zeros(3, 4);
    expect(gemmShape(false, false, a, b, Matrix.zeros(2, 4))).toEqual({ m: 2, n: 4, k: 3 });
    expect(gemmShape(true, false, Matrix.zeros(3, 2), b, Matrix.zeros(2, 4))).toEqual({ m: 2, n: 4, k: 3 });
    expect(gemmShape(false, true, a, Matrix.zeros(4, 3), Matrix.zeros(2, 4))).toEqual({ m: 2, n: 4, k: 3 });
    expect(gemmShape(true, true, Matrix.zeros(3, 2), Matrix.zeros(4, 3), Matrix.zeros(2, 4))).toEqual({ m: 2, n: 4, k: 3 });
  });

  it('refuses a C of the wrong shape (rows or columns), and says which shapes it got', () => {
    const a = Matrix.zeros(2, 3),
      b = Matrix.zeros(3, 4);
    expect(() => jsKernels.gemm(false, false, 1, a, b, 0, Matrix.zeros(3, 4))).toThrow('gemm shape mismatch: op(A) 2x3, op(B) 3x4, C 3x4');
    expect(() => jsKernels.gemm(false, false, 1, a, b, 0, Matrix.zeros(2, 5))).toThrow('gemm shape mismatch: op(A) 2x3, op(B) 3x4, C 2x5');
    expect(() => jsKernels.gemm(true, true, 1, a, b, 0, Matrix.zeros(3, 3))).toThrow('gemm shape mismatch: op(A) 3x2, op(B) 4x3, C 3x3');
    expect(() => jsKernels.gemm(false, true, 1, a, b, 0, Matrix.zeros(2, 3))).toThrow('gemm shape mismatch: op(A) 2x3, op(B) 4x3, C 2x3');
  });
});
