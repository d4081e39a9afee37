import { Command, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, resolve } from 'node:path';
import { defaultLearningRate, Network } from '../nn/network.js';
import { Rng } from '../nn/rng.js';
import { encodeSafetensors, saveModel } from '../io/safetensors.js';
import { hasCheckpoint, lockCheckpoint, readCheckpoint, removeCheckpoint, writeCheckpoint, writeRescueCheckpoint } from '../io/checkpoint.js';
import { checkOutputFile, ensureOutputDir, ioReason, writeRescue, WriteFailedError } from '../io/atomic.js';
import { DataError, trainingLabelProblem } from '../data/dataset.js';
import { checkNetworkSize } from '../data/limits.js';
import { SgdTrainer } from '../train/sgd.js';
import { evaluate } from '../train/metrics.js';
import { initialState, runTraining, type TrainState } from '../train/session.js';
import { nonFiniteInput } from '../train/diagnose.js';
import { evaluationBatch, layerStats, stalledLayers, type LayerStats } from '../analysis/layers.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { Output, percent, seconds, style } from './output.js';
import { epochProgress } from './progress.js';
import {
  addBackendOption,
  addDataOptions,
  addNetworkOptions,
  addQuietOption,
  architecture,
  defaultInit,
  examples,
  loadData,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  type DataOptions,
  type NetworkOptions,
} from './options.js';
import type { BackendName, DType } from '../linalg/index.js';
import { addDtypeOption, providerForDtype } from './precision.js';
import { jsonProvenance, provenance, provenanceMetadata } from '../io/provenance.js';
import type { Architecture, InitName } from '../nn/network.js';

/** Defaults chosen so that plain `backprop train` gives ≥ 95% on the embedded digits in seconds. */
export const TRAIN_DEFAULTS = { hidden: [100], lr: 0.2, batchSize: 32, epochs: 10, seed: 1 };

/** Where an interrupted run without --checkpoint saves itself. */
export const DEFAULT_CHECKPOINT = 'backprop-checkpoint';

interface TrainOptions extends DataOptions, NetworkOptions {
  lr?: number;
  batchSize: number;
  epochs: number;
  weightDecay: number;
  save?: string;
  checkpoint?: string;
  resume?: string;
  overwrite: boolean;
  json: boolean;
  monitor: boolean;
  quiet: boolean;
  backend: BackendName;
  dtype?: DType;
}

/** What a checkpoint records of the run, to continue it identically. */
interface RunOptions {
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
  seed: number;
  backend: string;
  /** Absent in checkpoints written before --dtype: those are float32. */
  dtype?: DType;
  save?: string;
}

/** Flags that --resume takes from the checkpoint instead. */
const RESUME_TAKES = ['data', 'limit', 'testLimit', 'validation', 'layers', 'hidden', 'activation', 'outputActivation', 'cost', 'init', 'lr', 'batchSize', 'weightDecay', 'seed', 'dtype'];

export function trainCommand(): Command {
  const cmd = new Command('train').description('train a network with hand-written backprop and mini-batch SGD');
  addDataOptions(cmd);
  cmd.option('--validation <n>', 'hold out n training examples (or a fraction < 1) and report accuracy on them each epoch', positiveNumber);
  addNetworkOptions(cmd, TRAIN_DEFAULTS.hidden.join(','));
  cmd
    .addOption(new Option('--lr <eta>', 'learning rate η').argParser(positiveNumber).default(undefined, `${TRAIN_DEFAULTS.lr}; ${TRAIN_DEFAULTS.lr / 10} for the quadratic cost after a linear, relu or leaky-relu output`))
    .option('--batch-size <m>', 'mini-batch size m', positiveInt, TRAIN_DEFAULTS.batchSize)
    .option('--epochs <n>', 'number of epochs', positiveInt, TRAIN_DEFAULTS.epochs)
    .option('--weight-decay <lambda>', 'L2 penalty λ: each step W ← W − η(∂C/∂W + λW)', nonNegativeNumber, 0)
    .option('--seed <n>', 'seed for initialisation and shuffling', nonNegativeInt, TRAIN_DEFAULTS.seed)
    .option('--save <file>', 'write the trained model (safetensors) to file')
    .option('--checkpoint <dir>', 'write a checkpoint (weights, RNG state, position, metrics) at each epoch end')
    .option('--resume <dir>', 'continue a checkpointed or interrupted run; it ends with the weights an uninterrupted run would have')
    .option('--overwrite', "let --checkpoint replace another run's checkpoint in its directory", false)
    .option('--monitor', 'each epoch, print per-layer learning speed and saturated/dead units, and warn when a layer stops learning', false)
    .option('--json', 'print one JSON result on stdout (human text goes to stderr)', false);
  addQuietOption(cmd);
  addBackendOption(cmd);
  addDtypeOption(cmd);
  cmd.addHelpText('after', examples([
    ['784-100-10 ReLU on the 10,000 embedded digits: about 95% in a few seconds', 'backprop train --save model.safetensors'],
    ["Nielsen's network.py, with each layer's speed of learning after every epoch", 'backprop train --hidden 30 --activation sigmoid --output-activation sigmoid --cost quadratic --init normal --lr 3 --epochs 5 --monitor'],
    ['a long run that Ctrl-C stops and --resume continues', 'backprop train --data fashion-mnist --epochs 30 --checkpoint run1 && backprop train --resume run1'],
  ]));
  return cmd.action(async function (this: Command, opts: TrainOptions) {
    if (opts.resume) {
      const given = RESUME_TAKES.filter((k) => this.getOptionValueSource(k) === 'cli');
      if (given.length) throw new UsageError(`--resume takes the run's options from the checkpoint: drop --${given.map(kebab).join(', --')}`);
    }
    process.exitCode = await runTrain(opts, (k) => this.getOptionValueSource(k) === 'cli');
  });
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

async function runTrain(opts: TrainOptions, given: (key: string) => boolean): Promise<number> {
  const out = new Output(opts.json, opts.quiet);
  const t0 = performance.now();

  // A new run, or the continuation of a checkpointed one.
  let run: RunOptions;
  let net: Network;
  let rng: Rng;
  let state: TrainState | undefined;
  const ckptDir = opts.checkpoint ?? opts.resume;
  if (opts.resume) {
    const c = readCheckpoint<RunOptions>(opts.resume);
    run = { ...c.options, epochs: given('epochs') ? opts.epochs : c.options.epochs, save: opts.save ?? c.options.save };
    // A complete run resumed without --epochs only writes its outputs (it was stopped after its last checkpoint).
    const done = c.state.epoch - 1;
    if (given('epochs') && run.epochs <= done) {
      throw new UsageError(`--epochs ${run.epochs}: the run in ${opts.resume} has already done ${done} epoch${done === 1 ? '' : 's'}; give more than ${done} to continue it`);
    }
    if (given('backend')) run.backend = opts.backend;
    run.dtype ??= c.network.dtype;
    net = c.network;
    rng = new Rng(c.rng);
    state = c.state;
  } else {
    run = { data: opts.data, limit: opts.limit, testLimit: opts.testLimit, validation: opts.validation, arch: undefined as unknown as Architecture, init: 'he', lr: NaN, batchSize: opts.batchSize, epochs: opts.epochs, weightDecay: opts.weightDecay, seed: opts.seed, backend: opts.backend, dtype: opts.dtype ?? 'float32', save: opts.save };
  }
  // Fail before the work, not after it: every output path must be writable now,
  // and a checkpoint directory belongs to one run (a lock file keeps out a second writer).
  if (run.save) checkOutputFile(run.save, '--save');
  if (run.save && ckptDir && resolve(run.save) === resolve(ckptDir)) throw new UsageError(`--save ${run.save}: that is the checkpoint directory; give the model a file name of its own`);
  if (opts.checkpoint) ensureOutputDir(opts.checkpoint, '--checkpoint');
  if (opts.resume && !opts.checkpoint) ensureOutputDir(opts.resume, '--resume');
  if (ckptDir) {
    const flag = opts.checkpoint ? '--checkpoint' : '--resume';
    lockCheckpoint(ckptDir, flag);
    if (opts.checkpoint && opts.checkpoint !== opts.resume && hasCheckpoint(opts.checkpoint)) {
      if (!opts.overwrite) {
        throw new UsageError(`--checkpoint ${opts.checkpoint} holds another run's checkpoint: continue it with --resume ${opts.checkpoint}, choose another directory, or add --overwrite to replace it`);
      }
      removeCheckpoint(opts.checkpoint);
    }
  }
  const ds = loadData({ data: run.data, limit: run.limit, testLimit: run.testLimit, validation: run.validation, seed: run.seed });
  for (const [set, ex] of [['training', ds.train], ['test', ds.test], ['validation', ds.validation]] as const) {
    const bad = ex && nonFiniteInput(ex);
    if (bad) throw new DataError(`${run.data}: ${set} example ${bad.example} has input ${bad.input + 1} = ${bad.value} (as float32): expected finite values`);
  }
  if (!opts.resume) {
    run.arch = architecture(opts, ds.train.dim, ds.classes, TRAIN_DEFAULTS.hidden);
    const labels = trainingLabelProblem(ds, !given('layers'));
    if (labels) throw new DataError(labels);
    checkNetworkSize(run.arch.sizes, Math.min(run.batchSize, ds.train.count), given('layers') ? '--layers' : '--hidden');
    run.init = opts.init ?? defaultInit(run.arch.activation);
    run.lr = opts.lr ?? defaultLearningRate(run.arch, TRAIN_DEFAULTS.lr);
    rng = new Rng(run.seed);
    net = Network.create(run.arch, run.init, rng, run.dtype);
  }
  state ??= initialState(ds.train.count);
  if (state.order.length !== ds.train.count) throw new UsageError(`--resume ${opts.resume}: the checkpoint has ${state.order.length} training examples but ${run.data} now has ${ds.train.count}`);
  const provider = await providerForDtype({ backend: run.backend as BackendName }, net!.dtype, out);
  const k = provider.kernels;
  run.backend = provider.name; // resume on the same provider: the same seed then gives the same weights
  const { save: _save, ...runOptions } = run; // where the model is written does not change it
  const prov = provenance(provider, net!.dtype, run.seed, runOptions);
  const trainer = new SgdTrainer(net!, { lr: run.lr, batchSize: run.batchSize, weightDecay: run.weightDecay }, k);
  const arch = net!.arch;

  out.note(
    style.bold(opts.resume ? `backprop train --resume ${opts.resume}` : 'backprop train') +
      ` ${ds.name}: ${ds.train.count} train / ${ds.test.count} test` +
      (ds.validation ? ` / ${ds.validation.count} validation` : '') +
      ` · ${arch.sizes.join('-')} ${arch.activation}→${arch.outputActivation}, ${arch.cost}, init ${run.init}` +
      ` · η=${run.lr} m=${run.batchSize}` +
      (run.weightDecay ? ` λ=${run.weightDecay}` : '') +
      ` · seed ${run.seed} · ${k.name} kernels` +
      (net!.dtype === 'float64' ? ' · float64' : '') +
      (opts.resume ? ` · from epoch ${state.epoch}, batch ${state.batch}` : ''),
  );
  for (const m of state.history) out.note(style.dim(epochLine(m, run.epochs)));

  // --monitor: Nielsen's per-layer speed of learning on a fixed batch of training examples.
  const monitorBatch = opts.monitor ? evaluationBatch(net!, ds.train, run.seed, 1000) : undefined;
  const monitorLog: { epoch: number; layers: LayerStats[]; warnings: string[] }[] = [];
  const monitor = (epoch: number) => {
    if (!monitorBatch) return;
    const layers = layerStats(net!, monitorBatch, k);
    const warnings = stalledLayers(layers);
    monitorLog.push({ epoch, layers, warnings });
    out.note(
      style.dim(`  layers: `) +
        layers
          .map((l) => `${l.layer}: ‖∂C/∂b‖ ${l.speed.toExponential(1)}${l.saturated !== undefined ? ` ${percent(l.saturated, 0)} sat` : ''}${l.dead !== undefined ? ` ${percent(l.dead, 0)} dead` : ''}`)
          .join(style.dim(' · ')),
    );
    for (const w of warnings) out.line(style.warn(`  ⚠ ${w}`));
  };
  if (!opts.resume || state.history.length === 0) monitor(0);

  // SIGINT (Ctrl-C), SIGTERM (kill, a scheduler) and SIGHUP (the terminal closed) all
  // finish the batch, write a checkpoint and exit 128 + the signal's number.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) process.exit(128 + osConstants.signals[interrupted]); // a second signal: stop now
    interrupted = sig;
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  /** Writes a checkpoint; when its directory cannot be written, into a new one in the temporary directory, and says so. */
  const checkpoint = (dir: string, s: TrainState) => {
    try {
      writeCheckpoint(dir, net!, rng!.state(), s, run);
    } catch (e) {
      const rescued = writeRescueCheckpoint(net!, rng!.state(), s, run);
      throw new WriteFailedError(
        `checkpoint ${dir}: cannot write (${ioReason(e)}); ` +
          (rescued ? `the checkpoint was written to ${rescued} instead; continue with: backprop train --resume ${rescued}` : 'nor could it be written to the temporary directory'),
      );
    }
  };
  const progress = epochProgress(out.interactive, run.epochs);
  let result;
  try {
    result = await runTraining(trainer, ds.train, rng!, state, {
      ...progress,
      epochs: run.epochs,
      test: ds.test,
      validation: ds.validation,
      shouldStop: () => interrupted !== undefined,
      onEpochEnd(m) {
        progress.onEpochEnd?.(m);
        out.note(epochLine(m, run.epochs));
        monitor(m.epoch);
      },
      onCheckpoint: opts.checkpoint || opts.resume ? (s) => checkpoint(ckptDir!, s) : undefined,
    });
  } finally {
    progress.stop();
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }

  if (result.status === 'interrupted') {
    const dir = ckptDir ?? interruptDir();
    checkpoint(dir, state);
    const sig = interrupted ?? 'SIGINT';
    process.stderr.write(`interrupted${sig === 'SIGINT' ? '' : ` by ${sig}`} at epoch ${state.epoch}, batch ${state.batch}: checkpoint written to ${dir}; continue with: backprop train --resume ${dir}\n`);
    return 128 + osConstants.signals[sig];
  }
  if (result.status === 'diverged') {
    reportError(
      `training diverged at epoch ${result.epoch}, batch ${result.batch}: ${result.diagnosis.message}` +
        (ckptDir ? `; the last good checkpoint is kept in ${ckptDir}` : ''),
      EXIT.failed,
      opts.json,
    );
    return EXIT.failed;
  }
  // The last epoch already measured the final network on the test set.
  const last = state.history.at(-1);
  const final =
    last?.testAccuracy !== undefined && last.testLoss !== undefined
      ? { accuracy: last.testAccuracy, loss: last.testLoss, correct: Math.round(last.testAccuracy * ds.test.count), count: ds.test.count }
      : evaluate(net!, ds.test, k);
  const total = (performance.now() - t0) / 1000;
  if (run.save) {
    const metadata = {
      data: ds.name,
      init: run.init,
      epochs: String(run.epochs),
      lr: String(run.lr),
      batch_size: String(run.batchSize),
      weight_decay: String(run.weightDecay),
      seed: String(run.seed),
      test_accuracy: String(final.accuracy),
      ...provenanceMetadata(prov),
    };
    try {
      saveModel(run.save, net!, metadata);
    } catch (e) {
      // The run is done: its weights must not be lost to a full disk or a file system gone read-only.
      const rescued = writeRescue(basename(run.save), encodeSafetensors(net!, metadata), [ckptDir]);
      throw new WriteFailedError(
        `--save ${run.save}: cannot write (${ioReason(e)}); ` +
          (rescued ? `the trained weights were saved to ${rescued} instead` : ckptDir ? `the last checkpoint in ${ckptDir} holds them` : 'nor anywhere else'),
      );
    }
  }
  out.line(
    `${style.good('test accuracy ' + percent(final.accuracy))} (${final.correct}/${final.count}) after ${run.epochs} epoch${run.epochs === 1 ? '' : 's'} in ${seconds(total)}` +
      (run.save ? ` · model saved to ${run.save}` : ''),
  );
  out.result({
    command: 'train',
    data: ds.name,
    architecture: { ...arch, init: run.init, parameters: net!.parameterCount },
    options: { lr: run.lr, batchSize: run.batchSize, epochs: run.epochs, weightDecay: run.weightDecay, seed: run.seed, backend: k.name },
    train: ds.train.count,
    test: ds.test.count,
    validation: ds.validation?.count,
    epochs: state.history,
    testAccuracy: final.accuracy,
    testLoss: final.loss,
    seconds: total,
    model: run.save,
    checkpoint: ckptDir,
    monitor: opts.monitor ? monitorLog : undefined,
    ...jsonProvenance(prov),
  });
  return EXIT.ok;
}

/** The signals that stop a run cleanly (Ctrl-C, kill, a closed terminal). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

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
      mkdirSync(dir, { recursive: true });
      lockCheckpoint(dir, 'checkpoint');
      return dir;
    } catch {
      // not creatable, or in use: the next name
    }
  }
  return `${DEFAULT_CHECKPOINT}-${process.pid}`;
}

function epochLine(m: TrainState['history'][number], epochs: number): string {
  const width = String(epochs).length;
  return (
    `epoch ${String(m.epoch).padStart(width)}/${epochs}  loss ${m.loss.toFixed(4)}  train ${percent(m.trainAccuracy)}` +
    (m.validationAccuracy !== undefined ? `  val ${percent(m.validationAccuracy)}` : '') +
    (m.testAccuracy !== undefined ? `  test ${percent(m.testAccuracy)}` : '') +
    `  ${style.dim(seconds(m.seconds))}`
  );
}
