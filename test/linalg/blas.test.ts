import { afterEach, describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { loadBlas } from '../../src/linalg/blas.js';
import { Rng } from '../../src/base/rng.js';
import { cli, gemmOperands, needs, REFERENCE_BLAS as REFERENCE, SYSTEM, TRANSPOSES } from '../helpers.js';
const saved = process.env.BACKPROP_BLAS;
afterEach(() => {
  if (saved === undefined) delete process.env.BACKPROP_BLAS;
  else process.env.BACKPROP_BLAS = saved;
});

describe('blas provider: which BLAS it found', () => {
  it('OpenBLAS is recognised by its own symbol', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    delete process.env.BACKPROP_BLAS;
    const r = loadBlas();
    if ('error' in r) throw new Error(r.error);
    expect(r.vendor).toBe('OpenBLAS');
    expect(r.config).toMatch(/OpenBLAS/);
  });

  describe('the reference BLAS', () => {
    it('is not taken for a tuned one, and its gemm agrees with js', (ctx) => {
      needs(ctx, SYSTEM.referenceBlas);
      process.env.BACKPROP_BLAS = REFERENCE;
      const r = loadBlas();
      if ('error' in r) throw new Error(r.error);
      expect(r.library).toBe(REFERENCE);
      expect(r.vendor).toBeUndefined();
      const rng = new Rng(4);
      for (const [tA, tB] of TRANSPOSES) {
        const [m, n, k] = [37, 29, 41];
        const [a, b] = gemmOperands(rng, tA, tB, m, n, k, 'float32');
        const want = Matrix.zeros(m, n),
          got = Matrix.zeros(m, n);
        jsKernels.gemm(tA, tB, 0.5, a, b, 0, want);
        r.kernels.gemm(tA, tB, 0.5, a, b, 0, got);
        for (let i = 0; i < want.data.length; i++) expect(got.data[i]).toBeCloseTo(want.data[i], 4);
      }
    });

    it('auto prefers the wasm kernel to it (backprop info says why), and --backend blas still uses it', (ctx) => {
      needs(ctx, SYSTEM.referenceBlas);
      const env = { BACKPROP_BLAS: REFERENCE };
      const info = cli(['info', '--json'], { env });
      expect(info.code, info.stderr).toBe(0);
      const res = JSON.parse(info.stdout);
      expect(res.auto).toBe('wasm');
      const blas = res.providers.find((p: { name: string }) => p.name === 'blas');
      expect(blas.detail).toBe(REFERENCE);
      expect(blas.demoted).toMatch(/not a known tuned BLAS/);
      const train = cli(['train', '--backend', 'blas', '--epochs', '1', '--limit', '500', '--json'], { env });
      expect(train.code, train.stderr).toBe(0);
      expect(JSON.parse(train.stdout).testAccuracy).toBeGreaterThan(0.5);
    });
  });
});
