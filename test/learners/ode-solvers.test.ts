import { describe, expect, it } from 'vitest';
import type { Float } from '../../src/linalg/index.js';
import { DOPRI5, errorRatio, odeSolve, odeSolveSteps, RK4, rkStepBackward, SolverError, stepBackwardWork, type StepRecord } from '../../src/learners/ode-solvers.js';

// src/learners/ode-solvers.ts against problems solved by hand: RK4 reproduces the Taylor polynomial of e^(ah) on
// dy/dt = a·y and integrates polynomials of t up to degree 3 exactly; Dormand–Prince meets its tolerance on e^t; one
// step's backward pass on a linear problem is y'/y (the step is linear in y).

const f64 = (...v: number[]) => Float64Array.from(v);
const taylor4 = (z: number) => 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24;

describe('RK4', () => {
  it('on dy/dt = a·y each step multiplies by 1 + z + z²/2 + z³/6 + z⁴/24 (z = ah), forwards and backwards in time', () => {
    const grow = (t: number, y: Float, dy: Float) => {
      for (let i = 0; i < y.length; i++) dy[i] = (i + 1) * y[i];
    };
    const r = odeSolve(grow, f64(1, 2), 0, 1, { method: 'rk4', steps: 2 });
    expect(r.y[0]).toBeCloseTo(taylor4(0.5) ** 2, 14);
    expect(r.y[1]).toBeCloseTo(2 * taylor4(1) ** 2, 13);
    expect(r.stats).toEqual({ nfe: 8, steps: 2, rejected: 0 });
    const back = odeSolve(grow, f64(1, 1), 1, 0, { method: 'rk4', steps: 4 });
    expect(back.y[0]).toBeCloseTo(taylor4(-0.25) ** 4, 14);
    expect(back.y[1]).toBeCloseTo(taylor4(-0.5) ** 4, 14);
  });

  it('integrates dy/dt = t³ − t + 1 exactly (its c nodes and b weights), in float32 too', () => {
    const poly = (t: number, _y: Float, dy: Float) => dy.fill(t ** 3 - t + 1);
    // y(2) − y(0) = 4 − 2 + 2 = 4
    expect(odeSolve(poly, f64(1), 0, 2, { method: 'rk4', steps: 3 }).y[0]).toBeCloseTo(5, 13);
    const r32 = odeSolve(poly, Float32Array.from([1]), 0, 2, { method: 'rk4', steps: 1 }).y;
    expect(r32).toBeInstanceOf(Float32Array);
    expect(r32[0]).toBeCloseTo(5, 5);
  });

  it('records every step: its t, h and stage inputs Y_i = y + h Σ a_ij k_j', () => {
    const steps: { t: number; h: number; stages: number[] }[] = [];
    const onStep = (s: StepRecord) => steps.push({ t: s.t, h: s.h, stages: s.stages.map((x) => x[0]) });
    const y0 = f64(1);
    const r = odeSolve((_t, y, dy) => dy.set(y), y0, 0, 2, { method: 'rk4', steps: 2 }, onStep);
    expect(steps[0]).toEqual({ t: 0, h: 1, stages: [1, 1.5, 1.75, 2.75] });
    expect(steps[1].t).toBe(1);
    expect(steps[1].stages[0]).toBeCloseTo(taylor4(1), 15);
    expect(y0[0]).toBe(1); // the initial state is not changed
    expect(r.y).not.toBe(y0);
  });

  it('an empty interval: y0 copied, f never evaluated; the generator yields once a step', () => {
    let calls = 0;
    const r = odeSolve(() => calls++, f64(3), 1, 1, { method: 'rk4', steps: 5 });
    expect([r.y[0], calls, r.stats.nfe, r.stats.steps]).toEqual([3, 0, 0, 0]);
    const g = odeSolveSteps((_t, y, dy) => dy.set(y), f64(1), 0, 1, { method: 'rk4', steps: 3 });
    let yields = 0;
    while (!g.next().done) yields++;
    expect(yields).toBe(3);
  });
});

describe('Dormand–Prince 5(4)', () => {
  const exp = (_t: number, y: Float, dy: Float) => dy.set(y);

  it('meets its tolerance on dy/dt = y, forwards and backwards, with fewer steps at a looser tolerance', () => {
    const tight = odeSolve(exp, f64(1), 0, 1, { method: 'dopri5', rtol: 1e-10, atol: 1e-12 });
    expect(Math.abs(tight.y[0] - Math.E)).toBeLessThan(1e-9);
    const loose = odeSolve(exp, f64(1), 0, 1, { method: 'dopri5', rtol: 1e-4, atol: 1e-6 });
    expect(Math.abs(loose.y[0] - Math.E)).toBeLessThan(1e-4);
    expect(Math.abs(loose.y[0] - Math.E)).toBeGreaterThan(1e-12);
    expect(loose.stats.steps).toBeLessThan(tight.stats.steps);
    // FSAL: 6 new evaluations per step after the first f(t0, y0), plus 1 for the initial step size
    expect(tight.stats.nfe).toBe(2 + 6 * (tight.stats.steps + tight.stats.rejected));
    const back = odeSolve(exp, f64(Math.E), 1, 0, { method: 'dopri5', rtol: 1e-10, atol: 1e-12 });
    expect(Math.abs(back.y[0] - 1)).toBeLessThan(1e-9);
    // lands exactly on t1
    const ts: number[] = [];
    odeSolve(exp, f64(1), 0, 1, { method: 'dopri5', rtol: 1e-6, atol: 1e-9 }, (s) => ts.push(s.t + s.h));
    expect(ts[ts.length - 1]).toBeCloseTo(1, 14);
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThan(ts[i - 1]);
  });

  it('integrates a quartic in t exactly with a single step; a zero right-hand side in one step', () => {
    const r = odeSolve((t, _y, dy) => dy.fill(5 * t ** 4), f64(0), 0, 1, { method: 'dopri5', rtol: 1e-8, atol: 1e-8 });
    expect(r.y[0]).toBeCloseTo(1, 14);
    const still = odeSolve((_t, _y, dy) => dy.fill(0), f64(2), 0, 10, { method: 'dopri5', rtol: 1e-6, atol: 1e-6 });
    expect(still.y[0]).toBe(2);
    expect(still.stats.rejected).toBe(0);
  });

  it('rejects a step that is too large and retries smaller (a fast decay with a large first guess)', () => {
    const stiffish = (_t: number, y: Float, dy: Float) => {
      dy[0] = -50 * (y[0] - Math.cos(_t));
    };
    const r = odeSolve(stiffish, f64(0), 0, 3, { method: 'dopri5', rtol: 1e-3, atol: 1e-6 });
    expect(r.stats.rejected).toBeGreaterThan(0);
    // y follows cos t closely after the transient: y ≈ cos t + sin t / 50 (to O(1/2500))
    expect(Math.abs(r.y[0] - (Math.cos(3) + Math.sin(3) / 50))).toBeLessThan(2e-3);
  });

  it('refuses too many steps, a non-finite state and an underflowing step, with a message', () => {
    expect(() => odeSolve(exp, f64(1), 0, 10, { method: 'dopri5', rtol: 1e-10, atol: 1e-10, maxSteps: 3 })).toThrow(
      new SolverError('the adaptive solver took more than 3 steps (rtol 1e-10, atol 1e-10)'),
    );
    expect(() => odeSolve((_t, _y, dy) => dy.fill(NaN), f64(1), 0, 1, { method: 'dopri5', rtol: 1e-6, atol: 1e-6 })).toThrow(SolverError);
    let calls = 0;
    expect(() => odeSolve((_t, _y, dy) => dy.fill(calls++ < 2 ? 1 : NaN), f64(1), 0, 1, { method: 'dopri5', rtol: 1e-6, atol: 1e-6 })).toThrow(/^the state became non-finite at t = 0$/);
    // y' = y², y(0) = 1 blows up at t = 1
    expect(() => odeSolve((_t, y, dy) => dy.fill(y[0] * y[0]), f64(1), 0, 2, { method: 'dopri5', rtol: 1e-8, atol: 1e-8 })).toThrow(SolverError);
    const e = (() => {
      try {
        odeSolve((_t, y, dy) => dy.fill(y[0] * y[0]), f64(1), 0, 2, { method: 'dopri5', rtol: 1e-8, atol: 1e-8 });
      } catch (x) {
        return (x as Error).message;
      }
    })();
    expect(e).toMatch(/^the adaptive step size underflowed at t = (0\.99|1\.0000)\d+ \(rtol 1e-8, atol 1e-8\)$/);
  });
});

describe('errorRatio', () => {
  it('the largest RMS over the groups of err / (atol + rtol · max(|y|, |y′|))', () => {
    // denominators 1 + 1·max: [2, 2, 1]; group [0, 2): RMS(0.5, 0.5) = 0.5; group [2, 3): 3
    expect(errorRatio(f64(1, -1, 3), f64(0, 0, 0), f64(1, -1, 0), 1, 1, [2, 1])).toBe(3);
    expect(errorRatio(f64(1, -1, 3), f64(0, 0, 0), f64(1, -1, 0), 1, 1, [3])).toBeCloseTo(Math.sqrt((0.25 + 0.25 + 9) / 3), 15);
    expect(errorRatio(f64(2, 4), f64(-3, 1), f64(1, -7), 0.5, 0.5, [1, 1])).toBe(1);
    // an empty group counts for nothing
    expect(errorRatio(f64(1, 1), f64(0, 0), f64(0, 0), 0, 1, [0, 2])).toBe(1);
    expect(errorRatio(f64(1, 3), f64(0, 0), f64(0, 0), 0, 2, [1, 1, 0])).toBe(1.5);
  });
});

describe('rkStepBackward', () => {
  /** One recorded step of dy/dt = a(t)·y from y0 = 1, then its backward pass from ȳ' = 1: dy'/dy0, which is y' (linear). */
  function backward(tab: typeof RK4, a: (t: number) => number, h: number, t0 = 0.3): { yPrime: number; grad: number; evaluations: number; times: number[] } {
    const f = (t: number, y: Float, dy: Float) => {
      dy[0] = a(t) * y[0];
    };
    let rec: StepRecord | undefined;
    const copy = (s: StepRecord) => (rec ??= { t: s.t, h: s.h, stages: s.stages.map((x) => Float64Array.from(x)) });
    const yPrime = tab === RK4 ? odeSolve(f, f64(1), t0, t0 + h, { method: 'rk4', steps: 1 }, copy).y[0] : odeSolve(f, f64(1), t0, t0 + h, { method: 'dopri5', rtol: 1, atol: 1 }, copy).y[0];
    const times: number[] = [];
    const vjp = (t: number, _y: Float, g: Float, gy: Float) => {
      times.push(t);
      gy[0] = a(t) * g[0];
    };
    const yBar = f64(1);
    const evaluations = rkStepBackward(tab, rec!, vjp, yBar, stepBackwardWork(tab, yBar));
    return { yPrime, grad: yBar[0], evaluations, times };
  }

  it("RK4: ∂y'/∂y of a step of dy/dt = a(t)·y, through every stage, at the stages' times", () => {
    const r = backward(RK4, (t) => 1 + t, 0.5);
    expect(r.grad).toBeCloseTo(r.yPrime, 14);
    expect(r.evaluations).toBe(4);
    expect(r.times).toEqual([0.8, 0.55, 0.55, 0.3]);
    expect(backward(RK4, () => -2, 1).grad).toBeCloseTo(taylor4(-2), 14);
  });

  it('Dormand–Prince: the seventh stage (b = 0, read by no later stage) is skipped; the second (b = 0, read by later stages) is not', () => {
    const r = backward(DOPRI5, (t) => 2 - t, 0.2);
    expect(r.grad).toBeCloseTo(r.yPrime, 14);
    expect(r.evaluations).toBe(6);
    expect(r.times.map((t) => Math.round(((t - 0.3) / 0.2) * 1e12) / 1e12)).toEqual([1, 8 / 9, 4 / 5, 3 / 10, 1 / 5, 0].map((c) => Math.round(c * 1e12) / 1e12));
  });

  it('work buffers of the state’s size and precision, one per stage', () => {
    const w = stepBackwardWork(DOPRI5, new Float32Array(3));
    expect(w.kBar).toHaveLength(7);
    expect(w.kBar.every((k) => k instanceof Float32Array && k.length === 3)).toBe(true);
    expect(w.Ybar).toBeInstanceOf(Float32Array);
    expect(stepBackwardWork(RK4, f64(1, 2)).kBar.map((k) => k.constructor.name)).toEqual(['Float64Array', 'Float64Array', 'Float64Array', 'Float64Array']);
  });
});
