import { Command, Option } from 'commander';
import { defaultLearningRate, Network } from '../nn/network.js';
import { Rng } from '../nn/rng.js';
import { saveModel } from '../io/safetensors.js';
import { readCheckpoint, writeCheckpoint } from '../io/checkpoint.js';
import { checkOutputFile, ensureOutputDir } from '../io/atomic.js';
import { SgdTrainer } from '../train/sgd.js';
import { evaluate } from '../train/metrics.js';
import { initialState, runTraining, type TrainState } from '../train/session.js';
import { nonFiniteInput } from '../train/diagnose.js';
import { DataError } from '../data/dataset.js';
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
    if (given('backend')) run.backend = opts.backend;
    run.dtype ??= c.network.dtype;
    net = c.network;
    rng = new Rng(c.rng);
    state = c.state;
  } else {
    run = { data: opts.data, limit: opts.limit, testLimit: opts.testLimit, validation: opts.validation, arch: undefined as unknown as Architecture, init: 'he', lr: NaN, batchSize: opts.batchSize, epochs: opts.epochs, weightDecay: opts.weightDecay, seed: opts.seed, backend: opts.backend, dtype: opts.dtype ?? 'float32', save: opts.save };
  }
  // Fail before the work, not after it: every output path must be writable now.
  if (run.save) checkOutputFile(run.save, '--save');
  if (opts.checkpoint) ensureOutputDir(opts.checkpoint, '--checkpoint');
  const ds = loadData({ data: run.data, limit: run.limit, testLimit: run.testLimit, validation: run.validation, seed: run.seed });
  for (const [set, ex] of [['training', ds.train], ['test', ds.test], ['validation', ds.validation]] as const) {
    const bad = ex && nonFiniteInput(ex);
    if (bad) throw new DataError(`${run.data}: ${set} example ${bad.example} has input ${bad.input + 1} = ${bad.value} (as float32): expected finite values`);
  }
  if (!opts.resume) {
    run.arch = architecture(opts, ds.train.dim, ds.classes, TRAIN_DEFAULTS.hidden);
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

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(EXIT.interrupted); // a second Ctrl-C: stop now
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const progress = epochProgress(out.interactive, run.epochs);
  let result;
  try {
    result = await runTraining(trainer, ds.train, rng!, state, {
      ...progress,
      epochs: run.epochs,
      test: ds.test,
      validation: ds.validation,
      shouldStop: () => interrupted,
      onEpochEnd(m) {
        progress.onEpochEnd?.(m);
        out.note(epochLine(m, run.epochs));
        monitor(m.epoch);
      },
      onCheckpoint: opts.checkpoint || opts.resume ? (s) => writeCheckpoint(ckptDir!, net, rng.state(), s, run) : undefined,
    });
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }

  if (result.status === 'interrupted') {
    const dir = ckptDir ?? DEFAULT_CHECKPOINT;
    writeCheckpoint(dir, net!, rng!.state(), state, run);
    process.stderr.write(`interrupted at epoch ${state.epoch}, batch ${state.batch}: checkpoint written to ${dir}; continue with: backprop train --resume ${dir}\n`);
    return EXIT.interrupted;
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
    saveModel(run.save, net!, {
      data: ds.name,
      init: run.init,
      epochs: String(run.epochs),
      lr: String(run.lr),
      batch_size: String(run.batchSize),
      weight_decay: String(run.weightDecay),
      seed: String(run.seed),
      test_accuracy: String(final.accuracy),
      ...provenanceMetadata(prov),
    });
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

function epochLine(m: TrainState['history'][number], epochs: number): string {
  const width = String(epochs).length;
  return (
    `epoch ${String(m.epoch).padStart(width)}/${epochs}  loss ${m.loss.toFixed(4)}  train ${percent(m.trainAccuracy)}` +
    (m.validationAccuracy !== undefined ? `  val ${percent(m.validationAccuracy)}` : '') +
    (m.testAccuracy !== undefined ? `  test ${percent(m.testAccuracy)}` : '') +
    `  ${style.dim(seconds(m.seconds))}`
  );
}
