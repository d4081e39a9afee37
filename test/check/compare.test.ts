import { describe, expect, it } from 'vitest';
import { allclose, compare } from '../../src/check/compare.js';

describe('compare, by hand', () => {
  it('max absolute and relative error (relative only where |y| > floor), ‖x − y‖/‖y‖, allclose violations', () => {
    // x − y = (0.5, −0.1, 1e−9, 0); |y| = (1, 0.2, 1e−10, 2)
    const d = compare([1.5, 0.1, 1.1e-9, 2], [1, 0.2, 1e-10, 2], 0.1, 0.01);
    expect(d.maxAbs).toBeCloseTo(0.5, 15);
    expect(d.maxRel).toBeCloseTo(0.5, 12); // 0.1/0.2 and 0.5/1; 1e−9/1e−10 = 10 is under the floor 1e−8
    expect(d.tensorRel).toBeCloseTo(Math.sqrt((0.25 + 0.01 + 1e-18) / (1 + 0.04 + 1e-20 + 4)), 12);
    // |d| ≤ 0.01 + 0.1|y|: 0.5 > 0.11 (violation), 0.1 > 0.03 (violation), 1e−9 ok, 0 ok
    expect([d.violations, d.count]).toEqual([2, 4]);
    expect(compare([1, 2], [1, 2], 0, 0)).toEqual({ maxAbs: 0, maxRel: 0, tensorRel: 0, violations: 0, count: 2 });
    // at the boundary |x − y| = atol + rtol|y| is allowed
    expect(compare([1.5], [1], 0.25, 0.25).violations).toBe(0);
    expect(compare([1.5], [1], 0.25, 0.2).violations).toBe(1);
  });
  it('NaN is a violation (and the largest error when it comes last); a zero reference gives 0 or ∞', () => {
    expect(compare([NaN, 1], [1, 1], 1, 1).violations).toBe(1);
    const d = compare([1, NaN], [1, 1], 1, 1);
    expect(d.violations).toBe(1);
    expect(d.maxAbs).toBeNaN();
    expect(d.maxRel).toBeNaN();
    expect(compare([0, 0], [0, 0], 0, 0).tensorRel).toBe(0);
    expect(compare([0, 1], [0, 0], 0, 0).tensorRel).toBe(Infinity);
    expect(() => compare([1], [1, 2], 0, 0)).toThrow('compare: 1 vs 2 entries');
    expect(allclose([1, 2], [1, 2.5], 0.1, 0)).toBe(false);
    expect(allclose([1, 2], [1, 2.5], 0.2, 0)).toBe(true);
  });
});
describe('compare() keeps a NaN it has seen', () => {
  it('a NaN entry followed by finite ones reports NaN as the largest error, not the last finite one', () => {
    const d = compare([NaN, 1.5, 2], [1, 1, 2], 1e-6, 1e-9);
    expect(d.maxAbs).toBeNaN();
    expect(d.maxRel).toBeNaN();
    expect(d.violations).toBe(2);
  });
});
describe('compare and gradcheck at their boundaries', () => {
  it('relative errors only where |y| is above the floor (not at it), each d/|y|, the largest kept', () => {
    expect(compare([2e-8], [1e-8], 0, 0).maxRel).toBe(0); // |y| = floor = 1e−8
    expect(compare([2e-8], [1e-8], 0, 0, 0.5e-8).maxRel).toBeCloseTo(1, 12);
    expect(compare([0.1], [0.2], 0, 0).maxRel).toBeCloseTo(0.5, 15);
    expect(compare([1.5, 0.9], [1, 0.5], 1, 1).maxRel).toBeCloseTo(0.8, 15); // 0.4/0.5 after 0.5/1
  });
});
