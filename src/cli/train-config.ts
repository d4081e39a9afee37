import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DataError } from '../data/dataset.js';
import { augmentLabel, type AugmentConfig } from '../data/augment.js';
import { loadModel } from '../io/safetensors.js';
import { layersFlag, type Architecture, type InitName } from '../nn/network.js';
import type { DType } from '../linalg/index.js';
import type { OptimizerConfig } from '../train/optimizers.js';
import type { Schedule } from '../train/schedule.js';
import type { WatchedMetric } from '../train/early-stop.js';
import { UsageError } from './errors.js';

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

/** A config: train's flags by their long names without the dashes, values as on the command line. */
export type TrainConfig = Record<string, string | number | boolean>;

/**
 * The flags that train the recorded run again: every choice resolved (the
 * layer sizes, the init, η, the optimizer's and the schedule's parameters),
 * nothing about where it wrote (--save, --checkpoint, --log, --report).
 * `train --json` prints it as `config`; `train --config` reads it back.
 */
export function recordFlags(r: RunRecord): TrainConfig {
  const f: TrainConfig = { data: r.data };
  if (r.limit !== undefined) f.limit = r.limit;
  if (r.testLimit !== undefined) f['test-limit'] = r.testLimit;
  if (r.validation !== undefined) f.validation = r.validation;
  f.layers = layersFlag(r.arch); // a conv net's --layers: between the image and the output; bn tokens included
  f.activation = r.arch.activation;
  f['output-activation'] = r.arch.outputActivation;
  f.cost = r.arch.cost;
  f.init = r.init;
  f.lr = r.lr;
  f['batch-size'] = r.batchSize;
  f.epochs = r.epochs;
  f['weight-decay'] = r.weightDecay;
  const o = r.optimizer;
  if (o) {
    f.optimizer = o.name;
    if (o.name === 'momentum' || o.name === 'nesterov') f.momentum = o.momentum;
    if (o.name === 'adam' || o.name === 'adamw') Object.assign(f, { beta1: o.beta1, beta2: o.beta2, eps: o.eps });
  }
  const s = r.schedule;
  if (s) {
    f.schedule = s.name;
    f.warmup = s.warmup;
    if (s.name === 'step' || s.name === 'exponential') f.decay = s.decay;
    if (s.name === 'step') f['step-every'] = s.stepEvery;
  }
  if (r.dropout) f.dropout = r.dropout;
  if (r.augment) f.augment = augmentLabel(r.augment);
  if (r.earlyStop) Object.assign(f, { 'early-stop': r.earlyStop.patience, 'monitor-metric': r.earlyStop.metric });
  f.seed = r.seed;
  f.backend = r.backend;
  f.dtype = r.dtype ?? 'float32';
  return f;
}

/** A flag's long name from an option key: batchSize, batch-size or --batch-size → batch-size. */
export const flagName = (s: string) => s.replace(/^--/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Flags a config may not hold: where to write, how to show, and the run to continue belong to each invocation. */
const NOT_IN_CONFIG = ['config', 'resume', 'json', 'quiet'];

/** The config in FILE: a JSON object of flags, or a model saved by train (its metadata records the run). */
function readConfig(file: string): TrainConfig {
  if (file.endsWith('.safetensors')) {
    const { metadata } = loadModel(file);
    if (!metadata.options) throw new DataError(`--config ${file}: the model does not record the run that trained it (no options in its metadata)`);
    return recordFlags(JSON.parse(metadata.options) as RunRecord);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`--config ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new DataError(`--config ${file}: not JSON (${(e as Error).message})`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new DataError(`--config ${file}: expected a JSON object of flags, e.g. {"hidden": "256,128", "optimizer": "adam"}`);
  return config as TrainConfig;
}

/**
 * `backprop train --config FILE`: FILE's flags are put before the command
 * line's, so that a flag given on the command line wins (commander keeps an
 * option's last value) and every value goes through the same parser and
 * checks as if typed. Keys are the long flags, with or without the dashes, in
 * kebab or camel case; values are strings, numbers, booleans (true: the flag
 * alone; false: left out) or lists (joined by commas).
 */
export function expandConfig(argv: string[], train: Command): string[] {
  const at = argv.findIndex((a, i) => i >= 2 && !a.startsWith('-')); // the command: the first word after node and the script
  if (argv[at] !== 'train') return argv;
  const rest = argv.slice(at + 1);
  const end = rest.indexOf('--');
  const opts = end < 0 ? rest : rest.slice(0, end);
  const i = opts.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i < 0) return argv;
  const file = opts[i].startsWith('--config=') ? opts[i].slice('--config='.length) : opts[i + 1];
  if (!file || file.startsWith('-')) return argv; // commander says the value is missing
  if (opts.includes('--resume')) throw new UsageError(`--config ${file}: --resume continues a run with its own recorded options; drop --config`);
  const flags: string[] = [];
  for (const [key, value] of Object.entries(readConfig(file))) {
    const name = flagName(key);
    const option = train.options.find((o) => o.long === `--${name}`);
    if (!option || NOT_IN_CONFIG.includes(name)) throw new UsageError(`--config ${file}: "${key}" is not a flag a config can set for backprop train${option ? '' : ' (see backprop train --help)'}`);
    if (value === false || value === null) continue;
    if (value === true) {
      if (option.required || option.optional) throw new UsageError(`--config ${file}: "${key}" needs a value, not true`);
      flags.push(option.long!);
      continue;
    }
    if (!option.required && !option.optional) throw new UsageError(`--config ${file}: "${key}" is a switch: give true or false, not ${JSON.stringify(value)}`);
    const text = Array.isArray(value) ? value.join(',') : String(value);
    try {
      option.parseArg?.(text, undefined); // the flag's own check, so that a bad value is blamed on the file, not on a flag nobody typed
    } catch (e) {
      throw new UsageError(`--config ${file}: "${key}": ${text} is invalid: ${(e as Error).message.replace(/^error: /, '')}`);
    }
    flags.push(option.long!, text);
  }
  return [...argv.slice(0, at + 1), ...flags, ...rest];
}
