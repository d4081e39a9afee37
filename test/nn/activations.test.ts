import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { activation, ACTIVATIONS, HIDDEN_ACTIVATIONS } from '../../src/nn/activations.js';
import type { ElementPasses } from '../../src/linalg/simd.js';
import { activated, columns } from '../helpers.js';

// What each activation says about itself (range, how its units stall) is checked against what it computes.
const zs = [-40, -8, -3, -1, -0.2, 0, 0.2, 1, 3, 8, 40];

describe('activation properties', () => {
  for (const name of ACTIVATIONS) {
    const act = activation(name);
    it(`${name}: its outputs lie in its range, and its range is reached`, () => {
      const z = Matrix.from(zs.length, 1, zs, 'float64');
      const a = Matrix.zeros(zs.length, 1, 'float64');
      act.forward(z, a);
      for (const v of a.data) {
        expect(v).toBeGreaterThanOrEqual(act.range.lo);
        expect(v).toBeLessThanOrEqual(act.range.hi);
      }
      // The bounds are tight: a finite one is approached within 1e-6, an infinite one is left far behind.
      const min = Math.min(...a.data),
        max = Math.max(...a.data);
      expect(Number.isFinite(act.range.lo) ? min - act.range.lo : min).toBeLessThan(Number.isFinite(act.range.lo) ? 1e-6 : -0.3);
      expect(Number.isFinite(act.range.hi) ? act.range.hi - max : -max).toBeLessThan(Number.isFinite(act.range.hi) ? 1e-6 : -30);
    });
    it(`${name}: stalls ${act.stalls ?? 'never'} as its slope says`, () => {
      if (!act.prime) return expect(act.stalls).toBeUndefined(); // softmax: no per-unit slope
      const slope = (z: number) => {
        const a = Matrix.zeros(1, 1, 'float64');
        act.forward(Matrix.from(1, 1, [z], 'float64'), a);
        return act.prime!(z, a.data[0]);
      };
      const saturates = slope(40) < 0.01 * act.maxPrime && slope(-40) < 0.01 * act.maxPrime;
      const dies = !saturates && slope(-1) < slope(1); // switched off (or nearly) for z < 0 only
      expect(act.stalls).toBe(saturates ? 'saturates' : dies ? 'dies' : undefined);
      expect(Math.max(...zs.map(slope))).toBeCloseTo(act.maxPrime, 6);
    });
  }
});

describe('hidden activations', () => {
  it('are the element-wise ones: every activation but softmax', () => {
    expect([...HIDDEN_ACTIVATIONS]).toEqual(ACTIVATIONS.filter((a) => a !== 'softmax'));
  });
});

describe('infinite logits, ReLU at z = 0 and in float32 outside a Workspace, the refused pairings loaded from old files', () => {
  it('ReLU and leaky ReLU: f′(0) = 0 (or the slope), as tfjs; the float32 bit-twiddled loops agree with the definition', () => {
    const zs = [-2, -0, 0, 1e-30, 3.5, -1e-30];
    for (const dtype of ['float32', 'float64'] as const) {
      const gs = [1 / 3, 2 / 3, 1 / 7, 4 / 7, 5 / 9, 6 / 11]; // every mantissa bit in use
      const z = Matrix.from(1, zs.length, zs, dtype),
        g = Matrix.from(1, zs.length, gs, dtype);
      const f = (v: number) => (dtype === 'float32' ? Math.fround(v) : v);
      const a = activated('relu', z),
        d = Matrix.zeros(1, zs.length, dtype);
      activation('relu').backward(z, a, g, d);
      expect(Array.from(a.data).map((v) => v + 0)).toEqual(zs.map((v) => (v > 0 ? f(v) : 0)));
      expect(Array.from(d.data)).toEqual([0, 0, 0, f(4 / 7), f(5 / 9), 0]);
      const la = activated('leaky-relu', z),
        ld = Matrix.zeros(1, zs.length, dtype);
      activation('leaky-relu').backward(z, la, g, ld);
      expect(Array.from(ld.data)).toEqual(gs.map((gv, i) => (zs[i] > 0 ? f(gv) : f(0.01 * f(gv)))));
    }
    // float64 z and g into a float32 δ (the generic loop, rounding on the store): the bit loop is for all-float32 buffers only
    const z64 = Matrix.from(1, zs.length, zs, 'float64'),
      d32 = Matrix.zeros(1, zs.length, 'float32');
    activation('relu').backward(z64, z64, Matrix.from(1, zs.length, [1 / 3, 2 / 3, 1 / 7, 4 / 7, 5 / 9, 6 / 11], 'float64'), d32);
    expect(Array.from(d32.data)).toEqual([0, 0, 0, Math.fround(4 / 7), Math.fround(5 / 9), 0]);
    const relu = activation('relu'),
      leaky = activation('leaky-relu');
    expect([relu.prime!(2, 2), relu.prime!(0, 0), relu.prime!(-1, 0)]).toEqual([1, 0, 0]);
    expect([leaky.prime!(2, 2), leaky.prime!(0, 0), leaky.prime!(-1, -0.01)]).toEqual([1, 0.01, 0.01]);
  });
  it('linear: a = z and δ = g, also into other buffers', () => {
    const z = columns([[1, -2]]),
      a = Matrix.zeros(2, 1, 'float64'),
      d = Matrix.zeros(2, 1, 'float64');
    activation('linear').forward(z, a);
    activation('linear').backward(z, a, z, d);
    expect([Array.from(a.data), Array.from(d.data)]).toEqual([
      [1, -2],
      [1, -2],
    ]);
  });
});

describe('the bias add fused with the activation (forwardBias)', () => {
  // Oracle: the two passes it replaces, Z ← Z + b 1ᵀ (rounded to the dtype as Z stores it), then A ← f(Z).
  for (const name of HIDDEN_ACTIVATIONS)
    for (const dtype of ['float32', 'float64'] as const)
      it(`${name}, ${dtype}: the bits of z ← z + b, then a = f(z)`, () => {
        const rows = 3,
          cols = zs.length;
        const act = activation(name);
        const z0 = Matrix.from(rows, cols, [...zs, ...zs.map((v) => v / 7), ...zs.map((v) => -v * 1.3)], dtype);
        const b = dtype === 'float32' ? Float32Array.from([0.1, -2.5, 1 / 3]) : Float64Array.from([0.1, -2.5, 1 / 3]);
        const z = Matrix.from(rows, cols, Array.from(z0.data), dtype),
          a = Matrix.zeros(rows, cols, dtype);
        act.forwardBias!(z, b, a);
        const zr = Matrix.from(
            rows,
            cols,
            Array.from(z0.data, (v, k) => v + b[Math.floor(k / cols)]),
            dtype,
          ),
          ar = Matrix.zeros(rows, cols, dtype);
        act.forward(zr, ar);
        expect(Array.from(z.data)).toEqual(Array.from(zr.data));
        expect(Array.from(a.data)).toEqual(Array.from(ar.data));
        expect(z.data[cols]).not.toBe(z0.data[cols]); // the bias was added (row 1: −2.5)
      });

  it('softmax has none: it mixes a column, so its layer puts the bias in first, as gemm’s C', () => {
    expect(activation('softmax').forwardBias).toBeUndefined();
  });
});

describe('ReLU hands its passes to the SIMD ones (a Workspace’s float32 block) when they hold the arrays', () => {
  it('forward, forwardBias and backward each call their pass with the arrays (and the rows and columns) instead of the js loop, and run the js loop when the passes hold nothing', () => {
    const calls: unknown[][] = [];
    const passes = (holds: boolean): ElementPasses => ({
      holds: () => holds,
      reluForward: (Z, A) => void calls.push(['forward', Z, A]),
      reluBiasForward: (Z, b, A, rows, cols) => void calls.push(['forwardBias', Z, b, A, rows, cols]),
      reluBackward: (Z, G, D) => void calls.push(['backward', Z, G, D]),
    });
    const relu = activation('relu');
    const z = Matrix.from(2, 3, [1, -2, 3, -4, 5, -6], 'float32'),
      a = Matrix.zeros(2, 3, 'float32'),
      g = Matrix.from(2, 3, [1, 1, 1, 1, 1, 1], 'float32'),
      d = Matrix.zeros(2, 3, 'float32');
    const b = Float32Array.from([10, 20]);
    relu.forward(z, a, passes(true));
    relu.forwardBias!(z, b, a, passes(true));
    relu.backward(z, a, g, d, passes(true));
    expect(calls).toEqual([
      ['forward', z.data, a.data],
      ['forwardBias', z.data, b, a.data, 2, 3],
      ['backward', z.data, g.data, d.data],
    ]);
    expect([Array.from(z.data), Array.from(a.data), Array.from(d.data)]).toEqual([
      [1, -2, 3, -4, 5, -6],
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
    ]); // untouched by js
    relu.forwardBias!(z, b, a, passes(false));
    relu.backward(z, a, g, d, passes(false));
    expect(calls).toHaveLength(3);
    expect([Array.from(a.data), Array.from(d.data)]).toEqual([
      [11, 8, 13, 16, 25, 14],
      [1, 1, 1, 1, 1, 1],
    ]);
  });
});
