import { describe, expect, it } from 'vitest';
import { loadEmbedded } from '../../src/data/embedded.js';
import { slice } from '../../src/data/dataset.js';
import { networkBytes } from '../../src/data/limits.js';
import { GA_DEFAULTS, GaLearner, gaMemory } from '../../src/learners/ga.js';
import { totalBytes } from '../../src/learners/harness.js';
import { ODE_DEFAULTS, OdeLearner, odeMemory } from '../../src/learners/ode.js';
import { SGD_DEFAULTS, SgdLearner } from '../../src/learners/sgd.js';
import { jsKernels } from '../../src/linalg/index.js';
import type { Architecture } from '../../src/nn/network.js';

// One memory estimate per learner, computed by the learner's module: `backprop learners` refuses a learner by it
// before any work, and the learner reports it (the ODE adds its unrolled tape) as its peak. They were two formulas.
const full = loadEmbedded();
const ds = { ...full, train: slice(full.train, 0, 40), test: slice(full.test, 0, 20) };
const arch: Architecture = { sizes: [784, 5, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
const ctx = { kernels: jsKernels, seed: 1, budget: {}, test: ds.test };

describe('learner memory estimates: by hand, and the peak each learner reports', () => {
  it('gaMemory: two populations of P parameters, Z and A of the population on the batch, the batch', () => {
    // 784-5-10: P = 784·5 + 5 + 5·10 + 10 = 3,985 parameters; units above the input 15.
    expect(gaMemory([784, 5, 10], 3, 8)).toEqual({ populations: 4 * 2 * 3 * 3985, activations: 4 * 2 * 3 * 8 * 15, batch: 4 * 8 * (784 + 10) });
  });

  it('odeMemory: θ ×4, the batch, 2s + 3 buffers of the augmented state and of f’s hidden units (s = 4 for rk4, 7 for dopri5)', () => {
    const o = { width: 2, hidden: 3, batchSize: 4 };
    // θ: A (2×5), a (2), f: W1 (3×2), b1 (3), g (3), W2 (2×3), b2 (2), B (4×2), c (4) = 10+2+6+3+3+6+2+8+4 = 44
    const P = 44,
      f = 2 * 3 * 2 + 2 * 3 + 2;
    expect(odeMemory({ ...o, solver: 'rk4' }, 5, 4)).toEqual({ parameters: 16 * P, batch: 4 * 4 * 9, solver: 4 * 11 * (2 * 2 * 4 + f), hiddenUnits: 4 * 11 * 4 * 3 });
    expect(odeMemory({ ...o, solver: 'dopri5' }, 5, 4).solver).toBe(4 * 17 * (2 * 2 * 4 + f));
  });

  it('the GA reports gaMemory of its population and fitness batch (the batch capped by the training set)', async () => {
    const ga = new GaLearner(arch, { ...GA_DEFAULTS, population: 4, generations: 2, fitnessBatch: 100, init: 'he' });
    const r = await ga.fit(ds, ctx);
    expect(r.peakBytes).toBe(totalBytes(gaMemory(arch.sizes, 4, 40)));
  });

  it('SGD reports networkBytes, the estimate train and learners refuse a network by', async () => {
    const sgd = new SgdLearner(arch, { ...SGD_DEFAULTS, epochs: 1, batchSize: 10, init: 'he' });
    const r = await sgd.fit(ds, ctx);
    expect(r.peakBytes).toBe(networkBytes(arch.sizes, 10));
  });

  it('the ODE with adjoint gradients (no tape) reports odeMemory', async () => {
    const o = { ...ODE_DEFAULTS, width: 4, hidden: 6, batchSize: 10, epochs: 1, solver: 'rk4' as const, steps: 2, gradient: 'adjoint' as const };
    const r = await new OdeLearner(o).fit(ds, ctx);
    expect(r.peakBytes).toBe(totalBytes(odeMemory(o, 784, 10)));
  });
});
