import { slice, type Examples } from '../data/dataset.js';
import { Matrix, type Kernels } from '../linalg/index.js';
import type { Network } from '../nn/network.js';
import { evaluate } from '../train/metrics.js';
import type { FitContext, TracePoint } from './learner.js';

/** Milliseconds between yields to the event loop: a signal is seen within about this long (as SGD's runTraining). */
export const YIELD_MS = 50;

/** The least time one evaluation of a learner under --seconds may take before it is abandoned (the budget when larger). */
export const EVAL_GRACE_S = 1;

/** Multiply-adds in one piece of a long product (rowBlocks): tens of milliseconds on one core, so a signal waits no longer. */
export const PIECE_WORK = 2 ** 26;

/** Thrown out of interruptible work when the learner must stop (a signal, or the budget spent); the harness catches it. */
export class Stop extends Error {
  constructor() {
    super('stopped');
  }
}

/**
 * The loop harness every learner runs in: its clock (training time, the test
 * evaluations that draw the curves left out), its trace points, its budget
 * (--seconds) and its yields to the event loop on a time cadence, so that a
 * signal handler runs within about YIELD_MS of the signal whatever the
 * learner is doing. Long work is written as a generator that yields between
 * pieces (a gemm, a block of rows, a solver step); `run` drives it, checking
 * the clock at each piece; `drain` runs the same generator synchronously.
 *
 * `tick()` is cheap (one clock read) unless YIELD_MS have passed.
 */
export class Harness {
  readonly trace: TracePoint[] = [];
  /** Example-forwards and multiply-adds ×2 done so far (the learner adds to them). */
  work = 0;
  flops = 0;
  /** Why the learner stopped: a signal (or the caller's shouldStop), --seconds, or an evaluation that outlasted --seconds. */
  stopped?: 'signal' | 'budget' | 'evaluation';
  private readonly t0 = performance.now();
  private evalMs = 0;
  private lastYield = performance.now();
  private evaluating = false;
  /** When the evaluation in progress began (performance.now()). */
  private evalStart = 0;

  constructor(
    private readonly ctx: FitContext,
    private readonly yieldMs = ctx.yieldMs ?? YIELD_MS,
  ) {}

  /** Seconds of training so far: wall time since the start, test evaluations left out. */
  seconds(): number {
    return (performance.now() - this.t0 - this.evalMs) / 1000;
  }

  /** Wall seconds since the start, evaluations included. */
  wallSeconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Seconds spent measuring the trace's test accuracy. */
  evalSeconds(): number {
    return this.evalMs / 1000;
  }

  /**
   * Should the learner stop now: a signal (ctx.shouldStop) or, outside an evaluation, the budget spent? Sets
   * `stopped`. An evaluation's time is not the budget's, but one evaluation may not outlast the budget itself
   * (at least EVAL_GRACE_S): an evaluation whose every piece is long (the ODE's test set through 10⁸ solver steps)
   * ran on, unstoppable but by a signal, with the budget long spent. Such an evaluation is abandoned (it measures
   * nothing) and the learner stops.
   */
  shouldStop(): boolean {
    const budget = this.ctx.budget.seconds ?? Infinity;
    if (this.ctx.shouldStop?.()) this.stopped = 'signal';
    else if (!this.evaluating && this.seconds() >= budget) this.stopped ??= 'budget';
    else if (this.evaluating && (performance.now() - this.evalStart) / 1000 >= Math.max(budget, EVAL_GRACE_S)) {
      this.stopped = 'evaluation';
      return true;
    }
    // Not `stopped !== undefined`: once the budget had stopped the learner, its final evaluation threw Stop and no final point was measured.
    return this.stopped === 'signal' || this.stopped === 'evaluation' || (this.stopped === 'budget' && !this.evaluating);
  }

  /** Yields to the event loop if YIELD_MS have passed since the last yield; then says whether to stop. */
  async tick(): Promise<boolean> {
    if (performance.now() - this.lastYield >= this.yieldMs) {
      await new Promise<void>((r) => setImmediate(r));
      this.lastYield = performance.now();
    }
    return this.shouldStop();
  }

  /** Runs a generator of work, yielding to the event loop between its pieces; throws Stop when the learner must stop. */
  async run<T>(work: Generator<unknown, T>): Promise<T> {
    if (this.shouldStop()) throw new Stop();
    for (;;) {
      const r = work.next();
      if (r.done) return r.value;
      if (await this.tick()) {
        work.return(undefined as T);
        throw new Stop();
      }
    }
  }

  /**
   * Measures the test accuracy (the evaluation's time is left out of
   * `seconds`) and records a trace point. An evaluation interrupted by a
   * signal records nothing.
   */
  async point(accuracy: Generator<unknown, number>): Promise<void> {
    const e0 = (this.evalStart = performance.now());
    this.evaluating = true;
    let acc: number;
    try {
      acc = await this.run(accuracy);
    } catch (e) {
      if (e instanceof Stop) return;
      throw e;
    } finally {
      this.evalMs += performance.now() - e0;
      this.evaluating = false;
    }
    const p: TracePoint = { seconds: this.seconds(), work: this.work, flops: this.flops, testAccuracy: acc };
    this.trace.push(p);
    this.ctx.onPoint?.(p);
  }

  /** point() for an evaluation short enough to run without yielding (SGD's and the GA's forward passes). */
  pointNow(accuracy: () => number): void {
    const e0 = performance.now();
    const acc = accuracy();
    this.evalMs += performance.now() - e0;
    const p: TracePoint = { seconds: this.seconds(), work: this.work, flops: this.flops, testAccuracy: acc };
    this.trace.push(p);
    this.ctx.onPoint?.(p);
  }

  /** Reports progress: `done` of `total` units (generations, updates, kernel rows). */
  progress(done: number, total: number, unit: string): void {
    this.ctx.onProgress?.({ done, total, unit, seconds: this.seconds(), wallSeconds: this.wallSeconds(), testAccuracy: this.trace[this.trace.length - 1]?.testAccuracy });
  }

  /**
   * If the trace's last point is not at the current work, measure one. Not after a signal or an abandoned
   * evaluation: point()'s run() then throws Stop before the first piece, and the trace so far is the result (an
   * empty one gives no row).
   */
  async finalPoint(accuracy: () => Generator<unknown, number>): Promise<void> {
    if (this.trace[this.trace.length - 1]?.work === this.work) return;
    await this.point(accuracy());
  }
}

/** Runs a generator of work to its end without yielding (for synchronous callers: tests, predict()). */
export function drain<T>(work: Generator<unknown, T>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/** Geometrically spaced trace points: after step s (1, 2, 3, … then ×factor), so early progress is resolved. */
export class TraceSchedule {
  private next: number;
  constructor(
    private readonly factor: number,
    first = 1,
  ) {
    this.next = first;
  }

  /** Is a point due after this step? */
  due(step: number): boolean {
    if (step < this.next) return false;
    this.next = Math.max(step + 1, Math.ceil(step * this.factor));
    return true;
  }
}

/** A learner's memory estimate: every large buffer it allocates, by name, in bytes. */
export type MemoryEstimate = Record<string, number>;

export function totalBytes(m: MemoryEstimate): number {
  return Object.values(m).reduce((s, b) => s + b, 0);
}

/** A network's accuracy on examples, 1,000 at a time (evaluate()'s chunk), yielding between chunks. */
export function* networkAccuracy(net: Network, ex: Examples, kernels: Kernels, chunk = 1000): Generator<unknown, number> {
  let correct = 0;
  for (let s = 0; s < ex.count; s += chunk) {
    correct += evaluate(net, slice(ex, s, Math.min(ex.count, s + chunk)), kernels, chunk).correct;
    yield;
  }
  return ex.count ? correct / ex.count : 0;
}

/**
 * C ← α A op(B) + β C computed in blocks of A's and C's rows, yielding between
 * them: one product of many GFLOP (the GA's first layer for the whole
 * population at once) would otherwise hold off a signal for its whole length.
 * Each block is a multiple of 4 rows (the js kernel's row blocking) and at
 * most about `maxWork` multiply-adds; every entry is the same dot product as
 * in one gemm.
 */
export function* rowBlocks(kernels: Kernels, tB: boolean, alpha: number, A: Matrix, B: Matrix, beta: number, C: Matrix, maxWork = PIECE_WORK): Generator {
  const perRow = A.cols * C.cols;
  const rows = Math.max(4, 4 * Math.floor(maxWork / perRow / 4));
  if (rows >= A.rows) {
    kernels.gemm(false, tB, alpha, A, B, beta, C);
    yield;
    return;
  }
  for (let r = 0; r < A.rows; r += rows) {
    const n = Math.min(rows, A.rows - r);
    const a = new Matrix(n, A.cols, A.data.subarray(r * A.cols, (r + n) * A.cols)),
      c = new Matrix(n, C.cols, C.data.subarray(r * C.cols, (r + n) * C.cols));
    kernels.gemm(false, tB, alpha, a, B, beta, c);
    yield;
  }
}
