import type { Float } from '../linalg/index.js';
import { drain } from './harness.js';

/** dy/dt = f(t, y), written into dy (which never aliases y). */
export type Dynamics = (t: number, y: Float, dy: Float) => void;

/**
 * An explicit Runge–Kutta method as its Butcher tableau: stage i evaluates
 * k_i = f(t + c_i h, Y_i) at Y_i = y + h Σ_{j<i} a_ij k_j, and the step is
 * y' = y + h Σ_i b_i k_i. An embedded pair also has e_i = b_i − b̂_i, the
 * weights of the error estimate y' − ŷ' = h Σ_i e_i k_i.
 */
export interface Tableau {
  readonly name: string;
  readonly c: readonly number[];
  readonly a: readonly (readonly number[])[];
  readonly b: readonly number[];
  readonly e?: readonly number[];
  /** Order of the lower-order solution (for step-size control). */
  readonly order: number;
  /** First same as last: the last stage is f(t + h, y'), the next step's first. */
  readonly fsal: boolean;
}

/** The classical fourth-order Runge–Kutta method (Kutta 1901). */
export const RK4: Tableau = {
  name: 'rk4',
  c: [0, 1 / 2, 1 / 2, 1],
  a: [[], [1 / 2], [0, 1 / 2], [0, 0, 1]],
  b: [1 / 6, 1 / 3, 1 / 3, 1 / 6],
  order: 4,
  fsal: false,
};

/**
 * Dormand–Prince 5(4) (Dormand & Prince, "A family of embedded Runge–Kutta
 * formulae", J. Comp. Appl. Math. 6, 1980): the fifth-order solution is
 * propagated and the embedded fourth-order one only measures the error.
 * The seventh stage is f(t + h, y'), reused as the next step's first.
 */
export const DOPRI5: Tableau = {
  name: 'dopri5',
  c: [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
  a: [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ],
  b: [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
  e: [35 / 384 - 5179 / 57600, 0, 500 / 1113 - 7571 / 16695, 125 / 192 - 393 / 640, -2187 / 6784 + 92097 / 339200, 11 / 84 - 187 / 2100, -1 / 40],
  order: 4,
  fsal: true,
};

/** Fixed steps of RK4, or adaptive Dormand–Prince steps kept within rtol/atol. */
export type SolverOptions = { method: 'rk4'; steps: number } | { method: 'dopri5'; rtol: number; atol: number; maxSteps?: number };

export interface SolveStats {
  /** Evaluations of f. */
  nfe: number;
  /** Accepted steps. */
  steps: number;
  /** Rejected (adaptive) steps. */
  rejected: number;
}

/** One accepted step, as the unrolled gradient needs it: its start t, size h and stage inputs Y_i (reused buffers: copy them). */
export interface StepRecord {
  t: number;
  h: number;
  stages: Float[];
}

/** Thrown when an adaptive solve cannot meet its tolerances (step underflow, too many steps, a non-finite state). */
export class SolverError extends Error {
  override name = 'SolverError';
}

const like = (y: Float, n = y.length): Float => (y instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

/**
 * The error norm of an adaptive step: the RMS of err_i / (atol + rtol·max(|y_i|, |y'_i|))
 * over each group of components, and the largest of those (the "mixed norm"
 * torchdiffeq uses for a state made of several tensors). groups are lengths summing to y.length.
 */
export function errorRatio(err: Float, y: Float, y1: Float, rtol: number, atol: number, groups: readonly number[]): number {
  let worst = 0,
    start = 0;
  for (const len of groups) {
    let s = 0;
    for (let i = start; i < start + len; i++) {
      const r = err[i] / (atol + rtol * Math.max(Math.abs(y[i]), Math.abs(y1[i])));
      s += r * r;
    }
    if (len) worst = Math.max(worst, Math.sqrt(s / len));
    start += len;
  }
  return worst;
}

/**
 * Solves dy/dt = f(t, y) from t0 to t1 (t1 < t0 integrates backwards in time)
 * and returns y(t1) in a new array. Memory: the state, the s stage derivatives
 * and a few vectors of the state's size, whatever the number of steps.
 * onStep sees every accepted step's stage inputs (to record a tape).
 *
 * The adaptive controller follows Hairer, Nørsett & Wanner, "Solving Ordinary
 * Differential Equations I", II.4: the initial step from their estimate, and
 * h ← h · min(10, max(0.2, 0.9 · ratio^(−1/5))) after each step.
 */
export function odeSolve(
  f: Dynamics,
  y0: Float,
  t0: number,
  t1: number,
  opts: SolverOptions,
  onStep?: (s: StepRecord) => void,
  groups: readonly number[] = [y0.length],
): { y: Float; stats: SolveStats } {
  return drain(odeSolveSteps(f, y0, t0, t1, opts, onStep, groups));
}

/** odeSolve(), yielding after every step (accepted or rejected), so that a caller can yield to the event loop between steps. */
export function* odeSolveSteps(
  f: Dynamics,
  y0: Float,
  t0: number,
  t1: number,
  opts: SolverOptions,
  onStep?: (s: StepRecord) => void,
  groups: readonly number[] = [y0.length],
): Generator<unknown, { y: Float; stats: SolveStats }> {
  const tab = opts.method === 'rk4' ? RK4 : DOPRI5;
  const n = y0.length,
    s = tab.c.length;
  const y = like(y0),
    ynew = like(y0),
    tmp = like(y0);
  y.set(y0);
  const k = Array.from({ length: s }, () => like(y0));
  const stages = Array.from({ length: s }, () => like(y0));
  const stats: SolveStats = { nfe: 0, steps: 0, rejected: 0 };
  const span = t1 - t0;
  if (span === 0) return { y, stats };

  /** Fills k_i and Y_i for one step of size h from (t, y); k_0 is already f(t, y) when fresh. */
  const stageAll = (t: number, h: number, first: boolean) => {
    stages[0].set(y);
    if (!first) {
      f(t, y, k[0]);
      stats.nfe++;
    }
    for (let i = 1; i < s; i++) {
      const Y = stages[i];
      Y.set(y);
      const ai = tab.a[i];
      for (let j = 0; j < i; j++) {
        const w = h * ai[j];
        if (w === 0) continue;
        const K = k[j];
        for (let q = 0; q < n; q++) Y[q] += w * K[q];
      }
      f(t + tab.c[i] * h, Y, k[i]);
      stats.nfe++;
    }
    // y' = y + h Σ b_i k_i
    ynew.set(y);
    for (let i = 0; i < s; i++) {
      const w = h * tab.b[i];
      if (w === 0) continue;
      const K = k[i];
      for (let q = 0; q < n; q++) ynew[q] += w * K[q];
    }
  };

  if (opts.method === 'rk4') {
    const h = span / opts.steps;
    for (let step = 0; step < opts.steps; step++) {
      const t = t0 + step * h;
      stageAll(t, h, false);
      onStep?.({ t, h, stages });
      y.set(ynew);
      stats.steps++;
      yield;
    }
    return { y, stats };
  }

  const { rtol, atol, maxSteps = 100_000 } = opts;
  const e = tab.e!;
  const dir = Math.sign(span);
  f(t0, y, k[0]);
  stats.nfe++;
  let h = dir * initialStep(f, t0, dir, y, k[0], tab.order, rtol, atol, groups, tmp, ynew, stats);
  let t = t0;
  while (dir * (t1 - t) > 0) {
    if (stats.steps + stats.rejected >= maxSteps) throw new SolverError(`the adaptive solver took more than ${maxSteps} steps (rtol ${rtol}, atol ${atol})`);
    if (dir * (t + h - t1) > 0) h = t1 - t; // land on t1
    if (Math.abs(h) <= 1e-14 * Math.max(1, Math.abs(t))) throw new SolverError(`the adaptive step size underflowed at t = ${t} (rtol ${rtol}, atol ${atol})`);
    stageAll(t, h, true);
    // err = h Σ e_i k_i, the difference of the fifth- and fourth-order solutions
    tmp.fill(0);
    for (let i = 0; i < s; i++) {
      const w = h * e[i];
      if (w === 0) continue;
      const K = k[i];
      for (let q = 0; q < n; q++) tmp[q] += w * K[q];
    }
    const ratio = errorRatio(tmp, y, ynew, rtol, atol, groups);
    if (!Number.isFinite(ratio)) throw new SolverError(`the state became non-finite at t = ${t}`);
    if (ratio <= 1) {
      onStep?.({ t, h, stages });
      y.set(ynew);
      t = Math.abs(t1 - (t + h)) <= 1e-14 * Math.max(1, Math.abs(t + h)) ? t1 : t + h; // what is left below the underflow limit above: land on t1
      k[0].set(k[s - 1]); // FSAL: the last stage was f(t + h, y')
      stats.steps++;
    } else stats.rejected++;
    yield;
    const factor = ratio === 0 ? 10 : Math.min(10, Math.max(ratio <= 1 ? 1 : 0.2, 0.9 * Math.pow(ratio, -1 / (tab.order + 1))));
    h *= factor;
  }
  return { y, stats };
}

/**
 * Hairer, Nørsett & Wanner II.4: a first step from the sizes of y, f(y) and f's change over a tiny Euler step,
 * taken in the direction dir of the solve (their HINIT), so that f is only evaluated inside the interval.
 */
function initialStep(f: Dynamics, t0: number, dir: number, y: Float, f0: Float, order: number, rtol: number, atol: number, groups: readonly number[], y1: Float, f1: Float, stats: SolveStats): number {
  const zero = like(y);
  const scaled = (v: Float) => errorRatio(v, zero, y, rtol, atol, groups); // ‖v / (atol + rtol|y|)‖
  const d0 = scaled(y),
    d1 = scaled(f0);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * (d0 / d1);
  for (let i = 0; i < y.length; i++) y1[i] = y[i] + dir * h0 * f0[i];
  f(t0 + dir * h0, y1, f1);
  stats.nfe++;
  for (let i = 0; i < y.length; i++) y1[i] = f1[i] - f0[i];
  const d2 = scaled(y1) / h0;
  const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : Math.pow(0.01 / Math.max(d1, d2), 1 / (order + 1));
  return Math.min(100 * h0, h1);
}

/**
 * A vector–Jacobian product of f at (t, y): gy ← gᵀ ∂f/∂y, and gᵀ ∂f/∂θ added
 * to the parameters' gradient (which the function holds).
 */
export type Vjp = (t: number, y: Float, g: Float, gy: Float) => void;

/**
 * Backprop through one recorded Runge–Kutta step (the "unrolled" gradient):
 * given ȳ' = ∂L/∂y' in yBar, leaves ∂L/∂y in yBar and adds the step's share
 * of ∂L/∂θ through vjp. From y' = y + h Σ b_i k_i and Y_i = y + h Σ_{j<i} a_ij k_j:
 *
 *     k̄_i = h b_i ȳ' + h Σ_{j>i} a_ji Ȳ_j,   Ȳ_i = k̄_iᵀ ∂f/∂y (Y_i),   ȳ = ȳ' + Σ_i Ȳ_i,
 *
 * taken for i = s … 1 (stages no later stage reads and with b_i = 0 are skipped).
 * The step sizes are treated as constants, as they are in the forward pass.
 */
export function rkStepBackward(tab: Tableau, rec: StepRecord, vjp: Vjp, yBar: Float, work: { kBar: Float[]; Ybar: Float }): number {
  const s = tab.c.length,
    n = yBar.length,
    { h } = rec;
  const { kBar, Ybar } = work;
  const used: boolean[] = [];
  let evaluations = 0;
  for (let i = 0; i < s; i++) {
    used[i] = tab.b[i] !== 0;
    const w = h * tab.b[i],
      K = kBar[i];
    for (let q = 0; q < n; q++) K[q] = w * yBar[q];
  }
  for (let i = s - 1; i >= 0; i--) {
    if (!used[i]) continue;
    vjp(rec.t + tab.c[i] * h, rec.stages[i], kBar[i], Ybar);
    evaluations++;
    for (let q = 0; q < n; q++) yBar[q] += Ybar[q];
    const ai = tab.a[i];
    for (let j = 0; j < i; j++) {
      if (ai[j] === 0) continue;
      const w = h * ai[j],
        K = kBar[j];
      for (let q = 0; q < n; q++) K[q] += w * Ybar[q];
      used[j] = true;
    }
  }
  return evaluations;
}

/** Buffers for rkStepBackward, of the state's size. */
export function stepBackwardWork(tab: Tableau, y: Float): { kBar: Float[]; Ybar: Float } {
  return { kBar: tab.c.map(() => like(y)), Ybar: like(y) };
}
