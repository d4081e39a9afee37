import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { BLAS_THREAD_RULE, loadBlas } from '../../src/linalg/blas.js';
import { loadProvider } from '../../src/linalg/index.js';
import { describePolicy, parallelWork, threadsFor } from '../../src/linalg/threads.js';
import { loadWasm, WASM_THREAD_RULE } from '../../src/linalg/wasm.js';
import { provenance, provenanceMetadata } from '../../src/io/provenance.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { examples } from '../../src/data/dataset.js';
import type { Kernels } from '../../src/linalg/kernels.js';
import { needs, SYSTEM } from '../helpers.js';

// The thread policy (src/linalg/threads.ts): threads chosen from the product's shape m, n, k alone.

/** One epoch of a 100-64-2 ReLU net, batch 50: products of 320,000 multiply-adds (forward, δ·Aᵀ) and of 6,400. */
async function trainedBytes(k: Kernels): Promise<Buffer> {
  const rng = new Rng(3);
  const n = 400,
    dim = 100;
  const f = new Float32Array(n * dim).map(() => rng.uniform());
  const l = new Uint8Array(n).map((_, i) => (f[i * dim] + f[i * dim + 1] > 1 ? 1 : 0));
  const r2 = new Rng(9);
  const net = Network.create({ sizes: [dim, 64, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', r2);
  await runTraining(new SgdTrainer(net, { lr: 0.1, batchSize: 50, weightDecay: 0 }, k), examples(f, l, dim), r2, initialState(n), { epochs: 1 });
  return Buffer.concat(net.weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)));
}

describe('thread policy', () => {
  it('1 thread below parallelWork multiply-adds, all from there; said in words', () => {
    const p = { max: 2, parallelWork: 1 << 24 };
    expect(threadsFor(p, 256, 256, 256 - 1)).toBe(1);
    expect(threadsFor(p, 256, 256, 256)).toBe(2);
    expect(threadsFor(p, 1, 1, 1 << 24)).toBe(2); // no other condition unless the rule has one
    expect(describePolicy(p)).toBe('1 thread below 2^24 multiply-adds (m·n·k), 2 from there');
    expect(describePolicy({ max: 1, parallelWork: 1 << 24 })).toBe('1 thread');
    expect(describePolicy({ max: 4, parallelWork: 0 })).toBe('4 threads');
    expect(describePolicy({ max: 2, parallelWork: 100_000 })).toBe('1 thread below 100000 multiply-adds (m·n·k), 2 from there');
  });

  it('OpenBLAS also needs 2^15 outputs (m·n) and an inner dimension of 2^7 (k); wasm 2^14 and 2^5', () => {
    const blas = { max: 2, ...BLAS_THREAD_RULE },
      wasm = { max: 2, ...WASM_THREAD_RULE };
    // the conv net of bench's C64: W·cols(A) of layer 2 (40 × 4096, k = 500) is split; layer 1's ∂C/∂W = δ·cols(A)ᵀ
    // (20 × 25, k = 36,864: all meetings, little work), layer 2's (40 × 500, k = 4096) and its Wᵀδ (500 × 4096, k = 40) are not
    expect([threadsFor(blas, 40, 4096, 500), threadsFor(blas, 20, 25, 36864), threadsFor(blas, 40, 500, 4096), threadsFor(blas, 500, 4096, 40)]).toEqual([2, 1, 1, 1]);
    expect([threadsFor(wasm, 40, 4096, 500), threadsFor(wasm, 20, 25, 36864), threadsFor(wasm, 40, 500, 4096), threadsFor(wasm, 500, 4096, 40)]).toEqual([2, 1, 2, 2]);
    // each bound on its own: just at it, 2 threads; one short, 1
    expect([threadsFor(blas, 128, 256, 512), threadsFor(blas, 128, 255, 1024), threadsFor(blas, 1024, 1024, 127), threadsFor(blas, 128, 256, 511)]).toEqual([2, 1, 1, 1]);
    expect(describePolicy(blas)).toBe('1 thread below 2^24 multiply-adds (m·n·k), 2^15 outputs (m·n) or an inner dimension of 2^7 (k), 2 from there');
    expect(describePolicy({ max: 3, parallelWork: 1 << 24, minOutput: 1 << 14 })).toBe('1 thread below 2^24 multiply-adds (m·n·k) or 2^14 outputs (m·n), 3 from there');
  });

  it('$BACKPROP_PARALLEL_WORK overrides the whole default rule; a bad value is a clear error', () => {
    expect(parallelWork({ parallelWork: 7, minOutput: 5 }, {})).toEqual({ parallelWork: 7, minOutput: 5 });
    expect(parallelWork(BLAS_THREAD_RULE, { BACKPROP_PARALLEL_WORK: '0' })).toEqual({ parallelWork: 0 }); // every product on all threads
    expect(describePolicy({ max: 2, parallelWork: 0 })).toBe('2 threads');
    for (const bad of ['-1', '1.5', 'lots'])
      expect(parallelWork(BLAS_THREAD_RULE, { BACKPROP_PARALLEL_WORK: bad })).toEqual({ error: expect.stringMatching(/^BACKPROP_PARALLEL_WORK=.*: expected a whole number/) });
  });

  it('is in provenance and the model metadata', async () => {
    const r = await loadProvider('wasm');
    if ('error' in r) throw new Error(r.error);
    const p = provenance(r, 'float32', 1, {});
    expect(p.threads).toBe(describePolicy({ max: r.threads!.max, ...WASM_THREAD_RULE }));
    expect(provenanceMetadata(p).threads).toBe(p.threads);
  });

  it('wasm: the same bytes whatever the policy (each element of C is summed by one thread)', async () => {
    const one = await loadWasm(1),
      two = await loadWasm(2, undefined, 0);
    if ('error' in one || 'error' in two) throw new Error('wasm does not load');
    expect((await trainedBytes(two.kernels)).equals(await trainedBytes(one.kernels))).toBe(true);
  });

  it('OpenBLAS: the policy sets its threads per product, and two runs give the same bytes', async (ctx) => {
    needs(ctx, SYSTEM.openblas);
    process.env.BACKPROP_PARALLEL_WORK = '100000'; // read as the library loads (this file's process loads it first)
    const b = loadBlas();
    delete process.env.BACKPROP_PARALLEL_WORK;
    if ('error' in b) throw new Error(b.error);
    expect(b.threads?.parallelWork).toBe(100_000);
    // the library's own count, read back through a second handle on it
    const koffi = createRequire(import.meta.url)('koffi') as { load(p: string): { func(d: string): () => number } };
    const get = koffi.load(b.path).func('int openblas_get_num_threads()');
    const { Matrix } = await import('../../src/linalg/matrix.js');
    b.kernels.gemm(false, false, 1, Matrix.zeros(20, 20), Matrix.zeros(20, 20), 0, Matrix.zeros(20, 20)); // 8,000 < 100,000
    expect(get()).toBe(1);
    b.kernels.gemm(false, false, 1, Matrix.zeros(50, 50), Matrix.zeros(50, 50), 0, Matrix.zeros(50, 50)); // 125,000
    expect(get()).toBe(b.threads!.max);
    const first = await trainedBytes(b.kernels);
    expect((await trainedBytes(b.kernels)).equals(first)).toBe(true);
  });
});
