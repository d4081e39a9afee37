import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix, type Kernels } from '../../src/linalg/index.js';
import { loadWasm, wasmThreads } from '../../src/linalg/wasm.js';
import { relaxedSimd } from '../../src/linalg/simd.js';
import { Rng } from '../../src/base/rng.js';
import { cli, gemmOperands, randomMatrix, ROOT, TRANSPOSES } from '../helpers.js';

// The wasm provider's own properties; test/linalg/providers.test.ts holds it
// to the js provider's answers like every other provider.

/** The wasm provider on `threads` threads, every product split between them (the policy's threshold at 0). */
async function kernels(threads: number): Promise<Kernels> {
  const r = await loadWasm(threads, undefined, 0);
  if ('error' in r) throw new Error(r.error);
  expect(r.threads).toBe(threads);
  return r.kernels;
}

function product(k: Kernels, tA: boolean, tB: boolean, a: Matrix, b: Matrix, c0: Matrix, alpha: number, beta: number): Float32Array {
  const c = c0.clone();
  k.gemm(tA, tB, alpha, a, b, beta, c);
  return c.data as Float32Array;
}

describe('wasm provider', () => {
  it('assets/gemm.wasm and assets/relu.wasm are exactly what scripts/wasm-kernels.mjs assembles', () => {
    const r = spawnSync(process.execPath, ['scripts/wasm-kernels.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('runs the FMA kernel exactly where relaxed SIMD validates, and says which kernel runs', async () => {
    const r = await loadWasm(2);
    if ('error' in r) throw new Error(r.error);
    expect(r.fma).toBe(relaxedSimd().available);
    expect(r.kernel).toMatch(r.fma ? /^fused multiply-add \(assets\/gemm-fma\.wasm/ : /^multiply then add \(assets\/gemm\.wasm/);
    // Node 20 and later run V8 11.3+, where relaxed SIMD exists (behind a flag on 20 and 21)
    if (Number(process.versions.node.split('.')[0]) >= 20 && process.arch === 'x64') expect(relaxedSimd().available).toBe(true);
    // the two kernels round differently: with FMA, one rounding per multiply-add
    const rng = new Rng(2);
    const a = randomMatrix(rng, 64, 300, 'float32'),
      b = randomMatrix(rng, 300, 64, 'float32');
    const fused = await loadWasm(1, true),
      plain = await loadWasm(1, false);
    if ('error' in fused || 'error' in plain) throw new Error('a wasm kernel does not load');
    const c0 = Matrix.zeros(64, 64);
    expect(product(fused.kernels, false, false, a, b, c0, 1, 0)).not.toEqual(product(plain.kernels, false, false, a, b, c0, 1, 0));
  });

  it('1, 2 and 3 threads give bit-identical products (each element is summed by one thread in the same order)', async () => {
    const [one, two, three] = [await kernels(1), await kernels(2), await kernels(3)];
    const rng = new Rng(5);
    // 203 rows: the row split leaves a ragged last slice; n = 77 pads B's columns.
    const [m, n, k] = [203, 77, 300];
    for (const [tA, tB] of TRANSPOSES) {
      const [a, b] = gemmOperands(rng, tA, tB, m, n, k, 'float32');
      const c0 = randomMatrix(rng, m, n, 'float32');
      for (const [alpha, beta] of [
        [1, 0],
        [-0.25, 0.75],
      ]) {
        const want = product(one, tA, tB, a, b, c0, alpha, beta);
        expect(product(two, tA, tB, a, b, c0, alpha, beta)).toEqual(want);
        expect(product(three, tA, tB, a, b, c0, alpha, beta)).toEqual(want);
      }
    }
  });

  it('grows its shared memory while the worker threads hold it, and stays right', async () => {
    const wasm = await kernels(2);
    const rng = new Rng(9);
    const small = randomMatrix(rng, 128, 128, 'float32');
    wasm.gemm(false, false, 1, small, small, 0, Matrix.zeros(128, 128)); // workers run on the first memory size
    // 4 MB at start; these operands need about 7 MB.
    const [m, n, k] = [640, 720, 800];
    const a = randomMatrix(rng, m, k, 'float32'),
      b = randomMatrix(rng, k, n, 'float32');
    const got = Matrix.zeros(m, n),
      want = Matrix.zeros(m, n);
    wasm.gemm(false, false, 1, a, b, 0, got);
    jsKernels.gemm(false, false, 1, a, b, 0, want);
    let worst = 0;
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]));
    expect(worst).toBeLessThan(1e-3); // sums of 800 products of N(0,1) values, |c| ~ 28
    // rows split between the threads: the last row came from the worker
    expect(got.data[(m - 1) * n + 5]).toBeCloseTo(want.data[(m - 1) * n + 5], 3);
  });

  it('$BACKPROP_WASM_THREADS sets the thread count; a bad value is a clear error', () => {
    expect(wasmThreads({ BACKPROP_WASM_THREADS: '3' })).toEqual({ threads: 3 });
    expect(wasmThreads({})).toHaveProperty('threads');
    for (const bad of ['0', '1.5', 'many', '99'])
      expect(wasmThreads({ BACKPROP_WASM_THREADS: bad })).toEqual({ error: expect.stringMatching(/^BACKPROP_WASM_THREADS=.*: expected a whole number from 1 to \d+$/) });
  });

  it('the CLI reports a bad $BACKPROP_WASM_THREADS in one line and exits 2', () => {
    const r = cli(['train', '--backend', 'wasm', '--epochs', '1', '--limit', '100'], { env: { BACKPROP_WASM_THREADS: 'lots' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--backend wasm: BACKPROP_WASM_THREADS=lots: expected a whole number/);
    expect(r.stdout).toBe('');
  });
});
