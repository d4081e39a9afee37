import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Workspace } from '../../src/nn/backprop.js';
import type { ActivationName } from '../../src/nn/activations.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { evaluationBatch, layerStats, speedLabel, symlogBins } from '../../src/analysis/layers.js';
import { diagonalPoints } from '../helpers.js';

/** A 1-n-k network with the given weights, quadratic cost, on inputs x (one scalar per example). */
function tiny(hidden: ActivationName, output: ActivationName, W1: number[], b1: number[], W2: number[], b2: number[], x: number[], y: number[][]) {
  const n = b1.length,
    k = b2.length,
    m = x.length;
  const net = new Network(
    { sizes: [1, n, k], activation: hidden, outputActivation: output, cost: 'quadratic' },
    [Matrix.from(n, 1, W1, 'float64'), Matrix.from(k, n, W2, 'float64')],
    [Float64Array.from(b1), Float64Array.from(b2)],
  );
  const ws = new Workspace(net, m);
  ws.input.data.set(x);
  const Y = Matrix.zeros(k, m, 'float64');
  y.forEach((col, j) => col.forEach((v, i) => Y.set(i, j, v)));
  return { net, batch: { ws, y: Y } };
}

describe('layer statistics by hand', () => {
  // 1-2-2, ReLU then linear, quadratic, x = (−1, 2):
  //   Z¹ = [[−1, 2], [1, −2]], A¹ = [[0, 2], [1, 0]]
  //   Z² = W² A¹ + b² = [[2.5, 2.5], [−1, 0]], y = [[1, 0], [0, 1]], δ² = A² − Y = [[1.5, 2.5], [−1, −1]]
  //   δ¹ = (W²)ᵀ δ² ⊙ [Z¹ > 0] = [[0, 2.5], [4, 0]]
  // (built inside each test: code run while vitest collects the tests counts for no test in Stryker's coverage)
  const measured = () => {
    const { net, batch } = tiny(
      'relu',
      'linear',
      [1, -1],
      [0, 0],
      [1, 2, 0, -1],
      [0.5, 0],
      [-1, 2],
      [
        [1, 0],
        [0, 1],
      ],
    );
    const [s1, s2] = layerStats(net, batch, jsKernels, true);
    return { net, batch, s1, s2 };
  };

  it('speed = ‖δ 1/m‖ and ‖∂C/∂W‖ per layer', () => {
    const { s1, s2 } = measured();
    expect(s1.speed).toBeCloseTo(Math.hypot(1.25, 2), 12); // ∂C/∂b¹ = (1.25, 2)
    expect(s2.speed).toBeCloseTo(Math.hypot(2, -1), 12); // ∂C/∂b² = (2, −1)
    expect(s1.gradW).toBeCloseTo(Math.hypot(2.5, -2), 12); // δ¹ xᵀ/m = (2.5, −2)
    expect(s2.gradW).toBeCloseTo(Math.sqrt(2.5 ** 2 + 0.75 ** 2 + 1 + 0.25), 12); // δ² (A¹)ᵀ/m
  });
  it('mean |z|, the output error ‖δ^L_x‖ averaged over examples, and which layer is which', () => {
    const { s1, s2 } = measured();
    expect(s1.meanAbsZ).toBeCloseTo(1.5, 12);
    expect(s2.meanAbsZ).toBeCloseTo(1.5, 12);
    expect(s2.outputDelta).toBeCloseTo((Math.hypot(1.5, -1) + Math.hypot(2.5, -1)) / 2, 12);
    expect(s1.outputDelta).toBeUndefined();
    expect([s1.layer, s1.hidden, s1.activation, s2.layer, s2.hidden, s2.activation]).toEqual([1, true, 'relu', 2, false, 'linear']);
    expect(s1.saturated).toBeUndefined();
    expect(s2.dead).toBeUndefined();
  });
  it('a unit alive on one example only is not dead', () => {
    const { s1 } = measured();
    expect(s1.dead).toBe(0); // unit 1 fires only on the second example, unit 2 only on the first
  });
  it('histograms: ReLU over [0, max a], linear over [min(0, a), max a], 20 bins, the top edge in the last', () => {
    const { net, batch, s1, s2 } = measured();
    // A¹ = (0, 2, 1, 0) over [0, 2]: bins 0, 19, 10, 0
    expect(s1.histogram!.lo).toBe(0);
    expect(s1.histogram!.hi).toBe(2);
    const c1 = new Array(20).fill(0);
    c1[0] = 2;
    c1[10] = 1;
    c1[19] = 1;
    expect(s1.histogram!.counts).toEqual(c1);
    // A² = (2.5, 2.5, −1, 0) over [−1, 2.5]: bins 19, 19, 0, floor(20/3.5) = 5
    expect([s2.histogram!.lo, s2.histogram!.hi]).toEqual([-1, 2.5]);
    const c2 = new Array(20).fill(0);
    c2[19] = 2;
    c2[0] = 1;
    c2[5] = 1;
    expect(s2.histogram!.counts).toEqual(c2);
    expect(layerStats(net, batch, jsKernels)[0].histogram).toBeUndefined();
    // ReLU is unbounded above: also symlog bins, t = ln(1 + a) in steps of 0.1: ln 2 = 0.69 (bin 6), ln 3 = 1.10 (bin 10), the two 0 apart
    expect(s1.histogram!.symlog).toEqual({ step: 0.1, first: 6, counts: [1, 0, 0, 0, 1], zeros: 2 });
    // linear is unbounded both ways: t = (ln 3.5, ln 3.5, −ln 2, 0) → bins 12, 12, −7, and one 0
    expect(s2.histogram!.symlog).toEqual({ step: 0.1, first: -7, counts: [1, ...new Array(18).fill(0), 2], zeros: 1 });
  });

  it('histograms: sigmoid and softmax over [0, 1], tanh over [−1, 1], leaky ReLU from its most negative a, all-zero ReLU over [0, 1]', () => {
    const bins = (a: number[], lo: number, hi: number) => {
      const c = new Array(20).fill(0);
      for (const v of a) c[Math.min(19, Math.floor(((v - lo) / (hi - lo)) * 20))]++;
      return c;
    };
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    // sigmoid: A¹ = (σ(10), σ(−10), ½, ½), bins 19, 0, 10, 10; softmax of Z² = A¹ (identity W²)
    const sg = tiny(
      'sigmoid',
      'softmax',
      [10, 0],
      [0, 0],
      [1, 0, 0, 1],
      [0, 0],
      [1, -1],
      [
        [1, 0],
        [0, 1],
      ],
    );
    const [h1, h2] = layerStats(sg.net, sg.batch, jsKernels, true).map((s) => s.histogram!);
    expect([h1.lo, h1.hi]).toEqual([0, 1]);
    const c1 = new Array(20).fill(0);
    c1[19] = 1;
    c1[0] = 1;
    c1[10] = 2;
    expect(h1.counts).toEqual(c1);
    expect([h1.symlog, h2.symlog]).toEqual([undefined, undefined]); // bounded: the equal bins over [0, 1] only
    const p0 = sig(sig(10) - 0.5),
      p1 = sig(sig(-10) - 0.5); // softmax of two: σ(z₀ − z₁)
    expect([h2.lo, h2.hi]).toEqual([0, 1]);
    expect(h2.counts).toEqual(bins([p0, p1, 1 - p0, 1 - p1], 0, 1));
    // tanh: A¹ = (tanh 4, −tanh 4, 0, 0), bins 19, 0, 10, 10
    const th = tiny('tanh', 'linear', [4, 0], [0, 0], [1, 1], [0], [1, -1], [[0], [0]]);
    const t = layerStats(th.net, th.batch, jsKernels, true)[0].histogram!;
    expect([t.lo, t.hi]).toEqual([-1, 1]);
    const c3 = new Array(20).fill(0);
    c3[19] = 1;
    c3[0] = 1;
    c3[10] = 2;
    expect(t.counts).toEqual(c3);
    expect(t.symlog).toBeUndefined();
    // leaky ReLU: Z¹ = [[2, −3], [−2, 3]], A¹ = (2, −0.03, −0.02, 3) over [−0.03, 3]
    const lk = tiny('leaky-relu', 'linear', [1, -1], [0, 0], [1, 1], [0], [2, -3], [[0], [0]]);
    const l = layerStats(lk.net, lk.batch, jsKernels, true)[0].histogram!;
    expect(l.lo).toBeCloseTo(-0.03, 15);
    expect(l.hi).toBe(3);
    expect(l.counts).toEqual(bins([2, -0.03, -0.02, 3], l.lo, 3));
    expect(l.counts[0]).toBe(2);
    // unbounded both ways: symlog too, t = (ln 3, −ln 1.03, −ln 1.02, ln 4) → bins 10, −1, −1, 13
    expect(l.symlog).toEqual({ step: 0.1, first: -1, counts: [2, ...new Array(10).fill(0), 1, 0, 0, 1], zeros: 0 });
    // ReLU, every unit dead: A¹ = 0 everywhere, over [0, 1], all in the first bin
    const dd = tiny('relu', 'linear', [-1, -1], [0, 0], [1, 1], [0], [1, 2], [[0], [0]]);
    const d = layerStats(dd.net, dd.batch, jsKernels, true)[0];
    expect(d.dead).toBe(1);
    expect([d.histogram!.lo, d.histogram!.hi, d.histogram!.counts[0]]).toEqual([0, 1, 4]);
  });

  it('dead units: z ≤ 0 on every example (z = 0 counts as dead), for ReLU and leaky ReLU', () => {
    // x = (−1, 2); rows of W¹ = (1, −1, 0, 0.5), b¹ = (0, 0, 0, −2): Z¹ = [[−1, 2], [1, −2], [0, 0], [−2.5, −1]]
    for (const act of ['relu', 'leaky-relu'] as const) {
      const t = tiny(act, 'linear', [1, -1, 0, 0.5], [0, 0, 0, -2], [1, 1, 1, 1], [0], [-1, 2], [[0], [0]]);
      expect(layerStats(t.net, t.batch, jsKernels)[0].dead).toBe(2 / 4);
    }
  });

  it("saturated: f'(z) < 1% of f's largest slope, σ' = a(1 − a) ≤ 1/4 and tanh' = 1 − a² ≤ 1", () => {
    // sigmoid, Z¹ = [[10, −10], [4, −4]]: σ'(±10) = 4.5e−5 < 0.0025 (saturated), σ'(±4) = 0.0177 (not)
    const sg = tiny('sigmoid', 'linear', [10, 4], [0, 0], [1, 1], [0], [1, -1], [[0], [0]]);
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    expect(sig(10) * (1 - sig(10))).toBeLessThan(0.0025);
    expect(sig(4) * (1 - sig(4))).toBeGreaterThan(0.0025);
    expect(layerStats(sg.net, sg.batch, jsKernels)[0].saturated).toBe(0.5);
    // sigmoid, Z¹ = [[0, 0], [−10, −10]] (one-sided): only the second unit
    const sg2 = tiny('sigmoid', 'linear', [0, -5], [0, 0], [1, 1], [0], [2, 2], [[0], [0]]);
    expect(layerStats(sg2.net, sg2.batch, jsKernels)[0].saturated).toBe(0.5);
    // tanh, Z¹ = [[4, −4], [1, −1]]: tanh'(±4) = 0.0013 < 0.01 (saturated), tanh'(±1) = 0.42 (not)
    const th = tiny('tanh', 'tanh', [4, 1], [0, 0], [0.1, 0.1], [0], [1, -1], [[0], [0]]);
    const [t1, t2] = layerStats(th.net, th.batch, jsKernels);
    expect(t1.saturated).toBe(0.5);
    expect(t2.saturated).toBe(0); // the output: |z| ≤ 0.5
    // tanh, Z¹ = [[2.5, 3.5]]: tanh'(2.5) = 0.0266 (not), tanh'(3.5) = 0.0036 (saturated)
    const th2 = tiny('tanh', 'linear', [1], [0], [1], [0], [2.5, 3.5], [[0], [0]]);
    expect(layerStats(th2.net, th2.batch, jsKernels)[0].saturated).toBe(0.5);
  });
});
describe('symlogBins and the speed label', () => {
  it('bins t = sign(a)·ln(1 + |a|) by floor(t / step) from the lowest bin met, the exact zeros apart (by hand)', () => {
    // t: 0.05 → 0.0488 (bin 0), 0.06 → 0.0583 (0), −0.05 → −0.0488 (−1), 1 → 0.693 (6), −1 → −0.693 (−7), 2 → 1.0986 (10, twice)
    const a = [0, 0.05, 0.06, -0.05, 1, 0, -1, 2, 2, 0];
    const b = symlogBins(a);
    expect(b).toEqual({ step: 0.1, first: -7, counts: [1, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2], zeros: 3 });
    expect(Object.keys(b.counts)).toHaveLength(b.counts.length); // no stray keys (counts[NaN], counts[−1])
    // step 0.5: 0.0488 → 0, 0.0583 → 0, −0.0488 → −1, 0.693 → 1, −0.693 → −2, 1.0986 → 2
    expect(symlogBins(Float32Array.from(a), 0.5)).toEqual({ step: 0.5, first: -2, counts: [1, 1, 2, 1, 2], zeros: 3 });
    // every nonzero a in one bin: one count; every a at bin ≥ 1 (first > 0)
    expect(symlogBins([0.05, 0, 0.06])).toEqual({ step: 0.1, first: 0, counts: [2], zeros: 1 });
    expect(symlogBins([1, 2, 0])).toEqual({ step: 0.1, first: 6, counts: [1, 0, 0, 0, 1], zeros: 1 });
    // nothing but zeros, or nothing: no bins
    expect(symlogBins([0, 0])).toEqual({ step: 0.1, first: 0, counts: [], zeros: 2 });
    expect(symlogBins([])).toEqual({ step: 0.1, first: 0, counts: [], zeros: 0 });
  });

  it('the speed is ‖∂C/∂b‖, or ‖∂C/∂β‖ on a batch-normalised layer', () => {
    expect(speedLabel({ batchNorm: true })).toBe('‖∂C/∂β‖');
    expect(speedLabel({})).toBe('‖∂C/∂b‖');
  });
});

describe('the evaluation batch', () => {
  it('holds min(size, count) distinct training examples with their one-hot labels, the same for the same seed', () => {
    const ex = diagonalPoints(new Rng(7), 10);
    const net = Network.create({ sizes: [2, 3, 2], activation: 'relu', outputActivation: 'sigmoid', cost: 'quadratic' }, 'he', new Rng(1), 'float64');
    const { ws, y } = evaluationBatch(net, ex, 3, 4);
    expect([ws.m, y.rows, y.cols]).toEqual([4, 2, 4]);
    const rows = new Set<number>();
    for (let j = 0; j < 4; j++) {
      const x0 = ws.input.get(j, 0),
        x1 = ws.input.get(j, 1);
      const idx = Array.from({ length: 10 }, (_, i) => i).find((i) => ex.features[2 * i] === x0 && ex.features[2 * i + 1] === x1)!;
      expect(idx).toBeDefined();
      rows.add(idx);
      expect(y.get(ex.labels[idx], j)).toBe(1);
      expect(y.get(1 - ex.labels[idx], j)).toBe(0);
    }
    expect(rows.size).toBe(4);
    // drawn from its own stream, seed + 2 (the init uses the seed, the shuffle seed + 1)
    expect([...rows]).toEqual(Array.from(new Rng(3 + 2).shuffle(Uint32Array.from({ length: 10 }, (_, i) => i)).subarray(0, 4)));
    expect(evaluationBatch(net, ex, 3, 4).ws.input.data).toEqual(ws.input.data);
    expect(evaluationBatch(net, ex, 3, 50).ws.m).toBe(10);
  });

  it('a bounded activation is binned over its range even when an activation is NaN (a diverged network)', () => {
    for (const [act, range] of [
      ['sigmoid', [0, 1]],
      ['tanh', [-1, 1]],
    ] as const) {
      const t = tiny(
        act,
        'sigmoid',
        [1, 1],
        [0, 0],
        [1, 0, 0, 1],
        [0, 0],
        [NaN, 0.5],
        [
          [1, 0],
          [0, 1],
        ],
      );
      const [h1, h2] = layerStats(t.net, t.batch, jsKernels, true).map((s) => s.histogram!);
      expect([h1.lo, h1.hi]).toEqual(range);
      expect([h2.lo, h2.hi]).toEqual([0, 1]);
    }
  });
});
