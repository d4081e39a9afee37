import { Matrix, type Kernels } from '../linalg/index.js';
import type { Network } from '../nn/network.js';
import type { GradientMethod } from '../nn/backprop.js';
import { Rng } from '../base/rng.js';
import { SgdTrainer } from '../train/sgd.js';
import { OPTIMIZER_DEFAULTS, RULES, type OptimizerConfig, type OptimizerName } from '../train/optimizers.js';
import { fillBatch, identity, type Examples } from '../data/dataset.js';
import { tfTrain } from './tfjs-oracle.js';

/** Largest weight difference allowed after K steps (float32 on both sides). */
export const PARITY_TOLERANCE = 1e-4;

export interface ParityReport {
  steps: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  weightDecay: number;
  /** max |W_ours − W_tfjs| over every weight and bias after the last step. */
  maxWeightDiff: number;
  /** The same, per tensor (W1, b1, ...). */
  perTensor: { name: string; maxDiff: number }[];
  /** ‖W_ours − W_tfjs‖ / ‖W_tfjs − W_start‖ over every parameter: how much of tfjs's update ours misses. */
  updateRel: number;
  /** The bound the check applies (see parityPass). */
  bound: string;
  pass: boolean;
}

/**
 * Adam, AdamW, AMSGrad, RMSprop and Adagrad (the rules with an ε) divide each step by a root: where a gradient is at float32's
 * rounding level, its sign, and so a step of ±η, can differ between two
 * correct implementations, and one weight can end up to 2Kη apart after K
 * steps. Their check is on the whole update instead: ours must follow tfjs's
 * within ADAPTIVE_UPDATE_TOLERANCE of its norm, and no weight may be further
 * than 2Kη. The other rules are linear in the gradient: max |ΔW| ≤ PARITY_TOLERANCE.
 */
export const ADAPTIVE_UPDATE_TOLERANCE = 1e-3;

/** Whether a parity run passes its optimizer's bound, and the bound in words. */
export function parityPass(optimizer: OptimizerName, steps: number, lr: number, maxWeightDiff: number, updateRel: number): { pass: boolean; bound: string } {
  if (RULES[optimizer].hyper.includes('eps')) {
    const most = 2 * steps * lr;
    return { pass: updateRel <= ADAPTIVE_UPDATE_TOLERANCE && maxWeightDiff <= most, bound: `‖ΔW‖/‖update‖ ≤ ${ADAPTIVE_UPDATE_TOLERANCE}, max |ΔW| ≤ 2Kη = ${most}` };
  }
  return { pass: maxWeightDiff <= PARITY_TOLERANCE, bound: `max |ΔW| ≤ ${PARITY_TOLERANCE}` };
}

/**
 * Runs K mini-batch steps with our trainer and K steps of the same optimizer
 * in tfjs (tf.train.sgd, tf.train.momentum, tf.train.adam; adamw by its
 * definition, see tfTrain) from the same float32 weights on the same
 * batches, and compares the weights.
 */
export async function trainParity(
  network: Network,
  train: Examples,
  opts: { steps: number; batchSize: number; lr: number; seed: number; optimizer?: OptimizerConfig; weightDecay?: number },
  kernels: Kernels,
  gradient?: GradientMethod,
): Promise<ParityReport> {
  const { steps, batchSize: m, lr } = opts;
  const optimizer = opts.optimizer ?? { name: 'sgd', ...OPTIMIZER_DEFAULTS };
  const weightDecay = opts.weightDecay ?? 0;
  const start = network.clone('float32');
  // The batches: consecutive slices of seeded permutations of the training set.
  const rng = new Rng(opts.seed);
  const order = new Uint32Array(steps * m);
  for (let filled = 0; filled < order.length; filled += train.count) {
    const perm = rng.shuffle(identity(train.count));
    order.set(perm.subarray(0, Math.min(train.count, order.length - filled)), filled);
  }
  const ours = start.clone();
  const trainer = new SgdTrainer(ours, { lr, batchSize: m, weightDecay, optimizer }, kernels, gradient);
  const batches: { x: Matrix; y: Matrix }[] = [];
  const classes = start.sizes[start.depth];
  for (let k = 0; k < steps; k++) {
    trainer.step(train, order, k * m, m);
    const x = Matrix.zeros(m, train.dim);
    const y = Matrix.zeros(classes, m);
    fillBatch(train, order, k * m, x, y);
    batches.push({ x, y });
  }
  const theirs = await tfTrain(start, batches, lr, optimizer, weightDecay);
  const perTensor: { name: string; maxDiff: number }[] = [];
  const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let d = 0;
    for (let i = 0; i < a.length; i++) {
      const e = Math.abs(a[i] - b[i]);
      if (Number.isNaN(e)) return NaN; // a NaN anywhere is a failed check, whatever follows it
      if (e > d) d = e;
    }
    return d;
  };
  for (let l = 0; l < ours.depth; l++) {
    perTensor.push({ name: `W${l + 1}`, maxDiff: diff(ours.weights[l].data, theirs.W[l]) });
    perTensor.push({ name: `b${l + 1}`, maxDiff: diff(ours.biases[l], theirs.b[l]) });
  }
  for (const n of ours.norm) if (n) perTensor.push({ name: `bn${n.layer} [γ; β]`, maxDiff: diff(ours.biases[n.index], theirs.b[n.index]) });
  const maxWeightDiff = perTensor.reduce((d, t) => (t.maxDiff > d || Number.isNaN(t.maxDiff) ? t.maxDiff : d), 0);
  let off = 0;
  let moved = 0;
  const sums = (a: ArrayLike<number>, b: ArrayLike<number>, s0: ArrayLike<number>) => {
    for (let i = 0; i < a.length; i++) {
      off += (a[i] - b[i]) ** 2;
      moved += (b[i] - s0[i]) ** 2;
    }
  };
  for (let l = 0; l < ours.weights.length; l++) {
    sums(ours.weights[l].data, theirs.W[l], start.weights[l].data);
    sums(ours.biases[l], theirs.b[l], start.biases[l]); // and each batch normalisation's [γ; β]
  }
  const updateRel = moved > 0 ? Math.sqrt(off / moved) : off > 0 ? Infinity : 0;
  const { pass, bound } = parityPass(optimizer.name, steps, lr, maxWeightDiff, updateRel);
  return { steps, batchSize: m, lr, optimizer: optimizer.name, weightDecay, maxWeightDiff, perTensor, updateRel, bound, pass: pass && !Number.isNaN(maxWeightDiff) && !Number.isNaN(updateRel) };
}
