import type { Dataset, Examples } from '../data/dataset.js';
import { Matrix, type DType, type Float, type Kernels } from '../linalg/index.js';
import { Rng } from '../base/rng.js';
import { fillBatch } from '../data/dataset.js';
import { softmax } from '../nn/activations.js';
import { allFinite, Gradients } from '../nn/backprop.js';
import { Network, type Architecture } from '../nn/network.js';
import { argmaxColumn } from '../train/metrics.js';
import { Optimizer, OPTIMIZER_DEFAULTS } from '../train/optimizers.js';
import { learningRate } from '../train/schedule.js';
import { drain, Harness, Stop, totalBytes, TraceSchedule, type MemoryEstimate } from './harness.js';
import { accuracy, type FitContext, type FitResult, type Learner } from './learner.js';
import { DOPRI5, odeSolveSteps, RK4, rkStepBackward, stepBackwardWork, type SolveStats, type SolverOptions, type StepRecord } from './ode-solvers.js';

export type OdeGradient = 'adjoint' | 'unrolled';

export interface OdeOptions {
  /** D: size of the hidden state h(t). */
  width: number;
  /** K: hidden units of f, the network that gives dh/dt. */
  hidden: number;
  solver: 'rk4' | 'dopri5';
  /** Fixed RK4 steps from t = 0 to T. */
  steps: number;
  /** Dormand–Prince tolerances. */
  rtol: number;
  atol: number;
  /** The end time T. */
  time: number;
  /** Adam's step size. */
  lr: number;
  /** Input dropout p (Srivastava et al., "Dropout", JMLR 2014): in training, each pixel is zeroed with probability p and the rest scaled by 1/(1 − p). */
  inputDropout: number;
  /** Decoupled weight decay λ (AdamW): each step also shrinks θ by η_t λ θ. */
  weightDecay: number;
  epochs: number;
  batchSize: number;
  /** How the gradient is computed: the adjoint method, or backprop through the stored solver steps. */
  gradient: OdeGradient;
}

export const ODE_DEFAULTS: OdeOptions = {
  width: 64,
  hidden: 256,
  solver: 'rk4',
  steps: 6,
  rtol: 1e-3,
  atol: 1e-4,
  time: 3,
  lr: 2e-3,
  weightDecay: 0,
  inputDropout: 0.2,
  epochs: 15,
  batchSize: 64,
  gradient: 'adjoint',
};

/** The parameters of OdeNet as views into one flat array (the gradient has the same layout). */
export interface OdeParams {
  /** Input map h(0) = A x + a. */
  A: Matrix;
  a: Float;
  /** f(h, t) = W2 tanh(W1 h + w t + b1) + b2. */
  W1: Matrix;
  b1: Float;
  w: Float;
  W2: Matrix;
  b2: Float;
  /** Output logits B h(T) + c, then softmax. */
  B: Matrix;
  c: Float;
}

/** The cost of a batch, the statistics of its two solves, and the bytes of the unrolled gradient's tape. */
export interface GradientResult {
  loss: number;
  forward: SolveStats;
  backward: SolveStats;
  tapeBytes: number;
}

/** Buffers for a batch of m examples (one per column). */
interface Work {
  z: Matrix;
  s: Matrix;
  u: Matrix;
  logits: Matrix;
}

/**
 * A neural ODE classifier (Chen, Rubanova, Bettencourt & Duvenaud, "Neural
 * Ordinary Differential Equations", NeurIPS 2018):
 *
 *     h(0) = A x + a,   dh/dt = f(h, t; θ) = W2 tanh(W1 h + w t + b1) + b2,   p(y | x) = softmax(B h(T) + c).
 *
 * A batch is a matrix with one example per column, so every product is a gemm
 * on the kernel seam. Gradients come from the adjoint method or from backprop
 * through the solver's recorded steps (lossAndGradient).
 */
export class OdeNet {
  readonly theta: Float;
  readonly p: OdeParams;
  /** Where f's parameters [W1 b1 w W2 b2] sit in theta (and in a gradient). */
  readonly fStart: number;
  readonly fEnd: number;
  /** Multiply-adds ×2 done so far, counted where they are done. */
  flops = 0;
  private works = new Map<number, Work>();

  constructor(
    readonly inputs: number,
    readonly width: number,
    readonly hidden: number,
    readonly classes: number,
    readonly dtype: DType,
    readonly kernels: Kernels,
  ) {
    const sizes = OdeNet.sizes(inputs, width, hidden, classes);
    const total = sizes.reduce((s, [r, c]) => s + r * c, 0);
    this.theta = dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
    this.p = this.views(this.theta);
    this.fStart = inputs * width + width;
    this.fEnd = this.fStart + 2 * hidden * width + 2 * hidden + width;
  }

  /** Shapes in theta's order: A, a, W1, b1, w, W2, b2, B, c. */
  static sizes(n: number, D: number, K: number, C: number): [number, number][] {
    return [
      [D, n],
      [D, 1],
      [K, D],
      [K, 1],
      [K, 1],
      [D, K],
      [D, 1],
      [C, D],
      [C, 1],
    ];
  }

  /** The parameter views over theta or over a gradient of the same layout. */
  views(flat: Float): OdeParams {
    let o = 0;
    const next = ([r, c]: [number, number]) => new Matrix(r, c, flat.subarray(o, (o += r * c)));
    const [A, a, W1, b1, w, W2, b2, B, c] = OdeNet.sizes(this.inputs, this.width, this.hidden, this.classes).map(next);
    return { A, a: a.data, W1, b1: b1.data, w: w.data, W2, b2: b2.data, B, c: c.data };
  }

  /** Random initial weights: N(0, 1/fan-in) for A, W1 and B, N(0, 0.1²/K) for W2 so that f starts small; biases 0. */
  init(rng: Rng): this {
    const fill = (m: Matrix, sd: number) => {
      for (let i = 0; i < m.data.length; i++) m.data[i] = sd * rng.normal();
    };
    const { A, W1, W2, B } = this.p;
    fill(A, 1 / Math.sqrt(this.inputs));
    fill(W1, 1 / Math.sqrt(this.width));
    fill(W2, 0.1 / Math.sqrt(this.hidden));
    fill(B, 1 / Math.sqrt(this.width));
    return this;
  }

  private work(m: number): Work {
    let w = this.works.get(m);
    if (!w) {
      const z = (r: number) => Matrix.zeros(r, m, this.dtype);
      w = { z: z(this.hidden), s: z(this.hidden), u: z(this.hidden), logits: z(this.classes) };
      this.works.set(m, w);
    }
    return w;
  }

  /** S = tanh(W1 h + w t + b1 1ᵀ), kept in the batch's work buffers for f and its VJP. */
  private inner(t: number, h: Matrix, wk: Work): void {
    const { W1, b1, w } = this.p;
    const Z = wk.z.data,
      m = h.cols,
      S = wk.s.data;
    for (let i = 0; i < this.hidden; i++) Z.fill(b1[i] + w[i] * t, i * m, (i + 1) * m);
    this.kernels.gemm(false, false, 1, W1, h, 1, wk.z);
    for (let i = 0; i < Z.length; i++) S[i] = Math.tanh(Z[i]);
    this.flops += 2 * this.hidden * this.width * m;
  }

  /** out = f(h, t) = W2 S + b2 1ᵀ, after inner(). */
  private outer(out: Matrix, wk: Work): void {
    const { W2, b2 } = this.p;
    const O = out.data,
      m = out.cols;
    for (let i = 0; i < this.width; i++) O.fill(b2[i], i * m, (i + 1) * m);
    this.kernels.gemm(false, false, 1, W2, wk.s, 1, out);
    this.flops += 2 * this.hidden * this.width * m;
  }

  /** dh/dt = f(h, t; θ) for a batch (D × m). */
  f(t: number, h: Matrix, out: Matrix): void {
    const wk = this.work(h.cols);
    this.inner(t, h, wk);
    this.outer(out, wk);
  }

  /**
   * The vector–Jacobian products of f at (h, t), after inner(): with
   * U = (W2ᵀ g) ⊙ (1 − S²),
   *
   *     gh ← α gᵀ ∂f/∂h = α W1ᵀ U,
   *     ∂W2 += α g Sᵀ,  ∂b2 += α g 1,  ∂W1 += α U hᵀ,  ∂b1 += α U 1,  ∂w += α t U 1.
   */
  private vjpAfterInner(t: number, h: Matrix, g: Matrix, gh: Matrix, alpha: number, grad: OdeParams, wk: Work): void {
    const k = this.kernels,
      { W1, W2 } = this.p;
    const U = wk.u.data,
      S = wk.s.data,
      m = h.cols;
    k.gemm(true, false, 1, W2, g, 0, wk.u);
    for (let i = 0; i < U.length; i++) U[i] *= 1 - S[i] * S[i];
    k.gemm(true, false, alpha, W1, wk.u, 0, gh);
    k.gemm(false, true, alpha, g, wk.s, 1, grad.W2);
    k.rowSums(g, alpha, 1, grad.b2);
    k.gemm(false, true, alpha, wk.u, h, 1, grad.W1);
    k.rowSums(wk.u, alpha, 1, grad.b1);
    k.rowSums(wk.u, alpha * t, 1, grad.w);
    this.flops += 8 * this.hidden * this.width * m;
  }

  /** gh ← gᵀ ∂f/∂h and grad += gᵀ ∂f/∂θ at (h, t). */
  vjp(t: number, h: Matrix, g: Matrix, gh: Matrix, grad: OdeParams): void {
    const wk = this.work(h.cols);
    this.inner(t, h, wk);
    this.vjpAfterInner(t, h, g, gh, 1, grad, wk);
  }

  /** h(0) = A x + a 1ᵀ for the batch X (one example per row), D × m. */
  private inputMap(x: Matrix): Matrix {
    const h0 = Matrix.zeros(this.width, x.rows, this.dtype);
    const { A, a } = this.p;
    for (let i = 0; i < this.width; i++) h0.data.fill(a[i], i * x.rows, (i + 1) * x.rows);
    this.kernels.gemm(false, true, 1, A, x, 1, h0);
    this.flops += 2 * this.inputs * this.width * x.rows;
    return h0;
  }

  /** The dynamics of the whole batch as a flat state (D·m values). */
  private dynamics(m: number, probe?: () => void) {
    const D = this.width;
    return (t: number, y: Float, dy: Float) => {
      probe?.();
      this.f(t, new Matrix(D, m, y), new Matrix(D, m, dy));
    };
  }

  /** h(T) from h(0) by the chosen solver, yielding after every solver step. */
  *solveForward(h0: Matrix, opts: SolverOptions, T: number, onStep?: (s: StepRecord) => void, probe?: () => void): Generator<unknown, { h1: Matrix; stats: SolveStats }> {
    const r = yield* odeSolveSteps(this.dynamics(h0.cols, probe), h0.data, 0, T, opts, onStep);
    return { h1: new Matrix(this.width, h0.cols, r.y), stats: r.stats };
  }

  /** P = softmax(B h + c 1ᵀ), column by column, in the batch's logits buffer. */
  private output(h1: Matrix): Matrix {
    const { B, c } = this.p;
    const lg = this.work(h1.cols).logits,
      L = lg.data,
      m = h1.cols;
    for (let i = 0; i < this.classes; i++) L.fill(c[i], i * m, (i + 1) * m);
    this.kernels.gemm(false, false, 1, B, h1, 1, lg);
    this.flops += 2 * this.classes * this.width * m;
    softmax.forward(lg, lg); // column by column, in place
    return lg;
  }

  /** Class probabilities (classes × m) for a batch X (one example per row). */
  probabilities(x: Matrix, opts: SolverOptions, T: number): Matrix {
    return drain(this.probabilitySteps(x, opts, T));
  }

  /** probabilities(), yielding after every solver step. */
  *probabilitySteps(x: Matrix, opts: SolverOptions, T: number): Generator<unknown, Matrix> {
    return this.output((yield* this.solveForward(this.inputMap(x), opts, T)).h1);
  }

  /** The mean log-likelihood cost −(1/m) Σ_j log p(y_j | x_j) of a batch. */
  loss(x: Matrix, labels: ArrayLike<number>, opts: SolverOptions, T: number): number {
    const P = this.probabilities(x, opts, T),
      m = x.rows;
    let total = 0;
    for (let j = 0; j < m; j++) total -= Math.log(P.data[labels[j] * m + j]);
    return total / m;
  }

  /**
   * The cost of a batch and its gradient with respect to every parameter,
   * written into grad (theta's layout). The ODE part of the gradient comes
   * from the adjoint method or from backprop through the recorded steps; the
   * input and output maps are ordinary layers either way:
   *
   *     δ = (P − Y)/m,   ∂B = δ h(T)ᵀ,   ∂c = δ 1,   a(T) = ∂C/∂h(T) = Bᵀ δ,
   *     [ODE: a(0) = ∂C/∂h(0) and ∂C/∂θ_f from a(T)],
   *     ∂A = a(0) X,   ∂a = a(0) 1.
   *
   * `probe`, if given, is called at every evaluation of f or of the augmented
   * dynamics (to sample memory use); tapeBytes is the size of the stored steps.
   */
  lossAndGradient(x: Matrix, labels: ArrayLike<number>, opts: SolverOptions, T: number, method: OdeGradient, grad: Float, probe?: () => void): GradientResult {
    return drain(this.lossAndGradientSteps(x, labels, opts, T, method, grad, probe));
  }

  /** lossAndGradient(), yielding after every step of the forward and the backward solves. */
  *lossAndGradientSteps(x: Matrix, labels: ArrayLike<number>, opts: SolverOptions, T: number, method: OdeGradient, grad: Float, probe?: () => void): Generator<unknown, GradientResult> {
    const k = this.kernels,
      m = x.rows,
      D = this.width;
    const g = this.views(grad);
    const tape: StepRecord[] = [];
    let tapeBytes = 0;
    const record =
      method === 'unrolled'
        ? (s: StepRecord) => {
            tape.push({ t: s.t, h: s.h, stages: s.stages.map((y) => y.slice()) });
            tapeBytes += s.stages.reduce((b, y) => b + y.byteLength, 0);
          }
        : undefined;
    const h0 = this.inputMap(x);
    const { h1, stats: forward } = yield* this.solveForward(h0, opts, T, record, probe);
    const P = this.output(h1);
    // δ = (P − Y)/m, overwriting P
    const delta = P,
      Dl = delta.data;
    let loss = 0;
    for (let j = 0; j < m; j++) loss -= Math.log(Dl[labels[j] * m + j]);
    for (let i = 0; i < Dl.length; i++) Dl[i] /= m;
    for (let j = 0; j < m; j++) Dl[labels[j] * m + j] -= 1 / m;
    k.gemm(false, true, 1, delta, h1, 0, g.B);
    k.rowSums(delta, 1, 0, g.c);
    const aT = Matrix.zeros(D, m, this.dtype);
    k.gemm(true, false, 1, this.p.B, delta, 0, aT);
    this.flops += 4 * this.classes * D * m;

    let a0: Matrix;
    let backward: SolveStats;
    grad.fill(0, this.fStart, this.fEnd);
    if (method === 'adjoint') {
      ({ a0, stats: backward } = yield* this.adjoint(h1, aT, opts, T, grad, probe));
    } else {
      // Backprop through the recorded steps, last to first: ȳ starts as a(T).
      const tab = opts.method === 'rk4' ? RK4 : DOPRI5;
      const yBar = aT.data,
        work = stepBackwardWork(tab, yBar);
      const vjp = (t: number, y: Float, gy: Float, out: Float) => {
        probe?.();
        this.vjp(t, new Matrix(D, m, y), new Matrix(D, m, gy), new Matrix(D, m, out), g);
      };
      backward = { nfe: 0, steps: tape.length, rejected: 0 };
      for (let i = tape.length - 1; i >= 0; i--) {
        backward.nfe += rkStepBackward(tab, tape[i], vjp, yBar, work);
        yield;
      }
      a0 = aT;
    }
    k.gemm(false, false, 1, a0, x, 0, g.A);
    k.rowSums(a0, 1, 0, g.a);
    this.flops += 2 * this.inputs * D * m;
    return { loss: loss / m, forward, backward, tapeBytes };
  }

  /**
   * The adjoint method (Chen et al. 2018, after Pontryagin): reverse-mode
   * differentiation in continuous time. The adjoint a(t) = ∂C/∂h(t) obeys
   * da/dt = −a(t)ᵀ ∂f/∂h, and ∂C/∂θ = ∫₀ᵀ a(t)ᵀ ∂f/∂θ dt. Both are solved
   * backwards from T to 0 together with h itself (recomputed from h(T), not
   * stored), as one augmented state, exactly as torchdiffeq does:
   *
   *     d/dt [h, a, g_θ] = [f(h, t), −aᵀ ∂f/∂h, −aᵀ ∂f/∂θ],   [h, a, g_θ](T) = [h(T), ∂C/∂h(T), 0],
   *
   * so that g_θ(0) = ∂C/∂θ and a(0) = ∂C/∂h(0). Memory: the augmented state
   * and the solver's stage buffers, whatever the number of steps.
   */
  private *adjoint(h1: Matrix, aT: Matrix, opts: SolverOptions, T: number, grad: Float, probe?: () => void): Generator<unknown, { a0: Matrix; stats: SolveStats }> {
    const D = this.width,
      m = h1.cols,
      n = D * m,
      nf = this.fEnd - this.fStart;
    const y = this.dtype === 'float64' ? new Float64Array(2 * n + nf) : new Float32Array(2 * n + nf);
    y.set(h1.data, 0);
    y.set(aT.data, n);
    const augmented = (t: number, s: Float, ds: Float) => {
      probe?.();
      const h = new Matrix(D, m, s.subarray(0, n)),
        a = new Matrix(D, m, s.subarray(n, 2 * n));
      const dh = new Matrix(D, m, ds.subarray(0, n)),
        da = new Matrix(D, m, ds.subarray(n, 2 * n));
      const dtheta = ds.subarray(2 * n);
      dtheta.fill(0);
      const wk = this.work(m);
      this.inner(t, h, wk);
      this.outer(dh, wk); // dh/dt = f(h, t)
      this.vjpAfterInner(t, h, a, da, -1, this.fViews(dtheta), wk); // da/dt = −aᵀ ∂f/∂h,  dg_θ/dt = −aᵀ ∂f/∂θ
    };
    const r = yield* odeSolveSteps(augmented, y, T, 0, opts, undefined, [n, n, nf]);
    grad.set(r.y.subarray(2 * n), this.fStart); // g_θ(0) is f's part of the gradient
    return { a0: new Matrix(D, m, r.y.slice(n, 2 * n)), stats: r.stats };
  }

  /** Views of f's parameters over a flat array holding only them ([W1 b1 w W2 b2]). */
  private fViews(flat: Float): OdeParams {
    const D = this.width,
      K = this.hidden;
    let o = 0;
    const next = (r: number, c: number) => new Matrix(r, c, flat.subarray(o, (o += r * c)));
    const W1 = next(K, D),
      b1 = next(K, 1).data,
      w = next(K, 1).data,
      W2 = next(D, K),
      b2 = next(D, 1).data;
    const none = Matrix.zeros(0, 0, this.dtype);
    return { A: none, a: none.data, W1, b1, w, W2, b2, B: none, c: none.data };
  }
}

/** The solver settings of a set of options. */
export function solverOptions(o: Pick<OdeOptions, 'solver' | 'steps' | 'rtol' | 'atol'>): SolverOptions {
  return o.solver === 'rk4' ? { method: 'rk4', steps: o.steps } : { method: 'dopri5', rtol: o.rtol, atol: o.atol };
}

/**
 * The neural ODE as a learner: OdeNet trained on mini-batches with Adam
 * (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015),
 * its gradients from the adjoint method (or, with gradient: 'unrolled', from
 * backprop through the stored solver steps).
 */
export class OdeLearner implements Learner {
  readonly name = 'ode' as const;
  readonly opts: OdeOptions;
  net?: OdeNet;

  constructor(opts: Partial<OdeOptions> = {}) {
    this.opts = { ...ODE_DEFAULTS, ...opts };
  }

  describe(): string {
    const o = this.opts;
    const solver = o.solver === 'rk4' ? `RK4 ${o.steps} steps` : `Dormand–Prince rtol ${o.rtol} atol ${o.atol}`;
    return `neural ODE, state ${o.width}, f ${o.width}-${o.hidden}-${o.width} tanh, t ∈ [0, ${o.time}], ${solver}, ${o.gradient} gradients, Adam η=${o.lr} m=${o.batchSize}${o.weightDecay ? ` λ=${o.weightDecay}` : ''}${o.inputDropout ? `, input dropout ${o.inputDropout}` : ''}, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'}`;
  }

  async fit(ds: Dataset, ctx: FitContext): Promise<FitResult> {
    const o = this.opts,
      m = o.batchSize,
      train = ds.train;
    const rng = new Rng(ctx.seed);
    const net = (this.net = new OdeNet(train.dim, o.width, o.hidden, ds.classes, 'float32', ctx.kernels).init(rng));
    const solver = solverOptions(o);
    const P = net.theta.length;
    const grad = new Float32Array(P);
    const adam = flatAdamW(net.theta, grad);
    const x = Matrix.zeros(m, train.dim),
      y = Matrix.zeros(ds.classes, m),
      labels = new Uint8Array(m);

    const h = new Harness(ctx);
    const schedule = new TraceSchedule(1.3);
    const accuracy = () => this.accuracySteps(ctx.test);
    let steps = 0,
      nfeForward = 0,
      nfeBackward = 0,
      tapeBytes = 0;
    await h.point(accuracy());
    const order = new Uint32Array(train.count).map((_, i) => i);
    const batches = Math.floor(train.count / m);
    const cosine = { name: 'cosine', warmup: 0, decay: 1, stepEvery: 1 } as const;
    let epochsRun = 0;
    try {
      for (let epoch = 0; epoch < o.epochs; epoch++) {
        rng.shuffle(order);
        for (let b = 0; b < batches; b++) {
          if (h.shouldStop()) throw new Stop();
          fillBatch(train, order, b * m, x, y);
          for (let j = 0; j < m; j++) labels[j] = train.labels[order[b * m + j]];
          if (o.inputDropout > 0) {
            // Inverted dropout: x ← x ⊙ mask / (1 − p), each mask entry 0 with probability p.
            const keep = 1 / (1 - o.inputDropout),
              X = x.data;
            for (let i = 0; i < X.length; i++) X[i] = rng.nextUint32() < o.inputDropout * 4294967296 ? 0 : X[i] * keep;
          }
          const before = net.flops;
          const r = await h.run(net.lossAndGradientSteps(x, labels, solver, o.time, o.gradient, grad));
          h.flops += net.flops - before;
          nfeForward += r.forward.nfe;
          nfeBackward += r.backward.nfe;
          tapeBytes = Math.max(tapeBytes, r.tapeBytes);
          // AdamW (train/optimizers.ts) at η_t, decaying from η to 0 over the run's updates as
          // ½(1 + cos(π t / t_end)) (Loshchilov & Hutter, "SGDR", ICLR 2017), per update, not per epoch.
          adam.step(learningRate(cosine, o.lr, steps + 1, o.epochs * batches), o.weightDecay);
          steps++;
          // Work: one forward solve and one backward solve of each example (as SGD's forward and backward passes).
          h.work += 2 * m;
          h.progress(steps, o.epochs * batches, 'updates');
          if (schedule.due(steps)) await h.point(accuracy());
        }
        epochsRun++;
      }
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    await h.finalPoint(accuracy);
    return {
      trace: h.trace,
      parametersUpdated: P,
      // odeMemory's buffers and the tape of the unrolled gradient, as large as it grew
      peakBytes: totalBytes(odeMemory(o, train.dim, ds.classes)) + tapeBytes,
      wallSeconds: h.wallSeconds(),
      details: {
        epochs: epochsRun,
        updates: steps,
        solver: o.solver,
        gradient: o.gradient,
        'f evaluations forward': nfeForward,
        'f evaluations backward': nfeBackward,
        'evaluations per example': steps ? (nfeForward + nfeBackward) / steps : 0,
      },
    };
  }

  /** The fraction of ex classified right, yielding after every solver step. */
  private *accuracySteps(ex: Examples): Generator<unknown, number> {
    const pred = yield* this.predictSteps(ex);
    return accuracy(pred, ex);
  }

  predict(ex: Examples): Uint8Array {
    return drain(this.predictSteps(ex));
  }

  finite(): boolean {
    return this.net !== undefined && allFinite(this.net.theta);
  }

  /** The argmax of p(y | x) for 500 examples at a time, yielding after every solver step. */
  *predictSteps(ex: Examples): Generator<unknown, Uint8Array> {
    if (!this.net) throw new Error('ode: fit() first');
    const net = this.net,
      block = 500,
      solver = solverOptions(this.opts);
    const out = new Uint8Array(ex.count);
    for (let s = 0; s < ex.count; s += block) {
      const rows = Math.min(block, ex.count - s);
      const x = new Matrix(rows, ex.dim, ex.features.subarray(s * ex.dim, (s + rows) * ex.dim));
      const P = yield* net.probabilitySteps(x, solver, this.opts.time);
      for (let j = 0; j < rows; j++) out[s + j] = argmaxColumn(P, j);
    }
    return out;
  }
}

/**
 * The shared AdamW of train/optimizers.ts (its tfjs parity test covers the
 * rule) over one flat parameter vector θ with its gradient g: θ is seen as the
 * weight matrix (1 × |θ|) of a one-layer network, so the decoupled decay λ
 * applies to every parameter, as the neural ODE's own rule did; the layer's
 * one bias is a dummy whose gradient stays 0 (Adam leaves it at 0).
 */
function flatAdamW(theta: Float32Array | Float64Array, g: Float32Array): { step(lr: number, weightDecay: number): void } {
  const P = theta.length;
  const arch: Architecture = { sizes: [P, 1], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' };
  const net = new Network(arch, [new Matrix(1, P, theta)], [new Float32Array(1)]);
  const opt = new Optimizer({ name: 'adamw', ...OPTIMIZER_DEFAULTS }, net);
  const grads = new Gradients(net);
  grads.gradW[0] = new Matrix(1, P, g);
  return { step: (lr, weightDecay) => opt.step(grads, lr, weightDecay) };
}

/**
 * The neural ODE's large buffers, in bytes (float32), for `backprop learners` to refuse one that would not fit and
 * for the learner to report as its peak (plus the tape of the unrolled gradient, which grows with the steps taken):
 * θ, its gradient and Adam's two moments; a batch's inputs and targets; the 2s + 3 state-sized buffers of odeSolve
 * (s stages) on the augmented state [h, a, g_θ] of the backward solve, the larger of the two; and f's hidden units
 * over the batch at each of them.
 */
export function odeMemory(o: Pick<OdeOptions, 'width' | 'hidden' | 'batchSize' | 'solver'>, inputs: number, classes: number): MemoryEstimate {
  const P = OdeNet.sizes(inputs, o.width, o.hidden, classes).reduce((a, [r, c]) => a + r * c, 0);
  const m = o.batchSize,
    buffers = 2 * (o.solver === 'rk4' ? RK4 : DOPRI5).c.length + 3,
    fParameters = 2 * o.hidden * o.width + 2 * o.hidden + o.width;
  return {
    parameters: 4 * 4 * P,
    batch: 4 * m * (inputs + classes),
    solver: 4 * buffers * (2 * o.width * m + fParameters),
    hiddenUnits: 4 * buffers * m * o.hidden,
  };
}
