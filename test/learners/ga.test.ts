import { describe, expect, it } from 'vitest';
import { loadEmbedded } from '../../src/data/embedded.js';
import { examples, slice, type Examples } from '../../src/data/dataset.js';
import { GA_DEFAULTS, GaLearner, gaMemory, mutate, type GaOptions } from '../../src/learners/ga.js';
import { jsKernels, loadProvider, PROVIDERS, type Kernels } from '../../src/linalg/index.js';
import { Network, type Architecture } from '../../src/nn/network.js';
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

/**
 * The GA of src/learners/ga.ts written out again from its doc comment (Montana & Davis 1989): networks kept one by
 * one as float32 arrays, a float64 forward pass of ReLU then softmax, the fitness the mean −ln a_y on the batch,
 * tournaments, neuron crossover, mutation by geometric skips, elitism; drawing the same random numbers in the same
 * order. Returns every generation's best fitness and the final best network's weights and biases.
 */
function referenceGa(train: Examples, sizes: number[], o: GaOptions, seed: number): { best: number[]; w: Float32Array[]; b: Float32Array[] } {
  const rng = new Rng(seed);
  const a: Architecture = { sizes, activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
  const L = sizes.length - 1,
    P = o.population;
  type Genome = { w: Float32Array[]; b: Float32Array[] };
  let pop: Genome[] = Array.from({ length: P }, () => {
    const net = Network.create(a, o.init, rng);
    return { w: net.weights.map((W) => Float32Array.from(W.data)), b: net.biases.map((b) => Float32Array.from(b)) };
  });
  const B = Math.min(o.fitnessBatch, train.count);
  let batch = Array.from({ length: B }, (_, j) => j);
  const fitnessOf = (net: Genome) => {
    let total = 0;
    for (const e of batch) {
      let act = [...train.features.subarray(e * train.dim, (e + 1) * train.dim)];
      for (let l = 0; l < L; l++) {
        const z = Array.from({ length: sizes[l + 1] }, (_, r) => net.b[l][r] + act.reduce((s, x, k) => s + net.w[l][r * sizes[l] + k] * x, 0));
        act = l < L - 1 ? z.map((v) => Math.max(v, 0)) : z;
      }
      const max = Math.max(...act);
      const lse = max + Math.log(act.reduce((s, v) => s + Math.exp(v - max), 0));
      total += lse - act[train.labels[e]];
    }
    return total / B;
  };
  const mutateRef = (genes: Float32Array) => {
    if (o.mutationRate <= 0) return;
    if (o.mutationRate >= 1) {
      for (let g = 0; g < genes.length; g++) genes[g] += o.sigma * rng.normal();
      return;
    }
    // The gap before each mutated gene is Geometric(rate): ⌊ln(1 − u) / ln(1 − rate)⌋ genes skipped.
    const skip = () => Math.floor(Math.log(1 - rng.uniform()) / Math.log(1 - o.mutationRate));
    for (let g = skip(); g < genes.length; g += 1 + skip()) genes[g] += o.sigma * rng.normal();
  };
  const best: number[] = [];
  let order: number[] = [];
  for (let gen = 0; gen < o.generations; gen++) {
    if (B < train.count) batch = batch.map(() => rng.int(train.count));
    const fitness = pop.map(fitnessOf);
    order = Array.from({ length: P }, (_, i) => i).sort((p, q) => fitness[p] - fitness[q] || p - q);
    best.push(fitness[order[0]]);
    if (gen === o.generations - 1) break;
    const tournament = () => {
      let w = rng.int(P);
      for (let t = 1; t < o.tournament; t++) {
        const c = rng.int(P);
        if (fitness[c] < fitness[w]) w = c;
      }
      return w;
    };
    const elite = Math.min(o.elite, P);
    const next: Genome[] = order.slice(0, elite).map((i) => ({ w: pop[i].w.map((W) => W.slice()), b: pop[i].b.map((b) => b.slice()) }));
    for (let c = elite; c < P; c++) {
      const p1 = tournament(),
        p2 = tournament();
      const child: Genome = { w: [], b: [] };
      for (let l = 0; l < L; l++) {
        const k = sizes[l];
        const W = new Float32Array(sizes[l + 1] * k),
          b = new Float32Array(sizes[l + 1]);
        for (let r = 0; r < sizes[l + 1]; r++) {
          const p = rng.uniform() < 0.5 ? p1 : p2;
          W.set(pop[p].w[l].subarray(r * k, (r + 1) * k), r * k);
          b[r] = pop[p].b[l][r];
        }
        mutateRef(W);
        mutateRef(b);
        child.w.push(W);
        child.b.push(b);
      }
      next.push(child);
    }
    pop = next;
  }
  return { best, w: pop[order[0]].w, b: pop[order[0]].b };
}

/** 23 examples of 6 features in [0, 1), 3 classes whose means differ, so that fitness tells networks apart. */
function blobs(count: number, seed: number): Examples {
  const rng = new Rng(seed);
  const labels = Uint8Array.from({ length: count }, (_, e) => e % 3);
  const f = new Float32Array(count * 6).map((_, i) => Math.fround(0.5 * rng.uniform() + (Math.floor(i / 6) % 3 === i % 3 ? 0.5 : 0)));
  return examples(f, labels, 6);
}

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

  const tinyArch: Architecture = { sizes: [6, 4, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
  for (const o of [
    { ...GA_DEFAULTS, population: 7, generations: 6, fitnessBatch: 9, mutationRate: 0.1, sigma: 0.3, elite: 2, tournament: 3, init: 'he' },
    { ...GA_DEFAULTS, population: 6, generations: 4, fitnessBatch: 100, mutationRate: 1, sigma: 0.2, elite: 0, tournament: 2, init: 'xavier' },
    { ...GA_DEFAULTS, population: 5, generations: 5, fitnessBatch: 23, mutationRate: 0, sigma: 0.2, elite: 1, tournament: 4, init: 'he' },
  ] satisfies GaOptions[])
    it(`evolves exactly as its rules written out: population ${o.population}, batch ${o.fitnessBatch} of 23, mutation rate ${o.mutationRate}, elite ${o.elite}, tournament ${o.tournament}`, async () => {
      const train = blobs(23, 1),
        test = blobs(9, 2);
      const ga = new GaLearner(tinyArch, o);
      const r = await ga.fit({ name: 'blobs', classes: 3, train, test }, { kernels: jsKernels, seed: 5, budget: {}, test });
      const ref = referenceGa(train, [6, 4, 3], o, 5);
      expect(ga.history.bestFitness.length).toBe(o.generations);
      ga.history.bestFitness.forEach((f, g) => expect(f, `generation ${g}`).toBeCloseTo(ref.best[g], 5));
      // The weights are only copied and mutated, in float32 both here and there: equal to the bit.
      expect(ga.network.weights.map((W) => [...W.data])).toEqual(ref.w.map((W) => [...W]));
      expect(ga.network.biases.map((b) => [...b])).toEqual(ref.b.map((b) => [...b]));
      const B = Math.min(o.fitnessBatch, 23),
        weights = 6 * 4 + 4 * 3;
      const last = r.trace[r.trace.length - 1];
      expect(last.work).toBe(o.generations * o.population * B);
      expect(last.flops).toBe(o.generations * 2 * weights * o.population * B);
      expect(r.parametersUpdated).toBe(o.population * (weights + 4 + 3));
      expect(r.details).toEqual({ generations: o.generations, population: o.population, 'best fitness': ga.history.bestFitness[o.generations - 1] });
    });

  it('without mutation or elite, the final network is its first generation’s neurons recombined by neuron crossover', async () => {
    const train = blobs(23, 1);
    const o: GaOptions = { ...GA_DEFAULTS, population: 6, generations: 3, fitnessBatch: 23, mutationRate: 0, elite: 0, tournament: 1, init: 'he' };
    const ref = referenceGa(train, [6, 4, 3], o, 9);
    const ga = new GaLearner(tinyArch, o);
    await ga.fit({ name: 'blobs', classes: 3, train, test: train }, { kernels: jsKernels, seed: 9, budget: {}, test: train });
    expect(ga.network.weights.map((W) => [...W.data])).toEqual(ref.w.map((W) => [...W]));
  });

  it('describes its settings; memory by hand: two populations, Z and A of the population on the batch, the batch', () => {
    expect(new GaLearner(tinyArch, { ...GA_DEFAULTS, init: 'he' }).describe()).toBe(
      'genetic algorithm 6-4-3: population 50, 3000 generations, fitness batch 256, tournament 3, neuron crossover, mutation rate 0.01 σ 0.05, elite 2',
    );
    expect(gaMemory([6, 4, 3], 7, 9)).toEqual({ populations: 4 * 2 * 7 * (24 + 4 + 12 + 3), activations: 4 * 2 * 7 * 9 * (4 + 3), batch: 4 * 9 * (6 + 3) });
    expect(() => new GaLearner(tinyArch, { ...GA_DEFAULTS, init: 'he' }).network).toThrow('ga: fit() first');
  });

  it('mutation at rate 0 changes nothing; at rate 1 every gene, by σ·N(0, 1) from the same stream', () => {
    const none = new Float32Array(100);
    mutate(none, 0, 0.5, new Rng(1));
    expect(none.every((g) => g === 0)).toBe(true);
    const all = new Float32Array(100);
    mutate(all, 1, 0.5, new Rng(2));
    const rng = new Rng(2);
    expect([...all]).toEqual(Array.from({ length: 100 }, () => Math.fround(0.5 * rng.normal())));
  });

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
