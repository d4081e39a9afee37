import type { Architecture } from '../../src/nn/network.js';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/learners.js';
import { slice } from '../../src/data/dataset.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { jsKernels } from '../../src/linalg/index.js';
import { GA_DEFAULTS, GaLearner } from '../../src/learners/ga.js';
import type { Progress } from '../../src/learners/learner.js';
import { NtkLearner } from '../../src/learners/ntk.js';

// `learners` shows n/total with an ETA for every learner (issue 27): generations of the GA, updates of
// SGD, the RBM and the ODE, rows of the NTK's kernel, its solve and the test rows.

describe('the progress line', () => {
  it('n/total, the unit, the wall time and an ETA from the rate so far', () => {
    const p: Progress = { done: 120, total: 3000, unit: 'generations', seconds: 1.1, wallSeconds: 1.3, testAccuracy: 0.45 };
    // 1.3 s for 120 of 3,000: 2,880 more take 31.2 s
    expect(progressLine('ga', p)).toBe('  ga: 45.00% · 120/3,000 generations · 1.30s, ETA 0:31');
    expect(progressLine('ntk', { done: 0, total: 76, unit: 'M multiply-adds of the solve', seconds: 5, wallSeconds: 5 })).toBe('  ntk: 0/76 M multiply-adds of the solve · 5.00s');
  });

  it("a later phase's ETA is at that phase's pace (the NTK's test rows after its kernel and solve: it said 0:42 for 4 s)", () => {
    // 275 of 2,000 test rows in the 0.69 s since the phase began at 6.00 s: 1,725 more take 4.3 s.
    expect(progressLine('ntk', { done: 275, total: 2000, unit: 'test rows', seconds: 6.69, wallSeconds: 6.69 }, 6)).toBe('  ntk: 275/2,000 test rows · 6.69s, ETA 0:04');
  });
});

const full = loadEmbedded();
const ds = { ...full, train: slice(full.train, 0, 600), test: slice(full.test, 0, 300) };

describe('every learner reports its progress', () => {
  it('the GA: each generation of the total', async () => {
    const seen: Progress[] = [];
    const arch: Architecture = { sizes: [784, 10], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' };
    await new GaLearner(arch, { ...GA_DEFAULTS, population: 4, generations: 7, init: 'normal' }).fit(ds, { kernels: jsKernels, seed: 1, budget: {}, test: ds.test, onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => `${p.done}/${p.total} ${p.unit}`)).toEqual([1, 2, 3, 4, 5, 6, 7].map((g) => `${g}/7 generations`));
  });

  it('the NTK: kernel rows to n, the solve, then the test rows', async () => {
    const units = new Map<string, number[]>();
    await new NtkLearner({ hidden: 1, ridge: 1e-3, maxExamples: 600 }, 10).fit(ds, {
      kernels: jsKernels,
      seed: 1,
      budget: {},
      test: ds.test,
      onProgress: (p) => units.set(`${p.unit} of ${p.total}`, [...(units.get(`${p.unit} of ${p.total}`) ?? []), p.done]),
    });
    expect([...units.keys()]).toEqual(['kernel rows of 600', 'M multiply-adds of the solve of 40', 'test rows of 300']); // 600³/6 + 10·600², in millions
    expect(units.get('kernel rows of 600')!.at(-1)).toBe(600);
    expect(units.get('M multiply-adds of the solve of 40')).toEqual(expect.arrayContaining([0, 36, 40])); // rising through the factorisation's 36
    expect(units.get('test rows of 300')!.at(-1)).toBe(300);
  });
});
