export const SCHEDULES = ['constant', 'step', 'exponential', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/** A learning-rate schedule: the rate is set at the start of each epoch. */
export interface Schedule {
  name: ScheduleName;
  /** Epochs of linear warm-up before the schedule proper (0 for none). */
  warmup: number;
  /** γ: the factor of step (every `stepEvery` epochs) and exponential (every epoch). */
  decay: number;
  /** Epochs between the drops of step. */
  stepEvery: number;
}

/** γ by schedule when --decay is not given: a tenth at each step, 0.9 per epoch for exponential. */
export const DEFAULT_DECAY: Record<'step' | 'exponential', number> = { step: 0.1, exponential: 0.9 };

/**
 * η_e, the learning rate of epoch e (1-based) of E, from the base rate η.
 * Warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training
 * ImageNet in 1 Hour", gradual warm-up) for the first W epochs:
 *   η_e = η · e / (W + 1)                     for e ≤ W
 * then, with k = e − W the epoch counted from the end of warm-up and
 * K = E − W the epochs left for the schedule:
 * - constant:     η_e = η
 * - step:         η_e = η · γ^⌊(k − 1) / s⌋          (s = stepEvery)
 * - exponential:  η_e = η · γ^(k − 1)
 * - cosine:       η_e = η · ½ (1 + cos(π (k − 1) / K))
 *   (Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm
 *   Restarts", eq. 5 with η_min = 0 and a single period, no restart)
 * The first epoch after warm-up always runs at η.
 */
export function learningRate(s: Schedule, lr: number, epoch: number, epochs: number): number {
  if (epoch <= s.warmup) return (lr * epoch) / (s.warmup + 1);
  const k = epoch - s.warmup,
    K = Math.max(1, epochs - s.warmup);
  switch (s.name) {
    case 'constant':
      return lr;
    case 'step':
      return lr * s.decay ** Math.floor((k - 1) / s.stepEvery);
    case 'exponential':
      return lr * s.decay ** (k - 1);
    case 'cosine':
      return lr * 0.5 * (1 + Math.cos((Math.PI * (k - 1)) / K));
  }
}

/** η of each epoch for a run of `epochs` at base rate `lr`, or undefined when the schedule keeps η constant (no warm-up either). */
export function scheduleRate(s: Schedule, lr: number, epochs: number): ((epoch: number) => number) | undefined {
  return s.name !== 'constant' || s.warmup > 0 ? (epoch: number) => learningRate(s, lr, epoch, epochs) : undefined;
}
