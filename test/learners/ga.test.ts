import { describe, expect, it, vi } from 'vitest';
import { loadEmbedded } from '../../src/data/embedded.js';
import { examples, slice, type Examples } from '../../src/data/dataset.js';
import { GA_DEFAULTS, GaLearner, gaMemory, mutate, type GaOptions } from '../../src/learners/ga.js';
import { jsKernels, loadProvider, PROVIDERS, type Kernels } from '../../src/linalg/index.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { evaluate } from '../../src/train/metrics.js';
import type { FitContext } from '../../src/learners/learner.js';
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
function referenceGa(train: Examples, sizes: number[], o: GaOptions, seed: number, test?: Examples): { best: number[]; accuracy: number[]; w: Float32Array[]; b: Float32Array[] } {
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
  /** z^L of example e (before the softmax). */
  const output = (net: Genome, ex: Examples, e: number) => {
    let act = [...ex.features.subarray(e * ex.dim, (e + 1) * ex.dim)];
    for (let l = 0; l < L; l++) {
      const z = Array.from({ length: sizes[l + 1] }, (_, r) => net.b[l][r] + act.reduce((s, x, k) => s + net.w[l][r * sizes[l] + k] * x, 0));
      act = l < L - 1 ? z.map((v) => Math.max(v, 0)) : z;
    }
    return act;
  };
  const fitnessOf = (net: Genome) => {
    let total = 0;
    for (const e of batch) {
      const act = output(net, train, e);
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
  const best: number[] = [],
    accuracy: number[] = [];
  let order: number[] = [];
  for (let gen = 0; gen < o.generations; gen++) {
    if (B < train.count) batch = batch.map(() => rng.int(train.count));
    const fitness = pop.map(fitnessOf);
    order = Array.from({ length: P }, (_, i) => i).sort((p, q) => fitness[p] - fitness[q] || p - q);
    best.push(fitness[order[0]]);
    // The best network's test accuracy: the class of the largest output (the first of equal ones).
    if (test) accuracy.push(Array.from({ length: test.count }, (_, e) => output(pop[order[0]], test, e)).filter((z, e) => z.indexOf(Math.max(...z)) === test.labels[e]).length / test.count);
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
  return { best, accuracy, w: pop[order[0]].w, b: pop[order[0]].b };
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
      // Every piece of work asks whether to stop: after the last generation's point, nothing more is asked (no
      // breeding of a generation that would never be scored).
      let asked = 0,
        askedAtPoint = -1;
      const r = await ga.fit(
        { name: 'blobs', classes: 3, train, test },
        { kernels: jsKernels, seed: 5, budget: {}, test, yieldMs: 0, shouldStop: () => (asked++, false), onPoint: () => (askedAtPoint = asked) },
      );
      expect(asked).toBe(askedAtPoint);
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

describe('genetic algorithm: its trace, its stops and its ties', () => {
  const tinyArch: Architecture = { sizes: [6, 4, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
  const train = blobs(23, 1),
    test = blobs(60, 2);
  const data = { name: 'blobs', classes: 3, train, test };
  const base: GaOptions = { ...GA_DEFAULTS, population: 6, generations: 5, fitnessBatch: 9, mutationRate: 0.1, sigma: 0.3, elite: 1, tournament: 2, init: 'he' };
  const ctx = (over: Partial<FitContext> = {}): FitContext => ({ kernels: jsKernels, seed: 5, budget: {}, test, yieldMs: 0, ...over });
  const weights = (net: Network) => [...net.weights.map((W) => Array.from(W.data)), ...net.biases.map((b) => Array.from(b))];
  const refWeights = (ref: { w: Float32Array[]; b: Float32Array[] }) => [...ref.w.map((W) => [...W]), ...ref.b.map((b) => [...b])];

  it('before fit: an empty history, and predict() asks for fit(); after it, evaluate()’s predictions on the fit’s kernels', async () => {
    const ga = new GaLearner(tinyArch, base);
    expect(ga.history).toEqual({ bestFitness: [] });
    expect(() => ga.predict(test)).toThrow('ga: fit() first');
    let gemms = 0;
    const counting: Kernels = { ...jsKernels, gemm: (...args: Parameters<Kernels['gemm']>) => (gemms++, jsKernels.gemm(...args)) };
    await ga.fit(data, ctx({ kernels: counting }));
    gemms = 0;
    expect(Array.from(ga.predict(test))).toEqual(Array.from(evaluate(ga.network, test, jsKernels).predictions));
    expect(gemms).toBe(2); // one chunk through two layers, on the kernels fit() was given
  });

  it('a point after generations 1–8, 10 and the last (11), each the test accuracy of that generation’s best network', async () => {
    // elite 0: network 0 of a generation is a child like any other, not the previous best
    const o: GaOptions = { ...base, generations: 11, elite: 0 };
    const r = await new GaLearner(tinyArch, o).fit(data, ctx());
    const ref = referenceGa(train, [6, 4, 3], o, 5, test);
    const at = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]; // the schedule ×1.15 from generation 1, then the last
    expect(r.trace.map((p) => p.work)).toEqual(at.map((g) => g * o.population * 9));
    expect(r.trace.map((p) => p.testAccuracy)).toEqual(at.map((g) => ref.accuracy[g - 1]));
    expect(new Set(ref.accuracy).size).toBeGreaterThan(1); // the accuracies tell the networks apart
  });

  it('zero generations: the first population drawn and none scored; one point, of network 0; best fitness none', async () => {
    const o: GaOptions = { ...base, generations: 0 };
    const ga = new GaLearner(tinyArch, o);
    const r = await ga.fit(data, ctx());
    const first = Network.create(tinyArch, 'he', new Rng(5)); // the first network drawn from the seed
    expect(weights(ga.network)).toEqual(weights(first));
    expect(r.trace.map((p) => [p.work, p.testAccuracy])).toEqual([[0, evaluate(first, test, jsKernels).correct / test.count]]);
    expect(r.details).toEqual({ generations: 0, population: 6, 'best fitness': 'none' });
    expect(ga.history.bestFitness).toEqual([]);
  });

  it('a signal before the first generation: no point, no generation, best fitness none', async () => {
    const ga = new GaLearner(tinyArch, base);
    const r = await ga.fit(data, ctx({ shouldStop: () => true }));
    expect(r.trace).toEqual([]);
    expect(r.details).toEqual({ generations: 0, population: 6, 'best fitness': 'none' });
  });

  for (const when of ['after its point', 'before its point'])
    it(`a signal during generation 3, ${when}: the best of generation 3 as the rules give it, no point after the signal`, async () => {
      const ref = referenceGa(train, [6, 4, 3], { ...base, generations: 3 }, 5);
      let signal = false;
      const ga = new GaLearner(tinyArch, { ...base, generations: 50 });
      // After its point the signal stops the breeding that follows (Stop thrown inside it); before it, fit sees it first.
      const r = await ga.fit(
        data,
        ctx({
          shouldStop: () => signal,
          onPoint: (p) => (signal ||= when === 'after its point' && p.work === 3 * 6 * 9),
          onProgress: (p) => (signal ||= when === 'before its point' && p.done === 3),
        }),
      );
      expect(r.trace.map((p) => p.work / (6 * 9))).toEqual(when === 'after its point' ? [1, 2, 3] : [1, 2]);
      expect(ga.history.bestFitness.length).toBe(3);
      ga.history.bestFitness.forEach((f, g) => expect(f).toBeCloseTo(ref.best[g], 5));
      expect(r.details).toEqual({ generations: 3, population: 6, 'best fitness': ga.history.bestFitness[2] });
      expect(weights(ga.network)).toEqual(refWeights(ref));
    });

  it('an error inside fit (here from onProgress) is thrown on, not taken for a stop', async () => {
    const failing = ctx({
      onProgress: (p) => {
        if (p.done === 2) throw new Error('no space left on device');
      },
    });
    await expect(new GaLearner(tinyArch, base).fit(data, failing)).rejects.toThrow('no space left on device');
  });

  it('the budget spent: the generation it ends in is the last point (its evaluation is not cut short)', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const ga = new GaLearner(tinyArch, { ...base, generations: 1000 });
      // 20 s pass during generation 9 (not on the ×1.15 schedule): a budget of 10 s stops the GA there.
      const r = await ga.fit(data, ctx({ budget: { seconds: 10 }, onProgress: (p) => p.done === 9 && vi.advanceTimersByTime(20_000) }));
      expect(r.details.generations).toBe(9);
      expect(r.trace.map((p) => p.work / (6 * 9))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(r.trace[8].testAccuracy).toBe(evaluate(ga.network, test, jsKernels).correct / test.count);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the first layer of all networks in one gemm, each later layer one gemm per network', async () => {
    let gemms = 0;
    const counting: Kernels = { ...jsKernels, gemm: (...args: Parameters<Kernels['gemm']>) => (gemms++, jsKernels.gemm(...args)) };
    // no test examples: the trace's evaluations multiply nothing
    await new GaLearner({ ...tinyArch, sizes: [6, 4, 5, 3] }, { ...base, generations: 3 }).fit(data, ctx({ kernels: counting, test: slice(test, 0, 0) }));
    expect(gemms).toBe(3 * (1 + 2 * 6)); // 3 generations × (layer 1 of all + layers 2, 3 of each of 6)
  });

  it('an elite as large as the population: no children, the population only ranked again', async () => {
    const o: GaOptions = { ...base, generations: 4, fitnessBatch: 23, elite: 9 };
    const ga = new GaLearner(tinyArch, o);
    await ga.fit(data, ctx());
    const ref = referenceGa(train, [6, 4, 3], o, 5);
    expect(weights(ga.network)).toEqual(refWeights(ref));
    ga.history.bestFitness.forEach((f) => expect(f).toBeCloseTo(ref.best[0], 6)); // the first best, unchanged
  });

  // All inputs 0 and the biases drawn as 0 (he): every network computes z^L = 0, and the population ties at ln 3
  // (whatever its weights) until mutation moves a bias. Tournaments and the ranking then decide by their tie rules.
  const zeros = examples(
    new Float32Array(12 * 6),
    Uint8Array.from({ length: 12 }, (_, e) => e % 3),
    6,
  );
  for (const o of [
    { ...base, population: 7, generations: 4, fitnessBatch: 12, mutationRate: 0, elite: 0, tournament: 3 },
    { ...base, population: 8, generations: 6, fitnessBatch: 12, mutationRate: 0.05, sigma: 0.5, elite: 2, tournament: 2 },
  ] satisfies GaOptions[])
    it(`ties (all inputs 0, mutation rate ${o.mutationRate}): the tournament keeps the first drawn of equal networks, as the rules written out`, async () => {
      const ga = new GaLearner(tinyArch, o);
      await ga.fit({ name: 'zeros', classes: 3, train: zeros, test: zeros }, ctx({ test: zeros }));
      const ref = referenceGa(zeros, [6, 4, 3], o, 5);
      expect(ref.best[0]).toBeCloseTo(Math.log(3), 12); // a tie of the whole first generation
      ga.history.bestFitness.forEach((f, g) => expect(f).toBeCloseTo(ref.best[g], 6));
      expect(weights(ga.network)).toEqual(refWeights(ref));
    });

  it('a crossover draw of exactly ½ takes the second parent: u ∈ [0, ½) the first, as the rules written out', async () => {
    // Rng's 53-bit draws are never exactly ½ in practice: here every draw below 0.05 becomes ½, in both runs alike.
    const uniform = Rng.prototype.uniform;
    const spy = vi.spyOn(Rng.prototype, 'uniform').mockImplementation(function (this: Rng) {
      const u = uniform.call(this);
      return u < 0.05 ? 0.5 : u;
    });
    try {
      const o: GaOptions = { ...base, generations: 4, mutationRate: 0, elite: 0 };
      const ga = new GaLearner(tinyArch, o);
      await ga.fit(data, ctx());
      const ref = referenceGa(train, [6, 4, 3], o, 5);
      expect(weights(ga.network)).toEqual(refWeights(ref));
    } finally {
      spy.mockRestore();
    }
  });
});
