import { describe, expect, it, type TestContext } from 'vitest';
import { jsKernels, loadProvider, Matrix, PROVIDERS, type Kernels } from '../../src/linalg/index.js';
import { loadWasm } from '../../src/linalg/wasm.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { examples } from '../../src/data/dataset.js';
import { gemmOperands, needs, randomMatrix, SYSTEM } from '../helpers.js';

// Every provider that loads here is held to the js provider's answers. A provider
// is skipped only when it cannot load, and the skip says why.
const loaded: ({ name: string; kernels: Kernels } | { name: string; error: string })[] = await Promise.all(PROVIDERS.filter((p) => p !== 'js').map((p) => loadProvider(p)));
// The wasm provider has two kernels, with and without fused multiply-add
// (relaxed SIMD); loadProvider gives the one this engine runs, and both are held to js.
for (const fma of [false, true]) {
  const r = await loadWasm(undefined, fma);
  loaded.push('error' in r ? { name: `wasm fma=${fma}`, error: r.error } : { name: `wasm fma=${fma}`, kernels: r.kernels });
}

for (const r of loaded) {
  describe(`${r.name} provider conformance against js`, () => {
    const kernels: Kernels | undefined = 'kernels' in r ? r.kernels : undefined;
    const why = 'error' in r ? r.error : '';
    // blas must load wherever OpenBLAS is installed; the other providers may be absent.
    const unavailable = (ctx: TestContext) => {
      if (r.name === 'blas') {
        needs(ctx, SYSTEM.openblas);
        throw new Error(`OpenBLAS is installed but the blas provider does not load: ${why}`);
      }
      ctx.skip(`${r.name} cannot load here: ${why}`);
    };
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [1, 300, 7],
      [300, 1, 5],
      [17, 33, 65],
      [64, 64, 64],
      [129, 257, 31],
      [256, 128, 784],
      [5, 3, 1000],
    ];
    for (const dtype of ['float32', 'float64'] as const)
      it(`${dtype}: odd sizes, 1×N, transposes, alpha/beta`, (ctx) => {
        if (!kernels) return unavailable(ctx);
        const rng = new Rng(21);
        for (const [m, n, k] of shapes)
          for (const tA of [false, true])
            for (const tB of [false, true]) {
              const [a, b] = gemmOperands(rng, tA, tB, m, n, k, dtype);
              const c0 = randomMatrix(rng, m, n, dtype);
              for (const [alpha, beta] of [
                [1, 0],
                [0.5, 1],
                [-1.5, 0.25],
              ]) {
                const want = c0.clone();
                jsKernels.gemm(tA, tB, alpha, a, b, beta, want);
                const got = c0.clone();
                kernels.gemm(tA, tB, alpha, a, b, beta, got);
                // The standard error bound of a dot product of length k: |Δ| ≤ k·ε·(|alpha|·Σ|a||b| + |beta|·|c|).
                // It holds for any summation order and for fused multiply-adds too
                // (wasm's relaxed_madd kernel): an FMA rounds once per multiply-add
                // where a multiply then an add rounds twice, so it has fewer
                // rounding errors to sum, not more; relaxed SIMD may also run
                // unfused (two roundings), which is the bound's own case. So FMA
                // results differ from js in the last bits but within the same bound.
                const scale = c0.clone();
                scale.data.forEach((v, i) => (scale.data[i] = Math.abs(beta * v)));
                const abs = (x: Matrix) => Matrix.from(x.rows, x.cols, Array.from(x.data, Math.abs), dtype);
                jsKernels.gemm(tA, tB, Math.abs(alpha), abs(a), abs(b), 1, scale);
                const eps = dtype === 'float64' ? 2.2e-16 : 1.2e-7;
                const tol = (k + 2) * eps;
                let worst = 0;
                for (let i = 0; i < got.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]) / (1e-30 + scale.data[i]));
                expect(worst, `${m}x${n}x${k} tA=${tA} tB=${tB} alpha=${alpha} beta=${beta}`).toBeLessThanOrEqual(tol);
              }
            }
      });

    it('beta = 0 ignores NaN in C', (ctx) => {
      if (!kernels) return unavailable(ctx);
      const a = Matrix.from(
        64,
        64,
        Array.from({ length: 4096 }, (_, i) => (i % 7) - 3),
      );
      const c = Matrix.from(64, 64, new Array(4096).fill(NaN));
      kernels.gemm(false, false, 1, a, a, 0, c);
      expect(c.data.every((v) => Number.isFinite(v))).toBe(true);
    });

    it('training: same seed → identical weights; equal to js within float32 tolerance', async (ctx) => {
      if (!kernels) return unavailable(ctx);
      const rng = new Rng(3);
      const n = 600,
        dim = 100;
      const f = new Float32Array(n * dim).map(() => rng.uniform());
      const l = new Uint8Array(n).map((_, i) => (f[i * dim] + f[i * dim + 1] > 1 ? 1 : 0));
      const ex = examples(f, l, dim);
      const run = async (k: Kernels) => {
        const r2 = new Rng(9);
        const net = Network.create({ sizes: [dim, 64, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', r2);
        await runTraining(new SgdTrainer(net, { lr: 0.1, batchSize: 50, weightDecay: 1e-4 }, k), ex, r2, initialState(n), { epochs: 1 });
        return net.weights.flatMap((w) => Array.from(w.data));
      };
      const a = await run(kernels),
        b = await run(kernels),
        js = await run(jsKernels);
      expect(a).toEqual(b);
      const worst = a.reduce((w, v, i) => Math.max(w, Math.abs(v - js[i])), 0);
      expect(worst).toBeLessThan(1e-4);
    });
  });
}
