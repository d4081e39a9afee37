import { isDeepStrictEqual } from 'node:util';
import { augmentLabel, augmentProblem, type AugmentConfig } from '../data/augment.js';
import { BACKENDS, type DType } from '../linalg/index.js';
import { isActivationName } from '../nn/activations.js';
import { COSTS, smoothingProblem, type CostName } from '../nn/costs.js';
import { QUOTE_LIMIT, safeText } from '../base/terminal-safe.js';
import { batchNormLayers, formatLayers, hasConv, LayerSpecError, parseLayerList, type LayerSpec, type LayerToken } from '../nn/layers.js';
import { convArchitecture, INITS, layersFlag, pairingProblem, type Architecture, type InitName } from '../nn/network.js';
import { WATCHED_METRICS, type WatchedMetric } from './early-stop.js';
import { HYPER_PARAMETERS, OPTIMIZERS, RULES, type HyperParameter, type OptimizerConfig, type OptimizerName } from './optimizers.js';
import { SCHEDULE_UNITS, SCHEDULES, type Schedule } from './schedule.js';
import type { InitFrom } from './init-from.js';

/**
 * The settings of a training run, declared once. From this table come:
 * - `RunRecord`, the run as `train` records it (a checkpoint's state.json, a saved model's `options`),
 * - its validation wherever a record is read back (`runRecordProblem`: checkpoints, `--config MODEL`),
 * - the flag ↔ key mapping (`recordFlags`: the `config` of `train --json`, read back by `--config`;
 *   `RESUME_TAKES`: the flags --resume refuses because the checkpoint holds them),
 * - for a setting with `cli`, its flag, help and default in `train --help` and its value in a new run,
 * - `label`: how the heading and the report show it.
 * A new hyper-parameter is one entry here plus the code that uses it (docs/architecture.md, "How to
 * add a training setting"). The order of the entries is the order of a record's keys.
 */

/** The checks of plain numbers, named as the flag parsers of src/cli/options.ts that read them from a command line. */
export const NUMBER_KINDS = {
  positiveInt: (v: unknown) => (isInt(v, 1) ? undefined : 'must be a positive integer'),
  nonNegativeInt: (v: unknown) => (isInt(v, 0) && v <= 0xffffffff ? undefined : 'must be an integer ≥ 0'),
  positiveNumber: (v: unknown) => (isNum(v, 0) && v > 0 ? undefined : 'must be a positive number'),
  nonNegativeNumber: (v: unknown) => (isNum(v, 0) ? undefined : 'must be a number ≥ 0'),
  unitInterval: (v: unknown) => (isNum(v, 0) && v < 1 ? undefined : 'must be a number in [0, 1)'),
} as const;
export type NumberKind = keyof typeof NUMBER_KINDS;

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isNum = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min;
/** JSON, but a number JSON cannot write as itself: 1e999 in a file reads as Infinity, which JSON.stringify writes as null. */
const asJson = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : (JSON.stringify(v) ?? String(v)));
/** A value read from a file as an error shows it: JSON (control characters escaped), cut short. */
const quote = (v: unknown): string => {
  const q = asJson(v);
  return q.length > 40 ? `${q.slice(0, 40)}…` : q;
};
/** A value read from a file whole, as JSON (control characters escaped), cut at the CLI's quoting limit. */
const json = (v: unknown): string => safeText(asJson(v), QUOTE_LIMIT);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A config: train's flags by their long names without the dashes, values as on the command line. */
export type TrainConfig = Record<string, string | number | boolean>;

/** A setting's own flag, declared with it: `train` adds it to its options, and a new run takes its value (or `default`). */
export interface SettingFlag<T> {
  /** The argument's name in --help: `--batch-size <m>`. */
  arg: string;
  help: string;
  kind: NumberKind;
  default?: T;
  /** What --help says the default is, when it depends on other settings. */
  defaultHelp?: string;
}

export interface Setting<T, Optional extends boolean = boolean> {
  optional: Optional;
  /** The flags that set it, without dashes; the first is its own (flagName(key) for a one-flag setting). */
  flags: readonly string[];
  /** What is wrong with a value read back from a file, as the rest of the sentence after `options.KEY`; undefined when it is good. */
  check: (v: unknown) => string | undefined;
  /** The flags that give the value again (default: the one flag with the value). */
  toFlags?: (v: T) => TrainConfig;
  /** Declared here, the flag needs no code in cli/train.ts. */
  cli?: SettingFlag<T>;
  /** How the heading (and the report's optimizer row) shows it; '' to leave it out. */
  label?: (v: T) => string;
  /** --resume takes the value from the command line when given (the others come from the checkpoint). */
  resumable?: boolean;
}

function required<T>(s: Omit<Setting<T, false>, 'optional'>): Setting<T, false> {
  return { optional: false, ...s };
}
function optional<T>(s: Omit<Setting<T, true>, 'optional'>): Setting<T, true> {
  return { optional: true, ...s };
}
/** A number with a flag of its own, checked as its kind. */
function number<O extends boolean>(optionalValue: O, flag: string, cli: SettingFlag<number>, label?: (v: number) => string): Setting<number, O> {
  const check = NUMBER_KINDS[cli.kind];
  return { optional: optionalValue, flags: [flag], cli, label, check: (v) => (check(v) ? ` ${quote(v)} ${check(v)}` : undefined) };
}
/** A number whose flag a shared option builder of src/cli/options.ts declares. */
function sharedNumber<O extends boolean>(optionalValue: O, flag: string, kind: NumberKind): Setting<number, O> {
  return { optional: optionalValue, flags: [flag], check: (v) => (NUMBER_KINDS[kind](v) ? ` ${quote(v)} ${NUMBER_KINDS[kind](v)}` : undefined) };
}
const oneOf = (values: readonly string[]) => (v: unknown) => (typeof v === 'string' && values.includes(v) ? undefined : ` ${quote(v)} is not one of ${values.join(', ')}`);

function archProblem(a: unknown): string | undefined {
  if (!isObject(a)) return ' is missing';
  if (!Array.isArray(a.sizes) || a.sizes.length < 2 || !a.sizes.every((s) => isInt(s, 1))) return '.sizes must be a list of positive integers';
  if (typeof a.activation !== 'string' || typeof a.outputActivation !== 'string' || !isActivationName(a.activation) || !isActivationName(a.outputActivation)) return ' has an unknown activation';
  if (typeof a.cost !== 'string' || !(COSTS as readonly string[]).includes(a.cost)) return `.cost ${quote(a.cost)} is not a known cost`;
  const refused = pairingProblem({ activation: a.sizes.length > 2 ? a.activation : 'relu', outputActivation: a.outputActivation, cost: a.cost as CostName });
  return refused ? ` is a pairing train refuses (${refused})` : layersProblem(a as Record<string, unknown> & Architecture);
}

/** The keys of an Architecture (src/nn/network.ts), in its order: train records no other. */
const ARCH_KEYS = ['sizes', 'activation', 'outputActivation', 'cost', 'input', 'layers', 'batchNorm'] as const;

/**
 * What is wrong with a recorded layer description (a conv net's input and
 * layers, the batch-normalised layers), checked as the command line's
 * --layers is: rendered as the tokens that rebuild it (layersFlag), parsed
 * back by the CLI's own parsers (parseLayerList, batchNormLayers,
 * convArchitecture, which fits every kernel and pooling to its input) and
 * compared with itself. A description that does not read back to itself is
 * not one train wrote: resumed, it would train one network and record another.
 */
function layersProblem(a: Record<string, unknown> & Architecture): string | undefined {
  const stray = Object.keys(a).find((k) => !(ARCH_KEYS as readonly string[]).includes(k));
  if (stray !== undefined) return ` holds ${quote(stray)}, not part of a layer description`;
  const hidden = a.sizes.length - 2;
  const bn: unknown = a.batchNorm;
  if (bn !== undefined && (!Array.isArray(bn) || bn.length === 0 || !bn.every((l) => isInt(l, 1) && l <= hidden)))
    return `.batchNorm ${quote(bn)} must list hidden layers (${hidden ? `1 to ${hidden}` : 'the network has none'}): batch normalisation goes on hidden layers (Z → BN → f), the output's Z is the cost's`;
  if ((a.input === undefined) !== (a.layers === undefined)) return ' needs both input and layers (a conv net) or neither (a dense net)';
  if (a.input !== undefined && (!Array.isArray(a.input) || a.input.length !== 3 || !a.input.every((s) => isInt(s, 1)))) return `.input ${quote(a.input)} must be [channels, rows, columns]`;
  if (a.layers !== undefined && (!Array.isArray(a.layers) || a.layers.length < 2 || !a.layers.every(isObject)))
    return `.layers ${quote(a.layers)} must be a list of layer specs, the hidden layers and the output`;
  const tokens = layersFlag(a);
  const flag = `--layers ${safeText(tokens, QUOTE_LIMIT)}`;
  const images = a.input ? ` on ${a.input.join('×')} images` : '';
  let rebuilt: Architecture;
  try {
    rebuilt = rebuiltArchitecture(a, parseLayerList(tokens));
  } catch (e) {
    // Only a conv net's layers can fail to read back: a dense net's tokens are its sizes, checked above, and its bn layers.
    if (e instanceof LayerSpecError) return `.layers (as ${flag}): ${e.message} (${images.trim()})`;
    throw e;
  }
  const i = (a.layers ?? []).findIndex((spec, j) => !isDeepStrictEqual(spec, rebuilt.layers?.[j]));
  if (i >= 0) return `.layers[${i}] ${json(a.layers![i])} is not a layer train writes: as ${flag}${images} it reads ${json(rebuilt.layers![i])}`;
  const k = ARCH_KEYS.find((key) => !isDeepStrictEqual(a[key], rebuilt[key]));
  return k && `.${k} ${quote(a[k])} is not what its layers give (${quote(rebuilt[k])}, as ${flag}${images})`;
}

/** The architecture the CLI builds from a recorded one's --layers tokens, as `train --config` would (src/cli/options.ts architecture). */
function rebuiltArchitecture(a: Architecture, tokens: LayerToken[]): Architecture {
  const conv = a.layers !== undefined;
  if (conv && !hasConv(tokens)) throw new LayerSpecError('no convolution: train records the layers of conv nets only, a dense net by its sizes');
  const { tokens: rest, layers: batchNorm } = batchNormLayers(tokens, conv ? 1 : 0);
  const { activation, outputActivation, cost } = a;
  const arch = conv && a.input ? convArchitecture(rest, a.input, a.sizes[a.sizes.length - 1], { activation, outputActivation, cost }) : { ...a, sizes: rest as number[] };
  return batchNorm.length ? { ...arch, batchNorm } : { ...arch, batchNorm: undefined };
}

/**
 * The first field in which a recorded architecture (a checkpoint's or a
 * saved model's options.arch) differs from the model's own, as the rest of
 * the message's `options.arch.KEY …`; undefined when they agree.
 */
export function archMismatch(recorded: Architecture, model: Architecture): string | undefined {
  const show = (v: unknown) => (v === undefined ? 'none' : Array.isArray(v) ? (v.every(isObject) ? formatLayers(v as unknown as LayerSpec[]) : v.join(',')) : String(v));
  const k = ARCH_KEYS.find((key) => !isDeepStrictEqual(recorded[key], model[key]));
  return k && `options.arch.${k} ${show(recorded[k])} ${k === 'sizes' || k === 'layers' ? 'do' : 'does'} not match the model's ${show(model[k])}`;
}

/**
 * archMismatch, then the dtype: a record (checkpoint or model) names the
 * network beside it, and an edited `options.dtype` would resume a float32
 * model as float32 while recording float64 (absent: float32, as checkpoints
 * written before --dtype are).
 */
export function recordMismatch(record: { arch: Architecture; dtype?: DType }, model: { arch: Architecture; dtype: DType }): string | undefined {
  const dtype = record.dtype ?? 'float32';
  return archMismatch(record.arch, model.arch) ?? (dtype === model.dtype ? undefined : `options.dtype ${dtype} does not match the model's ${model.dtype} tensors`);
}

function optimizerProblem(o: unknown): string | undefined {
  if (!isObject(o) || typeof o.name !== 'string' || !(OPTIMIZERS as readonly string[]).includes(o.name)) return `.name is not one of ${OPTIMIZERS.join(', ')}`;
  const uses: readonly string[] = RULES[o.name as OptimizerName].hyper;
  for (const k of Object.keys(HYPER_PARAMETERS) as HyperParameter[]) {
    if (o[k] === undefined && !uses.includes(k) && (k === 'alpha' || k === 'accumulator')) continue; // absent in records written before rmsprop and adagrad
    const problem = (k === 'eps' ? NUMBER_KINDS.positiveNumber : k === 'accumulator' ? NUMBER_KINDS.nonNegativeNumber : NUMBER_KINDS.unitInterval)(o[k]);
    if (problem) return `.${k} ${quote(o[k])} ${problem}`;
  }
  return undefined;
}

function scheduleProblem(s: unknown): string | undefined {
  if (!isObject(s) || typeof s.name !== 'string' || !(SCHEDULES as readonly string[]).includes(s.name)) return `.name is not one of ${SCHEDULES.join(', ')}`;
  if (!isInt(s.warmup, 0) || !isInt(s.stepEvery, 1) || !isNum(s.decay, 0) || s.decay === 0) return ' needs warmup ≥ 0, stepEvery ≥ 1 and decay > 0';
  // The fields of per-step schedules, plateau and η_min: absent in records written before them.
  if (s.unit !== undefined && oneOf(SCHEDULE_UNITS)(s.unit)) return `.unit${oneOf(SCHEDULE_UNITS)(s.unit)}`;
  for (const [k, kind] of [
    ['etaMin', 'nonNegativeNumber'],
    ['pctStart', 'unitInterval'],
    ['divFactor', 'positiveNumber'],
    ['finalDivFactor', 'positiveNumber'],
    ['patience', 'nonNegativeInt'],
  ] as const)
    if (s[k] !== undefined && NUMBER_KINDS[kind](s[k])) return `.${k} ${quote(s[k])} ${NUMBER_KINDS[kind](s[k])}`;
  if (s.pctStart === 0) return '.pctStart must be in (0, 1)';
  if (s.metric !== undefined && oneOf(WATCHED_METRICS)(s.metric)) return `.metric${oneOf(WATCHED_METRICS)(s.metric)}`;
  return undefined;
}

/** The flags of a schedule: those of its kind only, so that `--config` reads back what `train` accepts. */
function scheduleFlags(s: Schedule): TrainConfig {
  const f: TrainConfig = { schedule: s.name };
  if (s.name !== 'onecycle') f.warmup = s.warmup;
  if (s.name === 'step' || s.name === 'exponential' || s.name === 'plateau') f.decay = s.decay;
  if (s.name === 'step') f['step-every'] = s.stepEvery;
  if (s.unit === 'step' && s.name !== 'onecycle') f['schedule-unit'] = s.unit;
  if (s.etaMin !== undefined) f['eta-min'] = s.etaMin;
  if (s.pctStart !== undefined) f['pct-start'] = s.pctStart;
  if (s.divFactor !== undefined) f['div-factor'] = s.divFactor;
  if (s.finalDivFactor !== undefined) f['final-div-factor'] = s.finalDivFactor;
  if (s.patience !== undefined) f['plateau-patience'] = s.patience;
  if (s.metric !== undefined) f['monitor-metric'] = s.metric;
  return f;
}

export const RUN_SETTINGS = {
  data: required<string>({ flags: ['data'], check: (v) => (typeof v === 'string' && v !== '' ? undefined : ' must be a dataset name or path') }),
  limit: sharedNumber(true, 'limit', 'positiveInt'),
  testLimit: sharedNumber(true, 'test-limit', 'positiveInt'),
  /** Examples held out for validation (a count, or a fraction < 1). */
  validation: number(true, 'validation', {
    arg: '--validation <n>',
    help: 'hold out n training examples (or a fraction < 1) and report accuracy on them each epoch',
    kind: 'positiveNumber',
  }),
  /** --val-data: validation examples from a dataset of their own (absent: none, or the --validation split). */
  valData: optional<string>({ flags: ['val-data'], check: (v) => (typeof v === 'string' && v !== '' ? undefined : ' must be a dataset name or path') }),
  arch: required<Architecture>({
    flags: ['layers', 'hidden', 'activation', 'output-activation', 'cost'],
    check: archProblem,
    toFlags: (a) => ({
      layers: layersFlag(a), // a conv net's --layers: between the image and the output; bn tokens included
      activation: a.activation,
      'output-activation': a.outputActivation,
      cost: a.cost,
    }),
  }),
  init: required<InitName>({ flags: ['init'], check: oneOf(INITS) }),
  /** --init-from: the saved model the run starts from (fine-tuning), with its SHA-256; absent: weights drawn by --init. */
  initFrom: optional<InitFrom>({
    flags: ['init-from', 'reinit-output'],
    check: (v) =>
      isObject(v) &&
      typeof v.file === 'string' &&
      v.file !== '' &&
      typeof v.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(v.sha256) &&
      (v.reinitOutput === undefined || typeof v.reinitOutput === 'boolean')
        ? undefined
        : ' needs a file, its sha256 (64 hex digits) and reinitOutput true or false',
    toFlags: (i) => ({ 'init-from': i.file, ...(i.reinitOutput ? { 'reinit-output': true } : {}) }),
  }),
  lr: number(
    false,
    'lr',
    { arg: '--lr <eta>', help: 'learning rate η', kind: 'positiveNumber', defaultHelp: '0.2; 0.02 for the quadratic cost after a linear, relu or leaky-relu output' },
    (v) => `η=${v}`,
  ),
  batchSize: number(false, 'batch-size', { arg: '--batch-size <m>', help: 'mini-batch size m', kind: 'positiveInt', default: 32 }, (v) => `m=${v}`),
  epochs: {
    ...number(false, 'epochs', { arg: '--epochs <n>', help: 'number of epochs (0: write the initial weights, e.g. with --save, and measure them)', kind: 'nonNegativeInt', default: 10 }),
    resumable: true,
  },
  weightDecay: number(
    false,
    'weight-decay',
    { arg: '--weight-decay <lambda>', help: 'L2 penalty λ: each step W ← W − η(∂C/∂W + λW); decoupled from the moments for adamw', kind: 'nonNegativeNumber', default: 0 },
    (v) => (v ? `λ=${v}` : ''),
  ),
  /** Absent in checkpoints written before --optimizer: those are plain SGD. */
  optimizer: optional<OptimizerConfig>({
    flags: ['optimizer', 'momentum', 'beta1', 'beta2', 'eps', 'alpha', 'accumulator'],
    check: optimizerProblem,
    toFlags: (o) => Object.fromEntries([['optimizer', o.name], ...RULES[o.name].hyper.map((k) => [k, o[k]])]) as TrainConfig,
  }),
  /** Absent in checkpoints written before --schedule: a constant rate. */
  schedule: optional<Schedule>({
    flags: ['schedule', 'warmup', 'decay', 'step-every', 'schedule-unit', 'eta-min', 'pct-start', 'div-factor', 'final-div-factor', 'plateau-patience'],
    check: scheduleProblem,
    toFlags: scheduleFlags,
  }),
  /** p of inverted dropout on the hidden layers (absent: none). */
  dropout: number(
    true,
    'dropout',
    {
      arg: '--dropout <p>',
      help: 'inverted dropout: drop each hidden unit with probability p while training (masks from the seeded RNG); evaluation uses every unit',
      kind: 'unitInterval',
    },
    (v) => (v ? `dropout ${v}` : ''),
  ),
  /** ε of label smoothing: targets (1 − ε)y + ε/K while training (absent: none). */
  labelSmoothing: number(
    true,
    'label-smoothing',
    {
      arg: '--label-smoothing <eps>',
      help: 'train on the targets (1 − ε)y + ε/K instead of one-hot y (Szegedy et al. 2016; log-likelihood and cross-entropy costs); evaluation keeps y',
      kind: 'unitInterval',
    },
    (v) => (v ? `smoothing ${v}` : ''),
  ),
  /** Clip the gradients to global L2 norm c before each update (absent: no clipping). */
  clipNorm: number(
    true,
    'clip-norm',
    { arg: '--clip-norm <c>', help: 'rescale the gradients so that their global L2 norm is at most c (as torch.nn.utils.clip_grad_norm_)', kind: 'positiveNumber' },
    (v) => `clip-norm ${v}`,
  ),
  /** Clip each gradient entry to [−v, v] before each update (absent: no clipping). */
  clipValue: number(
    true,
    'clip-value',
    { arg: '--clip-value <v>', help: 'clip each gradient entry to [−v, v] (as torch.nn.utils.clip_grad_value_; before --clip-norm when both are given)', kind: 'positiveNumber' },
    (v) => `clip-value ${v}`,
  ),
  /** --augment: the distortions of each training batch (absent: none). */
  augment: optional<AugmentConfig>({ flags: ['augment'], check: (v) => (augmentProblem(v) ? `: ${augmentProblem(v)}` : undefined), toFlags: (a) => ({ augment: augmentLabel(a) }) }),
  /** --early-stop: stop after `patience` epochs without a better `metric`, and keep the best epoch's weights. */
  earlyStop: optional<{ patience: number; metric: WatchedMetric }>({
    flags: ['early-stop', 'monitor-metric'],
    check: (v) => (isObject(v) && isInt(v.patience, 1) && oneOf(WATCHED_METRICS)(v.metric) === undefined ? undefined : ' needs a patience ≥ 1 and metric val-loss or val-accuracy'),
    toFlags: (e) => ({ 'early-stop': e.patience, 'monitor-metric': e.metric }),
  }),
  /** --save-every n: also write the model every n epochs, beside --save (absent: only at the end). */
  saveEvery: number(true, 'save-every', {
    arg: '--save-every <n>',
    help: "also write the model every n epochs, to --save's name with .eN before its extension (model.safetensors → model.e5.safetensors)",
    kind: 'positiveInt',
  }),
  /** --save-best: write each new best epoch (on this validation metric) to --save as the run goes; absent: only at the end. */
  saveBest: optional<WatchedMetric>({ flags: ['save-best', 'monitor-metric'], check: oneOf(WATCHED_METRICS), toFlags: (m) => ({ 'save-best': true, 'monitor-metric': m }) }),
  seed: number(false, 'seed', { arg: '--seed <n>', help: 'seed for initialisation and shuffling', kind: 'nonNegativeInt', default: 1 }),
  backend: required<string>({ flags: ['backend'], check: oneOf(BACKENDS), resumable: true }),
  /** Absent in checkpoints written before --dtype: those are float32. */
  dtype: optional<DType>({ flags: ['dtype'], check: (v) => (v === 'float32' || v === 'float64' ? undefined : ` ${quote(v)} is not float32 or float64`) }),
};

type Settings = typeof RUN_SETTINGS;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
type RequiredKeys = { [K in keyof Settings]: Settings[K]['optional'] extends false ? K : never }[keyof Settings];
type OptionalKeys = Exclude<keyof Settings, RequiredKeys>;

/** A run as `train` records it (in a checkpoint's state.json, and in a saved model's metadata as `options`): the settings, and where --save writes. */
export type RunRecord = { [K in RequiredKeys]: ValueOf<Settings[K]> } & { [K in OptionalKeys]?: ValueOf<Settings[K]> } & { save?: string };

export type SettingKey = keyof Settings;
const entries = Object.entries(RUN_SETTINGS) as [SettingKey, Setting<unknown>][];

/**
 * Flags that give one setting in two forms (the layers from the input, or the hidden layers only): a config
 * may hold one of a group, and a command line's flag of the group replaces the config's (`train --config`).
 */
export const ALTERNATIVE_FLAGS: readonly (readonly string[])[] = [['layers', 'hidden']];

/** The flags (option keys, camel case) that --resume refuses: the checkpoint holds them. */
export const RESUME_TAKES: readonly string[] = [
  ...new Set(entries.filter(([, s]) => !s.resumable).flatMap(([, s]) => s.flags.map((f) => f.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())))),
]; // --monitor-metric sets both --early-stop's metric and plateau's

/** The first problem of a record read back from a file (a hand-edited batch size of 0 must be an error, not a loop that never ends), or undefined. */
export function runRecordProblem(o: unknown): string | undefined {
  if (!isObject(o)) return 'options is not an object';
  for (const [key, s] of entries) {
    const v = o[key];
    if (v === undefined) {
      if (!s.optional) return `options.${key}${s.check(v) ?? ' is missing'}`;
      continue;
    }
    const problem = s.check(v);
    if (problem) return `options.${key}${problem}`;
  }
  if (o.save !== undefined && typeof o.save !== 'string') return 'options.save must be a file name';
  const decay = weightDecayProblem(o as RunRecord);
  if (decay) return `options.weightDecay ${decay}`;
  const smoothing = (o as RunRecord).labelSmoothing ? smoothingProblem((o as RunRecord).arch.cost) : undefined;
  if (smoothing) return `options.labelSmoothing: ${smoothing}`;
  return undefined;
}

/**
 * The flags that train the recorded run again: every choice resolved (the
 * layer sizes, the init, η, the optimizer's and the schedule's parameters),
 * nothing about where it wrote (--save, --checkpoint, --log, --report).
 * `train --json` prints it as `config`; `train --config` reads it back.
 */
export function recordFlags(r: RunRecord): TrainConfig {
  const f: TrainConfig = {};
  for (const [key, s] of entries) {
    const v = key === 'dtype' ? (r.dtype ?? 'float32') : r[key];
    if (v === undefined || (key === 'dropout' && !v)) continue;
    Object.assign(f, s.toFlags ? s.toFlags(v) : { [s.flags[0]]: v as string | number });
  }
  return f;
}

/** The labels of the settings that have one, in order ("η=0.2 m=32 λ=0.001"). */
export function settingLabels(r: RunRecord, except: readonly SettingKey[] = []): string {
  return entries
    .filter(([key, s]) => s.label && !except.includes(key) && r[key] !== undefined)
    .map(([key, s]) => s.label!(r[key]))
    .filter(Boolean)
    .join(' ');
}

/**
 * The record of a new run, its keys in the table's order: `resolved` holds the
 * settings the caller worked out (the architecture, the optimizer, defaults
 * that depend on others); every other setting with a flag of its own is taken
 * from the parsed flags `opts`, or its default.
 */
export function newRecord(opts: Record<string, unknown>, resolved: Partial<RunRecord>): RunRecord {
  const r: Record<string, unknown> = {};
  for (const [key, s] of entries) r[key] = key in resolved ? resolved[key] : (opts[key] ?? s.cli?.default);
  r.save = resolved.save;
  return r as RunRecord;
}

/** The settings that have a flag of their own (declared in their entry), in order. */
export const FLAG_SETTINGS = entries.flatMap(([key, s]) => (s.cli ? [{ key, flag: s.cli }] : []));

/**
 * λ that the run's η makes destructive: W ← (1 − ηλ)W − η∂C/∂W flips or zeroes
 * W each step once ηλ ≥ 1 (the schedule never raises η above the base rate).
 * The rest of the sentence after the flag or key, or undefined.
 */
export function weightDecayProblem(r: Pick<RunRecord, 'lr' | 'weightDecay'>): string | undefined {
  if (!(r.lr * r.weightDecay >= 1)) return undefined;
  return `${r.weightDecay} with η = ${r.lr}: each step would scale the weights by 1 − ηλ = ${+(1 - r.lr * r.weightDecay).toPrecision(3)}; give λ < 1/η = ${+(1 / r.lr).toPrecision(3)} (e.g. ${+(0.1 / r.lr).toPrecision(2)})`;
}
