import type { Dataset, Examples } from '../data/dataset.js';
import { Matrix, type Float, type Kernels } from '../linalg/index.js';
import { Rng } from '../base/rng.js';
import { softplus } from '../nn/costs.js';
import { allFinite } from '../nn/backprop.js';
import { accuracy, type FitContext, type FitResult, type Learner } from './learner.js';
import { drain, Harness, Stop, totalBytes, TraceSchedule, type MemoryEstimate } from './harness.js';

export interface RbmOptions {
  /** Hidden units H. */
  hidden: number;
  /** Learning rate η of the CD updates. */
  lr: number;
  /** Momentum μ: Δθ ← μ Δθ + η (CD estimate − λθ). */
  momentum: number;
  /** L2 weight decay λ on the weights (not the biases). */
  weightDecay: number;
  epochs: number;
  /** Gibbs steps k of CD-k. */
  cdK: number;
  /** Persistent chains (PCD, Tieleman 2008): the negative phase continues last batch's chains instead of starting at the data. */
  persistent: boolean;
  batchSize: number;
}

export const RBM_DEFAULTS: RbmOptions = { hidden: 500, lr: 0.02, momentum: 0.9, weightDecay: 1e-4, epochs: 10, cdK: 1, persistent: false, batchSize: 20 };

/**
 * The most Gibbs steps the report's reconstructions take (k = --cd-k up to this). They are drawn after the fit,
 * outside its budget and its checks for a signal: --cd-k 1000000 held the process for minutes after Ctrl-C.
 */
export const RECONSTRUCTION_STEPS = 100;

/** Examples per gemm when computing free energies. */
const FREE_ENERGY_BLOCK = 500;

/** A fast uniform in [0, 1) with 32 random bits, for the many Bernoulli samples of Gibbs sampling. */
const u32 = (rng: Rng) => rng.nextUint32() * 2.3283064365386963e-10;

/**
 * A classification RBM (Larochelle & Bengio, "Classification using
 * discriminative restricted Boltzmann machines", ICML 2008): binary hidden
 * units h joined to a visible layer v = [x; y] made of the image x (784
 * units, pixel intensities read as probabilities) and the class y (a one-hot
 * group of 10 units). Writing V = [W U] (H × 794), the energy is
 *
 *     E(x, y, h) = −hᵀ W x − hᵀ U y − bᵀ x − dᵀ y − cᵀ h,   p(x, y, h) ∝ e^(−E),
 *
 * so p(h_j = 1 | v) = σ(c_j + V_j v), p(x_i = 1 | h) = σ(b_i + W_iᵀ h) and
 * p(y | h) = softmax(d + Uᵀ h). Training is generative, by contrastive
 * divergence (Hinton 2002): ΔV ∝ ⟨h vᵀ⟩_data − ⟨h vᵀ⟩_k, the second term after
 * k steps of Gibbs sampling. Classification compares free energies
 *
 *     F(x, y) = −dᵀ y − bᵀ x − Σ_j softplus(c_j + W_j x + U_jy),
 *
 * with each class clamped in turn: ŷ = argmin_y F(x, y) (the most probable
 * class, since p(y | x) ∝ e^(−F(x, y))). No gradient of any loss is computed.
 */
export class RbmLearner implements Learner {
  readonly name = 'rbm' as const;
  readonly opts: RbmOptions;
  /** V = [W U], one row per hidden unit: 784 image weights then 10 label weights. */
  v!: Matrix;
  /** Hidden biases c. */
  c!: Float32Array;
  /** Visible biases [b; d]. */
  bv!: Float32Array;
  /** Image units and label units of the visible layer. */
  dim = 0;
  classes = 0;
  private kernels!: Kernels;

  constructor(opts: Partial<RbmOptions> = {}) {
    this.opts = { ...RBM_DEFAULTS, ...opts };
  }

  describe(): string {
    const o = this.opts;
    return `classification RBM, ${o.hidden} hidden units, ${o.persistent ? 'P' : ''}CD-${o.cdK}, η=${o.lr} μ=${o.momentum} λ=${o.weightDecay} m=${o.batchSize}, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'}`;
  }

  async fit(ds: Dataset, ctx: FitContext): Promise<FitResult> {
    const { hidden: H, lr, momentum, weightDecay, epochs, cdK, persistent, batchSize: m } = this.opts;
    const kernels = (this.kernels = ctx.kernels);
    const rng = new Rng(ctx.seed);
    const train = ds.train;
    this.dim = train.dim;
    this.classes = ds.classes;
    const n = train.dim + ds.classes; // visible units
    // Initial weights N(0, 0.01²), hidden biases 0, visible biases log(p/(1 − p)) of the data's means (Hinton's guide, 2010).
    this.v = Matrix.zeros(H, n);
    for (let i = 0; i < this.v.data.length; i++) this.v.data[i] = 0.01 * rng.normal();
    this.c = new Float32Array(H);
    this.bv = new Float32Array(n);
    const mean = new Float64Array(n);
    for (let e = 0; e < train.count; e++) {
      for (let i = 0; i < train.dim; i++) mean[i] += train.features[e * train.dim + i];
      mean[train.dim + train.labels[e]] += 1;
    }
    for (let i = 0; i < n; i++) {
      const p = Math.min(0.99, Math.max(0.01, mean[i] / train.count));
      this.bv[i] = Math.log(p / (1 - p));
    }

    // The batch: v0 (data), p0 = p(h | v0), the chain's visible state vk and hidden probabilities pk, a hidden sample hs.
    const v0 = Matrix.zeros(m, n),
      vk = Matrix.zeros(m, n),
      p0 = Matrix.zeros(m, H),
      pk = Matrix.zeros(m, H),
      hs = Matrix.zeros(m, H);
    const ones = Matrix.from(m, 1, new Float32Array(m).fill(1));
    const dV = Matrix.zeros(H, n),
      dc = Matrix.zeros(H, 1),
      dbv = Matrix.zeros(n, 1); // momentum buffers (velocities)
    const chains = persistent ? startChains(train, rng, m, n) : undefined;
    const buffers = { v0, vk, p0, pk, hs, chains };

    const h = new Harness(ctx);
    const schedule = new TraceSchedule(1.3);
    const accuracy = () => this.accuracySteps(ctx.test, kernels);
    await h.point(accuracy());
    const batches = Math.floor(train.count / m);
    const order = new Uint32Array(train.count).map((_, i) => i);
    let epochsRun = 0,
      updates = 0;
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        rng.shuffle(order);
        for (let b = 0; b < batches; b++) {
          if (h.shouldStop()) throw new Stop();
          fillVisible(train, v0.data, n, order.subarray(b * m, (b + 1) * m));
          await h.run(this.update(buffers, rng, kernels));
          // ΔV ← μ ΔV + (η/m)(p0ᵀ v0 − pkᵀ vk) − ηλV,   V ← V + ΔV
          kernels.gemm(true, false, lr / m, p0, v0, momentum, dV);
          await h.tick();
          kernels.gemm(true, false, -lr / m, pk, vk, 1, dV);
          const V = this.v.data,
            D = dV.data;
          for (let i = 0; i < V.length; i++) {
            D[i] -= lr * weightDecay * V[i];
            V[i] += D[i];
          }
          // Δc ← μ Δc + (η/m)(p0 − pk)ᵀ 1,   Δ[b; d] ← μ Δ[b; d] + (η/m)(v0 − vk)ᵀ 1
          kernels.gemm(true, false, lr / m, p0, ones, momentum, dc);
          kernels.gemm(true, false, -lr / m, pk, ones, 1, dc);
          kernels.gemm(true, false, lr / m, v0, ones, momentum, dbv);
          kernels.gemm(true, false, -lr / m, vk, ones, 1, dbv);
          for (let i = 0; i < H; i++) this.c[i] += dc.data[i];
          for (let i = 0; i < n; i++) this.bv[i] += dbv.data[i];
          // Work: the up pass of the data, then k down-and-up Gibbs steps (1 + 2k passes an example),
          // plus the two outer products of the update; each pass and product is 2·m·n·H flops.
          updates++;
          h.work += m * (1 + 2 * cdK + (chains ? 1 : 0));
          h.flops += 2 * m * n * H * (1 + 2 * cdK + (chains ? 1 : 0) + 2);
          h.progress(updates, epochs * batches, 'updates');
          if (schedule.due(updates)) await h.point(accuracy());
        }
        epochsRun++;
      }
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    await h.finalPoint(accuracy);
    return {
      trace: h.trace,
      parametersUpdated: H * n + H + n,
      peakBytes: totalBytes(rbmMemory(this.opts, train.dim, ds.classes, train.count, ctx.test.count)),
      wallSeconds: h.wallSeconds(),
      details: { epochs: epochsRun, updates, 'CD steps': cdK, chains: persistent ? 'persistent' : 'from the data', 'hidden units': H },
    };
  }

  /**
   * The two phases of one CD update on the batch v0, yielding between its
   * products: p0 = p(h | v0), then k steps of Gibbs sampling from the data
   * (CD) or from the persistent chains (PCD), leaving vk and pk.
   */
  private *update(buf: { v0: Matrix; vk: Matrix; p0: Matrix; pk: Matrix; hs: Matrix; chains?: Matrix }, rng: Rng, kernels: Kernels): Generator {
    const { v0, vk, p0, pk, hs, chains } = buf;
    const { cdK } = this.opts;
    // Positive phase: p0 = σ(v0 Vᵀ + 1 cᵀ)
    this.hiddenProbs(v0, p0, kernels);
    yield;
    if (chains) {
      this.hiddenProbs(chains, pk, kernels);
      sample(pk, hs, rng);
      yield;
    } else sample(p0, hs, rng);
    for (let step = 1; step <= cdK; step++) {
      this.visibleProbs(hs, vk, kernels); // vk = p(v | h)
      if (chains) sampleVisible(vk, this.dim, rng); // a persistent chain must be a sample, not a mean
      yield;
      this.hiddenProbs(vk, pk, kernels); // pk = p(h | vk)
      if (step < cdK) sample(pk, hs, rng);
      yield;
    }
    if (chains) chains.data.set(vk.data);
  }

  /** The fraction of ex classified right, yielding between blocks of examples. */
  private *accuracySteps(ex: Examples, kernels: Kernels): Generator<unknown, number> {
    const pred = yield* this.predictSteps(ex, kernels);
    return accuracy(pred, ex);
  }

  /** P = σ(V_in Vᵀ + 1 cᵀ): p(h = 1 | v) for each row v of V_in. */
  hiddenProbs(vin: Matrix, p: Matrix, kernels: Kernels): void {
    const P = p.data,
      H = p.cols;
    for (let r = 0; r < p.rows; r++) P.set(this.c, r * H);
    kernels.gemm(false, true, 1, vin, this.v, 1, p);
    for (let i = 0; i < P.length; i++) P[i] = 1 / (1 + Math.exp(-P[i]));
  }

  /** R = h V + 1 [b; d]ᵀ, then σ on the image units and softmax over the label group: p(x | h), p(y | h). */
  visibleProbs(h: Matrix, r: Matrix, kernels: Kernels): void {
    const R = r.data,
      n = r.cols,
      D = this.dim;
    for (let row = 0; row < r.rows; row++) R.set(this.bv, row * n);
    kernels.gemm(false, false, 1, h, this.v, 1, r);
    for (let row = 0; row < r.rows; row++) {
      const o = row * n;
      for (let i = 0; i < D; i++) R[o + i] = 1 / (1 + Math.exp(-R[o + i]));
      let max = -Infinity,
        sum = 0;
      for (let i = D; i < n; i++) max = Math.max(max, R[o + i]);
      for (let i = D; i < n; i++) sum += R[o + i] = Math.exp(R[o + i] - max);
      for (let i = D; i < n; i++) R[o + i] /= sum;
    }
  }

  predict(ex: Examples, kernels?: Kernels): Uint8Array {
    return drain(this.predictSteps(ex, kernels ?? this.kernels));
  }

  finite(): boolean {
    return this.v !== undefined && [this.v.data, this.c, this.bv].every(allFinite);
  }

  /** ŷ = argmin_y F(x, y) for every example, yielding between pieces of the free energies. */
  *predictSteps(ex: Examples, k: Kernels): Generator<unknown, Uint8Array> {
    if (!this.v) throw new Error('rbm: fit() first');
    const scores = yield* this.freeEnergySteps(ex, k);
    const K = this.classes,
      out = new Uint8Array(ex.count);
    for (let e = 0; e < ex.count; e++) {
      let best = 0;
      for (let y = 1; y < K; y++) if (scores[e * K + y] < scores[e * K + best]) best = y;
      out[e] = best;
    }
    return out;
  }

  /**
   * F(x, y) + bᵀx = −d_y − Σ_j softplus(c_j + W_j x + U_jy) for every example
   * and class (count × classes, row-major); bᵀx is the same for every class,
   * so it is left out. W x + c for a block of examples is one gemm.
   */
  freeEnergies(ex: Examples, kernels: Kernels): Float64Array {
    return drain(this.freeEnergySteps(ex, kernels));
  }

  /** freeEnergies(), yielding after each block's gemm and each example's K free energies. */
  *freeEnergySteps(ex: Examples, kernels: Kernels): Generator<unknown, Float64Array> {
    const H = this.v.rows,
      n = this.v.cols,
      D = this.dim,
      K = this.classes;
    const block = FREE_ENERGY_BLOCK;
    const xin = Matrix.zeros(block, n),
      q = Matrix.zeros(block, H);
    const out = new Float64Array(ex.count * K);
    const V = this.v.data;
    for (let s = 0; s < ex.count; s += block) {
      const rows = Math.min(block, ex.count - s);
      const xb = rows === block ? xin : Matrix.zeros(rows, n),
        qb = rows === block ? q : Matrix.zeros(rows, H);
      for (let j = 0; j < rows; j++) xb.data.set(ex.features.subarray((s + j) * D, (s + j + 1) * D), j * n); // label units 0
      this.hiddenInputs(xb, qb, kernels);
      yield;
      const Q = qb.data;
      for (let j = 0; j < rows; j++) {
        for (let y = 0; y < K; y++) {
          let f = -this.bv[D + y];
          for (let h = 0; h < H; h++) f -= softplus(Q[j * H + h] + V[h * n + D + y]);
          out[(s + j) * K + y] = f;
        }
        yield;
      }
    }
    return out;
  }

  /** Q = V_in Vᵀ + 1 cᵀ, the hidden units' total input. */
  private hiddenInputs(vin: Matrix, q: Matrix, kernels: Kernels): void {
    for (let r = 0; r < q.rows; r++) q.data.set(this.c, r * q.cols);
    kernels.gemm(false, true, 1, vin, this.v, 1, q);
  }

  /**
   * The learned filters (each hidden unit's image weights, up to maxFilters)
   * and `count` test digits with what k Gibbs steps make of them (v → h → v,
   * the label clamped to the true class): the images the report draws.
   */
  filterImages(ex: Examples, kernels: Kernels, count = 10, maxFilters = 100, seed = 1): { filters: Float[]; originals: Float[]; reconstructions: Float[] } {
    const H = this.v.rows,
      n = this.v.cols,
      D = this.dim;
    const filters: Float[] = [];
    for (let h = 0; h < Math.min(H, maxFilters); h++) filters.push(this.v.data.subarray(h * n, h * n + D));
    return { filters, ...this.reconstruct(ex, count, kernels, seed) };
  }

  /** The Gibbs steps of the reconstructions: k = cdK, at most RECONSTRUCTION_STEPS. */
  get reconstructionSteps(): number {
    return Math.min(this.opts.cdK, RECONSTRUCTION_STEPS);
  }

  /** The first example of each class (up to count) and its image after k = reconstructionSteps Gibbs steps v → h → v, its label clamped. */
  reconstruct(ex: Examples, count: number, kernels: Kernels, seed = 1): { originals: Float[]; reconstructions: Float[] } {
    const H = this.v.rows,
      n = this.v.cols,
      D = this.dim;
    const picks: number[] = [];
    for (let y = 0; y < this.classes && picks.length < count; y++) {
      const i = ex.labels.indexOf(y);
      if (i >= 0) picks.push(i);
    }
    const rng = new Rng(seed);
    const v = Matrix.zeros(picks.length, n),
      p = Matrix.zeros(picks.length, H),
      hs = Matrix.zeros(picks.length, H);
    fillVisible(ex, v.data, n, picks);
    for (let step = 0; step < this.reconstructionSteps; step++) {
      this.hiddenProbs(v, p, kernels);
      sample(p, hs, rng);
      this.visibleProbs(hs, v, kernels);
      picks.forEach((e, j) => {
        v.data.fill(0, j * n + D, (j + 1) * n); // the label stays clamped to the true class
        v.data[j * n + D + ex.labels[e]] = 1;
      });
    }
    return {
      originals: picks.map((e) => ex.features.slice(e * D, (e + 1) * D)),
      reconstructions: picks.map((_, j) => v.data.slice(j * n, j * n + D)),
    };
  }
}

/** A visible batch, row j from example picks[j] (n units a row): the image's intensities, then the one-hot label. */
function fillVisible(ex: Examples, out: Float32Array | Float64Array, n: number, picks: ArrayLike<number>): void {
  const D = ex.dim;
  for (let j = 0; j < picks.length; j++) {
    const e = picks[j],
      o = j * n;
    out.set(ex.features.subarray(e * D, (e + 1) * D), o);
    out.fill(0, o + D, o + n);
    out[o + D + ex.labels[e]] = 1;
  }
}

/** The persistent chains' first state (Tieleman 2008): m training examples drawn at random, one a row. */
function startChains(train: Examples, rng: Rng, m: number, n: number): Matrix {
  const chains = Matrix.zeros(m, n);
  const picks = Array.from({ length: m }, () => rng.int(train.count));
  fillVisible(train, chains.data, n, picks);
  return chains;
}

/** h ~ Bernoulli(p), element-wise. */
function sample(p: Matrix, h: Matrix, rng: Rng): void {
  const P = p.data,
    S = h.data;
  for (let i = 0; i < P.length; i++) S[i] = u32(rng) < P[i] ? 1 : 0;
}

/** Replaces the probabilities of a visible batch by a sample: Bernoulli pixels, one class drawn from the label softmax. */
function sampleVisible(v: Matrix, D: number, rng: Rng): void {
  const V = v.data,
    n = v.cols;
  for (let r = 0; r < v.rows; r++) {
    const o = r * n;
    for (let i = 0; i < D; i++) V[o + i] = u32(rng) < V[o + i] ? 1 : 0;
    let u = u32(rng),
      chosen = n - 1;
    for (let i = D; i < n; i++) {
      u -= V[o + i];
      if (u < 0 && chosen === n - 1) chosen = i;
    }
    for (let i = D; i < n; i++) V[o + i] = i === chosen ? 1 : 0;
  }
}

/**
 * Every large buffer fit() and predict() allocate, in bytes (float32): V and
 * its velocity, the batch's visible (v0, vk) and hidden (p0, pk, hs) buffers,
 * the persistent chains, the free-energy block of predict() with its scores,
 * and the data's means.
 */
export function rbmMemory(o: RbmOptions, inputs: number, classes: number, trainCount: number, testCount = 10_000): MemoryEstimate {
  const H = o.hidden,
    n = inputs + classes,
    m = Math.min(o.batchSize, trainCount);
  return {
    'weights V and their velocity': 4 * 2 * H * n,
    'batch: visible units v0, vk': 4 * 2 * m * n,
    'batch: hidden units p0, pk, hs': 4 * 3 * m * H,
    'persistent chains': o.persistent ? 4 * m * n : 0,
    'free-energy block': 4 * FREE_ENERGY_BLOCK * (n + H),
    'free energies (float64)': 8 * testCount * classes,
    'training order': 4 * trainCount,
  };
}
