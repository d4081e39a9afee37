import type { Dataset, Examples } from '../data/dataset.js';
import { Matrix, type Kernels } from '../linalg/index.js';
import { solveWork } from '../linalg/cholesky.js';
import { SOLVE_BLOCK, solvePositiveDefiniteSteps } from '../linalg/lapack.js';
import type { Network } from '../nn/network.js';
import { allFinite } from '../nn/backprop.js';
import { slice } from '../data/dataset.js';
import { drain, Harness, PIECE_WORK, Stop, totalBytes, type MemoryEstimate } from './harness.js';
import { accuracy, type FitContext, type FitResult, type Learner, type TracePoint } from './learner.js';

/**
 * The neural tangent kernel of an infinitely wide fully connected ReLU
 * network (Jacot, Gabriel & Hongler 2018, "Neural Tangent Kernel"), in the
 * closed form of Arora et al. 2019 ("On Exact Computation with an Infinitely
 * Wide Neural Net", eqs. 4–5), for the network `backprop train` builds with He
 * initialisation: every weight W^l_ij ~ N(0, σ²/n_(l−1)) with σ² = 2, biases
 * 0. With K^h the covariance of the pre-activations z^h of two inputs x, x':
 *
 *   K^1(x, x') = σ² xᵀx' / n_0,          Θ^1 = K^1
 *   θ = arccos( K^h(x, x') / √(K^h(x, x) K^h(x', x')) )
 *   K^(h+1)(x, x')  = σ² E[relu(u) relu(v)]   = (σ²/2π) √(K^h(x,x) K^h(x',x')) (sin θ + (π − θ) cos θ)
 *   K̇^(h+1)(x, x') = σ² E[relu'(u) relu'(v)] = (σ²/2π) (π − θ)
 *   Θ^(h+1) = Θ^h · K̇^(h+1) + K^(h+1)
 *
 * with (u, v) ~ N(0, K^h). For H hidden layers the kernel of the output
 * (before softmax) is Θ^(H+1); with σ² = 2, K^h(x, x) = 2‖x‖²/n_0 at every h
 * (He initialisation keeps the scale). This is the limit, as the widths
 * grow, of the empirical kernel Σ_θ ∂f(x)/∂θ · ∂f(x')/∂θ of the network in
 * the NTK parameterisation (see empiricalNtk below).
 *
 * Entry (i, j) of the result is Θ(a_i, b_j); the first step, AᵀB, goes
 * through gemm. When `symmetric` (a and b are the same examples) only the
 * lower triangle j ≤ i is computed, a block of rows at a time (about half the
 * gemm work), and mirrored unless `lowerOnly` (the Cholesky reads only it).
 */
export function ntkKernel(a: Examples, b: Examples, hidden: number, kernels: Kernels, symmetric = false, lowerOnly = false): Matrix {
  return drain(ntkKernelSteps(a, b, hidden, kernels, symmetric, lowerOnly));
}

/** ntkKernel(), yielding the rows done (of a.count) after each block's gemm and each row of the recursion. */
export function* ntkKernelSteps(a: Examples, b: Examples, hidden: number, kernels: Kernels, symmetric = false, lowerOnly = false): Generator<number, Matrix> {
  const d = a.dim,
    na = a.count,
    nb = b.count;
  const xa = Matrix.from(na, d, a.features, 'float64');
  const xb = symmetric ? xa : Matrix.from(nb, d, b.features, 'float64');
  const out = Matrix.zeros(na, nb, 'float64');
  const diagA = selfKernel(xa),
    diagB = symmetric ? diagA : selfKernel(xb);
  const T = out.data;
  const block = KERNEL_BLOCK;
  const tmp = new Float64Array(Math.min(block, na) * nb);
  for (let i0 = 0; i0 < na; i0 += block) {
    const rb = Math.min(block, na - i0),
      cols = symmetric ? i0 + rb : nb;
    const rows = new Matrix(rb, d, xa.data.subarray(i0 * d, (i0 + rb) * d));
    const against = new Matrix(cols, d, xb.data.subarray(0, cols * d));
    const K1 = new Matrix(rb, cols, tmp.subarray(0, rb * cols));
    kernels.gemm(false, true, 2 / d, rows, against, 0, K1); // K^1 = σ² x_aᵀ x_b / n_0
    yield i0;
    for (let r = 0; r < rb; r++) {
      const i = i0 + r;
      const end = symmetric ? i + 1 : nb;
      recursion(tmp.subarray(r * cols, r * cols + end), diagA[i], diagB, hidden);
      T.set(tmp.subarray(r * cols, r * cols + end), i * nb);
      yield i + 1;
    }
  }
  if (symmetric && !lowerOnly) for (let i = 0; i < na; i++) for (let j = 0; j < i; j++) T[j * nb + i] = T[i * nb + j];
  return out;
}

/** Rows of the kernel per gemm of K^1. */
const KERNEL_BLOCK = 512;

/** Reports a generator's rows done as the harness's progress. */
function* progressOf<T>(work: Generator<number, T>, total: number, unit: string, h: Harness): Generator<number, T> {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    h.progress(r.value, total, unit);
    yield r.value;
  }
}

/** λ = ridge · mean(diag Θ) added to Θ's diagonal in place, and Yᵀ: one row per class, the one-hot targets (the solve overwrites it by αᵀ). */
function ridgeAndTargets(K: Matrix, labels: Uint8Array, ridge: number, classes: number): { lambda: number; alphaT: Matrix } {
  const n = K.rows;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += K.data[i * n + i] / n;
  const lambda = ridge * mean;
  for (let i = 0; i < n; i++) K.data[i * n + i] += lambda;
  const alphaT = Matrix.zeros(classes, n, 'float64');
  for (let i = 0; i < n; i++) alphaT.data[labels[i] * n + i] = 1;
  return { lambda, alphaT };
}

/** The result of a fit stopped (by a signal or --seconds) before its one measurement. */
function stoppedIn(where: string, h: Harness): FitResult {
  return { trace: [], parametersUpdated: 0, peakBytes: 0, wallSeconds: h.wallSeconds(), details: { 'stopped in': where } };
}

/** The solve's progress unit: its multiply-adds (n³/6 for the factorisation, n² per class for the triangular solves), in millions. */
const SOLVE_UNIT = 'M multiply-adds of the solve';

/** A generator's yielded counts in millions, rounded down. */
function* millions<T>(work: Generator<number, T>): Generator<number, T> {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    yield Math.floor(r.value / 1e6);
  }
}

/** A generator's yielded counts shifted by `by`. */
function* offset<T>(work: Generator<number, T>, by: number): Generator<number, T> {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    yield r.value + by;
  }
}

/**
 * Every large buffer of the NTK learner, in bytes (float64): the training
 * kernel (n² though only its lower triangle is filled), the training inputs
 * as float64, a block of K^1, the targets and α; for the predictions, a
 * chunk's kernel rows against the training set with its inputs and outputs.
 */
export function ntkMemory(n: number, d: number, testCount: number, classes: number): MemoryEstimate {
  const chunk = Math.min(testCount, 1000);
  return {
    'training kernel Θ(X, X)': 8 * n * n,
    'training inputs (float64)': 8 * n * d,
    'a block of K¹': 8 * Math.min(KERNEL_BLOCK, n) * n,
    'targets and α': 8 * classes * n,
    'prediction kernel rows Θ(x, X)': 8 * chunk * n,
    'prediction inputs and outputs': 8 * chunk * (d + classes),
    'prediction K¹ block': 8 * Math.min(KERNEL_BLOCK, chunk) * n,
    "solve: the panel L21 and the triangular solves' strip of L": 2 * 8 * Math.min(SOLVE_BLOCK, n) * n,
    'solve: a block of the trailing update': 8 * Math.min(n * n, Math.max(4 * n, PIECE_WORK / Math.min(SOLVE_BLOCK, n))),
    'solve: the targets transposed': 8 * classes * n,
  };
}

/** The arc-cosine recursion above along one row: k[j] holds K^1(x_i, x_j) and gets Θ^(H+1)(x_i, x_j). */
function recursion(k: Float64Array, diagI: number, diagB: Float64Array, hidden: number): void {
  const INV_PI = 1 / Math.PI;
  for (let j = 0; j < k.length; j++) {
    let kh = k[j],
      theta = kh; // K^1, Θ^1
    const norm = Math.sqrt(diagI * diagB[j]);
    for (let h = 0; h < hidden; h++) {
      const c = norm > 0 ? Math.min(1, Math.max(-1, kh / norm)) : 0;
      const t = Math.acos(c);
      const kdot = (Math.PI - t) * INV_PI; // σ²/2π · (π − θ), σ² = 2
      kh = norm * (Math.sqrt(1 - c * c) + (Math.PI - t) * c) * INV_PI; // σ²/2π · √(..) (sin θ + (π − θ) cos θ)
      theta = theta * kdot + kh;
    }
    k[j] = theta;
  }
}

/** K^1(x, x) = 2‖x‖²/n_0 for each row x (kept at every depth by σ² = 2). */
function selfKernel(x: Matrix): Float64Array {
  const out = new Float64Array(x.rows),
    d = x.cols,
    X = x.data;
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (let p = 0; p < d; p++) s += X[i * d + p] * X[i * d + p];
    out[i] = (2 * s) / d;
  }
  return out;
}

/**
 * The empirical NTK of a finite network at its current weights, for output
 * unit `unit` (its pre-activation z^L_unit, so the output activation does not
 * enter): Θ̂(x, x') = Σ_l (σ²/n_(l−1)) Σ_ij ∂z/∂W^l_ij(x) · ∂z/∂W^l_ij(x'), the
 * sum over weights in the NTK parameterisation (W = √(σ²/n) ω, gradients
 * taken in ω, biases 0 and not trained). The per-example gradient of W^l is
 * δ^l_x (a^(l−1)_x)ᵀ, from our backprop's δ recursion, so the double sum is
 * (δ^l_x · δ^l_x')(a^(l−1)_x · a^(l−1)_x'): per layer, two gemms and an
 * element-wise product. `x` is one example per row (float64).
 */
export function empiricalNtk(net: Network, x: Matrix, unit: number, kernels: Kernels, sigma2 = 2): Matrix {
  const n = x.rows,
    L = net.depth;
  const a: Matrix[] = [x]; // a[l]: one example per row (A^l transposed)
  const z: Matrix[] = [x];
  for (let l = 1; l <= L; l++) {
    // Z^l = W^l A^(l−1) (biases are 0 here), stored transposed: (Z^l)ᵀ = (A^(l−1))ᵀ (W^l)ᵀ
    const zl = Matrix.zeros(n, net.sizes[l], 'float64');
    kernels.gemm(false, true, 1, a[l - 1], net.weights[l - 1], 0, zl);
    const al = Matrix.zeros(n, net.sizes[l], 'float64');
    if (l < L) net.activations[l - 1].forward(zl, al);
    z.push(zl);
    a.push(al);
  }
  // δ^L = e_unit (the derivative of z^L_unit), δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ f'(Z^l), one example per row
  const delta: Matrix[] = new Array<Matrix>(L + 1);
  delta[L] = Matrix.zeros(n, net.sizes[L], 'float64');
  for (let i = 0; i < n; i++) delta[L].set(i, unit, 1);
  for (let l = L - 1; l >= 1; l--) {
    delta[l] = Matrix.zeros(n, net.sizes[l], 'float64');
    kernels.gemm(false, false, 1, delta[l + 1], net.weights[l], 0, delta[l]);
    net.activations[l - 1].backward(z[l], a[l], delta[l], delta[l]);
  }
  const theta = Matrix.zeros(n, n, 'float64');
  const dd = Matrix.zeros(n, n, 'float64'),
    aa = Matrix.zeros(n, n, 'float64');
  for (let l = 1; l <= L; l++) {
    kernels.gemm(false, true, 1, delta[l], delta[l], 0, dd); // δ^l_x · δ^l_x'
    kernels.gemm(false, true, 1, a[l - 1], a[l - 1], 0, aa); // a^(l−1)_x · a^(l−1)_x'
    const s = sigma2 / net.sizes[l - 1];
    for (let k = 0; k < n * n; k++) theta.data[k] += s * dd.data[k] * aa.data[k];
  }
  return theta;
}

export interface NtkOptions {
  /** Hidden layers of the infinitely wide network. */
  hidden: number;
  /** λ relative to the mean of diag Θ: the system solved is (Θ + λ·mean(diag Θ)·I) α = Y. */
  ridge: number;
  /** At most this many training examples (the kernel has n² entries). */
  maxExamples: number;
}

export const NTK_DEFAULTS: NtkOptions = { hidden: 2, ridge: 1e-4, maxExamples: 10000 };

/**
 * Why the kernel's training examples (the first `limit` of the training set) cannot make a classifier: a class of
 * the training set is not among them. Kernel regression on one-hot targets predicts f_y(x) = Θ(x, X) α_y with
 * α_y = (Θ + λI)⁻¹ Y_y, and a class no kernel example has gets Y_y = 0, α_y = 0, f_y ≡ 0: it is never predicted
 * (one example gave one class everywhere, reported as an accuracy). Undefined when every class is there; else the
 * classes missing and the smallest limit that takes one example of each class (the last class's first example).
 */
export function kernelSubsetProblem(labels: ArrayLike<number>, limit: number): { missing: number[]; needed: number } | undefined {
  const first = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) if (!first.has(labels[i])) first.set(labels[i], i);
  const missing = [...first].filter(([, i]) => i >= limit).map(([y]) => y);
  if (!missing.length) return undefined;
  return { missing: missing.sort((a, b) => a - b), needed: Math.max(...first.values()) + 1 };
}

/**
 * Kernel ridge regression with the NTK on one-hot targets: the prediction of
 * an infinitely wide network trained by gradient flow on the squared loss
 * to convergence (Jacot et al. 2018; Arora et al. 2019, §3), plus a small
 * ridge. α = (Θ(X, X) + λI)⁻¹ Y, f(x) = Θ(x, X) α, class = argmax f(x).
 * No weight is ever updated. Memory: n² float64 entries (8n² bytes; 512 MB
 * for n = 8,000); time: the Cholesky factorisation's n³/6 multiply-adds.
 */
export class NtkLearner implements Learner {
  readonly name = 'ntk' as const;
  /** What predict() needs, set whole once the solve has finished: a fit stopped earlier leaves none of it. */
  private fitted?: { train: Examples; alpha: Matrix; kernels: Kernels };
  solver = '';

  constructor(
    readonly opts: NtkOptions,
    readonly classes: number,
  ) {}

  describe(): string {
    const o = this.opts;
    return `neural tangent kernel of an infinitely wide ReLU net (${o.hidden} hidden layer${o.hidden === 1 ? '' : 's'}), kernel ridge regression λ=${o.ridge}·mean diag Θ, at most ${o.maxExamples} training examples`;
  }

  /**
   * Kernel, solve, then the test predictions, each yielding to the event
   * loop on the harness's cadence: the kernel and the predictions between
   * rows, the solve (the blocked Cholesky of src/linalg/cholesky.ts, then
   * its two triangular solves) between blocks of at most PIECE_WORK
   * multiply-adds. A signal stops any of them within a fraction of a second.
   */
  async fit(ds: Dataset, ctx: FitContext): Promise<FitResult> {
    const h = new Harness(ctx);
    const full = ds.train;
    const n = Math.min(full.count, this.opts.maxExamples);
    const train = n === full.count ? full : slice(full, 0, n);
    this.fitted = undefined;
    const d = train.dim,
      nt = ctx.test.count,
      H = this.opts.hidden,
      C = this.classes;
    let K: Matrix;
    try {
      K = await h.run(progressOf(ntkKernelSteps(train, train, H, ctx.kernels, true, true), n, 'kernel rows', h)); // lower triangle
    } catch (e) {
      if (e instanceof Stop) return stoppedIn('the kernel', h);
      throw e;
    }
    // Entries computed: the lower triangle, n(n + 1)/2; the gemm of K^1 covers whole blocks of rows up to the diagonal.
    const triangle = (n * (n + 1)) / 2;
    let gemmEntries = 0;
    for (let i0 = 0; i0 < n; i0 += KERNEL_BLOCK) gemmEntries += Math.min(KERNEL_BLOCK, n - i0) * Math.min(n, i0 + KERNEL_BLOCK);
    h.work += triangle;
    h.flops += 2 * d * gemmEntries + 12 * H * triangle;
    const { lambda, alphaT } = ridgeAndTargets(K, train.labels, this.opts.ridge, C);
    const kernelSeconds = h.seconds();
    // The blocked Cholesky and the two triangular solves, a block at a time: a signal stops them between blocks.
    const total = Math.ceil(solveWork(n, C) / 1e6);
    try {
      h.progress(0, total, SOLVE_UNIT);
      const steps = solvePositiveDefiniteSteps(K, alphaT, ctx.kernels, { pieceWork: PIECE_WORK });
      this.solver = await h.run(progressOf(millions(steps), total, SOLVE_UNIT, h));
      h.progress(total, total, SOLVE_UNIT);
    } catch (e) {
      if (e instanceof Stop) return stoppedIn('the solve', h);
      throw e;
    }
    this.fitted = { train, alpha: alphaT, kernels: ctx.kernels };
    h.flops += (n * n * n) / 3 + 2 * n * n * C; // Cholesky n³/6 multiply-adds = n³/3 flops (G&VL), 2 substitutions of n²/2 a class
    const fitSeconds = h.seconds();
    // The test predictions are the learner's one trace point: their kernel rows count as work, as in training.
    h.work += nt * n;
    h.flops += 2 * d * nt * n + 12 * H * nt * n + 2 * nt * n * C;
    const t0 = performance.now();
    let predictions: Uint8Array | undefined;
    try {
      predictions = await h.run(progressOf(this.predictSteps(ctx.test), nt, 'test rows', h));
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    const point: TracePoint = { seconds: fitSeconds + (performance.now() - t0) / 1000, work: h.work, flops: h.flops, testAccuracy: predictions ? accuracy(predictions, ctx.test) : 0 };
    if (predictions) ctx.onPoint?.(point);
    return {
      trace: predictions ? [point] : [],
      parametersUpdated: 0,
      peakBytes: totalBytes(ntkMemory(n, d, nt, C)),
      wallSeconds: h.wallSeconds(),
      details: { 'training examples': n, 'kernel seconds': +kernelSeconds.toFixed(3), 'solve seconds': +(fitSeconds - kernelSeconds).toFixed(3), solver: this.solver, λ: lambda },
    };
  }

  /** f(x) = Θ(x, X) α for 1,000 examples at a time; the class is the argmax. */
  predict(ex: Examples): Uint8Array {
    return drain(this.predictSteps(ex));
  }

  finite(): boolean {
    return this.fitted !== undefined && allFinite(this.fitted.alpha.data);
  }

  /** predict(), yielding the examples done after every kernel row. */
  *predictSteps(ex: Examples): Generator<number, Uint8Array> {
    if (!this.fitted) throw new Error('ntk: fit() first');
    const { train, alpha, kernels } = this.fitted;
    const C = this.classes,
      out = new Uint8Array(ex.count);
    const chunk = 1000;
    for (let s = 0; s < ex.count; s += chunk) {
      const m = Math.min(chunk, ex.count - s);
      const Kt = yield* offset(ntkKernelSteps(slice(ex, s, s + m), train, this.opts.hidden, kernels), s);
      const f = Matrix.zeros(m, C, 'float64');
      kernels.gemm(false, true, 1, Kt, alpha, 0, f); // f = Θ(x, X) α
      for (let i = 0; i < m; i++) {
        let best = 0; // argmax over the row f(x_i) (argmaxColumn reads columns)
        for (let c = 1; c < C; c++) if (f.data[i * C + c] > f.data[i * C + best]) best = c;
        out[s + i] = best;
      }
    }
    return out;
  }
}
