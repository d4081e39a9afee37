import type { AugmentConfig } from '../data/augment.js';
import type { DType } from '../linalg/index.js';
import type { Architecture, InitName } from '../nn/network.js';
import type { WatchedMetric } from './early-stop.js';
import type { OptimizerConfig } from './optimizers.js';
import type { Schedule } from './schedule.js';

/** A run as `train` records it (in a checkpoint's state.json, and in a saved model's metadata as `options`). */
export interface RunRecord {
  data: string;
  limit?: number;
  testLimit?: number;
  validation?: number;
  arch: Architecture;
  init: InitName;
  lr: number;
  batchSize: number;
  epochs: number;
  weightDecay: number;
  /** Absent in checkpoints written before --optimizer: those are plain SGD. */
  optimizer?: OptimizerConfig;
  /** Absent in checkpoints written before --schedule: a constant rate. */
  schedule?: Schedule;
  /** p of inverted dropout on the hidden layers (absent: none). */
  dropout?: number;
  /** --augment: the distortions of each training batch (absent: none). */
  augment?: AugmentConfig;
  /** --early-stop: stop after `patience` epochs without a better `metric`, and keep the best epoch's weights. */
  earlyStop?: { patience: number; metric: WatchedMetric };
  seed: number;
  backend: string;
  /** Absent in checkpoints written before --dtype: those are float32. */
  dtype?: DType;
  save?: string;
}
