import { loadData } from '../data/load.js';
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLearningRate, Network, type Architecture } from '../nn/network.js';
import { Rng } from '../base/rng.js';
import { encodeSafetensors, loadModel } from '../io/safetensors.js';
import {
  BEST_MODEL,
  checkpointKernels,
  hasCheckpoint,
  lockCheckpoint,
  readCheckpoint,
  removeCheckpoint,
  resumeNotice,
  writeCheckpoint,
  writeRescueCheckpoint,
  type CheckpointKernels,
} from '../io/checkpoint.js';
import { ensureOutputDir, ioReason, makeDirectories, OutputPathError, writeFileAtomic, WriteFailedError } from '../base/atomic.js';
import { DataError, trainingLabelProblem, type Dataset } from '../data/dataset.js';
import { augmentLabel } from '../data/augment.js';
import { addConfigBackendOption, configuredProvider, flagName } from './train-config.js';
import { newRecord, recordFlags, weightDecayProblem, RESUME_TAKES, RUN_SETTINGS, settingLabels, type NumberKind, type RunRecord, type Setting, type SettingKey } from '../train/settings.js';
import { layerTable } from './summary.js';
import { checkNetworkSize } from '../data/limits.js';
import { RunLog } from '../train/run-log.js';
import { trainingReport } from '../report/training.js';
import { scheduleLabel } from '../train/schedule.js';
import { addScheduleOptions, scheduleConfig, type ScheduleOptions } from './schedule-flags.js';
import { smoothingProblem } from '../nn/costs.js';
import { WATCHED_METRICS, type WatchedMetric } from '../train/early-stop.js';
import { optimizerLabel, RULES, type OptimizerState } from '../train/optimizers.js';
import { initialState, type TrainState } from '../train/session.js';
import { TrainingRun, type RunOutcome, type RunSnapshot } from '../train/run.js';
import { nonFiniteInput } from '../train/diagnose.js';
import { evaluationBatch, layerStats, speedLabel, type LayerStats } from '../analysis/layers.js';
import { stalledLayers } from './advice.js';
import { EXIT, InterruptedError, reportError, signalExitCode, UsageError, watchStopSignals, type SignalWatch } from './errors.js';
import { writeOrRescue, Output, percent, seconds, style } from './output.js';
import { claimOutputFiles, type OutputFlag } from './outputs.js';
import { epochProgress } from './progress.js';
import {
  addBackendOption,
  addDataOptions,
  addNetworkOptions,
  addQuietOption,
  architecture,
  checkLayerMemory,
  defaultInit,
  examples,
  addOptimizerOptions,
  augmentSpec,
  choiceOption,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  unitInterval,
  optimizerConfig,
  type OptimizerOptions,
  positiveInt,
  positiveNumber,
  type DataOptions,
  type NetworkOptions,
} from './options.js';
import type { BackendName, DType, Kernels } from '../linalg/index.js';
import { addDtypeOption } from './precision.js';
import { HELD_OUT_VALIDATION, applyStartingModel, claimEpochSaves, epochSaver, epochSaves, heldOut, modelMetadata, startingModel, validationSplit } from './finetune.js';
import { withValidationData } from '../data/val-data.js';
import { safeText, shellArg } from '../base/terminal-safe.js';
import { jsonProvenance, provenance, type Provenance } from '../io/provenance.js';

/** Defaults chosen so that plain `backprop train` gives ≥ 95% on the embedded digits in seconds (the others are in RUN_SETTINGS). */
export const TRAIN_DEFAULTS = {
  hidden: [100],
  lr: 0.2,
  batchSize: RUN_SETTINGS.batchSize.cli?.default ?? 32,
  epochs: RUN_SETTINGS.epochs.cli?.default ?? 10,
  seed: RUN_SETTINGS.seed.cli?.default ?? 1,
};

/** Where an interrupted run without --checkpoint saves itself. */
export const DEFAULT_CHECKPOINT = 'backprop-checkpoint';

/** The settings by their option keys, as the flags that have one of their own give them (src/train/settings.ts). */
type SettingOptions = { [K in SettingKey]?: RunRecord[K] };

export interface TrainOptions
  extends
    DataOptions,
    NetworkOptions,
    OptimizerOptions,
    ScheduleOptions,
    Omit<SettingOptions, 'data' | 'arch' | 'init' | 'optimizer' | 'schedule' | 'earlyStop' | 'backend' | 'dtype' | 'initFrom' | 'saveBest'> {
  batchSize: number;
  epochs: number;
  weightDecay: number;
  seed: number;
  save?: string;
  checkpoint?: string;
  resume?: string;
  backendOfConfig?: string;
  overwrite: boolean;
  json: boolean;
  monitor: boolean;
  earlyStop?: number;
  monitorMetric: WatchedMetric;
  /** --init-from, --reinit-output, --save-best (src/cli/finetune.ts). */
  initFrom?: string;
  reinitOutput?: boolean;
  saveBest?: boolean;
  log?: string;
  csv?: string;
  logEvery?: number;
  report?: string;
  quiet: boolean;
  backend: BackendName;
  dtype?: DType;
}

/** The parsers of the settings' flags, by the kind each entry names. */
const PARSERS: Record<NumberKind, (v: string) => number> = { positiveInt, nonNegativeInt, positiveNumber, nonNegativeNumber, unitInterval };

/** The flags of the settings that several commands share (src/cli/options.ts) or that build a compound setting, where they stand in the table. */
const SETTING_FLAGS: Partial<Record<SettingKey, (cmd: Command) => void>> = {
  data: addDataOptions,
  arch: (cmd) => addNetworkOptions(cmd, TRAIN_DEFAULTS.hidden.join(',')),
  optimizer: (cmd) => addOptimizerOptions(cmd, true),
  schedule: addScheduleOptions,
  valData: (cmd) =>
    cmd.option('--val-data <data>', 'validate on a dataset of its own instead of a split of the training set: a directory, CSV file (every row) or dataset name (its training examples)'),
  initFrom: (cmd) =>
    cmd
      .option('--init-from <model>', 'start from the weights of a model saved by train (fine-tuning); its layers must be the ones asked for')
      .option('--reinit-output', "with --init-from: draw the output layer afresh from the seed (a dataset with other classes), keeping the model's other layers"),
  saveBest: (cmd) => cmd.option('--save-best', 'write each new best epoch (--monitor-metric on the validation set) to --save as the run goes, and end with it'),
  augment: (cmd) =>
    cmd.option(
      '--augment <list>',
      'distort each training image as its batch is drawn (Simard et al. 2003; draws from the seeded RNG; never validation or test): shift[=px], rotate[=deg], scale[=s], elastic[=α:σ], e.g. shift=2,elastic=34:4',
      augmentSpec,
    ),
  earlyStop: (cmd) =>
    cmd
      .option(
        '--early-stop <patience>',
        `stop after this many epochs without a better --monitor-metric on the validation set, and keep the best epoch's weights (holds out ${HELD_OUT_VALIDATION * 100}% for validation unless --validation or --val-data is given)`,
        positiveInt,
      )
      .addOption(choiceOption('--monitor-metric <name>', 'what --early-stop and --save-best watch', WATCHED_METRICS, oneOf(WATCHED_METRICS), 'val-loss')),
};

/** The flags of the run settings (in the table's order) but those of `skip`: train takes them all, lr-find those that shape the network and its steps. */
export function addSettingOptions(cmd: Command, skip: readonly SettingKey[] = []): void {
  for (const [key, s] of Object.entries(RUN_SETTINGS) as [SettingKey, Setting<unknown>][]) {
    if (skip.includes(key)) continue;
    if (s.cli) {
      const o = new Option(s.cli.arg, s.cli.help).argParser(PARSERS[s.cli.kind]);
      cmd.addOption(s.cli.default !== undefined ? o.default(s.cli.default) : s.cli.defaultHelp ? o.default(undefined, s.cli.defaultHelp) : o);
    } else SETTING_FLAGS[key]?.(cmd);
  }
}

/** Where each run setting's flags go (in the table's order), then the flags of this invocation: the config, the outputs, how to show. */
function addTrainOptions(cmd: Command): void {
  addSettingOptions(cmd);
  addConfigBackendOption(cmd)
    .option(
      '--config <file>',
      'take flags from file: a JSON object of flags ({"hidden": "256,128", "optimizer": "adam"}, or the "config" of a train --json result), or a model saved by train, which records its run; flags on the command line win',
    )
    .option('--save <file>', 'write the trained model (safetensors) to file')
    .option('--log <file>', 'append one JSON line per epoch (loss, accuracies, η, seconds, examples/s) to file, written as it happens')
    .option('--csv <file>', 'append the same records as CSV rows (a header first when the file is new)')
    .option('--log-every <n>', 'also log the running loss and accuracy every n batches', positiveInt)
    .option(
      '--report <file.html>',
      "after the run, write a self-contained HTML report: learning curves, the learning rate and, with --monitor, each layer's speed of learning and saturated or dead units",
    )
    .option('--checkpoint <dir>', 'write a checkpoint (weights, RNG state, position, metrics) at each epoch end')
    .option('--resume <dir>', 'continue a checkpointed or interrupted run; it ends with the weights an uninterrupted run would have')
    .option('--overwrite', "let --checkpoint replace another run's checkpoint in its directory", false)
    .option('--monitor', 'each epoch, print per-layer learning speed and saturated/dead units, and warn when a layer stops learning', false)
    .option('--json', 'print one JSON result on stdout (human text goes to stderr)', false);
  addQuietOption(cmd);
  addBackendOption(cmd);
  addDtypeOption(cmd);
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('train a network with hand-written backprop and mini-batch SGD');
  addTrainOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      ['784-100-10 ReLU on the 10,000 embedded digits: about 95% in a few seconds', 'backprop train --save model.safetensors'],
      [
        'Adam and a cosine schedule, stopping when the validation loss stops improving; learning curves in an HTML page',
        'backprop train --optimizer adam --schedule cosine --epochs 30 --early-stop 5 --save best.safetensors --report run.html',
      ],
      ['a long run: Ctrl-C writes a checkpoint to run1 and exits 130; then continue it', ['backprop train --data fashion-mnist --epochs 30 --checkpoint run1', 'backprop train --resume run1']],
    ]),
  );
  return cmd.action(async function (this: Command, opts: TrainOptions) {
    if (opts.resume) {
      const given = RESUME_TAKES.filter((k) => this.getOptionValueSource(k) === 'cli');
      if (given.length) throw new UsageError(`--resume takes the run's options from the checkpoint: drop --${given.map(flagName).join(', --')}`);
    }
    process.exitCode = await runTrain(opts, (k) => this.getOptionValueSource(k) === 'cli');
  });
}

/**
 * What one `backprop train` does, decided before any training: the run (new,
 * or continued from a checkpoint), its data, network, RNG and position, and
 * where checkpoints go. Every output path is checked and the checkpoint
 * directory locked here, so that a bad path fails before the work, not after it.
 */
export interface RunPlan {
  record: RunRecord;
  ds: Dataset;
  net: Network;
  rng: Rng;
  state: TrainState;
  /** The optimizer's velocity or moments, continued from the checkpoint. */
  optimizerState?: OptimizerState;
  /** Where checkpoints go: --checkpoint, else the --resume directory. */
  checkpointDir?: string;
  /** The checkpoint directory this run continues (--resume). */
  resumedFrom?: string;
  /** The provider and thread policy the resumed checkpoint was computed with. */
  resumedKernels?: CheckpointKernels;
  /** True when the validation set was held out for --early-stop without --validation. */
  heldOut?: boolean;
  /** --log and --csv, opened (appending) before the run. */
  log?: RunLog;
}

async function runTrain(opts: TrainOptions, given: (key: string) => boolean): Promise<number> {
  const pipe = new StdoutGuard();
  const out = pipe.output(opts.json, opts.quiet);
  const t0 = performance.now();
  // SIGINT (Ctrl-C), SIGTERM (kill, a scheduler) and SIGHUP (the terminal closed) all
  // finish the batch, write a checkpoint and exit 128 + the signal's number.
  const stops = watchStopSignals();
  try {
    const plan = planRun(opts, given);
    const session = await trainSession(plan, opts, out, stops);
    const code = await reportRun(plan, session, opts, out, t0);
    if (pipe.broken && code === EXIT.ok) {
      reportError(
        `stdout was closed (broken pipe) during the run: the lines after that were not printed${plan.record.save ? `; the model was saved to ${shellArg(plan.record.save)}` : ''}`,
        EXIT.failed,
        opts.json,
      );
      return EXIT.failed;
    }
    return code;
  } finally {
    stops.release();
    pipe.release();
  }
}

/**
 * `backprop train … | head -1`: the reader goes away while the run goes on.
 * The CLI's own handler ends the process on EPIPE, which would lose the model
 * --save is about to write; for the run, a broken stdout only stops the
 * printing to it, and the run finishes and writes every file.
 */
class StdoutGuard {
  broken = false;
  private readonly others = process.stdout.listeners('error') as ((e: Error) => void)[];
  private readonly onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') this.broken = true;
    else for (const f of this.others) f(e);
  };

  constructor() {
    process.stdout.removeAllListeners('error');
    process.stdout.on('error', this.onError);
  }

  /** An Output whose stdout lines stop once the pipe is broken. */
  output(json: boolean, quiet: boolean): Output {
    const broken = () => this.broken;
    return new (class extends Output {
      override line(text = ''): void {
        if (json || !broken()) super.line(text);
      }
      override result(value: unknown): void {
        if (!broken()) super.result(value);
      }
    })(json, quiet);
  }

  release(): void {
    process.stdout.off('error', this.onError);
    for (const f of this.others) process.stdout.on('error', f);
  }
}

/** The checkpoint that --resume continues, with the run's options as this invocation changes them (--epochs, --save, --backend). */
function resumedRun(dir: string, opts: TrainOptions, given: (key: string) => boolean): Omit<RunPlan, 'ds' | 'checkpointDir' | 'resumedFrom'> {
  const c = readCheckpoint<RunRecord>(dir);
  // Where the model goes comes from this command line only: a checkpoint that was edited or received must not choose where we write.
  if (typeof c.options.save === 'string' && opts.save === undefined) {
    throw new UsageError(
      `--resume ${dir}: the run was started with --save ${quoted(c.options.save)}; give --save again to continue it (where the model is written is never taken from the checkpoint)`,
    );
  }
  const record: RunRecord = { ...c.options, epochs: given('epochs') ? opts.epochs : c.options.epochs, save: opts.save };
  // A complete run resumed without --epochs only writes its outputs (it was stopped after its last checkpoint).
  const done = c.state.epoch - 1;
  if (given('epochs') && record.epochs <= done) {
    throw new UsageError(`--epochs ${record.epochs}: the run in ${dir} has already done ${done} epoch${done === 1 ? '' : 's'}; give more than ${done} to continue it`);
  }
  if (given('backend')) record.backend = opts.backend;
  record.dtype ??= c.network.dtype;
  return { record, net: c.network, rng: new Rng(c.rng), state: c.state, optimizerState: c.optimizer, resumedKernels: c.kernels };
}

/** A string read from a file, as an error line may show it: JSON-quoted (control characters escaped) and cut short. */
function quoted(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

/** Every output path writable now, each its own file and none in a checkpoint directory (claimOutputFiles), and the checkpoint directory taken by this run (a lock file keeps out a second writer). */
function claimOutputs(opts: TrainOptions, run: Pick<RunRecord, 'save' | 'saveEvery' | 'epochs'>, checkpointDir: string | undefined): void {
  const everySaves = epochSaves(run).map(([, path]): OutputFlag => ['--save-every', path]);
  claimOutputFiles(
    [['--save', run.save], ...everySaves, ['--log', opts.log], ['--csv', opts.csv], ['--report', opts.report]],
    // The run replaces the files of its checkpoint directory and deletes their old generations; --resume's is read first.
    [
      ['--checkpoint', opts.checkpoint],
      ['--resume', opts.resume],
    ],
  );
  if (opts.logEvery && !opts.log && !opts.csv) throw new UsageError(`--log-every ${opts.logEvery}: give --log or --csv to write the records to`);
  if (opts.checkpoint) ensureOutputDir(opts.checkpoint, '--checkpoint');
  if (opts.resume && !opts.checkpoint) ensureOutputDir(opts.resume, '--resume');
  if (!checkpointDir) return;
  lockCheckpoint(checkpointDir, opts.checkpoint ? '--checkpoint' : '--resume');
  if (opts.checkpoint && opts.checkpoint !== opts.resume && hasCheckpoint(opts.checkpoint)) {
    if (!opts.overwrite) {
      throw new UsageError(`--checkpoint ${opts.checkpoint} holds another run's checkpoint: continue it with --resume ${opts.checkpoint}, choose another directory, or add --overwrite to replace it`);
    }
    removeCheckpoint(opts.checkpoint);
  }
}

/** Opens --log and --csv for appending (their paths were checked); an error names the flag. */
function openLog(opts: TrainOptions): RunLog | undefined {
  if (!opts.log && !opts.csv) return undefined;
  try {
    return new RunLog({ json: opts.log, csv: opts.csv });
  } catch (e) {
    if (e instanceof OutputPathError) throw e; // openAppend's line names the flag and the file
    const flag = opts.log && !opts.csv ? '--log' : opts.csv && !opts.log ? '--csv' : '--log/--csv';
    throw new OutputPathError(`${flag}: cannot open for appending (${ioReason(e)})`);
  }
}

/** The asked-for network against the data and the machine: the flags that need a cost, a hidden layer or images, the labels, the memory. */
function checkNetworkFits(opts: TrainOptions, arch: Architecture, ds: Dataset, dataName: string, given: (key: string) => boolean): void {
  const smoothing = opts.labelSmoothing ? smoothingProblem(arch.cost) : undefined;
  if (smoothing) throw new UsageError(`--label-smoothing ${opts.labelSmoothing}: ${smoothing}`);
  if (opts.dropout && arch.sizes.length < 3) throw new UsageError(`--dropout ${opts.dropout}: the network ${arch.sizes.join('-')} has no hidden layer to drop units from`);
  if (opts.augment && (!ds.shape || ds.shape[0] * ds.shape[1] !== ds.train.dim))
    throw new UsageError(`--augment: ${dataName} is not a set of images (${ds.train.dim} values per example and no rows × cols shape); it distorts images only`);
  const labels = trainingLabelProblem(ds, !given('layers'));
  if (labels) throw new DataError(labels);
  checkNetworkSize(arch.sizes, Math.min(opts.batchSize, ds.train.count), given('layers') ? '--layers' : '--hidden');
  checkLayerMemory(arch, Math.min(opts.batchSize, ds.train.count), given('layers') ? '--layers' : '--hidden'); // conv nets: im2col buffers
}

/** Options → what to do: a new run or the continuation of a checkpointed one, its outputs claimed and its data loaded and checked. */
export function planRun(opts: TrainOptions, given: (key: string) => boolean): RunPlan {
  const resumed = opts.resume ? resumedRun(opts.resume, opts, given) : undefined;
  const checkpointDir = opts.checkpoint ?? opts.resume;
  claimOutputs(opts, resumed?.record ?? opts, checkpointDir);
  const log = openLog(opts);
  const data = resumed?.record ?? { ...opts, validation: validationSplit(opts) };
  const split = loadData({ data: data.data, limit: data.limit, testLimit: data.testLimit, validation: data.validation, seed: data.seed });
  const ds = data.valData ? withValidationData(split, data.valData) : split;
  for (const [set, ex] of [
    ['training', ds.train],
    ['test', ds.test],
    ['validation', ds.validation],
  ] as const) {
    const bad = ex && nonFiniteInput(ex);
    if (bad) throw new DataError(`${data.data}: ${set} example ${bad.example} has input ${bad.input + 1} = ${bad.value} (as float32): expected finite values`);
  }
  if (resumed) {
    const { state } = resumed;
    if (state.order.length !== ds.train.count) throw new UsageError(`--resume ${opts.resume}: the checkpoint has ${state.order.length} training examples but ${data.data} now has ${ds.train.count}`);
    claimEpochSaves(resumed.record, state.epoch - 1);
    return { ...resumed, ds, checkpointDir, resumedFrom: opts.resume, log };
  }
  const optimizer = optimizerConfig(opts);
  const schedule = scheduleConfig(opts, Math.ceil(ds.train.count / opts.batchSize));
  if (given('monitorMetric') && !opts.earlyStop && !opts.saveBest && schedule.name !== 'plateau')
    throw new UsageError(`--monitor-metric ${opts.monitorMetric}: nothing here watches it; it chooses the metric of --early-stop, --save-best and --schedule plateau`);
  const arch = architecture(opts, ds.train.dim, ds.classes, TRAIN_DEFAULTS.hidden, ds.shape);
  checkNetworkFits(opts, arch, ds, data.data, given);
  const start = startingModel(opts, arch);
  const record = newRecord(opts as unknown as Record<string, unknown>, {
    data: opts.data,
    limit: opts.limit,
    testLimit: opts.testLimit,
    validation: data.validation,
    arch,
    init: opts.init ?? defaultInit(arch.activation),
    initFrom: start?.record,
    lr: opts.lr ?? RULES[optimizer.name].lr ?? defaultLearningRate(arch, TRAIN_DEFAULTS.lr),
    optimizer,
    schedule,
    dropout: opts.dropout || undefined,
    labelSmoothing: opts.labelSmoothing || undefined,
    augment: opts.augment,
    earlyStop: opts.earlyStop ? { patience: opts.earlyStop, metric: opts.monitorMetric } : undefined,
    saveBest: opts.saveBest ? opts.monitorMetric : undefined,
    backend: opts.backend,
    dtype: opts.dtype ?? 'float32',
    save: opts.save,
  });
  const decay = weightDecayProblem(record);
  if (decay) throw new UsageError(`--weight-decay ${decay}`);
  claimEpochSaves(record, 0);
  const rng = new Rng(record.seed);
  const net = Network.create(arch, record.init, rng, record.dtype);
  applyStartingModel(start, net); // --init-from: the model's weights over the seed's (the draws are the same, so the output layer --reinit-output keeps is the seed's)
  return { record, ds, net, rng, state: initialState(ds.train.count), checkpointDir, heldOut: heldOut(opts), log };
}

/** What the session leaves for the output: how the run ended, on which kernels, and --monitor's record. */
interface Session {
  outcome: RunOutcome;
  training: TrainingRun;
  kernels: Kernels;
  prov: Provenance;
  /** --resume on other kernels than the checkpoint's: the notice that the model will not be byte-identical. */
  resumeNotice?: string;
  monitorLog?: MonitorEntry[];
  /** The signal that stopped the run, when one did. */
  signal?: NodeJS.Signals;
  /** The models --save-every and --save-best wrote during the run. */
  saved: string[];
}

interface MonitorEntry {
  epoch: number;
  layers: LayerStats[];
  warnings: string[];
}

/**
 * The session that trains: chooses the kernels, prints the heading, then runs
 * the TrainingRun (src/train/run.ts) with the progress bar, the run log,
 * --monitor's per-layer statistics and a checkpoint at each epoch end;
 * SIGINT, SIGTERM and SIGHUP finish the batch and stop the run.
 */
async function trainSession(plan: RunPlan, opts: TrainOptions, out: Output, stops: SignalWatch): Promise<Session> {
  const { record: run, ds, net, state, checkpointDir, log } = plan;
  const provider = await configuredProvider(run.backend as BackendName, net.dtype, out, opts.backendOfConfig);
  const k = provider.kernels;
  run.backend = provider.name; // resume on the same provider: the same seed then gives the same weights
  const { save: _save, ...runOptions } = run; // where the model is written does not change it
  const prov = provenance(provider, net.dtype, run.seed, runOptions);
  const notice = resumeNotice(plan.resumedKernels, checkpointKernels(prov));
  if (notice) out.status(style.warn(`⚠ ${notice}`));
  const training = new TrainingRun({ ...plan, kernels: k, bestWeights: checkpointDir ? () => readBestModel(checkpointDir, net) : undefined });
  printHeading(plan, training, k, out);
  const monitorLog: MonitorEntry[] = [];
  const monitor = layerMonitor(plan, opts, out, k, monitorLog);
  const saves = epochSaver(run, ds, net, prov, out); // --save-every, --save-best
  if (!plan.resumedFrom || state.history.length === 0) monitor(0);

  await stops.settle(); // a signal while the data loaded: nothing is trained yet, so there is nothing to checkpoint
  if (stops.signal)
    throw new InterruptedError(stops.signal, `before the first batch: nothing was trained, so no checkpoint was written${plan.resumedFrom ? ` (${plan.resumedFrom} is as it was)` : ''}`);
  const progress = epochProgress(out.interactive, run.epochs);
  let outcome: RunOutcome;
  try {
    outcome = await training.run({
      onEpochStart: progress.onEpochStart,
      shouldStop: () => stops.signal !== undefined,
      onBatch(epoch, batch, loss, accuracy, seen) {
        progress.onBatch?.(epoch, batch, loss, accuracy, seen);
        if (log?.active && opts.logEvery && batch % opts.logEvery === 0) log.record({ kind: 'batch', epoch, batch, lr: training.trainer.lr, loss, trainAccuracy: accuracy });
      },
      onEpochEnd(m, best) {
        progress.onEpochEnd?.(m);
        log?.record(RunLog.epoch(m, ds.train.count));
        out.note(epochLine(m, run.epochs, training.rate !== undefined) + (best ? style.dim('  (best)') : ''));
        monitor(m.epoch);
        saves.onEpochEnd(m, best);
      },
      checkpoint: checkpointDir ? (s) => saveCheckpoint(plan, checkpointDir, s, prov, opts) : undefined,
    });
  } finally {
    progress.stop();
    log?.close();
  }
  // On stderr (stdout is the result); a finished run names it with its other outputs, exit 1 (reportRun).
  if (log?.failed && (outcome.status === 'interrupted' || outcome.status === 'diverged')) out.status(style.warn(`⚠ the run log stopped: ${log.failed}`));
  return { outcome, training, kernels: k, prov, resumeNotice: notice, monitorLog: opts.monitor ? monitorLog : undefined, signal: stops.signal, saved: saves.written };
}

/** The heading: the data, the network, every setting of the run, and the epochs a resumed run has already done. */
function printHeading(plan: RunPlan, training: TrainingRun, k: Kernels, out: Output): void {
  const { record: run, ds, net, state } = plan;
  const arch = net.arch;
  const schedule = run.schedule;
  out.note(
    style.bold(plan.resumedFrom ? `backprop train --resume ${plan.resumedFrom}` : 'backprop train') +
      ` ${ds.name}: ${ds.train.count} train / ${ds.test.count} test` +
      (ds.validation ? ` / ${ds.validation.count} validation${run.valData ? ` (${safeText(run.valData)})` : ''}` : '') +
      ` · ${arch.sizes.join('-')} ${arch.activation}→${arch.outputActivation}, ${arch.cost}, init ${run.init}` +
      ` · ${run.optimizer && run.optimizer.name !== 'sgd' ? `${optimizerLabel(run.optimizer)} ` : ''}${settingLabels(run)}` +
      (run.augment ? ` · augment ${augmentLabel(run.augment)}` : '') +
      (run.initFrom ? ` · from ${safeText(run.initFrom.file)}${run.initFrom.reinitOutput ? ' (output layer drawn afresh)' : ''}` : '') +
      (run.saveEvery || run.saveBest ? ` · saving ${[run.saveEvery ? `every ${run.saveEvery} epochs` : '', run.saveBest ? `each new best ${run.saveBest}` : ''].filter(Boolean).join(' and ')}` : '') +
      (training.rate && schedule ? ` · ${scheduleLabel(schedule)}` : '') +
      (training.early && run.earlyStop
        ? ` · early stop after ${run.earlyStop.patience} epochs without a better ${run.earlyStop.metric}${plan.heldOut ? ` (${ds.validation?.count} examples held out for validation)` : ''}`
        : '') +
      ` · seed ${run.seed} · ${k.name} kernels` +
      (net.dtype === 'float64' ? ' · float64' : '') +
      (plan.resumedFrom ? (state.epoch > run.epochs ? ' · finished' : ` · from epoch ${state.epoch}, batch ${state.batch}`) : ''),
  );
  for (const line of layerTable(net).split('\n')) out.note(style.dim(`  ${line}`));
  if (run.batchSize > ds.train.count)
    out.note(style.warn(`note: m=${run.batchSize} is more than the ${ds.train.count} training examples: each step takes all ${ds.train.count} (full-batch gradient descent)`));
  if (plan.resumedFrom && state.epoch > run.epochs) {
    // Nothing to train: the run was stopped after its last checkpoint, before (or while) writing its outputs.
    const n = state.history.length;
    out.note(`the run in ${plan.resumedFrom} has finished: all ${n} epoch${n === 1 ? '' : 's'} are trained; writing its outputs (give --epochs with more than ${n} to train on)`);
    return;
  }
  for (const m of state.history) out.note(style.dim(epochLine(m, run.epochs, training.rate !== undefined)));
}

/** --monitor: Nielsen's per-layer speed of learning on a fixed batch of training examples, measured and printed after an epoch. */
function layerMonitor(plan: RunPlan, opts: TrainOptions, out: Output, k: Kernels, entries: MonitorEntry[]): (epoch: number) => void {
  const { net, ds, record } = plan;
  const batch = opts.monitor ? evaluationBatch(net, ds.train, record.seed, 1000) : undefined;
  return (epoch) => {
    if (!batch) return;
    const layers = layerStats(net, batch, k);
    const warnings = stalledLayers(layers);
    entries.push({ epoch, layers, warnings });
    out.note(
      style.dim(`  layers: `) +
        layers
          .map(
            (l) =>
              `${l.layer}: ${speedLabel(l)} ${l.speed.toExponential(1)}${l.saturated !== undefined ? ` ${percent(l.saturated, 0)} sat` : ''}${l.dead !== undefined ? ` ${percent(l.dead, 0)} dead` : ''}`,
          )
          .join(style.dim(' · ')),
    );
    for (const w of warnings) out.line(style.warn(`  ⚠ ${w}`));
  };
}

/** Writes a checkpoint; when its directory cannot be written, into a new one in the temporary directory, and says so. */
function saveCheckpoint(plan: RunPlan, dir: string, s: RunSnapshot, prov: Provenance, opts: TrainOptions): void {
  const { net, rng, record } = plan;
  const kernels = checkpointKernels(prov);
  try {
    if (s.best) writeFileAtomic(join(dir, BEST_MODEL), encodeSafetensors(s.best));
    writeCheckpoint(dir, net, rng.state(), s.state, record, s.optimizer, kernels);
  } catch (e) {
    const rescued = writeRescueCheckpoint(net, rng.state(), s.state, record, s.optimizer, kernels);
    throw new WriteFailedError(
      `checkpoint ${dir}: cannot write (${ioReason(e)}); ` +
        (rescued ? `the checkpoint was written to ${shellArg(rescued)} instead; continue with: ${resumeCommand(rescued, plan, opts)}` : 'nor could it be written to the temporary directory'),
    );
  }
}

/** The output: a checkpoint for an interrupted run, the diagnosis of a diverged one, or the saved model and the result. Returns the exit code. */
async function reportRun(plan: RunPlan, session: Session, opts: TrainOptions, out: Output, t0: number): Promise<number> {
  const { outcome } = session;
  if (outcome.status === 'interrupted') return reportInterrupted(plan, session, outcome.snapshot, opts, out, t0);
  if (outcome.status === 'diverged') {
    reportError(
      `training diverged at epoch ${outcome.epoch}, batch ${outcome.batch}: ${outcome.diagnosis.message}` + (plan.checkpointDir ? `; the last good checkpoint is kept in ${plan.checkpointDir}` : ''),
      EXIT.failed,
      opts.json,
    );
    return EXIT.failed;
  }
  if (outcome.stoppedAfter !== undefined && outcome.best) {
    out.note(`early stop after epoch ${outcome.stoppedAfter}: ${plan.record.earlyStop?.metric} has not improved for ${outcome.since} epochs since epoch ${outcome.best.epoch}`);
  }
  const finished: Finished = { ...outcome, seconds: (performance.now() - t0) / 1000 };
  // Every output is attempted: a model that cannot be saved must not cost the report or the JSON result.
  const failed: string[] = plan.log?.failed ? [plan.log.failed] : []; // --log/--csv stopped during the run
  const fail = (m: string) => failed.push(m);
  const model = saveTrainedModel(plan, session, finished, fail);
  const report = await writeReport(plan, session, opts, out, finished, fail);
  printOutcome(plan, out, finished, model);
  out.result({ ...resultJson(plan, session, opts, finished), model, report, ...(failed.length ? { failed } : {}) });
  if (failed.length) throw new WriteFailedError(failed.join('; '));
  return EXIT.ok;
}

/**
 * An interrupted run: its checkpoint, then the --report of the epochs it ran
 * and the --json result (status "interrupted", where it stopped, the
 * checkpoint and the command that continues it), as learners, compare and
 * lr-find write theirs. Exits 128 + the signal's number, or 1 when an output
 * could not be written (after every other output).
 */
async function reportInterrupted(plan: RunPlan, session: Session, snapshot: RunSnapshot, opts: TrainOptions, out: Output, t0: number): Promise<number> {
  const dir = plan.checkpointDir ?? interruptDir();
  saveCheckpoint(plan, dir, snapshot, session.prov, opts);
  const sig = session.signal ?? 'SIGINT';
  const { epoch, batch } = plan.state;
  const stopped: InterruptedRun = { status: 'interrupted', epoch, batch, checkpoint: dir, signal: sig, resume: resumeCommand(dir, plan, opts), seconds: (performance.now() - t0) / 1000 };
  const failed: string[] = plan.log?.failed ? [plan.log.failed] : [];
  const report = await writeReport(plan, session, opts, out, stopped, (m) => failed.push(m));
  out.status(`interrupted${sig === 'SIGINT' ? '' : ` by ${sig}`} at epoch ${epoch}, batch ${batch}: checkpoint written to ${shellArg(dir)}; continue with: ${stopped.resume}`);
  out.result({ ...resultJson(plan, session, opts, stopped), report, ...(failed.length ? { failed } : {}) });
  if (failed.length) throw new WriteFailedError(failed.join('; '));
  return signalExitCode(sig);
}

/**
 * The command that continues a run from its checkpoint in dir, with the
 * outputs this invocation asked for: the checkpoint never records where to
 * write (resumedRun), so --save, --report, --log, --csv and --json must be given again.
 */
function resumeCommand(dir: string, plan: RunPlan, opts: TrainOptions): string {
  const flags: [string, string | number | boolean | undefined][] = [
    ['--save', plan.record.save],
    ['--report', opts.report],
    ['--log', opts.log],
    ['--csv', opts.csv],
    ['--log-every', opts.logEvery],
    ['--monitor', opts.monitor],
    ['--json', opts.json],
  ];
  return ['backprop train --resume', shellArg(dir), ...flags.flatMap(([flag, v]) => (v === true ? [flag] : v === undefined || v === false ? [] : [flag, shellArg(String(v))]))].join(' ');
}

/** An interrupted run: where it stopped, its checkpoint and the command that continues it, with its wall time. */
interface InterruptedRun {
  status: 'interrupted';
  epoch: number;
  batch: number;
  checkpoint: string;
  signal: NodeJS.Signals;
  resume: string;
  seconds: number;
}

/** A finished run, with its wall time. */
type Finished = Extract<RunOutcome, { status: 'done' | 'stopped' }> & { seconds: number };

/** --save: the model with the run in its metadata; when it cannot be written, the weights are rescued and `fail` hears where. */
function saveTrainedModel(plan: RunPlan, session: Session, f: Finished, fail: (message: string) => void): string | undefined {
  const { record: run, ds, net, checkpointDir } = plan;
  if (!run.save) return undefined;
  const metadata = modelMetadata(run, ds, session.prov, f.epochsRun, f.final.accuracy, f.keptEpoch);
  // The run is done: its weights must not be lost to a full disk or a file system gone read-only.
  return writeOrRescue(
    run.save,
    '--save',
    'the trained weights were',
    encodeSafetensors(net, metadata),
    fail,
    [checkpointDir],
    checkpointDir ? `the last checkpoint in ${checkpointDir} holds them` : undefined,
  );
}

/** --report: the HTML page of the run; when it cannot be written, rescued and `fail` hears where. */
async function writeReport(plan: RunPlan, session: Session, opts: TrainOptions, out: Output, f: Finished | InterruptedRun, fail: (message: string) => void): Promise<string | undefined> {
  if (!opts.report) return undefined;
  const { record: run, ds, net, state, checkpointDir } = plan;
  const a = net.arch;
  const kept = f.status === 'interrupted' ? undefined : f.keptEpoch;
  const html = await trainingReport(
    `backprop train ${ds.name}`,
    `${a.sizes.join('-')} ${a.activation}→${a.outputActivation}, ${a.cost} · ${ds.train.count} training${ds.validation ? `, ${ds.validation.count} validation` : ''} and ${ds.test.count} test examples`,
    [
      ['initial weights', run.initFrom ? `${run.initFrom.file}, SHA-256 ${run.initFrom.sha256}${run.initFrom.reinitOutput ? ' (output layer drawn afresh)' : ''}` : `${run.init}, seed ${run.seed}`],
      ['optimizer', `${optimizerLabel(run.optimizer)} ${settingLabels(run, ['dropout'])}`],
      ['schedule', run.schedule ? scheduleLabel(run.schedule) : 'constant'],
      ['dropout', run.dropout ? String(run.dropout) : 'none'],
      ['augmentation', run.augment ? augmentLabel(run.augment) : 'none'],
      ['early stopping', run.earlyStop ? `patience ${run.earlyStop.patience} on ${run.earlyStop.metric}${kept !== undefined ? `; the weights of epoch ${kept} kept` : ''}` : 'no'],
      f.status === 'interrupted'
        ? [
            'interrupted',
            `by ${f.signal} at epoch ${f.epoch}, batch ${f.batch}, after ${state.history.length} whole epoch${state.history.length === 1 ? '' : 's'} in ${seconds(f.seconds)}; checkpoint in ${f.checkpoint}; continue with: ${f.resume}`,
          ]
        : ['test accuracy', `${percent(f.final.accuracy)} (${f.final.correct}/${f.final.count}) after ${f.epochsRun} epochs in ${seconds(f.seconds)}`],
      ['seed, kernels', `${run.seed}, ${session.kernels.name}`],
    ],
    state.history,
    session.monitorLog,
    kept,
  );
  const written = writeOrRescue(opts.report, '--report', 'the report was', html, fail, [checkpointDir]);
  if (written === opts.report) out.note(`report written to ${shellArg(opts.report)}`);
  return written;
}

/** The last line: the test accuracy of the model kept, and where it went. */
function printOutcome(plan: RunPlan, out: Output, f: Finished, model: string | undefined): void {
  const { record: run } = plan;
  const n = f.epochsRun;
  out.line(
    `${style.good('test accuracy ' + percent(f.final.accuracy))} (${f.final.correct}/${f.final.count}) after ${n} epoch${n === 1 ? '' : 's'} in ${seconds(f.seconds)}` +
      (f.keptEpoch !== undefined && f.best ? ` · the weights of the best epoch, ${f.keptEpoch} (${run.earlyStop?.metric ?? run.saveBest} ${f.best.value.toFixed(4)})` : '') +
      (model ? ` · model saved to ${shellArg(model)}` : ''),
  );
}

/** train --json's result. */
function resultJson(plan: RunPlan, session: Session, opts: TrainOptions, f: Finished | InterruptedRun): Record<string, unknown> {
  const { record: run, ds, net, state, checkpointDir } = plan;
  return {
    command: 'train',
    status: f.status, // done, stopped (early stopping) or interrupted (by a signal: `resume` continues it)
    interrupted: f.status === 'interrupted',
    signal: f.status === 'interrupted' ? f.signal : null,
    data: ds.name,
    architecture: { ...net.arch, init: run.init, parameters: net.parameterCount },
    options: {
      lr: run.lr,
      batchSize: run.batchSize,
      epochs: run.epochs,
      weightDecay: run.weightDecay,
      optimizer: run.optimizer ?? { name: 'sgd' },
      schedule: run.schedule,
      dropout: run.dropout,
      labelSmoothing: run.labelSmoothing,
      clipNorm: run.clipNorm,
      clipValue: run.clipValue,
      augment: run.augment,
      earlyStop: run.earlyStop,
      seed: run.seed,
      backend: session.kernels.name,
    },
    train: ds.train.count,
    test: ds.test.count,
    validation: ds.validation?.count,
    epochs: state.history,
    ...(f.status === 'interrupted' ? { testAccuracy: null, testLoss: null, stoppedAt: { epoch: f.epoch, batch: f.batch }, resume: f.resume } : finishedJson(plan, session, f)),
    initFrom: run.initFrom,
    saved: session.saved.length ? session.saved : undefined,
    seconds: f.seconds,
    model: f.status === 'interrupted' ? null : run.save, // an interrupted run writes its model when it is continued
    report: opts.report,
    checkpoint: f.status === 'interrupted' ? f.checkpoint : checkpointDir,
    resumeNotice: session.resumeNotice,
    monitor: session.monitorLog,
    // Every choice of the run resolved, as flags: saved to a file, `train --config FILE` trains it again.
    config: recordFlags(run),
    ...jsonProvenance(session.prov),
  };
}

/** The fields of train --json's result that only a finished run has: the test metrics and the best epoch. */
function finishedJson(plan: RunPlan, session: Session, f: Finished): Record<string, unknown> {
  const run = plan.record;
  return {
    testAccuracy: f.final.accuracy,
    testLoss: f.final.loss,
    earlyStop: run.earlyStop && session.training.early ? { ...run.earlyStop, bestEpoch: f.keptEpoch, best: f.best?.value, stoppedAfter: f.stoppedAfter } : undefined,
    saveBest: run.saveBest ? { metric: run.saveBest, bestEpoch: f.keptEpoch, best: f.best?.value } : undefined,
  };
}

/**
 * Where an interrupted run without --checkpoint goes: ./backprop-checkpoint, or
 * -2, -3, … when that holds another run's checkpoint or lock (this run takes
 * the lock). When none can be created, one named by the pid: writing there
 * then fails over to the temporary directory.
 */
function interruptDir(): string {
  for (let i = 1; i <= 100; i++) {
    const dir = i === 1 ? DEFAULT_CHECKPOINT : `${DEFAULT_CHECKPOINT}-${i}`;
    if (hasCheckpoint(dir)) continue;
    try {
      makeDirectories(dir);
      lockCheckpoint(dir, 'checkpoint');
      return dir;
    } catch {
      // not creatable, or in use: the next name
    }
  }
  return `${DEFAULT_CHECKPOINT}-${process.pid}`;
}

/** The best epoch's weights that a checkpoint directory keeps beside the checkpoint, or undefined when it has none. */
function readBestModel(dir: string, net: Network): Network | undefined {
  const path = join(dir, BEST_MODEL);
  if (!existsSync(path)) return undefined;
  const best = loadModel(path).network;
  if (best.sizes.join(',') !== net.sizes.join(',')) throw new DataError(`${path}: a ${best.sizes.join('-')} network, but the run's is ${net.sizes.join('-')}`);
  return best.dtype === net.dtype ? best : best.clone(net.dtype);
}

function epochLine(m: TrainState['history'][number], epochs: number, showRate: boolean): string {
  const width = String(epochs).length;
  return (
    `epoch ${String(m.epoch).padStart(width)}/${epochs}  ` +
    (showRate && m.lr !== undefined ? `η ${m.lr.toPrecision(3)}  ` : '') +
    `loss ${m.loss.toFixed(4)}  train ${percent(m.trainAccuracy)}` +
    (m.validationAccuracy !== undefined ? `  val ${percent(m.validationAccuracy)}` : '') +
    (m.testAccuracy !== undefined ? `  test ${percent(m.testAccuracy)}` : '') +
    (m.clipped ? `  clipped ${m.clipped} step${m.clipped === 1 ? '' : 's'}` : '') +
    `  ${style.dim(seconds(m.seconds))}`
  );
}
