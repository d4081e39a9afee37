import type { Float } from '../linalg/index.js';

/** How far x is from the reference y, in the forms gradient checkers report. */
export interface Difference {
  /** max_i |x_i − y_i| */
  maxAbs: number;
  /** max_i |x_i − y_i| / |y_i| over entries with |y_i| > floor */
  maxRel: number;
  /** ‖x − y‖ / ‖y‖ (0 when both are 0) */
  tensorRel: number;
  /** Entries violating |x − y| ≤ atol + rtol·|y| */
  violations: number;
  count: number;
}

/** Compares x against the reference y with torch.allclose's rule |x − y| ≤ atol + rtol·|y|. */
export function compare(x: ArrayLike<number>, y: ArrayLike<number>, rtol: number, atol: number, floor = 1e-8): Difference {
  if (x.length !== y.length) throw new Error(`compare: ${x.length} vs ${y.length} entries`);
  let maxAbs = 0,
    maxRel = 0,
    diff2 = 0,
    ref2 = 0,
    violations = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    const ay = Math.abs(y[i]);
    if (!(d <= atol + rtol * ay)) violations++; // NaN counts as a violation
    // A NaN, once seen, stays: `d <= NaN` is false for every later d, which would overwrite it.
    if (!(d <= maxAbs) && !Number.isNaN(maxAbs)) maxAbs = d;
    if (ay > floor && !(d / ay <= maxRel) && !Number.isNaN(maxRel)) maxRel = d / ay;
    diff2 += d * d;
    ref2 += ay * ay;
  }
  const tensorRel = ref2 === 0 ? (diff2 === 0 ? 0 : Infinity) : Math.sqrt(diff2 / ref2);
  return { maxAbs, maxRel, tensorRel, violations, count: x.length };
}

/** True when every entry of x is allclose to y. */
export function allclose(x: Float | number[], y: Float | number[], rtol: number, atol: number): boolean {
  return compare(x, y, rtol, atol).violations === 0;
}
