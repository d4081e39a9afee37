import type { Examples } from '../data/dataset.js';
import { identity } from '../data/dataset.js';
import type { Rng } from '../base/rng.js';
import { evaluate } from './metrics.js';
import type { EpochMetrics, SgdTrainer, TrainCallbacks } from './sgd.js';
import { lossBeyondRange, trackLoss, type Diagnosis, type LossTrack } from './diagnose.js';
import { allFinite } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';

/**
 * Where a run is: everything needed to continue it and end with exactly the
 * weights of an uninterrupted run (the weights themselves live in the network).
 */
export interface TrainState {
  /** The epoch in progress, or the next one when batch = 0 (1-based). */
  epoch: number;
  /** The next batch of `epoch`; 0 means the epoch has not started (its shuffle is still to come). */
  batch: number;
  /** The example order: this epoch's permutation once it has started. */
  order: Uint32Array;
  /** Σ_x C_x, examples classified right and examples seen so far in this epoch. */
  totalLoss: number;
  correct: number;
  seen: number;
  /** Seconds spent in this epoch before an interruption. */
  seconds: number;
  /** Steps of this epoch whose gradients were clipped (only with clipping; absent in older checkpoints: 0). */
  clipped?: number;
  history: EpochMetrics[];
}

export function initialState(trainCount: number): TrainState {
  return { epoch: 1, batch: 0, order: identity(trainCount), totalLoss: 0, correct: 0, seen: 0, seconds: 0, history: [] };
}

export type RunResult =
  | { status: 'done' }
  | { status: 'interrupted' }
  /** stopAfter ended the run after `epoch`. */
  | { status: 'stopped'; epoch: number }
  | { status: 'diverged'; epoch: number; batch: number; what: string; diagnosis: Diagnosis };

export interface TrainingLoopOptions extends TrainCallbacks {
  epochs: number;
  test?: Examples;
  validation?: Examples;
  /** Evaluate on test/validation after each epoch (default true). */
  evaluate?: boolean;
  /** Asked between batches (after yielding to the event loop, so signals arrive): stop now? */
  shouldStop?: () => boolean;
  /** Milliseconds between yields to the event loop (default 50). */
  yieldMs?: number;
  /** η of a step (a learning-rate schedule), set on the trainer before each batch (both 1-based); the trainer's rate stays when absent. */
  rate?: (epoch: number, batch: number) => number;
  /** Asked after each epoch (after its checkpoint): end the run here (early stopping)? */
  stopAfter?: (metrics: EpochMetrics) => boolean;
  /** Called at each epoch end with the state to persist. */
  onCheckpoint?: (state: TrainState) => void | Promise<void>;
}

/** Whether every weight and bias of the network (batch norm's [γ; β] among the biases) is finite. */
export function parametersFinite(net: Network): boolean {
  return net.weights.every((W) => allFinite(W.data)) && net.biases.every(allFinite);
}

/** Adds a step to the epoch's sums: Σ_x C_x, the examples right and seen, and whether clipping acted. */
function countStep(state: TrainState, trainer: SgdTrainer, total: number, size: number): void {
  state.totalLoss += total;
  state.correct += trainer.correct;
  state.seen += size;
  if (trainer.clipping && trainer.clipped) state.clipped = (state.clipped ?? 0) + 1;
}

/**
 * Runs mini-batch SGD from `state` to the last epoch. Each epoch shuffles the
 * order with rng (in place), then trains batch after batch; a NaN or infinite
 * loss, δ or weight stops the run as diverged, with a diagnosis (diagnose.ts). Every ~50 ms it yields to the
 * event loop (between batches, and at epoch ends, so that epochs of a single
 * batch yield too) so that signals can be handled: shouldStop() then ends the
 * run after the current batch, with `state` pointing at the next one.
 */
export async function runTraining(trainer: SgdTrainer, train: Examples, rng: Rng, state: TrainState, opts: TrainingLoopOptions): Promise<RunResult> {
  const m = trainer.opts.batchSize;
  const batches = Math.ceil(train.count / m);
  let lastYield = performance.now();
  const losses: LossTrack = {};
  for (; state.epoch <= opts.epochs; state.epoch++, state.batch = 0) {
    if (state.batch === 0) {
      rng.shuffle(state.order);
      Object.assign(state, { totalLoss: 0, correct: 0, seen: 0, seconds: 0 }, trainer.clipping ? { clipped: 0 } : {});
    }
    let t0 = performance.now();
    opts.onEpochStart?.(state.epoch, batches);
    for (let b = state.batch; b < batches; b++) {
      const start = b * m;
      const size = Math.min(m, train.count - start);
      if (opts.rate) trainer.lr = opts.rate(state.epoch, b + 1);
      const total = trainer.step(train, state.order, start, size);
      if (!Number.isFinite(total)) return { status: 'diverged', epoch: state.epoch, batch: b + 1, what: `the loss is ${total}`, diagnosis: trainer.diagnose(losses) };
      if (lossBeyondRange(trainer.net, total / size))
        return { status: 'diverged', epoch: state.epoch, batch: b + 1, what: `the loss is ${total / size}`, diagnosis: trainer.runaway(losses, total / size) };
      trackLoss(losses, total / size);
      countStep(state, trainer, total, size);
      state.batch = b + 1;
      opts.onBatch?.(state.epoch, b + 1, state.totalLoss / state.seen, state.correct / state.seen, state.seen);
      if (performance.now() - lastYield >= (opts.yieldMs ?? 50) && b + 1 < batches) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
        if (opts.shouldStop?.()) {
          state.seconds += (performance.now() - t0) / 1000;
          return { status: 'interrupted' };
        }
      }
    }
    if (!parametersFinite(trainer.net)) return { status: 'diverged', epoch: state.epoch, batch: batches, what: 'a weight is not finite', diagnosis: trainer.diagnose(losses) };
    const seconds = state.seconds + (performance.now() - t0) / 1000;
    const metrics: EpochMetrics = { epoch: state.epoch, loss: state.totalLoss / state.seen, trainAccuracy: state.correct / state.seen, lr: trainer.lr, seconds };
    if (trainer.clipping) metrics.clipped = state.clipped ?? 0;
    if (opts.evaluate !== false && opts.test) {
      const t = evaluate(trainer.net, opts.test, trainer.kernels);
      Object.assign(metrics, { testLoss: t.loss, testAccuracy: t.accuracy });
      if (opts.validation) {
        const v = evaluate(trainer.net, opts.validation, trainer.kernels);
        Object.assign(metrics, { validationLoss: v.loss, validationAccuracy: v.accuracy });
      }
      metrics.seconds = state.seconds + (performance.now() - t0) / 1000;
    }
    state.history.push(metrics);
    opts.onEpochEnd?.(metrics);
    if (opts.onCheckpoint) {
      // The state as the next epoch will find it.
      await opts.onCheckpoint({ ...state, epoch: state.epoch + 1, batch: 0, totalLoss: 0, correct: 0, seen: 0, seconds: 0 });
    }
    t0 = performance.now();
    if (opts.stopAfter?.(metrics) && state.epoch < opts.epochs) {
      const epoch = state.epoch;
      state.epoch++;
      state.batch = 0;
      return { status: 'stopped', epoch };
    }
    // An epoch of one batch never yields inside the loop above: yield here too, or a signal would never arrive.
    if (performance.now() - lastYield >= (opts.yieldMs ?? 50)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
    if (opts.shouldStop?.() && state.epoch < opts.epochs) {
      state.epoch++;
      state.batch = 0;
      return { status: 'interrupted' };
    }
  }
  return { status: 'done' };
}
