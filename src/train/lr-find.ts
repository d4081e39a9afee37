import type { Rng } from '../base/rng.js';
import { identity, type Examples } from '../data/dataset.js';
import { lossBeyondRange } from './diagnose.js';
import type { SgdTrainer } from './sgd.js';

/** The LR range test's settings (`backprop lr-find`). */
export interface RangeTestOptions {
  /** η of the first mini-batch and the last. */
  startLr: number;
  endLr: number;
  /** Mini-batches: the most the test trains (it stops sooner when the loss diverges). */
  steps: number;
  /** β of the loss's exponential moving average (fast.ai's 0.98). */
  smoothing: number;
  /** Stop once the smoothed loss exceeds this multiple of its lowest value so far (fast.ai's 4). */
  divergence: number;
}

export const RANGE_TEST_DEFAULTS: RangeTestOptions = { startLr: 1e-7, endLr: 10, steps: 100, smoothing: 0.98, divergence: 4 };

/** One mini-batch of the test: its η, its mean cost C and the smoothed cost. */
export interface RangePoint {
  step: number;
  lr: number;
  loss: number;
  smoothed: number;
}

export interface RangeTestResult {
  points: RangePoint[];
  /** Why the test ended before its last step: the smoothed loss passed `divergence` × its lowest, or a step was not finite. */
  stopped?: { step: number; lr: number; why: 'diverged' | 'not finite' };
  /** The steepest descent of the smoothed loss against log η, before its lowest point: the suggested η. */
  steepest?: RangePoint;
  /** The lowest smoothed loss. */
  lowest?: RangePoint;
  /** The caller stopped the test (a signal) before its last step: the points are those that ran. */
  interrupted?: true;
}

/**
 * η of step i (0-based) of n: start·(end/start)^(i/(n−1)), evenly spaced on a log axis, computed as
 *
 *     log η_i = log start + (i/(n−1)) (log end − log start),
 *
 * since end/start itself overflows to ∞ (1e300 / 1e-300) or underflows to 0 where the logarithms, at most 745 in
 * size, do not. The ends are start and end exactly, and exp's rounding is kept within them.
 */
export function rangeRate(o: Pick<RangeTestOptions, 'startLr' | 'endLr' | 'steps'>, i: number): number {
  if (i === 0) return o.startLr; // (with one step, the only one)
  if (i === o.steps - 1) return o.endLr;
  const a = Math.log(o.startLr),
    b = Math.log(o.endLr);
  const lr = Math.exp(a + (i / (o.steps - 1)) * (b - a));
  return Math.min(Math.max(lr, Math.min(o.startLr, o.endLr)), Math.max(o.startLr, o.endLr));
}

/**
 * The learning-rate range test (Smith 2017, "Cyclical Learning Rates for
 * Training Neural Networks", §3.3; the stopping and smoothing rules of
 * fast.ai's lr_find): train one mini-batch after another with η growing
 * exponentially from startLr to endLr, and record each batch's mean cost C_i.
 * The cost is smoothed by a bias-corrected exponential moving average,
 *   a_i = β a_(i−1) + (1 − β) C_i,   s_i = a_i / (1 − β^(i+1)),
 * and the test stops once s_i > divergence · min_(j≤i) s_j, or a step is not
 * finite. The batches are drawn from a seeded shuffle of the training set
 * (reshuffled each pass). The network and the optimizer's state are trained
 * as they go: the caller starts a real run from fresh weights afterwards.
 */
export function rangeTest(trainer: SgdTrainer, train: Examples, rng: Rng, o: RangeTestOptions, onStep?: (p: RangePoint) => void): RangeTestResult {
  const work = rangeSteps(trainer, train, rng, o, [], onStep);
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/**
 * rangeTest that can be stopped: it yields to the event loop once `yieldMs`
 * have passed since its last yield (50 ms, as runTraining and the learners'
 * harness, so that a signal handler runs within about that long), and then
 * asks `shouldStop`; when it says yes, the test ends with the points run so
 * far, their suggestion (if they give one) and `interrupted`.
 */
export async function rangeTestUntil(trainer: SgdTrainer, train: Examples, rng: Rng, o: RangeTestOptions, shouldStop: () => boolean, yieldMs = 50): Promise<RangeTestResult> {
  const points: RangePoint[] = [];
  const work = rangeSteps(trainer, train, rng, o, points);
  let lastYield = performance.now();
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    if (performance.now() - lastYield < yieldMs) continue;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastYield = performance.now();
    if (shouldStop()) return { ...finish(points), interrupted: true };
  }
}

/** The test's steps, one yield after each mini-batch that left it going; `points` fills as they run. Returns the result. */
function* rangeSteps(trainer: SgdTrainer, train: Examples, rng: Rng, o: RangeTestOptions, points: RangePoint[], onStep?: (p: RangePoint) => void): Generator<void, RangeTestResult> {
  const m = Math.min(trainer.opts.batchSize, train.count);
  const order = identity(train.count);
  let avg = 0;
  let lowest = Infinity;
  let at = train.count; // the next batch's start; past the end: shuffle for a new pass
  for (let i = 0; i < o.steps; i++) {
    if (at + m > train.count) {
      rng.shuffle(order);
      at = 0;
    }
    const lr = (trainer.lr = rangeRate(o, i));
    const loss = trainer.step(train, order, at, m) / m;
    at += m;
    if (!Number.isFinite(loss) || lossBeyondRange(trainer.net, loss)) return finish(points, { step: i + 1, lr, why: 'not finite' });
    avg = o.smoothing * avg + (1 - o.smoothing) * loss;
    const smoothed = avg / (1 - o.smoothing ** (i + 1));
    const p = { step: i + 1, lr, loss, smoothed };
    points.push(p);
    onStep?.(p);
    lowest = Math.min(lowest, smoothed);
    if (smoothed > o.divergence * lowest) return finish(points, { step: i + 1, lr, why: 'diverged' });
    yield;
  }
  return finish(points);
}

function finish(points: RangePoint[], stopped?: RangeTestResult['stopped']): RangeTestResult {
  const s = steepestDescent(points);
  return { points, stopped, steepest: s.steepest, lowest: s.lowest };
}

/**
 * The point of steepest descent of the smoothed loss s against log η, among
 * the points up to the lowest s (after it, the loss is climbing or noise) and
 * after the first tenth of all points (where the moving average is still
 * settling: fast.ai's skip_start): the most negative slope ds/d(log η), by
 * central differences inside and one-sided differences at the ends
 * (numpy.gradient's rule, as fast.ai's suggestion takes it). Undefined when
 * fewer than two points are left.
 */
export function steepestDescent(points: readonly RangePoint[]): { steepest?: RangePoint; lowest?: RangePoint } {
  if (points.length === 0) return {};
  let low = 0;
  for (let i = 1; i < points.length; i++) if (points[i].smoothed < points[low].smoothed) low = i;
  const lowest = points[low];
  const upto = points.slice(0, low + 1);
  if (upto.length < 2) return { lowest };
  const x = upto.map((p) => Math.log(p.lr));
  const slope = (a: number, b: number) => (upto[b].smoothed - upto[a].smoothed) / (x[b] - x[a]); // ds/d(log η) between a and b
  const skip = Math.floor(points.length / 10);
  if (upto.length - skip < 2) return { lowest };
  let best = skip;
  let bestSlope = Infinity;
  for (let i = skip; i < upto.length; i++) {
    const g = slope(Math.max(0, i - 1), Math.min(upto.length - 1, i + 1));
    if (g < bestSlope) {
      bestSlope = g;
      best = i;
    }
  }
  return { steepest: upto[best], lowest };
}
