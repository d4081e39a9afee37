import type { Dataset, Examples } from '../data/dataset.js';
import type { Kernels } from '../linalg/index.js';

/**
 * The learners study: several ways to fit a classifier to the same data, one
 * of which is SGD with our hand-written backprop, each measured the same way.
 * A learner fits on `ds.train` within a budget, predicts classes, and reports
 * a trace of test accuracy against wall time and against work done.
 */
export const LEARNERS = ['sgd', 'ga', 'ntk', 'rbm', 'ode'] as const;
export type LearnerName = (typeof LEARNERS)[number];

/** How long a learner may run: it stops at whichever limit comes first. */
export interface Budget {
  /** Wall-clock seconds for fit(), measured from its start. */
  seconds?: number;
}

/**
 * One point of a learner's progress, measured on the test set.
 * `work` counts forward passes of one example through the learner's model
 * (an "example-forward"): SGD's backward pass counts as a second pass, a GA
 * fitness evaluation of P networks on B examples as P·B, a kernel entry
 * Θ(x, x') as one. `flops` is the learner's own estimate of multiply-adds ×2.
 */
export interface TracePoint {
  seconds: number;
  work: number;
  flops: number;
  testAccuracy: number;
}

/** Passed to fit(): the kernel provider, the seed, the budget, and a way to report progress. */
export interface FitContext {
  kernels: Kernels;
  seed: number;
  budget: Budget;
  /** Test examples to measure the trace on (the learner calls evaluate points itself). */
  test: Examples;
  /** Called with each new trace point as it is measured (the CLI draws progress from it). */
  onPoint?: (p: TracePoint) => void;
  /** Asked between steps: stop now (Ctrl-C)? */
  shouldStop?: () => boolean;
  /** Called as the learner goes: done of total units (the CLI draws its progress line from it). */
  onProgress?: (p: Progress) => void;
  /** Milliseconds between yields to the event loop (default YIELD_MS, 50; tests set 0). */
  yieldMs?: number;
}

/** Where a learner is: `done` of `total` units (generations, updates, kernel rows, …) after `seconds` of training. */
export interface Progress {
  done: number;
  total: number;
  unit: string;
  /** Training seconds (evaluations left out) and wall seconds (evaluations included). */
  seconds: number;
  wallSeconds: number;
  /** The last measured test accuracy, if any. */
  testAccuracy?: number;
}

export interface FitResult {
  trace: TracePoint[];
  /** Parameters changed by learning (0 for the NTK: no weight is ever updated). */
  parametersUpdated: number;
  /** Peak bytes of the learner's own large buffers (matrices, kernels, populations). */
  peakBytes: number;
  /** Wall seconds of fit(), the test evaluations of the trace included (trace seconds leave them out). */
  wallSeconds?: number;
  /** Free-form numbers worth printing (e.g. generations run, CD steps, solver evaluations). */
  details: Record<string, number | string>;
  /** Set when the fit stopped itself on a non-finite value (its parameters may still be finite): what happened and what to try. */
  diverged?: string;
}

export interface Learner {
  readonly name: LearnerName;
  /** One line: what this learner is, with its main settings. */
  describe(): string;
  /** Fits on ds.train (ds.test is in ctx.test) and returns the trace. */
  fit(ds: Dataset, ctx: FitContext): Promise<FitResult>;
  /** The predicted class of every example. */
  predict(ex: Examples): ArrayLike<number>;
  /** Whether the fitted model's parameters are all finite: a diverged fit (NaN weights) predicts one class everywhere, and its accuracy is no result. */
  finite(): boolean;
}

/** Fraction of examples whose predicted class is the label. */
export function accuracy(predictions: ArrayLike<number>, ex: Examples): number {
  let c = 0;
  for (let i = 0; i < ex.count; i++) if (predictions[i] === ex.labels[i]) c++;
  return ex.count ? c / ex.count : 0;
}
