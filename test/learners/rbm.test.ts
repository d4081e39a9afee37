import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { examples, slice } from '../../src/data/dataset.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { getKernels, jsKernels, Matrix } from '../../src/linalg/index.js';
import { accuracy } from '../../src/learners/learner.js';
import { RbmLearner } from '../../src/learners/rbm.js';
import { filtersPng } from '../../src/report/png-grid.js';
import { Rng } from '../../src/base/rng.js';

/** A small RBM with random parameters: D image units, K classes, H hidden units. */
function randomRbm(D: number, K: number, H: number, seed: number): RbmLearner {
  const rng = new Rng(seed);
  const rbm = new RbmLearner({ hidden: H });
  rbm.dim = D;
  rbm.classes = K;
  rbm.v = Matrix.zeros(H, D + K);
  for (let i = 0; i < rbm.v.data.length; i++) rbm.v.data[i] = rng.normal();
  rbm.c = Float32Array.from({ length: H }, () => rng.normal());
  rbm.bv = Float32Array.from({ length: D + K }, () => rng.normal());
  return rbm;
}

describe('classification RBM', () => {
  it('free energy equals −log Σ_h e^(−E(x, y, h)) summed over all 2^H hidden states', () => {
    const D = 6,
      K = 3,
      H = 5;
    const rbm = randomRbm(D, K, H, 3);
    const rng = new Rng(4);
    const n = 4;
    const x = Float32Array.from({ length: n * D }, () => rng.uniform());
    const ex = examples(x, new Uint8Array(n), D);
    const F = rbm.freeEnergies(ex, jsKernels);
    const V = rbm.v.data,
      N = D + K;
    for (let e = 0; e < n; e++) {
      for (let y = 0; y < K; y++) {
        // E(x, y, h) = −hᵀWx − hᵀU_y − bᵀx − d_y − cᵀh, summed over every h ∈ {0,1}^H
        let bx = 0;
        for (let i = 0; i < D; i++) bx += rbm.bv[i] * x[e * D + i];
        let z = 0;
        for (let mask = 0; mask < 1 << H; mask++) {
          let minusE = bx + rbm.bv[D + y];
          for (let j = 0; j < H; j++) {
            if (!(mask & (1 << j))) continue;
            let a = rbm.c[j] + V[j * N + D + y];
            for (let i = 0; i < D; i++) a += V[j * N + i] * x[e * D + i];
            minusE += a;
          }
          z += Math.exp(minusE);
        }
        // freeEnergies leaves out −bᵀx (the same for every class)
        expect(F[e * K + y] - bx).toBeCloseTo(-Math.log(z), 4);
      }
    }
  });

  it('learns the digits by CD-1 alone: ≥ 85% on held-out digits from 2,000 training digits', async () => {
    const ds = loadEmbedded();
    const kernels = await getKernels('auto');
    const small = { ...ds, train: slice(ds.train, 0, 2000), test: slice(ds.test, 0, 500) };
    const rbm = new RbmLearner({ hidden: 200, epochs: 3 });
    const r = await rbm.fit(small, { kernels, seed: 1, budget: {}, test: small.test });
    expect(r.trace[0].testAccuracy).toBeLessThan(0.3); // before training: chance
    const acc = accuracy(rbm.predict(small.test), small.test);
    expect(acc).toBe(r.trace[r.trace.length - 1].testAccuracy);
    expect(acc).toBeGreaterThanOrEqual(0.85);
    expect(r.trace[r.trace.length - 1].work).toBe(3 * 2000 * 3); // 3 epochs of 2,000; CD-1: 1 + 2k = 3 passes an example
    expect(r.parametersUpdated).toBe(200 * 794 + 200 + 794);
  });

  it('the same seed gives the same weights', async () => {
    const ds = loadEmbedded();
    const small = { ...ds, train: slice(ds.train, 0, 200), test: slice(ds.test, 0, 50) };
    const fit = async (seed: number, persistent: boolean) => {
      const rbm = new RbmLearner({ hidden: 16, epochs: 2, cdK: 2, persistent });
      await rbm.fit(small, { kernels: jsKernels, seed, budget: {}, test: small.test });
      return rbm.v.data;
    };
    expect(await fit(5, true)).toEqual(await fit(5, true));
    expect(await fit(5, false)).not.toEqual(await fit(6, false));
  });

  it('draws the filters as 28×28 tiles of the weights, then digits over their reconstructions', async () => {
    const ds = loadEmbedded();
    const rbm = randomRbm(784, 10, 12, 9);
    const test = slice(ds.test, 0, 100);
    const png = PNG.sync.read(filtersPng(rbm.filterImages(test, jsKernels), [28, 28]));
    // 12 filters on 10 per row → 2 rows; then 10 originals and 10 reconstructions: 4 rows of 29 pixels, 2 gaps of 4, 1 border
    expect([png.width, png.height]).toEqual([10 * 29 + 1, 4 * 29 + 1 + 2 * 4]);
    // Filter 3's brightest and darkest weights are white and black (each tile uses its own contrast)
    const w = rbm.v.data.subarray(3 * 794, 3 * 794 + 784);
    const hi = w.indexOf(Math.max(...w)),
      lo = w.indexOf(Math.min(...w));
    const px = (i: number) => png.data[4 * ((1 + Math.floor(i / 28)) * png.width + 1 + 3 * 29 + (i % 28))];
    expect([px(hi), px(lo)]).toEqual([255, 0]);
  });
});
