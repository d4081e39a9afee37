import type { Network } from '../nn/network.js';
import type { EpochMetrics } from './sgd.js';

/** The validation metrics early stopping can watch: lower loss or higher accuracy is better. */
export const WATCHED_METRICS = ['val-loss', 'val-accuracy'] as const;
export type WatchedMetric = (typeof WATCHED_METRICS)[number];

/** The watched value of an epoch's metrics (undefined without a validation set). */
export function watched(metric: WatchedMetric, m: EpochMetrics): number | undefined {
  return metric === 'val-loss' ? m.validationLoss : m.validationAccuracy;
}

/**
 * Early stopping (Prechelt 1998, "Early Stopping — But When?", the
 * patience criterion as Keras's EarlyStopping applies it): after each epoch,
 * an epoch is the best when its validation metric beats every earlier one
 * (strictly); the run stops once `patience` epochs in a row have not. The
 * weights of the best epoch are kept, to be restored at the end.
 */
export class EarlyStopping {
  best?: { epoch: number; value: number };
  /** The network's weights at the best epoch (a copy), when this run saw it. */
  bestWeights?: Network;

  constructor(
    readonly metric: WatchedMetric,
    readonly patience: number,
  ) {}

  /** Continues from the epochs already run (resume): their best, whose weights the caller restores. */
  replay(history: readonly EpochMetrics[]): void {
    for (const m of history) this.better(m);
  }

  private better(m: EpochMetrics): boolean {
    const v = watched(this.metric, m);
    if (v === undefined || !Number.isFinite(v)) return false;
    const improved = !this.best || (this.metric === 'val-loss' ? v < this.best.value : v > this.best.value);
    if (improved) this.best = { epoch: m.epoch, value: v };
    return improved;
  }

  /** Records an epoch that just ended with `net`'s weights; true when it is the new best. */
  observe(m: EpochMetrics, net: Network): boolean {
    if (!this.better(m)) return false;
    this.bestWeights = net.clone();
    return true;
  }

  /** Epochs since the best one. */
  since(epoch: number): number {
    return this.best ? epoch - this.best.epoch : epoch;
  }

  /** True when `patience` epochs have passed without a better one. */
  shouldStop(epoch: number): boolean {
    return this.since(epoch) >= this.patience;
  }
}

/** Copies the weights and biases of `from` into `to` (same shape), and the running statistics of its batch normalisations. */
export function copyWeights(from: Network, to: Network): void {
  from.weights.forEach((W, l) => to.weights[l].data.set(W.data));
  from.biases.forEach((b, l) => to.biases[l].set(b));
  to.running().forEach((r, k) => (r.mean.set(from.running()[k].mean), r.variance.set(from.running()[k].variance))); // batch normalisation's running statistics
}
