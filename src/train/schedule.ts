import { watched, type WatchedMetric } from './early-stop.js';
import type { EpochMetrics } from './sgd.js';

export const SCHEDULES = ['constant', 'step', 'exponential', 'cosine', 'onecycle', 'plateau'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/** What a schedule's t counts: epochs (η set as each epoch starts) or steps (η set before each batch). */
export const SCHEDULE_UNITS = ['epoch', 'step'] as const;
export type ScheduleUnit = (typeof SCHEDULE_UNITS)[number];

/**
 * A learning-rate schedule. Records written before per-step schedules have
 * only name, warmup, decay and stepEvery: they are per epoch, η_min = 0.
 */
export interface Schedule {
  name: ScheduleName;
  /** Epochs (or steps, with unit 'step') of linear warm-up before the schedule proper (0 for none). */
  warmup: number;
  /** γ: the factor of step (every `stepEvery` epochs), exponential (every epoch) and plateau (at each reduction). */
  decay: number;
  /** Epochs (or steps) between the drops of step. */
  stepEvery: number;
  /** 'step': warm-up, stepEvery and the schedule's length count batches; absent: epochs. onecycle is always 'step'. */
  unit?: ScheduleUnit;
  /** η_min of cosine (absent: 0). */
  etaMin?: number;
  /** onecycle: the fraction of the steps spent rising (PyTorch's pct_start), η/η₀ at the start (div_factor) and η₀/η_final (final_div_factor). */
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
  /** plateau: epochs without a better `metric` that are tolerated before η drops (PyTorch's patience). */
  patience?: number;
  metric?: WatchedMetric;
}

/** γ by schedule when --decay is not given: a tenth at each step and plateau (PyTorch's factor), 0.9 per epoch for exponential. */
export const DEFAULT_DECAY: Record<'step' | 'exponential' | 'plateau', number> = { step: 0.1, exponential: 0.9, plateau: 0.1 };

/** PyTorch's OneCycleLR defaults: pct_start 0.3, div_factor 25, final_div_factor 1e4. */
export const ONE_CYCLE_DEFAULTS = { pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 } as const;

/** PyTorch's ReduceLROnPlateau defaults: patience 10, threshold 1e-4 (relative), and no drop smaller than its eps 1e-8. */
export const PLATEAU_DEFAULTS = { patience: 10, threshold: 1e-4, eps: 1e-8 } as const;

/**
 * η_t, the learning rate of epoch (or step) t (1-based) of T, from the base rate η.
 * Warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training
 * ImageNet in 1 Hour", gradual warm-up) for the first W epochs or steps:
 *   η_t = η · t / (W + 1)                     for t ≤ W
 * then, with k = t − W counted from the end of warm-up and K = T − W left
 * for the schedule:
 * - constant, plateau: η_t = η   (plateau's drops come from the validation metric: plateauRate)
 * - step:         η_t = η · γ^⌊(k − 1) / s⌋          (s = stepEvery)
 * - exponential:  η_t = η · γ^(k − 1)
 * - cosine:       η_t = η_min + (η − η_min) · ½ (1 + cos(π (k − 1) / K))
 *   (Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm
 *   Restarts", eq. 5, a single period, no restart; PyTorch's CosineAnnealingLR
 *   with T_max = K)
 * - onecycle:     oneCycleRate (no warm-up: it rises on its own)
 * The first epoch or step after warm-up always runs at η.
 */
export function learningRate(s: Schedule, lr: number, t: number, T: number): number {
  if (s.name === 'onecycle') return oneCycleRate(s, lr, t, T);
  if (t <= s.warmup) return (lr * t) / (s.warmup + 1);
  const k = t - s.warmup,
    K = Math.max(1, T - s.warmup);
  switch (s.name) {
    case 'constant':
    case 'plateau':
      return lr;
    case 'step':
      return lr * s.decay ** Math.floor((k - 1) / s.stepEvery);
    case 'exponential':
      return lr * s.decay ** (k - 1);
    case 'cosine': {
      const etaMin = s.etaMin ?? 0;
      return etaMin + (lr - etaMin) * 0.5 * (1 + Math.cos((Math.PI * (k - 1)) / K));
    }
  }
}

/**
 * The 1cycle policy (Smith & Topin 2018, "Super-Convergence: Very Fast
 * Training of Neural Networks Using Large Learning Rates"), as PyTorch's
 * OneCycleLR with anneal_strategy 'cos' and three_phase False, for step t
 * (1-based) of T, with n = t − 1 the steps taken before it:
 *   η₀ = η / div_factor,  η_final = η₀ / final_div_factor,  n₁ = pct_start · T − 1
 *   n ≤ n₁:  η_t = cos_anneal(η₀ → η, n / n₁)
 *   n > n₁:  η_t = cos_anneal(η → η_final, (n − n₁) / (T − 1 − n₁))
 *   cos_anneal(a → b, p) = b + (a − b) · ½ (1 + cos(π p))
 * η (--lr) is the peak, PyTorch's max_lr. PyTorch also cycles the momentum
 * by default (cycle_momentum); here μ and β₁ stay as given.
 */
export function oneCycleRate(s: Pick<Schedule, 'pctStart' | 'divFactor' | 'finalDivFactor'>, lr: number, t: number, T: number): number {
  const { pctStart, divFactor, finalDivFactor } = { ...ONE_CYCLE_DEFAULTS, ...definedOnly(s) };
  const initial = lr / divFactor,
    final = initial / finalDivFactor;
  const n = t - 1,
    n1 = pctStart * T - 1,
    n2 = T - 1;
  const anneal = (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1);
  if (n <= n1) return anneal(initial, lr, n1 > 0 ? n / n1 : 1);
  return anneal(lr, final, n2 > n1 ? (n - n1) / (n2 - n1) : 1);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * η of the epoch after `history` under --schedule plateau: PyTorch's
 * ReduceLROnPlateau (mode 'min' for val-loss, 'max' for val-accuracy,
 * threshold_mode 'rel', cooldown 0, min_lr 0) replayed over the epochs so far.
 * After each epoch the watched value v is better when
 *   v < best · (1 − 10⁻⁴)  (loss)     v > best · (1 + 10⁻⁴)  (accuracy);
 * a better epoch becomes the best and clears the count of bad epochs, any
 * other adds one (a missing or non-finite v too); once the count exceeds
 * `patience`, η ← γη (skipped when that changes η by at most 10⁻⁸) and the
 * count restarts. Replaying the history makes a resumed run drop η at the
 * same epochs: nothing but the history needs keeping.
 */
export function plateauRate(s: Pick<Schedule, 'decay' | 'patience' | 'metric'>, lr: number, history: readonly EpochMetrics[]): number {
  const metric = s.metric ?? 'val-loss',
    patience = s.patience ?? PLATEAU_DEFAULTS.patience,
    { threshold, eps } = PLATEAU_DEFAULTS;
  let best = metric === 'val-loss' ? Infinity : -Infinity,
    bad = 0,
    rate = lr;
  for (const m of history) {
    const v = watched(metric, m) ?? NaN;
    if (metric === 'val-loss' ? v < best * (1 - threshold) : v > best * (1 + threshold)) {
      best = v;
      bad = 0;
    } else bad++;
    if (bad > patience) {
      const next = rate * s.decay;
      if (rate - next > eps) rate = next;
      bad = 0;
    }
  }
  return rate;
}

/** Whether η changes between the steps of an epoch (onecycle, or any schedule counted in steps). */
export function perStep(s: Schedule): boolean {
  return s.name === 'onecycle' || s.unit === 'step';
}

/**
 * η of each step, as (epoch, batch) ↦ η with both 1-based, for a run of
 * `epochs` of `batches` batches at base rate `lr`; undefined when the
 * schedule keeps η constant (no warm-up either). A per-epoch schedule
 * ignores the batch; a per-step one counts t = (epoch − 1)·batches + batch
 * of T = epochs·batches; plateau reads the epochs before this one from
 * `history` (the run's metrics so far).
 */
export function scheduleRate(s: Schedule, lr: number, epochs: number, batches: number, history: () => readonly EpochMetrics[] = () => []): ((epoch: number, batch: number) => number) | undefined {
  if (perStep(s)) return (epoch, batch) => learningRate(s, lr, (epoch - 1) * batches + batch, epochs * batches);
  if (s.name === 'plateau') {
    let cached: { epoch: number; rate: number } | undefined;
    return (epoch) => {
      if (cached?.epoch !== epoch) {
        const base = learningRate(s, lr, epoch, epochs);
        cached = {
          epoch,
          rate:
            (base / lr) *
            plateauRate(
              s,
              lr,
              history().filter((m) => m.epoch < epoch),
            ),
        };
      }
      return cached.rate;
    };
  }
  return s.name !== 'constant' || s.warmup > 0 ? (epoch: number) => learningRate(s, lr, epoch, epochs) : undefined;
}

/** "cosine schedule per step to η_min 0.0001 after 100 warm-up steps", "step schedule ×0.1 every 3 epochs", "onecycle schedule …". */
export function scheduleLabel(s: Schedule): string {
  const unit = s.name === 'onecycle' || s.unit === 'step' ? 'step' : 'epoch';
  const n = (k: number) => `${k} ${unit}${k === 1 ? '' : 's'}`;
  const o = { ...ONE_CYCLE_DEFAULTS, ...definedOnly(s) };
  const what =
    s.name === 'step'
      ? `step schedule ×${s.decay} every ${n(s.stepEvery)}`
      : s.name === 'exponential'
        ? `exponential schedule ×${s.decay} per ${unit}`
        : s.name === 'onecycle'
          ? `onecycle schedule per step (η/${o.divFactor} up to η over the first ${o.pctStart * 100}% of the steps, then down to η/${o.divFactor * o.finalDivFactor})`
          : s.name === 'plateau'
            ? `plateau schedule ×${s.decay} after more than ${s.patience ?? PLATEAU_DEFAULTS.patience} epoch${s.patience === 1 ? '' : 's'} without a better ${s.metric ?? 'val-loss'}`
            : `${s.name} schedule${unit === 'step' ? ' per step' : ''}${s.name === 'cosine' && s.etaMin ? ` to η_min ${s.etaMin}` : ''}`;
  return what + (s.warmup ? ` after ${s.warmup} warm-up ${unit}${s.warmup === 1 ? '' : 's'}` : '');
}
