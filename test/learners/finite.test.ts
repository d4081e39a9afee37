import { describe, expect, it } from 'vitest';
import { SgdLearner } from '../../src/learners/sgd.js';
import { GaLearner, GA_DEFAULTS } from '../../src/learners/ga.js';
import { NtkLearner } from '../../src/learners/ntk.js';
import { RbmLearner } from '../../src/learners/rbm.js';
import { OdeLearner } from '../../src/learners/ode.js';
import type { Learner } from '../../src/learners/learner.js';
import { allFinite } from '../../src/nn/backprop.js';
import { examples, type Dataset } from '../../src/data/dataset.js';
import { jsKernels } from '../../src/linalg/index.js';
import type { Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';

// Learner.finite(): every parameter array of each fitted model is looked at (a NaN planted in any one of them is
// found), so that a diverged fit (one class predicted everywhere) is reported as diverged, not as an accuracy.

const rng = new Rng(4);
const make = (n: number) =>
  examples(
    Float32Array.from({ length: n * 4 }, () => rng.uniform()),
    Uint8Array.from({ length: n }, (_, i) => i % 3),
    4,
  );
const ds: Dataset = { name: 't', classes: 3, train: make(12), test: make(6) };
const arch: Architecture = { sizes: [4, 5, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };

/** Each learner, fitted, with every parameter array it holds. */
const cases: [string, () => Learner, (l: never) => Float32Array[] | Float64Array[] | (Float32Array | Float64Array)[]][] = [
  ['sgd', () => new SgdLearner(arch, { lr: 0.1, batchSize: 4, epochs: 1, init: 'he' }), (l: SgdLearner) => [...l.network.weights.map((W) => W.data), ...l.network.biases]],
  [
    'ga',
    () => new GaLearner(arch, { ...GA_DEFAULTS, population: 4, generations: 2, elite: 1, tournament: 2, fitnessBatch: 6, init: 'he' }),
    (l: GaLearner) => [...l.network.weights.map((W) => W.data), ...l.network.biases],
  ],
  ['ntk', () => new NtkLearner({ hidden: 1, ridge: 1e-3, maxExamples: 100 }, 3), (l: NtkLearner) => [(l as unknown as { fitted: { alpha: { data: Float64Array } } }).fitted.alpha.data]],
  ['rbm', () => new RbmLearner({ hidden: 3, epochs: 1, batchSize: 4 }), (l: RbmLearner) => [l.v.data, l.c, l.bv]],
  ['ode', () => new OdeLearner({ width: 3, hidden: 3, epochs: 1, batchSize: 6, steps: 2 }), (l: OdeLearner) => [l.net!.theta]],
];

describe('Learner.finite', () => {
  for (const [name, create, params] of cases)
    it(`${name}: true after a fit; false with a NaN or an infinity in any one parameter array`, async () => {
      const l = create();
      await l.fit(ds, { kernels: jsKernels, seed: 2, budget: {}, test: ds.test, yieldMs: 0 });
      expect(l.finite()).toBe(true);
      const arrays = params(l as never);
      expect(arrays.length).toBeGreaterThan(0);
      for (const a of arrays)
        for (const bad of [NaN, Infinity, -Infinity]) {
          const i = a.length - 1,
            kept = a[i];
          a[i] = bad;
          expect(l.finite()).toBe(false);
          a[i] = kept;
        }
      expect(l.finite()).toBe(true);
    });

  it('before a fit, the models that have no parameters yet are not finite (nothing to predict with)', () => {
    expect(new NtkLearner({ hidden: 1, ridge: 1e-3, maxExamples: 100 }, 3).finite()).toBe(false);
    expect(new RbmLearner({ hidden: 3 }).finite()).toBe(false);
    expect(new OdeLearner({ width: 3 }).finite()).toBe(false);
  });

  it('allFinite, which each finite() calls per array, looks at every value, the first and the last', () => {
    expect(allFinite([])).toBe(true);
    expect(allFinite(Float32Array.of(1, 2, 3))).toBe(true);
    expect(allFinite([NaN, 2])).toBe(false);
    expect(allFinite([3, Infinity])).toBe(false);
    expect(allFinite([-Infinity])).toBe(false);
  });
});
