import { QUOTE_LIMIT, safeText } from '../base/terminal-safe.js';
import { BoundedReadError, CONFIG_FILE_LIMIT, readFileBounded } from '../base/read.js';
import { Option, type Command } from 'commander';
import { resolveData } from '../data/catalog.js';
import { DataError } from '../data/dataset.js';
import { existsSync, statSync } from 'node:fs';
import { loadModel } from '../io/safetensors.js';
import { ALTERNATIVE_FLAGS, recordFlags, recordMismatch, RUN_SETTINGS, runRecordProblem, type RunRecord, type TrainConfig } from '../train/settings.js';
import { UsageError } from './errors.js';
import { BackendUnavailableError, type Available, type BackendName, type DType } from '../linalg/index.js';
import { providerForDtype } from './precision.js';
import { style, type Output } from './output.js';

export { recordFlags, type RunRecord, type TrainConfig } from '../train/settings.js';

/** A flag's long name from an option key: batchSize, batch-size or --batch-size → batch-size. */
export const flagName = (s: string) => s.replace(/^--/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Flags a config may not hold: where to write, how to show, and the run to
 * continue belong to each invocation. A config file is read, often received:
 * it must never choose where we write (--save, --log, --csv, --report,
 * --checkpoint and --overwrite would let it replace any file we may write).
 */
const NOT_IN_CONFIG = ['config', 'resume', 'json', 'quiet', 'save', 'log', 'csv', 'report', 'checkpoint', 'overwrite', 'backend-of-config'];

/**
 * A hidden flag that expandConfig adds after a config's --backend (not one the command line gives): the
 * file it came from, so that a provider recorded on another machine (a model trained on blas, replayed
 * where OpenBLAS is missing) falls back to --backend auto with a notice instead of failing (configuredProvider).
 */
export function addConfigBackendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend-of-config <file>').hideHelp());
}

/**
 * The provider of --backend (and --dtype), as providerForDtype chooses it; when --backend came from a config
 * (`recordedIn`) and does not load here, auto's choice instead, said in one line.
 */
export async function configuredProvider(backend: BackendName, dtype: DType, out: Output, recordedIn?: string): Promise<Available> {
  try {
    return await providerForDtype({ backend }, dtype, out);
  } catch (e) {
    if (recordedIn === undefined || !(e instanceof BackendUnavailableError)) throw e;
    const provider = await providerForDtype({ backend: 'auto' }, dtype, out);
    out.line(style.warn(`--config ${recordedIn}: ${e.message.replace(/^--backend /, 'the recorded --backend ')}; running on ${provider.name} instead (--backend auto)`));
    return provider;
  }
}

/** The config in FILE: a JSON object of flags, or a model saved by train (its metadata records the run). */
function readConfig(file: string): TrainConfig {
  if (file.endsWith('.safetensors')) {
    const { metadata, network } = loadModel(file, '--config');
    if (!metadata.options) throw new DataError(`--config ${file}: the model does not record the run that trained it (no options in its metadata)`);
    let record: unknown;
    try {
      record = JSON.parse(metadata.options);
    } catch {
      throw new DataError(`--config ${file}: the run recorded in its metadata (options) is not JSON`);
    }
    const problem = runRecordProblem(record) ?? recordMismatch(record as RunRecord, network); // the record's arch is the model's, or the file was edited
    if (problem) throw new DataError(`--config ${file}: the run recorded in its metadata is not one train can repeat (${problem})`);
    // a setting this version does not know (a newer backprop's) would be dropped, and another run trained: refused, as a JSON config's unknown key is
    const unknown = Object.keys(record as object).filter((k) => !(k in RUN_SETTINGS) && k !== 'save');
    if (unknown.length)
      throw new DataError(
        `--config ${file}: the run recorded in its metadata has settings this backprop does not know (${safeText(unknown.slice(0, 3).join(', '), QUOTE_LIMIT)}${unknown.length > 3 ? ', …' : ''}): it cannot repeat that run; give its flags by hand`,
      );
    return recordFlags(record as RunRecord);
  }
  let text: string;
  try {
    text = readFileBounded(file, CONFIG_FILE_LIMIT).toString('utf8');
  } catch (e) {
    throw new DataError(`--config ${file}: cannot read (${e instanceof BoundedReadError ? e.reason : String(e)})`);
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
  if (opts.some((a) => a === '--resume' || a.startsWith('--resume='))) throw new UsageError(`--config ${file}: --resume continues a run with its own recorded options; drop --config`);
  const flags: string[] = [];
  const typed = (name: string) => opts.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const config = readConfig(file);
  for (const group of ALTERNATIVE_FLAGS) {
    const held = Object.keys(config).filter((k) => group.includes(flagName(k)));
    if (group.some(typed))
      held.forEach((k) => delete config[k]); // the command line's form replaces the file's
    else if (held.length > 1) throw new UsageError(`--config ${file}: give either ${group.map((f) => `"${f}"`).join(' or ')}, not both`);
  }
  for (const [key, value] of Object.entries(config)) {
    const name = flagName(key);
    const option = train.options.find((o) => o.long === `--${name}`);
    if (!option || NOT_IN_CONFIG.includes(name))
      throw new UsageError(
        `--config ${file}: "${key}" is not a flag a config can set${option ? ': where to write, what to resume and how to print are given on the command line' : ' for backprop train (see backprop train --help)'}`,
      );
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
    if (name === 'data') checkConfigData(file, key, text, opts);
    flags.push(option.long!, text);
    if (name === 'backend' && text !== 'auto' && !typed('backend')) flags.push('--backend-of-config', file); // recorded elsewhere: may fall back (configuredProvider)
  }
  return [...argv.slice(0, at + 1), ...flags, ...rest];
}

/**
 * --data has no parser of its own (it is checked when the data loads), so a config's data value that names no
 * dataset would be blamed on a --data nobody typed: resolved here (not a directory: those are verified when they
 * load), unless the command line gives its own --data.
 */
function checkConfigData(file: string, key: string, spec: string, opts: string[]): void {
  if (opts.some((a) => a === '--data' || a.startsWith('--data='))) return;
  if (existsSync(spec) && statSync(spec).isDirectory()) return;
  try {
    resolveData(spec);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    throw new DataError(`--config ${file}: "${key}": ${e.message.replace(`--data ${spec}: `, `${spec}: `)}`);
  }
}
