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

  it('a stage that no evaluated stage reads (a = 0) and with b = 0 is skipped, even when an earlier stage is read', () => {
    // y' = y + h f(t + h, y + h f(t, y)): stage 1 (c = 1/2) is computed but weighs nothing
    const tab = { name: 'test', c: [0, 1 / 2, 1], a: [[], [1 / 2], [1, 0]], b: [0, 0, 1], order: 1, fsal: false };
    const times: number[] = [];
    const rec: StepRecord = { t: 0, h: 0.1, stages: [f64(1), f64(1.05), f64(1.1)] };
    const yBar = f64(1);
    const n = rkStepBackward(
      tab,
      rec,
      (t, _y, g, gy) => {
        times.push(t);
        gy[0] = 2 * g[0]; // dy/dt = 2y
      },
      yBar,
      stepBackwardWork(tab, yBar),
    );
    expect(n).toBe(2);
    expect(times).toEqual([0.1, 0]);
    // y' = y (1 + 2h (1 + 2h)) = 1.24 y
    expect(yBar[0]).toBeCloseTo(1.24, 15);
  });

  it('work buffers of the state’s size and precision, one per stage', () => {
    const w = stepBackwardWork(DOPRI5, new Float32Array(3));
    expect(w.kBar).toHaveLength(7);
    expect(w.kBar.every((k) => k instanceof Float32Array && k.length === 3)).toBe(true);
    expect(w.Ybar).toBeInstanceOf(Float32Array);
    expect(stepBackwardWork(RK4, f64(1, 2)).kBar.map((k) => k.constructor.name)).toEqual(['Float64Array', 'Float64Array', 'Float64Array', 'Float64Array']);
  });
});

/**
 * Dormand–Prince 5(4) written out from its sources, on plain arrays: the tableau of Dormand & Prince (1980, table 2,
 * RK5(4)7M) with its fourth-order weights b̂ as printed there, the starting step of Hairer, Nørsett & Wanner (Solving
 * ODEs I, II.4, steps (a)–(g), taken in the direction of the solve as in their HINIT), and the controller
 * h ← h · min(10, max(0.2, 0.9 · ratio^(−1/5))), never shrinking after an accepted step (torchdiffeq's rule).
 */
function referenceDopri5(f: (t: number, y: number[]) => number[], y0: number[], t0: number, t1: number, rtol: number, atol: number, groups = [y0.length]) {
  const c = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
  const a = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ];
  const b = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
  const bHat = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
  // HNW's norm: RMS of v_i / (atol + rtol·max(|y_i|, |y1_i|)), the largest over the groups
  const norm = (v: number[], y: number[], y1: number[]) => {
    let worst = 0,
      start = 0;
    for (const len of groups) {
      let s = 0;
      for (let i = start; i < start + len; i++) s += (v[i] / (atol + rtol * Math.max(Math.abs(y[i]), Math.abs(y1[i])))) ** 2;
      if (len > 0) worst = Math.max(worst, Math.sqrt(s / len));
      start += len;
    }
    return worst;
  };
  const calls: number[] = [];
  const F = (t: number, y: number[]) => (calls.push(t), f(t, y));
  const dir = Math.sign(t1 - t0);
  const f0 = F(t0, y0);
  const d0 = norm(y0, y0, y0),
    d1 = norm(f0, y0, y0);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const f1 = F(
    t0 + dir * h0,
    y0.map((v, i) => v + dir * h0 * f0[i]),
  );
  const d2 =
    norm(
      f1.map((v, i) => v - f0[i]),
      y0,
      y0,
    ) / h0;
  const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(1e-6, h0 / 1000) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  let h = dir * Math.min(100 * h0, h1),
    t = t0,
    y = y0.slice(),
    first = f0,
    rejected = 0;
  const steps: { t: number; h: number }[] = [];
  while (dir * (t1 - t) > 0) {
    if (dir * (t + h - t1) > 0) h = t1 - t;
    const k = [first];
    for (let i = 1; i < 7; i++)
      k.push(
        F(
          t + c[i] * h,
          y.map((v, q) => v + h * a[i].reduce((s, w, j) => s + w * k[j][q], 0)),
        ),
      );
    const y5 = y.map((v, q) => v + h * b.reduce((s, w, i) => s + w * k[i][q], 0));
    const err = y.map((_, q) => h * b.reduce((s, w, i) => s + (w - bHat[i]) * k[i][q], 0));
    const ratio = norm(err, y, y5);
    if (ratio <= 1) {
      steps.push({ t, h });
      y = y5;
      t = Math.abs(t1 - (t + h)) <= 1e-14 * Math.max(1, Math.abs(t + h)) ? t1 : t + h;
      first = k[6];
    } else rejected++;
    h *= ratio === 0 ? 10 : Math.min(10, Math.max(ratio <= 1 ? 1 : 0.2, 0.9 * ratio ** (-1 / 5)));
  }
  return { y, steps, rejected, calls };
}

describe('Dormand–Prince against its sources written out', () => {
  type Problem = [string, (t: number, y: number[]) => number[], number[], number, number, number, number];
  const problems: Problem[] = [
    ['dy/dt = y', (_t, y) => [y[0]], [1], 0, 1, 1e-6, 1e-9],
    ['dy/dt = 3y (d1 = 3 d0)', (_t, y) => [3 * y[0]], [1], 0, 2, 1e-5, 1e-8],
    ['dy/dt = −50(y − cos t) (rejections)', (t, y) => [-50 * (y[0] - Math.cos(t))], [0], 0, 3, 1e-3, 1e-6],
    ['dy/dt = t + y², backwards', (t, y) => [t + y[0] * y[0]], [2], 0.4, 0, 1e-6, 1e-8],
    ['dy/dt = t + y², forwards', (t, y) => [t + y[0] * y[0]], [0.5], 0, 0.4, 1e-7, 1e-9],
    ['f = 0 (h1 = max(1e−6, h0/1000))', () => [0], [1], 0, 1, 1e-6, 1e-6],
    ['f = 1e−15 (max(d1, d2) = 1e−15 exactly)', () => [1e-15], [1], 0, 1, 0, 1],
    ['y0 = 1e−5 (d0 = 1e−5 exactly)', () => [0.01], [1e-5], 0, 1, 0, 1],
    ['f = 1e−6 (d1 < 1e−5)', () => [1e-6], [1], 0, 10, 0, 1],
    ['f = 1e−5 (d1 = 1e−5 exactly)', () => [1e-5], [1], 0, 10, 0, 1],
    ['y0 = 0.01, f = 100 (the step 100·h0)', () => [100], [0.01], 0, 1, 1e-6, 1e-6],
    ['two components', (t, y) => [y[1], -y[0] + 0.1 * t], [1, 0], 0, 2, 1e-6, 1e-9],
  ];
  for (const [name, f, y0, t0, t1, rtol, atol] of problems)
    it(`${name}: the same evaluations, accepted steps, rejections and end state`, () => {
      const want = referenceDopri5(f, y0, t0, t1, rtol, atol);
      const calls: number[] = [];
      const got: { t: number; h: number }[] = [];
      const r = odeSolve(
        (t, y, dy) => (calls.push(t), dy.set(f(t, Array.from(y)))),
        Float64Array.from(y0),
        t0,
        t1,
        { method: 'dopri5', rtol, atol },
        (s) => got.push({ t: s.t, h: s.h }),
      );
      expect(r.stats).toEqual({ nfe: want.calls.length, steps: want.steps.length, rejected: want.rejected });
      // the starting step: f at t0, at t0 ± h0, then the first stage at t0 + h/5
      expect(calls.length).toBe(want.calls.length);
      for (let i = 0; i < calls.length; i++) expect(calls[i], `evaluation ${i}`).toBeCloseTo(want.calls[i], 7);
      for (let i = 0; i < got.length; i++) {
        expect(got[i].t, `step ${i}`).toBeCloseTo(want.steps[i].t, 7);
        expect(got[i].h / want.steps[i].h, `step ${i}`).toBeCloseTo(1, 6);
      }
      for (let q = 0; q < y0.length; q++) expect(r.y[q]).toBeCloseTo(want.y[q], 10);
    });

  it('the step ratio is the largest RMS over the groups: [1, 1] against [2]', () => {
    const f = (_t: number, y: number[]) => [y[0], -20 * y[1]];
    for (const groups of [[1, 1], [2]]) {
      const want = referenceDopri5(f, [1, 1], 0, 1, 1e-6, 1e-9, groups);
      const r = odeSolve((t, y, dy) => dy.set(f(t, Array.from(y))), f64(1, 1), 0, 1, { method: 'dopri5', rtol: 1e-6, atol: 1e-9 }, undefined, groups);
      expect(r.stats).toEqual({ nfe: want.calls.length, steps: want.steps.length, rejected: want.rejected });
    }
  });

  it('the tableau: e = b − b̂ with b̂ as printed by Dormand & Prince', () => {
    const bHat = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
    DOPRI5.e!.forEach((e, i) => expect(e).toBeCloseTo(DOPRI5.b[i] - bHat[i], 16));
  });

  it('stops after maxSteps attempts, accepted and rejected together', () => {
    const f = (t: number, y: Float, dy: Float) => {
      dy[0] = -50 * (y[0] - Math.cos(t));
    };
    const opts = { method: 'dopri5', rtol: 1e-3, atol: 1e-6 } as const;
    const { stats } = odeSolve(f, f64(0), 0, 3, opts);
    const n = stats.steps + stats.rejected;
    expect(stats.rejected).toBeGreaterThan(0);
    expect(odeSolve(f, f64(0), 0, 3, { ...opts, maxSteps: n }).stats).toEqual(stats);
    expect(() => odeSolve(f, f64(0), 0, 3, { ...opts, maxSteps: n - 1 })).toThrow(`the adaptive solver took more than ${n - 1} steps (rtol 0.001, atol 0.000001)`);
  });

  it('backwards, f is only evaluated inside the interval (dy/dt = √(1 − t) from t = 1 to 0: y(0) = y(1) − 2/3)', () => {
    const seen: number[] = [];
    const r = odeSolve(
      (t, _y, dy) => {
        seen.push(t);
        dy[0] = Math.sqrt(1 - t);
      },
      f64(1),
      1,
      0,
      { method: 'dopri5', rtol: 1e-8, atol: 1e-10 },
    );
    expect(Math.max(...seen)).toBe(1);
    expect(r.y[0]).toBeCloseTo(1 / 3, 7);
  });

  it('refuses a step below 1e−14·max(1, |t|): a span of exactly 1e−14 at t = 0, of 5e−14 at t = 10; takes 2e−14 at t = 0', () => {
    const one = (_t: number, _y: Float, dy: Float) => dy.fill(1);
    const opts = { method: 'dopri5', rtol: 1e-6, atol: 1e-6 } as const;
    expect(() => odeSolve(one, f64(1), 0, 1e-14, opts)).toThrow('the adaptive step size underflowed at t = 0 (rtol 0.000001, atol 0.000001)');
    expect(() => odeSolve(one, f64(1), 10, 10 + 5e-14, opts)).toThrow('the adaptive step size underflowed at t = 10 (rtol 0.000001, atol 0.000001)');
    expect(odeSolve(one, f64(1), 0, 2e-14, opts).y[0]).toBe(1 + 2e-14);
  });

  it('lands on t1 when what is left is within the underflow limit 1e−14·max(1, |t|), instead of refusing the last sliver', () => {
    const one = (_t: number, _y: Float, dy: Float) => dy.fill(1);
    const zero = (_t: number, _y: Float, dy: Float) => dy.fill(0);
    const opts = { method: 'dopri5', rtol: 1, atol: 1 } as const;
    // 0.002248422 + (0.3 − 0.002248422) is 0.3 − 5.6e−17 in floating point; the first step is clipped to the interval
    expect(0.002248422 + (0.3 - 0.002248422)).toBeLessThan(0.3);
    const short = odeSolve(one, f64(1), 0.002248422, 0.3, opts);
    expect(short.stats.steps).toBe(1);
    expect(short.y[0]).toBeCloseTo(1.3 - 0.002248422, 15);
    // −31.9955… + 41.9955… falls 3.6e−15 short of 10 (the limit there is 1e−13)
    let last = { t: 0, h: 0 };
    const far = odeSolve(one, f64(1), -37.02586, 10, opts, (s) => (last = { t: s.t, h: s.h }));
    expect(10 - (last.t + last.h)).toBeGreaterThan(1e-15);
    expect(far.y[0]).toBeCloseTo(1 + 47.02586, 12);
    // f = 0 starts with a step of 1e−6 (see 'clips a step…' below). It ends 5e−15 short of t1 at t ≈ 1e−6 (limit 1e−14):
    // this solve used to fail as an underflowing step; 5e−14 short of t1 ≈ 10 (limit 1e−13); exactly 1e−14 short of −1e−14
    const sixth = { method: 'dopri5', rtol: 1e-6, atol: 1e-6 } as const;
    expect(odeSolve(zero, f64(2), 0, 1e-6 + 5e-15, sixth).stats).toEqual({ nfe: 8, steps: 1, rejected: 0 });
    expect(10 - (10 - 1e-6 - 5e-14 + 1e-6)).toBeGreaterThan(1e-14);
    expect(odeSolve(zero, f64(2), 10 - 1e-6 - 5e-14, 10, sixth).stats.steps).toBe(1);
    expect(1e-6 - 1e-6 - -1e-14).toBe(1e-14);
    expect(odeSolve(zero, f64(2), 1e-6, -1e-14, sixth).stats.steps).toBe(1);
    // 2e−14 short is a step of its own
    expect(odeSolve(zero, f64(2), 0, 1e-6 + 2e-14, sixth).stats.steps).toBe(2);
  });

  it('accepts a step whose error ratio is exactly 1 (err = atol), and rejects it at the next smaller atol', () => {
    // dy/dt = ε + sin 3t with y0 = 10⁶ and rtol = 0: the starting step is (0.01/d1)^(1/5) ≈ 3.5 (d1 = ε/atol = 2·10⁻⁵),
    // clipped to the span [0, 1], so h = 1 whatever atol; its error estimate h Σ e_i k_i, summed as the solver does
    const eps = 2e-8,
      f = (t: number) => eps + Math.sin(3 * t);
    let err = 0;
    for (let i = 0; i < 7; i++) if (DOPRI5.e![i] !== 0) err += DOPRI5.e![i] * f(DOPRI5.c[i]);
    const atol = Math.abs(err);
    expect(eps / atol).toBeGreaterThan(1e-5);
    const solve = (a: number) => odeSolve((t, _y, dy) => dy.fill(f(t)), f64(1e6), 0, 1, { method: 'dopri5', rtol: 0, atol: a }).stats;
    expect(solve(atol)).toEqual({ nfe: 8, steps: 1, rejected: 0 });
    expect(solve(atol * (1 - 2 ** -52)).rejected).toBeGreaterThan(0);
  });

  it('clips a step only when it would pass t1: one that ends on t1 exactly keeps its size', () => {
    // f = 0: the starting step is 1e−6 (d1 < 1e−5 gives h0 = 1e−6, and max(d1, d2) = 0 gives h1 = max(1e−6, h0/1000))
    const t0 = 0.1,
      t1 = t0 + 1e-6;
    expect(t1 - t0).not.toBe(1e-6);
    for (const [a, b] of [
      [t0, t1],
      [t1, t0],
    ]) {
      const hs: number[] = [];
      odeSolve(
        (_t, _y, dy) => dy.fill(0),
        f64(1),
        a,
        b,
        { method: 'dopri5', rtol: 1e-6, atol: 1e-6 },
        (s) => hs.push(s.h),
      );
      expect(hs).toEqual([Math.sign(b - a) * 1e-6]);
    }
  });

  it('SolverError names itself', () => {
    expect(new SolverError('x').name).toBe('SolverError');
  });
});
