import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { activation, type ActivationName, ACTIVATIONS } from '../../src/nn/activations.js';
import { cost, type CostName, COSTS, softplus } from '../../src/nn/costs.js';
import { activated, columns } from '../helpers.js';

/** C(z) from the cost's log-space total, in float64. */
function costAt(c: CostName, out: ActivationName, z: Matrix, y: Matrix): number {
  return cost(c).total(activation(out), z, activated(out, z), y);
}

function delta(c: CostName, out: ActivationName, z: Matrix, y: Matrix): Matrix {
  const a = activated(out, z),
    d = Matrix.zeros(z.rows, z.cols, z.dtype);
  cost(c).delta(activation(out), z, a, y, d);
  return d;
}

describe('softmax and log-sum-exp at large logits', () => {
  const L = Math.log1p(Math.exp(-1)); // ln(1 + e^−1)
  for (const dtype of ['float32', 'float64'] as const) {
    for (const big of [100, 1000]) {
      it(`${dtype}, z = (${big}, ${big - 1}, 0) and (−${big}, −${big + 1}, −${2 * big}): a = (1, e^−1, ~0)/(1 + e^−1)`, () => {
        const z = columns(
          [
            [big, big - 1, 0],
            [-big, -big - 1, -2 * big],
          ],
          dtype,
        );
        const a = activated('softmax', z);
        for (let j = 0; j < 2; j++) {
          expect(a.get(0, j)).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
          expect(a.get(1, j)).toBeCloseTo(Math.exp(-1) / (1 + Math.exp(-1)), 6);
          expect(a.get(2, j)).toBeLessThan(1e-30);
          expect(a.get(2, j)).toBeGreaterThanOrEqual(0);
        }
      });
      it(`${dtype}, z = (${big}, ${big - 1}, 0): −ln a_i = lse − z_i for log-likelihood and the cross-entropy in log space`, () => {
        const z = columns(
          [
            [big, big - 1, 0],
            [big, big - 1, 0],
          ],
          dtype,
        );
        const a = activated('softmax', z);
        const y = columns(
          [
            [1, 0, 0],
            [0, 0, 1],
          ],
          dtype,
        );
        const sm = activation('softmax');
        // −ln a_0 = L, −ln a_2 = big + L
        expect(cost('log-likelihood').total(sm, z, a, y)).toBeCloseTo(L + big + L, 9);
        // y = e_0: −ln a_0 − ln(1 − a_1) − ln(1 − a_2) = L + L + 0; y = e_2: (big + L) + (1 + L) + L
        expect(cost('cross-entropy').total(sm, z, a, y)).toBeCloseTo(2 * L + big + 1 + 3 * L, 9);
      });
      it(`${dtype}, sigmoid cross-entropy at z = ±${big}: ln(1 + e^${big}) = ${big} on the wrong side, ~e^−${big} on the right one`, () => {
        const z = columns(
          [
            [big, -big],
            [-big, big],
          ],
          dtype,
        );
        const a = activated('sigmoid', z);
        const y = columns(
          [
            [0, 1],
            [0, 1],
          ],
          dtype,
        );
        // example 1: y = (0, 1), z = (big, −big): both wrong by `big`; example 2: both right
        expect(cost('cross-entropy').total(activation('sigmoid'), z, a, y)).toBeCloseTo(2 * big + 2 * softplus(-big), 9);
      });
    }
  }
  it('softplus(x) = ln(1 + eˣ) on both sides and far out', () => {
    for (const x of [-3, -0.5, 0, 0.5, 3]) expect(softplus(x)).toBeCloseTo(Math.log(1 + Math.exp(x)), 14);
    expect(softplus(800)).toBe(800);
    expect(softplus(-800)).toBe(0);
    expect(softplus(-40)).toBeCloseTo(Math.exp(-40), 30);
  });
});
describe("each cost's δ^L = ∂C_x/∂z^L against centered differences, saturated outputs included", () => {
  // Saturated columns (|z| up to 30) beside moderate ones; targets hit and missed.
  const zCols = [
    [30, -25, 0.5],
    [-30, 28, -0.2],
    [12, 11.5, -14],
    [0.3, -0.7, 1.1],
  ];
  const yOneHot = [
    [0, 1, 0],
    [1, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
  ];
  const ySoft = [
    [0.5, 0.25, 0],
    [0.2, 0.3, 0.1],
    [0, 0, 0.9],
    [1, 0, 0],
  ];
  const outputs: ActivationName[] = ACTIVATIONS.filter((o) => o !== 'relu' && o !== 'leaky-relu'); // kinks: a centered difference straddles them
  for (const c of COSTS) {
    for (const out of outputs) {
      if (cost(c).refuses(out)) continue;
      for (const [label, targets] of [
        ['one-hot', yOneHot],
        ['soft', ySoft],
      ] as const) {
        it(`${c} × ${out}, ${label} targets`, () => {
          const z = columns(zCols),
            y = columns(targets.map((t) => t.slice()));
          const d = delta(c, out, z, y);
          const h = 1e-5;
          for (let k = 0; k < z.data.length; k++) {
            const zp = z.clone(),
              zm = z.clone();
            zp.data[k] += h;
            zm.data[k] -= h;
            const fd = (costAt(c, out, zp, y) - costAt(c, out, zm, y)) / (2 * h);
            expect(Math.abs(d.data[k] - fd), `${c} × ${out} at ${k}: δ ${d.data[k]} vs ${fd}`).toBeLessThan(1e-6 + 1e-6 * Math.abs(fd));
          }
        });
      }
    }
  }
});
describe('the accepted pairings take the log-space δ^L, finite where a float32 output is exactly 0 or 1', () => {
  it('sigmoid × cross-entropy: δ = a − y when σ(z) rounds to 1 or 0', () => {
    const z = columns([[20, -120]], 'float32');
    const a = activated('sigmoid', z);
    expect(Array.from(a.data)).toEqual([1, 0]); // the textbook (a − y)/(a(1 − a)) · a(1 − a) is 0/0 here
    const d = delta('cross-entropy', 'sigmoid', z, columns([[0, 1]], 'float32'));
    expect(Array.from(d.data)).toEqual([1, -1]);
  });
  it('softmax × cross-entropy and × log-likelihood: δ is finite and matches float64 at z = (100, 0, −100)', () => {
    for (const c of ['cross-entropy', 'log-likelihood'] as const) {
      for (const target of [0, 1, 2]) {
        const y = [0, 0, 0];
        y[target] = 1;
        const d32 = delta(c, 'softmax', columns([[100, 0, -100]], 'float32'), columns([y], 'float32'));
        const d64 = delta(c, 'softmax', columns([[100, 0, -100]]), columns([y]));
        for (let i = 0; i < 3; i++) {
          expect(Number.isFinite(d32.data[i])).toBe(true);
          expect(d32.data[i]).toBeCloseTo(d64.data[i], 6);
        }
        // at this saturation a = (1, 0, 0) to float64 precision, and for log-likelihood δ = a − y
        if (c === 'log-likelihood') for (let i = 0; i < 3; i++) expect(d64.data[i]).toBeCloseTo((i === 0 ? 1 : 0) - y[i], 12);
      }
    }
  });
});
describe('infinite logits, ReLU at z = 0 and in float32 outside a Workspace, the refused pairings loaded from old files', () => {
  it('a −∞ logit is a probability of exactly 0, not a NaN: costs 0 and δ = 0 when the target is the other class', () => {
    for (const c of ['cross-entropy', 'log-likelihood'] as const) {
      const z = columns([[0, -Infinity]]),
        y = columns([[1, 0]]);
      expect(costAt(c, 'softmax', z, y)).toBe(0);
      expect(Array.from(delta(c, 'softmax', z, y).data)).toEqual([0, 0]);
    }
    // sigmoid: z = −∞ with y = 0 and z = +∞ with y = 1 are right with certainty
    expect(costAt('cross-entropy', 'sigmoid', columns([[-Infinity, Infinity]]), columns([[0, 1]]))).toBe(0);
  });
  it('cross-entropy after a linear output (refused now): the textbook −Σ y ln a + (1 − y) ln(1 − a) and ∇_a C ⊙ f′; ln 0 held at ln 1e−300', () => {
    const z = columns([
        [0.25, 0.5],
        [0.9, 0],
      ]),
      y = columns([
        [1, 0],
        [0, 1],
      ]);
    const total = cost('cross-entropy').total(activation('linear'), z, z, y);
    expect(total).toBeCloseTo(-Math.log(0.25) - Math.log(0.5) - Math.log(0.1) - Math.log(1e-300), 9);
    const d = delta('cross-entropy', 'linear', columns([[0.25, 0.5]]), columns([[1, 0]]));
    expect(Array.from(d.data)).toEqual([(0.25 - 1) / (0.25 * 0.75), 0.5 / 0.25]);
    // log-likelihood after sigmoid (refused now): −y/a ⊙ σ′(z)
    const zs = columns([[0.3, -0.2]]),
      ys = columns([[1, 0]]);
    const a = activated('sigmoid', zs);
    const dl = delta('log-likelihood', 'sigmoid', zs, ys);
    expect(dl.data[0]).toBeCloseTo((-1 / a.data[0]) * a.data[0] * (1 - a.data[0]), 14);
    expect(dl.data[1]).toBe(0);
    // soft targets weigh both logs: −[0.5 ln 0.25 + 0.5 ln 0.75]
    expect(cost('cross-entropy').total(activation('linear'), columns([[0.25]]), columns([[0.25]]), columns([[0.5]]))).toBeCloseTo(-0.5 * Math.log(0.25) - 0.5 * Math.log(0.75), 14);
    expect(cost('log-likelihood').total(activation('sigmoid'), zs, a, ys)).toBeCloseTo(-Math.log(a.data[0]), 14);
  });
});
