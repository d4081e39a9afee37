import type { Dataset } from '../data/dataset.js';
import { accuracy, type FitResult, type Learner, type TracePoint } from './learner.js';

/** One seed's accuracies: on the test set, and on the validation set when one is held out. */
export interface SeedResult {
  seed: number;
  testAccuracy: number;
  validationAccuracy: number | null;
}

/** One learner's row of the study: what it reached, what it cost, and its curve. */
export interface StudyRun extends Partial<ReturnType<typeof seedStats>> {
  name: string;
  description: string;
  testAccuracy: number;
  validationAccuracy: number | null;
  /** Training seconds, the test evaluations that draw the curves left out. */
  seconds: number;
  /** Wall seconds with those evaluations. */
  wallSeconds: number;
  work: number;
  flops: number;
  parametersUpdated: number;
  peakBytes: number;
  trace: TracePoint[];
  details: Record<string, number | string>;
  /** Set when a fit's parameters became non-finite: what diverged and what to try. */
  diverged?: string;
}

/** Mean and sample standard deviation (n − 1) of a list. */
function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}

/** --seeds K: each seed's accuracies, and their mean ± sample standard deviation. */
export function seedStats(perSeed: SeedResult[]) {
  const t = meanSd(perSeed.map((p) => p.testAccuracy));
  const v = perSeed.every((p) => p.validationAccuracy !== null) ? meanSd(perSeed.map((p) => p.validationAccuracy!)) : undefined;
  return {
    seeds: [...perSeed].sort((a, b) => a.seed - b.seed),
    testAccuracyMean: t.mean,
    testAccuracySd: t.sd,
    ...(v ? { validationAccuracyMean: v.mean, validationAccuracySd: v.sd } : {}),
  };
}

/**
 * The accuracy a finished fit is reported with. The curves are measured on
 * the validation set when one is held out (every number a choice is made on
 * never sees the test set); the test set is then touched once, here, at the end.
 */
export function finalAccuracy(l: Learner, ds: Dataset, last: TracePoint): { testAccuracy: number; validationAccuracy: number | null } {
  return ds.validation ? { testAccuracy: accuracy(l.predict(ds.test), ds.test), validationAccuracy: last.testAccuracy } : { testAccuracy: last.testAccuracy, validationAccuracy: null };
}

/**
 * --seeds K: fits the learner with the seeds after `seed` (seed + 1 … seed + K − 1),
 * stopping early when `shouldStop` says so, and returns each one's accuracies.
 * `seed` itself is fitted last by the caller, so that the learner's state (its
 * files, its figures, its row's curve) is `seed`'s.
 */
export async function fitOtherSeeds(seed: number, seeds: number, shouldStop: () => boolean, fit: (seed: number) => Promise<FitResult>, l: Learner, ds: Dataset): Promise<SeedResult[]> {
  const others: SeedResult[] = [];
  for (let i = 1; i < seeds && !shouldStop(); i++) {
    const ri = await fit(seed + i);
    const li = ri.trace[ri.trace.length - 1];
    if (li) others.push({ seed: seed + i, ...finalAccuracy(l, ds, li) });
  }
  return others;
}

/**
 * The study's row for a learner fitted last with `seed` (result `r`, its last
 * trace point `last`); with --seeds K > 1, the mean ± sd over `seed` and the
 * other seeds' results.
 */
export function studyRun(l: Learner, ds: Dataset, r: FitResult, last: TracePoint, seeds: { seed: number; count: number; others: SeedResult[] }): StudyRun {
  const { testAccuracy, validationAccuracy } = finalAccuracy(l, ds, last);
  const perSeed = [{ seed: seeds.seed, testAccuracy, validationAccuracy }, ...seeds.others];
  return {
    name: l.name,
    ...(seeds.count > 1 ? seedStats(perSeed) : {}),
    description: l.describe(),
    testAccuracy,
    validationAccuracy,
    seconds: last.seconds,
    wallSeconds: r.wallSeconds ?? last.seconds,
    work: last.work,
    flops: last.flops,
    parametersUpdated: r.parametersUpdated,
    peakBytes: r.peakBytes,
    trace: r.trace,
    details: r.details,
  };
}
