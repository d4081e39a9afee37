import { describe, expect, it } from 'vitest';
import { finalAccuracy, fitOtherSeeds, seedStats, studyRun, type SeedResult } from '../../src/learners/study.js';
import { accuracy, type FitResult, type Learner, type TracePoint } from '../../src/learners/learner.js';
import { examples, type Dataset, type Examples } from '../../src/data/dataset.js';

// src/learners/study.ts (the rows of `learners`, --seeds) and accuracy() of learner.ts, in-process, by hand.

const ex = (labels: number[]): Examples => examples(new Float32Array(labels.length), Uint8Array.from(labels), 1);

/** A learner that predicts the given classes, whatever the examples. */
function fake(predictions: number[]): Learner {
  return {
    name: 'fake',
    describe: () => 'a fake learner',
    predict: () => Uint8Array.from(predictions),
  } as unknown as Learner;
}

const point = (testAccuracy: number, seconds = 2): TracePoint => ({ testAccuracy, seconds, work: 10, flops: 20 }) as TracePoint;

describe('accuracy', () => {
  it('is the fraction of predictions equal to the label, 0 for no examples', () => {
    expect(accuracy(Uint8Array.from([1, 2, 3, 4]), ex([1, 0, 3, 0]))).toBe(0.5);
    expect(accuracy(Uint8Array.from([1, 2, 3]), ex([1, 2, 3]))).toBe(1);
    expect(accuracy(Uint8Array.from([9]), ex([1]))).toBe(0);
    expect(accuracy(new Uint8Array(0), ex([]))).toBe(0);
    // only the first count predictions count
    expect(accuracy(Uint8Array.from([1, 5, 5]), ex([1, 2]))).toBe(0.5);
  });
});

describe('seedStats', () => {
  it('mean and sample standard deviation (n − 1) of the test accuracies, and of the validation ones when every seed has one', () => {
    const s = seedStats([
      { seed: 3, testAccuracy: 0.9, validationAccuracy: 0.8 },
      { seed: 1, testAccuracy: 0.7, validationAccuracy: 0.6 },
      { seed: 2, testAccuracy: 0.8, validationAccuracy: 0.9 },
    ]);
    expect(s.seeds.map((p) => p.seed)).toEqual([1, 2, 3]);
    expect(s.testAccuracyMean).toBeCloseTo(0.8, 15);
    expect(s.testAccuracySd).toBeCloseTo(0.1, 15);
    expect(s.validationAccuracyMean).toBeCloseTo(2.3 / 3, 15);
    const m = 2.3 / 3;
    expect(s.validationAccuracySd).toBeCloseTo(Math.sqrt(((0.8 - m) ** 2 + (0.6 - m) ** 2 + (0.9 - m) ** 2) / 2), 15);
  });

  it('one seed: sd 0; a seed without validation: no validation fields', () => {
    const one = seedStats([{ seed: 5, testAccuracy: 0.25, validationAccuracy: null }]);
    expect(one).toEqual({ seeds: [{ seed: 5, testAccuracy: 0.25, validationAccuracy: null }], testAccuracyMean: 0.25, testAccuracySd: 0 });
    const mixed = seedStats([
      { seed: 1, testAccuracy: 0.5, validationAccuracy: 0.5 },
      { seed: 2, testAccuracy: 0.5, validationAccuracy: null },
    ]);
    expect('validationAccuracyMean' in mixed).toBe(false);
    expect(mixed.testAccuracySd).toBe(0);
  });
});

describe('finalAccuracy', () => {
  const ds = (validation: boolean): Dataset => ({ name: 'd', classes: 3, train: ex([0]), test: ex([0, 1, 2, 2]), ...(validation ? { validation: ex([1]) } : {}) }) as Dataset;

  it('with a validation set: the curve is validation, the test set is measured once at the end', () => {
    expect(finalAccuracy(fake([0, 1, 0, 0]), ds(true), point(0.9))).toEqual({ testAccuracy: 0.5, validationAccuracy: 0.9 });
  });

  it('without one: the curve is the test accuracy, and no validation accuracy', () => {
    expect(finalAccuracy(fake([0, 1, 0, 0]), ds(false), point(0.9))).toEqual({ testAccuracy: 0.9, validationAccuracy: null });
  });
});

describe('fitOtherSeeds and studyRun', () => {
  const ds = { name: 'd', classes: 2, train: ex([0]), test: ex([0, 1]) } as Dataset;
  const fit = (trace: TracePoint[]) => ({ trace, parametersUpdated: 7, peakBytes: 8, details: { k: 'v' } }) as unknown as FitResult;

  it('fits seed + 1 … seed + K − 1, skipping a fit with no trace, until told to stop', async () => {
    const asked: number[] = [];
    const others = await fitOtherSeeds(
      10,
      4,
      () => false,
      async (s) => (asked.push(s), fit(s === 12 ? [] : [point(0.1), point(s / 100)])),
      fake([0, 0]),
      ds,
    );
    expect(asked).toEqual([11, 12, 13]);
    expect(others).toEqual<SeedResult[]>([
      { seed: 11, testAccuracy: 0.11, validationAccuracy: null },
      { seed: 13, testAccuracy: 0.13, validationAccuracy: null },
    ]);
    let calls = 0;
    const stopped = await fitOtherSeeds(
      10,
      4,
      () => calls >= 1,
      async (s) => (calls++, fit([point(s)])),
      fake([0, 0]),
      ds,
    );
    expect(stopped.map((r) => r.seed)).toEqual([11]);
    expect(
      await fitOtherSeeds(
        10,
        1,
        () => false,
        async () => fit([point(1)]),
        fake([0, 0]),
        ds,
      ),
    ).toEqual([]);
  });

  it("a study row: the learner's name, description, accuracies, costs and curve; with several seeds their statistics", () => {
    const trace = [point(0.5, 1), point(0.75, 3)];
    const r = { ...fit(trace), wallSeconds: 5 } as FitResult;
    const one = studyRun(fake([0, 0]), ds, r, trace[1], { seed: 1, count: 1, others: [] });
    expect(one).toEqual({
      name: 'fake',
      description: 'a fake learner',
      testAccuracy: 0.75,
      validationAccuracy: null,
      seconds: 3,
      wallSeconds: 5,
      work: 10,
      flops: 20,
      parametersUpdated: 7,
      peakBytes: 8,
      trace,
      details: { k: 'v' },
    });
    // no wall time measured: the training seconds
    expect(studyRun(fake([0, 0]), ds, fit(trace), trace[1], { seed: 1, count: 1, others: [] }).wallSeconds).toBe(3);
    const many = studyRun(fake([0, 0]), ds, r, trace[1], { seed: 4, count: 2, others: [{ seed: 2, testAccuracy: 0.25, validationAccuracy: null }] });
    expect(many.seeds).toEqual([
      { seed: 2, testAccuracy: 0.25, validationAccuracy: null },
      { seed: 4, testAccuracy: 0.75, validationAccuracy: null },
    ]);
    expect(many.testAccuracyMean).toBe(0.5);
    expect(many.testAccuracySd).toBeCloseTo(Math.SQRT1_2 / 2, 15);
  });
});
