import { Option, type Command } from 'commander';
import { UsageError } from './errors.js';
import { choiceOption, nonNegativeInt, nonNegativeNumber, oneOf, positiveInt, positiveNumber, unitInterval } from './options.js';
import { DEFAULT_DECAY, ONE_CYCLE_DEFAULTS, PLATEAU_DEFAULTS, SCHEDULE_UNITS, SCHEDULES, type Schedule, type ScheduleName, type ScheduleUnit } from '../train/schedule.js';
import type { WatchedMetric } from '../train/early-stop.js';

/** The flags of --schedule, as commander parses them. */
export interface ScheduleOptions {
  schedule: ScheduleName;
  warmup: number;
  decay?: number;
  stepEvery?: number;
  scheduleUnit?: ScheduleUnit;
  etaMin?: number;
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
  plateauPatience?: number;
  /** --monitor-metric, shared with --early-stop. */
  monitorMetric: WatchedMetric;
  epochs: number;
}

/** --schedule and the flags of each schedule, in train --help. */
export function addScheduleOptions(cmd: Command): void {
  cmd
    .addOption(
      choiceOption(
        '--schedule <name>',
        'learning rate: constant, step (×γ every --step-every epochs), exponential (×γ each epoch), cosine (η_min + (η − η_min)·½(1+cos πk/K)), onecycle (Smith & Topin 2018, per step, --lr the peak) or plateau (×γ when --monitor-metric stops improving)',
        SCHEDULES,
        oneOf(SCHEDULES),
        'constant',
      ),
    )
    .addOption(
      choiceOption(
        '--schedule-unit <unit>',
        'what --warmup, --step-every and the schedule count: epochs (η set at each epoch start) or steps (η set before each batch)',
        SCHEDULE_UNITS,
        oneOf(SCHEDULE_UNITS),
      ).default(undefined, 'epoch; step for onecycle'),
    )
    .option('--warmup <n>', 'epochs (or steps, with --schedule-unit step) of linear warm-up to η before the schedule', nonNegativeInt, 0)
    .addOption(
      new Option('--decay <gamma>', 'γ of --schedule step, exponential and plateau')
        .argParser(positiveNumber)
        .default(undefined, `${DEFAULT_DECAY.step} for step and plateau, ${DEFAULT_DECAY.exponential} for exponential`),
    )
    .addOption(new Option('--step-every <k>', 'epochs (or steps) between the drops of --schedule step').argParser(positiveInt).default(undefined, 'a third of the run'))
    .addOption(new Option('--eta-min <eta>', "η_min of --schedule cosine, the rate it ends near (PyTorch's eta_min)").argParser(nonNegativeNumber).default(undefined, '0'))
    .addOption(new Option('--pct-start <p>', 'onecycle: the fraction of the steps spent rising to η').argParser(unitInterval).default(undefined, String(ONE_CYCLE_DEFAULTS.pctStart)))
    .addOption(new Option('--div-factor <d>', 'onecycle: it starts at η/d').argParser(positiveNumber).default(undefined, String(ONE_CYCLE_DEFAULTS.divFactor)))
    .addOption(new Option('--final-div-factor <f>', 'onecycle: it ends at η/(d·f)').argParser(positiveNumber).default(undefined, String(ONE_CYCLE_DEFAULTS.finalDivFactor)))
    .addOption(
      new Option('--plateau-patience <n>', 'plateau: epochs without a better --monitor-metric it tolerates before η ← γη')
        .argParser(nonNegativeInt)
        .default(undefined, String(PLATEAU_DEFAULTS.patience)),
    );
}

const only = (flag: string, value: unknown, owner: string, name: ScheduleName): UsageError => new UsageError(`${flag} ${String(value)}: it belongs to ${owner}, not --schedule ${name}`);

/**
 * The schedule asked for, every choice resolved; a flag of another schedule,
 * or a warm-up as long as the run, is a usage error. `batches`: batches per
 * epoch, for what a per-step schedule counts.
 */
export function scheduleConfig(opts: ScheduleOptions, batches: number): Schedule {
  const name = opts.schedule;
  if (opts.decay !== undefined && name !== 'step' && name !== 'exponential' && name !== 'plateau')
    throw new UsageError(`--decay ${opts.decay}: --schedule ${name} has no decay factor; it belongs to --schedule step, exponential or plateau`);
  if (opts.stepEvery !== undefined && name !== 'step') throw only('--step-every', opts.stepEvery, '--schedule step', name);
  if (opts.etaMin !== undefined && name !== 'cosine') throw only('--eta-min', opts.etaMin, '--schedule cosine', name);
  for (const [flag, v] of [
    ['--pct-start', opts.pctStart],
    ['--div-factor', opts.divFactor],
    ['--final-div-factor', opts.finalDivFactor],
  ] as const)
    if (v !== undefined && name !== 'onecycle') throw only(flag, v, '--schedule onecycle', name);
  if (opts.plateauPatience !== undefined && name !== 'plateau') throw only('--plateau-patience', opts.plateauPatience, '--schedule plateau', name);
  if (opts.pctStart === 0) throw new UsageError('--pct-start 0: onecycle needs a rising phase; give a fraction in (0, 1) such as 0.3');
  if (name === 'onecycle' && opts.warmup)
    throw new UsageError(`--warmup ${opts.warmup}: --schedule onecycle rises from η/${opts.divFactor ?? ONE_CYCLE_DEFAULTS.divFactor} on its own; drop --warmup (or set --pct-start)`);
  if (name === 'onecycle' && opts.scheduleUnit === 'epoch') throw new UsageError('--schedule-unit epoch: --schedule onecycle sets η before each step');
  if (name === 'plateau' && opts.scheduleUnit === 'step') throw new UsageError('--schedule-unit step: --schedule plateau watches the validation metric, which is measured once per epoch');
  const unit: ScheduleUnit = name === 'onecycle' ? 'step' : (opts.scheduleUnit ?? 'epoch');
  const length = unit === 'step' ? opts.epochs * batches : opts.epochs;
  if (opts.warmup > 0 && opts.warmup >= length) {
    const what = unit === 'step' ? `${length} step${length === 1 ? '' : 's'} (${opts.epochs} × ${batches} batches)` : `${length} epoch${length === 1 ? '' : 's'}`;
    throw new UsageError(`--warmup ${opts.warmup}: the run has only ${what}; give a shorter warm-up${unit === 'epoch' ? ' than --epochs, or count it in steps with --schedule-unit step' : ''}`);
  }
  const decay = opts.decay ?? (name === 'exponential' ? DEFAULT_DECAY.exponential : DEFAULT_DECAY.step);
  return {
    name,
    warmup: opts.warmup,
    decay,
    stepEvery: opts.stepEvery ?? Math.max(1, Math.floor((length - opts.warmup) / 3)),
    ...(unit === 'step' && name !== 'onecycle' ? { unit } : {}),
    ...(opts.etaMin !== undefined ? { etaMin: opts.etaMin } : {}),
    ...(name === 'onecycle'
      ? {
          pctStart: opts.pctStart ?? ONE_CYCLE_DEFAULTS.pctStart,
          divFactor: opts.divFactor ?? ONE_CYCLE_DEFAULTS.divFactor,
          finalDivFactor: opts.finalDivFactor ?? ONE_CYCLE_DEFAULTS.finalDivFactor,
        }
      : {}),
    ...(name === 'plateau' ? { patience: opts.plateauPatience ?? PLATEAU_DEFAULTS.patience, metric: opts.monitorMetric } : {}),
  };
}
