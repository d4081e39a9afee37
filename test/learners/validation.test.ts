import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';

// learners --validation N and --seeds K (issue 28): the curves (every number a choice is made on) are measured on N held-out
// training examples; the test set is evaluated once, at the end. Checked by the denominators: every trace
// accuracy is a multiple of 1/7 (the 7 validation examples), the final test accuracy of 1/300.

interface Out {
  train: number;
  validation: number | null;
  test: number;
  learners: { name: string; testAccuracy: number; validationAccuracy: number | null; trace: { testAccuracy: number }[] }[];
}

const multipleOf = (x: number, n: number) => Math.abs(x * n - Math.round(x * n)) < 1e-9;

describe('learners --validation', () => {
  it('the trace is on the validation examples, the test set only in the final number', () => {
    const r = cli(['learners', '--learners', 'sgd,ntk', '--validation', '7', '--limit', '400', '--test-limit', '300', '--epochs', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Out;
    expect(out.validation).toBe(7);
    expect(out.train).toBe(400);
    for (const l of out.learners) {
      expect(l.trace.length).toBeGreaterThan(0);
      for (const p of l.trace) expect(multipleOf(p.testAccuracy, 7), `${l.name} trace ${p.testAccuracy}`).toBe(true);
      expect(l.validationAccuracy).toBe(l.trace[l.trace.length - 1].testAccuracy);
      expect(multipleOf(l.testAccuracy, 300), `${l.name} test ${l.testAccuracy}`).toBe(true);
    }
    expect(r.stderr).toMatch(/^learner\s+val acc\s+test acc/m);
    expect(r.stderr).toMatch(/400 train \/ 7 validation \/ 300 test/);
  });

  it('without it, the trace is on the test set and validation is null', () => {
    const r = cli(['learners', '--learners', 'sgd', '--limit', '400', '--test-limit', '300', '--epochs', '1', '--json']);
    const out = JSON.parse(r.stdout) as Out;
    expect(out.validation).toBeNull();
    expect(out.learners[0].validationAccuracy).toBeNull();
    for (const p of out.learners[0].trace) expect(multipleOf(p.testAccuracy, 300)).toBe(true);
  });
});

describe('learners --seeds', () => {
  it("each seed as its own --seed run gives it; mean ± sample standard deviation over them; the row is --seed's", () => {
    const args = ['learners', '--learners', 'sgd', '--limit', '300', '--test-limit', '200', '--epochs', '1', '--json'];
    const many = JSON.parse(cli([...args, '--seed', '4', '--seeds', '3']).stdout) as {
      learners: { testAccuracy: number; seeds: { seed: number; testAccuracy: number }[]; testAccuracyMean: number; testAccuracySd: number }[];
    };
    const one = (seed: number) => (JSON.parse(cli([...args, '--seed', String(seed)]).stdout) as Out).learners[0].testAccuracy;
    const l = many.learners[0];
    const each = [4, 5, 6].map(one);
    expect(l.seeds).toEqual(each.map((testAccuracy, i) => ({ seed: 4 + i, testAccuracy, validationAccuracy: null })));
    const mean = (each[0] + each[1] + each[2]) / 3;
    expect(l.testAccuracyMean).toBeCloseTo(mean, 12);
    expect(l.testAccuracySd).toBeCloseTo(Math.sqrt(each.reduce((a, x) => a + (x - mean) ** 2, 0) / 2), 12);
    expect(l.testAccuracy).toBe(each[0]);
  }, 120_000);
});
