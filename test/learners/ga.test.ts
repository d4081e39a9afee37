import { describe, expect, it } from 'vitest';
import { loadEmbedded } from '../../src/data/embedded.js';
import { slice } from '../../src/data/dataset.js';
import { GA_DEFAULTS, GaLearner, mutate, type GaOptions } from '../../src/learners/ga.js';
import { loadProvider, PROVIDERS, type Kernels } from '../../src/linalg/index.js';
import type { Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { providerUnavailable } from '../helpers.js';

const full = loadEmbedded();
const ds = { ...full, train: slice(full.train, 0, 300), test: slice(full.test, 0, 200) };
const loaded = await Promise.all(PROVIDERS.map((p) => loadProvider(p)));
const arch: Architecture = { sizes: [784, 16, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
const small: GaOptions = { ...GA_DEFAULTS, population: 12, generations: 25, fitnessBatch: 64, init: 'he' };

async function run(kernels: Kernels, seed: number, opts: GaOptions = small): Promise<GaLearner> {
  const ga = new GaLearner(arch, opts);
  await ga.fit(ds, { kernels, seed, budget: {}, test: ds.test });
  return ga;
}

const bytes = (ga: GaLearner) =>
  Buffer.concat([
    ...ga.network.weights.map((W) => Buffer.from(W.data.buffer, W.data.byteOffset, W.data.byteLength)),
    ...ga.network.biases.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
  ]);

describe('genetic algorithm', () => {
  for (const r of loaded) {
    it(`${r.name} provider: the same seed gives the same final weights, another seed other weights`, async (ctx) => {
      if (!('kernels' in r)) return providerUnavailable(ctx, r);
      const a = await run(r.kernels, 7),
        b = await run(r.kernels, 7),
        c = await run(r.kernels, 8);
      expect(bytes(a).equals(bytes(b))).toBe(true);
      expect(bytes(a).equals(bytes(c))).toBe(false);
      expect(a.history.bestFitness).toEqual(b.history.bestFitness);
    }, 60_000);

    it(`${r.name} provider: with elitism and a fixed fitness batch the best fitness never gets worse; without elitism it does`, async (ctx) => {
      if (!('kernels' in r)) return providerUnavailable(ctx, r);
      // fitness batch ≥ the 300 training examples: every generation is scored on the same examples.
      const fixed: GaOptions = { ...small, generations: 40, fitnessBatch: 1000, sigma: 0.1, mutationRate: 0.05 };
      const elite = (await run(r.kernels, 3, { ...fixed, elite: 2 })).history.bestFitness;
      expect(elite.length).toBe(40);
      // The elite is re-scored at another row of the population's gemm; allow rounding (1e-6 relative).
      for (let g = 1; g < elite.length; g++) expect(elite[g]).toBeLessThanOrEqual(elite[g - 1] * (1 + 1e-6));
      expect(elite[elite.length - 1]).toBeLessThan(elite[0]); // and it improves
      const none = (await run(r.kernels, 3, { ...fixed, elite: 0 })).history.bestFitness;
      expect(none.some((f, g) => g > 0 && f > none[g - 1] * (1 + 1e-6))).toBe(true);
    }, 60_000);
  }

  it('mutation touches each gene with the given probability and adds σ·N(0,1)', () => {
    const genes = new Float32Array(200_000);
    mutate(genes, 0.01, 0.5, new Rng(1));
    const changed = Array.from(genes).filter((g) => g !== 0);
    // Binomial(200000, 0.01): mean 2000, sd ≈ 44.5
    expect(Math.abs(changed.length - 2000)).toBeLessThan(5 * 44.5);
    const sd = Math.sqrt(changed.reduce((s, g) => s + g * g, 0) / changed.length);
    expect(sd).toBeGreaterThan(0.45);
    expect(sd).toBeLessThan(0.55);
  });
});
