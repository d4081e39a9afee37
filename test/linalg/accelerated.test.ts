import { describe, expect, it } from 'vitest';
import { acceleratedKernels, type OwnGemm } from '../../src/linalg/accelerated.js';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Rng } from '../../src/base/rng.js';
import { randomMatrix } from '../helpers.js';

// The preamble blas, wasm and tensorflow share: which products reach the provider's own gemm, and which the js loops take.
describe('acceleratedKernels', () => {
  /** A provider whose own gemm records its calls and computes with the js loops (so results can be compared). */
  function provider(minWork: number, float64: boolean) {
    const calls: { m: number; n: number; k: number }[] = [];
    const own: OwnGemm = (tA, tB, alpha, a, b, beta, c, shape) => {
      calls.push(shape);
      jsKernels.gemm(tA, tB, alpha, a, b, beta, c);
    };
    return { k: acceleratedKernels('fake', { minWork, float64 }, own), calls };
  }
  const rng = new Rng(7);

  it('takes products of at least minWork multiply-adds, with their shape; smaller ones go to the js loops with the same result', () => {
    const { k, calls } = provider(2 * 3 * 4, false);
    const a = randomMatrix(rng, 2, 4, 'float32'),
      b = randomMatrix(rng, 3, 4, 'float32');
    const c = Matrix.zeros(2, 3),
      want = Matrix.zeros(2, 3);
    k.gemm(false, true, 0.5, a, b, 0, c); // m·n·k = 24: taken
    expect(calls).toEqual([{ m: 2, n: 3, k: 4 }]);
    jsKernels.gemm(false, true, 0.5, a, b, 0, want);
    expect(c.data).toEqual(want.data);
    const small = provider(25, false);
    const c2 = Matrix.zeros(2, 3);
    small.k.gemm(false, true, 0.5, a, b, 0, c2); // 24 < 25: the js loops
    expect(small.calls).toEqual([]);
    expect(c2.data).toEqual(want.data);
  });

  it('an empty product (k = 0) never reaches the provider: C ← beta·C', () => {
    const { k, calls } = provider(1, true);
    const c = Matrix.from(2, 2, [1, 2, 3, 4]);
    k.gemm(false, false, 1, Matrix.zeros(2, 0), Matrix.zeros(0, 2), 3, c);
    expect(calls).toEqual([]);
    expect(Array.from(c.data)).toEqual([3, 6, 9, 12]);
  });

  it('float64 goes to the js loops unless the provider computes float64', () => {
    const a = randomMatrix(rng, 4, 4),
      b = randomMatrix(rng, 4, 4);
    const f32only = provider(1, false),
      both = provider(1, true);
    f32only.k.gemm(false, false, 1, a, b, 0, Matrix.zeros(4, 4, 'float64'));
    both.k.gemm(false, false, 1, a, b, 0, Matrix.zeros(4, 4, 'float64'));
    expect([f32only.calls.length, both.calls.length]).toEqual([0, 1]);
  });

  it('refuses operands of mixed precision and shapes that do not fit, naming the provider', () => {
    const { k, calls } = provider(1, true);
    expect(() => k.gemm(false, false, 1, randomMatrix(rng, 4, 4), randomMatrix(rng, 4, 4, 'float32'), 0, Matrix.zeros(4, 4, 'float64'))).toThrow('fake gemm: A, B and C must have the same precision');
    expect(() => k.gemm(false, false, 1, randomMatrix(rng, 4, 4, 'float32'), randomMatrix(rng, 4, 4), 0, Matrix.zeros(4, 4, 'float64'))).toThrow('fake gemm: A, B and C must have the same precision');
    expect(() => k.gemm(false, false, 1, randomMatrix(rng, 4, 3), randomMatrix(rng, 4, 4), 0, Matrix.zeros(4, 4, 'float64'))).toThrow(/gemm shape mismatch/);
    expect(calls).toEqual([]);
    expect(k.name).toBe('fake');
    expect(k.rowSums).toBe(jsKernels.rowSums);
  });
});
