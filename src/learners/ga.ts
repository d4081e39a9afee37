import type { Dataset, Examples } from '../data/dataset.js';
import { jsKernels, Matrix, type Float, type Kernels } from '../linalg/index.js';
import { activation, type Activation } from '../nn/activations.js';
import { cost } from '../nn/costs.js';
import { Network, type Architecture, type InitName } from '../nn/network.js';
import { Rng } from '../base/rng.js';
import { evaluate } from '../train/metrics.js';
import type { FitContext, FitResult, Learner } from './learner.js';
import { parametersFinite } from '../train/session.js';
import { Harness, networkAccuracy, rowBlocks, Stop, totalBytes, TraceSchedule, type MemoryEstimate } from './harness.js';

export interface GaOptions {
  /** Networks per generation. */
  population: number;
  /** Generations to run (the budget's seconds may stop it earlier). */
  generations: number;
  /** Probability that a gene (one weight or bias) is mutated in a child. */
  mutationRate: number;
  /** σ of the Gaussian mutation: a mutated gene gets + σ·N(0, 1). */
  sigma: number;
  /** The best `elite` networks are copied unchanged into the next generation. */
  elite: number;
  /** Examples in the random batch each generation's fitness is measured on (all of them when ≥ the training set). */
  fitnessBatch: number;
  /** Networks drawn per tournament; the fittest of them is a parent. */
  tournament: number;
  init: InitName;
}

export const GA_DEFAULTS: Omit<GaOptions, 'init'> = {
  population: 50,
  generations: 3000,
  mutationRate: 0.01,
  sigma: 0.05,
  elite: 2,
  fitnessBatch: 256,
  tournament: 3,
};

/** Every generation's best fitness (mean cost on its batch), for tests and charts. */
export interface GaHistory {
  bestFitness: number[];
}

/**
 * A genetic algorithm over the weights of a fixed architecture (Holland 1975;
 * for networks, Montana & Davis 1989, "Training feedforward neural networks
 * using genetic algorithms"). No gradient is computed. Each generation:
 *
 *   fitness(θ_i) = (1/B) Σ_x C_x(θ_i)  on a random batch of B training examples
 *   parents      = tournament selection: the fittest of k random networks
 *   child        = neuron crossover: each neuron (a row of W^l with its b^l_j)
 *                  comes whole from one parent or the other, with probability ½
 *   mutation     = each gene, with probability `mutationRate`, gets + σ·N(0, 1)
 *   elitism      = the `elite` fittest networks pass unchanged
 *
 * Neuron crossover keeps a unit's incoming weights together (a unit's template
 * is useless cut in half), which uniform crossover of single weights does not.
 * The whole population lives in one matrix per layer, P·n_l × n_(l−1), so the
 * first layer of all P networks is one gemm: Z^1 = W^1_all Xᵀ + b 1ᵀ; later
 * layers are one gemm per network. The same seed gives the same final
 * weights on the same kernel provider.
 */
export class GaLearner implements Learner {
  readonly name = 'ga' as const;
  private best?: Network;
  private kernels?: Kernels;
  history: GaHistory = { bestFitness: [] };

  constructor(
    readonly arch: Architecture,
    readonly opts: GaOptions,
  ) {}

  describe(): string {
    const o = this.opts;
    return `genetic algorithm ${this.arch.sizes.join('-')}: population ${o.population}, ${o.generations} generations, fitness batch ${o.fitnessBatch}, tournament ${o.tournament}, neuron crossover, mutation rate ${o.mutationRate} σ ${o.sigma}, elite ${o.elite}`;
  }

  /** The fittest network of the last generation. */
  get network(): Network {
    if (!this.best) throw new Error('ga: fit() first');
    return this.best;
  }

  async fit(ds: Dataset, ctx: FitContext): Promise<FitResult> {
    const { arch, opts } = this;
    this.kernels = ctx.kernels;
    const { sizes } = arch;
    const L = sizes.length - 1;
    const P = opts.population;
    const rng = new Rng(ctx.seed);
    const train = ds.train;
    const B = Math.min(opts.fitnessBatch, train.count);
    const fixedBatch = B === train.count;
    const acts: Activation[] = sizes.slice(1).map((_, l) => activation(l === L - 1 ? arch.outputActivation : arch.activation));
    const costFn = cost(arch.cost);

    // Two populations (this generation, the next), each one matrix per layer.
    const template = Network.create(arch, opts.init, new Rng(0)); // shapes only
    const pops = [0, 1].map(() => new Population(template, P));
    let cur = pops[0],
      next = pops[1];
    // Activations of the whole population on a batch: P·n_l × B per layer.
    const z = sizes.slice(1).map((n) => Matrix.zeros(P * n, B));
    const a = sizes.slice(1).map((n) => Matrix.zeros(P * n, B));
    const block = (m: Matrix, n: number, i: number) => new Matrix(n, B, m.data.subarray(i * n * B, (i + 1) * n * B));
    const zi = z.map((m, l) => Array.from({ length: P }, (_, i) => block(m, sizes[l + 1], i)));
    const ai = a.map((m, l) => Array.from({ length: P }, (_, i) => block(m, sizes[l + 1], i)));
    const x = Matrix.zeros(B, sizes[0]);
    const y = Matrix.zeros(sizes[L], B);
    const fitness = new Float64Array(P);
    const batch = new Uint32Array(B);
    for (let j = 0; j < B; j++) batch[j] = j;

    const weightCount = sizes.slice(1).reduce((s, n, l) => s + n * sizes[l], 0);
    const h = new Harness(ctx);
    const schedule = new TraceSchedule(1.15, 0);
    const accuracy = () => networkAccuracy(ranked.network(arch, order[0] ?? 0), ctx.test, ctx.kernels);
    // The population last ranked and its order (a stop inside the next forward pass leaves them the latest).
    let order: number[] = [],
      ranked = cur;
    let generation = 0;
    this.history = { bestFitness: [] };
    try {
      await h.run(this.initialise(cur, rng)); // a generator: drawing a large population takes seconds
      for (; generation < opts.generations; generation++) {
        // The fitness batch: B random training examples (all of them, in order, when B covers the set).
        if (!fixedBatch) for (let j = 0; j < B; j++) batch[j] = rng.int(train.count);
        if (!fixedBatch || generation === 0) fill(train, batch, x, y);
        await h.run(this.forward(cur, x, z, zi, ai, acts, ctx.kernels));
        for (let i = 0; i < P; i++) fitness[i] = costFn.total(acts[L - 1], zi[L - 1][i], ai[L - 1][i], y) / B;
        h.work += P * B;
        h.flops += 2 * weightCount * P * B;
        order = Array.from({ length: P }, (_, i) => i).sort((p, q) => fitness[p] - fitness[q] || p - q);
        ranked = cur;
        this.history.bestFitness.push(fitness[order[0]]);
        h.progress(generation + 1, opts.generations, 'generations');
        const last = generation + 1 === opts.generations || h.shouldStop();
        if (schedule.due(generation) || last) await h.point(accuracy());
        if (last) break;
        await h.run(this.breed(cur, next, order, fitness, rng));
        [cur, next] = [next, cur];
      }
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    await h.finalPoint(accuracy);
    const trace = h.trace;
    this.best = ranked.network(arch, order[0] ?? 0).clone();
    return {
      trace,
      parametersUpdated: P * template.parameterCount,
      peakBytes: totalBytes(gaMemory(sizes, P, B)),
      wallSeconds: h.wallSeconds(),
      details: { generations: this.history.bestFitness.length, population: P, 'best fitness': order.length ? fitness[order[0]] : 'none' },
    };
  }

  /** The first generation: each network drawn as Network.create draws one (--init), in turn from rng, yielding between them. */
  private *initialise(pop: Population, rng: Rng): Generator {
    const { arch, opts } = this;
    for (let i = 0; i < pop.size; i++) {
      const net = Network.create(arch, opts.init, rng);
      for (let l = 0; l < net.depth; l++) {
        pop.w[l][i].data.set(net.weights[l].data);
        pop.b[l][i].set(net.biases[l]);
      }
      yield;
    }
  }

  /** Z^1 = W^1_all Xᵀ + b 1ᵀ for all networks at once; later layers one network at a time. */
  private *forward(pop: Population, x: Matrix, z: Matrix[], zi: Matrix[][], ai: Matrix[][], acts: Activation[], kernels: Kernels): Generator {
    const P = pop.size,
      B = x.rows;
    for (let l = 0; l < z.length; l++) {
      const Z = z[l].data,
        bAll = pop.bAll[l];
      for (let r = 0; r < bAll.length; r++) Z.fill(bAll[r], r * B, (r + 1) * B); // Z ← b 1ᵀ
      if (l === 0)
        yield* rowBlocks(kernels, true, 1, pop.wAll[0], x, 1, z[0]); // Z ← W_all Xᵀ + Z, yielding between blocks of rows
      else yield;
      for (let i = 0; i < P; i++) {
        if (l > 0) kernels.gemm(false, false, 1, pop.w[l][i], ai[l - 1][i], 1, zi[l][i]);
        acts[l].forward(zi[l][i], ai[l][i]); // per network (softmax mixes a column)
        yield;
      }
    }
  }

  /** Elites copied; every other child = neuron crossover of two tournament winners, then mutation. */
  private *breed(cur: Population, next: Population, order: number[], fitness: Float64Array, rng: Rng): Generator {
    const { opts } = this;
    const P = cur.size,
      L = cur.w.length;
    const elite = Math.min(opts.elite, P);
    for (let e = 0; e < elite; e++) next.copy(e, cur, order[e]);
    const tournament = (): number => {
      let best = rng.int(P);
      for (let t = 1; t < opts.tournament; t++) {
        const c = rng.int(P);
        if (fitness[c] < fitness[best]) best = c;
      }
      return best;
    };
    for (let c = elite; c < P; c++) {
      const p1 = tournament(),
        p2 = tournament();
      for (let l = 0; l < L; l++) {
        const n = cur.w[l][c].rows,
          k = cur.w[l][c].cols;
        const W = next.w[l][c].data,
          b = next.b[l][c];
        for (let r = 0; r < n; r++) {
          const p = rng.uniform() < 0.5 ? p1 : p2; // neuron r of layer l comes whole from one parent
          W.set(cur.w[l][p].data.subarray(r * k, (r + 1) * k), r * k);
          b[r] = cur.b[l][p][r];
        }
        mutate(W, opts.mutationRate, opts.sigma, rng);
        mutate(b, opts.mutationRate, opts.sigma, rng);
      }
      yield;
    }
  }

  predict(ex: Examples): ArrayLike<number> {
    return evaluate(this.network, ex, this.kernels ?? jsKernels).predictions;
  }

  finite(): boolean {
    return parametersFinite(this.network);
  }
}

/**
 * Each gene gets + σ·N(0, 1) with probability `rate`. The mutated positions are
 * drawn by geometric skips (the gap to the next one is Geometric(rate)), so
 * the cost is proportional to the number of mutations, not of genes.
 */
export function mutate(genes: Float, rate: number, sigma: number, rng: Rng): void {
  if (rate <= 0) return;
  if (rate >= 1) {
    for (let g = 0; g < genes.length; g++) genes[g] += sigma * rng.normal();
    return;
  }
  const logq = Math.log(1 - rate);
  for (let g = Math.floor(Math.log(1 - rng.uniform()) / logq); g < genes.length; g += 1 + Math.floor(Math.log(1 - rng.uniform()) / logq)) {
    genes[g] += sigma * rng.normal();
  }
}

/** X gets the batch's examples as rows, Y their one-hot labels as columns. */
function fill(ex: Examples, batch: Uint32Array, x: Matrix, y: Matrix): void {
  const { dim } = ex,
    B = batch.length;
  y.data.fill(0);
  for (let j = 0; j < B; j++) {
    x.data.set(ex.features.subarray(batch[j] * dim, (batch[j] + 1) * dim), j * dim);
    y.data[ex.labels[batch[j]] * B + j] = 1;
  }
}

/** P networks of one architecture, stored as one P·n_l × n_(l−1) matrix per layer, with a view per network. */
class Population {
  readonly wAll: Matrix[];
  readonly bAll: Float32Array[];
  readonly w: Matrix[][];
  readonly b: Float32Array[][];

  constructor(
    template: Network,
    readonly size: number,
  ) {
    this.wAll = template.weights.map((W) => Matrix.zeros(size * W.rows, W.cols));
    this.bAll = template.biases.map((b): Float32Array => new Float32Array(size * b.length));
    this.w = this.wAll.map((W, l) => {
      const n = template.weights[l].rows * W.cols;
      return Array.from({ length: size }, (_, i) => new Matrix(template.weights[l].rows, W.cols, W.data.subarray(i * n, (i + 1) * n)));
    });
    this.b = this.bAll.map((b, l) => {
      const n = template.biases[l].length;
      return Array.from({ length: size }, (_, i) => b.subarray(i * n, (i + 1) * n));
    });
  }

  copy(to: number, from: Population, i: number): void {
    for (let l = 0; l < this.w.length; l++) {
      this.w[l][to].data.set(from.w[l][i].data);
      this.b[l][to].set(from.b[l][i]);
    }
  }

  /** Network i, viewing the population's memory. */
  network(arch: Architecture, i: number): Network {
    return new Network(
      arch,
      this.w.map((ws) => ws[i]),
      this.b.map((bs) => bs[i]),
    );
  }
}

/**
 * The GA's large buffers, in bytes (float32), for `backprop learners` to refuse a population that would not fit
 * and for the learner to report as its peak: two populations (this generation and the next) of every weight and
 * bias; Z and A of the whole population on the fitness batch (population·n_l × B per layer); the batch's inputs
 * and one-hot targets.
 */
export function gaMemory(sizes: readonly number[], population: number, fitnessBatch: number): MemoryEstimate {
  let parameters = 0;
  for (let l = 1; l < sizes.length; l++) parameters += sizes[l] * sizes[l - 1] + sizes[l];
  const units = sizes.slice(1).reduce((s, n) => s + n, 0);
  return {
    populations: 4 * 2 * population * parameters,
    activations: 4 * 2 * population * fitnessBatch * units,
    batch: 4 * fitnessBatch * (sizes[0] + sizes[sizes.length - 1]),
  };
}
