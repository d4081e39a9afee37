import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { OdeNet, type OdeGradient } from '../../src/learners/ode.js';
import { gradientMemory, memoryTable } from '../../src/learners/ode-memory.js';
import type { SolverOptions } from '../../src/learners/ode-solvers.js';
import { Rng } from '../../src/base/rng.js';

/** A small float64 neural ODE with every parameter N(0, 0.7²), so that f moves h substantially over t ∈ [0, 1]. */
function smallNet(seed = 1): { net: OdeNet; x: Matrix; labels: number[] } {
  const net = new OdeNet(5, 3, 4, 3, 'float64', jsKernels);
  const rng = new Rng(seed);
  for (let i = 0; i < net.theta.length; i++) net.theta[i] = 0.7 * rng.normal();
  const x = Matrix.zeros(4, 5, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform();
  return { net, x, labels: [0, 2, 1, 2] };
}

function gradient(net: OdeNet, x: Matrix, labels: number[], opts: SolverOptions, method: OdeGradient): Float64Array {
  const g = new Float64Array(net.theta.length);
  net.lossAndGradient(x, labels, opts, 1, method, g);
  return g;
}

/** Central differences of the cost, parameter by parameter. */
function finiteDifferences(net: OdeNet, x: Matrix, labels: number[], opts: SolverOptions, eps = 1e-5): Float64Array {
  const g = new Float64Array(net.theta.length);
  for (let i = 0; i < g.length; i++) {
    const keep = net.theta[i];
    net.theta[i] = keep + eps;
    const up = net.loss(x, labels, opts, 1);
    net.theta[i] = keep - eps;
    const down = net.loss(x, labels, opts, 1);
    net.theta[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/** ‖a − b‖ / max(‖a‖, ‖b‖). */
function relativeError(a: Float64Array, b: Float64Array): number {
  let d = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(na, nb));
}

describe('neural ODE gradients', () => {
  it('backprop through the RK4 steps is the exact gradient of the discrete solve (finite differences)', () => {
    const { net, x, labels } = smallNet();
    const rk4: SolverOptions = { method: 'rk4', steps: 6 };
    const unrolled = gradient(net, x, labels, rk4, 'unrolled');
    expect(relativeError(unrolled, finiteDifferences(net, x, labels, rk4))).toBeLessThan(1e-7);
  });

  it('adjoint = unrolled = finite differences (relative error ≤ 1e-4) with Dormand–Prince at tight tolerances', () => {
    const { net, x, labels } = smallNet(2);
    const tight: SolverOptions = { method: 'dopri5', rtol: 1e-10, atol: 1e-12 };
    const adjoint = gradient(net, x, labels, tight, 'adjoint');
    const unrolled = gradient(net, x, labels, tight, 'unrolled');
    const fd = finiteDifferences(net, x, labels, tight);
    expect(relativeError(adjoint, unrolled)).toBeLessThan(1e-4);
    expect(relativeError(adjoint, fd)).toBeLessThan(1e-4);
    expect(relativeError(unrolled, fd)).toBeLessThan(1e-4);
  });

  it('the adjoint with fixed RK4 steps approaches the exact gradient as O(h⁴)', () => {
    const { net, x, labels } = smallNet(3);
    const exact = gradient(net, x, labels, { method: 'dopri5', rtol: 1e-11, atol: 1e-13 }, 'unrolled');
    const errors = [4, 8, 16].map((steps) => relativeError(gradient(net, x, labels, { method: 'rk4', steps }, 'adjoint'), exact));
    expect(errors[2]).toBeLessThan(1e-4);
    // halving h divides the error by about 2⁴ = 16
    expect(errors[0] / errors[1]).toBeGreaterThan(8);
    expect(errors[1] / errors[2]).toBeGreaterThan(8);
  });
});

describe('neural ODE gradient memory', () => {
  it('the adjoint peak stays flat as the number of RK4 steps grows; backprop through the steps grows with it', async () => {
    const rows = await gradientMemory(jsKernels, [8, 32, 128]);
    console.log(memoryTable(rows));
    const adjoint = rows.map((r) => r.adjointPeak),
      unrolled = rows.map((r) => r.unrolledPeak);
    expect(Math.max(...adjoint) / Math.min(...adjoint)).toBeLessThan(1.1);
    // 16× the steps: the stored stages grow 16×, and the measured peak follows them
    expect(rows[2].unrolledTape).toBe(16 * rows[0].unrolledTape);
    expect(unrolled[2] / unrolled[0]).toBeGreaterThan(8);
    expect(unrolled[2]).toBeGreaterThan(rows[2].unrolledTape);
    expect(rows.every((r) => r.adjointEvaluations === r.unrolledEvaluations)).toBe(true); // RK4: 4 evaluations a step each way
  });
});

describe('memoryTable', () => {
  it('one row per step count: KB rounded, evaluations, MFLOP to one decimal, columns aligned (the first to the left)', () => {
    const row = { steps: 8, adjointPeak: 2048, unrolledPeak: 1_536_000, unrolledTape: 511, adjointEvaluations: 64, unrolledEvaluations: 64, adjointFlops: 1_250_000, unrolledFlops: 12_345_678 };
    expect(memoryTable([row, { ...row, steps: 128, adjointPeak: 1023, unrolledEvaluations: 1024, unrolledFlops: 50_000 }]).split('\n')).toEqual([
      'RK4 steps  adjoint peak  unrolled peak  unrolled tape  evals adjoint  evals unrolled  work adjoint  work unrolled',
      '8                  2 KB        1500 KB           0 KB             64              64     1.3 MFLOP     12.3 MFLOP',
      '128                1 KB        1500 KB           0 KB             64            1024     1.3 MFLOP      0.1 MFLOP',
    ]);
  });
});
